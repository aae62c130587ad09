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
//
// This header is what the engine's files share: the tables' column
// families, the counter format, the state behind the engine and its runner
// tables, and the classes and factories that cross the files.
#ifndef RUNIC_SRC_STORE_DISK_DISK_ENGINE_H_
#define RUNIC_SRC_STORE_DISK_DISK_ENGINE_H_

#include <rocksdb/db.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_batch.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/disk/data_dir.h"
#include "store/disk/group_commit.h"
#include "store/disk/read_cache.h"
#include "store/engine.h"
#include "store/inbox_listeners.h"
#include "store/keys.h"

namespace runic::internal::disk {

// kWaits holds inbox entries and the state and due-time indexes (keys in
// disk_waits.cc); databases written before it gain it at their next open.
enum Table : int { kRunners = 1, kLogs, kCounters, kEvents, kSnapshots, kFacts, kWaits, kTableCount };
constexpr std::array<const char*, kTableCount> kTableNames = {"default", "runners",   "logs",  "counters",
                                                              "events",  "snapshots", "facts", "waits"};

constexpr std::size_t kStripes = 1024;

// A RocksDB status as ours; `context` says what was being done.
Status FromRocks(const rocksdb::Status& s, std::string_view context);

// A workflow's counter record: its events, and where it stands in the
// indexes and its inbox (so that an append, which reads the record anyway,
// knows which index keys to move without another read).
struct Counter {
  std::uint64_t counter = 0;
  std::uint64_t trimmed = 0;
  std::int64_t updated_at_us = 0;  // the last append; 0 when unknown
  std::uint64_t due = 0;           // its due-time entry (0: none)
  std::uint64_t inbox_last = 0, inbox_consumed = 0;
  bool inbox_closed = false;
  std::string state_tag;  // its state-index entry ("": none)
};

// The counters table's values (disk_tables.cc).
std::string EncodeCounter(const Counter& c);
Result<Counter> DecodeCounter(std::string_view v, std::string_view id);

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
      for (rocksdb::ColumnFamilyHandle* h : cf) {
        if (h != nullptr) (void)db->DestroyColumnFamilyHandle(h);
      }
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

// One runner's tables (disk_tables.cc; imports in disk_import.cc).
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
  Status EnsureRegistered();
  void MarkDropped() { registered_.store(false, std::memory_order_release); }

  Status SaveLog(std::string_view id, std::string_view log, std::int64_t updated_at_us) override;
  Result<LogRecord> LoadLog(std::string_view id) override;
  Result<std::uint64_t> Append(const AppendInput& in) override;
  std::vector<Result<std::uint64_t>> AppendMany(std::span<const AppendInput> inputs) override;
  Result<std::unique_ptr<EventIterator>> Stream(std::string_view id, std::uint64_t after,
                                                std::shared_ptr<const void> database) override;
  Status SaveSnapshot(std::string_view id, std::uint64_t cursor, std::string_view bytes) override;
  Result<Snapshot> LoadSnapshot(std::string_view id) override;
  Status SaveFact(std::string_view hash, std::string_view value) override;
  Result<std::string> LoadFact(std::string_view hash) override;
  Status DeleteFact(std::string_view hash) override;
  Status Delete(std::string_view id, const DeleteOptions& options) override;
  Result<ListPage> List(const ListOptions& options) override;
  Result<bool> Exists(std::string_view id) override;
  Result<WorkflowSummary> Describe(std::string_view id, bool count_events) override;
  Status Trim(std::string_view id, std::uint64_t cursor) override;
  Result<StoreStats> Stats() override;
  Result<ListPage> ListFacts(const ListOptions& options) override;
  Status ImportEvents(std::string_view id, std::uint64_t first_sequence,
                      std::span<const std::string_view> events) override;
  Status ImportWorkflow(std::string_view id, const WorkflowImport& w) override;
  Status ImportInbox(std::string_view id, std::span<const InboxEntry> entries) override;

  // Inboxes and indexes (disk_waits.cc).
  Result<std::uint64_t> AppendInbox(std::string_view id, std::string_view entry) override;
  Result<InboxPage> ReadInbox(std::string_view id, const InboxReadOptions& options) override;
  Result<ListPage> ListInboxes(const ListOptions& options) override;
  Result<std::unique_ptr<InboxWatch>> WatchInboxes(InboxListener listener) override;
  Result<StatePage> ListByState(const StateListOptions& options) override;
  Result<DuePage> ListDue(const DueListOptions& options) override;

 private:
  Result<std::uint64_t> AddAppend(rocksdb::WriteBatch* batch, const std::string& wkey, const AppendInput& in);
  // Moves the index entries and inbox cursors of `c` (the workflow's record,
  // updated in place) as `o` asks, adding the writes to `batch`. Adds
  // nothing on an error.
  Status AddWaits(rocksdb::WriteBatch* batch, std::string_view id, Counter& c, const AppendOptions& o);
  // Removes every index entry and inbox entry of the workflow of record `c`.
  void AddWaitsRemoval(rocksdb::WriteBatch* batch, std::string_view id, const Counter& c);
  Status CheckImportedInbox(std::string_view id, const WorkflowImport& w);
  // Keys of kWaits (disk_waits.cc has the layout).
  std::string InboxKey(std::string_view id, std::uint64_t seq) const;
  std::string StateKey(std::string_view tag, std::string_view id) const;
  std::string DueKey(std::uint64_t due, std::string_view id) const;
  // kWaits is missing only in a read-only view of a database that no
  // release with it has opened yet: then nothing is in it.
  bool has_waits() const { return s_->cf.size() > kWaits && s_->cf[kWaits] != nullptr; }
  void InvalidateFacts(FactList facts);
  static std::string CacheKey(char table, std::string_view key);
  Result<ReadCache::Value> CachedGet(Table table, char tag, const std::string& key, std::string_view id,
                                     const char* what);

  std::shared_ptr<Shared> s_;
  const std::string runner_;
  const std::string prefix_;
  std::atomic<bool> registered_{false};
  const std::shared_ptr<InboxListeners> listeners_ = std::make_shared<InboxListeners>();
};

// The events (after, end] of the workflow at `wkey` (disk_iterator.cc).
// `snapshot` is null on a secondary: the caller's ReadView then keeps
// Refresh out until the iterator is counted.
std::unique_ptr<EventIterator> NewDiskIterator(std::shared_ptr<const void> database, std::shared_ptr<Shared> shared,
                                               const rocksdb::Snapshot* snapshot, std::string wkey, std::uint64_t after,
                                               std::uint64_t end);

// The engine over an open database (disk_engine.cc).
std::unique_ptr<Engine> NewDiskEngine(std::shared_ptr<Shared> shared);

}  // namespace runic::internal::disk

#endif  // RUNIC_SRC_STORE_DISK_DISK_ENGINE_H_
