// The Runner end to end, with every store engine and with none.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "runic/runic.h"
#include "runic/runner.h"
#include "test_util.h"

namespace runic {
namespace {

using namespace std::chrono_literals;

enum class Engine { kNone, kMemory, kDisk, kDiskSync };

std::string Name(Engine e) {
  switch (e) {
    case Engine::kNone:
      return "none";
    case Engine::kMemory:
      return "memory";
    case Engine::kDisk:
      return "disk";
    case Engine::kDiskSync:
      return "disk_sync";
  }
  return "?";
}
void PrintTo(Engine e, std::ostream* os) { *os << Name(e); }

// The store operations a runner makes (op, workflow id), in the order they
// start, from any thread.
class OpLog {
 public:
  using Op = std::pair<StoreOp, std::string>;
  StoreTelemetry Telemetry() {
    StoreTelemetry t;
    t.on_start = [this](const StoreOpEvent& e) {
      std::lock_guard lock(mu_);
      ops_.emplace_back(e.op, std::string(e.id));
    };
    return t;
  }
  // The operations since the last Take.
  std::vector<Op> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(ops_, {});
  }

 private:
  std::mutex mu_;
  std::vector<Op> ops_;
};

// "claim wf, append wf, append_many , release wf": for failure messages.
std::string Trace(const std::vector<OpLog::Op>& ops) {
  std::string out;
  for (const auto& [op, id] : ops) out += (out.empty() ? "" : ", ") + std::string(StoreOpName(op)) + " " + id;
  return out;
}

std::size_t CountOp(const std::vector<OpLog::Op>& ops, StoreOp op) {
  return static_cast<std::size_t>(
      std::count_if(ops.begin(), ops.end(), [op](const OpLog::Op& o) { return o.first == op; }));
}

bool IsWrite(StoreOp op) {
  switch (op) {
    case StoreOp::kSave:
    case StoreOp::kCheckpoint:
    case StoreOp::kAppend:
    case StoreOp::kAppendMany:
    case StoreOp::kSaveSnapshot:
    case StoreOp::kSaveFact:
    case StoreOp::kDeleteFact:
    case StoreOp::kDelete:
    case StoreOp::kTrim:
    case StoreOp::kImportEvents:
    case StoreOp::kImportWorkflow:
      return true;
    default:
      return false;
  }
}

// `v` as the Runner stores its events.
std::string Cbor(const Value& v) {
  const std::vector<std::uint8_t> bytes = Value::to_cbor(v);
  return std::string(bytes.begin(), bytes.end());
}

StepFn AddOne() {
  return [](const Value& v, std::stop_token) -> Result<Value> { return Value(v.get<int>() + 1); };
}

class RunnerTest : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    if (GetParam() != Engine::kNone) {
      DatabaseOptions o;
      o.disc_copies = GetParam() != Engine::kMemory;
      o.sync = GetParam() == Engine::kDiskSync;
      o.dir = o.disc_copies ? dir_.Sub("db") : dir_.path();
      db_ = *Database::Open(o);
      store_ = std::move(*db_->OpenStore("runner-test"));
    }
    runner_ = MakeRunner();
  }

  using OnComplete = std::function<void(const std::string&, const Status&)>;
  std::unique_ptr<Runner> MakeRunner(std::shared_ptr<Clock> clock = nullptr, OnComplete on_complete = nullptr) {
    RunnerOptions o;
    o.name = "test";
    o.store = store_.get();
    o.threads = 4;
    o.clock = std::move(clock);
    o.on_complete = std::move(on_complete);
    return std::move(*Runner::Create(std::move(o)));
  }

  bool has_store() const { return GetParam() != Engine::kNone; }

  // Runs `input` through a fresh instance of `wf` and waits until idle.
  WorkflowResults RunOnce(std::shared_ptr<const Workflow> wf, Value input, const std::string& id = "wf",
                          const WorkflowOptions& options = {}) {
    EXPECT_TRUE(runner_->StartWorkflow(id, wf, options).ok());
    EXPECT_TRUE(runner_->Run(id, std::move(input)).ok());
    EXPECT_TRUE(runner_->AwaitIdle(id, 20s).ok());
    Result<WorkflowResults> r = runner_->GetResults(id);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : WorkflowResults{};
  }

  // The events in the store for `id` (all kept, also those a snapshot
  // covers), decoded by runic/history.h.
  std::vector<HistoryEvent> StoredEvents(const std::string& id) {
    std::vector<HistoryEvent> events;
    Result<std::unique_ptr<EventIterator>> it = store_->Stream(id);
    if (!it.ok()) return events;
    for (; (*it)->Valid(); (*it)->Next()) {
      Result<HistoryEvent> e = DecodeHistoryEvent((*it)->sequence(), (*it)->value());
      EXPECT_TRUE(e.ok()) << e.status().ToString();
      if (e.ok()) events.push_back(*e);
    }
    return events;
  }

  // The kinds of StoredEvents(id), by name.
  std::vector<std::string> StoredEventTypes(const std::string& id) {
    std::vector<std::string> types;
    for (const HistoryEvent& e : StoredEvents(id)) types.push_back(HistoryEventKindName(e.kind));
    return types;
  }

  // Makes runner_ a runner on a second handle of the store whose operations
  // ops_ records.
  void ObserveStore() {
    observed_ = std::move(*db_->OpenStore("runner-test", StoreOptions{ops_.Telemetry()}));
    runner_ = MakeRunnerOn(observed_.get());
  }

  std::unique_ptr<Runner> MakeRunnerOn(Store* store) {
    RunnerOptions o;
    o.name = "test";
    o.store = store;
    o.threads = 4;
    return std::move(*Runner::Create(std::move(o)));
  }

  test::TempDir dir_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<Store> store_;
  OpLog ops_;
  std::unique_ptr<Store> observed_;  // outlives runner_
  std::unique_ptr<Runner> runner_;
};

TEST_P(RunnerTest, PipelineRunsEveryStepInOrder) {
  auto wf =
      *Workflow::Builder("chain", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Step("c", AddOne(), "b").Build();
  WorkflowResults r = RunOnce(wf, 1);
  EXPECT_EQ(r["a"], std::vector<Value>{2});
  EXPECT_EQ(r["b"], std::vector<Value>{3});
  EXPECT_EQ(r["c"], std::vector<Value>{4});
  Result<WorkflowInfo> info = runner_->Lookup("wf");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, WorkflowState::kIdle);
  EXPECT_EQ(info->completed, 3u);
  if (has_store()) {
    EXPECT_GT(info->cursor, 0u);
  }
}

TEST_P(RunnerTest, FanOutAndJoinPerInput) {
  auto wf =
      *Workflow::Builder("fan", 1)
           .Step("root", AddOne())
           .Step(
               "double", [](const Value& v, std::stop_token) -> Result<Value> { return Value(v.get<int>() * 2); },
               "root")
           .Step(
               "square",
               [](const Value& v, std::stop_token) -> Result<Value> { return Value(v.get<int>() * v.get<int>()); },
               "root")
           .Join("sum", {"double", "square"},
                 [](const std::vector<Value>& in, std::stop_token) -> Result<Value> {
                   return Value(in[0].get<int>() + in[1].get<int>());
                 })
           .Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf).ok());
  ASSERT_TRUE(runner_->Run("wf", 1).ok());  // root 2: 4 + 4
  ASSERT_TRUE(runner_->Run("wf", 2).ok());  // root 3: 6 + 9
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  WorkflowResults r = *runner_->GetResults("wf");
  std::vector<int> sums;
  for (const Value& v : r["sum"]) sums.push_back(v.get<int>());
  std::sort(sums.begin(), sums.end());
  EXPECT_EQ(sums, (std::vector<int>{8, 15}));
}

TEST_P(RunnerTest, RulesReactOnlyWhenTheConditionHolds) {
  auto wf = *Workflow::Builder("rules", 1)
                 .Rule(
                     "big", [](const Value& v) { return v.get<int>() > 10; },
                     [](const Value& v, std::stop_token) -> Result<Value> { return Value("big " + v.dump()); })
                 .Step(
                     "echo", [](const Value& v, std::stop_token) -> Result<Value> { return v; }, "big")
                 .Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf).ok());
  ASSERT_TRUE(runner_->Run("wf", 5).ok());
  ASSERT_TRUE(runner_->Run("wf", 50).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  WorkflowResults r = *runner_->GetResults("wf");
  EXPECT_EQ(r["big"], std::vector<Value>{"big 50"});
  EXPECT_EQ(r["echo"], std::vector<Value>{"big 50"});
}

