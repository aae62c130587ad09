// Durable waits end to end: delay nodes (timers), retry backoffs, awaits
// and signals, with a ManualClock, on no store, memory, disk, disk with sync
// and (built with RUNIC_WAITS_ETCD, as runner_waits_etcd_test) etcd.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "waits_fixture.h"

namespace runic {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const Workflow> Reminder(std::atomic<int>* after) {
  return *Workflow::Builder("reminder", 1).Delay("wait", 1000ms).Step("after", Counted(after), "wait").Build();
}

TEST_P(RunnerWaitsTest, ADelayPassesItsInputOnOnceItsDueTimeCame) {
  std::atomic<int> after{0};
  auto wf = Reminder(&after);
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = 5}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  EXPECT_TRUE(runner_->AwaitIdle("wf", 20ms).IsDeadlineExceeded()) << "a workflow waiting for a timer is not idle";
  clock_->Advance(999ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runner_->GetResults("wf")->count("wait"), 0u) << "fired early";
  EXPECT_EQ(after.load(), 0);
  clock_->Advance(1ms);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  WorkflowResults results = *runner_->GetResults("wf");
  EXPECT_EQ(results["wait"], std::vector<Value>{5});
  EXPECT_EQ(results["after"], std::vector<Value>{6});
  EXPECT_EQ(after.load(), 1);
  if (!has_store()) return;
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  std::vector<HistoryEvent> waits = Events("wf", HistoryEventKind::kWait);
  ASSERT_EQ(waits.size(), 1u);
  EXPECT_EQ(waits[0].node, "wait");
  EXPECT_EQ(waits[0].due_us, kT0Us + 1'000'000) << "the due time is recorded when the wait starts";
}

TEST_P(RunnerWaitsTest, ADelayDoesNotHoldAThreadOrASlotOfTheConcurrencyLimit) {
  std::atomic<int> after{0};
  auto wf = *Workflow::Builder("slots", 1).Delay("wait", 1h).Step("now", Counted(&after)).Build();
  WorkflowOptions options;
  options.max_concurrency = 1;
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, options).ok());
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(runner_->Run("wf", i).ok());
  // Five timers wait; the steps run all the same, one at a time.
  for (int i = 0; i < 5000 && after.load() < 5; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(after.load(), 5);
  EXPECT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  clock_->Advance(1h);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["wait"].size(), 5u);
}

TEST_P(RunnerWaitsTest, ADelayUntilWaitsForTheInstantItsInputNames) {
  DelayUntilFn until = [](const Value& v) -> Result<SystemTime> {
    if (!v.contains("at_s")) return Status::InvalidArgument("no 'at_s' in the input");
    return SystemTime(std::chrono::seconds(v["at_s"].get<std::int64_t>()));
  };
  std::atomic<int> after{0};
  auto wf = *Workflow::Builder("until", 1)
                 .DelayUntil("wait", until)
                 .Step(
                     "after",
                     [&after](const Value& v, std::stop_token) -> Result<Value> {
                       ++after;
                       return v;
                     },
                     "wait")
                 .Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf).ok());
  ASSERT_TRUE(runner_->Run("wf", Value{{"at_s", 1893456000 + 60}}).ok());  // in a minute
  ASSERT_TRUE(runner_->Run("wf", Value{{"at_s", 1000}}).ok());             // long past: at once
  for (int i = 0; i < 5000 && after.load() < 1; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  EXPECT_EQ(after.load(), 1);
  clock_->Advance(59s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(after.load(), 1) << "fired early";
  clock_->Advance(1s);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ(after.load(), 2);

  // An instant that cannot be computed fails the node: its policy applies
  // (here the default: halt, with the function's error).
  ASSERT_TRUE(runner_->Run("wf", Value{{"no", 1}}).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  Result<WorkflowInfo> info = runner_->Lookup("wf");
  EXPECT_EQ(info->state, WorkflowState::kHalted);
  EXPECT_TRUE(info->error.IsInvalidArgument()) << info->error.ToString();
  EXPECT_NE(info->error.message().find("no 'at_s' in the input"), std::string::npos) << info->error.ToString();
}

TEST_P(RunnerWaitsTest, AWaitingWorkflowIsIndexedAsWaitingWithItsEarliestDueTime) {
  if (!has_store()) GTEST_SKIP() << "the indexes are the store's";
  std::atomic<int> after{0};
  auto wf = Reminder(&after);
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  clock_->Advance(300ms);
  ASSERT_TRUE(runner_->Run("wf", 2).ok());  // a second timer, due 300 ms later than the first
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  EXPECT_EQ(IdsInState(WorkflowState::kWaiting), std::vector<std::string>{"wf"});
  std::vector<DueEntry> due = Due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, "wf");
  EXPECT_EQ(due[0].due, static_cast<std::uint64_t>(kT0Us + 1'000'000)) << "the earliest of the two";
  Result<WorkflowHistory> h = ReadHistory(*store_, "wf");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->state, WorkflowState::kWaiting);
  EXPECT_EQ(h->due_us, kT0Us + 1'000'000);
  ASSERT_EQ(h->waiting_for.size(), 2u);

  clock_->Advance(700ms);  // the first fires; the second is due in 300 ms
  for (int i = 0; i < 5000 && after.load() < 1; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  due = Due();
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].due, static_cast<std::uint64_t>(kT0Us + 1'300'000));

  clock_->Advance(300ms);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  EXPECT_TRUE(Due().empty()) << "nothing is due once every timer fired";
  EXPECT_EQ(IdsInState(WorkflowState::kIdle), std::vector<std::string>{"wf"});
  EXPECT_EQ(ReadHistory(*store_, "wf")->state, WorkflowState::kIdle);
}

