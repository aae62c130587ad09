// The disk engine: every runner's tables in one RocksDB instance, one column
// family per table kind (see keys.h for the key layout).
//
// Writes that read before they write (append, trim, snapshot, delete) hold
// the workflow's stripe lock, so they serialise per workflow while other
// workflows proceed in parallel; each is one atomic WriteBatch. With sync on,
// RocksDB's write groups let concurrent commits share one WAL fsync.
//
// A read-only database is a RocksDB secondary instance: it reads the files
// of a database another process may be writing, without its lock, and sees
// them as of Open and then of each Refresh (TryCatchUpWithPrimary). A
// secondary supports no snapshots, so its multi-key reads hold off Refresh
// instead (ReadView).
//
// Backups are RocksDB checkpoints, written in the layout of a data directory.
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/statistics.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <stdlib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

#include "store/database_impl.h"
#include "store/disk/data_dir.h"
#include "store/disk/group_commit.h"
#include "store/disk/info_log.h"
#include "store/disk/read_cache.h"
#include "store/disk/rocks_options.h"
#include "store/engine.h"
#include "store/keys.h"

namespace runic::internal {
namespace {

enum Table : int { kRunners = 1, kLogs, kCounters, kEvents, kSnapshots, kFacts, kTableCount };
constexpr std::array<const char*, kTableCount> kTableNames = {"default", "runners",   "logs", "counters",
                                                              "events",  "snapshots", "facts"};

constexpr std::size_t kStripes = 1024;

Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::OK();
  std::string msg = std::string(context) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return Status::Unavailable(msg);
  return Status::IOError(msg);  // IOError, NoSpace, ShutdownInProgress, ...
}

struct Counter {
  std::uint64_t counter = 0;
  std::uint64_t trimmed = 0;
  std::int64_t updated_at_us = 0;  // the last append; 0 when unknown
};

// 24 bytes: counter, trimmed, time of the last append. Counters written
// before the time was recorded have 16 bytes and still decode (time 0).
std::string EncodeCounter(Counter c) {
  std::string out;
  out.reserve(24);
  keys::PutFixed64(&out, c.counter);
  keys::PutFixed64(&out, c.trimmed);
  keys::PutFixed64(&out, static_cast<std::uint64_t>(c.updated_at_us));
  return out;
}

Result<Counter> DecodeCounter(std::string_view v, std::string_view id) {
  if (v.size() != 16 && v.size() != 24) {
    return Status::Corruption("event counter of '" + std::string(id) + "' is malformed");
  }
  Counter c{keys::GetFixed64(v), keys::GetFixed64(v.substr(8)), 0};
  if (v.size() == 24) c.updated_at_us = static_cast<std::int64_t>(keys::GetFixed64(v.substr(16)));
  if (c.trimmed > c.counter) return Status::Corruption("event counter of '" + std::string(id) + "' is inconsistent");
  return c;
}

// Shared by the engine and its runner tables.
struct Shared {
  DataDir dir;
  const bool read_only;
  std::string secondary_dir;  // read-only: the secondary's private directory (its info log)
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cf;  // indexed by Table
  std::shared_ptr<rocksdb::Statistics> statistics;
  rocksdb::WriteOptions write_options;
  ReadCache cache;
  std::array<std::mutex, kStripes> stripes;

  // Read-only: Refresh holds this exclusively; a read of several keys holds
  // it shared (ReadView), so it sees one state of the database.
  std::shared_mutex refresh_mu;
  // Read-only: open DiskIterators. Their view would change under them in a
  // Refresh (a secondary's iterators read its memtables as they grow).
  std::atomic<int> open_streams{0};

  Shared(DataDir d, std::size_t cache_bytes, bool ro) : dir(std::move(d)), read_only(ro), cache(cache_bytes) {}
  ~Shared() {
    if (db) {
      for (rocksdb::ColumnFamilyHandle* h : cf) (void)db->DestroyColumnFamilyHandle(h);
      (void)db->Close();
      db.reset();  // releases the info log before its directory goes
    }
    if (!secondary_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(secondary_dir, ec);
    }
  }

  std::size_t StripeIndex(std::string_view key) const { return std::hash<std::string_view>{}(key) % kStripes; }
  std::mutex& StripeOf(std::string_view key) { return stripes[StripeIndex(key)]; }

  std::unique_ptr<GroupCommit> group_commit;  // set when sync is on

  std::atomic<std::uint64_t> commits{0};  // acknowledged writes, merged or not

  Status Write(rocksdb::WriteBatch* batch, std::string_view what) {
    // The Store and Database handles refuse writes first; this keeps the
    // engine itself from ever writing to a database it does not hold.
    if (read_only) return Status::InvalidArgument("database " + dir.path() + " is open read-only");
    rocksdb::Status s = group_commit ? group_commit->Commit(batch) : db->Write(write_options, batch);
    if (s.ok()) commits.fetch_add(1, std::memory_order_relaxed);
    return FromRocks(s, what);
  }

  // Reads the counter of the workflow at `wkey`; {0,0} when there is none.
  Result<Counter> ReadCounter(const rocksdb::ReadOptions& ro, const std::string& wkey, std::string_view id,
                              bool* found = nullptr) {
    std::string v;
    rocksdb::Status s = db->Get(ro, cf[kCounters], wkey, &v);
    if (found) *found = s.ok();
    if (s.IsNotFound()) return Counter{};
    if (!s.ok()) return FromRocks(s, "reading the event counter of '" + std::string(id) + "'");
    return DecodeCounter(v, id);
  }
};

// One consistent state of the database for a read of several keys: a
// snapshot, or on a secondary (which has none) the exclusion of Refresh.
class ReadView {
 public:
  explicit ReadView(Shared& s) : s_(s) {
    if (s_.read_only) {
      refresh_lock_ = std::shared_lock(s_.refresh_mu);
    } else {
      snapshot_ = s_.db->GetSnapshot();
    }
  }
  ~ReadView() {
    if (snapshot_ != nullptr) s_.db->ReleaseSnapshot(snapshot_);
  }
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;