// Fails the first `failures` attempts of every input.
StepFn Flaky(std::atomic<int>* attempts, int failures) {
  return [attempts, failures](const Value& v, std::stop_token) -> Result<Value> {
    if (attempts->fetch_add(1) < failures) return Status::Unavailable("flaky");
    return v;
  };
}

TEST_P(RunnerTest, RetriesWaitTheirBackoffOnTheInjectedClock) {
  for (Backoff backoff : {Backoff::kNone, Backoff::kLinear, Backoff::kExponential}) {
    auto clock = std::make_shared<ManualClock>();
    runner_ = MakeRunner(clock);
    std::atomic<int> attempts{0};
    StepPolicy policy;
    policy.max_retries = 3;
    policy.backoff = backoff;
    policy.base_delay = 100ms;
    auto wf = *Workflow::Builder("retry", static_cast<int>(backoff))
                   .Step("flaky", Flaky(&attempts, 2))
                   .Policy("flaky", policy)
                   .Build();
    const std::string id = "wf-" + std::to_string(static_cast<int>(backoff));
    ASSERT_TRUE(runner_->StartWorkflow(id, wf).ok());
    ASSERT_TRUE(runner_->Run(id, 7).ok());
    // Delays before retries 1 and 2: none 0+0; linear 100+200; exponential 100+200.
    const auto total = backoff == Backoff::kNone ? 0ms : 300ms;
    if (total > 0ms) {
      // Short of the total, the step cannot have succeeded.
      for (int i = 0; i < 29; ++i) {
        clock->Advance(10ms);
        std::this_thread::sleep_for(2ms);
      }
      EXPECT_LT(attempts.load(), 3) << "retried before its backoff elapsed";
    }
    for (int i = 0; i < 500 && !runner_->AwaitIdle(id, 5ms).ok(); ++i) clock->Advance(10ms);
    ASSERT_TRUE(runner_->AwaitIdle(id, 5s).ok());
    EXPECT_EQ(attempts.load(), 3);
    EXPECT_EQ((*runner_->GetResults(id))["flaky"], std::vector<Value>{7});
  }
}

// A workflow whose only work left is a retry's backoff is waiting, not
// running; it runs again when the backoff ends, then is idle.
TEST_P(RunnerTest, AWorkflowWithOnlyARetryBackoffLeftIsWaiting) {
  auto clock = std::make_shared<ManualClock>();
  runner_ = MakeRunner(clock);
  std::atomic<int> attempts{0};
  StepPolicy policy;
  policy.max_retries = 1;
  policy.backoff = Backoff::kLinear;
  policy.base_delay = 1h;
  auto wf = *Workflow::Builder("backoff", 1).Step("flaky", Flaky(&attempts, 1)).Policy("flaky", policy).Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf).ok());
  ASSERT_TRUE(runner_->Run("wf", 7).ok());
  WorkflowState state = WorkflowState::kRunning;
  for (int i = 0; i < 2000 && state != WorkflowState::kWaiting; ++i) {
    std::this_thread::sleep_for(1ms);
    state = runner_->Lookup("wf")->state;
  }
  EXPECT_EQ(state, WorkflowState::kWaiting) << WorkflowStateName(state);
  EXPECT_EQ(attempts.load(), 1);
  EXPECT_TRUE(runner_->AwaitIdle("wf", 20ms).IsDeadlineExceeded()) << "waiting is not idle";
  clock->Advance(1h);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kIdle);
  EXPECT_EQ(attempts.load(), 2);
}

TEST(WorkflowStateTest, EveryStateHasItsOwnName) {
  std::set<std::string> names;
  for (WorkflowState s :
       {WorkflowState::kRunning, WorkflowState::kIdle, WorkflowState::kHalted, WorkflowState::kWaiting,
        WorkflowState::kPaused, WorkflowState::kCancelling, WorkflowState::kCancelled}) {
    names.insert(WorkflowStateName(s));
  }
  EXPECT_EQ(names,
            (std::set<std::string>{"running", "idle", "halted", "waiting", "paused", "cancelling", "cancelled"}));
}

TEST_P(RunnerTest, EventTimesAreTheInjectedClocksWallTime) {
  if (!has_store()) GTEST_SKIP() << "no events without a store";
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1893456000));  // 2030-01-01 UTC
  auto clock = std::make_shared<ManualClock>(t0);
  runner_ = MakeRunner(clock);
  auto wf = *Workflow::Builder("timed", 1).Step("one", AddOne()).Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf).ok());
  ASSERT_TRUE(runner_->Run("wf", 1).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  clock->Advance(90s);
  ASSERT_TRUE(runner_->Run("wf", 2).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());

  const std::int64_t t0_us = 1893456000LL * 1000000;
  std::vector<std::int64_t> times;
  for (const HistoryEvent& e : StoredEvents("wf")) times.push_back(e.at_us);
  // start, input, dispatch, done at t0; the second input's events 90 s later.
  ASSERT_EQ(times.size(), 7u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(times[i], t0_us) << "event " << i;
  for (std::size_t i = 4; i < 7; ++i) EXPECT_EQ(times[i], t0_us + 90'000'000) << "event " << i;
}

TEST_P(RunnerTest, TimeoutStopsACooperativeStep) {
  auto clock = std::make_shared<ManualClock>();
  runner_ = MakeRunner(clock);
  StepPolicy policy;
  policy.timeout = 50ms;
  policy.on_failure = OnFailure::kSkip;
  std::atomic<bool> saw_stop{false};
  auto wf = *Workflow::Builder("timeout", 1)
                 .Step("slow",
                       [&](const Value& v, std::stop_token stop) -> Result<Value> {
                         for (int i = 0; i < 5000 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(1ms);
                         saw_stop = stop.stop_requested();
                         return v;
                       })
                 .Policy("slow", policy)
                 .Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf).ok());
  ASSERT_TRUE(runner_->Run("wf", 1).ok());
  for (int i = 0; i < 500 && !runner_->AwaitIdle("wf", 5ms).ok(); ++i) clock->Advance(10ms);
  ASSERT_TRUE(runner_->AwaitIdle("wf", 5s).ok());
  runner_->Shutdown();  // waits for the step to return
  EXPECT_TRUE(saw_stop.load());
  Result<WorkflowInfo> info = runner_->Lookup("wf");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, WorkflowState::kIdle);
  EXPECT_TRUE((*runner_->GetResults("wf")).empty()) << "a timed-out, skipped step produces nothing";
}

// An attempt's timeout counts from the moment it starts running: a runnable
// that waits in the pool queue (one thread, twelve steps) does not time out
// there. Each step moves the clock on by 100 ms of its own "work": the last
// starts 1,100 ms after its dispatch, past the 1,000 ms timeout, and still
// completes.
TEST_P(RunnerTest, TimeoutCountsTheAttemptNotItsWaitInTheQueue) {
  auto clock = std::make_shared<ManualClock>();
  RunnerOptions o;
  o.store = store_.get();
  o.threads = 1;
  o.clock = clock;
  std::mutex mu;
  std::vector<std::chrono::nanoseconds> queued;
  o.telemetry.runnable_start = [&](const RunnerTelemetry::Event& e) {
    std::lock_guard lock(mu);
    if (e.node != "root") queued.push_back(e.queued);
  };
  runner_ = std::move(*Runner::Create(std::move(o)));
  StepPolicy policy;
  policy.timeout = 1000ms;
  Workflow::Builder b("queue", 1);
  b.Step("root", AddOne()).Policy("s*", policy);
  constexpr int kSteps = 12;
  for (int i = 0; i < kSteps; ++i) {
    b.Step(
        "s" + std::to_string(i),
        [clock](const Value& v, std::stop_token) -> Result<Value> {
          clock->Advance(100ms);
          return v;
        },
        "root");
  }
  auto wf = *b.Build();
  WorkflowOptions options;
  options.max_concurrency = kSteps;  // all dispatched at once: they wait in the pool's queue
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, options).ok());
  ASSERT_TRUE(runner_->Run("wf", 1).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  Result<WorkflowInfo> info = runner_->Lookup("wf");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, WorkflowState::kIdle) << info->error.ToString();
  EXPECT_EQ(runner_->GetResults("wf")->size(), static_cast<std::size_t>(kSteps + 1));
  std::lock_guard lock(mu);
  ASSERT_EQ(queued.size(), static_cast<std::size_t>(kSteps));
  // The queue time is reported: the last step waited for the eleven before it.
  EXPECT_GE(*std::max_element(queued.begin(), queued.end()), std::chrono::nanoseconds(1100ms));
}

