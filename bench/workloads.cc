#include "workloads.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <latch>
#include <optional>
#include <random>
#include <thread>

#include "runner_workloads.h"
#include "stats.h"
#include "system.h"
#include "target.h"

namespace bench {
namespace {

// Incompressible bytes: slices at random offsets of a pool of random bytes.
class RandomBytes {
 public:
  explicit RandomBytes(std::uint64_t seed) : pool_(std::size_t{16} << 20, '\0') {
    std::mt19937_64 gen(seed);
    for (std::size_t i = 0; i + 8 <= pool_.size(); i += 8) {
      const std::uint64_t v = gen();
      std::memcpy(&pool_[i], &v, 8);
    }
  }
  std::string_view Slice(std::size_t n, std::mt19937_64& rng) const {
    return {pool_.data() + rng() % (pool_.size() - n), n};
  }

 private:
  std::string pool_;
};

const RandomBytes& Pool() {
  static const RandomBytes pool(0x52554e4943);
  return pool;
}

struct Context {
  std::string engine, mode, dir;
  Scale scale;
  std::unique_ptr<Target> target;
  std::mt19937_64 rng{12345};
  // What earlier workloads left in the store (later ones read it).
  std::vector<std::string> log_ids;  // W1
  std::vector<std::string> wf_ids;   // W3
};

// What one workload measured; the caller adds RSS, disk and sync counters.
struct Measured {
  std::uint64_t ops = 0, events = 0;
  double wall_us = 0;
  Latencies lat;
  std::map<std::string, double> extra;
  std::optional<std::uint64_t> disk_bytes;  // when not the bytes of ctx.dir
};

std::uint64_t EventsPerWorkflow(const Scale& s) {
  return static_cast<std::uint64_t>(s.appends_per_workflow) * static_cast<std::uint64_t>(s.events_per_append);
}

std::vector<std::string_view> EventBatch(const Scale& s, std::mt19937_64& rng) {
  std::vector<std::string_view> events;
  events.reserve(static_cast<std::size_t>(s.events_per_append));
  for (int i = 0; i < s.events_per_append; ++i) events.push_back(Pool().Slice(s.event_bytes, rng));
  return events;
}

// Runs body(thread_index, latencies) on `threads` threads started together;
// returns the wall time from the start to the last thread's end. Rethrows
// the first failure of a thread.
double RunThreads(int threads, const std::function<void(int, Latencies&)>& body, Latencies* merged) {
  std::vector<Latencies> lats(static_cast<std::size_t>(threads));
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(threads));
  std::latch go(1);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      go.wait();
      try {
        body(t, lats[static_cast<std::size_t>(t)]);
      } catch (...) {
        errors[static_cast<std::size_t>(t)] = std::current_exception();
      }
    });
  }
  const auto start = Clock::now();
  go.count_down();
  for (std::thread& th : pool) th.join();
  const double wall = MicrosSince(start);
  for (const std::exception_ptr& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  for (const Latencies& l : lats) merged->Merge(l);
  return wall;
}

// ------------------------------------------------------------ workloads ----

// W1: save ids x 4 KiB logs, one thread.
Measured SaveLogs(Context& c) {
  Measured m;
  c.log_ids.clear();
  for (int i = 0; i < c.scale.ids; ++i) c.log_ids.push_back("log-" + std::to_string(i));
  const auto start = Clock::now();
  for (const std::string& id : c.log_ids) {
    const std::string_view log = Pool().Slice(c.scale.log_bytes, c.rng);
    const auto t = Clock::now();
    c.target->Save(id, log);
    m.lat.Add(MicrosSince(t));
  }
  m.wall_us = MicrosSince(start);
  m.ops = c.log_ids.size();
  return m;
}

// W2: load each W1 id once, in random order, one thread.
Measured LoadLogs(Context& c) {
  Measured m;
  std::vector<std::string> order = c.log_ids;
  std::shuffle(order.begin(), order.end(), c.rng);
  const auto start = Clock::now();
  for (const std::string& id : order) {
    const auto t = Clock::now();
    std::string log = c.target->Load(id);
    m.lat.Add(MicrosSince(t));
    if (log.size() != c.scale.log_bytes) throw BenchError("load of '" + id + "' returned the wrong size");
  }
  m.wall_us = MicrosSince(start);
  m.ops = order.size();
  return m;
}

