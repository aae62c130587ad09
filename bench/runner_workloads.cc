#include "runner_workloads.h"
#include "runner_env.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "etcd_bench_cluster.h"
#include "runic/runic.h"
#include "runic/runner.h"
#include "runic/workflow.h"
#include "stats.h"
#include "system.h"
#include "target.h"

namespace bench {
namespace {

using runic::Value;

constexpr int kChainSteps = 10;  // R1, R3
constexpr int kFanOut = 8;       // R2: root + 8 + join = 10 steps
constexpr int kStepsPerWorkflow = 10;
// Workflow i's input is i * kStride, so that no two workflows produce the
// same facts (a fact's hash covers its value, step and parents, not the
// workflow), and a step's input names its workflow and step: i * kStride + k.
constexpr std::int64_t kStride = 100;
constexpr std::chrono::milliseconds kAwait = std::chrono::minutes(10);
// How long on_complete may lag behind AwaitIdle returning.
constexpr std::chrono::seconds kStampWait{5};

void Check(const runic::Status& s, const std::string& what) {
  if (!s.ok()) throw BenchError(what + ": " + s.ToString());
}

std::int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

std::string NodeName(int k) { return "s" + std::to_string(k); }

// Called by a chain step with its input, before it returns input + 1.
using StepHook = std::function<void(std::int64_t input)>;

// R1's workflow: s0 -> s1 -> ... -> s9, each x -> x + 1.
std::shared_ptr<const runic::Workflow> Chain(const StepHook& hook) {
  runic::Workflow::Builder b("bench-chain", 1);
  for (int k = 0; k < kChainSteps; ++k) {
    b.Step(
        NodeName(k),
        [hook](const Value& in, std::stop_token) -> runic::Result<Value> {
          if (!in.is_number_integer()) return runic::Status::InvalidArgument("chain step: not an integer");
          const auto x = in.get<std::int64_t>();
          if (hook) hook(x);
          return Value(x + 1);
        },
        k == 0 ? std::string() : NodeName(k - 1));
  }
  runic::Result<std::shared_ptr<const runic::Workflow>> wf = b.Build();
  Check(wf.status(), "building the R1 chain");
  return *wf;
}

// R2's workflow: root (x -> x + 1) fans out to b0..b7 (x -> x + j), joined
// by "join" (the sum): 8 * (input + 1) + 28.
std::shared_ptr<const runic::Workflow> FanOut() {
  runic::Workflow::Builder b("bench-fanout", 1);
  b.Step("root", [](const Value& in, std::stop_token) -> runic::Result<Value> {
    if (!in.is_number_integer()) return runic::Status::InvalidArgument("root: not an integer");
    return Value(in.get<std::int64_t>() + 1);
  });
  std::vector<std::string> branches;
  for (int j = 0; j < kFanOut; ++j) {
    branches.push_back("b" + std::to_string(j));
    b.Step(
        branches.back(),
        [j](const Value& in, std::stop_token) -> runic::Result<Value> {
          if (!in.is_number_integer()) return runic::Status::InvalidArgument("branch: not an integer");
          return Value(in.get<std::int64_t>() + j);
        },
        "root");
  }
  b.Join("join", branches, [](const std::vector<Value>& in, std::stop_token) -> runic::Result<Value> {
    std::int64_t sum = 0;
    for (const Value& v : in) {
      if (!v.is_number_integer()) return runic::Status::InvalidArgument("join: not an integer");
      sum += v.get<std::int64_t>();
    }
    return Value(sum);
  });
  runic::Result<std::shared_ptr<const runic::Workflow>> wf = b.Build();
  Check(wf.status(), "building the R2 fan-out");
  return *wf;
}

std::int64_t FanOutResult(std::int64_t input) { return kFanOut * (input + 1) + kFanOut * (kFanOut - 1) / 2; }

}  // namespace

std::unique_ptr<RunnerEnv> OpenEnv(const std::string& engine, const std::string& mode, const std::string& dir,
                                   std::function<void(const std::string&, const runic::Status&)> on_complete,
                                   const std::function<void(runic::RunnerOptions&)>& configure) {
  auto env = std::make_unique<RunnerEnv>();
  if (engine != "none") {
    runic::DatabaseOptions o;
    o.disc_copies = engine == "disk" || engine == "etcd";
    o.sync = mode == "sync";
    o.dir = dir;  // for the memory engine (and etcd's database), a name unique to this run
    if (engine == "etcd") {
      env->cluster = std::make_shared<BenchCluster>();
      o.nodes = env->cluster->endpoints();
    }
    auto db = runic::Database::Open(o);
    Check(db.status(), "opening the database");
    env->db = std::move(*db);
    auto store = env->db->OpenStore("bench-runner");
    Check(store.status(), "opening the store");
    env->store = std::move(*store);
  }
  runic::RunnerOptions ro;
  ro.name = "bench-runner";
  ro.store = env->store.get();  // null for "none"
  ro.on_complete = std::move(on_complete);
  if (configure) configure(ro);
  auto runner = runic::Runner::Create(std::move(ro));
  Check(runner.status(), "creating the runner");
  env->runner = std::move(*runner);
  return env;
}

namespace {

// The steady-clock time (ns) each workflow last became idle, from on_complete.
class IdleStamps {
 public:
  explicit IdleStamps(int n)
      : n_(n), stamps_(std::make_unique<std::atomic<std::int64_t>[]>(static_cast<std::size_t>(n))) {}
  void Mark(int i) {
    if (i >= 0 && i < n_) stamps_[static_cast<std::size_t>(i)].store(NowNs());
  }
  // Waits (briefly) until every listed workflow has a stamp after `after_ns`:
  // on_complete may run just after AwaitIdle returned.
  void AwaitAll(const std::vector<int>& which, const std::vector<std::int64_t>& after_ns) const {
    const auto deadline = Clock::now() + kStampWait;
    for (std::size_t k = 0; k < which.size(); ++k) {
      while (Get(which[k]) < after_ns[k]) {
        if (Clock::now() > deadline) {
          throw BenchError("on_complete was not called for workflow " + std::to_string(which[k]) +
                           " although AwaitIdle returned");
        }
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    }
  }
  std::int64_t Get(int i) const { return stamps_[static_cast<std::size_t>(i)].load(); }

 private:
  int n_;
  std::unique_ptr<std::atomic<std::int64_t>[]> stamps_;
};

int IndexOf(const std::string& id, const std::string& prefix) {
  if (id.rfind(prefix, 0) != 0) return -1;
  return std::atoi(id.c_str() + prefix.size());
}

// A latch that step functions wait at until it opens.
class Gate {
 public:
  void Wait() {
    if (open_.load(std::memory_order_acquire)) return;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_.load(); });
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_.store(true);
    }
    cv_.notify_all();
  }

