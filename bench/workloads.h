// The workloads of ../shared/design/WORKLOADS.md (W1..W7, with W2-cold and
// W6-kill), the fsync floor, and the run of one engine and mode over them.
// Workloads are a table by name; the Runner workloads (R1..R3) are in it
// too, run by runner_workloads.cc.
#ifndef RUNIC_BENCH_WORKLOADS_H_
#define RUNIC_BENCH_WORKLOADS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bench {

// How much work: the default is WORKLOADS.md's; --quick divides by 10.
struct Scale {
  int ids = 10000;  // W1, W2: logs saved and loaded
  std::size_t log_bytes = 4096;
  int workflows = 1000;  // W3, W4, W5
  int appends_per_workflow = 20;
  int events_per_append = 10;
  std::size_t event_bytes = 256;
  int threads = 8;  // W5, W7
  int w7_appends_per_thread = 1000;
  int fsync_samples = 1000;     // fsync floor
  int runner_workflows = 1000;  // R1, R2, R3
  int r6_workflows = 1000000;   // R6
};
Scale ScaleFor(bool quick);

// One measured line of the report.
struct Row {
  std::string engine, mode, workload;
  double ops_per_s = 0, events_per_s = 0;
  double mean_us = 0, p50_us = 0, p99_us = 0;
  double rss_mb = 0, disk_mb = 0;
  bool sync_mode = false;  // commits_per_sync is meaningful
  double commits = 0, wal_syncs = 0, commits_per_sync = 0;
  std::map<std::string, double> extra;  // workload-specific figures (e.g. open_us)
  int runs = 1;
};

struct WorkloadDef {
  std::string name;
  std::string what;
  bool durable_only;  // needs data that survive a close (not for RAM modes)
  bool runner;        // a Runner workload: engines none, memory, disk
  bool by_default;    // run when --workloads is not given
};
// Every workload, in run and report order.
const std::vector<WorkloadDef>& Workloads();

// True when RunOnce for engine/mode would measure `workload`.
bool Applies(const std::string& engine, const std::string& mode, const std::string& workload);
// Why `workload` does not apply to an etcd engine ("etcd", "etcd-raw"), for
// the report; empty when it applies or the engine is another.
std::string NotApplicable(const std::string& engine, const std::string& workload);

// Runs the selected workloads once, in order, for one engine and mode on a
// fresh store in a fresh directory under `root` (removed afterwards).
// Returns a row per workload that applies. Throws BenchError on failure,
// including a broken W7 check.
std::vector<Row> RunOnce(const std::string& engine, const std::string& mode, const std::vector<std::string>& workloads,
                         const Scale& scale, const std::string& root);

// The median of each figure over rows of the same engine/mode/workload.
Row MedianRow(const std::vector<Row>& runs);

// The W6-kill writer, run as "runic_bench --child-writer ENGINE MODE DIR IDS
// WORKFLOWS APPENDS EVENTS": writes, then reports "done" on stdout and waits
// to be killed.
int ChildWriterMain(int argc, char** argv);

// A short sample of the fsync floor (p50 in us), for the time estimate.
double ProbeFsyncUs(const std::string& root, int samples);

}  // namespace bench

#endif  // RUNIC_BENCH_WORKLOADS_H_