// W2-cold: W2 after closing and reopening the database (not timed).
Measured LoadLogsCold(Context& c) {
  const auto t = Clock::now();
  c.target->Close();
  c.target->Open();
  const double reopen_us = MicrosSince(t);
  Measured m = LoadLogs(c);
  m.extra["reopen_us"] = reopen_us;
  return m;
}

// W3 and W5: `workflows` fresh workflows x appends of events, split over
// `threads` threads that each own distinct workflows (round-robin within a
// thread, so workflows progress side by side).
Measured AppendWorkflows(Context& c, const std::string& prefix, int threads, std::vector<std::string>* ids_out) {
  const Scale& s = c.scale;
  std::vector<std::string> ids;
  for (int i = 0; i < s.workflows; ++i) ids.push_back(prefix + std::to_string(i));
  Measured m;
  m.wall_us = RunThreads(
      threads,
      [&](int t, Latencies& lat) {
        std::mt19937_64 rng(static_cast<std::uint64_t>(1000 + t));
        for (int round = 1; round <= s.appends_per_workflow; ++round) {
          for (std::size_t i = static_cast<std::size_t>(t); i < ids.size(); i += static_cast<std::size_t>(threads)) {
            const std::vector<std::string_view> events = EventBatch(s, rng);
            const auto start = Clock::now();
            const std::uint64_t cursor = c.target->Append(ids[i], events);
            lat.Add(MicrosSince(start));
            if (cursor != static_cast<std::uint64_t>(round * s.events_per_append)) {
              throw BenchError("append to '" + ids[i] + "' returned cursor " + std::to_string(cursor));
            }
          }
        }
      },
      &m.lat);
  m.ops = m.lat.us.size();
  m.events = m.ops * static_cast<std::uint64_t>(s.events_per_append);
  if (ids_out) *ids_out = std::move(ids);
  return m;
}

Measured AppendW3(Context& c) { return AppendWorkflows(c, "wf-", 1, &c.wf_ids); }
Measured AppendW5(Context& c) { return AppendWorkflows(c, "w5-", c.scale.threads, nullptr); }

// W4: stream every W3 workflow to its end, one thread.
Measured StreamWorkflows(Context& c) {
  Measured m;
  std::uint64_t sink = 0;
  const EventFn consume = [&sink](std::uint64_t, std::string_view v) {
    sink += v.size() + static_cast<unsigned char>(v[0]);
  };
  const auto start = Clock::now();
  for (const std::string& id : c.wf_ids) {
    const auto t = Clock::now();
    const std::uint64_t n = c.target->Stream(id, consume);
    m.lat.Add(MicrosSince(t));
    if (n != EventsPerWorkflow(c.scale)) throw BenchError("stream of '" + id + "' gave " + std::to_string(n));
    m.events += n;
  }
  m.wall_us = MicrosSince(start);
  m.ops = c.wf_ids.size();
  if (sink == 0) throw BenchError("streams returned nothing");
  return m;
}

// Times opening `target` until a first load and a first full stream succeed.
Measured TimeReopen(Target& target, const std::string& log_id, const std::string& wf_id, const Scale& s) {
  Measured m;
  const auto start = Clock::now();
  target.Open();
  m.extra["open_us"] = MicrosSince(start);
  (void)target.Load(log_id);
  m.extra["first_load_us"] = MicrosSince(start);
  const std::uint64_t n = target.Stream(wf_id, [](std::uint64_t, std::string_view) {});
  const double total = MicrosSince(start);
  m.extra["first_stream_us"] = total;
  if (n != EventsPerWorkflow(s)) throw BenchError("reopened stream of '" + wf_id + "' gave " + std::to_string(n));
  m.lat.Add(total);
  m.wall_us = total;
  m.ops = 1;
  return m;
}

// W6: close (the store's own way), then time the reopen.
Measured Reopen(Context& c) {
  const auto t = Clock::now();
  c.target->Close();
  const double close_us = MicrosSince(t);
  Measured m = TimeReopen(*c.target, c.log_ids.front(), c.wf_ids.front(), c.scale);
  m.extra["close_us"] = close_us;
  return m;
}

