// runic_bench: the store workloads of ../shared/design/WORKLOADS.md for every
// engine and mode, with the baselines in the same run, and the Runner
// workloads R1..R3 on the Runic engines and on no store ("none"). This file:
// options, the run loop, and the output (table + ratios, or JSON lines).
// The etcd engine and its baseline run on 3-member clusters started for each
// run; etcd-raw runs in runic_bench_etcd_raw (etcd_raw.cc says why).
//
//   runic_bench [--quick] [--runs N] [--engines a,b] [--workloads W1,W3]
//               [--json] [--dir PATH]
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "row_json.h"
#include "runner_env.h"
#include "runner_workloads.h"
#include "stats.h"
#include "support/progress.h"
#include "system.h"
#include "target.h"
#include "workloads.h"

namespace bench {
namespace {

struct Options {
  std::vector<std::string> engines = EngineNames();
  std::vector<std::string> workloads;  // default: every workload marked by_default
  bool json = false;
  bool quick = false;
  int runs = 0;  // 0: 3, or 1 with --quick
  std::string dir;
};

// The command line, parsed with CLI11 as the tools are; exits on --help and
// on a malformed command line (with CLI11's message).
Options Parse(int argc, char** argv) {
  Options o;
  CLI::App app{"runic_bench: the store workloads (WORKLOADS.md) and the Runner workloads, per engine"};
  app.add_flag("--quick", o.quick, "a tenth of the work (default runs 1)");
  app.add_option("--runs", o.runs, "each figure is the median of N runs (default 3)")
      ->check(CLI::Range(1, 100))
      ->option_text("N");
  app.add_option("--engines", o.engines,
                 "memory, disk, rocksdb-raw, ceiling, fsync-floor, etcd, etcd-raw, none (default all);\n"
                 "none = no store: a Runner without persistence (R1, R2 only); etcd = the etcd engine\n"
                 "on a 3-member cluster on this machine (mode cluster), with its baseline etcd-raw\n"
                 "(raw gRPC calls) unless --engines names etcd-raw itself; each run starts a fresh cluster")
      ->delimiter(',')
      ->option_text("a,b");
  app.add_option("--workloads", o.workloads,
                 "store: W1, W2, W2-cold, W3, W4, W5, W6, W7, W6-kill; Runner: R1, R2, R3, R4 (timers),\n"
                 "R5 (signals), R7 (map/reduce), R6 (many waiting) (engines none, memory, disk; R3 disk only; R6 disk\n"
                 "nosync only; R1 on rocksdb-raw: the disk engine's R1 writes alone)\n"
                 "(default: all of them, R1-R7 included; each Runner workload runs on a fresh store,\n"
                 "with the Runner's default threads)")
      ->delimiter(',')
      ->option_text("a,b");
  app.add_flag("--json", o.json, "one JSON object per line instead of the table");
  app.add_option("--dir", o.dir, "where the temporary directories go, the etcd clusters' too (default $TMPDIR or /tmp)")
      ->option_text("PATH");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e) == 0 ? 0 : 2);  // --help; else a usage error
  }
  for (const std::string& e : o.engines) {
    if (std::find(EngineNames().begin(), EngineNames().end(), e) == EngineNames().end()) {
      throw BenchError("unknown engine '" + e + "'");
    }
  }
  // The etcd engine comes with its baseline, measured in the same run.
  if (auto etcd = std::find(o.engines.begin(), o.engines.end(), "etcd");
      etcd != o.engines.end() && std::find(o.engines.begin(), o.engines.end(), "etcd-raw") == o.engines.end()) {
    o.engines.insert(etcd + 1, "etcd-raw");
  }
  if (o.workloads.empty()) {
    for (const WorkloadDef& w : Workloads()) {
      if (w.by_default) o.workloads.push_back(w.name);
    }
  }
  for (const std::string& name : o.workloads) {
    const bool known =
        std::any_of(Workloads().begin(), Workloads().end(), [&](const WorkloadDef& w) { return w.name == name; });
    if (!known) throw BenchError("unknown workload '" + name + "'");
  }
  if (o.runs == 0) o.runs = o.quick ? 1 : 3;
  if (o.dir.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    o.dir = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
  }
  return o;
}