TEST_P(RunnerWaitsTest, AResumedTimerWaitsOnlyWhatIsLeft) {
  if (!has_store()) GTEST_SKIP() << "resume needs a store";
  std::atomic<int> after{0};
  auto wf = Reminder(&after);
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = 5}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  // The process stops 400 ms into the wait and starts again at that instant.
  RestartAt(kT0 + 400ms, wf, "wf");
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kWaiting);
  clock_->Advance(599ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(after.load(), 0) << "fired early";
  clock_->Advance(1ms);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ(after.load(), 1);
  EXPECT_EQ((*runner_->GetResults("wf"))["after"], std::vector<Value>{6});
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  EXPECT_EQ(Events("wf", HistoryEventKind::kWait).size(), 1u) << "the wait is not started again";
}

TEST_P(RunnerWaitsTest, ATimerThatCameDueWhileStoppedFiresAtOnceAndOnce) {
  if (!has_store()) GTEST_SKIP() << "resume needs a store";
  std::atomic<int> after{0};
  auto wf = Reminder(&after);
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = 5}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  RestartAt(kT0 + 1h, wf, "wf");  // down for an hour: no time needs to pass now
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ(after.load(), 1);
  // Once more: the fired timer is in the history, so a second resume has
  // nothing to fire.
  RestartAt(kT0 + 2h, wf, "wf");
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ(after.load(), 1);
  std::size_t fired = 0;
  for (const HistoryEvent& e : Events("wf", HistoryEventKind::kDone)) fired += e.node == "wait";
  EXPECT_EQ(fired, 1u);
}

TEST_P(RunnerWaitsTest, ARetryBackoffIsDurable) {
  if (!has_store()) GTEST_SKIP() << "resume needs a store";
  std::atomic<int> attempts{0};
  StepFn flaky = [&attempts](const Value& v, std::stop_token) -> Result<Value> {
    if (++attempts == 1) return Status::Unavailable("the service is down");
    return v;
  };
  StepPolicy policy;
  policy.max_retries = 2;
  policy.backoff = Backoff::kLinear;
  policy.base_delay = 20s;
  auto wf = *Workflow::Builder("backoff", 1).Step("flaky", flaky).Policy("flaky", policy).Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = 1}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  std::vector<HistoryEvent> fails = Events("wf", HistoryEventKind::kFail);
  ASSERT_EQ(fails.size(), 1u);
  EXPECT_EQ(fails[0].due_us, kT0Us + 20'000'000);
  EXPECT_EQ(ReadHistory(*store_, "wf")->state, WorkflowState::kWaiting);

  // Restarted 1 s after the failure: the retry waits the other 19 s.
  RestartAt(kT0 + 1s, wf, "wf");
  EXPECT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  clock_->Advance(18s);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(attempts.load(), 1) << "the backoff did not survive the restart";
  clock_->Advance(1s);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ(attempts.load(), 2);
  EXPECT_EQ((*runner_->GetResults("wf"))["flaky"], std::vector<Value>{1});
}

