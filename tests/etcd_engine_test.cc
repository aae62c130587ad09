// The etcd engine under faults, on real 3-member clusters: members killed
// during appends, quorum lost and regained, a response lost after the
// cluster applied the append (a TCP proxy drops it), fencing between two
// clients, TLS and authentication. After each fault every workflow is
// streamed linearizably: contiguous, no duplicates, every acknowledged event
// present.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "runic/runic.h"
#include "support/etcd_cluster.h"
#include "support/tcp_proxy.h"
#include "test_util.h"

namespace runic {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::EtcdCluster;

std::unique_ptr<EtcdCluster> StartCluster(test::EtcdClusterOptions options = {}) {
  std::string error;
  auto cluster = EtcdCluster::Start(options, &error);
  EXPECT_NE(cluster, nullptr) << error;
  return cluster;
}

DatabaseOptions EtcdOptions(std::vector<std::string> nodes, std::chrono::milliseconds timeout = 2000ms) {
  DatabaseOptions o;
  o.nodes = std::move(nodes);
  o.dir = "faults";
  o.etcd.call_timeout = timeout;
  return o;
}

std::unique_ptr<Store> OpenStore(const DatabaseOptions& o, std::shared_ptr<Database>* db = nullptr) {
  Result<std::shared_ptr<Database>> opened = Database::Open(o);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  if (!opened.ok()) return nullptr;
  Result<std::unique_ptr<Store>> store = (*opened)->OpenStore("runner");
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (db != nullptr) *db = *opened;
  return store.ok() ? std::move(*store) : nullptr;
}

// Appends from several threads, one workflow each, and remembers what was
// acknowledged and what ended with an unknown outcome.
class Writers {
 public:
  Writers(Store* store, int threads) : store_(store) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, t] { Run(t); });
    }
  }
  ~Writers() { Stop(); }

  void Stop() {
    stop_ = true;
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }

  int acknowledged() const { return acknowledged_.load(); }
  // Waits until `more` appends were acknowledged after the call; false
  // when `timeout` passes first.
  bool WaitAcknowledged(int more, std::chrono::milliseconds timeout) {
    const int target = acknowledged_.load() + more;
    const auto deadline = Clock::now() + timeout;
    while (acknowledged_.load() < target) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(10ms);
    }
    return true;
  }

  // Checks every workflow, streamed linearizably through `reader`.
  void Verify(Store& reader) {
    std::lock_guard lock(mu_);
    for (const auto& [id, acked] : acked_) {
      Result<std::unique_ptr<EventIterator>> it = reader.Stream(id);
      ASSERT_TRUE(it.ok()) << it.status().ToString();
      std::set<std::string> seen;
      std::uint64_t expected = 1;
      for (; (*it)->Valid(); (*it)->Next()) {
        EXPECT_EQ((*it)->sequence(), expected++);
        EXPECT_TRUE(seen.insert(std::string((*it)->value())).second) << "duplicate " << (*it)->value();
        const std::string v((*it)->value());
        EXPECT_TRUE(acked.contains(v) || unknown_.contains(v)) << "never appended, or refused: " << v;
      }
      ASSERT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
      for (const std::string& v : acked) EXPECT_TRUE(seen.contains(v)) << "acknowledged but lost: " << v;
    }
  }

  std::vector<Status> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

  // The last few errors, for failure messages.
  std::string LastErrors() {
    std::lock_guard lock(mu_);
    std::string out = std::to_string(errors_.size()) + " errors; the last:";
    for (std::size_t i = errors_.size() > 3 ? errors_.size() - 3 : 0; i < errors_.size(); ++i) {
      out += "\n  " + errors_[i].ToString();
    }
    return out;
  }

 private:
  void Run(int t) {
    const std::string id = "wf-" + std::to_string(t);
    for (int n = 0; n < 1'000'000 && !stop_; ++n) {
      const std::string v = id + ":" + std::to_string(n);
      Result<std::uint64_t> r = store_->Append(id, std::vector<std::string>{v});
      std::lock_guard lock(mu_);
      if (r.ok()) {
        acked_[id].insert(v);
        ++acknowledged_;
      } else {
        errors_.push_back(r.status());
        if (r.status().code() == Status::Code::kOutcomeUnknown) unknown_.insert(v);
        acked_[id];  // verify it even if nothing was acknowledged
      }
    }
  }

  Store* const store_;
  std::atomic<bool> stop_{false};
  std::atomic<int> acknowledged_{0};
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> acked_;
  std::set<std::string> unknown_;
  std::vector<Status> errors_;
  std::vector<std::thread> threads_;
};

