// The subcommands. Each returns the exit code or throws a Failure.
#ifndef RUNIC_TOOLS_RUNIC_COMMANDS_H_
#define RUNIC_TOOLS_RUNIC_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "session.h"

namespace runic::cli {

// Reading (works on a disk store that a running service holds).
int Runners(const Target& t, bool json);
// `state`: only workflows in this state (a WorkflowStateName; ""
// all: main.cc checks the word).
int List(const Target& t, const std::string& prefix, const std::string& state, bool json);
struct ShowOptions {
  std::uint64_t from = 0;   // first event sequence shown; 0: the first one kept
  std::uint64_t limit = 0;  // 0: all
  bool follow = false;      // then print new events until interrupted
  // "dot" or "mermaid": print only the definition's graph (a definition
  // with no stored structure fails).
  std::string graph;
};
int Show(const Target& t, const std::string& id, const ShowOptions& options);
int Stats(const Target& t, bool json);

// Writing (the store must not be held by another process).
// trim refuses (kExitUsage), unless `force`, to delete events that the
// workflow's snapshot does not cover: the Runner could not resume it.
int Trim(const Target& t, const std::string& id, std::uint64_t cursor, bool force);
int Delete(const Target& t, const std::string& id, bool yes);
int DropRunner(const Target& t, const std::string& runner, bool yes);
// The fact sweep (runic/gc.h): `journal` "" is "runic-gc-RUNNER.journal"
// in the current directory (a sweep cut short is finished by the next one
// that finds it); `max_deletes` 0: no limit.
int Gc(const Target& t, const std::string& journal, std::size_t batch, std::size_t max_deletes);

// Sending to a workflow's inbox (writing: on a disk store, not while a
// service holds it; on etcd, also while services run). `json`: the
// signal's value; a value that is not JSON is bad usage.
int Signal(const Target& t, const std::string& id, const std::string& name, const std::string& json,
           const std::string& key);
int Control(const Target& t, const std::string& id, WorkflowControl control, const std::string& reason);

// Copies. backup reads (works while a service writes the store); restore
// writes a missing or empty disk store; migrate reads its source and writes
// (creating) its destination, skips workflows already copied, and verifies.
int Backup(const Target& t, const std::string& dest);
int Restore(const Target& t, const std::string& source);
int Migrate(const std::string& from_uri, const std::string& to_uri, bool verbose);

// Programs installed beside the tool.
// The main-job demo: order_service run, killed with SIGKILL after `kill_at`
// completed steps, resumed in a new process, reported.
int Demo(int orders, int kill_at);
// Replaces this process with runic_bench ARGS (the program scripts/bench runs).
int Bench(const std::vector<std::string>& args);

}  // namespace runic::cli

#endif  // RUNIC_TOOLS_RUNIC_COMMANDS_H_