TEST_P(RunnerWaitsTest, ASnapshotKeepsTheDueTimes) {
  if (!has_store()) GTEST_SKIP() << "snapshots need a store";
  std::atomic<int> after{0};
  auto wf = Reminder(&after);
  WorkflowOptions options;
  options.snapshot_every = 1;
  options.trim_after_snapshot = true;
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, options, StartOptions{.input = 5}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  RestartAt(kT0 + 500ms, wf, "wf");
  clock_->Advance(499ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(after.load(), 0) << "fired early";
  clock_->Advance(1ms);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ(after.load(), 1);
}

// An order waits for its payment: {"input": the order, "signal": the payment}.
std::shared_ptr<const Workflow> Payment(std::chrono::milliseconds timeout = 0ms) {
  return *Workflow::Builder("payment", 1)
              .Await("pay", "payment", "", timeout)
              .Step(
                  "ship",
                  [](const Value& v, std::stop_token) -> Result<Value> {
                    return Value{{"order", v["input"]}, {"paid", v["signal"]["amount"]}};
                  },
                  "pay")
              .Build();
}

TEST_P(RunnerWaitsTest, ASignalWakesTheAwaitThatWaitsForIt) {
  ASSERT_TRUE(runner_->StartWorkflow("wf", Payment(), std::nullopt, StartOptions{.input = "o-1"}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  EXPECT_TRUE(runner_->AwaitIdle("wf", 20ms).IsDeadlineExceeded()) << "an await is not idle";
  if (has_store()) {
    ASSERT_TRUE(runner_->Checkpoint("wf").ok());
    Result<WorkflowHistory> h = ReadHistory(*store_, "wf");
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(h->state, WorkflowState::kWaiting);
    ASSERT_EQ(h->waiting_for.size(), 1u);
    EXPECT_EQ(h->waiting_for[0].event, "payment");
    EXPECT_EQ(IdsInState(WorkflowState::kWaiting), std::vector<std::string>{"wf"});
  }
  ASSERT_TRUE(runner_->Signal("wf", "payment", Value{{"amount", 42}}).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  WorkflowResults results = *runner_->GetResults("wf");
  ASSERT_EQ(results["pay"].size(), 1u);
  EXPECT_EQ(results["pay"][0], (Value{{"input", "o-1"}, {"signal", {{"amount", 42}}}}));
  EXPECT_EQ(results["ship"], std::vector<Value>{(Value{{"order", "o-1"}, {"paid", 42}})});
  if (!has_store()) return;
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  std::vector<HistoryEvent> signals = Events("wf", HistoryEventKind::kSignal);
  ASSERT_EQ(signals.size(), 1u);
  EXPECT_EQ(signals[0].event, "payment");
  EXPECT_TRUE(signals[0].dropped.empty());
  Result<InboxPage> inbox = store_->ReadInbox("wf");
  ASSERT_TRUE(inbox.ok());
  EXPECT_TRUE(inbox->entries.empty()) << "consumed in the write that recorded it";
  Result<ListPage> pending = store_->ListInboxes();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->ids.empty());
}

TEST_P(RunnerWaitsTest, ASignalSentBeforeItsAwaitIsKeptForIt) {
  ASSERT_TRUE(runner_->StartWorkflow("wf", Payment()).ok());
  ASSERT_TRUE(runner_->Signal("wf", "payment", Value{{"amount", 7}}).ok());
  ASSERT_TRUE(runner_->Signal("wf", "refund", Value{{"amount", 1}}).ok());  // nobody waits for it: kept
  for (int i = 0; i < 2000; ++i) {                                          // recorded (on a pool thread)
    if (!has_store()) break;
    Result<InboxPage> inbox = store_->ReadInbox("wf");
    if (inbox.ok() && inbox->entries.empty()) break;
    std::this_thread::sleep_for(1ms);
  }
  if (has_store()) {
    ASSERT_TRUE(runner_->Checkpoint("wf").ok());
    Result<WorkflowHistory> h = ReadHistory(*store_, "wf");
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    ASSERT_EQ(h->signals.size(), 2u);
    EXPECT_EQ(h->signals[0].name, "payment");
    EXPECT_EQ(h->signals[0].value, (Value{{"amount", 7}}));
  }
  ASSERT_TRUE(runner_->Run("wf", "o-2").ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["ship"], std::vector<Value>{(Value{{"order", "o-2"}, {"paid", 7}})});
  if (!has_store()) return;
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  Result<WorkflowHistory> h = ReadHistory(*store_, "wf");
  ASSERT_EQ(h->signals.size(), 1u) << "the refund is still kept";
  EXPECT_EQ(h->signals[0].name, "refund");
}

TEST_P(RunnerWaitsTest, SignalsGoFirstInFirstOutToTheAwaitsInTheOrderTheyStarted) {
  ASSERT_TRUE(runner_->StartWorkflow("wf", Payment()).ok());
  for (const char* order : {"a", "b", "c"}) ASSERT_TRUE(runner_->Run("wf", order).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  for (int amount : {1, 2, 3}) ASSERT_TRUE(runner_->Signal("wf", "payment", Value{{"amount", amount}}).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  std::vector<Value> shipped = (*runner_->GetResults("wf"))["ship"];
  std::sort(shipped.begin(), shipped.end());
  EXPECT_EQ(shipped, (std::vector<Value>{Value{{"order", "a"}, {"paid", 1}}, Value{{"order", "b"}, {"paid", 2}},
                                         Value{{"order", "c"}, {"paid", 3}}}));
}

TEST_P(RunnerWaitsTest, ASignalWithAKeyItSawIsAppliedOnce) {
  ASSERT_TRUE(runner_->StartWorkflow("wf", Payment()).ok());
  for (const char* order : {"a", "b"}) ASSERT_TRUE(runner_->Run("wf", order).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(runner_->Signal("wf", "payment", Value{{"amount", 5}}, "pay-1").ok());
  for (int i = 0; i < 2000 && (*runner_->GetResults("wf"))["ship"].empty(); ++i) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);  // time for a second one to be (wrongly) taken
  EXPECT_EQ((*runner_->GetResults("wf"))["ship"].size(), 1u);
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kWaiting) << "the second order still waits";
  if (!has_store()) return;
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  std::size_t kept = 0;
  for (const HistoryEvent& e : Events("wf", HistoryEventKind::kSignal)) kept += e.dropped.empty();
  EXPECT_EQ(kept, 1u);
}

TEST_P(RunnerWaitsTest, AnAwaitThatTimesOutFailsWithDeadlineExceededAndIsNotRetried) {
  StepPolicy policy;
  policy.max_retries = 3;  // not used: an await is not retried
  auto wf = *Workflow::Builder("payment", 1).Await("pay", "payment", "", 1s).Policy("pay", policy).Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = "o-1"}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  clock_->Advance(999ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kWaiting) << "timed out early";
  clock_->Advance(1ms);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  Result<WorkflowInfo> info = runner_->Lookup("wf");
  EXPECT_EQ(info->state, WorkflowState::kHalted);
  EXPECT_TRUE(info->error.IsDeadlineExceeded()) << info->error.ToString();
  EXPECT_NE(info->error.message().find("after 1 attempt(s)"), std::string::npos) << info->error.ToString();
}

TEST_P(RunnerWaitsTest, AnAwaitThatTimesOutTakesItsFallbackAndALaterSignalWaitsForALaterAwait) {
  StepPolicy policy;
  policy.fallback = Value{{"amount", 0}};
  auto wf = *Workflow::Builder("payment", 1).Await("pay", "payment", "", 1s).Policy("pay", policy).Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = "late"}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  clock_->Advance(1s);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["pay"], std::vector<Value>{(Value{{"amount", 0}})});
  // The late payment is kept for the next order's await.
  ASSERT_TRUE(runner_->Signal("wf", "payment", Value{{"amount", 9}}).ok());
  ASSERT_TRUE(runner_->Run("wf", "next").ok());
  for (int i = 0; i < 2000 && (*runner_->GetResults("wf"))["pay"].size() < 2; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  std::vector<Value> paid = (*runner_->GetResults("wf"))["pay"];
  ASSERT_EQ(paid.size(), 2u);
  EXPECT_EQ(paid[1], (Value{{"input", "next"}, {"signal", {{"amount", 9}}}}));
}

TEST_P(RunnerWaitsTest, BadSignalsAreRefusedAndNothingIsStored) {
  ASSERT_TRUE(runner_->StartWorkflow("wf", Payment()).ok());
  EXPECT_TRUE(runner_->Signal("wf", "", 1).IsInvalidArgument());
  EXPECT_TRUE(runner_->Signal("wf", std::string(kMaxSignalNameBytes + 1, 'n'), 1).IsInvalidArgument());
  EXPECT_TRUE(runner_->Signal("wf", "payment", 1, std::string(kMaxIdempotencyKeyBytes + 1, 'k')).IsInvalidArgument());
  EXPECT_TRUE(runner_->Signal("", "payment", 1).IsInvalidArgument());
  Value deep = 1;
  for (std::size_t i = 0; i < kMaxValueDepth + 1; ++i) deep = Value::array({deep});
  EXPECT_TRUE(runner_->Signal("wf", "payment", deep).IsInvalidArgument());
  Status unknown = runner_->Signal("nobody", "payment", 1);
  EXPECT_TRUE(unknown.IsNotFound()) << unknown.ToString();
  if (!has_store()) return;
  EXPECT_TRUE(runner_->Signal("wf", "payment", std::string(store_->limits().max_value_bytes, 'x')).IsInvalidArgument());
  Result<ListPage> pending = store_->ListInboxes();
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->ids.empty());
  Result<InboxPage> inbox = store_->ReadInbox("wf");
  ASSERT_TRUE(inbox.ok());
  EXPECT_TRUE(inbox->entries.empty());
  Result<ListPage> listed = store_->List();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->ids, std::vector<std::string>{"wf"}) << "no workflow 'nobody' was made";
}