  rocksdb::ReadOptions Options() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    return ro;
  }
  // Hands the snapshot (null on a secondary) to a reader that outlives the view.
  const rocksdb::Snapshot* ReleaseSnapshot() { return std::exchange(snapshot_, nullptr); }

 private:
  Shared& s_;
  const rocksdb::Snapshot* snapshot_ = nullptr;
  std::shared_lock<std::shared_mutex> refresh_lock_;
};

class DiskIterator final : public EventIterator {
 public:
  // `snapshot` is null on a secondary; the caller's ReadView then keeps
  // Refresh out until this iterator is counted.
  DiskIterator(std::shared_ptr<const void> database, std::shared_ptr<Shared> shared, const rocksdb::Snapshot* snapshot,
               std::string wkey, std::uint64_t after, std::uint64_t end)
      : database_(std::move(database)),
        shared_(std::move(shared)),
        counted_(*shared_),
        snapshot_(snapshot),
        wkey_(std::move(wkey)),
        expected_(after + 1),
        end_(end) {
    upper_ = keys::EventKey(wkey_, end + 1);
    upper_bound_ = rocksdb::Slice(upper_);
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    ro.iterate_upper_bound = &upper_bound_;
    it_.reset(shared_->db->NewIterator(ro, shared_->cf[kEvents]));
    it_->Seek(keys::EventKey(wkey_, after + 1));
    NextPage();
  }
  ~DiskIterator() override {
    it_.reset();
    if (snapshot_ != nullptr) shared_->db->ReleaseSnapshot(snapshot_);
  }

 private:
  // One event per page: RocksDB's value stays valid until its Next().
  void NextPage() override {
    if (started_) {
      ++expected_;
      it_->Next();
    }
    started_ = true;
    if (!it_->Valid()) {
      if (!it_->status().ok()) return Fail(FromRocks(it_->status(), "reading events"));
      // Every sequence up to the counter must be there: a gap means damaged
      // storage, never a shorter stream.
      if (expected_ <= end_) return Fail(Status::Corruption("event " + std::to_string(expected_) + " is missing"));
      return SetPage(expected_, nullptr, 0);
    }
    rocksdb::Slice key = it_->key();
    if (key.size() != wkey_.size() + 8 ||
        keys::GetFixed64(std::string_view(key.data() + wkey_.size(), 8)) != expected_) {
      return Fail(Status::Corruption("event " + std::to_string(expected_) + " is missing or misplaced"));
    }
    current_ = std::string_view(it_->value().data(), it_->value().size());
    SetPage(expected_, &current_, 1);
  }

  // Counts an open iterator of a secondary for Refresh (Shared::open_streams).
  class Counted {
   public:
    explicit Counted(Shared& s) : s_(s.read_only ? &s : nullptr) {
      if (s_ != nullptr) s_->open_streams.fetch_add(1, std::memory_order_acq_rel);
    }
    ~Counted() {
      if (s_ != nullptr) s_->open_streams.fetch_sub(1, std::memory_order_acq_rel);
    }
    Counted(const Counted&) = delete;
    Counted& operator=(const Counted&) = delete;

   private:
    Shared* const s_;
  };

  const std::shared_ptr<const void> database_;  // released last
  std::shared_ptr<Shared> shared_;
  Counted counted_;
  const rocksdb::Snapshot* snapshot_;
  const std::string wkey_;
  std::string upper_;
  rocksdb::Slice upper_bound_;
  std::unique_ptr<rocksdb::Iterator> it_;
  std::uint64_t expected_;
  const std::uint64_t end_;
  bool started_ = false;
  std::string_view current_;
};

class DiskTables final : public RunnerTables {
 public:
  DiskTables(std::shared_ptr<Shared> shared, std::string runner)
      : s_(std::move(shared)), runner_(std::move(runner)), prefix_(keys::RunnerPrefix(runner_)) {}

  // Writes hold this shared and DropRunner exclusively, so a drop never
  // lands between the read and the write of an append, trim or snapshot.
  std::shared_mutex drop_mu;

  // Records the runner in the runners table (once; again after a drop, when
  // a handle that was open writes again). A read-only database records
  // nothing: its stores only read.
  Status EnsureRegistered() {
    if (s_->read_only) return Status::OK();
    if (registered_.load(std::memory_order_acquire)) return Status::OK();
    std::string ignored;
    const rocksdb::Slice name(runner_);
    rocksdb::Status found = s_->db->Get(rocksdb::ReadOptions(), s_->cf[kRunners], name, &ignored);
    if (found.IsNotFound()) {
      rocksdb::WriteBatch batch;
      batch.Put(s_->cf[kRunners], name, rocksdb::Slice());
      Status st = s_->Write(&batch, "registering runner '" + runner_ + "'");
      if (!st.ok()) return st;
    } else if (!found.ok()) {
      return FromRocks(found, "reading runner '" + runner_ + "'");
    }
    registered_.store(true, std::memory_order_release);
    return Status::OK();
  }
  void MarkDropped() { registered_.store(false, std::memory_order_release); }

