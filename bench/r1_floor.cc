// R1's store floor ("rocksdb-raw" R1): the RocksDB writes that R1 needs on
// the disk engine, written directly from one thread with no Runner, no
// encoding and no counter reads. No Runner on this RocksDB set-up can write
// R1's history with less CPU, which bounds the R1 ratio from below.
//
// Per workflow, as the disk engine writes them: the started event (90 B) and
// the input (80 B, its fact) each in a write of its own (StartWorkflow and
// Run return only once they are durable); then ten cycles, each a done event
// (262 B), a dispatch event (57 B, none after the last step), one fact (a
// 64-byte hash key, 2 B value) and the counter (16 B). Cycles are written as
// the Runner's committer writes them: many workflows per WriteBatch.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "runner_workloads.h"
#include "stats.h"
#include "store/disk/rocks_options.h"
#include "system.h"
#include "target.h"

namespace bench {
namespace {

constexpr int kSteps = 10;
constexpr int kWorkflowsPerBatch = 64;

void Check(const rocksdb::Status& s, const char* what) {
  if (!s.ok()) throw BenchError(std::string("R1 floor: ") + what + ": " + s.ToString());
}

std::string Fixed64(std::uint64_t v) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return out;
}

}  // namespace

Row RunR1Floor(const std::string& mode, const Scale& scale, const std::string& dir) {
  std::filesystem::create_directories(dir);
  rocksdb::Options o = runic::internal::RocksOptions();
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name : {"default", "counters", "events", "facts"}) {
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions(o));
  }
  std::vector<rocksdb::ColumnFamilyHandle*> cf;
  rocksdb::DB* raw = nullptr;
  Check(rocksdb::DB::Open(o, dir, cfs, &cf, &raw), "open");
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions wo;
  wo.sync = mode == "sync";

  const int n = scale.runner_workflows;
  const std::string runner = std::string("\x00\x0c", 2) + "bench-runner";
  auto wkey = [&](int w) { return runner + "r1-" + std::to_string(w) + std::string(1, '\0'); };
  const std::string start(90, 's'), input(80, 'i'), done(262, 'd'), dispatch(57, 'p'), fact(2, 'f');
  auto fact_key = [&](int w, int k) {
    std::string h = std::to_string(w) + "/" + std::to_string(k);
    return runner + h + std::string(64 - h.size(), 'h');
  };
  std::vector<std::uint64_t> counter(static_cast<std::size_t>(n), 0);
  auto put_event = [&](rocksdb::WriteBatch& b, int w, const std::string& value) {
    b.Put(cf[2], wkey(w) + Fixed64(++counter[static_cast<std::size_t>(w)]), value);
  };
  auto put_counter = [&](rocksdb::WriteBatch& b, int w) {
    b.Put(cf[1], wkey(w), Fixed64(counter[static_cast<std::size_t>(w)]) + Fixed64(0));
  };

  ResetPeakRss();
  const auto t0 = std::chrono::steady_clock::now();
  for (int w = 0; w < n; ++w) {
    rocksdb::WriteBatch started, ran;
    put_event(started, w, start);
    put_counter(started, w);
    Check(db->Write(wo, &started), "start");
    put_event(ran, w, input);
    ran.Put(cf[3], fact_key(w, -1), fact);
    put_event(ran, w, dispatch);
    put_counter(ran, w);
    Check(db->Write(wo, &ran), "input");
  }
  for (int k = 0; k < kSteps; ++k) {
    for (int first = 0; first < n; first += kWorkflowsPerBatch) {
      rocksdb::WriteBatch b;
      for (int w = first; w < std::min(n, first + kWorkflowsPerBatch); ++w) {
        b.Put(cf[3], fact_key(w, k), fact);
        put_event(b, w, done);
        if (k + 1 < kSteps) put_event(b, w, dispatch);
        put_counter(b, w);
      }
      Check(db->Write(wo, &b), "cycle");
    }
  }
  const double wall_us = MicrosSince(t0);
  const double rss = PeakRssMb();
  for (rocksdb::ColumnFamilyHandle* h : cf) Check(db->DestroyColumnFamilyHandle(h), "close");
  db.reset();
  const double disk = static_cast<double>(DirBytes(dir)) / (1 << 20);

  Row r;
  r.engine = "rocksdb-raw";
  r.mode = mode;
  r.workload = "R1";
  r.ops_per_s = wall_us > 0 ? n / (wall_us / 1e6) : 0;
  r.mean_us = r.p50_us = r.p99_us = wall_us / n;  // one thread: the mean time per workflow
  r.rss_mb = rss;
  r.disk_mb = disk;
  r.extra["workflows_per_s"] = r.ops_per_s;
  r.extra["steps_per_s"] = r.ops_per_s * kSteps;
  r.extra["workflows"] = n;
  return r;
}

}  // namespace bench
