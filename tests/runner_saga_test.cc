// Sagas end to end (SEMANTICS.md 4, "Controls"; Builder::Compensate), on no
// store, memory, disk, disk with sync and (in runner_waits_etcd_test) etcd:
// a cancel runs the compensations of completed nodes in reverse completion
// order, each once; a terminate runs none; a halt with kCompensate runs them
// and ends halted (no retry); a failing compensation halts naming both
// errors and Retry goes on; a restart during the compensations goes on
// where they were. And maps with sagas: the review's cases of a map whose
// last branches finish during a stop or by signals recorded at a load.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "waits_fixture.h"

namespace runic {
namespace {

using namespace std::chrono_literals;

// What the compensations did, in order ("undo <node> <input>").
class Undone {
 public:
  CompensateFn Of(std::string node) {
    return [this, node](const Value& input, const Value& output, const StepContext&) -> Status {
      std::lock_guard lock(mu_);
      log_.push_back("undo " + node + " " + input.dump() + " -> " + output.dump());
      return Status::OK();
    };
  }
  std::vector<std::string> Log() {
    std::lock_guard lock(mu_);
    return log_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> log_;
};

StepFn AddOne() {
  return [](const Value& v, std::stop_token) -> Result<Value> { return Value(v.get<int>() + 1); };
}

// book (x+1) -> pay (x+1) -> approval (await "approve") -> ship
std::shared_ptr<const Workflow> Trip(Undone* undone) {
  return *Workflow::Builder("trip", 1)
              .Step("book", AddOne())
              .Step("pay", AddOne(), "book")
              .Await("approval", "approve", "pay")
              .Step(
                  "ship", [](const Value& v, std::stop_token) -> Result<Value> { return v["input"]; }, "approval")
              .Compensate("book", undone->Of("book"))
              .Compensate("pay", undone->Of("pay"))
              .Build();
}

class RunnerSagaTest : public RunnerWaitsTest {
 protected:
  void Start(const std::string& id, const std::shared_ptr<const Workflow>& wf, Value input) {
    ASSERT_TRUE(runner_->Register(wf).ok());
    StartOptions start;
    start.input = std::move(input);
    Status s = runner_->StartWorkflow(id, wf, std::nullopt, start);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // (After the runner's state: what it wrote is in the store once idle.)
  int CompensationEvents(const std::string& id, HistoryEventKind kind) {
    EXPECT_TRUE(runner_->AwaitIdle(id, 30s).ok());
    int n = 0;
    for (const HistoryEvent& e : Events(id, kind)) n += e.compensation;
    return n;
  }
};

TEST_P(RunnerSagaTest, ACancelCompensatesTheCompletedNodesInReverseOrderOnce) {
  Undone undone;
  Start("t", Trip(&undone), 1);
  ASSERT_EQ(AwaitState("t", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Cancel("t", "customer changed plans").ok());
  ASSERT_EQ(AwaitState("t", WorkflowState::kCancelled), WorkflowState::kCancelled);
  EXPECT_EQ(undone.Log(), (std::vector<std::string>{"undo pay 2 -> 3", "undo book 1 -> 2"}));
  Result<WorkflowInfo> info = runner_->Lookup("t");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->error.code(), Status::Code::kCancelled);
  EXPECT_NE(info->error.message().find("customer changed plans"), std::string::npos);
  if (!has_store()) return;
  EXPECT_EQ(CompensationEvents("t", HistoryEventKind::kDispatch), 2);
  EXPECT_EQ(CompensationEvents("t", HistoryEventKind::kDone), 2);
  ASSERT_TRUE(runner_->AwaitIdle("t", 30s).ok());
  Result<WorkflowHistory> h = ReadHistory(*store_, "t");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->state, WorkflowState::kCancelled);
  // The structure records which nodes have a compensation.
  ASSERT_TRUE(h->definition.nodes.has_value());
  EXPECT_TRUE((*h->definition.nodes)[0].compensation.has_value());
  EXPECT_FALSE((*h->definition.nodes)[2].compensation.has_value());
}

TEST_P(RunnerSagaTest, ATerminateRunsNoCompensation) {
  Undone undone;
  Start("t", Trip(&undone), 1);
  ASSERT_EQ(AwaitState("t", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Terminate("t", "stop now").ok());
  ASSERT_EQ(AwaitState("t", WorkflowState::kCancelled), WorkflowState::kCancelled);
  EXPECT_TRUE(undone.Log().empty());
}

TEST_P(RunnerSagaTest, AHaltThatAsksForItCompensatesThenStaysHaltedWithoutRetry) {
  Undone undone;
  auto wf =
      *Workflow::Builder("publish", 1)
           .Step("fetch", AddOne())
           .Step("store", AddOne(), "fetch")
           .Step(
               "publish",
               [](const Value&, std::stop_token) -> Result<Value> { return Status::Unavailable("cdn down"); }, "store")
           .Policy("publish", StepPolicy{.max_retries = 1, .on_failure = OnFailure::kCompensate})
           .Compensate("fetch", undone.Of("fetch"))
           .Compensate("store", undone.Of("store"))
           .Build();
  Start("p", wf, 10);
  ASSERT_EQ(AwaitState("p", WorkflowState::kHalted), WorkflowState::kHalted);
  EXPECT_EQ(undone.Log(), (std::vector<std::string>{"undo store 11 -> 12", "undo fetch 10 -> 11"}));
  Result<WorkflowInfo> info = runner_->Lookup("p");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->error.code(), Status::Code::kUnavailable);
  EXPECT_NE(info->error.message().find("cdn down"), std::string::npos) << info->error.ToString();
  Status retry = runner_->Retry("p");
  EXPECT_TRUE(retry.IsFailedPrecondition()) << retry.ToString();
  if (has_store()) {
    // Also when it is not loaded (the state index says halted only).
    ASSERT_TRUE(runner_->Stop("p").ok());
    retry = runner_->Retry("p");
    EXPECT_TRUE(retry.IsFailedPrecondition()) << retry.ToString();
  }
  // A cancel ends it, compensating nothing again.
  ASSERT_TRUE(runner_->Cancel("p", "give up").ok());
  ASSERT_EQ(AwaitState("p", WorkflowState::kCancelled), WorkflowState::kCancelled);
  EXPECT_EQ(undone.Log().size(), 2u);
  if (!has_store()) return;
  ASSERT_TRUE(runner_->AwaitIdle("p", 30s).ok());
  Result<WorkflowHistory> h = ReadHistory(*store_, "p");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->state, WorkflowState::kCancelled);
}

TEST_P(RunnerSagaTest, AFailingCompensationHaltsNamingBothErrorsAndRetryGoesOn) {
  std::atomic<int> refund_failures{2};
  Undone undone;
  std::atomic<int> refunds{0};
  auto wf = *Workflow::Builder("order", 1)
                 .Step("reserve", AddOne())
                 .Step("charge", AddOne(), "reserve")
                 .Await("shipped", "ship", "charge")
                 .Compensate("reserve", undone.Of("reserve"))
                 .Compensate(
                     "charge",
                     [&](const Value&, const Value&, const StepContext&) -> Status {
                       if (refund_failures.fetch_sub(1) > 0) return Status::Unavailable("bank offline");
                       ++refunds;
                       return Status::OK();
                     },
                     StepPolicy{.max_retries = 1})
                 .Build();
  Start("o", wf, 0);
  ASSERT_EQ(AwaitState("o", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Cancel("o", "fraud").ok());
  ASSERT_EQ(AwaitState("o", WorkflowState::kHalted), WorkflowState::kHalted);
  Result<WorkflowInfo> info = runner_->Lookup("o");
  ASSERT_TRUE(info.ok());
  const std::string message = info->error.message();
  EXPECT_NE(message.find("compensation of"), std::string::npos) << message;
  EXPECT_NE(message.find("bank offline"), std::string::npos) << message;
  EXPECT_NE(message.find("fraud"), std::string::npos) << message;
  EXPECT_TRUE(undone.Log().empty());  // the later compensation did not start
  if (has_store()) {
    ASSERT_TRUE(runner_->AwaitIdle("o", 30s).ok());
    Result<WorkflowHistory> h = ReadHistory(*store_, "o");
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->state, WorkflowState::kHalted);
  }
  ASSERT_TRUE(runner_->Retry("o").ok());
  ASSERT_EQ(AwaitState("o", WorkflowState::kCancelled), WorkflowState::kCancelled);
  EXPECT_EQ(refunds.load(), 1);
  EXPECT_EQ(undone.Log(), (std::vector<std::string>{"undo reserve 0 -> 1"}));
}

TEST_P(RunnerSagaTest, AStepThatFinishesAfterTheCancelIsCompensatedToo) {
  Undone undone;
  std::atomic<bool> release{false};
  std::atomic<bool> running{false};
  auto wf = *Workflow::Builder("late", 1)
                 .Step("a", AddOne())
                 .Await("wait", "go", "a")
                 .Step(
                     "slow",
                     [&](const Value& v, std::stop_token) -> Result<Value> {
                       running = true;
                       while (!release) std::this_thread::sleep_for(1ms);  // ignores the stop
                       return Value(v.get<int>() * 10);
                     },
                     "a")
                 .Compensate("a", undone.Of("a"))
                 .Compensate("slow", undone.Of("slow"))
                 .Build();
  Start("l", wf, 1);
  for (int i = 0; i < 5000 && !running; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(running.load());
  ASSERT_TRUE(runner_->Cancel("l", "").ok());
  ASSERT_EQ(AwaitState("l", WorkflowState::kCancelling), WorkflowState::kCancelling);
  release = true;  // its late result is recorded, then compensated first
  ASSERT_EQ(AwaitState("l", WorkflowState::kCancelled), WorkflowState::kCancelled);
  EXPECT_EQ(undone.Log(), (std::vector<std::string>{"undo slow 2 -> 20", "undo a 1 -> 2"}));
}

TEST_P(RunnerSagaTest, ATerminateDuringACompensationEndsCancelled) {
  std::atomic<bool> running{false};
  auto wf = *Workflow::Builder("stuck", 1)
                 .Step("a", AddOne())
                 .Await("wait", "go", "a")
                 .Compensate("a",
                             [&](const Value&, const Value&, const StepContext& ctx) -> Status {
                               running = true;
                               while (!ctx.stop.stop_requested()) std::this_thread::sleep_for(1ms);
                               return Status::Cancelled("asked to stop");
                             })
                 .Build();
  Start("s", wf, 1);
  ASSERT_EQ(AwaitState("s", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Cancel("s", "").ok());
  for (int i = 0; i < 5000 && !running; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(running.load());
  ASSERT_TRUE(runner_->Terminate("s", "enough").ok());
  ASSERT_EQ(AwaitState("s", WorkflowState::kCancelled), WorkflowState::kCancelled);
  if (!has_store()) return;
  ASSERT_TRUE(runner_->AwaitIdle("s", 30s).ok());
  Result<WorkflowHistory> h = ReadHistory(*store_, "s");
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->state, WorkflowState::kCancelled);
}

TEST_P(RunnerSagaTest, ARestartDuringTheCompensationsGoesOnWhereTheyWere) {
  if (!has_store()) GTEST_SKIP() << "a restart needs a store";
  Undone undone;
  std::atomic<bool> hold{true};
  std::atomic<int> started{0};
  auto make = [&] {
    return *Workflow::Builder("trip", 1)
                .Step("book", AddOne())
                .Step("pay", AddOne(), "book")
                .Await("approval", "approve", "pay")
                .Compensate("book", undone.Of("book"))
                .Compensate("pay",
                            [&](const Value& in, const Value& out, const StepContext& ctx) -> Status {
                              ++started;
                              while (hold && !ctx.stop.stop_requested()) std::this_thread::sleep_for(1ms);
                              if (ctx.stop.stop_requested()) return Status::Cancelled("stopped");
                              return undone.Of("pay")(in, out, ctx);
                            })
                .Build();
  };
  auto wf = make();
  Start("t", wf, 1);
  ASSERT_EQ(AwaitState("t", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Cancel("t", "x").ok());
  for (int i = 0; i < 5000 && started == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(started.load(), 1);
  ASSERT_TRUE(runner_->Stop("t").ok());  // the compensation is cut: its result dropped
  hold = false;
  EXPECT_EQ(Events("t", HistoryEventKind::kDone).size(), 2u);  // book and pay, no compensation
  RestartAt(kT0, wf, "t");
  ASSERT_EQ(AwaitState("t", WorkflowState::kCancelled), WorkflowState::kCancelled);
  EXPECT_EQ(undone.Log(), (std::vector<std::string>{"undo pay 2 -> 3", "undo book 1 -> 2"}));
  EXPECT_EQ(CompensationEvents("t", HistoryEventKind::kDone), 2);
}

TEST_P(RunnerSagaTest, TheElementsOfAMapAreCompensatedLatestFirst) {
  Undone undone;
  std::atomic<int> done{0};
  auto wf =
      *Workflow::Builder("chunks", 1)
           .Map("each")
           .Step(
               "index",
               [&](const Value& v, std::stop_token) -> Result<Value> {
                 ++done;
                 return v;
               },
               "each")
           .Reduce("all", "each", "index", 0,
                   [](Value acc, const Value& v) -> Result<Value> { return Value(acc.get<int>() + v.get<int>()); })
           .Await("approval", "approve", "all")
           .Compensate("index", undone.Of("index"))
           .Build();
  WorkflowOptions one_at_a_time;
  one_at_a_time.max_concurrency = 1;  // completion order = element order
  ASSERT_TRUE(runner_->Register(wf).ok());
  StartOptions start;
  start.input = Value::array({1, 2, 3});
  ASSERT_TRUE(runner_->StartWorkflow("c", wf, one_at_a_time, start).ok());
  ASSERT_EQ(AwaitState("c", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Cancel("c", "").ok());
  ASSERT_EQ(AwaitState("c", WorkflowState::kCancelled), WorkflowState::kCancelled);
  EXPECT_EQ(undone.Log(), (std::vector<std::string>{"undo index 3 -> 3", "undo index 2 -> 2", "undo index 1 -> 1"}));
}

TEST_P(RunnerSagaTest, AMapWhoseLastBranchFinishesDuringAStopReducesAfterTheResume) {
  if (!has_store()) GTEST_SKIP() << "a restart needs a store";
  std::atomic<bool> hold{true};
  auto wf =
      *Workflow::Builder("late", 1)
           .Map("each")
           .Step(
               "slow",
               [&](const Value& v, std::stop_token) -> Result<Value> {
                 while (hold) std::this_thread::sleep_for(1ms);
                 return v;
               },
               "each")
           .Reduce("sum", "each", "slow", 0,
                   [](Value acc, const Value& v) -> Result<Value> { return Value(acc.get<int>() + v.get<int>()); })
           .Build();
  Start("l", wf, Value::array({4, 5}));
  // Shutdown drains: the running elements finish and are recorded.
  std::thread release([&] {
    std::this_thread::sleep_for(50ms);
    hold = false;
  });
  runner_->Shutdown();
  release.join();
  // The store says it has work: a new process's ResumeAll loads it.
  runner_ = MakeRunner(std::make_shared<ManualClock>(kT0));
  ASSERT_TRUE(runner_->Register(wf).ok());
  Result<ResumeAllReport> report = runner_->ResumeAll();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->resumed, std::vector<std::string>{"l"});
  ASSERT_TRUE(runner_->AwaitIdle("l", 30s).ok());
  EXPECT_EQ((*runner_->GetResults("l"))["sum"], Value::array({9}));
}

TEST_P(RunnerSagaTest, SignalsRecordedAtALoadThatFinishAMapStillReduce) {
  if (!has_store()) GTEST_SKIP() << "only a stored workflow is unloaded";
  auto wf = *Workflow::Builder("votes", 1)
                 .Map("each")
                 .Await("vote", "vote", "each")
                 .Reduce("tally", "each", "vote", 0,
                         [](Value acc, const Value& v) -> Result<Value> {
                           return Value(acc.get<int>() + v["signal"].get<int>());
                         })
                 .Build();
  Start("v", wf, Value::array({"a", "b"}));
  ASSERT_EQ(AwaitState("v", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Stop("v").ok());
  // Both signals wait in the inbox; the load records them and the awaits
  // take them at once.
  ASSERT_TRUE(SendSignal(*store_, "v", "vote", Value(1)).ok());
  ASSERT_TRUE(SendSignal(*store_, "v", "vote", Value(2)).ok());
  RestartAt(kT0, wf, "v");
  ASSERT_TRUE(runner_->AwaitIdle("v", 30s).ok());
  Result<WorkflowInfo> info = runner_->Lookup("v");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, WorkflowState::kIdle) << info->error.ToString();
  EXPECT_EQ((*runner_->GetResults("v"))["tally"], Value::array({3}));
}

INSTANTIATE_TEST_SUITE_P(Engines, RunnerSagaTest, ::testing::ValuesIn(kWaitEngines),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SagaBuild, ACompensationOfAJoinOrOfAnUnknownNodeIsRefused) {
  auto step = [](const Value& v, std::stop_token) -> Result<Value> { return v; };
  auto undo = [](const Value&, const Value&, const StepContext&) { return Status::OK(); };
  auto join = [](const std::vector<Value>& v, std::stop_token) -> Result<Value> { return v[0]; };
  Result<std::shared_ptr<const Workflow>> wf = Workflow::Builder("s", 1)
                                                   .Step("a", step)
                                                   .Step("b", step)
                                                   .Join("j", {"a", "b"}, join)
                                                   .Compensate("j", undo)
                                                   .Build();
  EXPECT_EQ(wf.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(wf.status().message().find("only a step or a rule"), std::string::npos) << wf.status().ToString();
  wf = Workflow::Builder("s", 1).Step("a", step).Compensate("nope", undo).Build();
  EXPECT_NE(wf.status().message().find("unknown node 'nope'"), std::string::npos) << wf.status().ToString();
  wf = Workflow::Builder("s", 1).Step("a", step).Compensate("a", nullptr).Build();
  EXPECT_NE(wf.status().message().find("no function"), std::string::npos) << wf.status().ToString();
  wf = Workflow::Builder("s", 1).Step("a", step).Compensate("a", undo).Compensate("a", undo).Build();
  EXPECT_NE(wf.status().message().find("two compensations"), std::string::npos) << wf.status().ToString();
  wf = Workflow::Builder("s", 1).Map("m").Compensate("m", undo).Build();
  EXPECT_EQ(wf.status().code(), Status::Code::kInvalidArgument);
  // A compensation changes the fingerprint: a resume refuses the other graph.
  auto with = *Workflow::Builder("s", 1).Step("a", step).Compensate("a", undo).Build();
  auto without = *Workflow::Builder("s", 1).Step("a", step).Build();
  EXPECT_NE(with->fingerprint(), without->fingerprint());
}

}  // namespace
}  // namespace runic