  Status SaveLog(std::string_view id, std::string_view log, std::int64_t updated_at_us) override {
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) return r;
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    auto value = std::make_shared<std::string>();
    value->reserve(8 + log.size());
    keys::PutFixed64(value.get(), static_cast<std::uint64_t>(updated_at_us));
    value->append(log);
    std::lock_guard lock(s_->StripeOf(wkey));
    const std::uint64_t epoch = s_->cache.epoch();
    rocksdb::WriteBatch batch;
    batch.Put(s_->cf[kLogs], wkey, *value);
    Status st = s_->Write(&batch, "saving the log of '" + std::string(id) + "'");
    if (st.ok()) s_->cache.Put(CacheKey('L', wkey), std::move(value), epoch);
    return st;
  }

  Result<LogRecord> LoadLog(std::string_view id) override {
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    Result<ReadCache::Value> v = CachedGet(kLogs, 'L', wkey, id, "log");
    if (!v.ok()) return v.status();
    const std::string& raw = **v;
    if (raw.size() < 8) return Status::Corruption("the log of '" + std::string(id) + "' is malformed");
    LogRecord rec;
    rec.updated_at = std::chrono::system_clock::time_point(
        std::chrono::microseconds(static_cast<std::int64_t>(keys::GetFixed64(raw))));
    rec.log.assign(raw, 8);
    return rec;
  }

  Result<std::uint64_t> Append(std::string_view id, std::span<const std::string_view> events,
                               std::optional<std::uint64_t> expected, FactList facts) override {
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) return r;
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    std::lock_guard lock(s_->StripeOf(wkey));
    rocksdb::WriteBatch batch;
    Result<std::uint64_t> seq = AddAppend(&batch, wkey, {id, events, expected, facts});
    if (!seq.ok()) return seq;
    Status st = s_->Write(&batch, "appending to '" + std::string(id) + "'");
    InvalidateFacts(facts);
    if (!st.ok()) return st;
    return seq;
  }

  // One WriteBatch for every input that passes its checks.
  std::vector<Result<std::uint64_t>> AppendMany(std::span<const AppendInput> inputs) override {
    std::vector<Result<std::uint64_t>> results;
    results.reserve(inputs.size());
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) {
      results.assign(inputs.size(), r);
      return results;
    }
    std::vector<std::string> wkeys;
    wkeys.reserve(inputs.size());
    std::vector<std::size_t> stripes;
    for (const AppendInput& in : inputs) {
      wkeys.push_back(keys::WorkflowKey(prefix_, in.id));
      stripes.push_back(s_->StripeIndex(wkeys.back()));
    }
    // Every stripe involved, locked in index order so that two batches never
    // wait on each other.
    std::sort(stripes.begin(), stripes.end());
    stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
    std::vector<std::unique_lock<std::mutex>> locks;
    locks.reserve(stripes.size());
    for (std::size_t i : stripes) locks.emplace_back(s_->stripes[i]);

    rocksdb::WriteBatch batch;
    bool any = false;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      results.push_back(AddAppend(&batch, wkeys[i], inputs[i]));
      any = any || results.back().ok();
    }
    if (!any) return results;
    Status st = s_->Write(&batch, "appending to " + std::to_string(inputs.size()) + " workflows");
    for (const AppendInput& in : inputs) InvalidateFacts(in.facts);
    if (!st.ok()) {
      for (Result<std::uint64_t>& r : results) {
        if (r.ok()) r = st;
      }
    }
    return results;
  }

  Result<std::unique_ptr<EventIterator>> Stream(std::string_view id, std::uint64_t after,
                                                std::shared_ptr<const void> database) override {
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    ReadView view(*s_);
    bool found = false;
    Result<Counter> c = s_->ReadCounter(view.Options(), wkey, id, &found);
    Status st = !c.ok()  ? c.status()
                : !found ? Status::NotFound("no event stream for '" + std::string(id) + "'")
                         : CheckNotTrimmed(id, after, c->trimmed);
    if (!st.ok()) return st;
    if (after >= c->counter) return EmptyIterator();
    return std::unique_ptr<EventIterator>(
        new DiskIterator(std::move(database), s_, view.ReleaseSnapshot(), std::move(wkey), after, c->counter));
  }

  Status SaveSnapshot(std::string_view id, std::uint64_t cursor, std::string_view bytes) override {
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) return r;
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    std::lock_guard lock(s_->StripeOf(wkey));
    Result<Counter> c = s_->ReadCounter(rocksdb::ReadOptions(), wkey, id);
    if (!c.ok()) return c.status();
    if (cursor > c->counter) {
      return Status::InvalidArgument("snapshot cursor " + std::to_string(cursor) + " is above workflow '" +
                                     std::string(id) + "' counter " + std::to_string(c->counter));
    }
    std::string value;
    keys::PutFixed64(&value, cursor);
    value.append(bytes);
    rocksdb::WriteBatch batch;
    batch.Put(s_->cf[kSnapshots], wkey, value);
    return s_->Write(&batch, "saving the snapshot of '" + std::string(id) + "'");
  }

  Result<Snapshot> LoadSnapshot(std::string_view id) override {
    std::string v;
    rocksdb::Status rs = s_->db->Get(rocksdb::ReadOptions(), s_->cf[kSnapshots], keys::WorkflowKey(prefix_, id), &v);
    if (rs.IsNotFound()) return Status::NotFound("no snapshot for '" + std::string(id) + "'");
    if (!rs.ok()) return FromRocks(rs, "loading the snapshot of '" + std::string(id) + "'");
    if (v.size() < 8) return Status::Corruption("the snapshot of '" + std::string(id) + "' is malformed");
    return Snapshot{keys::GetFixed64(v), v.substr(8)};
  }

  Status SaveFact(std::string_view hash, std::string_view value) override {
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) return r;
    const std::string fkey = prefix_ + std::string(hash);
    auto cached = std::make_shared<const std::string>(value);
    std::lock_guard lock(s_->StripeOf(fkey));
    const std::uint64_t epoch = s_->cache.epoch();
    rocksdb::WriteBatch batch;
    batch.Put(s_->cf[kFacts], fkey, *cached);
    Status st = s_->Write(&batch, "saving a fact");
    if (st.ok()) s_->cache.Put(CacheKey('F', fkey), std::move(cached), epoch);
    return st;
  }

  Result<std::string> LoadFact(std::string_view hash) override {
    Result<ReadCache::Value> v = CachedGet(kFacts, 'F', prefix_ + std::string(hash), hash, "fact");
    if (!v.ok()) return v.status();
    return std::string(**v);
  }

  Status DeleteFact(std::string_view hash) override {
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) return r;
    const std::string fkey = prefix_ + std::string(hash);
    std::lock_guard lock(s_->StripeOf(fkey));
    rocksdb::WriteBatch batch;
    batch.Delete(s_->cf[kFacts], fkey);
    Status st = s_->Write(&batch, "deleting a fact");
    s_->cache.Erase(CacheKey('F', fkey));
    return st;
  }

  Status Delete(std::string_view id) override {
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) return r;
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    std::lock_guard lock(s_->StripeOf(wkey));
    rocksdb::WriteBatch batch;
    batch.Delete(s_->cf[kLogs], wkey);
    batch.Delete(s_->cf[kCounters], wkey);
    batch.Delete(s_->cf[kSnapshots], wkey);
    batch.DeleteRange(s_->cf[kEvents], wkey, keys::PrefixSuccessor(wkey));
    Status st = s_->Write(&batch, "deleting '" + std::string(id) + "'");
    s_->cache.Erase(CacheKey('L', wkey));
    return st;
  }

  Result<ListPage> List(const ListOptions& options) override {
    std::string range = prefix_;
    keys::AppendEscaped(&range, options.prefix);
    std::string start = range;
    if (!options.start_after.empty() && options.start_after >= options.prefix) {
      start = keys::WorkflowKey(prefix_, options.start_after);
      start.push_back('\0');  // just past start_after itself
    }
    const std::string limit = keys::PrefixSuccessor(range);
    ReadView view(*s_);
    rocksdb::ReadOptions ro = view.Options();
    rocksdb::Slice upper(limit);
    if (!limit.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> logs(s_->db->NewIterator(ro, s_->cf[kLogs]));
    std::unique_ptr<rocksdb::Iterator> counters(s_->db->NewIterator(ro, s_->cf[kCounters]));
    logs->Seek(start);
    counters->Seek(start);
    ListPage page;
    Status st;
    // Merge the two sorted key sets; an id with both appears once.
    while (logs->Valid() || counters->Valid()) {
      rocksdb::Slice key;
      if (!counters->Valid() || (logs->Valid() && logs->key().compare(counters->key()) <= 0)) {
        key = logs->key();
      } else {
        key = counters->key();
      }
      const std::string current = key.ToString();
      if (page.ids.size() == options.limit) {
        page.more = true;
        break;
      }
      std::optional<std::string> id = keys::DecodeId(current, prefix_);
      if (!id) {
        st = Status::Corruption("malformed workflow key in runner '" + runner_ + "'");
        break;
      }
      page.ids.push_back(std::move(*id));
      if (logs->Valid() && logs->key() == current) logs->Next();
      if (counters->Valid() && counters->key() == current) counters->Next();
    }
    if (st.ok() && !logs->status().ok()) st = FromRocks(logs->status(), "listing workflows");
    if (st.ok() && !counters->status().ok()) st = FromRocks(counters->status(), "listing workflows");
    if (!st.ok()) return st;
    return page;
  }

  Result<bool> Exists(std::string_view id) override {
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    std::string v;
    for (Table t : {kCounters, kLogs}) {
      rocksdb::Status rs = s_->db->Get(rocksdb::ReadOptions(), s_->cf[t], wkey, &v);
      if (rs.ok()) return true;
      if (!rs.IsNotFound()) return FromRocks(rs, "checking '" + std::string(id) + "'");
    }
    return false;
  }

  Result<WorkflowSummary> Describe(std::string_view id) override {
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    ReadView view(*s_);
    const rocksdb::ReadOptions ro = view.Options();
    WorkflowSummary sum;
    std::int64_t updated_at_us = 0;
    std::string v;
    rocksdb::Status rs = s_->db->Get(ro, s_->cf[kLogs], wkey, &v);
    if (rs.ok()) {
      if (v.size() < 8) return Status::Corruption("the log of '" + std::string(id) + "' is malformed");
      sum.has_log = true;
      sum.log_bytes = v.size() - 8;
      updated_at_us = static_cast<std::int64_t>(keys::GetFixed64(v));
    } else if (!rs.IsNotFound()) {
      return FromRocks(rs, "loading the log of '" + std::string(id) + "'");
    }
    bool found = false;
    Result<Counter> c = s_->ReadCounter(ro, wkey, id, &found);
    if (!c.ok()) return c.status();
    if (!sum.has_log && !found) return Status::NotFound("no workflow '" + std::string(id) + "'");
    sum.cursor = c->counter;
    sum.trimmed = c->trimmed;
    sum.events = c->counter - c->trimmed;
    updated_at_us = std::max(updated_at_us, c->updated_at_us);
    rs = s_->db->Get(ro, s_->cf[kSnapshots], wkey, &v);
    if (rs.ok()) {
      if (v.size() < 8) return Status::Corruption("the snapshot of '" + std::string(id) + "' is malformed");
      sum.has_snapshot = true;
      sum.snapshot_cursor = keys::GetFixed64(v);
      sum.snapshot_bytes = v.size() - 8;
    } else if (!rs.IsNotFound()) {
      return FromRocks(rs, "loading the snapshot of '" + std::string(id) + "'");
    }
    if (sum.events > 0) {
      const std::string upper = keys::EventKey(wkey, c->counter + 1);
      const rocksdb::Slice upper_bound(upper);
      rocksdb::ReadOptions events_ro = ro;
      events_ro.iterate_upper_bound = &upper_bound;
      std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(events_ro, s_->cf[kEvents]));
      std::uint64_t n = 0;
      for (it->Seek(keys::EventKey(wkey, c->trimmed + 1)); it->Valid(); it->Next()) {
        ++n;
        sum.event_bytes += it->value().size();
      }
      if (!it->status().ok()) return FromRocks(it->status(), "reading the events of '" + std::string(id) + "'");
      // As in Stream: a missing event is damage, never a shorter stream.
      if (n != sum.events) {
        return Status::Corruption("workflow '" + std::string(id) + "' has " + std::to_string(n) + " of its " +
                                  std::to_string(sum.events) + " events");
      }
    }
    sum.updated_at = std::chrono::system_clock::time_point(std::chrono::microseconds(updated_at_us));
    return sum;
  }

  Status Trim(std::string_view id, std::uint64_t cursor) override {
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) return r;
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    std::lock_guard lock(s_->StripeOf(wkey));
    bool found = false;
    Result<Counter> c = s_->ReadCounter(rocksdb::ReadOptions(), wkey, id, &found);
    if (!c.ok()) return c.status();
    if (!found) return Status::NotFound("no event stream for '" + std::string(id) + "'");
    if (cursor > c->counter) {
      return Status::InvalidArgument("trim cursor " + std::to_string(cursor) + " is above workflow '" +
                                     std::string(id) + "' counter " + std::to_string(c->counter));
    }
    if (cursor <= c->trimmed) return Status::OK();
    rocksdb::WriteBatch batch;
    batch.DeleteRange(s_->cf[kEvents], keys::EventKey(wkey, c->trimmed + 1), keys::EventKey(wkey, cursor + 1));
    batch.Put(s_->cf[kCounters], wkey, EncodeCounter({c->counter, cursor, c->updated_at_us}));
    return s_->Write(&batch, "trimming '" + std::string(id) + "'");
  }

  Result<StoreStats> Stats() override {
    StoreStats stats;
    ReadView view(*s_);
    rocksdb::ReadOptions ro = view.Options();
    const std::string limit = keys::PrefixSuccessor(prefix_);
    rocksdb::Slice upper(limit);
    ro.iterate_upper_bound = &upper;
    struct Sum {
      Table table;
      std::uint64_t* count;
      std::uint64_t* bytes;
      std::size_t header;
    };
    std::uint64_t counters = 0, counter_bytes = 0;
    Status st;
    for (Sum sum : {Sum{kLogs, &stats.logs, &stats.log_bytes, 8}, Sum{kEvents, &stats.events, &stats.event_bytes, 0},
                    Sum{kSnapshots, &stats.snapshots, &stats.snapshot_bytes, 8},
                    Sum{kFacts, &stats.facts, &stats.fact_bytes, 0}, Sum{kCounters, &counters, &counter_bytes, 0}}) {
      std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[sum.table]));
      for (it->Seek(prefix_); it->Valid(); it->Next()) {
        ++*sum.count;
        *sum.bytes += it->value().size() - std::min(sum.header, it->value().size());
        if (sum.table == kCounters) {
          Result<Counter> c = DecodeCounter(std::string_view(it->value().data(), it->value().size()), "?");
          if (c.ok() && c->counter > c->trimmed) ++stats.workflows_with_events;
        }
      }
      if (!it->status().ok() && st.ok()) st = FromRocks(it->status(), "computing stats");
    }
    if (!st.ok()) return st;
    return stats;
  }

  Result<ListPage> ListFacts(const ListOptions& options) override {
    const std::string range = prefix_ + options.prefix;
    std::string start = range;
    if (!options.start_after.empty() && options.start_after >= options.prefix) {
      start = prefix_ + options.start_after;
      start.push_back('\0');  // just past start_after itself
    }
    const std::string limit = keys::PrefixSuccessor(range);
    ReadView view(*s_);
    rocksdb::ReadOptions ro = view.Options();
    rocksdb::Slice upper(limit);
    if (!limit.empty()) ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kFacts]));
    ListPage page;
    for (it->Seek(start); it->Valid(); it->Next()) {
      if (page.ids.size() == options.limit) {
        page.more = true;
        break;
      }
      page.ids.emplace_back(it->key().data() + prefix_.size(), it->key().size() - prefix_.size());
    }
    if (!it->status().ok()) return FromRocks(it->status(), "listing facts");
    return page;
  }

  // Written where the stream will have them, under the stripe lock so that
  // ImportWorkflow's check and write see no import in between. The counter
  // is not touched: streams read up to it, so these stay out of sight.
  Status ImportEvents(std::string_view id, std::uint64_t first_sequence,
                      std::span<const std::string_view> events) override {
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) return r;
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    std::lock_guard lock(s_->StripeOf(wkey));
    rocksdb::WriteBatch batch;
    std::string key;
    std::uint64_t seq = first_sequence;
    for (std::string_view e : events) {
      key.assign(wkey);
      keys::PutFixed64(&key, seq++);
      batch.Put(s_->cf[kEvents], key, rocksdb::Slice(e.data(), e.size()));
    }
    return s_->Write(&batch, "importing events of '" + std::string(id) + "'");
  }

  Status ImportWorkflow(std::string_view id, const WorkflowImport& w) override {
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) return r;
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    const std::string wend = keys::PrefixSuccessor(wkey);  // past every event of the workflow
    const std::string first = keys::EventKey(wkey, w.trimmed + 1);
    const std::string past = keys::EventKey(wkey, w.cursor + 1);  // validated: cursor < UINT64_MAX
    std::lock_guard lock(s_->StripeOf(wkey));
    // One pass over the workflow's events: (trimmed, cursor] must all be
    // there; what lies below or above goes, with a range delete only where
    // there is something to delete.
    bool below = false, above = false;
    {
      rocksdb::ReadOptions ro;
      const rocksdb::Slice upper(wend);
      ro.iterate_upper_bound = &upper;
      std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kEvents]));
      it->Seek(wkey);
      below = it->Valid() && it->key().compare(first) < 0;
      std::uint64_t expected = w.trimmed + 1;
      if (it->status().ok()) {
        for (it->Seek(first); expected <= w.cursor && it->Valid(); it->Next()) {
          const rocksdb::Slice key = it->key();
          if (key.size() != wkey.size() + 8 ||
              keys::GetFixed64(std::string_view(key.data() + wkey.size(), 8)) != expected) {
            break;
          }
          ++expected;
        }
      }
      if (!it->status().ok()) return FromRocks(it->status(), "reading the events of '" + std::string(id) + "'");
      if (expected <= w.cursor) {
        return Status::InvalidArgument("import of '" + std::string(id) + "': event " + std::to_string(expected) +
                                       " is missing; events " + std::to_string(w.trimmed + 1) + " to " +
                                       std::to_string(w.cursor) + " must be imported first");
      }
      above = it->Valid();  // the first key past the range, if any
    }
    rocksdb::WriteBatch batch;
    if (below) batch.DeleteRange(s_->cf[kEvents], wkey, first);
    if (above) batch.DeleteRange(s_->cf[kEvents], past, wend);
    // No counter for a workflow without events, as after Save alone.
    if (w.cursor > 0) {
      batch.Put(s_->cf[kCounters], wkey, EncodeCounter({w.cursor, w.trimmed, ToMicros(w.updated_at)}));
    } else {
      batch.Delete(s_->cf[kCounters], wkey);
    }
    if (w.log) {
      std::string value;
      value.reserve(8 + w.log->log.size());
      keys::PutFixed64(&value, static_cast<std::uint64_t>(ToMicros(w.log->updated_at)));
      value.append(w.log->log);
      batch.Put(s_->cf[kLogs], wkey, value);
    } else {
      batch.Delete(s_->cf[kLogs], wkey);
    }
    if (w.snapshot) {
      std::string value;
      value.reserve(8 + w.snapshot->bytes.size());
      keys::PutFixed64(&value, w.snapshot->cursor);
      value.append(w.snapshot->bytes);
      batch.Put(s_->cf[kSnapshots], wkey, value);
    } else {
      batch.Delete(s_->cf[kSnapshots], wkey);
    }
    Status st = s_->Write(&batch, "importing '" + std::string(id) + "'");
    s_->cache.Erase(CacheKey('L', wkey));  // under the stripe: no fill from before the write survives
    return st;
  }

 private:
  // Adds one append's events, counter and facts to `batch`; returns the new
  // counter. The caller holds the stripe of `wkey`. Adds nothing on a
  // conflict or error.
  Result<std::uint64_t> AddAppend(rocksdb::WriteBatch* batch, const std::string& wkey, const AppendInput& in) {
    Result<Counter> c = s_->ReadCounter(rocksdb::ReadOptions(), wkey, in.id);
    if (!c.ok()) return c.status();
    if (in.expected_cursor && *in.expected_cursor != c->counter) {
      return Status::Conflict("workflow '" + std::string(in.id) + "' is at cursor " + std::to_string(c->counter) +
                              ", not the expected " + std::to_string(*in.expected_cursor));
    }
    std::string key = keys::EventKey(wkey, 0);
    std::uint64_t seq = c->counter;
    for (std::string_view e : in.events) {
      key.resize(wkey.size());
      keys::PutFixed64(&key, ++seq);
      batch->Put(s_->cf[kEvents], key, rocksdb::Slice(e.data(), e.size()));
    }
    batch->Put(s_->cf[kCounters], wkey, EncodeCounter({seq, c->trimmed, NowMicros()}));
    std::string fkey;
    for (const auto& [hash, value] : in.facts) {
      fkey.assign(prefix_).append(hash);
      batch->Put(s_->cf[kFacts], fkey, rocksdb::Slice(value.data(), value.size()));
    }
    return seq;
  }

  // The facts' stripes are not held by appends: after writing facts, drop
  // their cached values and any fill that read them before the write.
  void InvalidateFacts(FactList facts) {
    for (const auto& fact : facts) s_->cache.Invalidate(CacheKey('F', prefix_ + std::string(fact.first)));
  }

  static std::string CacheKey(char table, std::string_view key) {
    std::string out(1, table);
    out.append(key);
    return out;
  }

  // A point read through the read cache. A miss fills the cache under the
  // key's stripe lock, so it cannot race with a write of the same key.
  Result<ReadCache::Value> CachedGet(Table table, char tag, const std::string& key, std::string_view id,
                                     const char* what) {
    const std::string ckey = CacheKey(tag, key);
    if (ReadCache::Value v = s_->cache.Get(ckey)) return v;
    std::unique_lock<std::mutex> lock;
    if (s_->cache.enabled()) lock = std::unique_lock(s_->StripeOf(key));
    const std::uint64_t epoch = s_->cache.epoch();
    auto value = std::make_shared<std::string>();
    rocksdb::Status rs = s_->db->Get(rocksdb::ReadOptions(), s_->cf[table], key, value.get());
    if (rs.IsNotFound()) return Status::NotFound(std::string("no ") + what + " for '" + std::string(id) + "'");
    if (!rs.ok()) return FromRocks(rs, std::string("loading the ") + what + " of '" + std::string(id) + "'");
    s_->cache.Put(ckey, value, epoch);
    return ReadCache::Value(std::move(value));
  }

  std::shared_ptr<Shared> s_;
  const std::string runner_;
  const std::string prefix_;
  std::atomic<bool> registered_{false};
};

