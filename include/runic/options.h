// Options for opening a Runic database. Plain structs with documented
// defaults; every field can be left alone.
#ifndef RUNIC_OPTIONS_H_
#define RUNIC_OPTIONS_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "runic/export.h"
#include "runic/telemetry.h"

namespace runic {

// Settings of the etcd engine (used when DatabaseOptions::nodes is set).
// See README "Replicated store on etcd" for the cluster settings it needs.
struct RUNIC_EXPORT EtcdOptions {
  // Each call (and its retries and fail-overs across the members) ends
  // within this time: with kUnavailable when nothing was written, with
  // kOutcomeUnknown when a write may have been applied. Default 2 s.
  std::chrono::milliseconds call_timeout{2000};

  // Reads are served by the member the client talks to ("serializable", as
  // Mnesia's dirty reads: may miss the latest writes of other processes).
  // true: every read is linearizable (goes through the leader's quorum).
  // Reads that decide correctness are linearizable regardless: reads of a
  // workflow this process owns (Store::Claim), and the check of an append
  // whose outcome was unknown. Default false.
  bool linearizable_reads = false;

  // Ownership lease: a process that stops renewing it (crashed, paused,
  // partitioned) loses the workflows it claimed this long after its last
  // renewal; only then can another process claim them. Default 10 s.
  std::chrono::milliseconds lease_ttl{10000};

  // TLS: a PEM file of the certificate authorities to trust. Non-empty
  // means connect with TLS (https members). Default: plain TCP.
  std::string tls_ca_file;
  // Optional client certificate and key (PEM) for members that ask for one.
  std::string tls_cert_file, tls_key_file;

  // etcd authentication. Empty user: none.
  std::string user, password;
};

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

  // Non-empty: the database lives on the etcd cluster whose members'
  // client endpoints ("host:port") these are (the "etcd" engine; the seed's
  // extra_db_nodes). `dir` then names the database inside the cluster (one
  // cluster holds many, isolated by key prefix; empty: "runic"), disc_copies
  // must stay true, and sync and read_cache_bytes do not apply: every
  // acknowledged write is on a quorum of the members' disks. A database on
  // etcd exists once a runner's tables were opened in it (create_if_missing
  // = false and read_only refuse a name without any: kNotFound).
  std::vector<std::string> nodes;
  EtcdOptions etcd;
};

// Options for one store handle (one runner's tables).
struct RUNIC_EXPORT StoreOptions {
  // Callbacks around every operation of this handle. Default: none.
  StoreTelemetry telemetry;
};

}  // namespace runic

#endif  // RUNIC_OPTIONS_H_
