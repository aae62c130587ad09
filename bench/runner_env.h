// What the Runner workloads share (runner_workloads.cc, runner_waits.cc):
// a Runner on a fresh store of an engine.
#ifndef RUNIC_BENCH_RUNNER_ENV_H_
#define RUNIC_BENCH_RUNNER_ENV_H_

#include <functional>
#include <memory>
#include <string>

#include "runic/runic.h"
#include "workloads.h"

namespace bench {

class BenchCluster;

// A database, its store and a Runner on it (members release in reverse:
// the etcd cluster, for engine "etcd", last).
struct RunnerEnv {
  std::shared_ptr<BenchCluster> cluster;
  std::shared_ptr<runic::Database> db;
  std::unique_ptr<runic::Store> store;
  std::unique_ptr<runic::Runner> runner;
};

// A fresh store for engine/mode in `dir` ("none": no store; "etcd": on a
// 3-member cluster of its own, started here) and a Runner on
// it; `on_complete`: the runner's (RunnerOptions::on_complete); `configure`
// changes the runner's other options. Throws BenchError.
std::unique_ptr<RunnerEnv> OpenEnv(const std::string& engine, const std::string& mode, const std::string& dir,
                                   std::function<void(const std::string&, const runic::Status&)> on_complete = nullptr,
                                   const std::function<void(runic::RunnerOptions&)>& configure = nullptr);

// R4 and R5 (runner_waits.cc).
Row RunR4(const std::string& engine, const std::string& mode, const Scale& scale, const std::string& dir);
Row RunR5(const std::string& engine, const std::string& mode, const Scale& scale, const std::string& dir);
// R7 (runner_composition.cc).
Row RunR7(const std::string& engine, const std::string& mode, const Scale& scale, const std::string& dir);
// R6 (runner_r6.cc), on disk; its new process is "runic_bench --child-r6
// MODE DIR" (ChildR6Main), which prints its figures as "name value" lines.
Row RunR6(const std::string& mode, const Scale& scale, const std::string& dir);
int ChildR6Main(int argc, char** argv);

}  // namespace bench

#endif  // RUNIC_BENCH_RUNNER_ENV_H_
