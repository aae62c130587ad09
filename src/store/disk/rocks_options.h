// The RocksDB options of every disk database. The benchmark's raw-RocksDB
// baseline includes this header so that it measures the same engine set-up.
#ifndef RUNIC_SRC_STORE_DISK_ROCKS_OPTIONS_H_
#define RUNIC_SRC_STORE_DISK_ROCKS_OPTIONS_H_

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>

namespace runic::internal {

inline rocksdb::Options RocksOptions() {
  rocksdb::Options o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.max_background_jobs = 2;
  o.keep_log_file_num = 4;
  o.stats_dump_period_sec = 0;
  // Refuse to open over a WAL damaged in the middle instead of silently
  // dropping the acknowledged writes after the damage; a torn tail (a write
  // cut short by a crash) is still recovered.
  o.wal_recovery_mode = rocksdb::WALRecoveryMode::kTolerateCorruptedTailRecords;
  o.paranoid_checks = true;
  // Writers waiting for a write group block at once instead of spinning
  // with sched_yield for up to 100 us: on a machine with few cores the
  // spinning took the CPU from the threads doing the work.
  o.enable_write_thread_adaptive_yield = false;
  o.compression = rocksdb::kLZ4Compression;  // cheaper than Snappy on incompressible data
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(std::size_t{32} << 20);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

}  // namespace runic::internal

#endif  // RUNIC_SRC_STORE_DISK_ROCKS_OPTIONS_H_