class DiskEngine final : public Engine {
 public:
  explicit DiskEngine(std::shared_ptr<Shared> shared) : s_(std::move(shared)) {}

  ~DiskEngine() override {
    if (s_->read_only) return;  // a secondary's memtables are its owner's to flush
    // Flush the memtables so that the next open need not replay the WAL,
    // then close. Errors here cannot be reported: the WAL still has the data.
    rocksdb::FlushOptions fo;
    fo.wait = true;
    std::vector<rocksdb::ColumnFamilyHandle*> cfs(s_->cf.begin() + 1, s_->cf.end());
    (void)s_->db->Flush(fo, cfs);
    // ~Shared closes RocksDB once the runner tables release it.
  }

  Result<std::shared_ptr<RunnerTables>> OpenRunner(std::string_view runner) override {
    std::shared_ptr<DiskTables> tables = TablesOf(runner);
    std::shared_lock drop(tables->drop_mu);
    Status st = tables->EnsureRegistered();  // a commit only the first time
    if (!st.ok()) return st;
    return std::shared_ptr<RunnerTables>(std::move(tables));
  }

  Result<std::vector<std::string>> ListRunners() override {
    std::vector<std::string> names;
    std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(rocksdb::ReadOptions(), s_->cf[kRunners]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) names.push_back(it->key().ToString());
    if (!it->status().ok()) return FromRocks(it->status(), "listing runners");
    return names;
  }