// W6-kill: a child process writes W1- and W3-like data into its own
// directory, reports "done", and is killed with SIGKILL; then time the
// reopen. The child writes without sync even for the sync mode: the files
// are the same, only slower to make, and the reopen is what is measured.
Measured ReopenAfterKill(Context& c) {
  const std::string dir = c.dir + "-kill";
  const Scale& s = c.scale;
  std::vector<std::string> args = {"runic_bench",
                                   "--child-writer",
                                   c.engine,
                                   c.mode == "sync" ? "nosync" : c.mode,
                                   dir,
                                   std::to_string(s.ids),
                                   std::to_string(s.workflows),
                                   std::to_string(s.appends_per_workflow),
                                   std::to_string(s.events_per_append)};
  if (!RunChildUntilThenKill(std::move(args), "done", std::chrono::steady_clock::now() + std::chrono::minutes(10))) {
    throw BenchError("the W6-kill writer failed before it was done");
  }

  std::unique_ptr<Target> target = MakeTarget(c.engine, c.mode, dir);
  Measured m = TimeReopen(*target, "log-0", "wf-0", s);
  m.disk_bytes = DirBytes(dir);
  target.reset();
  RemoveTree(dir);
  return m;
}

// W7: threads x appends, each to one of the SAME `threads` workflows chosen
// at random; then every workflow must hold 1..n without gap or duplicate,
// every returned cursor must be distinct, and the total must be exact.
Measured AppendContended(Context& c) {
  const Scale& s = c.scale;
  const auto nwf = static_cast<std::size_t>(s.threads);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < nwf; ++i) ids.push_back("w7-" + std::to_string(i));
  std::vector<std::vector<std::vector<std::uint64_t>>> cursors(  // [thread][workflow]
      nwf, std::vector<std::vector<std::uint64_t>>(nwf));
  Measured m;
  m.wall_us = RunThreads(
      s.threads,
      [&](int t, Latencies& lat) {
        std::mt19937_64 rng(static_cast<std::uint64_t>(7000 + t));
        for (int i = 0; i < s.w7_appends_per_thread; ++i) {
          const std::size_t w = rng() % nwf;
          const std::vector<std::string_view> events = EventBatch(s, rng);
          const auto start = Clock::now();
          const std::uint64_t cursor = c.target->Append(ids[w], events);
          lat.Add(MicrosSince(start));
          cursors[static_cast<std::size_t>(t)][w].push_back(cursor);
        }
      },
      &m.lat);
  m.ops = m.lat.us.size();
  m.events = m.ops * static_cast<std::uint64_t>(s.events_per_append);

  // The check.
  const auto per = static_cast<std::uint64_t>(s.events_per_append);
  std::uint64_t total = 0;
  for (std::size_t w = 0; w < nwf; ++w) {
    const std::uint64_t n = c.target->Stream(ids[w], [](std::uint64_t, std::string_view) {});  // checks 1..n
    std::vector<std::uint64_t> got;
    for (std::size_t t = 0; t < nwf; ++t) got.insert(got.end(), cursors[t][w].begin(), cursors[t][w].end());
    std::sort(got.begin(), got.end());
    for (std::size_t k = 0; k < got.size(); ++k) {
      if (got[k] != (k + 1) * per) {
        throw BenchError("W7 CHECK FAILED: workflow '" + ids[w] + "': appends returned cursor " +
                         std::to_string(got[k]) + " where " + std::to_string((k + 1) * per) + " was expected");
      }
    }
    if (n != got.size() * per) {
      throw BenchError("W7 CHECK FAILED: workflow '" + ids[w] + "' holds " + std::to_string(n) + " events, but " +
                       std::to_string(got.size() * per) + " were acknowledged");
    }
    total += n;
  }
  const std::uint64_t expected =
      static_cast<std::uint64_t>(s.threads) * static_cast<std::uint64_t>(s.w7_appends_per_thread) * per;
  if (total != expected) {
    throw BenchError("W7 CHECK FAILED: " + std::to_string(total) + " events in total, expected " +
                     std::to_string(expected));
  }
  m.extra["checked_events"] = static_cast<double>(total);
  return m;
}