// A timed-out attempt is reported once (DeadlineExceeded), not again when
// the step returns late; the halt message names every attempt's error and
// is the same after a resume.
TEST_P(RunnerTest, ATimedOutAttemptIsReportedOnceAndTheHaltNamesEveryAttempt) {
  auto clock = std::make_shared<ManualClock>();
  RunnerOptions o;
  o.store = store_.get();
  o.threads = 4;
  o.clock = clock;
  std::mutex mu;
  std::vector<std::string> reported;  // runnable_stop and runnable_exception
  o.telemetry.runnable_exception = [&](const RunnerTelemetry::Event& e) {
    std::lock_guard lock(mu);
    reported.push_back(e.error->ToString());
  };
  o.telemetry.runnable_stop = [&](const RunnerTelemetry::Event&) {
    std::lock_guard lock(mu);
    reported.push_back("stop");
  };
  runner_ = std::move(*Runner::Create(std::move(o)));
  StepPolicy policy;
  policy.timeout = 50ms;
  policy.max_retries = 2;
  auto wf = *Workflow::Builder("slow-service", 1)
                 .Step("call",
                       [](const Value&, std::stop_token stop) -> Result<Value> {
                         for (int i = 0; i < 5000 && !stop.stop_requested(); ++i) std::this_thread::sleep_for(1ms);
                         return Status::Unavailable("cancelled");  // late: must not be reported
                       })
                 .Policy("call", policy)
                 .Build();
  ASSERT_TRUE(runner_->StartWorkflow("doc-7", wf).ok());
  ASSERT_TRUE(runner_->Run("doc-7", 1).ok());
  for (int i = 0; i < 1000 && !runner_->AwaitIdle("doc-7", 5ms).ok(); ++i) clock->Advance(10ms);
  ASSERT_TRUE(runner_->AwaitIdle("doc-7", 5s).ok());
  Result<WorkflowInfo> info = runner_->Lookup("doc-7");
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->state, WorkflowState::kHalted);
  const Status halt = info->error;
  runner_->Shutdown();  // the late returns have happened
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(reported.size(), 3u) << ::testing::PrintToString(reported);
    for (const std::string& r : reported) EXPECT_EQ(r.rfind("DeadlineExceeded: ", 0), 0u) << r;
  }
  EXPECT_TRUE(halt.IsDeadlineExceeded()) << halt.ToString();
  EXPECT_NE(halt.message().find("workflow 'doc-7' (slow-service v1): node 'call' failed after 3 attempt(s): "),
            std::string::npos)
      << halt.ToString();
  for (const char* attempt :
       {"attempt 1: DeadlineExceeded: ", "attempt 2: DeadlineExceeded: ", "attempt 3: DeadlineExceeded: "}) {
    EXPECT_NE(halt.message().find(attempt), std::string::npos) << halt.ToString();
  }
  if (!has_store()) return;
  runner_ = MakeRunner();  // as after a restart: the same message, from the history
  ASSERT_TRUE(runner_->Register(wf).ok());
  ASSERT_TRUE(runner_->Resume("doc-7").ok());
  Result<WorkflowInfo> resumed = runner_->Lookup("doc-7");
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->state, WorkflowState::kHalted);
  EXPECT_EQ(resumed->error.ToString(), halt.ToString());
}

// Steps and joins that take a StepContext learn their workflow, node and
// attempt, a deadline, and an idempotency key that stays the same across
// retries and resumes and differs between runnables.
TEST_P(RunnerTest, StepsLearnTheirContextAndAStableIdempotencyKey) {
  struct Seen {
    std::string workflow, node, key;
    int attempt;
    bool has_deadline;
  };
  std::mutex mu;
  std::vector<Seen> seen;
  auto record = [&](const StepContext& c) {
    std::lock_guard lock(mu);
    seen.push_back({std::string(c.workflow_id), std::string(c.node), std::string(c.idempotency_key), c.attempt,
                    c.deadline != std::chrono::steady_clock::time_point::max()});
  };
  StepPolicy retry;
  retry.max_retries = 2;
  retry.timeout = 60s;
  auto wf = *Workflow::Builder("context", 1)
                 .Step("flaky",
                       [&](const Value& v, const StepContext& c) -> Result<Value> {
                         record(c);
                         if (c.attempt < 3) return Status::Unavailable("not yet");
                         return v;
                       })
                 .Step("other", AddOne())
                 .Join("both", {"flaky", "other"},
                       [&](const std::vector<Value>& v, const StepContext& c) -> Result<Value> {
                         record(c);
                         return v.at(0);
                       })
                 .Policy("flaky", retry)
                 .Build();
  RunOnce(wf, 1, "wf-a");
  RunOnce(wf, 1, "wf-b");
  std::unique_lock lock(mu);
  ASSERT_EQ(seen.size(), 8u);  // per workflow: flaky x3, both x1
  std::set<std::string> keys;
  for (const Seen& s : seen) {
    EXPECT_EQ(s.key.size(), 64u) << s.key;
    keys.insert(s.key);
  }
  EXPECT_EQ(keys.size(), 4u) << "one key per runnable: flaky and both, in two workflows";
  std::vector<Seen> flaky_a;
  for (const Seen& s : seen) {
    if (s.workflow == "wf-a" && s.node == "flaky") flaky_a.push_back(s);
  }
  ASSERT_EQ(flaky_a.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(flaky_a[i].attempt, i + 1);
    EXPECT_EQ(flaky_a[i].key, flaky_a[0].key) << "the key changed between retries";
    EXPECT_TRUE(flaky_a[i].has_deadline);
  }
  for (const Seen& s : seen) {
    if (s.node == "both") {
      EXPECT_FALSE(s.has_deadline) << "a node without a timeout has no deadline";
    }
  }
  if (!has_store()) return;
  // Resumed after its completions were lost, "flaky" runs again with the
  // same key.
  seen.clear();
  WorkflowOptions manual;
  manual.checkpoint = CheckpointStrategy::kManual;
  lock.unlock();
  RunOnce(wf, 1, "wf-c", manual);
  ASSERT_TRUE(runner_->Stop("wf-c", /*persist=*/false).ok());
  runner_ = MakeRunner();
  ASSERT_TRUE(runner_->Register(wf).ok());
  ASSERT_TRUE(runner_->Resume("wf-c").ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf-c", 20s).ok());
  lock.lock();
  std::set<std::string> flaky_keys;
  for (const Seen& s : seen) {
    if (s.node == "flaky") flaky_keys.insert(s.key);
  }
  EXPECT_EQ(flaky_keys.size(), 1u) << "the key changed across the resume";
}

TEST_P(RunnerTest, SkipLeavesTheJoinUnfiredAndTheWorkflowComplete) {
  StepPolicy skip;
  skip.on_failure = OnFailure::kSkip;
  auto wf = *Workflow::Builder("skip", 1)
                 .Step("ok", AddOne())
                 .Step("broken", [](const Value&, std::stop_token) -> Result<Value> { return Status::IOError("down"); })
                 .Join("both", {"ok", "broken"},
                       [](const std::vector<Value>& in, std::stop_token) -> Result<Value> { return Value(in); })
                 .Policy("broken", skip)
                 .Build();
  WorkflowResults r = RunOnce(wf, 1);
  EXPECT_EQ(r["ok"], std::vector<Value>{2});
  EXPECT_EQ(r.count("both"), 0u);
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kIdle);
}

TEST_P(RunnerTest, HaltStopsTheWorkflowWithTheError) {
  auto wf = *Workflow::Builder("halt", 1)
                 .Step("broken",
                       [](const Value&, std::stop_token) -> Result<Value> { return Status::IOError("disk on fire"); })
                 .Step("after", AddOne(), "broken")
                 .Build();
  std::atomic<int> completions{0};
  Status seen;
  runner_ = MakeRunner(nullptr, [&](const std::string&, const Status& s) {
    seen = s;
    ++completions;
  });
  RunOnce(wf, 1, "wf");
  Result<WorkflowInfo> info = runner_->Lookup("wf");
  EXPECT_EQ(info->state, WorkflowState::kHalted);
  EXPECT_TRUE(info->error.IsIOError());
  EXPECT_NE(info->error.message().find("disk on fire"), std::string::npos);
  EXPECT_EQ(completions.load(), 1);
  EXPECT_TRUE(seen.IsIOError());
  // A halted workflow takes no input: nothing would run on it.
  const std::vector<std::string> before = has_store() ? StoredEventTypes("wf") : std::vector<std::string>{};
  Status again = runner_->Run("wf", 2);
  EXPECT_TRUE(again.IsFailedPrecondition()) << again.ToString();
  EXPECT_NE(again.message().find("'wf' (halt v1) is halted"), std::string::npos) << again.ToString();
  EXPECT_NE(again.message().find("disk on fire"), std::string::npos) << again.ToString();
  if (has_store()) {
    EXPECT_EQ(StoredEventTypes("wf"), before);
  }
}