  Status DropRunner(std::string_view runner) override {
    const std::string prefix = keys::RunnerPrefix(runner);
    const std::string limit = keys::PrefixSuccessor(prefix);
    std::shared_ptr<DiskTables> tables = TablesOf(runner);
    std::unique_lock drop(tables->drop_mu);
    rocksdb::WriteBatch batch;
    for (Table t : {kLogs, kCounters, kEvents, kSnapshots, kFacts}) batch.DeleteRange(s_->cf[t], prefix, limit);
    batch.Delete(s_->cf[kRunners], rocksdb::Slice(runner.data(), runner.size()));
    Status st = s_->Write(&batch, "dropping runner '" + std::string(runner) + "'");
    if (st.ok()) tables->MarkDropped();
    s_->cache.Clear();  // after the delete: fills that read before it are discarded
    return st;
  }

  Result<DatabaseStats> Stats() override {
    DatabaseStats stats;
    stats.engine = "disk";
    stats.dir = s_->dir.path();
    stats.sync = s_->write_options.sync;
    stats.disk_bytes = DirectoryBytes(s_->dir.path());
    stats.commits = s_->commits.load(std::memory_order_relaxed);
    stats.wal_syncs = s_->statistics->getTickerCount(rocksdb::WAL_FILE_SYNCED);
    s_->cache.Counts(&stats.read_cache_hits, &stats.read_cache_misses);
    return stats;
  }

