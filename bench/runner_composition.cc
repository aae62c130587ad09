// R7: the Runner's maps (runner_workloads.h).
//
// R7: N workflows (runner_workflows) each map over kElements elements (one
// step each, x -> x + 1) and reduce them (the sum), started at once like
// R2. `steps_per_s` counts the map, every element's step and the reduce;
// `cpu_us_per_step` is the process's CPU time (all threads) over them.
#include <chrono>
#include <memory>
#include <string>

#include "runner_env.h"
#include "runner_workloads.h"
#include "stats.h"
#include "system.h"
#include "target.h"

namespace bench {
namespace {

using runic::Value;

constexpr int kElements = 100;
constexpr int kStepsPerWorkflow = kElements + 2;  // the map, each element, the reduce
constexpr auto kAwaitAll = std::chrono::minutes(10);

void Check(const runic::Status& s, const std::string& what) {
  if (!s.ok()) throw BenchError(what + ": " + s.ToString());
}

std::string Id(int i) { return "r7-" + std::to_string(i); }

// items: input x -> [x, x + 1, ..., x + 99]; each element e -> e + 1; sum.
std::shared_ptr<const runic::Workflow> MapReduce() {
  auto wf = runic::Workflow::Builder("bench-map", 1)
                .Map("items",
                     [](const Value& x, std::stop_token) -> runic::Result<Value> {
                       Value a = Value::array();
                       for (int k = 0; k < kElements; ++k) a.push_back(x.get<std::int64_t>() + k);
                       return a;
                     })
                .Step(
                    "work",
                    [](const Value& e, std::stop_token) -> runic::Result<Value> {
                      if (!e.is_number_integer()) return runic::Status::InvalidArgument("work: not an integer");
                      return Value(e.get<std::int64_t>() + 1);
                    },
                    "items")
                .Reduce("sum", "items", "work", 0,
                        [](Value acc, const Value& v) -> runic::Result<Value> {
                          return Value(acc.get<std::int64_t>() + v.get<std::int64_t>());
                        })
                .Build();
  Check(wf.status(), "building R7");
  return *wf;
}

std::int64_t Expected(std::int64_t x) { return kElements * (x + 1) + kElements * (kElements - 1) / 2; }

}  // namespace

Row RunR7(const std::string& engine, const std::string& mode, const Scale& scale, const std::string& dir) {
  const int n = scale.runner_workflows;
  const std::shared_ptr<const runic::Workflow> wf = MapReduce();
  std::unique_ptr<RunnerEnv> env = OpenEnv(engine, mode, dir);
  Check(env->runner->Register(wf), "registering R7");
  ResetPeakRss();
  const auto start = Clock::now();
  const double cpu_start = ProcessCpuUs();
  for (int i = 0; i < n; ++i) {
    runic::StartOptions s;
    s.input = static_cast<std::int64_t>(i) * 1000;
    Check(env->runner->StartWorkflow(Id(i), wf, std::nullopt, s), "starting " + Id(i));
  }
  for (int i = 0; i < n; ++i) Check(env->runner->AwaitIdle(Id(i), kAwaitAll), "awaiting " + Id(i));
  const double wall_us = MicrosSince(start);
  const double cpu_us = ProcessCpuUs() - cpu_start;
  const double rss = PeakRssMb();
  for (int i = 0; i < n; ++i) {
    runic::Result<runic::WorkflowResults> results = env->runner->GetResults(Id(i));
    Check(results.status(), "results of " + Id(i));
    const auto& sum = (*results)["sum"];
    if (sum.size() != 1 || sum.front() != Value(Expected(static_cast<std::int64_t>(i) * 1000))) {
      throw BenchError("R7 workflow " + Id(i) + " reduced to " + Value(sum).dump());
    }
  }
  env.reset();
  const double steps = static_cast<double>(n) * kStepsPerWorkflow;
  Row r;
  r.engine = engine;
  r.mode = mode;
  r.workload = "R7";
  r.ops_per_s = wall_us > 0 ? n / (wall_us / 1e6) : 0;
  r.rss_mb = rss;
  r.extra["workflows"] = n;
  r.extra["workflows_per_s"] = r.ops_per_s;
  r.extra["steps_per_s"] = wall_us > 0 ? steps / (wall_us / 1e6) : 0;
  r.extra["cpu_us_per_step"] = cpu_us / steps;
  return r;
}

}  // namespace bench
