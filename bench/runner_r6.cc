// R6: many waiting workflows (runner_workloads.h), disk without sync.
//
// This process starts N workflows (Scale::r6_workflows) that each wait on a
// Delay of 30 days, and 100 that halt at their first step, with a runner
// that unloads every workflow as soon as it is quiet, then closes the
// store. A new process (this binary again, "--child-r6") opens the store,
// registers the two definitions and calls ResumeAll: `resume_all_s` (and
// `resume_all_ms`) is its time, `loaded_after_resume` what it left loaded (0: nothing has work
// now). It then lists the halted workflows with
// Runner::ListStoredWorkflows (`list_halted_ms`), and counts the state-index
// keys a listing of them reads through Store::ListByState (`index_keys_read`:
// each entry listed, plus the one key a page looks at past its end). The
// row's `rss_mb` is the new process's peak RSS (VmHWM) from its start to
// that point: opening the database included.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
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
constexpr int kHalted = 100;
constexpr int kStarters = 4;
constexpr auto kFar = std::chrono::hours(24 * 30);
constexpr auto kUnloadWait = std::chrono::minutes(10);

void Check(const runic::Status& s, const std::string& what) {
  if (!s.ok()) throw BenchError(what + ": " + s.ToString());
}

std::shared_ptr<const runic::Workflow> FarTimer() {
  auto wf = runic::Workflow::Builder("bench-far", 1)
                .Delay("wait", std::chrono::duration_cast<std::chrono::milliseconds>(kFar))
                .Step(
                    "after", [](const Value& v, std::stop_token) -> runic::Result<Value> { return v; }, "wait")
                .Build();
  Check(wf.status(), "building R6's waiting workflow");
  return *wf;
}

std::shared_ptr<const runic::Workflow> Halting() {
  auto wf = runic::Workflow::Builder("bench-halt", 1)
                .Step("fail",
                      [](const Value&, std::stop_token) -> runic::Result<Value> {
                        return runic::Status::FailedPrecondition("R6 halts this one");
                      })
                .Build();
  Check(wf.status(), "building R6's halting workflow");
  return *wf;
}

void UnloadAtOnce(runic::RunnerOptions& o) {
  o.unload_after = std::chrono::milliseconds(0);
  o.threads = 2;
}

// Starts `n` waiting and kHalted halting workflows from kStarters threads.
void Populate(runic::Runner& runner, int n) {
  const auto far = FarTimer();
  const auto halting = Halting();
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::string error;
  std::vector<std::thread> starters;
  for (int t = 0; t < kStarters; ++t) {
    starters.emplace_back([&] {
      for (int i = next++; i < n + kHalted && !failed; i = next++) {
        runic::StartOptions s;
        s.input = i;
        const bool halts = i >= n;
        const std::string id = (halts ? "r6-halt-" : "r6-") + std::to_string(i);
        runic::Status st = runner.StartWorkflow(id, halts ? halting : far, std::nullopt, s);
        if (!st.ok() && !failed.exchange(true)) error = "starting " + id + ": " + st.ToString();
      }
    });
  }
  for (std::thread& t : starters) t.join();
  if (failed) throw BenchError("R6: " + error);
  const auto deadline = Clock::now() + kUnloadWait;
  while (!runner.ListWorkflows().empty()) {
    if (Clock::now() > deadline) throw BenchError("R6: the started workflows were not all unloaded in 10 minutes");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

double Field(const std::string& out, const std::string& name) {
  std::istringstream in(out);
  std::string key;
  double value = 0;
  while (in >> key >> value) {
    if (key == name) return value;
  }
  throw BenchError("R6: the new process did not report " + name + " (it printed: " + out + ")");
}

}  // namespace

Row RunR6(const std::string& mode, const Scale& scale, const std::string& dir) {
  const int n = scale.r6_workflows;
  const auto start = Clock::now();
  {
    std::unique_ptr<RunnerEnv> env = OpenEnv("disk", mode, dir, nullptr, UnloadAtOnce);
    Populate(*env->runner, n);
  }
  const double populate_s = MicrosSince(start) / 1e6;
  const std::string out = RunProgram({ProgramDir() + "/runic_bench", "--child-r6", mode, dir});
  Row r;
  r.engine = "disk";
  r.mode = mode;
  r.workload = "R6";
  r.rss_mb = Field(out, "rss_mb");
  r.disk_mb = static_cast<double>(DirBytes(dir)) / (1 << 20);
  r.extra["workflows"] = n + kHalted;
  r.extra["populate_s"] = populate_s;
  for (const char* f : {"resume_all_s", "loaded_after_resume", "list_halted_ms", "halted_listed", "index_keys_read"}) {
    r.extra[f] = Field(out, f);
  }
  r.extra["resume_all_ms"] = r.extra["resume_all_s"] * 1e3;  // the JSON keeps 3 decimals
  if (r.extra["halted_listed"] != kHalted) {
    throw BenchError("R6 CHECK FAILED: listed " + std::to_string(static_cast<int>(r.extra["halted_listed"])) +
                     " halted workflows of " + std::to_string(kHalted));
  }
  if (r.extra["loaded_after_resume"] != 0) {
    throw BenchError("R6 CHECK FAILED: ResumeAll loaded workflows that have no work now");
  }
  return r;
}

int ChildR6Main(int argc, char** argv) {
  if (argc != 4) return 2;
  try {
    const std::string mode = argv[2], dir = argv[3];
    std::unique_ptr<RunnerEnv> env = OpenEnv("disk", mode, dir, nullptr, UnloadAtOnce);
    Check(env->runner->Register(FarTimer()), "registering");
    Check(env->runner->Register(Halting()), "registering");
    const auto start = Clock::now();
    runic::Result<runic::ResumeAllReport> report = env->runner->ResumeAll();
    const double resume_all_s = MicrosSince(start) / 1e6;
    Check(report.status(), "ResumeAll");
    if (!report->failed.empty()) Check(report->failed[0].status, "resuming " + report->failed[0].id);
    const std::size_t loaded = env->runner->ListWorkflows().size();

    const auto list_start = Clock::now();
    runic::StoredWorkflowQuery query;
    query.state = runic::WorkflowState::kHalted;
    runic::Result<runic::StoredWorkflowPage> halted = env->runner->ListStoredWorkflows(query);
    const double list_ms = MicrosSince(list_start) / 1e3;
    Check(halted.status(), "listing the halted workflows");

    runic::StateListOptions index;
    index.tag = runic::StateIndexPrefix(runic::WorkflowState::kHalted);
    index.tag_is_prefix = true;
    std::size_t keys_read = 0;
    for (int page = 0; page < 1000; ++page) {
      runic::Result<runic::StatePage> listed = env->store->ListByState(index);
      Check(listed.status(), "reading the state index");
      keys_read += listed->entries.size() + (listed->more ? 1 : 0);
      if (!listed->more || listed->entries.empty()) break;
      index.start_after_tag = listed->entries.back().tag;
      index.start_after_id = listed->entries.back().id;
    }
    std::printf(
        "resume_all_s %.6f\nloaded_after_resume %zu\nlist_halted_ms %.3f\nhalted_listed %zu\nindex_keys_read "
        "%zu\nrss_mb %.1f\n",
        resume_all_s, loaded, list_ms, halted->workflows.size(), keys_read, PeakRssMb());
    std::fflush(stdout);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "runic_bench R6 child: %s\n", e.what());
    return 1;
  }
}

}  // namespace bench