// Only kUnavailable and kOutcomeUnknown may come out of a cluster in trouble.
void ExpectOnlyAvailabilityErrors(const std::vector<Status>& errors) {
  for (const Status& s : errors) {
    EXPECT_TRUE(s.code() == Status::Code::kUnavailable || s.code() == Status::Code::kOutcomeUnknown) << s.ToString();
  }
}

int OtherThan(int a, int b = -1) {
  for (int m = 0; m < 3; ++m) {
    if (m != a && m != b) return m;
  }
  return -1;
}

int WaitLeader(EtcdCluster& cluster, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  do {
    if (int leader = cluster.Leader(); leader >= 0) return leader;
    std::this_thread::sleep_for(50ms);
  } while (Clock::now() < deadline);
  return -1;
}

// True once a client of `member` alone serves (serializable, from its own
// copy) the counter `reader` sees linearizably for each workflow.
bool CaughtUp(EtcdCluster& cluster, int member, Store& reader, std::chrono::milliseconds timeout) {
  DatabaseOptions o = EtcdOptions({cluster.ClientEndpoints()[member]});
  std::unique_ptr<Store> local = OpenStore(o);
  if (local == nullptr) return false;
  Result<ListPage> ids = reader.List();
  if (!ids.ok()) return false;
  const auto deadline = Clock::now() + timeout;
  for (const std::string& id : ids->ids) {
    const std::uint64_t want = reader.Describe(id)->cursor;
    for (;;) {
      Result<WorkflowSummary> d = local->Describe(id);
      if (d.ok() && d->cursor == want) break;
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(50ms);
    }
  }
  return true;
}

TEST(EtcdFaults, KillingAFollowerThenTheLeaderLosesNothing) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  DatabaseOptions o = EtcdOptions(cluster->ClientEndpoints());
  std::unique_ptr<Store> store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  Writers writers(store.get(), 4);
  ASSERT_TRUE(writers.WaitAcknowledged(50, 10s));

  const int leader = WaitLeader(*cluster, 5s);
  ASSERT_GE(leader, 0);
  const int follower = OtherThan(leader);
  cluster->Kill(follower);
  EXPECT_TRUE(writers.WaitAcknowledged(50, 10s)) << "appends stopped after a follower died; " << writers.LastErrors();
  std::string error;
  ASSERT_TRUE(cluster->Restart(follower, &error)) << error;
  ASSERT_TRUE(cluster->WaitHealthy(20s, &error)) << error;

  const int leader2 = WaitLeader(*cluster, 5s);
  ASSERT_GE(leader2, 0);
  cluster->Kill(leader2);
  const auto killed = Clock::now();
  EXPECT_TRUE(writers.WaitAcknowledged(1, 10s))
      << "no append succeeded within 10 s of the leader's death; " << writers.LastErrors();
  std::cout << "appends resumed "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count()
            << " ms after the leader was killed\n";
  EXPECT_TRUE(writers.WaitAcknowledged(50, 10s)) << writers.LastErrors();
  ASSERT_TRUE(cluster->Restart(leader2, &error)) << error;
  ASSERT_TRUE(cluster->WaitHealthy(20s, &error)) << error;
  EXPECT_TRUE(writers.WaitAcknowledged(20, 10s)) << writers.LastErrors();
  writers.Stop();
  ExpectOnlyAvailabilityErrors(writers.errors());

  DatabaseOptions lin = o;
  lin.etcd.linearizable_reads = true;
  lin.nodes = {o.nodes[2], o.nodes[0], o.nodes[1]};  // another database object
  std::unique_ptr<Store> reader = OpenStore(lin);
  ASSERT_NE(reader, nullptr);
  writers.Verify(*reader);
  EXPECT_TRUE(CaughtUp(*cluster, leader2, *reader, 20s)) << "the restarted member did not catch up";
}

