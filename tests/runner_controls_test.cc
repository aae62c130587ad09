// The controls end to end (pause, unpause, cancel, terminate, retry), with
// a ManualClock, on no store, memory, disk, disk with sync and (in
// runner_waits_etcd_test) etcd.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "waits_fixture.h"

namespace runic {
namespace {

using namespace std::chrono_literals;

class RunnerControlsTest : public RunnerWaitsTest {
 protected:
  // The control events of `id` ("pause", "cancelled", ...; "refused <c>"
  // for a refused one).
  std::vector<std::string> Controls(const std::string& id) {
    std::vector<std::string> out;
    for (const HistoryEvent& e : Events(id, HistoryEventKind::kControl)) {
      out.push_back(e.dropped.empty() ? e.control : "refused " + e.control);
    }
    return out;
  }
};

std::shared_ptr<const Workflow> Reminder(std::atomic<int>* after) {
  return *Workflow::Builder("reminder", 1).Delay("wait", 1s).Step("after", Counted(after), "wait").Build();
}

TEST_P(RunnerControlsTest, APausedWorkflowRecordsItsTimerAndRunsOnOnUnpause) {
  std::atomic<int> after{0};
  ASSERT_TRUE(runner_->StartWorkflow("wf", Reminder(&after), std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Pause("wf").ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kPaused), WorkflowState::kPaused);
  if (has_store()) {
    ASSERT_TRUE(runner_->Checkpoint("wf").ok());
    EXPECT_EQ(IdsInState(WorkflowState::kPaused), std::vector<std::string>{"wf"});
  }
  clock_->Advance(1s);  // the timer comes due while paused: recorded, nothing after it starts
  for (int i = 0; i < 2000 && runner_->GetResults("wf")->count("wait") == 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ((*runner_->GetResults("wf"))["wait"], std::vector<Value>{1});
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(after.load(), 0) << "a step started while paused";
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kPaused);
  ASSERT_TRUE(runner_->Unpause("wf").ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ(after.load(), 1);
  if (!has_store()) return;
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  EXPECT_EQ(Controls("wf"), (std::vector<std::string>{"pause", "unpause"}));
  EXPECT_EQ(ReadHistory(*store_, "wf")->state, WorkflowState::kIdle);
}

TEST_P(RunnerControlsTest, AControlInTheWrongStateIsRefusedAndNothingIsWritten) {
  std::atomic<int> after{0};
  ASSERT_TRUE(runner_->StartWorkflow("wf", Reminder(&after), std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  const std::uint64_t cursor = runner_->Lookup("wf")->cursor;
  Status unpause = runner_->Unpause("wf");
  EXPECT_TRUE(unpause.IsFailedPrecondition()) << unpause.ToString();
  EXPECT_NE(unpause.message().find("cannot unpause a workflow that is waiting"), std::string::npos)
      << unpause.ToString();
  EXPECT_TRUE(runner_->Retry("wf").IsFailedPrecondition());
  EXPECT_TRUE(runner_->Pause("nobody").IsNotFound());
  EXPECT_TRUE(runner_->Cancel("").IsInvalidArgument());
  EXPECT_TRUE(runner_->Cancel("wf", std::string(5000, 'r')).IsInvalidArgument());
  ASSERT_TRUE(runner_->Pause("wf").ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kPaused), WorkflowState::kPaused);
  EXPECT_TRUE(runner_->Pause("wf").IsFailedPrecondition()) << "paused already";
  if (!has_store()) return;
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  EXPECT_EQ(runner_->Lookup("wf")->cursor, cursor + 1) << "only the pause was written";
  EXPECT_TRUE(store_->ReadInbox("wf")->entries.empty());
}

TEST_P(RunnerControlsTest, SignalsToAPausedWorkflowWaitForItsUnpause) {
  auto wf = *Workflow::Builder("payment", 1).Await("pay", "payment").Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = "o"}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Pause("wf").ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kPaused), WorkflowState::kPaused);
  ASSERT_TRUE(runner_->Signal("wf", "payment", 5).ok());
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(runner_->GetResults("wf")->count("pay"), 0u) << "taken while paused";
  ASSERT_TRUE(runner_->Unpause("wf").ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["pay"], std::vector<Value>{(Value{{"input", "o"}, {"signal", 5}})});
}

TEST_P(RunnerControlsTest, ACancelledWorkflowIsTerminalAndRefusesInputsSignalsAndControls) {
  auto wf = *Workflow::Builder("payment", 1).Await("pay", "payment", "", 1h).Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = "o"}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Cancel("wf", "no payment came").ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kCancelled), WorkflowState::kCancelled);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  Result<WorkflowInfo> info = runner_->Lookup("wf");
  EXPECT_TRUE(info->error.IsCancelled()) << info->error.ToString();
  EXPECT_NE(info->error.message().find("no payment came"), std::string::npos) << info->error.ToString();
  EXPECT_TRUE(runner_->Run("wf", "again").IsFailedPrecondition());
  Status signal = runner_->Signal("wf", "payment", 1);
  EXPECT_TRUE(signal.IsFailedPrecondition()) << signal.ToString();
  EXPECT_TRUE(runner_->Cancel("wf").IsFailedPrecondition());
  EXPECT_TRUE(runner_->Terminate("wf").IsFailedPrecondition());
  clock_->Advance(2h);  // its await's timeout would have come
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kCancelled);
  if (!has_store()) return;
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  EXPECT_EQ(Controls("wf"), (std::vector<std::string>{"cancel", "cancelled"}));
  EXPECT_TRUE(store_->Describe("wf")->inbox_closed);
  EXPECT_EQ(IdsInState(WorkflowState::kCancelled), std::vector<std::string>{"wf"});
  Result<WorkflowHistory> h = ReadHistory(*store_, "wf");
  EXPECT_EQ(h->state, WorkflowState::kCancelled);
  EXPECT_TRUE(h->halt_error.IsCancelled());
  // Never resumed to run again.
  RestartAt(kT0 + 3h, wf, "wf");
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kCancelled);
  runner_->Shutdown();
  runner_ = MakeRunner(clock_);
  ASSERT_TRUE(runner_->Register(wf).ok());
  Result<ResumeAllReport> report = runner_->ResumeAll();
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->resumed.empty());
}