bool Has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// Why the selected workloads that do not apply to the selected etcd engines
// were left out.
std::vector<std::string> EtcdNotes(const Options& o) {
  std::vector<std::string> notes;
  const bool etcd = Has(o.engines, "etcd") || Has(o.engines, "etcd-raw");
  if (!etcd) return notes;
  for (const std::string& w : o.workloads) {
    std::string why = NotApplicable("etcd", w);
    if (!why.empty()) notes.push_back("etcd, etcd-raw: " + why);
  }
  if (Has(o.workloads, "W6")) {
    notes.push_back(
        "etcd, etcd-raw: W6 is the reconnection: close the client, connect again, first load + first "
        "full stream");
  }
  return notes;
}

// True when the selection gives engine/mode something to measure. The fsync
// floor goes with any store workload.
bool Runs(const std::string& engine, const std::string& mode, const std::vector<std::string>& workloads) {
  for (const WorkloadDef& w : Workloads()) {
    if (!Has(workloads, w.name)) continue;
    if (engine == "fsync-floor" ? !w.runner : Applies(engine, mode, w.name)) return true;
  }
  return false;
}

// A rough guess of the wall time, from the work and the measured fsync time.
double EstimateSeconds(const Options& o, const Scale& s, double fsync_us) {
  const double ids = s.ids, appends = static_cast<double>(s.workflows) * s.appends_per_workflow;
  const double w7 = static_cast<double>(s.threads) * s.w7_appends_per_thread;
  double total = 0;
  const double runner_steps = static_cast<double>(s.runner_workflows) * 10;
  for (const std::string& e : o.engines) {
    for (const std::string& mode : ModesOf(e)) {
      if (!Runs(e, mode, o.workloads)) continue;
      double us = 0;
      // Runner workloads: a step costs about 15 us without a store, 40 us
      // with one, plus a share of a commit's fsync when synced (group commit).
      const double step_us = e == "none" ? 15 : 40 + (mode == "sync" ? fsync_us / 2 : 0);
      for (const char* r : {"R1", "R2", "R3"}) {
        if (Has(o.workloads, r) && Applies(e, mode, r)) us += runner_steps * step_us * (r[1] == '3' ? 1.5 : 1) + 1e5;
      }
      // R4: 10 x the workflows, each a commit for the wait and one for the
      // timer's firing, and a second of waiting; R5 the same, signalled.
      for (const char* r : {"R4", "R5"}) {
        if (Has(o.workloads, r) && Applies(e, mode, r)) us += runner_steps * 2 * step_us + (r[1] == '4' ? 1.2e6 : 1e5);
      }
      // R7: 102 steps a workflow, with a commit for each few.
      if (Has(o.workloads, "R7") && Applies(e, mode, "R7")) us += runner_steps * 10.2 * step_us + 1e5;
      // R6: about 100 us a workflow stored (4 starters, 2 cores), then the
      // new process's open and ResumeAll.
      if (Has(o.workloads, "R6") && Applies(e, mode, "R6")) us += s.r6_workflows * 100.0 + 3e6;
      if (e == "fsync-floor") {
        us = s.fsync_samples * fsync_us;
      } else if (mode == "cluster") {
        // etcd on this machine: a cluster start, then about 1.5 ms a write
        // (a save or one append) from one thread, 1 ms with 8 threads,
        // 0.2 ms a load and 1.5 ms a stream. W2, W4 and W6 need W1 or W3.
        // (The Runner workloads, above, run at a tenth of the scale.)
        us += 2e6;
        const bool needs_logs = Has(o.workloads, "W2") || Has(o.workloads, "W6");
        const bool needs_events = Has(o.workloads, "W4") || Has(o.workloads, "W6");
        if (Has(o.workloads, "W1") || needs_logs) us += ids * 1500;
        if (Has(o.workloads, "W3") || needs_events) us += appends * 1700;
        if (Has(o.workloads, "W2")) us += ids * 200;
        if (Has(o.workloads, "W4")) us += s.workflows * 1500.0;
        if (Has(o.workloads, "W5")) us += appends * 1000;
        if (Has(o.workloads, "W6")) us += 1e5;
        if (Has(o.workloads, "W7")) us += w7 * 1200;
      } else if (e != "none") {
        const bool ram = mode == "ram", sync = mode == "sync";
        const double op = ram ? 3 : 20;                     // a write or read, us
        const double wr = op + (sync ? fsync_us + 30 : 0);  // a committed write
        const double grouped = op + (sync ? (fsync_us + 30) / 3 : 0);
        // Set-up that a workload needs when the selection skips it.
        const bool needs_logs =
            Has(o.workloads, "W2") || Has(o.workloads, "W6") || (!ram && Has(o.workloads, "W2-cold"));
        const bool needs_events = Has(o.workloads, "W4") || (!ram && Has(o.workloads, "W6"));
        if (Has(o.workloads, "W1") || needs_logs) us += ids * wr;
        if (!Has(o.workloads, "W3") && needs_events) us += appends * wr;
        if (Has(o.workloads, "W2")) us += ids * op;
        if (Has(o.workloads, "W3")) us += appends * wr;
        if (Has(o.workloads, "W4")) us += appends * op;
        if (Has(o.workloads, "W5")) us += appends * grouped;
        if (Has(o.workloads, "W7")) us += w7 * grouped;
        if (!ram) {
          if (Has(o.workloads, "W2-cold")) us += ids * op * 2 + 3e5;
          if (Has(o.workloads, "W6")) us += 1e6;
          if (Has(o.workloads, "W6-kill")) us += (ids + appends) * 20 + 1.5e6;
        }
      }
      total += us * o.runs;
    }
  }
  return total / 1e6;
}

