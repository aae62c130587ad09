// Options for opening a Runic database. Plain structs with documented
// defaults; every field can be left alone.
#ifndef RUNIC_OPTIONS_H_
#define RUNIC_OPTIONS_H_

#include <cstddef>
#include <string>

#include "runic/export.h"
#include "runic/telemetry.h"

namespace runic {

// Which engine holds the tables and how durable a write is.
//
// What an acknowledged write survives, by setting:
//
//   disc_copies | sync  | process crash (kill -9) | OS crash / power loss
//   ------------+-------+-------------------------+-----------------------
//   false       | n/a   | lost (RAM only)         | lost
//   true        | false | survives                | the last moments may be lost
//   true        | true  | survives                | survives
//
// With disc_copies and sync = false (the default, as Mnesia's disc_copies),
// every write is in the engine's write-ahead log in the OS page cache before
// it is acknowledged, so a crash of the process loses nothing; a crash of the
// machine may lose the writes the OS had not yet written back (on Linux up to
// about 30 s of them). Should the OS have written the log's last pages out of
// order, the next open reports kCorruption rather than guess what was lost.
// With sync = true each commit is fsync'ed before it is acknowledged;
// concurrent commits share one fsync (group commit).
struct RUNIC_EXPORT DatabaseOptions {
  // true: tables on disk in `dir` (the "disk" engine, RocksDB).
  // false: tables in this process's memory (the "memory" engine).
  bool disc_copies = true;

  // The data directory of a disk database. Empty means: the RUNIC_DIR
  // environment variable if set, else "./runic-data". Created (mode 0700)
  // when missing. For a memory database it is only a name: databases opened
  // with the same name in one process are the same database.
  std::string dir;

  // Disk engine: fsync every commit before acknowledging it. See above.
  bool sync = false;

  // Disk engine: bytes of RAM for a cache of recently loaded and saved logs
  // and facts, so hot loads do not reach the engine. 0 disables it.
  std::size_t read_cache_bytes = std::size_t{64} << 20;

  // Disk engine: fail Open instead of creating a missing database.
  bool create_if_missing = true;

  // Disk engine: open for reading only, also while another process holds
  // the database (as a RocksDB secondary instance: this is how `runic ls`
  // looks into a running service's store). Reads see the data as of Open,
  // then as of each Database::Refresh(). Every write returns
  // kInvalidArgument and nothing is ever created: a missing database is
  // kNotFound. The memory engine refuses it (kInvalidArgument).
  bool read_only = false;
};

// Options for one store handle (one runner's tables).
struct RUNIC_EXPORT StoreOptions {
  // Callbacks around every operation of this handle. Default: none.
  StoreTelemetry telemetry;
};

}  // namespace runic

#endif  // RUNIC_OPTIONS_H_