TEST_P(RunnerWaitsTest, ASignalToAWorkflowNotLoadedHereLoadsIt) {
  if (!has_store()) GTEST_SKIP() << "without a store there is nothing to load";
  ASSERT_TRUE(runner_->StartWorkflow("wf", Payment(), std::nullopt, StartOptions{.input = "o-3"}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Stop("wf").ok());
  ASSERT_TRUE(runner_->ListWorkflows().empty());
  ASSERT_TRUE(runner_->Signal("wf", "payment", Value{{"amount", 3}}).ok());
  WorkflowState state = WorkflowState::kRunning;
  for (int i = 0; i < 5000 && state != WorkflowState::kIdle; ++i) {
    std::this_thread::sleep_for(1ms);
    Result<WorkflowInfo> info = runner_->Lookup("wf");
    if (info.ok()) state = info->state;
  }
  ASSERT_EQ(state, WorkflowState::kIdle);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["ship"], std::vector<Value>{(Value{{"order", "o-3"}, {"paid", 3}})});
}

TEST_P(RunnerWaitsTest, ASignalSentWhileNoRunnerRanIsRecordedByTheResume) {
  if (!has_store()) GTEST_SKIP() << "resume needs a store";
  auto wf = Payment();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = "o-4"}).ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  runner_->Shutdown();
  runner_.reset();
  // Sent straight to the inbox, as another process would while this one is down.
  ASSERT_TRUE(store_->AppendInbox("wf", Cbor(Value{{"t", "signal"}, {"n", "payment"}, {"v", {{"amount", 4}}}})).ok());
  ASSERT_TRUE(store_->AppendInbox("wf", "not an inbox entry").ok());  // dropped, with why
  runner_ = MakeRunner(clock_);
  ASSERT_TRUE(runner_->Register(wf).ok());
  Result<ResumeAllReport> report = runner_->ResumeAll();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["ship"], std::vector<Value>{(Value{{"order", "o-4"}, {"paid", 4}})});
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  std::vector<HistoryEvent> signals = Events("wf", HistoryEventKind::kSignal);
  ASSERT_EQ(signals.size(), 2u);
  EXPECT_TRUE(signals[0].dropped.empty());
  EXPECT_NE(signals[1].dropped.find("not a CBOR map"), std::string::npos) << signals[1].dropped;
  EXPECT_TRUE(store_->ReadInbox("wf")->entries.empty());
}