// The fsync floor: (append 4 KiB + fdatasync) to a file in `dir`.
Measured FsyncFloor(const std::string& dir, int samples) {
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/fsync-floor";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw BenchError("cannot create " + path);
  std::mt19937_64 rng(99);
  Measured m;
  const auto start = Clock::now();
  for (int i = 0; i < samples; ++i) {
    const std::string_view block = Pool().Slice(4096, rng);
    const auto t = Clock::now();
    if (write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size()) || fdatasync(fd) != 0) {
      close(fd);
      throw BenchError("write + fdatasync failed on " + path);
    }
    m.lat.Add(MicrosSince(t));
  }
  m.wall_us = MicrosSince(start);
  close(fd);
  m.ops = static_cast<std::uint64_t>(samples);
  m.disk_bytes = DirBytes(dir);
  return m;
}

// ---------------------------------------------------------------- table ----

struct WorkloadImpl {
  WorkloadDef def;
  bool needs_logs;    // reads W1's logs
  bool needs_events;  // reads W3's workflows
  Measured (*run)(Context&);
};

const std::vector<WorkloadImpl>& Table() {
  static const std::vector<WorkloadImpl> table = {
      {{"W1", "save: ids x 4 KiB logs, one thread", false, false, true}, false, false, SaveLogs},
      {{"W2", "load each id once, random order, warm", false, false, true}, true, false, LoadLogs},
      {{"W2-cold", "W2 after closing and reopening", true, false, true}, true, false, LoadLogsCold},
      {{"W3", "append: workflows x 20 x 10 events of 256 B, one thread", false, false, true}, false, false, AppendW3},
      {{"W4", "stream every W3 workflow to its end", false, false, true}, false, true, StreamWorkflows},
      {{"W5", "W3 over 8 threads owning distinct workflows", false, false, true}, false, false, AppendW5},
      {{"W6", "reopen: close, open, first load + first full stream", true, false, true}, true, true, Reopen},
      {{"W7", "8 threads append to the same 8 workflows; checked", false, false, true}, false, false, AppendContended},
      {{"W6-kill", "reopen after the writer was killed (SIGKILL)", true, false, true}, false, false, ReopenAfterKill},
      // The fsync floor is run by the "fsync-floor" engine only.
      {{"fsync", "append 4 KiB + fdatasync (fsync-floor only)", true, false, false}, false, false, nullptr},
      // The Runner workloads (runner_workloads.cc), each on a fresh store.
      {{"R1", "Runner: workflows x chain of 10 steps, checkpoint every cycle", false, true, true},
       false,
       false,
       nullptr},
      {{"R2", "Runner: workflows x root -> 8 steps -> join", false, true, true}, false, false, nullptr},
      {{"R3", "Runner: R1 killed half way (SIGKILL), resumed in a new process", true, true, true},
       false,
       false,
       nullptr},
      {{"R4", "Runner: workflows x 10 waiting 1 s (a durable timer), then a step", false, true, true},
       false,
       false,
       nullptr},
      {{"R5", "Runner: workflows x 10 at an Await, signalled from 4 threads", false, true, true},
       false,
       false,
       nullptr},
      {{"R7", "Runner: workflows x a map over 100 elements (a step each), reduced", false, true, true},
       false,
       false,
       nullptr},
      {{"R6", "Runner: 1,000,000 waiting on a far timer, 100 halted; a new process resumes them (disk)", true, true,
        true},
       false,
       false,
       nullptr},
  };
  return table;
}

Row MakeRow(const std::string& engine, const std::string& mode, const std::string& workload, Measured& m) {
  Row r;
  r.engine = engine;
  r.mode = mode;
  r.workload = workload;
  const double secs = m.wall_us / 1e6;
  r.ops_per_s = secs > 0 ? static_cast<double>(m.ops) / secs : 0;
  r.events_per_s = secs > 0 ? static_cast<double>(m.events) / secs : 0;
  const Summary sum = Summarize(std::move(m.lat));
  r.mean_us = sum.mean_us;
  r.p50_us = sum.p50_us;
  r.p99_us = sum.p99_us;
  r.extra = std::move(m.extra);
  return r;
}

