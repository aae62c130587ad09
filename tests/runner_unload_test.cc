// Unloading and retention end to end (SEMANTICS.md 4, "Unloading" and
// "Retention"), with a ManualClock, on memory, disk, disk with sync and (in
// runner_waits_etcd_test) etcd: quiet workflows leave the runner's memory,
// the store's indexes bring them back when they have work, every call works
// on them, ResumeAll loads only what has work now, and finished workflows
// expire.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "waits_fixture.h"

namespace runic {
namespace {

using namespace std::chrono_literals;

class RunnerUnloadTest : public RunnerWaitsTest {
 protected:
  void SetUp() override {
    if (!GetParam().store) GTEST_SKIP() << "only a workflow in a store can be unloaded";
    RunnerWaitsTest::SetUp();
  }

  void Configure(RunnerOptions& o) override {
    o.unload_after = 0ms;  // as soon as it is quiet
    o.due_poll_interval = 100ms;
    o.retention = retention_;
    o.telemetry.workflow_start = [this](const RunnerTelemetry::Event& e) {
      std::lock_guard lock(loads_mu_);
      ++loads_[std::string(e.workflow_id)];
    };
    o.on_complete = [this](const std::string& id, const Status& outcome) {
      std::lock_guard lock(loads_mu_);
      completions_[id].push_back(outcome.code());
    };
  }

