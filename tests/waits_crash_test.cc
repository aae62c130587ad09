// Durable waits across SIGKILLs (waits_crash_helper, a separate process on
// a disk store with sync): each round runs the helper, kills it after a
// random number of reported completions and client actions (with timers,
// awaits and controls pending, between a signal's acknowledgement and its
// consumption, during a pause), sometimes kills the resume too, then resumes
// to the end and checks: every signal consumed once and none lost, no timer
// fired early or twice, no persisted step ran again, cancelled workflows
// never ran on, paused ones stayed paused.
//
// RUNIC_CRASH_SEED fixes the kill points; RUNIC_CRASH_ROUNDS sets the
// rounds (20 by default, 3 under the sanitizers).
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "child_process.h"
#include "crash_rounds.h"
#include "test_util.h"

#ifndef RUNIC_WAITS_CRASH_HELPER
#error "RUNIC_WAITS_CRASH_HELPER must name the waits_crash_helper executable"
#endif

namespace runic::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr int kWorkflows = 10;

// Reads lines until "progress N" with N >= target (true), or the end
// (false); keeps the "violation" lines.
bool ReadUntil(ChildProcess& p, int target, std::vector<std::string>* violations) {
  std::string line;
  const auto deadline = Clock::now() + seconds(60);
  while (p.ReadLine(&line, deadline)) {
    if (line.rfind("violation", 0) == 0) violations->push_back(line);
    if (line.rfind("progress ", 0) == 0 && std::stoi(line.substr(9)) >= target) return true;
  }
  return false;
}

TEST(WaitsCrash, SignalsTimersAndControlsHoldAcrossKills) {
  const std::uint64_t seed = CrashSeed();
  std::mt19937_64 rng(seed);
  const int rounds = CrashRounds();
  const auto test_deadline = Clock::now() + seconds(240);
  const std::string w = std::to_string(kWorkflows);
  int kills = 0, resume_kills = 0;
  for (int round = 0; round < rounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    ASSERT_LT(Clock::now(), test_deadline) << "out of time after " << round << " rounds";
    TempDir dir;
    std::vector<std::string> violations;
    {
      auto run = ChildProcess::Start(RUNIC_WAITS_CRASH_HELPER, {"run", dir.path(), w});
      ASSERT_NE(run, nullptr);
      if (ReadUntil(*run, std::uniform_int_distribution<int>(1, 30)(rng), &violations)) {
        run->Kill();
        ++kills;
      }
      const int status = run->Wait(Clock::now() + seconds(30));
      ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << DescribeWait(status);
    }
    if (round % 3 == 1) {  // a crash during the recovery
      auto resume = ChildProcess::Start(RUNIC_WAITS_CRASH_HELPER, {"resume", dir.path(), w});
      ASSERT_NE(resume, nullptr);
      if (ReadUntil(*resume, std::uniform_int_distribution<int>(1, 10)(rng), &violations)) {
        resume->Kill();
        ++resume_kills;
      }
      const int status = resume->Wait(Clock::now() + seconds(30));
      ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << DescribeWait(status);
    }
    {
      auto resume = ChildProcess::Start(RUNIC_WAITS_CRASH_HELPER, {"resume", dir.path(), w});
      ASSERT_NE(resume, nullptr);
      ReadUntil(*resume, INT32_MAX, &violations);
      const int status = resume->Wait(Clock::now() + seconds(60));
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWait(status);
    }
    auto check = ChildProcess::Start(RUNIC_WAITS_CRASH_HELPER, {"check", dir.path(), w});
    ASSERT_NE(check, nullptr);
    std::string line, last;
    while (check->ReadLine(&line, Clock::now() + seconds(60))) {
      if (line.rfind("violation", 0) == 0) violations.push_back(line);
      last = line;
    }
    const int status = check->Wait(Clock::now() + seconds(30));
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWait(status);
    EXPECT_EQ(last, "checked " + w);
    for (const std::string& v : violations) ADD_FAILURE() << v;
  }
  std::printf("%d rounds: %d runs and %d resumes killed\n", rounds, kills, resume_kills);
  EXPECT_GE(kills, rounds / 2);
}

}  // namespace
}  // namespace runic::test