TEST(EtcdFaults, WithoutQuorumCallsEndWithinTheDeadlineAndNothingIsLost) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  const auto timeout = 1000ms;
  DatabaseOptions o = EtcdOptions(cluster->ClientEndpoints(), timeout);
  std::unique_ptr<Store> store = OpenStore(o);
  ASSERT_NE(store, nullptr);
  Writers writers(store.get(), 2);
  ASSERT_TRUE(writers.WaitAcknowledged(30, 10s));
  writers.Stop();

  const int survivor = 0;
  cluster->Kill(1);
  cluster->Kill(2);
  // Every kind of call ends within the deadline (plus scheduling slack) with
  // an availability error.
  std::set<std::string> refused;  // kUnavailable: must never appear
  for (int i = 0; i < 3; ++i) {
    auto start = Clock::now();
    const std::string v = "no-quorum-" + std::to_string(i);
    Result<std::uint64_t> r = store->Append("wf-nq", std::vector<std::string>{v});
    if (r.status().code() == Status::Code::kUnavailable) refused.insert(v);
    auto took = Clock::now() - start;
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.status().code() == Status::Code::kUnavailable || r.status().code() == Status::Code::kOutcomeUnknown)
        << r.status().ToString();
    EXPECT_LT(took, timeout + 1500ms) << r.status().ToString();
    start = Clock::now();
    Status saved = store->Save("wf-nq", "log");
    took = Clock::now() - start;
    EXPECT_TRUE(saved.code() == Status::Code::kUnavailable || saved.code() == Status::Code::kOutcomeUnknown)
        << saved.ToString();
    EXPECT_LT(took, timeout + 1500ms);
  }
  (void)survivor;

  std::string error;
  ASSERT_TRUE(cluster->Restart(1, &error)) << error;
  ASSERT_TRUE(cluster->Restart(2, &error)) << error;
  ASSERT_TRUE(cluster->WaitHealthy(20s, &error)) << error;
  // Writes resume.
  std::string resumed;
  for (int i = 0; i < 200 && resumed.empty(); ++i) {
    const std::string v = "after-" + std::to_string(i);
    if (store->Append("wf-nq", std::vector<std::string>{v}).ok()) {
      resumed = v;
    } else {
      refused.insert(v);  // a refusal may also be an unknown outcome: not checked below
      std::this_thread::sleep_for(50ms);
    }
  }
  EXPECT_FALSE(resumed.empty()) << "writes did not resume";
  DatabaseOptions lin = EtcdOptions({o.nodes[1], o.nodes[2], o.nodes[0]});
  lin.etcd.linearizable_reads = true;
  std::unique_ptr<Store> reader = OpenStore(lin);
  ASSERT_NE(reader, nullptr);
  writers.Verify(*reader);
  std::vector<std::string> nq;
  Result<std::unique_ptr<EventIterator>> it = reader->Stream("wf-nq");
  ASSERT_TRUE(it.ok()) << it.status().ToString();
  for (; (*it)->Valid(); (*it)->Next()) nq.emplace_back((*it)->value());
  EXPECT_EQ(std::count(nq.begin(), nq.end(), resumed), 1);
  for (const std::string& v : nq) {
    if (v.starts_with("no-quorum-")) {
      EXPECT_FALSE(refused.contains(v)) << v << " was refused, yet written";
    }
  }
}