TEST_P(RunnerWaitsTest, AResumedAwaitStillWaitsAndItsTimeoutKeepsItsDueTime) {
  if (!has_store()) GTEST_SKIP() << "resume needs a store";
  auto wf = Payment(10s);
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, std::nullopt, StartOptions{.input = "a"}).ok());
  ASSERT_TRUE(runner_->Run("wf", "b").ok());
  ASSERT_EQ(AwaitState("wf", WorkflowState::kWaiting), WorkflowState::kWaiting);
  RestartAt(kT0 + 4s, wf, "wf");
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kWaiting);
  ASSERT_TRUE(runner_->Signal("wf", "payment", Value{{"amount", 1}}).ok());
  // The first order's await (started first) takes it; the second one times
  // out 6 s later, not 10.
  for (int i = 0; i < 2000 && (*runner_->GetResults("wf"))["ship"].empty(); ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ((*runner_->GetResults("wf"))["ship"], std::vector<Value>{(Value{{"order", "a"}, {"paid", 1}})});
  clock_->Advance(5999ms);
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kWaiting) << "timed out early";
  clock_->Advance(1ms);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_TRUE(runner_->Lookup("wf")->error.IsDeadlineExceeded());
}

INSTANTIATE_TEST_SUITE_P(Engines, RunnerWaitsTest, ::testing::ValuesIn(kWaitEngines),
                         [](const ::testing::TestParamInfo<WaitEngine>& info) { return std::string(info.param.name); });

