// What every subcommand shares: which database and runner it works on, how
// they are opened, and how a failure becomes one clear line and an exit code.
#ifndef RUNIC_TOOLS_RUNIC_SESSION_H_
#define RUNIC_TOOLS_RUNIC_SESSION_H_

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "runic/runic.h"

namespace runic::cli {

// Exit codes (also in `runic --help`).
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;  // the store refused or failed
constexpr int kExitUsage = 2;   // bad arguments, missing runner, declined confirmation

// A failure to report: main prints "runic: <message>" and exits with `code`.
struct Failure : std::runtime_error {
  Failure(const std::string& message, int exit_code = kExitFailed) : std::runtime_error(message), code(exit_code) {}
  int code;
};

// The global options, resolved: --store, else RUNIC_STORE, else "disk://"
// (the disk database at RUNIC_DIR, else ./runic-data); --runner, else
// RUNIC_RUNNER.
struct Target {
  std::string uri;
  std::string runner;  // may be empty: subcommands that need one say so

  // "store URI, runner NAME": how errors name what they are about (the URI
  // as Shown).
  std::string Where() const;
};

// `text` with the value of every "password=" (an etcd URI's) replaced by
// "***": what the tool prints of a URI, in output and errors alike.
std::string Shown(const std::string& text);

// True when the URI names a database on an etcd cluster (etcd://...).
bool IsEtcdUri(const std::string& uri);

Target ResolveTarget(const std::string& store_flag, const std::string& runner_flag);

// How a subcommand opens the database. Reading opens it read-only: a disk
// database as a RocksDB secondary (works while a service holds it), an etcd
// one as a client that refuses writes; neither writes anything. Writing
// needs a disk database to be free (etcd fences each workflow a running
// Runner owns instead). Only kCreate (a copy's destination) creates a
// missing database. A URI's own read_only=1 or create=0 is kept: a writing
// subcommand on a read_only=1 URI is refused as bad usage.
enum class Access { kRead, kWrite, kCreate };

class Session {
 public:
  Session(Target target, Access access);

  Database& db() { return *db_; }
  const Target& target() const { return target_; }

  // The runner's store; a Failure (kExitUsage) naming the runners there
  // when the runner is not given or does not exist.
  Store& store();

  // Throws a Failure for `s` (not ok), naming the store and runner.
  [[noreturn]] void Fail(const Status& s, const std::string& doing) const;

 private:
  Target target_;
  Access access_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<Store> store_;
};

}  // namespace runic::cli

#endif  // RUNIC_TOOLS_RUNIC_SESSION_H_