TEST_P(RunnerTest, FallbackReplacesAFailedValue) {
  StepPolicy policy;
  policy.max_retries = 1;
  policy.fallback = Value("default quote");
  auto wf =
      *Workflow::Builder("fallback", 1)
           .Step("quote", [](const Value&, std::stop_token) -> Result<Value> { return Status::Unavailable("no"); })
           .Step(
               "use",
               [](const Value& v, std::stop_token) -> Result<Value> { return Value("used " + v.get<std::string>()); },
               "quote")
           .Policy("*", policy)
           .Build();
  WorkflowResults r = RunOnce(wf, 1);
  EXPECT_EQ(r["quote"], std::vector<Value>{"default quote"});
  EXPECT_EQ(r["use"], std::vector<Value>{"used default quote"});
}

TEST_P(RunnerTest, ExceptionsFromStepsFailTheAttempt) {
  StepPolicy skip;
  skip.on_failure = OnFailure::kSkip;
  auto wf = *Workflow::Builder("throws", 1)
                 .Step("t", [](const Value&, std::stop_token) -> Result<Value> { throw std::runtime_error("boom"); })
                 .Policy("*", skip)
                 .Build();
  WorkflowResults r = RunOnce(wf, 1);
  EXPECT_TRUE(r.empty());
  EXPECT_EQ(runner_->Lookup("wf")->state, WorkflowState::kIdle);
}

TEST_P(RunnerTest, CheckpointStrategiesDecideWhatIsInTheStore) {
  if (!has_store()) GTEST_SKIP() << "no store";
  auto wf = *Workflow::Builder("cp", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  // Every cycle: everything is there when idle.
  RunOnce(wf, 1, "cycle");
  std::vector<std::string> types = StoredEventTypes("cycle");
  EXPECT_EQ(types.front(), "start");
  EXPECT_EQ(std::count(types.begin(), types.end(), "done"), 2);
  // Manual: only the start and the input (which Run makes durable) until Checkpoint.
  WorkflowOptions manual;
  manual.checkpoint = CheckpointStrategy::kManual;
  RunOnce(wf, 1, "manual", manual);
  types = StoredEventTypes("manual");
  EXPECT_EQ(std::count(types.begin(), types.end(), "done"), 0);
  ASSERT_TRUE(runner_->Checkpoint("manual").ok());
  types = StoredEventTypes("manual");
  EXPECT_EQ(std::count(types.begin(), types.end(), "done"), 2);
  // On complete and every N: everything is there once idle.
  for (CheckpointStrategy s : {CheckpointStrategy::kOnComplete, CheckpointStrategy::kEveryN}) {
    WorkflowOptions o;
    o.checkpoint = s;
    o.checkpoint_every = 1;
    const std::string id = s == CheckpointStrategy::kOnComplete ? "oncomplete" : "everyn";
    RunOnce(wf, 1, id, o);
    types = StoredEventTypes(id);
    EXPECT_EQ(std::count(types.begin(), types.end(), "done"), 2) << id;
  }
}

TEST_P(RunnerTest, ACheckpointOverTheBatchLimitIsSplitIntoWholeAppends) {
  if (!has_store()) GTEST_SKIP() << "no store";
  // Steps wait until every input is in, so all their completions are
  // pending at the one manual checkpoint: more events than one append holds.
  std::atomic<bool> go{false};
  auto wf = *Workflow::Builder("many", 1)
                 .Step("a",
                       [&go](const Value& v, std::stop_token) -> Result<Value> {
                         for (int i = 0; i < 10000 && !go.load(); ++i) std::this_thread::sleep_for(1ms);
                         return Value(v.get<int>() + 1);
                       })
                 .Build();
  WorkflowOptions manual;
  manual.checkpoint = CheckpointStrategy::kManual;
  manual.max_concurrency = 100000;
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, manual).ok());
  const int inputs = static_cast<int>(store_->limits().max_batch_events) + 200;
  for (int i = 0; i < inputs; ++i) ASSERT_TRUE(runner_->Run("wf", i).ok());
  go = true;
  ASSERT_TRUE(runner_->AwaitIdle("wf", 30s).ok());
  ASSERT_TRUE(runner_->Checkpoint("wf").ok());
  std::vector<std::string> types = StoredEventTypes("wf");
  EXPECT_EQ(std::count(types.begin(), types.end(), "done"), inputs);
  EXPECT_GT(types.size(), store_->limits().max_batch_events);
  ASSERT_TRUE(runner_->Stop("wf").ok());
  runner_ = MakeRunner();
  ASSERT_TRUE(runner_->Register(wf).ok());
  ASSERT_TRUE(runner_->Resume("wf").ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 30s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["a"].size(), static_cast<std::size_t>(inputs));
  EXPECT_EQ(runner_->Lookup("wf")->redispatched, 0u);
}