TEST_P(RunnerControlsTest, ACancelAsksRunningStepsToStopAndRecordsWhatTheyReturn) {
  std::atomic<int> next{0};
  std::atomic<bool> started{false};
  auto wf = *Workflow::Builder("slow", 1)
                 .Step("slow",
                       [&started](const Value& v, std::stop_token stop) -> Result<Value> {
                         started = true;
                         for (int i = 0; i < 10000 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(1ms);
                         return v;
                       })
                 .Step("next", Counted(&next), "slow")
                 .Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = 1}).ok());
  for (int i = 0; i < 5000 && !started; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(runner_->Cancel("wf").ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kCancelled), WorkflowState::kCancelled);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["slow"], std::vector<Value>{1}) << "its late result is recorded";
  EXPECT_EQ(next.load(), 0) << "nothing new starts";
}

TEST_P(RunnerControlsTest, TerminateEndsACancelThatWaitsForAStep) {
  std::atomic<bool> release{false}, started{false};
  auto wf = *Workflow::Builder("stuck", 1)
                 .Step("stuck",
                       [&](const Value& v, std::stop_token) -> Result<Value> {  // ignores its stop token
                         started = true;
                         for (int i = 0; i < 10000 && !release; ++i) std::this_thread::sleep_for(1ms);
                         return v;
                       })
                 .Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = 1}).ok());
  for (int i = 0; i < 5000 && !started; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(runner_->Cancel("wf", "first").ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kCancelling), WorkflowState::kCancelling);
  EXPECT_TRUE(runner_->Cancel("wf").IsFailedPrecondition()) << "cancelling already";
  ASSERT_TRUE(runner_->Terminate("wf", "now").ok());
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kCancelling) << "a running step still runs";
  release = true;
  ASSERT_EQ(AwaitState("wf", WorkflowState::kCancelled), WorkflowState::kCancelled);
  Result<WorkflowInfo> info = runner_->Lookup("wf");
  EXPECT_NE(info->error.message().find("terminated: now"), std::string::npos) << info->error.ToString();
  if (!has_store()) return;
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  EXPECT_EQ(Controls("wf"), (std::vector<std::string>{"cancel", "terminate", "cancelled"}));
}