  // Polls (real time, bounded) until `id` is not loaded in the runner.
  bool AwaitUnloaded(const std::string& id) {
    for (int i = 0; i < 5000; ++i) {
      std::vector<std::string> loaded = runner_->ListWorkflows();
      if (std::find(loaded.begin(), loaded.end(), id) == loaded.end()) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }
  ::testing::AssertionResult AwaitNoneLoaded() {
    for (int i = 0; i < 20000 && !runner_->ListWorkflows().empty(); ++i) std::this_thread::sleep_for(1ms);
    const std::vector<std::string> loaded = runner_->ListWorkflows();
    if (loaded.empty()) return ::testing::AssertionSuccess();
    auto failure = ::testing::AssertionFailure() << loaded.size() << " still loaded, among them";
    for (std::size_t i = 0; i < loaded.size() && i < 5; ++i) {
      failure << " " << loaded[i] << " (" << WorkflowStateName(runner_->Lookup(loaded[i])->state) << ")";
    }
    return failure;
  }

  // Advances the clock by `by` in at most 30 steps of at least a poll
  // interval, letting the poll each step makes run.
  void AdvanceByPolls(std::chrono::milliseconds by) {
    const std::chrono::milliseconds step = std::max<std::chrono::milliseconds>(100ms, by / 30);
    for (std::chrono::milliseconds done = 0ms; done < by; done += step) {
      clock_->Advance(std::min(step, by - done));
      std::this_thread::sleep_for(5ms);
    }
  }

  int Loads(const std::string& id) {
    std::lock_guard lock(loads_mu_);
    return loads_[id];
  }
  std::map<std::string, int> AllLoads() {
    std::lock_guard lock(loads_mu_);
    return loads_;
  }
  void ForgetLoads() {
    std::lock_guard lock(loads_mu_);
    loads_.clear();
  }

  std::chrono::milliseconds retention_{0};
  std::mutex loads_mu_;
  std::map<std::string, int> loads_;                              // workflow_start telemetry: starts and loads
  std::map<std::string, std::vector<Status::Code>> completions_;  // on_complete
};

std::shared_ptr<const Workflow> Reminder(std::atomic<int>* after) {
  return *Workflow::Builder("reminder", 1).Delay("wait", 1h).Step("after", Counted(after), "wait").Build();
}

std::shared_ptr<const Workflow> Payment(std::atomic<int>* charged) {
  return *Workflow::Builder("payment", 1)
              .Await("paid", "payment")
              .Step(
                  "charge",
                  [charged](const Value& v, std::stop_token) -> Result<Value> {
                    ++*charged;
                    return v["signal"];
                  },
                  "paid")
              .Build();
}

TEST_P(RunnerUnloadTest, AWaitingWorkflowIsUnloadedAndTheDueTimeIndexBringsItBackToFireOnce) {
  std::atomic<int> after{0};
  ASSERT_TRUE(runner_->StartWorkflow("wf", Reminder(&after), std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(AwaitUnloaded("wf")) << "a workflow waiting an hour stays loaded";
  Result<WorkflowInfo> info = runner_->Lookup("wf");  // from the store
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->state, WorkflowState::kWaiting);
  EXPECT_EQ(info->running, 1u);

  AdvanceByPolls(59min);
  EXPECT_EQ(after.load(), 0) << "fired early";
  EXPECT_EQ(Loads("wf"), 1) << "loaded again before its time came near";
  AdvanceByPolls(2min);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 10s).ok());
  EXPECT_EQ(after.load(), 1);
  EXPECT_EQ((*runner_->GetResults("wf"))["after"], std::vector<Value>{2});
  ASSERT_EQ(Events("wf", HistoryEventKind::kDone).size(), 2u) << "the timer fired once, the step ran once";
}

TEST_P(RunnerUnloadTest, EveryCallWorksOnAnUnloadedWorkflow) {
  std::atomic<int> charged{0};
  auto wf = Payment(&charged);
  ASSERT_TRUE(runner_->StartWorkflow("a", wf, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(runner_->StartWorkflow("b", wf, std::nullopt, StartOptions{.input = 2}).ok());
  ASSERT_TRUE(AwaitNoneLoaded());

  // Signal: loaded by the inbox, recorded, run on; then unloaded again.
  ASSERT_TRUE(runner_->Signal("a", "payment", 10, "pay-a").ok());
  ASSERT_TRUE(runner_->AwaitIdle("a", 10s).ok());
  EXPECT_EQ(charged.load(), 1);
  EXPECT_EQ((*runner_->GetResults("a"))["charge"], std::vector<Value>{10});
  ASSERT_TRUE(AwaitUnloaded("a"));
  EXPECT_TRUE(runner_->Signal("a", "payment", 10, "pay-a").ok()) << "a repeated key is acknowledged";
  EXPECT_EQ(runner_->Lookup("a")->state, WorkflowState::kIdle);
  EXPECT_TRUE(runner_->Checkpoint("a").ok());
  EXPECT_TRUE(runner_->Stop("a").ok());
  EXPECT_TRUE(runner_->Lookup("nobody").status().IsNotFound());
  EXPECT_TRUE(runner_->GetResults("nobody").status().IsNotFound());
  EXPECT_TRUE(runner_->Checkpoint("nobody").IsNotFound());
  EXPECT_TRUE(runner_->AwaitIdle("nobody", 10ms).IsNotFound());
  EXPECT_TRUE(runner_->Run("nobody", 1).IsNotFound());

  // Run: loads it and records the input (a second await waits then).
  ASSERT_TRUE(AwaitUnloaded("a"));
  ASSERT_TRUE(runner_->Run("a", 3, "input-3").ok());
  EXPECT_TRUE(runner_->Run("a", 3, "input-3").ok());
  ASSERT_TRUE(AwaitUnloaded("a"));
  EXPECT_EQ(runner_->Lookup("a")->state, WorkflowState::kWaiting);

  // Controls: checked against the store's state, applied by the loaded
  // workflow, in order.
  ASSERT_TRUE(runner_->Pause("b").ok());
  for (int i = 0; i < 5000 && runner_->Lookup("b")->state != WorkflowState::kPaused; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(runner_->Lookup("b")->state, WorkflowState::kPaused);
  EXPECT_TRUE(runner_->Pause("b").IsFailedPrecondition()) << "paused already";
  ASSERT_TRUE(AwaitUnloaded("b")) << "a paused workflow is unloaded too";
  ASSERT_TRUE(runner_->Signal("b", "payment", 20).ok());
  ASSERT_TRUE(runner_->Unpause("b").ok());
  ASSERT_TRUE(runner_->AwaitIdle("b", 10s).ok());
  EXPECT_EQ((*runner_->GetResults("b"))["charge"], std::vector<Value>{20});
  ASSERT_TRUE(runner_->Cancel("a", "unloaded, then cancelled").ok());
  ASSERT_TRUE(runner_->AwaitIdle("a", 10s).ok());
  EXPECT_EQ(runner_->Lookup("a")->state, WorkflowState::kCancelled);
  EXPECT_TRUE(runner_->Lookup("a")->error.IsCancelled());
  ASSERT_TRUE(AwaitUnloaded("a"));
  EXPECT_TRUE(runner_->Signal("a", "payment", 1).IsFailedPrecondition());
  EXPECT_TRUE(runner_->Run("a", 1).IsFailedPrecondition());
  EXPECT_EQ(charged.load(), 2);
}

TEST_P(RunnerUnloadTest, AHaltedWorkflowIsRetriedWhileUnloaded) {
  std::atomic<int> calls{0};
  auto wf = *Workflow::Builder("flaky", 1)
                 .Step("call",
                       [&calls](const Value& v, std::stop_token) -> Result<Value> {
                         if (++calls == 1) return Status::Unavailable("down");
                         return v;
                       })
                 .Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 10s).ok());
  ASSERT_EQ(runner_->Lookup("wf")->state, WorkflowState::kHalted);
  ASSERT_TRUE(AwaitUnloaded("wf"));
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kHalted);
  EXPECT_TRUE(runner_->Lookup("wf")->error.IsUnavailable()) << runner_->Lookup("wf")->error.ToString();
  ASSERT_TRUE(runner_->Retry("wf").ok());
  for (int i = 0; i < 5000 && runner_->Lookup("wf")->state != WorkflowState::kIdle; ++i) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kIdle);
  EXPECT_EQ(calls.load(), 2);
}

TEST_P(RunnerUnloadTest, ResumeAllLoadsOnlyWhatHasWorkNow) {
  std::atomic<int> after{0}, charged{0};
  std::atomic<bool> release{false};
  auto reminder = Reminder(&after);
  auto payment = Payment(&charged);
  auto slow = *Workflow::Builder("slow", 1)
                   .Step("block",
                         [&release](const Value& v, std::stop_token) -> Result<Value> {
                           for (int i = 0; i < 10000 && !release.load(); ++i) std::this_thread::sleep_for(1ms);
                           return v;
                         })
                   .Build();
  ASSERT_TRUE(runner_->StartWorkflow("far", reminder, std::nullopt, StartOptions{.input = 1}).ok());
  clock_->Advance(1h - 100ms);
  ASSERT_TRUE(runner_->StartWorkflow("later", reminder, std::nullopt, StartOptions{.input = 2}).ok());
  ASSERT_TRUE(runner_->StartWorkflow("signalled", payment, std::nullopt, StartOptions{.input = 3}).ok());
  ASSERT_TRUE(runner_->StartWorkflow("idle", payment).ok());
  ASSERT_TRUE(runner_->StartWorkflow("running", slow, std::nullopt, StartOptions{.input = 4}).ok());
  for (int i = 0; i < 5000 && runner_->Lookup("running")->running == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(runner_->Stop("running").ok());  // its step runs again on resume
  release = true;
  runner_->Shutdown();
  runner_.reset();
  ASSERT_TRUE(SendSignal(*store_, "signalled", "payment", 30).ok());  // while no runner runs

  ForgetLoads();
  clock_ = std::make_shared<ManualClock>(kT0 + 1h - 100ms);
  runner_ = MakeRunner(clock_);
  for (const auto& wf : {reminder, payment, slow}) ASSERT_TRUE(runner_->Register(wf).ok());
  Result<ResumeAllReport> report = runner_->ResumeAll();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->failed.empty());
  // "far" is due within two polls; "later" an hour on; "idle" has nothing.
  EXPECT_EQ(report->resumed, (std::vector<std::string>{"far", "running", "signalled"}));
  std::map<std::string, int> loads = AllLoads();
  EXPECT_EQ(loads.count("later"), 0u) << "a workflow waiting an hour was read";
  EXPECT_EQ(loads.count("idle"), 0u) << "a finished workflow was read";
  ASSERT_TRUE(runner_->AwaitIdle("running", 10s).ok());
  ASSERT_TRUE(runner_->AwaitIdle("signalled", 10s).ok());
  EXPECT_EQ(charged.load(), 1);
  AdvanceByPolls(1s);
  ASSERT_TRUE(runner_->AwaitIdle("far", 10s).ok());
  EXPECT_EQ(after.load(), 1);
  AdvanceByPolls(1h);
  for (int i = 0; i < 5000 && after.load() < 2; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(after.load(), 2) << "the poll loads what comes due";
}

// The pending key of a recorded signal is cleared in the write that records
// it: a buffered signal does not wake an unloaded workflow again and again.
TEST_P(RunnerUnloadTest, UnloadedWorkflowsWithABufferedSignalAreEachLoadedOnce) {
#ifdef __SANITIZE_THREAD__
  // TSan's deadlock detector aborts a thread holding more than 64 locks: the
  // disk engine's AppendMany holds one per workflow of a group commit.
  const int n = 50;
#else
  const int n = GetParam().sync ? 500 : (std::string(GetParam().name) == "etcd" ? 1000 : 10000);
#endif
  std::atomic<int> charged{0};
  auto wf = Payment(&charged);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(runner_->StartWorkflow("w" + std::to_string(i), wf, std::nullopt, StartOptions{.input = i}).ok());
  }
  ASSERT_TRUE(AwaitNoneLoaded()) << runner_->ListWorkflows().size() << " still loaded";
  ForgetLoads();
  for (int i = 0; i < n; ++i) ASSERT_TRUE(runner_->Signal("w" + std::to_string(i), "refund", i).ok());  // buffered
  for (int i = 0; i < 60000; ++i) {
    Result<ListPage> pending = store_->ListInboxes();
    ASSERT_TRUE(pending.ok()) << pending.status().ToString();
    if (pending->ids.empty() && runner_->ListWorkflows().empty()) break;
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(AwaitNoneLoaded());
  AdvanceByPolls(1s);  // ten polls
  std::this_thread::sleep_for(50ms);
  std::map<std::string, int> loads = AllLoads();
  ASSERT_EQ(loads.size(), static_cast<std::size_t>(n));
  for (const auto& [id, count] : loads) {
    ASSERT_EQ(count, 1) << id << " was loaded " << count << " times; due entries: " << Due().size() << "; "
                        << ReadHistory(*store_, id)->due_us << " " << store_->Peek(id)->due << " "
                        << store_->Peek(id)->state_tag;
  }
  EXPECT_EQ(charged.load(), 0);
  Result<WorkflowHistory> h = ReadHistory(*store_, "w7");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->signals.size(), 1u);
  EXPECT_EQ(h->signals[0].name, "refund");
}

// Two runners of one store: B keeps a finished workflow loaded (it gave its
// ownership up), A loads it for an input and writes; B's next input finds
// its worker out of date and goes to a new load instead of writing on a
// stale history (which halted it, holding the workflow for good).
TEST_P(RunnerUnloadTest, ARunnerThatKeptAFinishedWorkflowLoadedSeesWhatAnotherWroteSince) {
  std::atomic<int> calls{0};
  auto quick = *Workflow::Builder("quick", 1).Step("one", Counted(&calls)).Build();
  RunnerOptions keep;
  keep.name = "waits";
  keep.store = store_.get();
  keep.threads = 2;
  keep.clock = clock_;
  keep.unload_after = std::chrono::milliseconds::max();
  std::unique_ptr<Runner> b = std::move(*Runner::Create(std::move(keep)));
  ASSERT_TRUE(b->Register(quick).ok());
  ASSERT_TRUE(runner_->Register(quick).ok());
  ASSERT_TRUE(b->StartWorkflow("s", quick, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(b->AwaitIdle("s", 10s).ok());
  ASSERT_TRUE(runner_->Run("s", 10).ok());  // A loads it: B had given it up
  ASSERT_TRUE(runner_->AwaitIdle("s", 10s).ok());
  ASSERT_TRUE(AwaitUnloaded("s"));
  Status s = b->Run("s", 20);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(b->AwaitIdle("s", 10s).ok());
  Result<WorkflowInfo> info = b->Lookup("s");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, WorkflowState::kIdle) << info->error.ToString();
  Result<WorkflowHistory> h = ReadHistory(*store_, "s");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->results["one"], (std::vector<Value>{2, 11, 21}));
  EXPECT_EQ(calls.load(), 3);
  b->Shutdown();
}

// A cancel that reaches an unloaded workflow ends it as it ends a loaded
// one: on_complete once, with kCancelled.
TEST_P(RunnerUnloadTest, ACancelOfAnUnloadedWorkflowIsReportedOnce) {
  std::atomic<int> charged{0};
  ASSERT_TRUE(runner_->StartWorkflow("w", Payment(&charged), std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(AwaitNoneLoaded());
  ASSERT_TRUE(runner_->Cancel("w", "no payment").ok());
  for (int i = 0; i < 5000; ++i) {
    {
      std::lock_guard lock(loads_mu_);
      if (!completions_["w"].empty()) break;
    }
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(20ms);
  std::lock_guard lock(loads_mu_);
  EXPECT_EQ(completions_["w"], std::vector<Status::Code>{Status::Code::kCancelled});
  EXPECT_EQ(charged.load(), 0);
}

class RunnerRetentionTest : public RunnerUnloadTest {
 protected:
  void SetUp() override {
    retention_ = 1h;
    RunnerUnloadTest::SetUp();
  }
  bool Exists(const std::string& id) { return *store_->Exists(id); }
};

TEST_P(RunnerRetentionTest, FinishedWorkflowsAreDeletedWithTheirIndexesAfterThePeriod) {
  std::atomic<int> after{0}, charged{0};
  auto payment = Payment(&charged);
  auto quick = *Workflow::Builder("quick", 1).Step("one", Counted(&after)).Build();
  auto failing =
      *Workflow::Builder("failing", 1)
           .Step("fail", [](const Value&, std::stop_token) -> Result<Value> { return Status::IOError("no"); })
           .Build();
  ASSERT_TRUE(runner_->StartWorkflow("done", quick, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(runner_->StartWorkflow("again", quick, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(runner_->StartWorkflow("cancelled", payment, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(runner_->StartWorkflow("waiting", payment, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(runner_->StartWorkflow("halted", failing, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(runner_->Cancel("cancelled", "gone").ok());
  for (const char* id : {"done", "again", "cancelled", "halted"}) ASSERT_TRUE(runner_->AwaitIdle(id, 10s).ok()) << id;
  ASSERT_TRUE(AwaitNoneLoaded());

  AdvanceByPolls(30min);
  Status again = runner_->Run("again", 2);  // runs again: its period starts anew when it finishes
  ASSERT_TRUE(again.ok()) << again.ToString();
  ASSERT_TRUE(runner_->AwaitIdle("again", 10s).ok());
  AdvanceByPolls(29min);
  for (const char* id : {"done", "again", "cancelled", "waiting", "halted"}) EXPECT_TRUE(Exists(id)) << id;
  AdvanceByPolls(2min);
  for (int i = 0; i < 5000 && (Exists("done") || Exists("cancelled")); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(Exists("done"));
  EXPECT_FALSE(Exists("cancelled"));
  for (const char* id : {"again", "waiting", "halted"}) EXPECT_TRUE(Exists(id)) << id << " deleted early";
  EXPECT_TRUE(runner_->Signal("done", "payment", 1).IsNotFound());
  EXPECT_TRUE(runner_->Lookup("done").status().IsNotFound());
  EXPECT_TRUE(runner_->Run("done", 1).IsNotFound());
  AdvanceByPolls(31min);
  for (int i = 0; i < 5000 && Exists("again"); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(Exists("again"));
  // Their index entries and inboxes went with them.
  EXPECT_EQ(IdsInState(WorkflowState::kIdle), std::vector<std::string>{});
  EXPECT_EQ(IdsInState(WorkflowState::kCancelled), std::vector<std::string>{});
  EXPECT_EQ(IdsInState(WorkflowState::kWaiting), std::vector<std::string>{"waiting"});
  EXPECT_EQ(IdsInState(WorkflowState::kHalted), std::vector<std::string>{"halted"});
  for (const DueEntry& e : Due()) ADD_FAILURE() << "a due entry of '" << e.id << "' is left";
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->workflows_with_events, 2u);
}

TEST_P(RunnerRetentionTest, AnInboxEntryKeepsAnExpiredWorkflowUntilItIsRecorded) {
  std::atomic<int> charged{0};
  auto payment = Payment(&charged);
  auto quick = *Workflow::Builder("quick", 1).Step("one", Counted(&charged)).Build();
  ASSERT_TRUE(runner_->StartWorkflow("done", quick, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_TRUE(runner_->AwaitIdle("done", 10s).ok());
  ASSERT_TRUE(AwaitNoneLoaded());
  runner_->Shutdown();
  runner_.reset();
  // Sent while no runner runs: the expired workflow keeps it (recorded by
  // the next load), then expires an hour after that write.
  ASSERT_TRUE(SendSignal(*store_, "done", "late", 1).ok());
  clock_ = std::make_shared<ManualClock>(kT0 + 2h);
  runner_ = MakeRunner(clock_);
  ASSERT_TRUE(runner_->Register(quick).ok());
  ASSERT_TRUE(runner_->Register(payment).ok());
  ASSERT_TRUE(runner_->ResumeAll().ok());
  for (int i = 0; i < 5000; ++i) {
    if (store_->ListInboxes()->ids.empty()) break;
    std::this_thread::sleep_for(1ms);
  }
  AdvanceByPolls(1s);
  ASSERT_TRUE(Exists("done"));
  Result<WorkflowHistory> h = ReadHistory(*store_, "done");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->signals.size(), 1u) << "the late signal was recorded";
  AdvanceByPolls(61min);
  for (int i = 0; i < 5000 && Exists("done"); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_FALSE(Exists("done"));
}

INSTANTIATE_TEST_SUITE_P(Engines, RunnerUnloadTest, ::testing::ValuesIn(kWaitEngines),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Engines, RunnerRetentionTest, ::testing::ValuesIn(kWaitEngines),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace runic
