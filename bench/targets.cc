// The engine adapters behind bench::Target:
//   memory / disk   the Runic store (runic::Database + runic::Store)
//   etcd            the Runic store on a 3-member etcd cluster started for
//                   the run (etcd-raw, its baseline, is etcd_raw.cc)
//   rocksdb-raw     the same operations written directly against RocksDB with
//                   the disk engine's options (store/disk/rocks_options.h)
//   ceiling         std::unordered_map / std::map under a std::shared_mutex
#include <rocksdb/db.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "etcd_bench_cluster.h"
#include "runic/runic.h"
#include "store/disk/rocks_options.h"
#include "target.h"

namespace bench {
namespace {

void Check(const runic::Status& s, std::string_view what) {
  if (!s.ok()) throw BenchError(std::string(what) + ": " + s.ToString());
}
void Check(const rocksdb::Status& s, std::string_view what) {
  if (!s.ok()) throw BenchError(std::string(what) + ": " + s.ToString());
}

// Checks that streamed sequences run 1, 2, 3, ... and counts them.
struct Contiguity {
  std::string_view id;
  std::uint64_t next = 1;
  void Saw(std::uint64_t seq) {
    if (seq != next) {
      throw BenchError("workflow '" + std::string(id) + "': sequence " + std::to_string(seq) + " where " +
                       std::to_string(next) + " was expected");
    }
    ++next;
  }
  std::uint64_t count() const { return next - 1; }
};

// ---------------------------------------------------------------- Runic ----

class RunicTarget final : public Target {
 public:
  RunicTarget(bool disc_copies, bool sync, std::string dir) {
    options_.disc_copies = disc_copies;
    options_.sync = sync;
    options_.dir = std::move(dir);
  }
  // The etcd engine, on a fresh cluster of its own: the database "bench".
  explicit RunicTarget(std::unique_ptr<BenchCluster> cluster) : cluster_(std::move(cluster)) {
    options_.nodes = cluster_->endpoints();
    options_.dir = "bench";
  }
  ~RunicTarget() override { Close(); }

  void Open() override {
    auto db = runic::Database::Open(options_);
    Check(db.status(), "opening the database");
    db_ = std::move(*db);
    auto store = db_->OpenStore("bench");
    Check(store.status(), "opening the store");
    store_ = std::move(*store);
  }
  void Close() override {
    // etcd: the commits counted on this connection (one Status call, which
    // W6's close_us includes).
    if (cluster_ && db_) closed_commits_ += Stats().commits;
    store_.reset();
    db_.reset();  // the last handle: the database closes here
  }
  bool durable() const override { return options_.disc_copies; }

  void Save(std::string_view id, std::string_view log) override { Check(store_->Save(id, log), "save"); }
  std::string Load(std::string_view id) override {
    runic::Result<runic::LogRecord> r = store_->Load(id);
    Check(r.status(), "load");
    return std::move(r->log);
  }
  std::uint64_t Append(std::string_view id, const std::vector<std::string_view>& events) override {
    runic::Result<std::uint64_t> r = store_->Append(id, events);
    Check(r.status(), "append");
    return *r;
  }
  std::uint64_t Stream(std::string_view id, const EventFn& fn) override {
    auto it = store_->Stream(id);
    Check(it.status(), "stream");
    Contiguity c{id};
    for (; (*it)->Valid(); (*it)->Next()) {
      const std::uint64_t seq = (*it)->sequence();
      c.Saw(seq);
      fn(seq, (*it)->value());
    }
    Check((*it)->status(), "stream");
    return c.count();
  }
  SyncCounters Counters() override {
    if (!options_.disc_copies) return {};
    const runic::DatabaseStats stats = Stats();
    if (cluster_) {
      // The client's acknowledged writes (counted on from one connection to
      // the next) against the WAL fsyncs of the members.
      return {true, closed_commits_ + stats.commits,
              static_cast<std::uint64_t>(cluster_->Probe().at("etcd_wal_fsyncs")), true};
    }
    return {true, stats.commits, stats.wal_syncs};
  }
  std::optional<std::uint64_t> DiskBytes() override {
    if (!cluster_) return std::nullopt;
    return Stats().disk_bytes;  // the backend database of the member called (the leader)
  }
  std::map<std::string, double> Probe() override {
    if (!cluster_) return {};
    std::map<std::string, double> figures = cluster_->Probe();
    figures["client_cpu_ms"] = ProcessCpuMs();
    return figures;
  }

