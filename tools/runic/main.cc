// runic: look inside and look after Runic stores from the shell, the way
// operators use SQLite's shell or etcdctl. Every subcommand names the
// database with a URI (--store, else RUNIC_STORE, else the disk database at
// RUNIC_DIR, else ./runic-data) and the runner with --runner (else
// RUNIC_RUNNER). Errors are one line on stderr naming the store and runner.
#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string_view>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "format.h"

namespace {

// Edit distance between a and b: insertions, deletions, substitutions and
// swaps of two neighbours ("sohw"), each 1.
std::size_t Distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

// The candidate `word` most likely meant: the closest within 2 edits (and
// fewer than its length, so that "x" suggests nothing), else the only one
// it begins ("mig": migrate); "" when none is.
std::string Closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = std::min<std::size_t>(3, word.size());
  for (const std::string& c : candidates) {
    const std::size_t d = Distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  if (!best.empty() || word.size() < 2) return best;
  for (const std::string& c : candidates) {
    if (!c.starts_with(word)) continue;
    if (!best.empty()) return "";  // ambiguous
    best = c;
  }
  return best;
}

std::string Joined(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : ", ") + w;
  return out;
}

// After CLI11 refused the command line: the first word that is neither a
// subcommand (before one) nor an option of the subcommand or of runic,
// named with the closest known one, e.g. "unknown command 'lst'; did you
// mean 'ls'?". "" when every word is known: CLI11's own message then says
// what is wrong (a missing value, a bad number, ...).
std::string UnknownWord(CLI::App& app, int argc, char** argv) {
  CLI::App* command = &app;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") break;  // positionals only from here on
    const bool option = arg.size() > 1 && arg[0] == '-' && !(arg[1] >= '0' && arg[1] <= '9');
    if (option) {
      const std::string name = arg.substr(0, arg.find('='));
      const CLI::Option* known = nullptr;
      // Global options may follow the subcommand (fallthrough).
      for (CLI::App* a = command; a != nullptr && known == nullptr; a = a->get_parent()) {
        known = a->get_option_no_throw(name);
      }
      if (known == nullptr) {
        std::vector<std::string> names;
        for (CLI::App* a = command; a != nullptr; a = a->get_parent()) {
          for (const CLI::Option* o : a->get_options()) {
            for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
          }
        }
        const std::string where = command == &app ? "" : " for " + command->get_name();
        const std::string meant = Closest(name, names);
        return "unknown option '" + name + "'" + where +
               (meant.empty() ? " (options: " + Joined(names) + ")" : " (did you mean '" + meant + "'?)");
      }
      // Its value is the next word unless given as --name=value.
      if (known->get_items_expected_max() > 0 && arg.find('=') == std::string::npos) ++i;
      continue;
    }
    if (command != &app) continue;  // a positional: CLI11 judged it
    std::vector<std::string> names;
    CLI::App* sub = nullptr;
    for (CLI::App* s : app.get_subcommands(std::function<bool(CLI::App*)>())) {
      names.push_back(s->get_name());
      if (s->check_name(arg)) sub = s;
    }
    if (sub == nullptr) {
      const std::string meant = Closest(arg, names);
      return "unknown command '" + arg + "'" +
             (meant.empty() ? "; the commands are " + Joined(names) : "; did you mean '" + meant + "'?");
    }
    command = sub;
  }
  return "";
}

// `value` as a whole number without sign, if it is one.
std::optional<std::uint64_t> WholeNumber(const std::string& value) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
  if (ec != std::errc() || end != value.data() + value.size()) return std::nullopt;
  return n;
}

// An event sequence (--from): 1 or more. (CLI::PositiveNumber, a double,
// printed its range as a 300-digit number.)
std::string CheckSequence(std::string& value) {
  const std::optional<std::uint64_t> n = WholeNumber(value);
  if (!n) return "'" + value + "' is not an event sequence (a whole number from 1 to 18446744073709551615)";
  if (*n == 0) return "0 is not an event sequence: they start at 1 (leave --from out to start at the first event kept)";
  return "";
}