std::string Fmt(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string MachineLine(const std::string& dir) {
  utsname u{};
  uname(&u);
  std::string cpu = "unknown cpu";
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  while (std::getline(info, line)) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  char date[32];
  const std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
  return std::string(date) + ", " + u.nodename + ", " + cpu + " x " + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) +
         " cores, Linux " + u.release + ", data on " + DescribeFileSystem(dir) + " (" + dir + ")";
}

bool IsRunnerRow(const Row& r) {
  auto it =
      std::find_if(Workloads().begin(), Workloads().end(), [&](const WorkloadDef& w) { return w.name == r.workload; });
  return it != Workloads().end() && it->runner;
}

double Extra(const Row& r, const std::string& key) {
  auto it = r.extra.find(key);
  return it == r.extra.end() ? 0 : it->second;
}

// The Runner workloads: workflows and steps per second, latency per workflow.
void PrintRunnerTable(const std::vector<Row>& rows) {
  if (std::none_of(rows.begin(), rows.end(), IsRunnerRow)) return;
  std::printf(
      "%sRunner workloads: all workflows started, then awaited; latency per workflow, start to idle\n"
      "(R3: from ResumeAll to idle, of the workflows it resumed); Runner pool: default threads\n\n",
      std::all_of(rows.begin(), rows.end(), IsRunnerRow) ? "" : "\n");
  std::printf("%-12s %-7s %-8s %12s %12s %10s %10s %10s %8s %8s\n", "engine", "mode", "workload", "workflows/s",
              "steps/s", "mean_us", "p50_us", "p99_us", "rss_mb", "disk_mb");
  std::vector<const Row*> order;  // the no-store baseline first
  for (const Row& r : rows) {
    if (IsRunnerRow(r) && r.engine == "none") order.push_back(&r);
  }
  for (const Row& r : rows) {
    if (IsRunnerRow(r) && r.engine != "none") order.push_back(&r);
  }
  for (const Row* row : order) {
    const Row& r = *row;
    std::printf("%-12s %-7s %-8s %12s %12s %10s %10s %10s %8s %8s\n", r.engine.c_str(), r.mode.c_str(),
                r.workload.c_str(), Fmt(Extra(r, "workflows_per_s"), 0).c_str(),
                Fmt(Extra(r, "steps_per_s"), 0).c_str(), Fmt(r.mean_us).c_str(), Fmt(r.p50_us).c_str(),
                Fmt(r.p99_us).c_str(), Fmt(r.rss_mb).c_str(), Fmt(r.disk_mb).c_str());
  }
  for (const Row& r : rows) {
    if (r.workload == "R4") {
      std::printf(
          "  R4 %s-%s: %.0f workflows waited 1 s: woken late p50 %.1f ms, p99 %.1f ms; woken early %.0f (must be "
          "0); rss %.0f MB\n",
          r.engine.c_str(), r.mode.c_str(), Extra(r, "workflows"), Extra(r, "wake_late_p50_ms"),
          Extra(r, "wake_late_p99_ms"), Extra(r, "woken_early"), r.rss_mb);
    } else if (r.workload == "R6") {
      std::printf(
          "  R6 %s-%s: %.0f workflows (100 halted), stored in %.0f s; a new process: ResumeAll %.3f ms, loaded %.0f; "
          "halted listed in %.1f ms reading %.0f index keys; rss %.0f MB (target: at most 512 at 1,000,000)\n",
          r.engine.c_str(), r.mode.c_str(), Extra(r, "workflows"), Extra(r, "populate_s"), Extra(r, "resume_all_ms"),
          Extra(r, "loaded_after_resume"), Extra(r, "list_halted_ms"), Extra(r, "index_keys_read"), r.rss_mb);
    } else if (r.workload == "R5") {
      std::printf(
          "  R5 %s-%s: %.0f signals from 4 threads, %.0f/s; signal to done p50 %.1f ms, p99 %.1f ms; lost "
          "%.0f, duplicated %.0f (both must be 0)\n",
          r.engine.c_str(), r.mode.c_str(), Extra(r, "workflows"), Extra(r, "signals_per_s"),
          Extra(r, "signal_to_done_p50_ms"), Extra(r, "signal_to_done_p99_ms"), Extra(r, "signals_lost"),
          Extra(r, "signals_duplicated"));
    }
  }
  for (const Row& r : rows) {
    if (r.workload != "R3") continue;
    std::printf(
        "  R3 %s-%s (each figure a median): killed after %.0f step runs (%.0f completions persisted); ResumeAll %.0f "
        "us resumed %.0f of "
        "%.0f workflows, re-dispatched %.0f runnables, ran %.0f steps; steps run twice %.0f, of them with a "
        "persisted completion %.0f (must be 0)\n",
        r.engine.c_str(), r.mode.c_str(), Extra(r, "steps_run_before_kill"), Extra(r, "steps_persisted_before_kill"),
        Extra(r, "resume_all_us"), Extra(r, "resumed"), Extra(r, "total_workflows"), Extra(r, "redispatched"),
        Extra(r, "steps_run_here"), Extra(r, "steps_run_twice"), Extra(r, "persisted_steps_run_twice"));
  }
}