TEST(EtcdFaults, AnAppendWhoseResponseIsLostIsRecognisedAndNotAppliedTwice) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  std::string error;
  auto proxy = test::TcpProxy::Start(cluster->ClientEndpoints()[0], &error);
  ASSERT_NE(proxy, nullptr) << error;
  // The client sees the cluster only through the proxy.
  std::unique_ptr<Store> store = OpenStore(EtcdOptions({proxy->Endpoint()}, 3000ms));
  ASSERT_NE(store, nullptr);
  DatabaseOptions direct = EtcdOptions(cluster->ClientEndpoints());
  direct.etcd.linearizable_reads = true;
  std::unique_ptr<Store> observer = OpenStore(direct);
  ASSERT_NE(observer, nullptr);
  ASSERT_EQ(*store->Append("wf", std::vector<std::string>{"first"}), 1u);

  std::vector<std::string> expected_events{"first"};
  for (int round = 0; round < 3; ++round) {
    // An append first, so that the next call the client makes is the
    // append itself (it knows the counter), not a read of it.
    const std::string warm = "warm-" + std::to_string(round);
    ASSERT_TRUE(store->Append("wf", std::vector<std::string>{warm}).ok());
    expected_events.push_back(warm);
    const std::uint64_t target = expected_events.size() + 1;
    const std::string v = "lost-response-" + std::to_string(round);
    proxy->ArmDropResponses(800ms);
    std::atomic<std::uint64_t> cursor_while_held{0};
    std::thread watch([&] {
      if (!proxy->WaitFired(5s)) return;
      // The response is being held back: has the cluster applied it?
      for (int i = 0; i < 50; ++i) {
        Result<WorkflowSummary> d = observer->Describe("wf");
        if (d.ok() && d->cursor == target) {
          cursor_while_held = d->cursor;
          return;
        }
        std::this_thread::sleep_for(10ms);
      }
    });
    Result<std::uint64_t> r = store->Append("wf", std::vector<std::string>{v});
    watch.join();
    ASSERT_EQ(proxy->FiredCount(), round + 1) << "the proxy did not drop the response";
    EXPECT_EQ(cursor_while_held.load(), target) << "the first attempt was not applied while its response was held";
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, target);
    expected_events.push_back(v);
  }
  std::vector<std::string> events;
  Result<std::unique_ptr<EventIterator>> it = observer->Stream("wf");
  ASSERT_TRUE(it.ok());
  for (; (*it)->Valid(); (*it)->Next()) events.emplace_back((*it)->value());
  EXPECT_EQ(events, expected_events);
}

TEST(EtcdOwnership, OnlyTheOwnerWritesAndAReleasedWorkflowChangesHands) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  std::vector<std::string> n = cluster->ClientEndpoints();
  // Two database objects on one cluster (the member order tells them apart
  // in this process), as two processes would have.
  std::unique_ptr<Store> a = OpenStore(EtcdOptions(n));
  DatabaseOptions b_options = EtcdOptions({n[1], n[2], n[0]});
  b_options.etcd.linearizable_reads = true;  // b checks what a wrote
  std::unique_ptr<Store> b = OpenStore(b_options);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Append("wf", std::vector<std::string>{"before"}).ok());  // unowned: anyone writes
  ASSERT_TRUE(a->Claim("wf").ok());
  ASSERT_TRUE(a->Claim("wf").ok());  // again: still ours
  EXPECT_EQ(b->Claim("wf").code(), Status::Code::kNotOwner);
  // Every write of b for wf is fenced and writes nothing.
  EXPECT_EQ(b->Append("wf", std::vector<std::string>{"b"}).status().code(), Status::Code::kNotOwner);
  EXPECT_EQ(b->Save("wf", "b").code(), Status::Code::kNotOwner);
  EXPECT_EQ(b->SaveSnapshot("wf", 1, "b").code(), Status::Code::kNotOwner);
  EXPECT_EQ(b->Trim("wf", 1).code(), Status::Code::kNotOwner);
  EXPECT_EQ(b->Delete("wf").code(), Status::Code::kNotOwner);
  EXPECT_EQ(b->ImportEvents("wf", 5, std::vector<std::string_view>{"b"}).code(), Status::Code::kNotOwner);
  std::vector<AppendRequest> many(1);
  many[0].id = "wf";
  many[0].events = {"b"};
  EXPECT_EQ(b->AppendMany(many)[0].status().code(), Status::Code::kNotOwner);
  EXPECT_EQ(*a->Append("wf", std::vector<std::string>{"a"}), 2u);
  EXPECT_EQ(b->Describe("wf")->cursor, 2u);
  EXPECT_FALSE(b->Describe("wf")->has_log);

  // Handed over: a's writes are fenced from now on.
  ASSERT_TRUE(a->Release("wf").ok());
  ASSERT_TRUE(b->Claim("wf").ok());
  EXPECT_EQ(a->Claim("wf").code(), Status::Code::kNotOwner);
  EXPECT_EQ(a->Append("wf", std::vector<std::string>{"a2"}).status().code(), Status::Code::kNotOwner);
  EXPECT_EQ(*b->Append("wf", std::vector<std::string>{"b2"}), 3u);
  // Closing b's database revokes its lease: the workflow is free at once.
  b.reset();
  ASSERT_TRUE(a->Claim("wf").ok());
  EXPECT_EQ(*a->Append("wf", std::vector<std::string>{"a3"}), 4u);
}