 private:
  runic::DatabaseStats Stats() {
    auto stats = db_->Stats();
    Check(stats.status(), "database stats");
    return *stats;
  }

  runic::DatabaseOptions options_;
  std::unique_ptr<BenchCluster> cluster_;  // etcd only
  std::uint64_t closed_commits_ = 0;       // etcd: commits of the connections closed before
  std::shared_ptr<runic::Database> db_;
  std::unique_ptr<runic::Store> store_;
};

// ---------------------------------------------------------- rocksdb-raw ----

// Column families as the disk engine's (logs, counters, events); keys are a
// one-byte length, the id, and for events the big-endian sequence.
class RocksRawTarget final : public Target {
 public:
  RocksRawTarget(bool sync, std::string dir) : dir_(std::move(dir)) { write_options_.sync = sync; }
  ~RocksRawTarget() override { Close(); }

  void Open() override {
    rocksdb::Options o = runic::internal::RocksOptions();
    statistics_ = rocksdb::CreateDBStatistics();
    statistics_->set_stats_level(rocksdb::StatsLevel::kExceptTimers);  // as the disk engine
    o.statistics = statistics_;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const char* name : {"default", "logs", "counters", "events"}) {
      cfs.emplace_back(name, rocksdb::ColumnFamilyOptions(o));
    }
    rocksdb::DB* db = nullptr;
    Check(rocksdb::DB::Open(o, dir_, cfs, &cf_, &db), "opening rocksdb");
    db_.reset(db);
  }
  // A default close: no explicit flush, the next open replays the WAL.
  void Close() override {
    if (!db_) return;
    for (rocksdb::ColumnFamilyHandle* h : cf_) (void)db_->DestroyColumnFamilyHandle(h);
    cf_.clear();
    db_.reset();
  }
  bool durable() const override { return true; }

  void Save(std::string_view id, std::string_view log) override {
    Check(db_->Put(write_options_, cf_[kLogs], Key(id), rocksdb::Slice(log.data(), log.size())), "put log");
  }
  std::string Load(std::string_view id) override {
    std::string v;
    Check(db_->Get(rocksdb::ReadOptions(), cf_[kLogs], Key(id), &v), "get log");
    return v;
  }
  std::uint64_t Append(std::string_view id, const std::vector<std::string_view>& events) override {
    const std::string wkey = Key(id);
    std::lock_guard lock(stripes_[std::hash<std::string_view>{}(id) % stripes_.size()]);
    std::uint64_t seq = 0;
    std::string v;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_[kCounters], wkey, &v);
    if (s.ok()) {
      seq = GetFixed64(v);
    } else if (!s.IsNotFound()) {
      Check(s, "get counter");
    }
    rocksdb::WriteBatch batch;
    std::string key;
    for (std::string_view e : events) {
      key = wkey;
      PutFixed64(&key, ++seq);
      batch.Put(cf_[kEvents], key, rocksdb::Slice(e.data(), e.size()));
    }
    std::string counter;
    PutFixed64(&counter, seq);
    batch.Put(cf_[kCounters], wkey, counter);
    Check(db_->Write(write_options_, &batch), "write batch");
    return seq;
  }
  std::uint64_t Stream(std::string_view id, const EventFn& fn) override {
    const std::string wkey = Key(id);
    const rocksdb::Snapshot* snap = db_->GetSnapshot();
    struct Release {
      rocksdb::DB* db;
      const rocksdb::Snapshot* snap;
      ~Release() { db->ReleaseSnapshot(snap); }
    } release{db_.get(), snap};
    rocksdb::ReadOptions ro;
    ro.snapshot = snap;
    std::string v;
    Check(db_->Get(ro, cf_[kCounters], wkey, &v), "get counter");
    const std::uint64_t end = GetFixed64(v);
    std::string lower = wkey, upper = wkey;
    PutFixed64(&lower, 1);
    PutFixed64(&upper, end + 1);
    rocksdb::Slice upper_bound(upper);
    ro.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_[kEvents]));
    Contiguity c{id};
    for (it->Seek(lower); it->Valid(); it->Next()) {
      rocksdb::Slice k = it->key();
      const std::uint64_t seq = GetFixed64(std::string_view(k.data() + wkey.size(), 8));
      c.Saw(seq);
      fn(seq, std::string_view(it->value().data(), it->value().size()));
    }
    Check(it->status(), "iterate events");
    if (c.count() != end) throw BenchError("workflow '" + std::string(id) + "': events missing before the counter");
    return c.count();
  }
  SyncCounters Counters() override {
    return {true,
            statistics_->getTickerCount(rocksdb::WRITE_DONE_BY_SELF) +
                statistics_->getTickerCount(rocksdb::WRITE_DONE_BY_OTHER),
            statistics_->getTickerCount(rocksdb::WAL_FILE_SYNCED)};
  }

 private:
  enum { kDefault, kLogs, kCounters, kEvents };

  static std::string Key(std::string_view id) {
    if (id.size() > 255) throw BenchError("id too long");
    std::string k(1, static_cast<char>(id.size()));
    k.append(id);
    return k;
  }
  static void PutFixed64(std::string* out, std::uint64_t v) {
    for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
  }
  static std::uint64_t GetFixed64(std::string_view in) {
    if (in.size() < 8) throw BenchError("malformed counter or key");
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
    return v;
  }

  const std::string dir_;
  rocksdb::WriteOptions write_options_;
  std::shared_ptr<rocksdb::Statistics> statistics_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cf_;
  std::array<std::mutex, 1024> stripes_;
};