void PrintTable(const std::vector<Row>& rows, const Options& o, const std::string& machine) {
  std::printf("Runic store benchmark: %s\n", machine.c_str());
  std::printf("each figure the median of %d run%s%s; latencies per operation; rss = peak during the workload\n\n",
              o.runs, o.runs == 1 ? "" : "s", o.quick ? ", --quick (a tenth of the work)" : "");
  if (std::all_of(rows.begin(), rows.end(), IsRunnerRow)) return;
  std::printf("%-12s %-7s %-8s %12s %12s %10s %10s %10s %8s %8s %8s\n", "engine", "mode", "workload", "ops/s",
              "events/s", "mean_us", "p50_us", "p99_us", "rss_mb", "disk_mb", "c/sync");
  std::string last;
  for (const Row& r : rows) {
    if (IsRunnerRow(r)) continue;  // in the Runner table
    const std::string key = r.engine + "/" + r.mode;
    if (!last.empty() && key != last) std::printf("\n");
    last = key;
    std::printf("%-12s %-7s %-8s %12s %12s %10s %10s %10s %8s %8s %8s\n", r.engine.c_str(), r.mode.c_str(),
                r.workload.c_str(), Fmt(r.ops_per_s, 0).c_str(), Fmt(r.events_per_s, 0).c_str(), Fmt(r.mean_us).c_str(),
                Fmt(r.p50_us).c_str(), Fmt(r.p99_us).c_str(), Fmt(r.rss_mb).c_str(), Fmt(r.disk_mb).c_str(),
                r.sync_mode && r.wal_syncs > 0 ? Fmt(r.commits_per_sync, 2).c_str() : "-");
  }
  const bool etcd_rows = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.mode == "cluster"; });
  if (etcd_rows) {
    std::printf(
        "\n  etcd, etcd-raw: a fresh 3-member cluster on this machine per run, calls to the leader first;\n"
        "  disk_mb = the leader's backend database; c/sync = the client's acknowledged writes per WAL fsync\n"
        "  (the members' mean, counted by etcd)\n");
    for (const std::string& note : EtcdNotes(o)) std::printf("  %s\n", note.c_str());
  }
}

