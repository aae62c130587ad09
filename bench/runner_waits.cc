// R4 and R5: the Runner's durable waits (runner_workloads.h).
//
// R4: N workflows (10 x runner_workflows) each start with a Delay of 1 s of
// real time, then a step that stamps the wall clock. A workflow's due time
// is at least its start call's wall time + 1 s, so `wake_late` (the step's
// stamp minus that) is never smaller than the true lateness, and a stamp
// before it is certainly early (`woken_early`, must be 0).
//
// R5: N workflows wait at an Await "go"; once all wait, 4 threads send one
// signal each (a quarter of the workflows per thread), stamping each send;
// the step after the await stamps its run. `signal_to_done` is stamp minus
// send; `signals_per_s` is N over the time from the first send to the last
// acknowledgement; `signals_lost` counts workflows not done, and
// `signals_duplicated` the steps that ran more than once.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runner_env.h"
#include "runner_workloads.h"
#include "stats.h"
#include "system.h"
#include "target.h"

namespace bench {
namespace {

using runic::Value;
using WallClock = std::chrono::system_clock;
constexpr int kPerRunnerWorkflow = 10;
constexpr auto kDelay = std::chrono::seconds(1);
constexpr auto kAwaitAll = std::chrono::minutes(5);
constexpr int kSenders = 4;

std::int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(WallClock::now().time_since_epoch()).count();
}

void Check(const runic::Status& s, const std::string& what) {
  if (!s.ok()) throw BenchError(what + ": " + s.ToString());
}

// Per workflow: a wall-clock stamp (0: none yet) and how often it was set.
struct Stamps {
  explicit Stamps(int n) : at(static_cast<std::size_t>(n)), runs(static_cast<std::size_t>(n)) {}
  std::vector<std::atomic<std::int64_t>> at;
  std::vector<std::atomic<int>> runs;
  void Mark(int i) {
    at[static_cast<std::size_t>(i)].store(WallMicros());
    runs[static_cast<std::size_t>(i)].fetch_add(1);
  }
};

std::string Id(const char* prefix, int i) { return prefix + std::to_string(i); }

// The step after the wait: stamps its workflow (the input carries its index).
runic::StepFn Stamping(std::shared_ptr<Stamps> stamps, bool awaited) {
  return [stamps, awaited](const Value& v, std::stop_token) -> runic::Result<Value> {
    const Value& input = awaited ? v["input"] : v;
    stamps->Mark(input.get<int>());
    return input;
  };
}

// R4's or R5's row: `ops_per_s`, the latencies of `lat` (ms in extra as
// `<name>_p50_ms`, `<name>_p99_ms`), the peak RSS.
Row WaitRow(const std::string& engine, const std::string& mode, const std::string& workload, int n, double ops_per_s,
            Latencies lat, const std::string& name, double rss) {
  const Summary sum = Summarize(std::move(lat));
  Row r;
  r.engine = engine;
  r.mode = mode;
  r.workload = workload;
  r.ops_per_s = ops_per_s;
  r.p50_us = sum.p50_us;
  r.p99_us = sum.p99_us;
  r.mean_us = sum.mean_us;
  r.rss_mb = rss;
  r.extra["workflows"] = n;
  r.extra[name + "_p50_ms"] = sum.p50_us / 1e3;
  r.extra[name + "_p99_ms"] = sum.p99_us / 1e3;
  return r;
}

void AwaitAllIdle(runic::Runner& runner, const char* prefix, int n) {
  for (int i = 0; i < n; ++i) Check(runner.AwaitIdle(Id(prefix, i), kAwaitAll), "awaiting " + Id(prefix, i));
}

}  // namespace

