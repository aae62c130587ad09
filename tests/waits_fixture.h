// The fixture of the durable-waits tests (runner_waits_test.cc,
// runner_controls_test.cc): a runner with a ManualClock that starts at
// kT0, on each engine (RunnerWaitsTest's parameter), and helpers that read
// what the store holds.
#ifndef RUNIC_TESTS_WAITS_FIXTURE_H_
#define RUNIC_TESTS_WAITS_FIXTURE_H_

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "runic/runic.h"
#include "test_util.h"

#ifdef RUNIC_WAITS_ETCD
#include "shared_etcd_cluster.h"
#endif

namespace runic {

using namespace std::chrono_literals;
using SystemTime = std::chrono::system_clock::time_point;

struct WaitEngine {
  const char* name;
  bool store;
  bool disc_copies;
  bool sync;
};
inline void PrintTo(const WaitEngine& e, std::ostream* os) { *os << e.name; }

#ifdef RUNIC_WAITS_ETCD
inline constexpr WaitEngine kWaitEngines[] = {{"etcd", true, true, false}};
#else
inline constexpr WaitEngine kWaitEngines[] = {
    {"none", false, false, false},
    {"memory", true, false, false},
    {"disk", true, true, false},
    {"disk_sync", true, true, true},
};
#endif

// 2030-01-01 UTC: the instant every test's clock starts at.
inline const SystemTime kT0 = SystemTime(std::chrono::seconds(1893456000));
inline constexpr std::int64_t kT0Us = 1893456000LL * 1000000;

// `v` as one CBOR item.
inline std::string Cbor(const Value& v) {
  const std::vector<std::uint8_t> bytes = Value::to_cbor(v);
  return std::string(bytes.begin(), bytes.end());
}

// A step that counts its calls and adds one.
inline StepFn Counted(std::atomic<int>* calls) {
  return [calls](const Value& v, std::stop_token) -> Result<Value> {
    ++*calls;
    return Value(v.get<int>() + 1);
  };
}

class RunnerWaitsTest : public ::testing::TestWithParam<WaitEngine> {
 protected:
  void SetUp() override {
    if (GetParam().store) {
      DatabaseOptions o;
      o.disc_copies = GetParam().disc_copies;
      o.sync = GetParam().sync;
      o.dir = o.disc_copies ? dir_.Sub("db") : dir_.path();
#ifdef RUNIC_WAITS_ETCD
      o.nodes = test::SharedEtcdCluster().ClientEndpoints();
      o.dir = dir_.path();  // a database of its own on the shared cluster
#endif
      Result<std::shared_ptr<Database>> db = Database::Open(o);
      ASSERT_TRUE(db.ok()) << db.status().ToString();
      db_ = std::move(*db);
      store_ = std::move(*db_->OpenStore("waits-test"));
    }
    clock_ = std::make_shared<ManualClock>(kT0);
    runner_ = MakeRunner(clock_);
  }

  void TearDown() override {
    runner_.reset();
    store_.reset();
  }

  std::unique_ptr<Runner> MakeRunner(std::shared_ptr<Clock> clock) {
    RunnerOptions o;
    o.name = "waits";
    o.store = store_.get();
    o.threads = 2;
    o.clock = std::move(clock);
    Configure(o);
    Result<std::unique_ptr<Runner>> runner = Runner::Create(std::move(o));
    EXPECT_TRUE(runner.ok()) << runner.status().ToString();
    return runner.ok() ? std::move(*runner) : nullptr;
  }
  // What a suite changes of the runner's options.
  virtual void Configure(RunnerOptions&) {}

  bool has_store() const { return GetParam().store; }

  // Polls (real time, bounded) until `id` is in `state`.
  WorkflowState AwaitState(const std::string& id, WorkflowState state) {
    WorkflowState now = WorkflowState::kRunning;
    for (int i = 0; i < 5000; ++i) {
      Result<WorkflowInfo> info = runner_->Lookup(id);
      if (info.ok()) now = info->state;
      if (now == state) break;
      std::this_thread::sleep_for(1ms);
    }
    return now;
  }

  // Stops the runner (checkpointing everything), then makes a new one whose
  // clock starts at `wall` (a process restarted then), with `wf` registered,
  // and resumes `id`.
  void RestartAt(SystemTime wall, const std::shared_ptr<const Workflow>& wf, const std::string& id) {
    runner_->Shutdown();
    runner_.reset();
    clock_ = std::make_shared<ManualClock>(wall);
    runner_ = MakeRunner(clock_);
    ASSERT_TRUE(runner_->Register(wf).ok());
    Status s = runner_->Resume(id);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::vector<HistoryEvent> Events(const std::string& id, HistoryEventKind kind) {
    HistoryReadOptions o;
    o.events = true;
    Result<WorkflowHistory> h = ReadHistory(*store_, id, o);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    std::vector<HistoryEvent> out;
    if (!h.ok()) return out;
    for (HistoryEvent& e : h->events) {
      if (e.kind == kind) out.push_back(std::move(e));
    }
    return out;
  }

  std::vector<std::string> IdsInState(WorkflowState state) {
    StateListOptions o;
    o.tag = StateIndexPrefix(state);
    o.tag_is_prefix = true;
    Result<StatePage> page = store_->ListByState(o);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    std::vector<std::string> ids;
    if (page.ok()) {
      for (const TaggedId& e : page->entries) ids.push_back(e.id);
    }
    return ids;
  }

  std::vector<DueEntry> Due() {
    Result<DuePage> page = store_->ListDue();
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->entries : std::vector<DueEntry>{};
  }

  test::TempDir dir_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<Store> store_;
  std::shared_ptr<ManualClock> clock_;
  std::unique_ptr<Runner> runner_;
};

}  // namespace runic

#endif  // RUNIC_TESTS_WAITS_FIXTURE_H_