const Row* Find(const std::vector<Row>& rows, const std::string& engine, const std::string& mode,
                const std::string& workload) {
  for (const Row& r : rows) {
    if (r.engine == engine && r.mode == mode && r.workload == workload) return &r;
  }
  return nullptr;
}

// One line of the ratios section: the value against a target (>= or <=).
void Ratio(const std::string& what, std::optional<double> value, const char* op, double target) {
  if (!value) return;
  if (op == nullptr) {  // for information: no target
    std::printf("  %-60s %8.2f\n", what.c_str(), *value);
    return;
  }
  const bool met = std::strcmp(op, ">=") == 0 ? *value >= target : *value <= target;
  std::printf("  %-60s %8.2f   target %s %-5s %s\n", what.c_str(), *value, op, Fmt(target, 2).c_str(),
              met ? "met" : "NOT MET");
}

std::optional<double> OpsRatio(const Row* a, const Row* b) {
  if (!a || !b || b->ops_per_s <= 0) return std::nullopt;
  return a->ops_per_s / b->ops_per_s;
}

// Where the time of the etcd workloads goes, per operation: wall time (from
// the throughput), CPU of this client process and of the three members,
// and the members' WAL fsyncs. On this machine the client and the cluster
// share the cores: cpu/wall near the core count means CPU-bound.
void PrintEtcdCosts(const std::vector<Row>& rows) {
  std::vector<const Row*> etcd;
  for (const Row& r : rows) {
    // Not W6's single operation: CPU time is counted in ticks of 10 ms.
    if (r.mode == "cluster" && Extra(r, "ops") >= 100) etcd.push_back(&r);
  }
  if (etcd.empty()) return;
  std::printf(
      "\n  etcd, per operation: wall (1 / throughput), CPU of this client and of the 3 members (summed),\n"
      "  WAL fsyncs and their time per member (the members' mean), cores busy = CPU / wall\n");
  std::printf("  %-9s %-8s %10s %12s %12s %11s %12s %12s %11s\n", "engine", "workload", "wall_us", "client_cpu_us",
              "etcd_cpu_us", "cores_busy", "fsyncs", "fsync_us", "ops/fsync");
  for (const Row* r : etcd) {
    const double ops = Extra(*r, "ops"), wall = Extra(*r, "wall_ms") * 1000 / ops;
    const double client = Extra(*r, "client_cpu_ms") * 1000 / ops, server = Extra(*r, "etcd_cpu_ms") * 1000 / ops;
    const double fsyncs = Extra(*r, "etcd_wal_fsyncs");
    std::printf("  %-9s %-8s %10s %12s %12s %11s %12s %12s %11s\n", r->engine.c_str(), r->workload.c_str(),
                Fmt(wall).c_str(), Fmt(client).c_str(), Fmt(server).c_str(),
                Fmt(wall > 0 ? (client + server) / wall : 0, 2).c_str(), Fmt(fsyncs / ops, 2).c_str(),
                Fmt(Extra(*r, "etcd_wal_fsync_ms") * 1000 / ops).c_str(),
                fsyncs > 0 ? Fmt(ops / fsyncs, 2).c_str() : "-");
  }
}