  Status Refresh() override {
    if (!s_->read_only) return Status::OK();
    std::unique_lock lock(s_->refresh_mu);
    if (const int open = s_->open_streams.load(std::memory_order_acquire); open > 0) {
      return Status::Unavailable("cannot refresh read-only database " + s_->dir.path() + " while " +
                                 std::to_string(open) + " event stream(s) of it are open; release them first");
    }
    rocksdb::Status rs = s_->db->TryCatchUpWithPrimary();
    // After the catch-up: a fill that read the old state is discarded.
    s_->cache.Clear();
    return FromRocks(rs, "refreshing read-only database " + s_->dir.path());
  }

  // A RocksDB checkpoint in the layout of a data directory (the engine files
  // in engine_path(), then the marker). Table files are hard-linked when they
  // can be: they never change, and the copy then costs little space.
  Status Backup(const std::string& dest_dir) override {
    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(dest_dir, ec);
    if (!ec) abs = std::filesystem::weakly_canonical(abs, ec);
    if (ec) return Status::IOError("cannot resolve backup directory '" + dest_dir + "': " + ec.message());
    std::string dest = abs.lexically_normal().string();
    if (dest.size() > 1 && dest.back() == '/') dest.pop_back();
    const std::string& src = s_->dir.path();
    if (dest == src || dest.starts_with(src + "/")) {
      return Status::InvalidArgument("backup directory '" + dest + "' is inside the database " + src);
    }
    Result<DataDir> copy = DataDir::CreateForCopy(dest);
    if (!copy.ok()) return copy.status();
    Status st =
        s_->read_only ? CopySecondary(copy->engine_path()) : WriteCheckpoint(copy->engine_path(), kFlushWalBytes);
    if (st.ok()) st = copy->MarkReady();
    if (!st.ok()) copy->DiscardCopy();
    return st;
  }

