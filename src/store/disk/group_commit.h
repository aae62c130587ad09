// Group commit for synced writes: concurrent commits are merged into one
// RocksDB write, so they share one WAL fsync.
//
// RocksDB already groups the writers that queue up while a leader is busy,
// but writers released together by one fsync come back a few microseconds
// apart: the first one leads a group of one and the rest form the next group.
// Here a leader first waits a moment for the writers of the previous group to
// come back: up to a quarter of the last commit's duration (so commit latency
// grows by at most ~25%) and only until as many writers as last time have
// queued. Each writer's batch stays all-or-nothing: the merged batch is one
// atomic RocksDB write.
#ifndef RUNIC_SRC_STORE_DISK_GROUP_COMMIT_H_
#define RUNIC_SRC_STORE_DISK_GROUP_COMMIT_H_

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

namespace runic::internal {

class GroupCommit {
 public:
  // `handles` maps column family ids to handles (to rebuild merged batches).
  GroupCommit(rocksdb::DB* db, std::vector<rocksdb::ColumnFamilyHandle*> handles);

  // Writes `batch` with sync = true, possibly merged with other callers'
  // batches. Returns when it is durable, or with the write's error.
  rocksdb::Status Commit(rocksdb::WriteBatch* batch);

 private:
  struct Pending {
    rocksdb::WriteBatch* batch;
    rocksdb::Status status;
    bool done = false;
  };

  rocksdb::Status WriteGroup(const std::vector<Pending*>& group);

  rocksdb::DB* const db_;
  const std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;
  bool leading_ = false;
  std::size_t last_group_size_ = 1;
  std::chrono::nanoseconds last_commit_{0};
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_STORE_DISK_GROUP_COMMIT_H_