// The revision a stream pins is compacted under it: the stream goes on at a
// newer one, whole and in order; a trim past what it has read is reported.
TEST(EtcdStreams, AStreamOutlivesTheCompactionOfItsRevision) {
  auto cluster = StartCluster();
  ASSERT_NE(cluster, nullptr);
  std::unique_ptr<Store> store = OpenStore(EtcdOptions(cluster->ClientEndpoints()));
  ASSERT_NE(store, nullptr);
  const std::size_t batch = store->limits().max_batch_events;
  // Enough bytes (6 MB) for several pages of about 1 MiB.
  constexpr int kEvents = 20000;
  auto event = [](int n) { return std::to_string(n) + "/" + std::string(300, 'e'); };
  for (int n = 0; n < kEvents;) {
    std::vector<std::string> events;
    for (std::size_t i = 0; i < batch && n < kEvents; ++i) events.push_back(event(++n));
    ASSERT_TRUE(store->Append("wf", events).ok());
  }
  auto compact_now = [&] {
    // Writes move the revision on; compacting at the newest one removes the
    // stream's.
    ASSERT_TRUE(store->Save("other", "x").ok());
    test::EtcdctlResult got = cluster->Etcdctl({"get", "any", "-w", "json"});
    ASSERT_TRUE(got.ok()) << got.err;
    const std::size_t at = got.out.find("\"revision\":");
    ASSERT_NE(at, std::string::npos) << got.out;
    const std::string revision = std::to_string(std::stoll(got.out.substr(at + 11)));
    test::EtcdctlResult compacted = cluster->Etcdctl({"compact", revision});
    ASSERT_TRUE(compacted.ok()) << compacted.out << compacted.err;
  };

  Result<std::unique_ptr<EventIterator>> it = store->Stream("wf");
  ASSERT_TRUE(it.ok()) << it.status().ToString();
  int n = 0;
  for (; (*it)->Valid(); (*it)->Next()) {
    ASSERT_EQ((*it)->value(), event(++n));
    if (n == 10) compact_now();
  }
  ASSERT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
  EXPECT_EQ(n, kEvents);

  // Trimmed past the reader, then compacted: kTrimmed, never a gap.
  it = store->Stream("wf");
  ASSERT_TRUE(it.ok());
  for (n = 0; (*it)->Valid() && n < 10; (*it)->Next()) ++n;
  ASSERT_TRUE(store->Trim("wf", 15000).ok());  // beyond the first page
  compact_now();
  while ((*it)->Valid()) (*it)->Next();
  EXPECT_TRUE((*it)->status().IsTrimmed()) << (*it)->status().ToString();
}