Row RunR4(const std::string& engine, const std::string& mode, const Scale& scale, const std::string& dir) {
  const int n = scale.runner_workflows * kPerRunnerWorkflow;
  auto stamps = std::make_shared<Stamps>(n);
  auto wf = runic::Workflow::Builder("bench-timer", 1)
                .Delay("wait", std::chrono::duration_cast<std::chrono::milliseconds>(kDelay))
                .Step("woke", Stamping(stamps, false), "wait")
                .Build();
  Check(wf.status(), "building R4");
  std::unique_ptr<RunnerEnv> env = OpenEnv(engine, mode, dir);
  ResetPeakRss();
  std::vector<std::int64_t> earliest_due(static_cast<std::size_t>(n));
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    runic::StartOptions s;
    s.input = i;
    earliest_due[static_cast<std::size_t>(i)] = WallMicros() + std::chrono::microseconds(kDelay).count();
    Check(env->runner->StartWorkflow(Id("r4-", i), *wf, std::nullopt, s), "starting R4 " + std::to_string(i));
  }
  AwaitAllIdle(*env->runner, "r4-", n);
  const double wall_us = MicrosSince(start);
  const double rss = PeakRssMb();
  Latencies late;
  double early = 0;
  for (int i = 0; i < n; ++i) {
    const std::int64_t at = stamps->at[static_cast<std::size_t>(i)].load();
    if (at == 0) throw BenchError("R4 workflow " + std::to_string(i) + " never woke");
    const std::int64_t late_us = at - earliest_due[static_cast<std::size_t>(i)];
    early += late_us < 0;
    late.Add(static_cast<double>(std::max<std::int64_t>(0, late_us)));
  }
  env.reset();
  Row r = WaitRow(engine, mode, "R4", n, wall_us > 0 ? n / (wall_us / 1e6) : 0, std::move(late), "wake_late", rss);
  r.extra["woken_early"] = early;
  return r;
}

Row RunR5(const std::string& engine, const std::string& mode, const Scale& scale, const std::string& dir) {
  const int n = scale.runner_workflows * kPerRunnerWorkflow;
  auto stamps = std::make_shared<Stamps>(n);
  auto wf = runic::Workflow::Builder("bench-signal", 1)
                .Await("wait", "go")
                .Step("done", Stamping(stamps, true), "wait")
                .Build();
  Check(wf.status(), "building R5");
  std::unique_ptr<RunnerEnv> env = OpenEnv(engine, mode, dir);
  ResetPeakRss();
  for (int i = 0; i < n; ++i) {
    runic::StartOptions s;
    s.input = i;
    Check(env->runner->StartWorkflow(Id("r5-", i), *wf, std::nullopt, s), "starting R5 " + std::to_string(i));
  }
  // Every await has started (the start's write is durable and the await's
  // wait is recorded in the same cycle): sends go to waiting workflows.
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 100000; ++k) {
      runic::Result<runic::WorkflowInfo> info = env->runner->Lookup(Id("r5-", i));
      if (info.ok() && info->state == runic::WorkflowState::kWaiting) break;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  }
  std::vector<std::int64_t> sent(static_cast<std::size_t>(n));
  std::atomic<int> failures{0};
  const auto start = Clock::now();
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      for (int i = t; i < n; i += kSenders) {
        sent[static_cast<std::size_t>(i)] = WallMicros();
        if (!env->runner->Signal(Id("r5-", i), "go", Value{{"n", i}}, "go-" + std::to_string(i)).ok()) ++failures;
      }
    });
  }
  for (std::thread& t : senders) t.join();
  const double send_us = MicrosSince(start);
  if (failures.load() != 0) throw BenchError("R5: " + std::to_string(failures.load()) + " signals were refused");
  AwaitAllIdle(*env->runner, "r5-", n);
  const double rss = PeakRssMb();
  Latencies to_done;
  double lost = 0, duplicated = 0;
  for (int i = 0; i < n; ++i) {
    const std::int64_t at = stamps->at[static_cast<std::size_t>(i)].load();
    const int runs = stamps->runs[static_cast<std::size_t>(i)].load();
    lost += runs == 0;
    duplicated += runs > 1;
    if (at != 0) to_done.Add(static_cast<double>(std::max<std::int64_t>(0, at - sent[static_cast<std::size_t>(i)])));
  }
  env.reset();
  Row r =
      WaitRow(engine, mode, "R5", n, send_us > 0 ? n / (send_us / 1e6) : 0, std::move(to_done), "signal_to_done", rss);
  r.extra["signals_per_s"] = r.ops_per_s;
  r.extra["signals_lost"] = lost;
  r.extra["signals_duplicated"] = duplicated;
  if (lost != 0 || duplicated != 0) {
    throw BenchError("R5: " + std::to_string(static_cast<int>(lost)) + " signals lost, " +
                     std::to_string(static_cast<int>(duplicated)) + " applied twice");
  }
  return r;
}

}  // namespace bench