// A count or a sequence for --limit and trim --to: a whole number, never
// negative (CLI11 would take "-1" as 18446744073709551615).
std::string CheckWholeNumber(std::string& value) {
  return WholeNumber(value) ? "" : "'" + value + "' is not a whole number from 0 to 18446744073709551615";
}

}  // namespace

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
  std::string id, prefix, runner_arg, state;
  std::uint64_t cursor = 0;
  ShowOptions show;

  app.add_subcommand("runners", "the runners in the database, with counts and sizes")
      ->callback([&] { code = Runners(target(), json); })
      ->add_flag("--json", json, "one JSON document");

  auto* ls = app.add_subcommand("ls",
                                "the runner's workflows: state, definition@version, cursor, events kept, last update, "
                                "why it halted");
  ls->add_option("--prefix", prefix, "only ids starting with this");
  ls->add_option("--state", state,
                 "only workflows in this state, found through the store's state index (workflows last written by "
                 "a release before it join it at their next write)")
      ->check(CLI::IsMember({"running", "waiting", "paused", "idle", "halted", "cancelling", "cancelled"}));
  ls->add_flag("--json", json, "one JSON document");
  ls->callback([&] { code = List(target(), prefix, state, json); });

  auto* sh = app.add_subcommand("show", "a workflow's log, snapshot and events as JSON, one object per line");
  sh->add_option("id", id, "workflow id")->required();
  sh->add_option("--from", show.from, "first event sequence to show (default: the first kept)")
      ->check(CLI::Validator(CheckSequence, "1 or more"));
  sh->add_option("--limit", show.limit, "at most this many events (default: all)")
      ->check(CLI::Validator(CheckWholeNumber, ""));
  sh->add_flag("--follow", show.follow, "then print new events as they are appended, until interrupted");
  sh->add_option("--graph", show.graph, "print only the workflow's definition as a graph: dot (Graphviz) or mermaid")
      ->check(CLI::IsMember({"dot", "mermaid"}));
  sh->callback([&] { code = Show(target(), id, show); });

  app.add_subcommand(
         "stats",
         "per runner and table: counts and bytes; engine, durability, size on disk (etcd: members, backend size)")
      ->callback([&] { code = Stats(target(), json); })
      ->add_flag("--json", json, "one JSON document");

  bool force = false;
  auto* trim = app.add_subcommand("trim",
                                  "delete a workflow's events up to a cursor (its counter is kept); only events its "
                                  "snapshot covers, unless --force");
  trim->add_option("id", id, "workflow id")->required();
  trim->add_option("--to", cursor, "last sequence to delete")->required()->check(CLI::Validator(CheckWholeNumber, ""));
  trim->add_flag("--force", force,
                 "also events the workflow's snapshot does not cover (the Runner then cannot resume it)");
  trim->callback([&] { code = Trim(target(), id, cursor, force); });

  auto* del = app.add_subcommand("delete", "delete a workflow's log, events and snapshot (facts stay)");
  del->add_option("id", id, "workflow id")->required();
  del->add_flag("--yes", yes, "do not ask for confirmation");
  del->callback([&] { code = Delete(target(), id, yes); });

  std::string journal;
  std::size_t batch = 1000, max_deletes = 0;
  auto* gc = app.add_subcommand("gc",
                                "delete the facts no workflow names (what retention and delete leave); works "
                                "beside running services on etcd; resumable");
  gc->add_option("--journal", journal,
                 "where the sweep keeps what it deletes until checked (default: runic-gc-RUNNER.journal here); a "
                 "sweep cut short is finished by the next run given the same file");
  gc->add_option("--batch", batch, "facts deleted per batch (1 to 100000)")->check(CLI::Range(1, 100000));
  gc->add_option("--max-deletes", max_deletes, "stop after deleting this many (0: no limit)");
  gc->callback([&] { code = Gc(target(), journal, batch, max_deletes); });

  auto* drop = app.add_subcommand("drop-runner", "delete every table of a runner");
  drop->add_option("name", runner_arg, "runner name")->required();
  drop->add_flag("--yes", yes, "do not ask for confirmation");
  drop->callback([&] { code = DropRunner(target(), runner_arg, yes); });

  std::string signal_name, signal_json, signal_key, reason;
  auto* signal = app.add_subcommand("signal", "send a signal to a workflow (an Await of that name takes it)");
  signal->add_option("id", id, "workflow id")->required();
  signal->add_option("name", signal_name, "the signal's name")->required();
  signal->add_option("json", signal_json, "its value, as JSON")->required();
  signal->add_option("--key", signal_key, "idempotency key: a signal with a key the workflow saw is applied once");
  signal->callback([&] { code = Signal(target(), id, signal_name, signal_json, signal_key); });
  struct ControlCommand {
    const char* name;
    runic::WorkflowControl control;
    const char* help;
  };
  for (const ControlCommand& c : {
           ControlCommand{"cancel", runic::WorkflowControl::kCancel,
                          "cancel a workflow: running steps are asked to stop, then it is cancelled for good"},
           ControlCommand{"terminate", runic::WorkflowControl::kTerminate, "cancel a workflow without compensations"},
           ControlCommand{"pause", runic::WorkflowControl::kPause, "pause a workflow: nothing new starts"},
           ControlCommand{"unpause", runic::WorkflowControl::kUnpause, "let a paused workflow run on"},
           ControlCommand{"retry", runic::WorkflowControl::kRetry,
                          "run a halted workflow's failed steps again, with fresh attempts"},
       }) {
    auto* sub = app.add_subcommand(c.name, c.help);
    sub->add_option("id", id, "workflow id")->required();
    if (c.control == runic::WorkflowControl::kCancel || c.control == runic::WorkflowControl::kTerminate) {
      sub->add_option("--reason", reason, "why (recorded in its history)");
    }
    sub->callback([&, control = c.control] { code = Control(target(), id, control, reason); });
  }

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
    if (e.get_exit_code() != 0) {  // not --help
      if (const std::string unknown = UnknownWord(app, argc, argv); !unknown.empty()) {
        std::fprintf(stderr, "runic: %s\n", SafeLine(unknown).c_str());
        return kExitUsage;
      }
    }
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
