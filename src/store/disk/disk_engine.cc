// The disk engine itself: its runners, stats, Refresh of a read-only
// database, backups, and the flush when it closes. Opening is in
// disk_open.cc.
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/statistics.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "store/disk/data_dir.h"
#include "store/disk/disk_engine.h"
#include "store/keys.h"

namespace runic::internal::disk {

Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status::OK();
  std::string msg = std::string(context) + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return Status::Unavailable(msg);
  return Status::IOError(msg);  // IOError, NoSpace, ShutdownInProgress, ...
}

namespace {

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
    for (Table t : {kLogs, kCounters, kEvents, kSnapshots, kFacts, kWaits}) {
      if (s_->cf[t] != nullptr) batch.DeleteRange(s_->cf[t], prefix, limit);
    }
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
    stats.iterator_steps = s_->statistics->getTickerCount(rocksdb::NUMBER_DB_SEEK) +
                           s_->statistics->getTickerCount(rocksdb::NUMBER_DB_NEXT);
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

}  // namespace

std::unique_ptr<Engine> NewDiskEngine(std::shared_ptr<Shared> shared) {
  return std::unique_ptr<Engine>(new DiskEngine(std::move(shared)));
}

}  // namespace runic::internal::disk
