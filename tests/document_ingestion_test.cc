// examples/document_ingestion.cc killed (SIGKILL) at a random point and
// resumed in a new process, as a user would run it: its report must find
// every document where it should end (published, or halted or cancelled
// with every chunk's embedding deleted under one key) and nothing
// published twice.
#include <sys/wait.h>

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>

#include "child_process.h"
#include "crash_rounds.h"
#include "test_util.h"

#ifndef RUNIC_DOCUMENT_INGESTION
#error "RUNIC_DOCUMENT_INGESTION must name the document_ingestion executable"
#endif

namespace runic::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr int kDocuments = 20;

// Reads lines until "completed N" with N >= target (true), or the end.
bool ReadUntil(ChildProcess& p, int target) {
  std::string line;
  const auto deadline = Clock::now() + seconds(120);
  while (p.ReadLine(&line, deadline)) {
    if (line.rfind("completed ", 0) == 0 && std::stoi(line.substr(10)) >= target) return true;
  }
  return false;
}

TEST(DocumentIngestion, KilledAndResumedItEndsAsARunWithoutACrash) {
  std::mt19937_64 rng(CrashSeed());
  const std::string n = std::to_string(kDocuments);
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    TempDir dir;
    auto run = ChildProcess::Start(RUNIC_DOCUMENT_INGESTION, {"run", dir.path(), n});
    ASSERT_NE(run, nullptr);
    // About 8 steps a document, and as many compensations for some.
    const bool killed = ReadUntil(*run, std::uniform_int_distribution<int>(5, 150)(rng));
    if (killed) run->Kill();
    int status = run->Wait(Clock::now() + seconds(60));
    ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << DescribeWait(status);
    auto resume = ChildProcess::Start(RUNIC_DOCUMENT_INGESTION, {"resume", dir.path(), n});
    ASSERT_NE(resume, nullptr);
    ReadUntil(*resume, INT32_MAX);
    status = resume->Wait(Clock::now() + seconds(60));
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWait(status);
    auto report = ChildProcess::Start(RUNIC_DOCUMENT_INGESTION, {"report", dir.path(), n});
    ASSERT_NE(report, nullptr);
    std::string line, last;
    while (report->ReadLine(&line, Clock::now() + seconds(60))) {
      if (line.rfind("problem", 0) == 0) ADD_FAILURE() << line;
      last = line;
    }
    status = report->Wait(Clock::now() + seconds(30));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWait(status);
    EXPECT_EQ(last, "report ok " + n);
  }
}

}  // namespace
}  // namespace runic::test