TEST_P(RunnerTest, StopWithAndWithoutPersistAndResume) {
  if (!has_store()) GTEST_SKIP() << "no store";
  auto wf = *Workflow::Builder("stop", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  WorkflowOptions manual;
  manual.checkpoint = CheckpointStrategy::kManual;
  RunOnce(wf, 1, "persisted", manual);
  RunOnce(wf, 1, "dropped", manual);
  ASSERT_TRUE(runner_->Stop("persisted", true).ok());
  ASSERT_TRUE(runner_->Stop("dropped", false).ok());
  EXPECT_TRUE(runner_->ListWorkflows().empty()) << "stopped: unloaded";
  // A new runner (as after a restart) resumes both.
  runner_ = MakeRunner();
  ASSERT_TRUE(runner_->Register(wf).ok());
  std::atomic<int> reran{0};
  ASSERT_TRUE(runner_->Resume("persisted").ok());
  ASSERT_TRUE(runner_->AwaitIdle("persisted", 20s).ok());
  EXPECT_EQ(runner_->Lookup("persisted")->redispatched, 0u);
  EXPECT_EQ((*runner_->GetResults("persisted"))["b"], std::vector<Value>{3});
  // Without persist the completions were lost: the steps run again.
  ASSERT_TRUE(runner_->Resume("dropped").ok());
  ASSERT_TRUE(runner_->AwaitIdle("dropped", 20s).ok());
  EXPECT_EQ((*runner_->GetResults("dropped"))["b"], std::vector<Value>{3});
  EXPECT_TRUE(runner_->Resume("persisted").IsConflict());
  EXPECT_TRUE(runner_->StartWorkflow("persisted", wf).IsConflict());
}

TEST_P(RunnerTest, StartingARunningIdIsAnErrorThatNamesIt) {
  auto wf = *Workflow::Builder("dup", 1).Step("a", AddOne()).Build();
  ASSERT_TRUE(runner_->StartWorkflow("order-7", wf).ok());
  Status again = runner_->StartWorkflow("order-7", wf);
  EXPECT_TRUE(again.IsConflict());
  EXPECT_NE(again.message().find("order-7"), std::string::npos);
  EXPECT_TRUE(runner_->Run("nope", 1).IsNotFound());
  EXPECT_EQ(runner_->ListWorkflows(), std::vector<std::string>{"order-7"});
}

TEST_P(RunnerTest, ResumeRefusesMissingChangedOrOtherVersionDefinitions) {
  if (!has_store()) GTEST_SKIP() << "no store";
  auto v1 = *Workflow::Builder("orders", 1).Step("a", AddOne()).Build();
  RunOnce(v1, 1, "wf");
  ASSERT_TRUE(runner_->Stop("wf").ok());
  runner_ = MakeRunner();
  Status missing = runner_->Resume("wf");
  EXPECT_TRUE(missing.IsNotFound()) << missing.ToString();
  auto v2 = *Workflow::Builder("orders", 2).Step("a", AddOne()).Build();
  ASSERT_TRUE(runner_->Register(v2).ok());
  Status version = runner_->Resume("wf");
  EXPECT_TRUE(version.IsInvalidArgument()) << version.ToString();
  runner_ = MakeRunner();
  auto changed = *Workflow::Builder("orders", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  ASSERT_TRUE(runner_->Register(changed).ok());
  Status fingerprint = runner_->Resume("wf");
  EXPECT_TRUE(fingerprint.IsInvalidArgument()) << fingerprint.ToString();
  EXPECT_NE(fingerprint.message().find("changed"), std::string::npos);
  EXPECT_TRUE(runner_->ListWorkflows().empty());
}

// One workflow that cannot be resumed (here: its definition is not
// registered) neither stops ResumeAll nor hides the ones it resumed.
TEST_P(RunnerTest, ResumeAllGoesOnPastAWorkflowItCannotResume) {
  if (!has_store()) GTEST_SKIP() << "no store";
  auto good = *Workflow::Builder("good", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  auto unregistered = *Workflow::Builder("unregistered", 1).Step("a", AddOne()).Build();
  WorkflowOptions manual;  // completions never written: work left on resume
  manual.checkpoint = CheckpointStrategy::kManual;
  RunOnce(good, 1, "a-good", manual);
  RunOnce(unregistered, 1, "b-bad", manual);
  RunOnce(good, 1, "c-good", manual);
  for (const char* id : {"a-good", "b-bad", "c-good"}) ASSERT_TRUE(runner_->Stop(id, /*persist=*/false).ok());

  runner_ = MakeRunner();  // as after a restart
  ASSERT_TRUE(runner_->Register(good).ok());
  Result<ResumeAllReport> report = runner_->ResumeAll();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->resumed, (std::vector<std::string>{"a-good", "c-good"}));
  ASSERT_EQ(report->failed.size(), 1u);
  EXPECT_EQ(report->failed[0].id, "b-bad");
  const Status& why = report->failed[0].status;
  EXPECT_TRUE(why.IsNotFound()) << why.ToString();
  EXPECT_NE(why.message().find("'b-bad'"), std::string::npos) << why.ToString();
  EXPECT_NE(why.message().find("'unregistered'"), std::string::npos) << why.ToString();
  EXPECT_TRUE(report->owned_elsewhere.empty());
  EXPECT_TRUE(report->listing.ok());
  for (const char* id : {"a-good", "c-good"}) {
    ASSERT_TRUE(runner_->AwaitIdle(id, 20s).ok());
    EXPECT_EQ((*runner_->GetResults(id))["b"], std::vector<Value>{3});
  }
  EXPECT_EQ(runner_->ListWorkflows(), (std::vector<std::string>{"a-good", "c-good"}));
}

// The options a workflow is started with (given, or its definition's
// registered defaults) are recorded with its start and in its snapshots: a
// new runner resumes it with them, whatever it registered, also once the
// started event is trimmed. Resume's options replace them for that load
// only; a history that records none runs with the registered defaults.
TEST_P(RunnerTest, AResumedWorkflowKeepsTheOptionsItWasStartedWith) {
  if (!has_store()) GTEST_SKIP() << "no store";
  auto wf = *Workflow::Builder("opts", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  WorkflowOptions defaults;
  defaults.checkpoint = CheckpointStrategy::kEveryN;
  defaults.checkpoint_every = 2;
  defaults.max_concurrency = 3;
  WorkflowOptions given;
  given.max_concurrency = 1;
  given.snapshot_every = 3;
  given.trim_after_snapshot = true;
  ASSERT_TRUE(runner_->Register(wf, defaults).ok());
  ASSERT_TRUE(runner_->StartWorkflow("by-default", wf).ok());
  ASSERT_TRUE(runner_->StartWorkflow("given", wf, given).ok());
  EXPECT_EQ(runner_->Lookup("by-default")->options, defaults);
  EXPECT_EQ(runner_->Lookup("given")->options, given);
  for (int i = 0; i < 3; ++i) {
    for (const char* id : {"by-default", "given"}) {
      ASSERT_TRUE(runner_->Run(id, i).ok());
      ASSERT_TRUE(runner_->AwaitIdle(id, 20s).ok());
    }
  }
  runner_->Shutdown();
  // "given" has a snapshot and its started event was trimmed.
  ASSERT_TRUE(store_->LoadSnapshot("given").ok());
  const std::vector<std::string> left = StoredEventTypes("given");
  EXPECT_EQ(std::count(left.begin(), left.end(), "start"), 0);

  // A new runner that registers other defaults.
  runner_ = MakeRunner();
  WorkflowOptions other;
  other.max_concurrency = 5;
  ASSERT_TRUE(runner_->Register(wf, other).ok());
  ASSERT_TRUE(runner_->Resume("by-default").ok());
  ASSERT_TRUE(runner_->Resume("given").ok());
  EXPECT_EQ(runner_->Lookup("by-default")->options, defaults);
  EXPECT_EQ(runner_->Lookup("given")->options, given);
  ASSERT_TRUE(runner_->Run("given", 10).ok());
  ASSERT_TRUE(runner_->AwaitIdle("given", 20s).ok());
  EXPECT_EQ((*runner_->GetResults("given"))["b"].back(), Value(12));

  // Resume's options, for this load only.
  WorkflowOptions for_now;
  for_now.checkpoint = CheckpointStrategy::kManual;
  ASSERT_TRUE(runner_->Stop("by-default").ok());
  ASSERT_TRUE(runner_->Resume("by-default", for_now).ok());
  EXPECT_EQ(runner_->Lookup("by-default")->options, for_now);
  ASSERT_TRUE(runner_->Stop("by-default").ok());
  ASSERT_TRUE(runner_->Resume("by-default").ok());
  EXPECT_EQ(runner_->Lookup("by-default")->options, defaults);

  // A started event without options (a history of an earlier release).
  const std::string old_start =
      Cbor(Value{{"t", "start"}, {"at", 0}, {"w", wf->name()}, {"v", wf->version()}, {"fp", wf->fingerprint()}});
  ASSERT_TRUE(store_->Append("recorded-none", std::vector<std::string>{old_start}).ok());
  ASSERT_TRUE(runner_->Resume("recorded-none").ok());
  EXPECT_EQ(runner_->Lookup("recorded-none")->options, other);

  // Recorded options that do not decode: a clear error, nothing loaded.
  const Value bad_options{{"checkpoint", "sometimes"},
                          {"checkpoint_every", 10},
                          {"max_concurrency", 8},
                          {"snapshot_every", 0},
                          {"trim_after_snapshot", false}};
  const std::string bad_start = Cbor(Value{{"t", "start"},
                                           {"at", 0},
                                           {"w", wf->name()},
                                           {"v", wf->version()},
                                           {"fp", wf->fingerprint()},
                                           {"opt", bad_options}});
  ASSERT_TRUE(store_->Append("recorded-bad", std::vector<std::string>{bad_start}).ok());
  Status bad = runner_->Resume("recorded-bad");
  EXPECT_TRUE(bad.IsCorruption()) << bad.ToString();
  EXPECT_NE(bad.message().find("'sometimes' is unknown"), std::string::npos) << bad.ToString();
  EXPECT_NE(bad.message().find("recorded-bad"), std::string::npos) << bad.ToString();
  EXPECT_EQ(std::ranges::count(runner_->ListWorkflows(), "recorded-bad"), 0) << "not loaded";
}

// A start or an input repeated with its idempotency key is acknowledged and
// not applied again, also after a restart and across snapshots and trims; a
// start retried with IfExists::kReturnExisting gets the existing workflow.
TEST_P(RunnerTest, IdempotencyKeysAcknowledgeARepeatedStartOrRun) {
  auto wf = *Workflow::Builder("keys", 1).Step("a", AddOne()).Build();
  auto other = *Workflow::Builder("other", 1).Step("a", AddOne()).Build();
  WorkflowOptions options;
  options.snapshot_every = 3;  // with a store: the keys must outlive trims
  options.trim_after_snapshot = true;
  const StartOptions start{.input = 1, .idempotency_key = "start-1"};
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, options, start).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  auto produced = [&] {  // in value order: inputs run in parallel
    std::vector<Value> values = (*runner_->GetResults("wf"))["a"];
    std::sort(values.begin(), values.end());
    return values;
  };
  EXPECT_EQ(produced(), std::vector<Value>{2}) << "the first input came with the start";

  EXPECT_TRUE(runner_->StartWorkflow("wf", wf, options, start).ok()) << "the same start again";
  EXPECT_TRUE(runner_->StartWorkflow("wf", wf).IsConflict());
  EXPECT_TRUE(runner_->StartWorkflow("wf", wf, options, StartOptions{.if_exists = IfExists::kReturnExisting}).ok());
  Status different = runner_->StartWorkflow("wf", other, options, StartOptions{.if_exists = IfExists::kReturnExisting});
  EXPECT_TRUE(different.IsConflict()) << different.ToString();
  EXPECT_NE(different.message().find("started as 'keys'"), std::string::npos) << different.ToString();

  for (int i = 0; i < 3; ++i) ASSERT_TRUE(runner_->Run("wf", 10, "run-1").ok());
  ASSERT_TRUE(runner_->Run("wf", 20, "run-2").ok());
  ASSERT_TRUE(runner_->Run("wf", 30, "start-1").ok());  // one scope: the start's key too
  Status oversized = runner_->Run("wf", 40, std::string(kMaxIdempotencyKeyBytes + 1, 'k'));
  EXPECT_TRUE(oversized.IsInvalidArgument()) << oversized.ToString();
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  EXPECT_EQ(produced(), (std::vector<Value>{2, 11, 21}));
  if (!has_store()) return;

  // After a restart (the history is snapshotted and trimmed by now).
  ASSERT_TRUE(runner_->Stop("wf").ok());
  ASSERT_GT(store_->Describe("wf")->trimmed, 0u) << "the test means to cover trimmed keys";
  runner_ = MakeRunner();
  ASSERT_TRUE(runner_->Register(wf).ok());
  ASSERT_TRUE(runner_->Register(other).ok());
  Status refused = runner_->StartWorkflow("wf", other, options, StartOptions{.if_exists = IfExists::kReturnExisting});
  EXPECT_TRUE(refused.IsConflict()) << refused.ToString();
  EXPECT_TRUE(runner_->ListWorkflows().empty()) << "a refused start keeps nothing loaded";
  // Only in the store: a retried start loads it, and is acknowledged.
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, options, start).ok());
  EXPECT_EQ(runner_->ListWorkflows(), std::vector<std::string>{"wf"});
  ASSERT_TRUE(runner_->Run("wf", 10, "run-1").ok());
  ASSERT_TRUE(runner_->Run("wf", 50, "run-3").ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  EXPECT_EQ(produced(), (std::vector<Value>{2, 11, 21, 51}));
}

TEST_P(RunnerTest, ACorruptedEventIsAClearErrorNotAWrongResult) {
  if (!has_store()) GTEST_SKIP() << "no store";
  auto wf = *Workflow::Builder("c", 1).Step("a", AddOne()).Build();
  RunOnce(wf, 1, "wf");
  ASSERT_TRUE(runner_->Stop("wf").ok());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"\xff not cbor"}).ok());
  runner_ = MakeRunner();
  ASSERT_TRUE(runner_->Register(wf).ok());
  Status s = runner_->Resume("wf");
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST_P(RunnerTest, AValueOverTheStoreLimitFailsItsStep) {
  if (!has_store()) GTEST_SKIP() << "no store limits without a store";
  const std::size_t limit = store_->limits().max_value_bytes;
  auto wf =
      *Workflow::Builder("big", 1)
           .Step("huge",
                 [limit](const Value&, std::stop_token) -> Result<Value> { return Value(std::string(limit + 1, 'x')); })
           .Build();
  RunOnce(wf, 1);
  Result<WorkflowInfo> info = runner_->Lookup("wf");
  EXPECT_EQ(info->state, WorkflowState::kHalted);
  EXPECT_TRUE(info->error.IsInvalidArgument()) << info->error.ToString();
  EXPECT_NE(info->error.message().find("limit"), std::string::npos);
  EXPECT_TRUE(runner_->Run("wf", Value(std::string(limit + 1, 'y'))).IsInvalidArgument());
}

