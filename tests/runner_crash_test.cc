// Crash recovery of the Runner, across process boundaries.
//
// runner_crash_helper (a separate executable, started with fork + exec) runs
// many workflows (a chain, a fan-out, two joins, a rule and a flaky retried
// step, one or two inputs each) on a disk store and journals every step
// execution with write(2). Each round:
//   1. starts `helper run`, reads its "completed K" lines, and SIGKILLs it
//      once K reaches a random target (never after a fixed time);
//   2. in some rounds starts `helper resume` and SIGKILLs it too, after a
//      few more completions (a crash during recovery);
//   3. runs `helper resume` (a NEW process) to the end: it records first the
//      completions the store holds, then resumes every unfinished workflow;
//   4. runs `helper results` and checks that every workflow ends with the
//      same results as an uninterrupted run (`helper expected`, once). Each
//      resume first sends every start and input again with its idempotency
//      key, as a client retrying after the crash: all were acknowledged
//      before the kill, so an input applied twice shows in the results;
//   5. checks the journal: no (workflow, node, input) whose completion was in
//      the store when a resume started ran again in or after that resume,
//      and every stored completion has its journal line.
// After each kill and each resume, the store's state index agrees with the
// histories. Over all rounds, at least one resume re-dispatched runnables
// that were in flight at the kill.
//
// RUNIC_CRASH_SEED fixes the random targets (the seed is printed);
// RUNIC_CRASH_ROUNDS raises the number of rounds (at least 20).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "runic/runic.h"
#include "test_util.h"

#ifndef RUNIC_RUNNER_CRASH_HELPER
#error "RUNIC_RUNNER_CRASH_HELPER must name the runner_crash_helper executable"
#endif

namespace runic::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr int kWorkflows = 16;
constexpr int kMinRounds = 20;

using test::ChildProcess;

// Reads until a line "completed K" with K >= target. False when the output
// ends (or the deadline passes) first. With `after_started`, also waits for
// "started" (every input durable): a workflow whose input was never
// acknowledged is not expected to finish.
bool ReadUntilCompleted(ChildProcess& p, std::uint64_t target, Clock::time_point deadline, std::uint64_t* seen,
                        bool after_started = false) {
  std::string line;
  bool started = false;
  while (p.ReadLine(&line, deadline)) {
    if (line == "started") started = true;
    if (line.rfind("completed ", 0) == 0) *seen = std::stoull(line.substr(10));
    if (*seen >= target && (started || !after_started)) return true;
  }
  return false;
}

// Every remaining line until the output ends or `deadline`.
std::vector<std::string> ReadAll(ChildProcess& p, Clock::time_point deadline) {
  std::vector<std::string> lines;
  std::string line;
  while (p.ReadLine(&line, deadline)) lines.push_back(line);
  return lines;
}

std::string Describe(int status) { return test::DescribeWait(status); }

bool ExitedOk(int status) { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }

std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// id -> canonical results line, from `helper results` or `helper expected`.
std::map<std::string, std::string> ParseResults(const std::vector<std::string>& lines) {
  std::map<std::string, std::string> by_id;
  for (const std::string& line : lines) {
    if (line.rfind("wf-", 0) != 0) continue;
    by_id[line.substr(0, line.find(' '))] = line;
  }
  return by_id;
}

struct JournalCheck {
  int resumes = 0;                        // "== resume" markers
  int ran_twice = 0;                      // keys with more than one successful execution
  std::vector<std::string> ran_again;     // persisted keys executed again
  std::vector<std::string> unjournalled;  // persisted keys with no execution
};