TEST(EtcdSecurity, TlsAndAuthenticationFromTheUri) {
  test::EtcdClusterOptions options;
  options.tls = true;
  options.auth = true;
  auto cluster = StartCluster(options);
  ASSERT_NE(cluster, nullptr);
  Result<std::shared_ptr<Database>> db = Database::OpenUri(cluster->Uri("timeout_ms=3000") + "");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Result<std::unique_ptr<Store>> store = (*db)->OpenStore("runner");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_EQ(*(*store)->Append("wf", std::vector<std::string>{"secure"}), 1u);
  ASSERT_TRUE((*store)->Claim("wf").ok());
  EXPECT_EQ((*store)->Load("wf").status().code(), Status::Code::kNotFound);

  // Without the CA, or with a wrong password, the open fails with a clear
  // error and within the deadline.
  std::vector<std::string> plain = cluster->ClientEndpoints();
  DatabaseOptions no_tls = EtcdOptions(plain, 1000ms);
  no_tls.etcd.user = cluster->User();
  no_tls.etcd.password = cluster->Password();
  Result<std::shared_ptr<Database>> refused = Database::Open(no_tls);
  EXPECT_FALSE(refused.ok());
  DatabaseOptions bad_password = no_tls;
  bad_password.nodes = {plain[1], plain[0], plain[2]};
  bad_password.etcd.tls_ca_file = cluster->CaFile();
  bad_password.etcd.password = "wrong";
  refused = Database::Open(bad_password);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("authentication failed"), std::string::npos) << refused.status().ToString();
  DatabaseOptions no_user = bad_password;
  no_user.nodes = {plain[2], plain[0], plain[1]};
  no_user.etcd.user.clear();
  no_user.etcd.password.clear();
  refused = Database::Open(no_user);
  EXPECT_FALSE(refused.ok()) << "an anonymous client read from an auth-enabled cluster";
}

TEST(EtcdOptionsTest, BadOptionsAndUnreachableMembersAreClearErrors) {
  EXPECT_TRUE(Database::ParseUri("etcd://").status().IsInvalidArgument());
  EXPECT_TRUE(Database::ParseUri("etcd://host").status().IsInvalidArgument());
  EXPECT_TRUE(Database::ParseUri("etcd://h:1?bogus=1").status().IsInvalidArgument());
  EXPECT_TRUE(Database::ParseUri("etcd://h:1?timeout_ms=0").status().IsInvalidArgument());
  Result<DatabaseOptions> o = Database::ParseUri(
      "etcd://a:1,b:2/app?timeout_ms=500&lease_ttl_ms=3000&linearizable=1"
      "&user=u&password=p%26q&ca=/x");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->nodes, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(o->dir, "app");
  EXPECT_EQ(o->etcd.call_timeout, 500ms);
  EXPECT_EQ(o->etcd.lease_ttl, 3000ms);
  EXPECT_TRUE(o->etcd.linearizable_reads);
  EXPECT_EQ(o->etcd.password, "p&q");
  EXPECT_EQ(o->etcd.tls_ca_file, "/x");

  DatabaseOptions bad = EtcdOptions({"127.0.0.1:1"}, 500ms);
  bad.sync = true;
  EXPECT_TRUE(Database::Open(bad).status().IsInvalidArgument());
  bad.sync = false;
  bad.etcd.lease_ttl = 100ms;
  EXPECT_TRUE(Database::Open(bad).status().IsInvalidArgument());
  bad.etcd.lease_ttl = 10s;
  bad.etcd.tls_ca_file = "/nonexistent/ca.pem";
  EXPECT_TRUE(Database::Open(bad).status().IsInvalidArgument());
  bad.etcd.tls_ca_file.clear();
  // Port 1 on loopback: nobody listens.
  const auto start = Clock::now();
  Result<std::shared_ptr<Database>> unreachable = Database::Open(bad);
  EXPECT_EQ(unreachable.status().code(), Status::Code::kUnavailable) << unreachable.status().ToString();
  EXPECT_LT(Clock::now() - start, 2s);
}

}  // namespace
}  // namespace runic
