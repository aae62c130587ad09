// The one small interface every measured engine sits behind: the Runic
// engines (memory, disk, etcd) and the baselines (rocksdb-raw, ceiling,
// etcd-raw). A failed
// operation throws BenchError: the benchmark stops loudly rather than report
// figures of a run that went wrong.
#ifndef RUNIC_BENCH_TARGET_H_
#define RUNIC_BENCH_TARGET_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bench {

struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Write commits and WAL fsyncs counted by the engine since it was opened.
// (etcd: the client's acknowledged writes, and the members' mean count of
// WAL fsyncs.)
struct SyncCounters {
  bool counted = false;  // false when the engine has no such counters
  std::uint64_t commits = 0;
  std::uint64_t syncs = 0;
  bool across_reopen = false;  // the counts go on across Close and Open
};

// Called for each streamed event, in order. The view is valid during the call.
using EventFn = std::function<void(std::uint64_t sequence, std::string_view value)>;

class Target {
 public:
  virtual ~Target() = default;

  // Opens (again) the data in the target's directory or memory.
  virtual void Open() = 0;
  // Closes: releases every handle. A durable target keeps its data.
  virtual void Close() = 0;
  // True when data survives Close (and a process kill).
  virtual bool durable() const = 0;

  virtual void Save(std::string_view id, std::string_view log) = 0;
  // An owned copy of the log; throws when missing.
  virtual std::string Load(std::string_view id) = 0;
  // Appends events atomically; returns the new cursor.
  virtual std::uint64_t Append(std::string_view id, const std::vector<std::string_view>& events) = 0;
  // Streams every event of the workflow; returns how many. Throws when the
  // workflow is missing or its sequences are not contiguous from 1.
  virtual std::uint64_t Stream(std::string_view id, const EventFn& fn) = 0;

  virtual SyncCounters Counters() = 0;

  // The bytes the data take when they are not the files of the target's
  // directory (etcd: the member's database size). Default: the directory.
  virtual std::optional<std::uint64_t> DiskBytes() { return std::nullopt; }
  // Cumulative figures (CPU time, server counters): each workload's row
  // reports, among its extra figures, how much each grew over it.
  virtual std::map<std::string, double> Probe() { return {}; }
};

// Engine names, in report order. "none" is no store at all: only the Runner
// workloads run on it (it has no Target). "etcd-raw" runs in a program of
// its own, runic_bench_etcd_raw (see etcd_raw.cc for why).
inline const std::vector<std::string>& EngineNames() {
  static const std::vector<std::string> names = {"memory",      "disk", "rocksdb-raw", "ceiling",
                                                 "fsync-floor", "etcd", "etcd-raw",    "none"};
  return names;
}

// The modes of an engine ("fsync-floor" has the single pseudo-mode "disk",
// "none" the pseudo-mode "none", "etcd" and "etcd-raw" the mode "cluster":
// a 3-member cluster on this machine, fsync on every member).
std::vector<std::string> ModesOf(const std::string& engine);

// A closed target for engine/mode keeping its data in `dir` (an empty
// directory, or a name for RAM targets; etcd targets start a cluster of
// their own). Call Open before use. Each program defines it for the
// engines it measures.
std::unique_ptr<Target> MakeTarget(const std::string& engine, const std::string& mode, const std::string& dir);

}  // namespace bench

#endif  // RUNIC_BENCH_TARGET_H_