 private:
  // Below this many WAL bytes a backup copies the WALs rather than flush the
  // memtables first (a flush would leave small table files behind in the
  // database for every backup); above it, the flush keeps the copy's replay
  // at its next open short.
  static constexpr std::uint64_t kFlushWalBytes = std::uint64_t{64} << 20;
  // A secondary's copy is tried this many times (see CopySecondary).
  static constexpr int kCopyAttempts = 5;

  // Writes a checkpoint of the database into `path`, which must not exist.
  Status WriteCheckpoint(const std::string& path, std::uint64_t log_size_for_flush) {
    rocksdb::Checkpoint* raw = nullptr;
    rocksdb::Status rs = rocksdb::Checkpoint::Create(s_->db.get(), &raw);
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    if (rs.ok()) rs = checkpoint->CreateCheckpoint(path, log_size_for_flush);
    return FromRocks(rs, "copying database " + s_->dir.path() + " to " + path);
  }

  // Catches up with the owner; returns the table files then live.
  Result<std::vector<std::string>> CatchUp() {
    rocksdb::Status rs = s_->db->TryCatchUpWithPrimary();
    s_->cache.Clear();  // as in Refresh
    if (!rs.ok()) return FromRocks(rs, "catching up with the owner of " + s_->dir.path());
    std::vector<rocksdb::LiveFileMetaData> live;
    s_->db->GetLiveFilesMetaData(&live);
    std::vector<std::string> names;
    names.reserve(live.size());
    for (const rocksdb::LiveFileMetaData& f : live) names.push_back(f.name);
    std::sort(names.begin(), names.end());
    return names;
  }