 private:
  std::atomic<bool> open_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

// Appends "<tag> <input>\n" to the journal with one write(2): what a step
// executed, kept even when the process is killed the next instant.
void Journal(int fd, char tag, std::int64_t input) {
  char line[48];
  const int n = std::snprintf(line, sizeof line, "%c %lld\n", tag, static_cast<long long>(input));
  if (write(fd, line, static_cast<std::size_t>(n)) != n) {
    std::fprintf(stderr, "runic_bench: journal write failed: %s\n", std::strerror(errno));
    std::abort();
  }
}

// What one workload measured.
struct RunnerMeasured {
  double wall_us = 0;
  std::uint64_t workflows = 0, steps = 0;
  Latencies lat;
  std::map<std::string, double> extra;
};

Row ToRow(const std::string& engine, const std::string& mode, const std::string& workload, RunnerMeasured& m) {
  Row r;
  r.engine = engine;
  r.mode = mode;
  r.workload = workload;
  const double secs = m.wall_us / 1e6;
  r.ops_per_s = secs > 0 ? static_cast<double>(m.workflows) / secs : 0;
  r.events_per_s = 0;
  const Summary sum = Summarize(std::move(m.lat));
  r.mean_us = sum.mean_us;
  r.p50_us = sum.p50_us;
  r.p99_us = sum.p99_us;
  r.extra = std::move(m.extra);
  r.extra["workflows_per_s"] = r.ops_per_s;
  r.extra["steps_per_s"] = secs > 0 ? static_cast<double>(m.steps) / secs : 0;
  r.extra["workflows"] = static_cast<double>(m.workflows);
  return r;
}

// --------------------------------------------------------------- R1, R2 ----

// Starts n workflows of `wf` (each given one input), then awaits them all.
// Latency: StartWorkflow to on_complete (which marks `idle`), per workflow.
RunnerMeasured StartAndAwait(runic::Runner& runner, const std::shared_ptr<const runic::Workflow>& wf,
                             const std::string& prefix, const IdleStamps& idle, int n) {
  std::vector<std::int64_t> began(static_cast<std::size_t>(n));
  std::vector<int> all;
  RunnerMeasured m;
  const auto start = Clock::now();
  const double cpu_start = ProcessCpuUs();
  for (int i = 0; i < n; ++i) {
    const std::string id = prefix + std::to_string(i);
    began[static_cast<std::size_t>(i)] = NowNs();
    Check(runner.StartWorkflow(id, wf), "starting " + id);  // checkpoint every cycle
    Check(runner.Run(id, Value(i * kStride)), "run " + id);
    all.push_back(i);
  }
  for (int i = 0; i < n; ++i) {
    const std::string id = prefix + std::to_string(i);
    Check(runner.AwaitIdle(id, kAwait), "awaiting " + id);
  }
  m.wall_us = MicrosSince(start);
  const double cpu_us = ProcessCpuUs() - cpu_start;
  idle.AwaitAll(all, began);
  for (int i = 0; i < n; ++i) {
    m.lat.Add(static_cast<double>(idle.Get(i) - began[static_cast<std::size_t>(i)]) / 1e3);
  }
  m.workflows = static_cast<std::uint64_t>(n);
  m.steps = m.workflows * kStepsPerWorkflow;
  m.extra["cpu_us_per_step"] = cpu_us / static_cast<double>(m.steps);
  return m;
}

// The single value a node produced; throws unless there is exactly one.
std::int64_t OnlyValue(const runic::WorkflowResults& results, const std::string& node, const std::string& id) {
  auto it = results.find(node);
  if (it == results.end() || it->second.size() != 1 || !it->second.front().is_number_integer()) {
    throw BenchError("workflow '" + id + "': node " + node + " did not produce exactly one integer");
  }
  return it->second.front().get<std::int64_t>();
}

void CheckFinished(runic::Runner& runner, const std::string& id, const std::string& node, std::int64_t expected) {
  runic::Result<runic::WorkflowInfo> info = runner.Lookup(id);
  Check(info.status(), "lookup " + id);
  if (info->state != runic::WorkflowState::kIdle) {
    throw BenchError("workflow '" + id + "' did not finish: " + info->error.ToString());
  }
  runic::Result<runic::WorkflowResults> results = runner.GetResults(id);
  Check(results.status(), "results of " + id);
  const std::int64_t got = OnlyValue(*results, node, id);
  if (got != expected) {
    throw BenchError("workflow '" + id + "': " + node + " = " + std::to_string(got) + ", expected " +
                     std::to_string(expected));
  }
}

Row RunR1R2(const std::string& engine, const std::string& mode, const std::string& workload, const Scale& scale,
            const std::string& dir) {
  const bool r1 = workload == "R1";
  const int n = scale.runner_workflows;
  const std::string prefix = r1 ? "r1-" : "r2-";
  auto idle = std::make_shared<IdleStamps>(n);  // shared with the callback, which the Runner keeps
  std::unique_ptr<RunnerEnv> env =
      OpenEnv(engine, mode, dir,
              [idle, prefix](const std::string& id, const runic::Status&) { idle->Mark(IndexOf(id, prefix)); });
  const std::shared_ptr<const runic::Workflow> wf = r1 ? Chain(nullptr) : FanOut();
  ResetPeakRss();
  RunnerMeasured m = StartAndAwait(*env->runner, wf, prefix, *idle, n);
  const double rss = PeakRssMb();
  for (int i = 0; i < n; ++i) {
    const std::int64_t input = i * kStride;
    if (r1) {
      CheckFinished(*env->runner, prefix + std::to_string(i), NodeName(kChainSteps - 1), input + kChainSteps);
    } else {
      CheckFinished(*env->runner, prefix + std::to_string(i), "join", FanOutResult(input));
    }
  }
  env->runner.reset();  // shuts down: checkpoints (not timed)
  const double disk = engine == "disk" ? static_cast<double>(DirBytes(dir)) / (1 << 20) : 0;
  env.reset();
  Row r = ToRow(engine, mode, workload, m);
  r.rss_mb = rss;
  r.disk_mb = disk;
  return r;
}

// ------------------------------------------------------------------- R3 ----

// Runs the child; returns once it reported "half" and was killed.
void RunAndKillChild(const std::string& mode, const std::string& data, int n, int kill_after,
                     const std::string& journal) {
  std::vector<std::string> args = {"runic_bench",     "--child-runner",           mode,   data,
                                   std::to_string(n), std::to_string(kill_after), journal};
  if (!RunChildUntilThenKill(std::move(args), "half", Clock::now() + kAwait)) {
    throw BenchError("the R3 child failed before half its steps ran");
  }
}

Row RunR3(const std::string& mode, const Scale& scale, const std::string& dir) {
  const int n = scale.runner_workflows;
  const std::size_t total = static_cast<std::size_t>(n) * kChainSteps;
  const int kill_after = static_cast<int>(total / 2);
  std::filesystem::create_directories(dir);
  const std::string data = dir + "/data", journal = dir + "/journal";
  const std::string prefix = "r1-";

  RunAndKillChild(mode, data, n, kill_after, journal);

  // Resume here, a new process for the store. Steps wait at a gate until the
  // store's view of what completed before the kill has been read.
  const int jfd = open(journal.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (jfd < 0) throw BenchError("cannot open the R3 journal " + journal);
  struct CloseFd {
    int fd;
    ~CloseFd() { close(fd); }
  } close_jfd{jfd};
  auto gate = std::make_shared<Gate>();
  auto idle_ptr = std::make_shared<IdleStamps>(n);  // shared with the callback
  const IdleStamps& idle = *idle_ptr;
  std::unique_ptr<RunnerEnv> env =
      OpenEnv("disk", mode, data,
              [idle_ptr, prefix](const std::string& id, const runic::Status&) { idle_ptr->Mark(IndexOf(id, prefix)); });
  struct OpenOnExit {  // so that a failure cannot leave steps blocked at shutdown
    std::shared_ptr<Gate> gate;
    ~OpenOnExit() { gate->Open(); }
  } open_on_exit{gate};
  const std::shared_ptr<const runic::Workflow> wf = Chain([gate, jfd](std::int64_t x) {
    gate->Wait();
    Journal(jfd, 'p', x);
  });
  Check(env->runner->Register(wf), "registering the R1 chain");
  ResetPeakRss();

  const auto t0 = Clock::now();
  runic::Result<runic::ResumeAllReport> report = env->runner->ResumeAll();
  const double resume_all_us = MicrosSince(t0);
  Check(report.status(), "ResumeAll");
  for (const runic::ResumeAllReport::Failure& f : report->failed) Check(f.status, "ResumeAll of " + f.id);
  const std::vector<std::string>& resumed_ids = report->resumed;

  // The store's completions before the kill: the results of the resumed
  // workflows now, while no step can run (not timed).
  std::vector<char> persisted(total, 0);  // by step input: i * 10 + k
  std::vector<int> resumed;
  std::vector<char> is_resumed(static_cast<std::size_t>(n), 0);
  for (const std::string& id : resumed_ids) {
    const int i = IndexOf(id, prefix);
    if (i < 0 || i >= n || is_resumed[static_cast<std::size_t>(i)]) {
      throw BenchError("ResumeAll returned an unexpected id '" + id + "'");
    }
    is_resumed[static_cast<std::size_t>(i)] = 1;
    resumed.push_back(i);
    runic::Result<runic::WorkflowResults> results = env->runner->GetResults(id);
    Check(results.status(), "results of " + id);
    for (int k = 0; k < kChainSteps; ++k) {
      if (!results->count(NodeName(k))) continue;
      const std::int64_t v = OnlyValue(*results, NodeName(k), id);
      if (v != i * kStride + k + 1) throw BenchError("resumed workflow '" + id + "': wrong value of " + NodeName(k));
      persisted[static_cast<std::size_t>(i) * kChainSteps + static_cast<std::size_t>(k)] = 1;
    }
  }

  const std::int64_t open_ns = NowNs();
  const auto t2 = Clock::now();
  gate->Open();
  for (int i : resumed) Check(env->runner->AwaitIdle(prefix + std::to_string(i), kAwait), "awaiting resumed workflow");
  const double finish_us = MicrosSince(t2);
  const double rss = PeakRssMb();
  idle.AwaitAll(resumed, std::vector<std::int64_t>(resumed.size(), open_ns));

  RunnerMeasured m;
  m.wall_us = resume_all_us + finish_us;
  for (int i : resumed) m.lat.Add(resume_all_us + static_cast<double>(idle.Get(i) - open_ns) / 1e3);
  m.workflows = resumed.size();

  // Checks (not timed): every workflow finished with the right result; one
  // that ResumeAll skipped must have completed before the kill.
  double redispatched = 0;
  for (int i = 0; i < n; ++i) {
    const std::string id = prefix + std::to_string(i);
    if (!is_resumed[static_cast<std::size_t>(i)]) {
      Check(env->runner->Resume(id), "resume of " + id + " (complete before the kill?)");
      runic::Result<runic::WorkflowResults> results = env->runner->GetResults(id);
      Check(results.status(), "results of " + id);
      for (int k = 0; k < kChainSteps; ++k) {
        if (!results->count(NodeName(k))) {
          throw BenchError("R3 CHECK FAILED: ResumeAll did not resume '" + id + "', which had work left");
        }
        persisted[static_cast<std::size_t>(i) * kChainSteps + static_cast<std::size_t>(k)] = 1;
      }
    }
    CheckFinished(*env->runner, id, NodeName(kChainSteps - 1), i * kStride + kChainSteps);
    runic::Result<runic::WorkflowInfo> info = env->runner->Lookup(id);
    Check(info.status(), "lookup " + id);
    redispatched += static_cast<double>(info->redispatched);
  }
  env->runner.reset();
  const double disk = static_cast<double>(DirBytes(data)) / (1 << 20);
  env.reset();

  // The journal: how often each step ran, before the kill (c) and here (p).
  std::vector<int> before(total, 0), after(total, 0);
  std::ifstream in(journal);
  char tag = 0;
  long long x = 0;
  while (in >> tag >> x) {
    const long long i = x / kStride, k = x % kStride;
    if (x < 0 || i >= n || k >= kChainSteps || (tag != 'c' && tag != 'p')) {
      throw BenchError("R3: malformed journal entry '" + std::string(1, tag) + " " + std::to_string(x) + "'");
    }
    const auto slot = static_cast<std::size_t>(i * kChainSteps + k);
    ++(tag == 'c' ? before : after)[slot];
  }
  std::uint64_t ran_before = 0, ran_here = 0, persisted_steps = 0, twice = 0, persisted_twice = 0, never = 0,
                unjournaled = 0, twice_in_one_process = 0;
  for (std::size_t s = 0; s < total; ++s) {
    ran_before += static_cast<std::uint64_t>(before[s]);
    ran_here += static_cast<std::uint64_t>(after[s]);
    const int runs = before[s] + after[s];
    if (before[s] > 1 || after[s] > 1) {
      ++twice_in_one_process;
      if (std::getenv("RUNIC_BENCH_DEBUG")) {
        std::fprintf(stderr, "R3: step %zu ran %d times before the kill, %d after; persisted %d\n", s, before[s],
                     after[s], persisted[s]);
      }
    }
    if (runs == 0) ++never;
    if (runs >= 2) ++twice;
    if (persisted[s]) {
      ++persisted_steps;
      if (runs >= 2) ++persisted_twice;
      if (before[s] == 0) ++unjournaled;
    }
  }
  m.steps = ran_here;
  m.extra["total_workflows"] = n;
  m.extra["resumed"] = static_cast<double>(resumed.size());
  m.extra["redispatched"] = redispatched;
  m.extra["resume_all_us"] = resume_all_us;
  m.extra["steps_run_before_kill"] = static_cast<double>(ran_before);
  m.extra["steps_persisted_before_kill"] = static_cast<double>(persisted_steps);
  m.extra["steps_run_here"] = static_cast<double>(ran_here);
  m.extra["steps_run_twice"] = static_cast<double>(twice);
  m.extra["persisted_steps_run_twice"] = static_cast<double>(persisted_twice);
  m.extra["steps_run_twice_in_one_process"] = static_cast<double>(twice_in_one_process);
  if (persisted_twice > 0 || never > 0 || unjournaled > 0) {
    throw BenchError("R3 CHECK FAILED: " + std::to_string(persisted_twice) +
                     " steps whose completion was persisted before the kill ran again; " + std::to_string(never) +
                     " steps never ran; " + std::to_string(unjournaled) +
                     " steps the store holds as completed were not in the journal of the killed process");
  }
  Row r = ToRow("disk", mode, "R3", m);
  r.rss_mb = rss;
  r.disk_mb = disk;
  return r;
}

}  // namespace

bool RunnerEngine(const std::string& engine) {
  return engine == "none" || engine == "memory" || engine == "disk" || engine == "etcd";
}

Row RunRunnerWorkload(const std::string& engine, const std::string& mode, const std::string& workload,
                      const Scale& scale, const std::string& dir) {
  struct Cleanup {
    std::string dir;
    ~Cleanup() { RemoveTree(dir); }
  } cleanup{dir};
  if (engine == "rocksdb-raw" && workload == "R1") return RunR1Floor(mode, scale, dir);
  if (!RunnerEngine(engine)) throw BenchError("engine '" + engine + "' cannot run workflows");
  if (engine == "etcd") {
    // A tenth of the scale: the three members share this machine's cores
    // with the runner.
    Scale tenth = scale;
    tenth.runner_workflows = std::max(1, scale.runner_workflows / 10);
    if (workload == "R1" || workload == "R2") return RunR1R2(engine, mode, workload, tenth, dir);
    if (workload == "R4") return RunR4(engine, mode, tenth, dir);
    if (workload == "R5") return RunR5(engine, mode, tenth, dir);
    if (workload == "R7") return RunR7(engine, mode, tenth, dir);
    throw BenchError("Runner workload " + workload + " does not run on etcd");
  }
  if (workload == "R1" || workload == "R2") return RunR1R2(engine, mode, workload, scale, dir);
  if (workload == "R3") {
    if (engine != "disk") throw BenchError("R3 needs the disk engine");
    return RunR3(mode, scale, dir);
  }
  if (workload == "R4") return RunR4(engine, mode, scale, dir);
  if (workload == "R5") return RunR5(engine, mode, scale, dir);
  if (workload == "R7") return RunR7(engine, mode, scale, dir);
  if (workload == "R6") {
    if (engine != "disk") throw BenchError("R6 needs the disk engine");
    return RunR6(mode, scale, dir);
  }
  throw BenchError("unknown Runner workload '" + workload + "'");
}

int ChildRunnerMain(int argc, char** argv) {
  if (argc != 7) return 2;
  try {
    const std::string mode = argv[2], dir = argv[3], journal = argv[6];
    const int n = ParseCount(argv[4]);
    const int kill_after = ParseCount(argv[5]);
    const int jfd = open(journal.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (jfd < 0) throw BenchError("cannot create the journal " + journal);
    // Steps wait until every workflow has its input, so that all of them are
    // in the store when the process is killed.
    auto gate = std::make_shared<Gate>();
    auto ran = std::make_shared<std::atomic<int>>(0);
    const std::shared_ptr<const runic::Workflow> wf = Chain([gate, ran, jfd, kill_after](std::int64_t x) {
      gate->Wait();
      Journal(jfd, 'c', x);
      if (ran->fetch_add(1) + 1 == kill_after) {
        const char half[] = "half\n";
        if (write(STDOUT_FILENO, half, sizeof half - 1) < 0) std::abort();
      }
    });
    std::unique_ptr<RunnerEnv> env = OpenEnv("disk", mode, dir);
    struct OpenOnExit {  // a failure must not leave steps blocked at shutdown
      std::shared_ptr<Gate> gate;
      ~OpenOnExit() { gate->Open(); }
    } open_on_exit{gate};
    for (int i = 0; i < n; ++i) {
      const std::string id = "r1-" + std::to_string(i);
      Check(env->runner->StartWorkflow(id, wf), "starting " + id);
      Check(env->runner->Run(id, Value(i * kStride)), "run " + id);
    }
    gate->Open();
    for (int i = 0; i < n; ++i) (void)env->runner->AwaitIdle("r1-" + std::to_string(i), kAwait);
    for (;;) pause();  // until SIGKILL
  } catch (const std::exception& e) {
    std::fprintf(stderr, "runic_bench child runner: %s\n", e.what());
    return 1;
  }
}

}  // namespace bench