TEST_P(RunnerTest, SnapshotsAndTrimsLetResumeReplayOnlyTheTail) {
  if (!has_store()) GTEST_SKIP() << "no store";
  auto wf = *Workflow::Builder("snap", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  WorkflowOptions o;
  o.snapshot_every = 5;
  o.trim_after_snapshot = true;
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf, o).ok());
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(runner_->Run("wf", i).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  ASSERT_TRUE(runner_->Stop("wf").ok());
  Result<Snapshot> snap = store_->LoadSnapshot("wf");
  ASSERT_TRUE(snap.ok());
  EXPECT_GT(snap->cursor, 0u);
  EXPECT_TRUE(store_->Stream("wf").status().IsTrimmed());
  runner_ = MakeRunner();
  ASSERT_TRUE(runner_->Register(wf).ok());
  ASSERT_TRUE(runner_->Resume("wf", o).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  WorkflowResults r = *runner_->GetResults("wf");
  EXPECT_EQ(r["b"].size(), 10u);
  EXPECT_EQ(runner_->Lookup("wf")->redispatched, 0u);
  ASSERT_TRUE(runner_->Run("wf", 100).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["b"].size(), 11u);
}

TEST_P(RunnerTest, ShutdownCheckpointsAndRefusesNewWork) {
  auto wf = *Workflow::Builder("sd", 1).Step("a", AddOne()).Build();
  WorkflowOptions manual;
  manual.checkpoint = CheckpointStrategy::kManual;
  RunOnce(wf, 1, "wf", manual);
  runner_->Shutdown();
  runner_->Shutdown();  // idempotent
  EXPECT_FALSE(runner_->StartWorkflow("other", wf).ok());
  if (has_store()) {
    std::vector<std::string> types = StoredEventTypes("wf");
    EXPECT_EQ(std::count(types.begin(), types.end(), "done"), 1);
  }
}

// A step that waits (bounded) for `go`.
StepFn Gated(std::atomic<bool>* go, std::atomic<int>* started) {
  return [go, started](const Value& v, std::stop_token) -> Result<Value> {
    ++*started;
    for (int i = 0; i < 5000 && !go->load(); ++i) std::this_thread::sleep_for(1ms);
    return v;
  };
}

TEST_P(RunnerTest, ShutdownLetsRunningStepsFinishAndRecordsThem) {
  std::atomic<bool> go{false};
  std::atomic<int> started{0};
  auto wf = *Workflow::Builder("drain", 1).Step("slow", Gated(&go, &started)).Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf).ok());
  ASSERT_TRUE(runner_->Run("wf", 1).ok());
  for (int i = 0; i < 5000 && started.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  std::thread release([&] {
    std::this_thread::sleep_for(50ms);
    go = true;
  });
  runner_->Shutdown();  // waits for the step, which was not cancelled
  release.join();
  EXPECT_EQ((*runner_->GetResults("wf"))["slow"], std::vector<Value>{1});
  if (has_store()) {
    std::vector<std::string> types = StoredEventTypes("wf");
    EXPECT_EQ(std::count(types.begin(), types.end(), "done"), 1);
    EXPECT_EQ(std::count(types.begin(), types.end(), "fail"), 0);
  }
}

TEST_P(RunnerTest, AStoppedWorkflowWritesAndReportsNothingMore) {
  std::atomic<bool> go{false};
  std::atomic<int> started{0}, completions{0};
  auto wf = *Workflow::Builder("stopped", 1).Step("slow", Gated(&go, &started)).Build();
  runner_ = MakeRunner(nullptr, [&](const std::string&, const Status&) { ++completions; });
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf).ok());
  ASSERT_TRUE(runner_->Run("wf", 1).ok());
  for (int i = 0; i < 5000 && started.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(runner_->Stop("wf", /*persist=*/false).ok());
  const std::size_t stored = has_store() ? StoredEventTypes("wf").size() : 0;
  go = true;
  runner_->Shutdown();  // the pool has run the step to its end
  EXPECT_EQ(completions.load(), 0);
  if (has_store()) {
    EXPECT_EQ(StoredEventTypes("wf").size(), stored);
  }
  EXPECT_EQ(std::ranges::count(runner_->ListWorkflows(), "wf"), 0) << "not loaded";
}

// The runner's on_complete is told of the workflows it resumed too.
TEST_P(RunnerTest, OnCompleteIsCalledForResumedWorkflows) {
  if (!has_store()) GTEST_SKIP() << "no store";
  std::atomic<bool> go{false};
  std::atomic<int> started{0};
  auto wf = *Workflow::Builder("told", 1).Step("slow", Gated(&go, &started)).Build();
  ASSERT_TRUE(runner_->StartWorkflow("wf", wf).ok());
  ASSERT_TRUE(runner_->Run("wf", 1).ok());
  for (int i = 0; i < 5000 && started.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(runner_->Stop("wf", /*persist=*/true).ok());
  go = true;
  runner_->Shutdown();

  std::mutex mu;
  std::vector<std::pair<std::string, Status>> told;
  runner_ = MakeRunner(nullptr, [&](const std::string& id, const Status& s) {
    std::lock_guard lock(mu);
    told.emplace_back(id, s);
  });
  ASSERT_TRUE(runner_->Register(wf).ok());
  Result<ResumeAllReport> report = runner_->ResumeAll();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->resumed, std::vector<std::string>{"wf"});
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  std::lock_guard lock(mu);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].first, "wf");
  EXPECT_TRUE(told[0].second.ok()) << told[0].second.ToString();
}