TEST_P(RunnerControlsTest, RetryRunsAHaltedWorkflowsFailedNodeAgainWithFreshAttempts) {
  std::atomic<int> attempts{0}, after{0};
  StepPolicy policy;
  policy.max_retries = 1;  // two attempts, then halt
  auto wf = *Workflow::Builder("flaky", 1)
                 .Step("flaky",
                       [&attempts](const Value& v, std::stop_token) -> Result<Value> {
                         if (++attempts <= 2) return Status::Unavailable("down");
                         return v;
                       })
                 .Step("after", Counted(&after), "flaky")
                 .Policy("flaky", policy)
                 .Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  ASSERT_EQ(runner_->Lookup("wf")->state, WorkflowState::kHalted);
  EXPECT_TRUE(runner_->Pause("wf").IsFailedPrecondition());
  if (has_store()) {
    // Resumed halted: the retry works on what the history says.
    RestartAt(kT0, wf, "wf");
    ASSERT_EQ(runner_->Lookup("wf")->state, WorkflowState::kHalted);
  }
  ASSERT_TRUE(runner_->Retry("wf").ok());
  for (int i = 0; i < 5000 && after.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kIdle);
  EXPECT_EQ(attempts.load(), 3);
  EXPECT_EQ(after.load(), 1);
  if (!has_store()) return;
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  EXPECT_EQ(Controls("wf"), (std::vector<std::string>{"retry"}));
  EXPECT_EQ(ReadHistory(*store_, "wf")->state, WorkflowState::kIdle);
}

TEST_P(RunnerControlsTest, AControlToAWorkflowNotLoadedHereLoadsItAndAPausedOneStaysPaused) {
  if (!has_store()) GTEST_SKIP() << "without a store there is nothing to load";
  std::atomic<int> after{0};
  auto wf = Reminder(&after);
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Stop("wf").ok());
  EXPECT_TRUE(runner_->Unpause("wf").IsFailedPrecondition()) << "checked against the state index";
  ASSERT_TRUE(runner_->Pause("wf").ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kPaused), WorkflowState::kPaused);
  RestartAt(kT0 + 1h, wf, "wf");
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kPaused);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(after.load(), 0) << "a paused workflow stays paused across a restart";
  ASSERT_TRUE(runner_->Unpause("wf").ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ(after.load(), 1);
}

// A snapshot stands for the events it covers, which are trimmed: it must
// hold what the waits and controls recorded (awaits, buffered signals, the
// inbox read, paused, cancelled with its reason).
TEST_P(RunnerControlsTest, ASnapshotKeepsAwaitsBufferedSignalsAndControlsAcrossATrim) {
  if (!has_store()) GTEST_SKIP() << "snapshots are the store's";
  std::atomic<int> charged{0};
  auto wf = *Workflow::Builder("snap", 1)
                 .Await("paid", "payment")
                 .Step(
                     "charge",
                     [&charged](const Value& v, std::stop_token) -> Result<Value> {
                       ++charged;
                       return v["signal"];
                     },
                     "paid")
                 .Build();
  WorkflowOptions options;
  options.snapshot_every = 1;
  options.trim_after_snapshot = true;
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, options, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(runner_->StartWorkflow("gone", wf, options, StartOptions{.input = 2}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Signal("wf", "refund", 7, "refund-key").ok());  // no await of it: buffered
  ASSERT_TRUE(runner_->Pause("wf").ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kPaused), WorkflowState::kPaused);
  ASSERT_TRUE(runner_->Cancel("gone", "no longer wanted").ok());
  ASSERT_EQ(AwaitState("gone", WorkflowState::kCancelled), WorkflowState::kCancelled);
  for (const char* id : {"wf", "gone"}) {
    ASSERT_TRUE(runner_->Checkpoint(id).ok());
    Result<WorkflowHistory> h = ReadHistory(*store_, id);
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_GT(h->snapshot_cursor, 0u) << id << ": the test needs its events trimmed";
  }

  RestartAt(kT0, wf, "wf");
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kPaused);
  EXPECT_TRUE(runner_->Signal("wf", "refund", 7, "refund-key").ok());  // the key survived: acknowledged
  ASSERT_TRUE(runner_->Signal("wf", "payment", 50).ok());
  ASSERT_TRUE(runner_->Unpause("wf").ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["charge"], std::vector<Value>{50});
  EXPECT_EQ(charged.load(), 1);
  Result<WorkflowHistory> h = ReadHistory(*store_, "wf");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->signals.size(), 1u) << "the refund stays buffered, once";
  EXPECT_EQ(h->signals[0].name, "refund");

  Result<WorkflowHistory> gone = ReadHistory(*store_, "gone");
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_EQ(gone->state, WorkflowState::kCancelled);
  EXPECT_NE(gone->halt_error.message().find("no longer wanted"), std::string::npos) << gone->halt_error.ToString();
}

INSTANTIATE_TEST_SUITE_P(Engines, RunnerControlsTest, ::testing::ValuesIn(kWaitEngines),
                         [](const ::testing::TestParamInfo<WaitEngine>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace runic
