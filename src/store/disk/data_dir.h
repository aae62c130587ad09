// The data directory of a disk database: its marker file (what it is and its
// format version) and the lock that keeps a second process out.
#ifndef RUNIC_SRC_STORE_DISK_DATA_DIR_H_
#define RUNIC_SRC_STORE_DISK_DATA_DIR_H_

#include <string>

#include "runic/result.h"

namespace runic::internal {

// The on-disk format this library writes, and the newest it reads.
// 1: the first; 2: event counters also hold the time of the last append
// (format 1 databases are read, and marked 2 when opened for writing).
inline constexpr int kFormatVersion = 2;

// An open, locked data directory. The lock (a flock on the directory) is
// released on destruction.
//
// The marker records the format version and whether creation finished
// ("creating" until the engine's files exist, then "ready"), so a creation
// cut short by a crash resumes, while a ready database whose engine files
// went missing is reported instead of silently recreated empty.
class DataDir {
 public:
  // Creates `dir` (mode 0700) with its marker when missing and allowed,
  // takes the lock, and checks the marker.
  //   kNotFound: missing (or empty) and !create_if_missing.
  //   kIOError: not creatable, not a directory, or holds files but no marker.
  //   kCorruption: the marker is unreadable.
  //   kInvalidArgument: the format version is newer than kFormatVersion.
  //   kInUse: another process holds the lock.
  static Result<DataDir> Open(const std::string& dir, bool create_if_missing);

  // For a read-only open: checks the marker without taking the lock (the
  // process writing the database holds it) and without creating, writing
  // or removing anything.
  //   kNotFound: missing, empty, or its creation has not finished.
  //   kIOError, kCorruption, kInvalidArgument: as Open.
  static Result<DataDir> OpenReadOnly(const std::string& dir);

  // For Database::Backup: takes `dir` to receive a copy of a database. It
  // must be missing (it is created with mode 0700, and its missing parents
  // too) or an empty directory (made 0700); otherwise kInvalidArgument and
  // nothing is touched. kInUse when another process holds it. The copy holds
  // the lock while it is written, and the marker is written (ready) only by
  // MarkReady(), once the engine files are complete: a copy cut short by a
  // crash has files but no marker, which Open refuses rather than take it
  // for a database.
  static Result<DataDir> CreateForCopy(const std::string& dir);
  // A copy that failed: removes what it wrote, and the directories
  // CreateForCopy created.
  void DiscardCopy();

  DataDir(DataDir&& other) noexcept;
  DataDir& operator=(DataDir&&) = delete;
  ~DataDir();

  const std::string& path() const { return path_; }
  // Where the RocksDB files live.
  std::string engine_path() const { return path_ + "/rocksdb"; }
  // True once MarkReady() ran for this database, in any process.
  bool ready() const { return ready_; }
  // Records that the engine's files exist.
  Status MarkReady();

 private:
  DataDir(std::string path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  std::string path_;
  int lock_fd_ = -1;
  bool ready_ = false;
  std::string created_;  // a copy: the topmost directory CreateForCopy created, if any
};

// Total bytes of the regular files under `dir`.
std::uint64_t DirectoryBytes(const std::string& dir);

}  // namespace runic::internal

#endif  // RUNIC_SRC_STORE_DISK_DATA_DIR_H_