// Runs one workload with RSS, disk and sync-counter bookkeeping around it.
Row Measure(Context& c, const WorkloadImpl& w) {
  // Set-up a workload needs but the selection skipped: run it unmeasured.
  if (w.needs_logs && c.log_ids.empty()) (void)SaveLogs(c);
  if (w.needs_events && c.wf_ids.empty()) (void)AppendW3(c);

  ResetPeakRss();
  const std::map<std::string, double> probed = c.target->Probe();
  const SyncCounters before = c.target->Counters();
  Measured m = w.run(c);
  SyncCounters after = c.target->Counters();
  for (const auto& [key, value] : c.target->Probe()) {
    auto it = probed.find(key);
    m.extra[key] = value - (it == probed.end() ? 0 : it->second);
  }
  if (!probed.empty()) {  // so that the probed totals divide into per-operation figures
    m.extra["ops"] = static_cast<double>(m.ops);
    m.extra["wall_ms"] = m.wall_us / 1000;
  }
  Row r = MakeRow(c.engine, c.mode, w.def.name, m);
  r.rss_mb = PeakRssMb();
  std::optional<std::uint64_t> bytes = m.disk_bytes;
  if (!bytes) bytes = c.target->DiskBytes();
  if (!bytes) bytes = c.target->durable() ? DirBytes(c.dir) : 0;
  r.disk_mb = static_cast<double>(*bytes) / (1 << 20);
  if ((c.mode == "sync" || c.mode == "cluster") && after.counted) {
    // Counters restart when the workload reopened the database.
    const bool reopened = after.commits < before.commits || after.syncs < before.syncs ||
                          ((w.def.name == "W6" || w.def.name == "W2-cold") && !after.across_reopen);
    const SyncCounters base = reopened ? SyncCounters{} : before;
    r.sync_mode = true;
    r.commits = static_cast<double>(after.commits - base.commits);
    r.wal_syncs = static_cast<double>(after.syncs - base.syncs);
    r.commits_per_sync = r.wal_syncs > 0 ? r.commits / r.wal_syncs : 0;
  }
  return r;
}

}  // namespace

Scale ScaleFor(bool quick) {
  Scale s;
  if (quick) {
    s.ids /= 10;
    s.workflows /= 10;
    s.w7_appends_per_thread /= 10;
    s.fsync_samples /= 10;
    s.runner_workflows /= 10;
    s.r6_workflows /= 100;
  }
  return s;
}

const std::vector<WorkloadDef>& Workloads() {
  static const std::vector<WorkloadDef> defs = [] {
    std::vector<WorkloadDef> out;
    for (const WorkloadImpl& w : Table()) out.push_back(w.def);
    return out;
  }();
  return defs;
}

std::string NotApplicable(const std::string& engine, const std::string& workload) {
  if (engine != "etcd" && engine != "etcd-raw") return {};
  if (workload == "W2-cold") {
    return "W2-cold does not apply: the data are in the etcd members, whose caches a client's close and "
           "reopen leave warm (W6 times the reconnection)";
  }
  if (workload == "W6-kill") {
    return "W6-kill does not apply: a client killed mid-write leaves no state of its own to recover; what the "
           "cluster acknowledged is there, and reconnecting is W6";
  }
  return {};
}

bool Applies(const std::string& engine, const std::string& mode, const std::string& workload) {
  auto it = std::find_if(Table().begin(), Table().end(), [&](const WorkloadImpl& w) { return w.def.name == workload; });
  if (it == Table().end()) return false;
  const WorkloadDef& w = it->def;
  const bool etcd = engine == "etcd" || engine == "etcd-raw";
  if (etcd && !NotApplicable(engine, w.name).empty()) return false;
  const bool durable = engine == "disk" || engine == "rocksdb-raw" || etcd;
  if (engine == "fsync-floor") return w.name == "fsync";
  if (engine == "rocksdb-raw" && w.name == "R1") return true;       // R1's store floor
  if (w.name == "R6") return engine == "disk" && mode == "nosync";  // about the index, not the fsync
  if (w.name == "R3") return engine == "disk";                      // kills a child process of its own
  if (w.runner) return RunnerEngine(engine) && (!w.durable_only || durable);
  return it->run != nullptr && engine != "none" && (!w.durable_only || durable);
}

