// runic: look inside and look after Runic stores from the shell, the way
// operators use SQLite's shell or etcdctl. Every subcommand names the
// database with a URI (--store, else RUNIC_STORE, else the disk database at
// RUNIC_DIR, else ./runic-data) and the runner with --runner (else
// RUNIC_RUNNER). Errors are one line on stderr naming the store and runner.
#include <csignal>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "format.h"

int main(int argc, char** argv) {
  using namespace runic::cli;
  // A reader that goes away (runic ls | head) ends the output, not the
  // process: destructors still run and remove the read-only view's files.
  std::signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "runic: inspect and maintain Runic stores.\n"
      "Exit codes: 0 ok, 1 the store failed or refused, 2 bad usage or not confirmed.",
      "runic"};
  app.fallthrough();  // global options may also follow the subcommand
  app.require_subcommand(1);
  std::string store_flag, runner_flag;
  app.add_option("--store", store_flag,
                 "database URI: memory:, disk:///abs/dir, disk:rel/dir, etcd://host:port[,host:port...]/NAME[?...] "
                 "(default: RUNIC_STORE, else disk:// = RUNIC_DIR or ./runic-data)");
  app.footer(
      "Database URIs:\n"
      "  memory:[NAME]                 an empty scratch store in this process (for demo and bench)\n"
      "  disk:///abs/dir, disk:rel/dir a directory on this machine; ?sync=1, ?create=0, ?read_only=1\n"
      "  disk://                       the directory RUNIC_DIR, else ./runic-data\n"
      "  etcd://HOST:PORT,HOST:PORT,.../NAME\n"
      "                                database NAME (default runic) on an etcd cluster, listing its members'\n"
      "                                client endpoints; ?ca=FILE (TLS), &user=U&password=P, &timeout_ms=N\n"
      "                                (each call, default 2000), &linearizable=1 (reads through the leader)\n"
      "Reading subcommands open a store read-only (a disk store also while a service holds it); on etcd\n"
      "trim and delete are refused for a workflow a running Runner owns. Put a password in RUNIC_STORE\n"
      "rather than on the command line; runic prints it as ***.");
  app.add_option("--runner", runner_flag, "runner name (default: RUNIC_RUNNER)");

  int code = kExitOk;
  auto target = [&] { return ResolveTarget(store_flag, runner_flag); };
  bool json = false, yes = false;
  std::string id, prefix, runner_arg;
  std::uint64_t cursor = 0;
  ShowOptions show;

  app.add_subcommand("runners", "the runners in the database, with counts and sizes")
      ->callback([&] { code = Runners(target(), json); })
      ->add_flag("--json", json, "one JSON document");

  auto* ls =
      app.add_subcommand("ls", "the runner's workflows: cursor, events kept, last update, log and snapshot size");
  ls->add_option("--prefix", prefix, "only ids starting with this");
  ls->add_flag("--json", json, "one JSON document");
  ls->callback([&] { code = List(target(), prefix, json); });

  auto* sh = app.add_subcommand("show", "a workflow's log, snapshot and events as JSON, one object per line");
  sh->add_option("id", id, "workflow id")->required();
  sh->add_option("--from", show.from, "first event sequence to show (default: the first kept)")
      ->check(CLI::PositiveNumber);
  sh->add_option("--limit", show.limit, "at most this many events (default: all)");
  sh->add_flag("--follow", show.follow, "then print new events as they are appended, until interrupted");
  sh->callback([&] { code = Show(target(), id, show); });

  app.add_subcommand(
         "stats",
         "per runner and table: counts and bytes; engine, durability, size on disk (etcd: members, backend size)")
      ->callback([&] { code = Stats(target(), json); })
      ->add_flag("--json", json, "one JSON document");

  auto* trim = app.add_subcommand("trim", "delete a workflow's events up to a cursor (its counter is kept)");
  trim->add_option("id", id, "workflow id")->required();
  trim->add_option("--to", cursor, "last sequence to delete")->required();
  trim->callback([&] { code = Trim(target(), id, cursor); });

  auto* del = app.add_subcommand("delete", "delete a workflow's log, events and snapshot (facts stay)");
  del->add_option("id", id, "workflow id")->required();
  del->add_flag("--yes", yes, "do not ask for confirmation");
  del->callback([&] { code = Delete(target(), id, yes); });

  auto* drop = app.add_subcommand("drop-runner", "delete every table of a runner");
  drop->add_option("name", runner_arg, "runner name")->required();
  drop->add_flag("--yes", yes, "do not ask for confirmation");
  drop->callback([&] { code = DropRunner(target(), runner_arg, yes); });

  std::string path, from_uri, to_uri;
  bool verbose = false;
  auto* backup = app.add_subcommand("backup",
                                    "a consistent copy of a disk store (also while a service writes it); etcd: use "
                                    "migrate, or etcdctl snapshot save");
  backup->add_option("dest", path, "a missing or empty directory")->required();
  backup->callback([&] { code = Backup(target(), path); });

  auto* restore = app.add_subcommand("restore",
                                     "a backup (any disk store) into the store named by --store: a missing or empty "
                                     "disk store, or an etcd database with no runners");
  restore->add_option("source", path, "the backup's directory")->required()->check(CLI::ExistingDirectory);
  restore->callback([&] { code = Restore(target(), path); });

  auto* migrate = app.add_subcommand(
      "migrate", "copy every runner between stores (memory, disk, etcd, either way); redo it when cut short");
  migrate->add_option("--from", from_uri, "source URI")->required();
  migrate->add_option("--to", to_uri, "destination URI (created when missing)")->required();
  migrate->add_flag("--verbose", verbose, "print each workflow as it is copied");
  migrate->callback([&] { code = Migrate(from_uri, to_uri, verbose); });

  int orders = 50, kill_at = 100;
  auto* demo =
      app.add_subcommand("demo", "the main job: order workflows on a disk store, killed with SIGKILL, resumed");
  demo->add_option("--orders", orders, "orders to run (default 50)")->check(CLI::Range(1, 100000));
  demo->add_option("--kill-at", kill_at, "kill after this many completed steps (default 100)")
      ->check(CLI::Range(1, 100000000));
  demo->callback([&] { code = Demo(orders, kill_at); });

  // Everything after `bench` is the benchmark's (handled before parsing);
  // listed here for --help.
  app.add_subcommand("bench", "the benchmark (the program scripts/bench runs): runic bench --help for its options")
      ->allow_extras()
      ->callback(
          [] { throw Failure("bench takes the benchmark's options only: runic bench [--quick ...]", kExitUsage); });
  if (argc >= 2 && std::string(argv[1]) == "bench") {
    try {
      return Bench(std::vector<std::string>(argv + 2, argv + argc));
    } catch (const Failure& f) {
      std::fprintf(stderr, "runic: %s\n", f.what());
      return f.code;
    }
  }

  try {
    app.parse(argc, argv);  // runs the chosen subcommand's callback
  } catch (const CLI::ParseError& e) {
    const int parse_code = app.exit(e);  // prints help, or the error and a hint
    return parse_code == 0 ? kExitOk : kExitUsage;
  } catch (const Failure& f) {
    std::fprintf(stderr, "runic: %s\n", SafeLine(Shown(f.what())).c_str());
    return f.code;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "runic: %s\n", SafeLine(Shown(e.what())).c_str());
    return kExitFailed;
  }
  return code;
}