// Compares DIR/journal.log with DIR/persisted.log (see runner_crash_helper).
JournalCheck CheckJournal(const std::string& dir) {
  JournalCheck check;
  std::map<std::string, std::set<std::string>> persisted_at;
  std::string current;
  for (const std::string& line : ReadLines(dir + "/persisted.log")) {
    if (line.rfind("== ", 0) == 0) {
      current = line;
      persisted_at[current];
    } else {
      persisted_at[current].insert(line);
    }
  }
  std::set<std::string> persisted;
  std::map<std::string, int> runs;
  std::set<std::string> again;
  for (const std::string& line : ReadLines(dir + "/journal.log")) {
    if (line.rfind("== ", 0) == 0) {
      ++check.resumes;
      const auto& add = persisted_at[line];
      persisted.insert(add.begin(), add.end());
      continue;
    }
    const std::size_t last = line.rfind(' ');
    if (last == std::string::npos) continue;  // a line torn by the kill
    const std::string key = line.substr(0, last);
    if (line.compare(last + 1, std::string::npos, "ok") == 0) ++runs[key];
    if (persisted.count(key)) again.insert(key);
  }
  for (const auto& [key, n] : runs) check.ran_twice += n > 1;
  check.ran_again.assign(again.begin(), again.end());
  for (const auto& [marker, keys] : persisted_at) {
    for (const std::string& key : keys) {
      if (!runs.count(key)) check.unjournalled.push_back(key);
    }
  }
  return check;
}

// After every kill: each workflow's entry in the store's state index is
// the state its history reads (written in the same atomic write as the
// events), and the index names no other workflow.
void ExpectStateIndexMatchesHistories(const std::string& dir) {
  DatabaseOptions o;
  o.dir = dir + "/db";
  Result<std::shared_ptr<Database>> db = Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Result<std::unique_ptr<Store>> store = (*db)->OpenStore("crash");  // the helper's runner
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Result<ListPage> ids = (*store)->List({.prefix = "", .start_after = "", .limit = 100000});
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  HistoryReadOptions read;
  read.values = read.structure = false;
  std::size_t with_history = 0;
  for (const std::string& id : ids->ids) {
    Result<WorkflowHistory> h = ReadHistory(**store, id, read);
    ASSERT_TRUE(h.ok()) << id << ": " << h.status().ToString();
    ++with_history;
    Result<WorkflowSummary> w = (*store)->Describe(id);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    EXPECT_EQ(w->state_tag, StateIndexTag(h->state, h->definition.name, h->definition.version)) << id;
  }
  StateListOptions all;
  all.tag_is_prefix = true;
  all.limit = 100000;
  Result<StatePage> index = (*store)->ListByState(all);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(index->entries.size(), with_history);
}