std::vector<Row> RunOnce(const std::string& engine, const std::string& mode, const std::vector<std::string>& workloads,
                         const Scale& scale, const std::string& root) {
  static int serial = 0;
  const std::string dir = root + "/" + engine + "-" + mode + "-" + std::to_string(++serial);
  std::vector<Row> rows;
  auto selected = [&](const std::string& name) {
    return std::find(workloads.begin(), workloads.end(), name) != workloads.end() && Applies(engine, mode, name);
  };

  if (engine == "fsync-floor") {
    ResetPeakRss();
    Measured m = FsyncFloor(dir, scale.fsync_samples);
    Row r = MakeRow(engine, mode, "fsync", m);
    r.rss_mb = PeakRssMb();
    r.disk_mb = static_cast<double>(*m.disk_bytes) / (1 << 20);
    r.extra["floor_commits_per_s"] = r.p50_us > 0 ? 1e6 / r.p50_us : 0;
    rows.push_back(std::move(r));
    RemoveTree(dir);
    return rows;
  }

  // The store workloads share one store, opened when one of them is selected.
  Context c;
  c.engine = engine;
  c.mode = mode;
  c.dir = dir;
  c.scale = scale;
  for (const WorkloadImpl& w : Table()) {
    if (w.def.runner || !selected(w.def.name)) continue;
    if (!c.target) {
      c.target = MakeTarget(engine, mode, dir);
      c.target->Open();
    }
    rows.push_back(Measure(c, w));
  }
  c.target.reset();
  RemoveTree(dir);
  // The Runner workloads: each on a fresh store of its own.
  for (const WorkloadImpl& w : Table()) {
    if (!w.def.runner || !selected(w.def.name)) continue;
    rows.push_back(RunRunnerWorkload(engine, mode, w.def.name, scale, dir + "-" + w.def.name));
  }
  return rows;
}

Row MedianRow(const std::vector<Row>& runs) {
  Row out = runs.front();
  out.runs = static_cast<int>(runs.size());
  auto median = [&](auto field) {
    std::vector<double> v;
    for (const Row& r : runs) v.push_back(r.*field);
    return Median(std::move(v));
  };
  out.ops_per_s = median(&Row::ops_per_s);
  out.events_per_s = median(&Row::events_per_s);
  out.mean_us = median(&Row::mean_us);
  out.p50_us = median(&Row::p50_us);
  out.p99_us = median(&Row::p99_us);
  out.rss_mb = median(&Row::rss_mb);
  out.disk_mb = median(&Row::disk_mb);
  out.commits = median(&Row::commits);
  out.wal_syncs = median(&Row::wal_syncs);
  out.commits_per_sync = median(&Row::commits_per_sync);
  for (auto& [key, value] : out.extra) {
    std::vector<double> v;
    for (const Row& r : runs) {
      auto it = r.extra.find(key);
      if (it != r.extra.end()) v.push_back(it->second);
    }
    value = Median(std::move(v));
  }
  return out;
}

int ChildWriterMain(int argc, char** argv) {
  if (argc != 9) return 2;
  try {
    Scale s;
    s.ids = ParseCount(argv[5]);
    s.workflows = ParseCount(argv[6]);
    s.appends_per_workflow = ParseCount(argv[7]);
    s.events_per_append = ParseCount(argv[8]);
    Context c;
    c.engine = argv[2];
    c.mode = argv[3];
    c.dir = argv[4];
    c.scale = s;
    c.target = MakeTarget(c.engine, c.mode, c.dir);
    c.target->Open();
    (void)SaveLogs(c);
    (void)AppendW3(c);
    const char done[] = "done\n";
    if (write(STDOUT_FILENO, done, sizeof done - 1) != static_cast<ssize_t>(sizeof done - 1)) return 3;
    for (;;) pause();  // until SIGKILL
  } catch (const std::exception& e) {
    std::fprintf(stderr, "runic_bench child writer: %s\n", e.what());
    return 1;
  }
}

double ProbeFsyncUs(const std::string& root, int samples) {
  const std::string dir = root + "/fsync-probe";
  Measured m = FsyncFloor(dir, samples);
  RemoveTree(dir);
  return Summarize(std::move(m.lat)).p50_us;
}

}  // namespace bench