// Many workflows at once: their checkpoints share store writes (the
// committer), yet every workflow ends with its own right result and its own
// complete, contiguous history, every step after the fact it consumes.
TEST_P(RunnerTest, ManyWorkflowsAtOnceKeepTheirOwnHistories) {
  auto wf = *Workflow::Builder("many", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Step("c", AddOne(), "b").Build();
  constexpr int kWorkflows = 60;
  for (int i = 0; i < kWorkflows; ++i) {
    const std::string id = "w" + std::to_string(i);
    ASSERT_TRUE(runner_->StartWorkflow(id, wf).ok());
    ASSERT_TRUE(runner_->Run(id, i * 10).ok());
  }
  for (int i = 0; i < kWorkflows; ++i) {
    const std::string id = "w" + std::to_string(i);
    ASSERT_TRUE(runner_->AwaitIdle(id, 20s).ok());
    EXPECT_EQ((*runner_->GetResults(id))["c"], std::vector<Value>{i * 10 + 3});
    if (!has_store()) continue;
    EXPECT_EQ(StoredEventTypes(id),
              (std::vector<std::string>{"start", "input", "dispatch", "done", "dispatch", "done", "dispatch", "done"}));
    EXPECT_EQ(runner_->Lookup(id)->cursor, 8u);  // what the worker committed is what the store holds
  }
}

// on_complete may call back into the Runner, including operations that wait
// for another workflow's queued checkpoint.
TEST_P(RunnerTest, OnCompleteMayStopAndCheckpointWorkflows) {
  auto wf = *Workflow::Builder("cb", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  constexpr int kWorkflows = 20;
  std::atomic<int> stopped{0};
  Runner* runner = nullptr;  // set before any workflow starts
  runner_ = MakeRunner(nullptr, [&](const std::string& id, const Status&) {
    for (int i = 0; i < kWorkflows; ++i) (void)runner->Checkpoint("w" + std::to_string(i));
    if (runner->Stop(id).ok()) ++stopped;
  });
  runner = runner_.get();
  for (int i = 0; i < kWorkflows; ++i) {
    const std::string id = "w" + std::to_string(i);
    ASSERT_TRUE(runner_->StartWorkflow(id, wf).ok());
    ASSERT_TRUE(runner_->Run(id, i).ok());
  }
  for (int i = 0; i < 20000 && stopped.load() < kWorkflows; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(stopped.load(), kWorkflows);
  EXPECT_TRUE(runner_->ListWorkflows().empty());
  if (has_store()) {
    for (int i = 0; i < kWorkflows; ++i) {
      std::vector<std::string> types = StoredEventTypes("w" + std::to_string(i));
      EXPECT_EQ(std::count(types.begin(), types.end(), "done"), 2);
    }
  }
}

// Fact hashes depend only on the value, the producing node and the parents'
// hashes, through a fixed encoding: these are the same on every build and
// machine (a change here breaks resuming workflows stored by older builds).
TEST_P(RunnerTest, FactHashesAreStable) {
  if (!has_store()) GTEST_SKIP() << "hashes are read from the store's events";
  auto wf = *Workflow::Builder("golden", 1)
                 .Step("inc", AddOne())
                 .Step(
                     "wrap",
                     [](const Value& v, std::stop_token) -> Result<Value> {
                       return Value{{"n", v}, {"s", "x"}};
                     },
                     "inc")
                 .Build();
  RunOnce(wf, 41, "g");
  std::vector<std::string> facts;
  for (const HistoryEvent& e : StoredEvents("g")) {
    if (!e.fact.empty()) facts.push_back(std::string(HistoryEventKindName(e.kind)) + " " + e.fact);
  }
  EXPECT_EQ(facts, (std::vector<std::string>{
                       "input 60dbcab8ed038aac73893ed81723a37142e493c40269913a1da75faf37ac57e7",
                       "done 200d6f9eb676bf6dc11052cf15abb3e931c8dd1267407fa9281873d8453c300c",
                       "done db7e69a6b1375d9c35c060f1d56a6ff80d0f925276594c1c2ea174a469c4ba10",
                   }));
}

// Ownership (Store::Claim / Release; see runner.h): no-ops on these engines,
// but the runner makes them at the right moments, as its store telemetry
// shows.

TEST_P(RunnerTest, AStartedWorkflowIsClaimedBeforeItsFirstWriteAndGivenUpOnceFinished) {
  if (!has_store()) GTEST_SKIP() << "no store";
  ObserveStore();
  auto wf = *Workflow::Builder("own", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  RunOnce(wf, 1, "wf");  // every cycle: the last checkpoint goes through the committer
  std::vector<OpLog::Op> ops = ops_.Take();
  ASSERT_FALSE(ops.empty());
  EXPECT_EQ(ops.front(), OpLog::Op(StoreOp::kClaim, "wf")) << Trace(ops);
  EXPECT_EQ(ops.back(), OpLog::Op(StoreOp::kRelease, "wf")) << Trace(ops);
  EXPECT_EQ(CountOp(ops, StoreOp::kClaim), 1u) << Trace(ops);
  EXPECT_EQ(CountOp(ops, StoreOp::kRelease), 1u) << Trace(ops);
  const std::vector<std::string> stored = StoredEventTypes("wf");
  EXPECT_EQ(std::count(stored.begin(), stored.end(), "done"), 2);

  // An input to the finished workflow claims it again before it is written;
  // it is given up again once finished.
  ASSERT_TRUE(runner_->Run("wf", 10).ok());
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  ops = ops_.Take();
  ASSERT_FALSE(ops.empty());
  EXPECT_EQ(ops.front(), OpLog::Op(StoreOp::kClaim, "wf")) << Trace(ops);
  EXPECT_EQ(ops.back(), OpLog::Op(StoreOp::kRelease, "wf")) << Trace(ops);
  EXPECT_EQ(CountOp(ops, StoreOp::kClaim), 1u) << Trace(ops);
  EXPECT_EQ((*runner_->GetResults("wf"))["b"], (std::vector<Value>{3, 12}));

  // Stopping a workflow given up already writes and releases nothing (it
  // reads the workflow's head: an inbox entry sent meanwhile loads it).
  ASSERT_TRUE(runner_->Stop("wf").ok());
  EXPECT_EQ(Trace(ops_.Take()), "describe wf");

  // A start that fails gives up what it claimed.
  EXPECT_TRUE(runner_->StartWorkflow("wf", wf).IsConflict());
  EXPECT_EQ(Trace(ops_.Take()), "claim wf, append wf, release wf");
}

TEST_P(RunnerTest, AHaltedWorkflowIsGivenUpOnceItsFailureIsWritten) {
  if (!has_store()) GTEST_SKIP() << "no store";
  ObserveStore();
  auto wf = *Workflow::Builder("own-halt", 1)
                 .Step("broken", [](const Value&, std::stop_token) -> Result<Value> { return Status::IOError("no"); })
                 .Build();
  RunOnce(wf, 1, "wf");
  ASSERT_EQ(runner_->Lookup("wf")->state, WorkflowState::kHalted);
  std::vector<OpLog::Op> ops = ops_.Take();
  ASSERT_FALSE(ops.empty());
  EXPECT_EQ(ops.front(), OpLog::Op(StoreOp::kClaim, "wf")) << Trace(ops);
  EXPECT_EQ(ops.back(), OpLog::Op(StoreOp::kRelease, "wf")) << Trace(ops);
  std::vector<std::string> types = StoredEventTypes("wf");
  EXPECT_EQ(std::count(types.begin(), types.end(), "fail"), 1);
}

TEST_P(RunnerTest, AResumedWorkflowIsClaimedBeforeItIsReadAndGivenUpOnceFinished) {
  if (!has_store()) GTEST_SKIP() << "no store";
  ObserveStore();
  auto wf = *Workflow::Builder("own-resume", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  WorkflowOptions manual;
  manual.checkpoint = CheckpointStrategy::kManual;
  RunOnce(wf, 1, "wf", manual);
  ASSERT_TRUE(runner_->Stop("wf", /*persist=*/false).ok());  // the store has: start, input, dispatch
  std::vector<std::string> stored = StoredEventTypes("wf");
  ASSERT_EQ(std::count(stored.begin(), stored.end(), "done"), 0);

  runner_ = MakeRunnerOn(observed_.get());  // as after a restart
  ASSERT_TRUE(runner_->Register(wf).ok());
  (void)ops_.Take();
  ASSERT_TRUE(runner_->Resume("wf", WorkflowOptions{}).ok());  // checkpoints every cycle now
  ASSERT_TRUE(runner_->AwaitIdle("wf", 20s).ok());
  EXPECT_EQ((*runner_->GetResults("wf"))["b"], std::vector<Value>{3});
  std::vector<OpLog::Op> ops = ops_.Take();
  ASSERT_FALSE(ops.empty());
  EXPECT_EQ(ops.front(), OpLog::Op(StoreOp::kClaim, "wf")) << "claimed before any read: " << Trace(ops);
  EXPECT_GE(CountOp(ops, StoreOp::kStream), 1u) << Trace(ops);
  EXPECT_TRUE(std::any_of(ops.begin(), ops.end(), [](const OpLog::Op& o) { return IsWrite(o.first); })) << Trace(ops);
  EXPECT_EQ(ops.back(), OpLog::Op(StoreOp::kRelease, "wf")) << "given up after the last write: " << Trace(ops);
  EXPECT_EQ(CountOp(ops, StoreOp::kRelease), 1u) << Trace(ops);

  // A finished workflow is claimed to be read, and given up at once, though
  // it stays loaded.
  ASSERT_TRUE(runner_->Stop("wf").ok());
  runner_ = MakeRunnerOn(observed_.get());
  ASSERT_TRUE(runner_->Register(wf).ok());
  (void)ops_.Take();
  ASSERT_TRUE(runner_->Resume("wf").ok());
  ops = ops_.Take();
  ASSERT_FALSE(ops.empty());
  EXPECT_EQ(ops.front(), OpLog::Op(StoreOp::kClaim, "wf")) << Trace(ops);
  EXPECT_EQ(ops.back(), OpLog::Op(StoreOp::kRelease, "wf")) << Trace(ops);
  EXPECT_EQ(runner_->ListWorkflows(), std::vector<std::string>{"wf"});

  // ResumeAll reads only the store's indexes for a finished workflow: it
  // neither claims nor reads it.
  ASSERT_TRUE(runner_->Stop("wf").ok());
  EXPECT_EQ(Trace(ops_.Take()), "describe wf");  // Stop looks for inbox entries
  runner_ = MakeRunnerOn(observed_.get());
  ASSERT_TRUE(runner_->Register(wf).ok());
  (void)ops_.Take();
  Result<ResumeAllReport> resumed = runner_->ResumeAll();
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_TRUE(resumed->resumed.empty());
  EXPECT_TRUE(resumed->failed.empty());
  ops = ops_.Take();
  for (const OpLog::Op& op : ops) EXPECT_NE(op.second, "wf") << Trace(ops);
}

TEST_P(RunnerTest, StopAndShutdownGiveUpWhatIsHeldAfterTheirLastWrite) {
  if (!has_store()) GTEST_SKIP() << "no store";
  ObserveStore();
  auto wf = *Workflow::Builder("own-stop", 1).Step("a", AddOne()).Build();
  WorkflowOptions manual;  // idle with a checkpoint to write: still held
  manual.checkpoint = CheckpointStrategy::kManual;
  RunOnce(wf, 1, "stopped", manual);
  RunOnce(wf, 1, "shut", manual);
  std::vector<OpLog::Op> ops = ops_.Take();
  EXPECT_EQ(CountOp(ops, StoreOp::kRelease), 0u) << Trace(ops);

  ASSERT_TRUE(runner_->Stop("stopped").ok());
  ops = ops_.Take();
  EXPECT_EQ(Trace(ops), "append stopped, release stopped, describe stopped");

  runner_->Shutdown();
  ops = ops_.Take();
  EXPECT_EQ(Trace(ops), "append shut, release shut");
  const std::vector<std::string> stored = StoredEventTypes("shut");
  EXPECT_EQ(std::count(stored.begin(), stored.end(), "done"), 1);
}

// A claim that fails (here: the database is read-only) fails StartWorkflow
// and Resume before anything is read or written for the workflow, as
// kNotOwner does when another runner holds it.
TEST_P(RunnerTest, AFailedClaimWritesAndReadsNothing) {
  if (GetParam() != Engine::kDisk && GetParam() != Engine::kDiskSync) GTEST_SKIP() << "read-only needs the disk engine";
  // "old" is stopped while its step runs: ResumeAll has it to resume.
  std::atomic<bool> go{false};
  std::atomic<int> started{0};
  auto wf = *Workflow::Builder("own-ro", 1)
                 .Step("a",
                       [&](const Value& v, std::stop_token) -> Result<Value> {
                         ++started;
                         for (int i = 0; i < 10000 && !go.load(); ++i) std::this_thread::sleep_for(1ms);
                         return v;
                       })
                 .Build();
  ASSERT_TRUE(runner_->StartWorkflow("old", wf, std::nullopt, StartOptions{.input = 1}).ok());
  for (int i = 0; i < 5000 && started.load() == 0; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(runner_->Stop("old").ok());
  go = true;
  DatabaseOptions o = db_->options();
  runner_.reset();  // closes the database: it opens read-only only after
  store_.reset();
  db_.reset();
  o.read_only = true;
  Result<std::shared_ptr<Database>> ro = Database::Open(o);
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  OpLog log;
  std::unique_ptr<Store> store = std::move(*(*ro)->OpenStore("runner-test", StoreOptions{log.Telemetry()}));
  std::unique_ptr<Runner> runner = MakeRunnerOn(store.get());
  ASSERT_TRUE(runner->Register(wf).ok());

  EXPECT_TRUE(runner->StartWorkflow("new", wf).IsInvalidArgument());
  EXPECT_EQ(Trace(log.Take()), "claim new");
  Status s = runner->Resume("old");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ(Trace(log.Take()), "claim old");
  Result<ResumeAllReport> all = runner->ResumeAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->failed.size(), 1u);
  EXPECT_EQ(all->failed[0].id, "old");
  EXPECT_TRUE(all->failed[0].status.IsInvalidArgument()) << all->failed[0].status.ToString();
  EXPECT_TRUE(all->resumed.empty());
  EXPECT_TRUE(runner->ListWorkflows().empty());
  runner.reset();
}

INSTANTIATE_TEST_SUITE_P(Engines, RunnerTest,
                         ::testing::Values(Engine::kNone, Engine::kMemory, Engine::kDisk, Engine::kDiskSync),
                         [](const ::testing::TestParamInfo<Engine>& info) { return Name(info.param); });

TEST(Workflow, BuildRefusesBadGraphs) {
  EXPECT_TRUE(Workflow::Builder("", 1).Step("a", AddOne()).Build().status().IsInvalidArgument());
  EXPECT_TRUE(Workflow::Builder("w", 1).Build().status().IsInvalidArgument());
  EXPECT_TRUE(Workflow::Builder("w", 1).Step("a", AddOne()).Step("a", AddOne()).Build().status().IsInvalidArgument());
  EXPECT_TRUE(Workflow::Builder("w", 1).Step("a", AddOne(), "later").Build().status().IsInvalidArgument());
  EXPECT_TRUE(
      Workflow::Builder("w", 1).Step("a", AddOne()).Join("j", {"a"}, nullptr).Build().status().IsInvalidArgument());
  EXPECT_TRUE(Workflow::Builder("w", 1).Step("a", nullptr).Build().status().IsInvalidArgument());
  StepPolicy negative;
  negative.max_retries = -1;
  EXPECT_TRUE(Workflow::Builder("w", 1).Step("a", AddOne()).Policy("*", negative).Build().status().IsInvalidArgument());
}

TEST(Workflow, PoliciesResolveExactThenPrefixThenDefault) {
  StepPolicy def, prefix, exact;
  def.max_retries = 1;
  prefix.max_retries = 2;
  exact.max_retries = 3;
  auto wf = *Workflow::Builder("p", 1)
                 .Step("charge-card", AddOne())
                 .Step("charge-bank", AddOne())
                 .Step("other", AddOne())
                 .Policy("*", def)
                 .Policy("charge-*", prefix)
                 .Policy("charge-card", exact)
                 .Build();
  EXPECT_EQ(wf->Find("charge-card")->policy.max_retries, 3);
  EXPECT_EQ(wf->Find("charge-bank")->policy.max_retries, 2);
  EXPECT_EQ(wf->Find("other")->policy.max_retries, 1);
}

TEST(Workflow, FingerprintsAreStableAndSeeStructure) {
  auto a = *Workflow::Builder("w", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  auto same = *Workflow::Builder("w", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Build();
  auto other = *Workflow::Builder("w", 1).Step("a", AddOne()).Step("b", AddOne()).Build();
  StepPolicy p;
  p.max_retries = 2;
  auto policy = *Workflow::Builder("w", 1).Step("a", AddOne()).Step("b", AddOne(), "a").Policy("b", p).Build();
  EXPECT_EQ(a->fingerprint(), same->fingerprint());
  EXPECT_NE(a->fingerprint(), other->fingerprint());
  EXPECT_NE(a->fingerprint(), policy->fingerprint());
  EXPECT_EQ(a->fingerprint().size(), 64u);
}

}  // namespace
}  // namespace runic