// -------------------------------------------------------------- ceiling ----

// What a store in RAM cannot beat: hash map of logs and ordered map of event
// lists under one shared_mutex. Load returns an owned copy (as Store::Load);
// Stream hands out views under the shared lock (as the store's iterators
// hand out views).
class CeilingTarget final : public Target {
 public:
  void Open() override {}
  void Close() override {}
  bool durable() const override { return false; }

  void Save(std::string_view id, std::string_view log) override {
    std::unique_lock lock(mu_);
    logs_[std::string(id)].assign(log);
  }
  std::string Load(std::string_view id) override {
    std::shared_lock lock(mu_);
    auto it = logs_.find(std::string(id));
    if (it == logs_.end()) throw BenchError("ceiling: no log");
    return it->second;
  }
  std::uint64_t Append(std::string_view id, const std::vector<std::string_view>& events) override {
    std::unique_lock lock(mu_);
    std::vector<std::string>& list = events_[std::string(id)];
    for (std::string_view e : events) list.emplace_back(e);
    return list.size();
  }
  std::uint64_t Stream(std::string_view id, const EventFn& fn) override {
    std::shared_lock lock(mu_);
    auto it = events_.find(std::string(id));
    if (it == events_.end()) throw BenchError("ceiling: no events");
    std::uint64_t seq = 0;
    for (const std::string& e : it->second) fn(++seq, e);
    return seq;
  }
  SyncCounters Counters() override { return {}; }

 private:
  std::shared_mutex mu_;
  std::unordered_map<std::string, std::string> logs_;
  std::map<std::string, std::vector<std::string>, std::less<>> events_;
};

}  // namespace

std::vector<std::string> ModesOf(const std::string& engine) {
  if (engine == "memory" || engine == "ceiling") return {"ram"};
  if (engine == "disk" || engine == "rocksdb-raw") return {"nosync", "sync"};
  if (engine == "fsync-floor") return {"disk"};
  if (engine == "etcd" || engine == "etcd-raw") return {"cluster"};
  if (engine == "none") return {"none"};
  throw BenchError("unknown engine '" + engine + "'");
}

std::unique_ptr<Target> MakeTarget(const std::string& engine, const std::string& mode, const std::string& dir) {
  const bool sync = mode == "sync";
  if (engine == "memory") return std::make_unique<RunicTarget>(false, false, dir);
  if (engine == "disk") return std::make_unique<RunicTarget>(true, sync, dir);
  if (engine == "rocksdb-raw") return std::make_unique<RocksRawTarget>(sync, dir);
  if (engine == "ceiling") return std::make_unique<CeilingTarget>();
  if (engine == "etcd") return std::make_unique<RunicTarget>(std::make_unique<BenchCluster>());
  throw BenchError("engine '" + engine + "' has no store target");
}

}  // namespace bench
