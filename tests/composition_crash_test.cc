// Maps and sagas across SIGKILLs (composition_crash_helper, a separate
// process): each round runs the helper, kills it after a random number of
// completed steps (a map half done; compensations half done), sometimes
// kills the resume too, then resumes to the end and checks: every element
// (and every compensation) done once and none lost, the reduce and the step
// after it once, and no persisted step or compensation ran again. On the
// disk engine with sync, and on etcd with a 10,000-element map.
//
// RUNIC_CRASH_SEED fixes the kill points; RUNIC_CRASH_ROUNDS sets the
// rounds on disk (20 by default, 3 under the sanitizers).
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

#include "child_process.h"
#include "crash_rounds.h"
#include "shared_etcd_cluster.h"
#include "test_util.h"

#ifndef RUNIC_COMPOSITION_CRASH_HELPER
#error "RUNIC_COMPOSITION_CRASH_HELPER must name the composition_crash_helper executable"
#endif

namespace runic::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

// Reads lines until "progress N" with N >= target (true), or the end
// (false).
bool ReadUntil(ChildProcess& p, int target, Clock::time_point deadline) {
  std::string line;
  while (p.ReadLine(&line, deadline)) {
    if (line.rfind("progress ", 0) == 0 && std::stoi(line.substr(9)) >= target) return true;
  }
  return false;
}

struct Scenario {
  std::string uri;  // the database
  int workflows;
  int elements;
  const char* kind = "map";  // or "saga": cancelled, every element compensated
};

// One round: run and kill, maybe resume and kill, resume to the end, check.
// Returns the kills.
int RunRound(const Scenario& s, const TempDir& dir, std::mt19937_64& rng, bool kill_resume) {
  const std::vector<std::string> tail{s.uri, dir.path(), std::to_string(s.workflows), std::to_string(s.elements),
                                      s.kind};
  auto args = [&](const char* mode) {
    std::vector<std::string> a{mode};
    a.insert(a.end(), tail.begin(), tail.end());
    return a;
  };
  const int steps = s.workflows * (s.elements + 3) * (std::string(s.kind) == "saga" ? 2 : 1);
  int kills = 0;
  {
    auto run = ChildProcess::Start(RUNIC_COMPOSITION_CRASH_HELPER, args("run"));
    EXPECT_NE(run, nullptr);
    if (run == nullptr) return kills;
    if (ReadUntil(*run, std::uniform_int_distribution<int>(1, steps * 9 / 10)(rng), Clock::now() + seconds(120))) {
      run->Kill();
      ++kills;
    }
    const int status = run->Wait(Clock::now() + seconds(60));
    EXPECT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << DescribeWait(status);
  }
  if (kill_resume) {  // a crash during the recovery
    auto resume = ChildProcess::Start(RUNIC_COMPOSITION_CRASH_HELPER, args("resume"));
    EXPECT_NE(resume, nullptr);
    if (resume == nullptr) return kills;
    if (ReadUntil(*resume, std::uniform_int_distribution<int>(1, steps / 10 + 1)(rng), Clock::now() + seconds(120))) {
      resume->Kill();
      ++kills;
    }
    const int status = resume->Wait(Clock::now() + seconds(60));
    EXPECT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << DescribeWait(status);
  }
  {
    auto resume = ChildProcess::Start(RUNIC_COMPOSITION_CRASH_HELPER, args("resume"));
    EXPECT_NE(resume, nullptr);
    if (resume == nullptr) return kills;
    ReadUntil(*resume, INT32_MAX, Clock::now() + seconds(300));
    const int status = resume->Wait(Clock::now() + seconds(60));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWait(status);
  }
  auto check = ChildProcess::Start(RUNIC_COMPOSITION_CRASH_HELPER, args("check"));
  EXPECT_NE(check, nullptr);
  if (check == nullptr) return kills;
  std::string line, last;
  int violations = 0;
  while (check->ReadLine(&line, Clock::now() + seconds(120))) {
    if (line.rfind("violation", 0) == 0 && ++violations <= 20) ADD_FAILURE() << line;
    last = line;
  }
  const int status = check->Wait(Clock::now() + seconds(30));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWait(status);
  EXPECT_EQ(last, "checked " + std::to_string(s.workflows));
  EXPECT_EQ(violations, 0);
  return kills;
}

// CrashRounds() rounds of `kind` on a disk store with sync.
void DiskRounds(const char* kind, int workflows, int elements) {
  const std::uint64_t seed = CrashSeed();
  std::mt19937_64 rng(seed);
  const int rounds = CrashRounds();
  const auto test_deadline = Clock::now() + seconds(240);
  int kills = 0;
  for (int round = 0; round < rounds && !::testing::Test::HasFailure(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    ASSERT_LT(Clock::now(), test_deadline) << "out of time after " << round << " rounds";
    TempDir dir;
    kills +=
        RunRound(Scenario{"disk://" + dir.path() + "/db?sync=1", workflows, elements, kind}, dir, rng, round % 3 == 1);
  }
  std::printf("%d rounds: %d kills\n", rounds, kills);
  EXPECT_GE(kills, rounds / 2);
}

TEST(CompositionCrash, AMapHalfDoneFinishesWithEachElementDoneOnceOnDisk) { DiskRounds("map", 4, 40); }

TEST(CompositionCrash, CompensationsHalfDoneFinishWithEachDoneOnceOnDisk) { DiskRounds("saga", 3, 30); }

TEST(CompositionCrash, ATenThousandElementMapOnEtcdKilledMidwayFinishesWithEachElementDoneOnce) {
  const std::uint64_t seed = CrashSeed();
  std::mt19937_64 rng(seed);
#ifdef RUNIC_SANITIZED
  constexpr int kElements = 2000, kRounds = 1;
#else
  constexpr int kElements = 10000, kRounds = 2;
#endif
  // A database of its own on the shared cluster, per round.
  const std::string uri = SharedEtcdCluster().Uri("lease_ttl_ms=2000");
  int kills = 0;
  for (int round = 0; round < kRounds && !HasFailure(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    TempDir dir;
    const std::string db_uri = uri.substr(0, uri.find('?')) + "/mapcrash" + std::to_string(::getpid()) + "r" +
                               std::to_string(round) + uri.substr(uri.find('?'));
    kills += RunRound(Scenario{db_uri, 1, kElements}, dir, rng, round == 1);
  }
  EXPECT_GE(kills, 1);
}

}  // namespace
}  // namespace runic::test