TEST(RunnerCrash, KillAtRandomCompletionsAndResumeInANewProcess) {
  const auto test_deadline = Clock::now() + seconds(540);

  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("RUNIC_CRASH_SEED")) seed = std::strtoull(s, nullptr, 10);
  int rounds = kMinRounds + 4;
  if (const char* s = std::getenv("RUNIC_CRASH_ROUNDS")) rounds = std::max(kMinRounds, std::atoi(s));
  std::printf("seed %llu (RUNIC_CRASH_SEED), %d rounds\n", static_cast<unsigned long long>(seed), rounds);
  std::mt19937_64 rng(seed);

  // The reference: an uninterrupted run, without a store.
  std::map<std::string, std::string> expected;
  {
    auto p = ChildProcess::Start(RUNIC_RUNNER_CRASH_HELPER, {"expected", std::to_string(kWorkflows)});
    ASSERT_NE(p, nullptr);
    expected = ParseResults(ReadAll(*p, Clock::now() + seconds(60)));
    int status = p->Wait(Clock::now() + seconds(10));
    ASSERT_TRUE(ExitedOk(status)) << "expected: " << Describe(status);
    ASSERT_EQ(expected.size(), static_cast<std::size_t>(kWorkflows));
  }

  std::uint64_t total_redispatched = 0;
  int rounds_with_redispatch = 0, killed_runs = 0, killed_resumes = 0, total_twice = 0;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    ASSERT_LT(Clock::now(), test_deadline) << "out of time after " << round << " rounds";
    TempDir dir;

    // 1. Run, killed after a random number of completed runnables. An
    //    uninterrupted run completes about 230.
    const std::uint64_t target = std::uniform_int_distribution<std::uint64_t>(1, 150)(rng);
    {
      auto p = ChildProcess::Start(RUNIC_RUNNER_CRASH_HELPER, {"run", dir.path(), std::to_string(kWorkflows)});
      ASSERT_NE(p, nullptr);
      std::uint64_t seen = 0;
      const bool reached = ReadUntilCompleted(*p, target, Clock::now() + seconds(60), &seen, /*after_started=*/true);
      if (reached) {
        p->Kill();
        ++killed_runs;
      }
      int status = p->Wait(Clock::now() + seconds(30));
      if (!reached) {
        ASSERT_TRUE(ExitedOk(status)) << "run: " << Describe(status) << " after " << seen;
      }
    }
    ExpectStateIndexMatchesHistories(dir.path());

    // 2. Sometimes a crash during recovery as well.
    if (round % 3 == 2) {
      auto p = ChildProcess::Start(RUNIC_RUNNER_CRASH_HELPER, {"resume", dir.path()});
      ASSERT_NE(p, nullptr);
      std::uint64_t seen = 0;
      const std::uint64_t target2 = std::uniform_int_distribution<std::uint64_t>(1, 40)(rng);
      const bool reached = ReadUntilCompleted(*p, target2, Clock::now() + seconds(60), &seen);
      if (reached) {
        p->Kill();
        ++killed_resumes;
      }
      int status = p->Wait(Clock::now() + seconds(30));
      if (!reached) {
        ASSERT_TRUE(ExitedOk(status)) << "first resume: " << Describe(status);
      }
      ExpectStateIndexMatchesHistories(dir.path());
    }

    // 3. Resume to the end, in a new process.
    {
      auto p = ChildProcess::Start(RUNIC_RUNNER_CRASH_HELPER, {"resume", dir.path()});
      ASSERT_NE(p, nullptr);
      auto lines = ReadAll(*p, Clock::now() + seconds(90));
      int status = p->Wait(Clock::now() + seconds(10));
      ASSERT_TRUE(ExitedOk(status)) << "resume: " << Describe(status);
      unsigned long long resumed = 0, redispatched = 0;
      bool reported = false;
      for (const std::string& line : lines) {
        if (std::sscanf(line.c_str(), "resumed %llu redispatched %llu", &resumed, &redispatched) == 2) {
          reported = true;
        }
      }
      ASSERT_TRUE(reported) << "resume printed no summary";
      ExpectStateIndexMatchesHistories(dir.path());
      total_redispatched += redispatched;
      rounds_with_redispatch += redispatched > 0;
    }

    // 4. The same results as an uninterrupted run.
    {
      auto p = ChildProcess::Start(RUNIC_RUNNER_CRASH_HELPER, {"results", dir.path(), std::to_string(kWorkflows)});
      ASSERT_NE(p, nullptr);
      auto got = ParseResults(ReadAll(*p, Clock::now() + seconds(60)));
      int status = p->Wait(Clock::now() + seconds(10));
      ASSERT_TRUE(ExitedOk(status)) << "results: " << Describe(status);
      for (const auto& [id, line] : expected) {
        auto it = got.find(id);
        ASSERT_NE(it, got.end()) << id << " missing";
        EXPECT_EQ(it->second, line);
      }
    }

    // 5. No persisted step ran again; every persisted step was journalled.
    JournalCheck check = CheckJournal(dir.path());
    EXPECT_GE(check.resumes, 1);
    EXPECT_TRUE(check.ran_again.empty()) << check.ran_again.size() << " persisted steps ran again, e.g. "
                                         << check.ran_again.front();
    EXPECT_TRUE(check.unjournalled.empty())
        << check.unjournalled.size() << " stored completions never ran, e.g. " << check.unjournalled.front();
    total_twice += check.ran_twice;
    if (HasFailure()) return;
  }
  std::printf(
      "%d rounds: %d runs and %d resumes killed; %d rounds re-dispatched in-flight runnables (%llu in all); "
      "%d steps ran twice (in flight at a kill, not persisted)\n",
      rounds, killed_runs, killed_resumes, rounds_with_redispatch, static_cast<unsigned long long>(total_redispatched),
      total_twice);
  EXPECT_GE(killed_runs, kMinRounds);
  EXPECT_GT(rounds_with_redispatch, 0) << "no round had in-flight runnables to re-dispatch";
}

}  // namespace
}  // namespace runic::test
