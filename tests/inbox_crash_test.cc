// Inbox entries are consumed exactly once across SIGKILLs of the consuming
// process (inbox_consumer_helper, through the store contract:
// inbox_consumer.h), on the disk engine with sync and on etcd, where the
// entries come from another process while the consumer runs and, after the
// consumer's kill, that other process takes the workflow over and consumes
// the rest.
//
// RUNIC_CRASH_SEED fixes the random kill points (the seed is printed);
// RUNIC_CRASH_ROUNDS sets the disk test's rounds (20 by default, 3 under
// the sanitizers).
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "crash_rounds.h"
#include "inbox_consumer.h"
#include "runic/runic.h"
#include "shared_etcd_cluster.h"
#include "test_util.h"

#ifndef RUNIC_INBOX_CONSUMER_HELPER
#error "RUNIC_INBOX_CONSUMER_HELPER must name the inbox_consumer_helper executable"
#endif

namespace runic::test {
namespace {

using std::chrono::seconds;

// Reads "consumed X" lines into *consumed until `target` of them, the end
// of the output or the deadline; true when the target was reached.
bool ReadConsumed(ChildProcess& p, std::size_t target, Clock::time_point deadline, std::vector<std::string>* consumed,
                  std::string* errors) {
  std::string line;
  std::size_t seen = 0;
  while (p.ReadLine(&line, deadline)) {
    if (line.rfind("consumed ", 0) == 0) {
      consumed->push_back(line.substr(9));
      if (++seen >= target) return true;
    } else if (line.rfind("error", 0) == 0) {
      *errors += line + "\n";
    }
  }
  return false;
}

// The workflow's recorded entries, after its first event ("start"), read
// linearizably.
std::vector<std::string> Recorded(Store& store, const std::string& id) {
  std::vector<std::string> out;
  Result<std::unique_ptr<EventIterator>> it = store.Stream(id, {1});
  EXPECT_TRUE(it.ok()) << it.status().ToString();
  if (!it.ok()) return out;
  for (; (*it)->Valid(); (*it)->Next()) {
    std::string_view e = (*it)->value();
    EXPECT_TRUE(e.starts_with("got:")) << e;
    out.emplace_back(e.substr(4));
  }
  EXPECT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
  return out;
}

// Each acknowledged consumption is in the store, in order (a killed consumer
// may have made more durable than it got to report).
bool InOrderWithin(const std::vector<std::string>& acknowledged, const std::vector<std::string>& all) {
  std::size_t at = 0;
  for (const std::string& a : acknowledged) {
    while (at < all.size() && all[at] != a) ++at;
    if (at == all.size()) return false;
    ++at;
  }
  return true;
}

std::vector<std::string> Expected(int entries) {
  std::vector<std::string> out;
  for (int i = 0; i < entries; ++i) out.push_back("e" + std::to_string(i));
  out.push_back(kStopEntry);
  return out;
}

// Entries come while the consumer is down (the database has one owner
// process); each round kills it after a random number of consumptions.
TEST(InboxCrash, DiskEntriesAreConsumedOnceAcrossKills) {
  std::mt19937_64 rng(CrashSeed());
  const int rounds = CrashRounds();
  TempDir dir;
  const std::string uri = "disk://" + dir.path() + "/db?sync=1";
  const std::string id = "wf";
  auto with_store = [&](auto&& body) {
    Result<std::shared_ptr<Database>> db = Database::OpenUri(uri);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    Result<std::unique_ptr<Store>> store = (*db)->OpenStore(kInboxRunner);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    body(**store);
  };
  with_store([&](Store& s) { ASSERT_TRUE(s.Append(id, std::vector<std::string>{"start"}).ok()); });
  int sent = 0, kills = 0;
  std::vector<std::string> acknowledged;  // consumed, as the helpers reported before their kills
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const int n = std::uniform_int_distribution<int>(1, 15)(rng);
    with_store([&](Store& s) {
      for (int i = 0; i < n; ++i) ASSERT_TRUE(s.AppendInbox(id, "e" + std::to_string(sent++)).ok());
    });
    // Ends by itself once the inbox is empty (no entry comes meanwhile).
    auto p = ChildProcess::Start(RUNIC_INBOX_CONSUMER_HELPER, {uri, id, "--until-empty"});
    ASSERT_NE(p, nullptr);
    std::string errors;
    // At most what this round sent: the kill comes while entries are left.
    const std::size_t target = std::uniform_int_distribution<std::size_t>(1, static_cast<std::size_t>(n))(rng);
    if (ReadConsumed(*p, target, Clock::now() + seconds(60), &acknowledged, &errors)) {
      p->Kill();
      ++kills;
    }
    const int status = p->Wait(Clock::now() + seconds(30));
    ASSERT_TRUE(errors.empty()) << errors;
    if (!WIFSIGNALED(status)) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWait(status);
    }
  }
  with_store([&](Store& s) { ASSERT_TRUE(s.AppendInbox(id, kStopEntry).ok()); });
  {
    auto p = ChildProcess::Start(RUNIC_INBOX_CONSUMER_HELPER, {uri, id});
    ASSERT_NE(p, nullptr);
    std::string errors;
    ReadConsumed(*p, SIZE_MAX, Clock::now() + seconds(60), &acknowledged, &errors);
    const int status = p->Wait(Clock::now() + seconds(30));
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWait(status) << " " << errors;
  }
  with_store([&](Store& s) {
    EXPECT_EQ(Recorded(s, id), Expected(sent)) << "an entry was lost or consumed twice";
    Result<WorkflowSummary> w = s.Describe(id);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(w->inbox_pending, 0u);
    EXPECT_EQ(w->inbox_consumed, static_cast<std::uint64_t>(sent + 1));
  });
  EXPECT_TRUE(InOrderWithin(acknowledged, Expected(sent))) << "the consumers reported what the store does not hold";
  std::printf("%d rounds, %d consumers killed, %d entries\n", rounds, kills, sent);
  EXPECT_GE(kills, rounds / 2);
}

