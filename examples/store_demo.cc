// store_demo: a first tour of the Runic store. Read this file first.
//
//   store_demo [DIR]
//
// Opens a disk database in DIR (created when missing; default: a fresh
// temporary directory, removed at exit), writes a workflow's log, events and
// snapshot through the store of the runner "orders", closes everything, opens
// the database again and prints what came back from disk.
//
// Every Runic call returns a runic::Status or a runic::Result<T>: errors are
// values, never exceptions. The demo stops at the first error and exits with
// status 1, printing the Status.
#include <stdlib.h>  // mkdtemp

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <runic/runic.h>

namespace {

constexpr const char* kRunner = "orders";
constexpr const char* kWorkflow = "order-1001";

// "2025-01-31T12:34:56.789Z" (UTC, millisecond precision).
std::string FormatTime(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

// Prints every event an iterator yields; returns how many, or the read error.
runic::Result<std::uint64_t> PrintEvents(runic::EventIterator& it) {
  std::uint64_t n = 0;
  for (; it.Valid(); it.Next(), ++n) {
    std::cout << "    #" << it.sequence() << "  " << it.value() << "\n";
  }
  // Valid() turns false at the end *or* on an error: always check status().
  if (!it.status().ok()) return it.status();
  return n;
}

// First session: write a log, two batches of events and a snapshot.
runic::Status Write(const runic::DatabaseOptions& options) {
  // Database::Open creates the directory (mode 0700) when it is missing.
  // The same database can be named by a URI: Database::OpenUri("disk:///path").
  runic::Result<std::shared_ptr<runic::Database>> db = runic::Database::Open(options);
  if (!db.ok()) return db.status();
  std::cout << "Opened database " << (*db)->options().dir << " (engine disk, sync "
            << ((*db)->options().sync ? "on" : "off") << ")\n\n";

  // A store is one runner's handle onto its tables; the tables belong to the
  // database and are created on first open.
  runic::Result<std::unique_ptr<runic::Store>> store = (*db)->OpenStore(kRunner);
  if (!store.ok()) return store.status();
  std::cout << "Session 1: writing through the store of runner \"" << kRunner << "\"\n";

  // A workflow's log: one value per workflow id, replaced by each Save.
  if (runic::Status s = (*store)->Save(kWorkflow, R"({"customer":"ada","state":"shipping"})"); !s.ok()) return s;
  // A second workflow with only a log, so that List shows two ids.
  if (runic::Status s = (*store)->Save("order-1002", R"({"customer":"grace","state":"new"})"); !s.ok()) return s;
  std::cout << "  saved the logs of " << kWorkflow << " and order-1002\n";

  // Events: Append writes a batch atomically with sequences counter+1..,
  // and returns the new counter (the cursor). expected_cursor makes it
  // conditional: 0 means "this workflow must have no events yet"; if another
  // writer got there first, nothing is written and the status is kConflict.
  runic::AppendOptions first;
  first.expected_cursor = 0;
  runic::Result<std::uint64_t> cursor =
      (*store)->Append(kWorkflow, std::vector<std::string>{"order placed", "payment received"}, first);
  if (!cursor.ok()) return cursor.status();
  std::cout << "  appended batch 1 (2 events) -> cursor " << *cursor << "\n";

  runic::AppendOptions second;
  second.expected_cursor = *cursor;
  cursor = (*store)->Append(kWorkflow, std::vector<std::string>{"packed", "handed to carrier", "delivered"}, second);
  if (!cursor.ok()) return cursor.status();
  std::cout << "  appended batch 2 (3 events) -> cursor " << *cursor << "\n";

  // Stream reads the events lazily, in order, as of the moment of the call.
  runic::Result<std::unique_ptr<runic::EventIterator>> it = (*store)->Stream(kWorkflow);
  if (!it.ok()) return it.status();
  std::cout << "  streamed the events back:\n";
  runic::Result<std::uint64_t> n = PrintEvents(**it);
  if (!n.ok()) return n.status();

  // A snapshot stands for the events up to its cursor (here: all of them).
  // A runner may then Trim those events; this demo keeps them.
  if (runic::Status s = (*store)->SaveSnapshot(kWorkflow, *cursor, R"({"state":"delivered"})"); !s.ok()) return s;
  std::cout << "  saved a snapshot at cursor " << *cursor << "\n";

  // Release every handle. The database closes when the last handle (a
  // Database, Store or EventIterator) is gone, and a disk database flushes
  // its memory tables on close. The order does not matter; here it is
  // explicit for the reader.
  it.value().reset();
  store.value().reset();
  db.value().reset();
  std::cout << "  released every handle: the database is closed\n\n";
  return runic::Status::OK();
}

// Second session: open the same directory again and read everything back.
runic::Status Read(const runic::DatabaseOptions& options) {
  runic::Result<std::shared_ptr<runic::Database>> db = runic::Database::Open(options);
  if (!db.ok()) return db.status();
  runic::Result<std::unique_ptr<runic::Store>> store = (*db)->OpenStore(kRunner);
  if (!store.ok()) return store.status();
  std::cout << "Session 2: reopened " << (*db)->options().dir << ", runner \"" << kRunner << "\"\n";

  runic::Result<runic::LogRecord> log = (*store)->Load(kWorkflow);
  if (!log.ok()) return log.status();
  std::cout << "  log of " << kWorkflow << ": " << log->log << "\n"
            << "    updated_at " << FormatTime(log->updated_at) << "\n";

  runic::Result<std::unique_ptr<runic::EventIterator>> it = (*store)->Stream(kWorkflow);
  if (!it.ok()) return it.status();
  std::cout << "  events:\n";
  runic::Result<std::uint64_t> n = PrintEvents(**it);
  if (!n.ok()) return n.status();

  runic::Result<runic::Snapshot> snap = (*store)->LoadSnapshot(kWorkflow);
  if (!snap.ok()) return snap.status();
  std::cout << "  snapshot: cursor " << snap->cursor << ", bytes " << snap->bytes << "\n";

  // List pages through the ids that have a log or events, in byte order.
  runic::Result<runic::ListPage> page = (*store)->List();
  if (!page.ok()) return page.status();
  std::cout << "  ids:";
  for (const std::string& id : page->ids) std::cout << " " << id;
  std::cout << (page->more ? " ..." : "") << "\n";

  runic::Result<std::vector<std::string>> runners = (*db)->ListRunners();
  if (!runners.ok()) return runners.status();
  std::cout << "  runners:";
  for (const std::string& r : *runners) std::cout << " " << r;
  std::cout << "\n";

  // The counters count from this open (OpenStore registering the runner is
  // one commit); disk_bytes covers every file of the directory.
  runic::Result<runic::DatabaseStats> stats = (*db)->Stats();
  if (!stats.ok()) return stats.status();
  std::cout << "  database stats:\n"
            << "    engine " << stats->engine << ", dir " << stats->dir << ", sync " << (stats->sync ? "on" : "off")
            << "\n"
            << "    disk_bytes " << stats->disk_bytes << ", commits " << stats->commits << ", wal_syncs "
            << stats->wal_syncs << "\n"
            << "    read cache: " << stats->read_cache_hits << " hits, " << stats->read_cache_misses << " misses\n";

  // What came back must be what was written.
  if (*n != 5 || snap->cursor != 5 || page->ids.size() != 2) {
    return runic::Status::Corruption("the reopened database does not hold what was written");
  }
  return runic::Status::OK();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2) {
    std::cerr << "usage: " << argv[0] << " [DIR]\n";
    return 2;
  }

  // Where the database lives: argv[1], or a fresh temporary directory.
  std::string dir;
  bool remove_dir = false;
  if (argc == 2) {
    dir = argv[1];
  } else {
    std::string tmpl = (std::filesystem::temp_directory_path() / "runic-demo-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("store_demo: mkdtemp");
      return 1;
    }
    dir = tmpl;
    remove_dir = true;
  }

  // disc_copies = true (the default) selects the disk engine; sync = false
  // (the default) survives a process crash, sync = true also a power loss.
  runic::DatabaseOptions options;
  options.disc_copies = true;
  options.dir = dir;

  runic::Status status = Write(options);
  if (status.ok()) status = Read(options);

  if (remove_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  if (!status.ok()) {
    std::cerr << "store_demo: " << status.ToString() << "\n";
    return 1;
  }
  std::cout << "\nOK\n";
  return 0;
}