void PrintRatios(const std::vector<Row>& rows) {
  std::printf("\nRatios (within this run)\n");
  for (const char* w : {"W1", "W2", "W3", "W4", "W5"}) {
    Ratio(std::string("memory / ceiling, ops/s, ") + w,
          OpsRatio(Find(rows, "memory", "ram", w), Find(rows, "ceiling", "ram", w)), ">=", 0.5);
  }
  for (const WorkloadDef& w : Workloads()) {
    if (w.runner) continue;  // R1 on rocksdb-raw is the store floor, below
    Ratio("disk-nosync / rocksdb-raw-nosync, ops/s, " + w.name,
          OpsRatio(Find(rows, "disk", "nosync", w.name), Find(rows, "rocksdb-raw", "nosync", w.name)), ">=", 0.75);
  }
  Ratio("disk-nosync W2 / ceiling W2, ops/s",
        OpsRatio(Find(rows, "disk", "nosync", "W2"), Find(rows, "ceiling", "ram", "W2")), ">=", 0.4);
  Ratio("disk-nosync W2-cold / ceiling W2 (info)",
        OpsRatio(Find(rows, "disk", "nosync", "W2-cold"), Find(rows, "ceiling", "ram", "W2")), nullptr, 0);
  if (const Row* r = Find(rows, "disk", "sync", "W5"); r && r->wal_syncs > 0) {
    Ratio("disk-sync W5 commits per WAL sync (counted)", r->commits_per_sync, ">=", 3);
  }
  if (const Row* r = Find(rows, "rocksdb-raw", "sync", "W5"); r && r->wal_syncs > 0) {
    Ratio("rocksdb-raw-sync W5 commits per WAL sync (info)", r->commits_per_sync, nullptr, 0);
  }
  for (const char* mode : {"nosync", "sync"}) {
    for (const char* w : {"W6", "W6-kill"}) {
      const Row* d = Find(rows, "disk", mode, w);
      const Row* raw = Find(rows, "rocksdb-raw", mode, w);
      if (!d || !raw || raw->mean_us <= 0) continue;
      Ratio(std::string("disk-") + mode + " " + w + " reopen time / rocksdb-raw-" + mode + (w[2] ? " (info)" : ""),
            d->mean_us / raw->mean_us, w[2] ? nullptr : "<=", 0.25);
    }
  }
  // etcd: the engine against raw etcd calls, the targets.
  Ratio("etcd / etcd-raw, ops/s, W3 (1 thread)",
        OpsRatio(Find(rows, "etcd", "cluster", "W3"), Find(rows, "etcd-raw", "cluster", "W3")), ">=", 0.75);
  Ratio("etcd W5 / etcd-raw W5, ops/s (8 threads each)",
        OpsRatio(Find(rows, "etcd", "cluster", "W5"), Find(rows, "etcd-raw", "cluster", "W5")), ">=", 2.5);
  Ratio("etcd W4 / etcd-raw W4 (raw range reads), ops/s",
        OpsRatio(Find(rows, "etcd", "cluster", "W4"), Find(rows, "etcd-raw", "cluster", "W4")), ">=", 0.5);
  for (const char* w : {"W1", "W2", "W7"}) {
    Ratio(std::string("etcd / etcd-raw, ops/s, ") + w + " (info)",
          OpsRatio(Find(rows, "etcd", "cluster", w), Find(rows, "etcd-raw", "cluster", w)), nullptr, 0);
  }
  if (const Row* e = Find(rows, "etcd", "cluster", "W6"), *raw = Find(rows, "etcd-raw", "cluster", "W6");
      e && raw && raw->mean_us > 0) {
    Ratio("etcd W6 reconnect time / etcd-raw (info)", e->mean_us / raw->mean_us, nullptr, 0);
  }
  for (const char* e : {"etcd", "etcd-raw"}) {
    Ratio(std::string(e) + " W5 (8 threads) / W3 (1 thread), ops/s (info)",
          OpsRatio(Find(rows, e, "cluster", "W5"), Find(rows, e, "cluster", "W3")), nullptr, 0);
  }
  PrintEtcdCosts(rows);
  // The Runner: the cost of durability, R1 on the disk store against no store.
  {
    const Row* none = Find(rows, "none", "none", "R1");
    const Row* disk = Find(rows, "disk", "nosync", "R1");
    Ratio("R1 disk-nosync time / R1 none time",
          none && disk && disk->ops_per_s > 0 ? std::optional<double>(none->ops_per_s / disk->ops_per_s) : std::nullopt,
          "<=", 1.5);
    // The store floor: the disk engine's R1 writes alone, one thread. With
    // the Runner's own work keeping every core busy (as R1 none does on a
    // small machine), no Runner on this RocksDB set-up gets below
    // 1 + floor / (cores x none).
    if (const Row* floor = Find(rows, "rocksdb-raw", "nosync", "R1"); floor && none && floor->ops_per_s > 0) {
      const double cores = std::max(1u, std::thread::hardware_concurrency());
      const double share = none->ops_per_s / floor->ops_per_s;
      Ratio("R1 rocksdb-raw-nosync (store floor) time / R1 none time (info)", share, nullptr, 0);
      Ratio("R1 lower bound for disk-nosync / none on " + Fmt(cores, 0) + " cores (info)", 1 + share / cores, nullptr,
            0);
    }
    std::string line;
    static const char* const kR1[][3] = {{"none", "none", "none"},
                                         {"memory", "ram", "memory"},
                                         {"disk", "nosync", "disk-nosync"},
                                         {"disk", "sync", "disk-sync"},
                                         {"rocksdb-raw", "nosync", "store floor"}};
    for (const auto& k : kR1) {
      if (const Row* r = Find(rows, k[0], k[1], "R1")) {
        line += std::string(line.empty() ? "" : ", ") + k[2] + " " + Fmt(r->ops_per_s, 0);
      }
    }
    if (!line.empty()) std::printf("  R1 workflows/s: %s\n", line.c_str());
  }
  if (const Row* f = Find(rows, "fsync-floor", "disk", "fsync")) {
    std::printf("  fsync floor: p50 %.1f us, so at most %.0f synced commits/s without group commit\n", f->p50_us,
                f->p50_us > 0 ? 1e6 / f->p50_us : 0);
    for (const char* e : {"disk", "rocksdb-raw"}) {
      for (const char* w : {"W1", "W3", "W5", "W7"}) {
        if (const Row* r = Find(rows, e, "sync", w); r && f->p50_us > 0) {
          std::printf("  %-11s sync %-3s %8.0f ops/s = %.2f x 1/floor\n", e, w, r->ops_per_s,
                      r->ops_per_s * f->p50_us / 1e6);
        }
      }
    }
  }
}