// B (this process) sends while A (the helper) owns and consumes; A is
// killed; B takes the workflow over once A's lease expired and consumes the
// rest, while its sender goes on.
TEST(InboxCrash, EtcdEntriesFromAnotherProcessAreConsumedOnceAcrossAKillAndATakeover) {
  std::mt19937_64 rng(CrashSeed());
  // A database of its own on the shared cluster.
  const std::string uri = SharedEtcdCluster().Uri("lease_ttl_ms=2000&linearizable=1");
  const std::string db_uri =
      uri.substr(0, uri.find('?')) + "/inboxcrash" + std::to_string(::getpid()) + uri.substr(uri.find('?'));
  const std::string id = "wf";
  Result<std::shared_ptr<Database>> db = Database::OpenUri(db_uri);
  ASSERT_TRUE(db.ok()) << db.status().ToString() << " " << db_uri;
  Result<std::unique_ptr<Store>> opened = (*db)->OpenStore(kInboxRunner);
  ASSERT_TRUE(opened.ok());
  Store& store = **opened;
  ASSERT_TRUE(store.Append(id, std::vector<std::string>{"start"}).ok());

  auto a = ChildProcess::Start(RUNIC_INBOX_CONSUMER_HELPER, {db_uri, id, "--claim"});
  ASSERT_NE(a, nullptr);
  std::string line;
  ASSERT_TRUE(a->ReadLine(&line, Clock::now() + seconds(30)) && line == "claimed") << line;

  constexpr int kEntries = 120;
  std::atomic<int> send_failures{0};
  std::thread sender([&] {
    for (int i = 0; i < kEntries; ++i) {
      if (!store.AppendInbox(id, "e" + std::to_string(i)).ok()) ++send_failures;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!store.AppendInbox(id, kStopEntry).ok()) ++send_failures;
  });
  std::vector<std::string> acknowledged;
  std::string errors;
  const std::size_t target = std::uniform_int_distribution<std::size_t>(10, 60)(rng);
  const bool reached = ReadConsumed(*a, target, Clock::now() + seconds(60), &acknowledged, &errors);
  a->Kill();
  a->Wait(Clock::now() + seconds(30));
  EXPECT_TRUE(reached) << errors;

  // B's takeover: refused while A's lease lives.
  Status claimed;
  for (int i = 0; i < 1000; ++i) {
    claimed = store.Claim(id);
    if (!claimed.IsNotOwner()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(claimed.ok()) << claimed.ToString();
  Result<WorkflowSummary> w = store.Describe(id);
  ASSERT_TRUE(w.ok());
  std::uint64_t cursor = w->cursor;
  std::vector<std::string> recorded;
  bool stopped = false;
  for (int step = 0; step < 100000 && !stopped; ++step) {
    ASSERT_TRUE(ConsumeStep(store, id, 4, &cursor, &recorded).ok());
    for (const std::string& bytes : recorded) stopped = stopped || bytes == kStopEntry;
    if (recorded.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  sender.join();
  EXPECT_EQ(send_failures.load(), 0);
  EXPECT_TRUE(stopped);
  const std::vector<std::string> all = Recorded(store, id);
  EXPECT_EQ(all, Expected(kEntries)) << "an entry was lost or consumed twice";
  EXPECT_TRUE(InOrderWithin(acknowledged, all)) << "A reported a consumption the store does not hold";
  std::printf("A consumed %zu of %d entries before its kill; B the rest\n", acknowledged.size(), kEntries + 1);
}

}  // namespace
}  // namespace runic::test
