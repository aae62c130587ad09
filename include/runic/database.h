// Database: one place (a directory, or this process's memory) holding the
// tables of every runner, as a Mnesia node holds its tables.
#ifndef RUNIC_DATABASE_H_
#define RUNIC_DATABASE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runic/export.h"
#include "runic/options.h"
#include "runic/result.h"
#include "runic/store.h"

namespace runic {

// Facts about a database as a whole.
struct DatabaseStats {
  std::string engine;  // "memory", "disk" or "etcd"
  std::string dir;     // absolute data directory ("" for memory; etcd: the database name)
  bool sync = false;
  std::uint64_t disk_bytes = 0;  // bytes of files under dir (etcd: a member's backend size)
  std::uint64_t commits = 0;     // disk, etcd: acknowledged write operations since open
  // fsyncs of the write-ahead log since open. With sync on, commits /
  // wal_syncs is how many commits shared each fsync (group commit).
  std::uint64_t wal_syncs = 0;
  std::uint64_t read_cache_hits = 0, read_cache_misses = 0;
  // disk: keys its iterators stepped onto since open (RocksDB's seeks and
  // nexts), which tells how much of the tables a listing read.
  std::uint64_t iterator_steps = 0;
};

// Thread safety: every method may be called from any number of threads.
//
// Lifetime: Open returns a shared handle. Opening the same directory (or,
// for memory databases, the same name) again in this process returns the
// same database while any handle to it, or any Store or EventIterator opened
// from it, is alive. The database closes when the last of them is released;
// a disk database then flushes its memory tables so the next open need not
// replay its write-ahead log. A memory database's data is gone when it
// closes.
class RUNIC_EXPORT Database {
 public:
  // Opens (creating when missing) the database the options name.
  // Errors: kInvalidArgument for bad options, options that conflict with
  // those of the same database already open in this process, or a database
  // written in a newer format than this library reads; kInUse when another
  // process holds the directory; kIOError when the directory cannot be
  // created or holds files that are not a Runic database; kNotFound when it
  // is missing (or empty) and create_if_missing is false or read_only is
  // true; kCorruption for a damaged marker, damaged files or missing engine
  // files. etcd (options.nodes): kUnavailable when no member answers within
  // the call timeout; kInvalidArgument for refused credentials or unreadable
  // TLS files; kNotFound as above when no runner's tables exist under the
  // name.
  static Result<std::shared_ptr<Database>> Open(const DatabaseOptions& options = {});

  // Opens the database a URI names. The scheme is the engine:
  //   memory:            an in-process database ("memory:NAME" names it)
  //   disk:///abs/path   a directory on disk (also "disk:relative/path";
  //                      "disk://" alone means the default dir)
  //   etcd://host:port,host:port,.../NAME
  //                      database NAME (default "runic") on an etcd cluster
  //                      (DatabaseOptions::nodes; see EtcdOptions)
  // Query parameters: sync=0|1, read_cache_bytes=N, create=0|1,
  // read_only=0|1, e.g.
  //   disk:///var/lib/app/runic?sync=1
  // and for etcd: ca=FILE, cert=FILE, key=FILE (TLS), user=U, password=P,
  // timeout_ms=N, lease_ttl_ms=N, linearizable=0|1, read_only=0|1,
  // create=0|1 (percent-escaped where needed).
  // A URI names a database, never a runner. Unknown schemes and parameters
  // are kInvalidArgument.
  static Result<std::shared_ptr<Database>> OpenUri(std::string_view uri);

  // Parses a URI into options without opening anything.
  static Result<DatabaseOptions> ParseUri(std::string_view uri);

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // The options in force, with defaults resolved (dir is absolute for disk).
  const DatabaseOptions& options() const;
  // The engine's size limits.
  const StoreLimits& limits() const;

  // The handle for one runner's tables, creating them if missing (creating
  // tables that exist is not an error; a read-only database creates nothing,
  // and missing tables read as empty). kInvalidArgument for an empty or
  // oversized name.
  Result<std::unique_ptr<Store>> OpenStore(std::string_view runner_name, const StoreOptions& options = {});

  // The runners whose tables exist, in byte order.
  Result<std::vector<std::string>> ListRunners();

  // Deletes every table of a runner. Store handles still open for it see
  // empty tables afterwards. Dropping a missing runner is ok.
  Status DropRunner(std::string_view runner_name);

  Result<DatabaseStats> Stats();

  // A read-only database catches up with what the process holding it wrote
  // since Open or the last Refresh. Ok and nothing to do for other databases.
  // kUnavailable, changing nothing, while an EventIterator of the database
  // is alive: its view must not change under it (release it, then refresh).
  Status Refresh();

  // Writes a copy of the whole database (every runner) into `dest_dir`, a
  // directory that must be missing or empty (else kInvalidArgument), as a
  // database Open can use. Disk engine only (the memory engine returns
  // kInvalidArgument: copy it with `runic migrate`); it uses RocksDB's
  // checkpoint facility (table files hard-linked when on the same
  // filesystem). The copy is consistent: it holds, for each write, all of it
  // or none, and every write acknowledged before Backup was called. On a
  // read-only database whose owner is writing, it is the owner's data as of
  // the copy (a later write may be in it or not, whole); the database first
  // catches up as Refresh does (so kUnavailable, writing nothing, while an
  // EventIterator of it is alive), and kUnavailable also when the owner's
  // flushes or compactions kept changing its files through a few attempts.
  // A copy that fails is removed; one cut short by a crash has no marker
  // file, so Open refuses it rather than take it for a database.
  Status Backup(const std::string& dest_dir);

 private:
  friend class DatabaseImpl;
  explicit Database(std::shared_ptr<DatabaseImpl> impl);
  std::shared_ptr<DatabaseImpl> impl_;
};

}  // namespace runic

#endif  // RUNIC_DATABASE_H_