// One run of engine/mode: here, or for etcd-raw in runic_bench_etcd_raw
// (beside this program), which prints its rows as JSON.
std::vector<Row> RunEngineOnce(const std::string& engine, const std::string& mode, const Options& o, const Scale& scale,
                               const std::string& root) {
  if (engine != "etcd-raw") return RunOnce(engine, mode, o.workloads, scale, root);
  std::string workloads;
  for (const std::string& w : o.workloads) workloads += (workloads.empty() ? "" : ",") + w;
  std::vector<std::string> args = {ProgramDir() + "/runic_bench_etcd_raw", "--workloads", workloads, "--dir", root};
  if (o.quick) args.push_back("--quick");
  std::vector<Row> rows;
  std::istringstream out(RunProgram(args));
  std::string line;
  while (std::getline(out, line)) {
    if (line.empty()) continue;
    try {
      rows.push_back(RowFromJson(nlohmann::json::parse(line)));
    } catch (const nlohmann::json::exception& e) {
      throw BenchError("runic_bench_etcd_raw printed a line that is not a row (" + std::string(e.what()) +
                       "): " + line);
    }
  }
  return rows;
}

int Main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--child-writer") == 0) return ChildWriterMain(argc, argv);
  if (argc > 1 && std::strcmp(argv[1], "--child-runner") == 0) return ChildRunnerMain(argc, argv);
  if (argc > 1 && std::strcmp(argv[1], "--child-r6") == 0) return ChildR6Main(argc, argv);
  const Options o = Parse(argc, argv);
  const Scale scale = ScaleFor(o.quick);
  // The etcd clusters (support/etcd_cluster.h) make their directories under
  // $TMPDIR: under --dir, as everything else.
  setenv("TMPDIR", o.dir.c_str(), 1);
  const std::string root = MakeTempDir(o.dir);
  struct Cleanup {
    std::string root;
    ~Cleanup() { RemoveTree(root); }
  } cleanup{root};

  const double fsync_us = ProbeFsyncUs(root, 30);
  std::fprintf(stderr, "runic_bench: estimated time ~%.0f s (fsync p50 here %.0f us); data under %s\n",
               EstimateSeconds(o, scale, fsync_us), fsync_us, root.c_str());
  const auto start = Clock::now();

  std::uint64_t units = 0;  // engine/mode runs, for the progress bar
  for (const std::string& engine : o.engines) {
    for (const std::string& mode : ModesOf(engine)) units += Runs(engine, mode, o.workloads) ? o.runs : 0;
  }
  std::optional<runic::tools::Progress> bar;  // on a terminal; else a line per run
  if (isatty(STDERR_FILENO) == 1) bar.emplace("runic_bench", "engine runs", units);
  std::vector<Row> rows;
  for (const std::string& engine : o.engines) {
    for (const std::string& mode : ModesOf(engine)) {
      if (!Runs(engine, mode, o.workloads)) continue;
      std::map<std::string, std::vector<Row>> by_workload;
      std::vector<std::string> order;
      for (int run = 1; run <= o.runs; ++run) {
        const auto t = Clock::now();
        for (Row& r : RunEngineOnce(engine, mode, o, scale, root)) {
          if (!by_workload.count(r.workload)) order.push_back(r.workload);
          by_workload[r.workload].push_back(std::move(r));
        }
        if (bar) {
          bar->Add(1);
        } else {
          std::fprintf(stderr, "  %s/%s run %d/%d: %.1f s\n", engine.c_str(), mode.c_str(), run, o.runs,
                       MicrosSince(t) / 1e6);
        }
      }
      for (const std::string& w : order) rows.push_back(MedianRow(by_workload[w]));
    }
  }
  if (bar) bar->Finish();
  std::fprintf(stderr, "runic_bench: done in %.0f s\n", MicrosSince(start) / 1e6);
  if (rows.empty()) throw BenchError("no selected engine runs the selected workloads");

  if (o.json) {
    for (const Row& r : rows) std::puts(ReportLine(r, o.quick).dump().c_str());
    for (const std::string& note : EtcdNotes(o)) std::fprintf(stderr, "runic_bench: %s\n", note.c_str());
  } else {
    PrintTable(rows, o, MachineLine(o.dir));
    PrintRunnerTable(rows);
    PrintRatios(rows);
  }
  return 0;
}

}  // namespace
}  // namespace bench

int main(int argc, char** argv) {
  try {
    return bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "runic_bench: FAILED: %s\n", e.what());
    return 1;
  }
}
