// Opening a disk database: as its owner (RocksDB's primary, holding the
// database's lock) or read-only (a RocksDB secondary).
#include <rocksdb/db.h>
#include <rocksdb/statistics.h>

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "store/disk/data_dir.h"
#include "store/disk/disk_engine.h"
#include "store/disk/group_commit.h"
#include "store/disk/info_log.h"
#include "store/disk/rocks_options.h"
#include "store/engine.h"

namespace runic::internal {
namespace disk {
namespace {

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
  // A database no release with the waits table has opened lacks it (a
  // secondary cannot create it): its handle stays null, and reads of it
  // find nothing.
  std::vector<std::string> existing;
  rocksdb::Status listed = rocksdb::DB::ListColumnFamilies(o, shared->dir.engine_path(), &existing);
  if (!listed.ok()) return FromRocks(listed, "opening the database in " + options.dir + " read-only");
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  std::vector<int> table_of;
  for (int t = 0; t < kTableCount; ++t) {
    if (t == kWaits && std::find(existing.begin(), existing.end(), kTableNames[t]) == existing.end()) continue;
    cfs.emplace_back(kTableNames[t], rocksdb::ColumnFamilyOptions(o));
    table_of.push_back(t);
  }
  rocksdb::DB* db = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status rs =
      rocksdb::DB::OpenAsSecondary(o, shared->dir.engine_path(), shared->secondary_dir, cfs, &handles, &db);
  if (!rs.ok()) return FromRocks(rs, "opening the database in " + options.dir + " read-only");
  shared->db.reset(db);
  shared->cf.assign(kTableCount, nullptr);
  for (std::size_t i = 0; i < handles.size(); ++i) shared->cf[table_of[i]] = handles[i];
  shared->write_options.sync = options.sync;
  return NewDiskEngine(std::move(shared));
}

}  // namespace
}  // namespace disk

Result<std::unique_ptr<Engine>> OpenDiskEngine(const DatabaseOptions& options) {
  if (options.read_only) return disk::OpenReadOnly(options);
  Result<DataDir> dir = DataDir::Open(options.dir, options.create_if_missing);
  if (!dir.ok()) return dir.status();
  auto shared = std::make_shared<disk::Shared>(std::move(*dir), options.read_cache_bytes, /*ro=*/false);

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
  for (const char* name : disk::kTableNames) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions(o));
  rocksdb::DB* db = nullptr;
  rocksdb::Status rs = rocksdb::DB::Open(o, shared->dir.engine_path(), cfs, &shared->cf, &db);
  if (!rs.ok()) return disk::FromRocks(rs, "opening the database in " + options.dir);
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
  return disk::NewDiskEngine(std::move(shared));
}

}  // namespace runic::internal