  // A secondary copies the files of the version it read from the owner's
  // MANIFEST, and the WALs present now. Two things can go wrong while the
  // owner writes: a table file it lists may be deleted by a compaction before
  // it is linked (the checkpoint fails), and a WAL may be deleted after a
  // flush that the copied MANIFEST does not know of (the copy would silently
  // miss that WAL's writes). So the secondary catches up before and after
  // the checkpoint and keeps the copy only if the owner's table files did not
  // change in between (no flush, no compaction); otherwise it tries again, a
  // bounded number of times. Refresh is held off meanwhile: the catch-ups
  // move the view of this database's readers, as Refresh does.
  Status CopySecondary(const std::string& path) {
    std::unique_lock lock(s_->refresh_mu);
    if (const int open = s_->open_streams.load(std::memory_order_acquire); open > 0) {
      return Status::Unavailable("cannot back up read-only database " + s_->dir.path() + " while " +
                                 std::to_string(open) + " event stream(s) of it are open; release them first");
    }
    Status last;
    for (int attempt = 1; attempt <= kCopyAttempts; ++attempt) {
      if (attempt > 1) std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
      std::filesystem::remove_all(path + ".tmp", ec);  // the checkpoint's staging directory
      Result<std::vector<std::string>> before = CatchUp();
      if (!before.ok()) {
        last = before.status();
        continue;
      }
      last = WriteCheckpoint(path, std::numeric_limits<std::uint64_t>::max());  // a secondary cannot flush
      if (!last.ok()) continue;
      Result<std::vector<std::string>> after = CatchUp();
      if (!after.ok()) {
        last = after.status();
        continue;
      }
      if (*after == *before) return Status::OK();
      last = Status::Unavailable("the owner flushed or compacted during the copy");
    }
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    std::filesystem::remove_all(path + ".tmp", ec);
    return Status::Unavailable("could not back up read-only database " + s_->dir.path() + " in " +
                               std::to_string(kCopyAttempts) + " attempts while its owner changed its files; " +
                               "try again (last: " + last.ToString() + ")");
  }

  // The one tables object of a runner, for the engine's whole life.
  std::shared_ptr<DiskTables> TablesOf(std::string_view runner) {
    std::lock_guard lock(mu_);
    std::shared_ptr<DiskTables>& tables = runners_[std::string(runner)];
    if (!tables) tables = std::make_shared<DiskTables>(s_, std::string(runner));
    return tables;
  }

  std::shared_ptr<Shared> s_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<DiskTables>> runners_;
};

// A fresh private directory under $TMPDIR (or /tmp).
Result<std::string> MakeSecondaryDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/runic-secondary-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::IOError("cannot create a directory like " + tmpl + ": " + std::strerror(errno));
  }
  return tmpl;
}

// Opens the database as a RocksDB secondary instance. Creates and writes
// nothing in the database's directory.
Result<std::unique_ptr<Engine>> OpenReadOnly(const DatabaseOptions& options) {
  Result<DataDir> dir = DataDir::OpenReadOnly(options.dir);
  if (!dir.ok()) return dir.status();
  auto shared = std::make_shared<Shared>(std::move(*dir), options.read_cache_bytes, /*ro=*/true);
  std::error_code ec;
  if (!std::filesystem::exists(shared->dir.engine_path() + "/CURRENT", ec)) {
    return Status::Corruption("database " + options.dir + " is missing its engine files (" + shared->dir.engine_path() +
                              "/CURRENT); were they moved or deleted?");
  }
  Result<std::string> secondary = MakeSecondaryDir();
  if (!secondary.ok()) return secondary.status();
  shared->secondary_dir = std::move(*secondary);  // removed by ~Shared

  rocksdb::Options o = RocksOptions();
  o.create_if_missing = false;
  o.create_missing_column_families = false;
  o.max_open_files = -1;  // required: the owner deletes table files the secondary's view may still use
  o.info_log = std::make_shared<InfoLog>(shared->secondary_dir + "/LOG");
  shared->statistics = rocksdb::CreateDBStatistics();
  shared->statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);
  o.statistics = shared->statistics;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name : kTableNames) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions(o));
  rocksdb::DB* db = nullptr;
  rocksdb::Status rs =
      rocksdb::DB::OpenAsSecondary(o, shared->dir.engine_path(), shared->secondary_dir, cfs, &shared->cf, &db);
  if (!rs.ok()) return FromRocks(rs, "opening the database in " + options.dir + " read-only");
  shared->db.reset(db);
  shared->write_options.sync = options.sync;
  return std::unique_ptr<Engine>(new DiskEngine(std::move(shared)));
}

}  // namespace

Result<std::unique_ptr<Engine>> OpenDiskEngine(const DatabaseOptions& options) {
  if (options.read_only) return OpenReadOnly(options);
  Result<DataDir> dir = DataDir::Open(options.dir, options.create_if_missing);
  if (!dir.ok()) return dir.status();
  auto shared = std::make_shared<Shared>(std::move(*dir), options.read_cache_bytes, /*ro=*/false);

  rocksdb::Options o = RocksOptions();
  // Only a database still being created may create its engine files.
  std::error_code ec;
  o.create_if_missing = !shared->dir.ready();
  if (shared->dir.ready() && !std::filesystem::exists(shared->dir.engine_path() + "/CURRENT", ec)) {
    return Status::Corruption("database " + options.dir + " is missing its engine files (" + shared->dir.engine_path() +
                              "/CURRENT); were they moved or deleted?");
  }
  std::filesystem::create_directories(shared->dir.engine_path(), ec);
  if (ec) return Status::IOError("cannot create " + shared->dir.engine_path() + ": " + ec.message());
  o.info_log = std::make_shared<InfoLog>(shared->dir.engine_path() + "/LOG");
  shared->statistics = rocksdb::CreateDBStatistics();
  shared->statistics->set_stats_level(rocksdb::StatsLevel::kExceptHistogramOrTimers);  // tickers are all we read
  o.statistics = shared->statistics;
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name : kTableNames) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions(o));
  rocksdb::DB* db = nullptr;
  rocksdb::Status rs = rocksdb::DB::Open(o, shared->dir.engine_path(), cfs, &shared->cf, &db);
  if (!rs.ok()) return FromRocks(rs, "opening the database in " + options.dir);
  shared->db.reset(db);
  Status ready = shared->dir.MarkReady();
  if (!ready.ok()) return ready;
  shared->write_options.sync = options.sync;
  if (options.sync) {
    std::vector<rocksdb::ColumnFamilyHandle*> by_id;
    for (rocksdb::ColumnFamilyHandle* h : shared->cf) {
      if (by_id.size() <= h->GetID()) by_id.resize(h->GetID() + 1, nullptr);
      by_id[h->GetID()] = h;
    }
    shared->group_commit = std::make_unique<GroupCommit>(db, std::move(by_id));
  }
  return std::unique_ptr<Engine>(new DiskEngine(std::move(shared)));
}

}  // namespace runic::internal