#ifndef RUNIC_WAITS_ETCD
TEST(DelayBuildTest, ADelayWithoutAFunctionOrWithANegativeDelayIsRefused) {
  Result<std::shared_ptr<const Workflow>> negative = Workflow::Builder("d", 1).Delay("wait", -1ms).Build();
  EXPECT_TRUE(negative.status().IsInvalidArgument());
  EXPECT_NE(negative.status().message().find("negative delay"), std::string::npos) << negative.status().ToString();
  Result<std::shared_ptr<const Workflow>> none = Workflow::Builder("d", 1).DelayUntil("wait", nullptr).Build();
  EXPECT_TRUE(none.status().IsInvalidArgument());
  EXPECT_NE(none.status().message().find("has no function"), std::string::npos) << none.status().ToString();
  Result<std::shared_ptr<const Workflow>> unknown = Workflow::Builder("d", 1).Delay("wait", 1s, "nobody").Build();
  EXPECT_TRUE(unknown.status().IsInvalidArgument());
}

TEST(DelayBuildTest, TheDelayIsPartOfTheFingerprint) {
  auto one = *Workflow::Builder("d", 1).Delay("wait", 1s).Build();
  auto two = *Workflow::Builder("d", 1).Delay("wait", 2s).Build();
  auto until = *Workflow::Builder("d", 1)
                    .DelayUntil("wait", [](const Value&) -> Result<SystemTime> { return SystemTime(); })
                    .Build();
  EXPECT_NE(one->fingerprint(), two->fingerprint());
  EXPECT_NE(one->fingerprint(), until->fingerprint());
}
#endif

}  // namespace
}  // namespace runic
