// append_helper: the process that durability_test starts (fork + exec) and
// kills. It writes self-verifying events (durability_events.h) to a disk
// database and reports every acknowledged append on stdout with one
// unbuffered write(2) per line, so that a line the test reads was written
// only after Append returned.
//
// Usage:
//   append_helper append DIR SYNC THREADS WORKFLOWS APPENDS END SEED [EVENT_BYTES]
//     SYNC 0|1; THREADS appending threads, each with WORKFLOWS workflows of
//     its own (ids from DurabilityWorkflowId); APPENDS appends per thread of
//     1 to 8 events each (every fifth append to a workflow also saves its
//     log). Each thread first streams its workflows to find (and verify)
//     where they stand, so rounds can continue on the same directory.
//     Output: "<escaped workflow id> <cursor>\n" after each acknowledged
//     append. END says what happens after the last append:
//       exit   print "stats commits=C wal_syncs=W appends=A\n", close the
//              database cleanly (which flushes it), print "closed\n", exit 0
//       wait   print "done\n" and sleep until killed (the WAL keeps the data)
//     EVENT_BYTES fixes the payload size of every event (default: 8 to 520).
//   append_helper hold DIR
//     Opens the database, prints "ready\n", and holds it until stdin reaches
//     end of file; then closes it and exits 0.
//   append_helper rounds DIR WORKFLOWS APPENDS
//     Opens the database, prints "ready\n" and holds it; at each SIGUSR1 makes
//     APPENDS appends as the append mode does (one thread: ids
//     DurabilityWorkflowId(0, 0 .. WORKFLOWS-1)), printing an acknowledgement
//     line for each, then "done\n". At end of stdin it closes the database
//     and exits 0. (The signal, not stdin, starts a round: the test's child
//     process handle can only close stdin.)
//   append_helper fill DIR FILLER
//     For a small file system: appends batches of four 16 KiB events to the
//     workflows FullDiskWorkflowId(0..2) until an append fails, printing an
//     acknowledgement line for each success and then "error <status>\n".
//     Then fills what space is left with the file FILLER, as other programs
//     would ("filler <bytes>\n"), tries a Save and one more Append
//     ("save <status>\n", "append <status>\n"), reads every workflow back,
//     verifying each event ("read <escaped id> <events> <status>\n"), closes
//     the database ("closed\n") and exits 0. Prints "never-full\n" and exits
//     0 if the appends never fail.
//
// Exit codes: 0 ok, 2 usage, 3 open failed, 4 a write or read failed or
// returned wrong data, 5 time limit. Errors are described on stderr.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "durability_events.h"
#include "runic/database.h"

namespace {

using runic::test::DurabilityWorkflowId;
using runic::test::EscapeId;

constexpr auto kTimeLimit = std::chrono::seconds(120);
constexpr const char* kRunner = "durability";

// One write(2) per line; lines are short, so a pipe never splits them.
void Emit(const std::string& line) {
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDOUT_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::_Exit(4);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

[[noreturn]] void Fail(int code, const std::string& what) {
  std::fprintf(stderr, "append_helper: %s\n", what.c_str());
  std::fflush(stderr);
  std::_Exit(code);
}

std::shared_ptr<runic::Database> OpenOrDie(const std::string& dir, bool sync) {
  runic::DatabaseOptions o;
  o.dir = dir;
  o.sync = sync;
  auto db = runic::Database::Open(o);
  if (!db.ok()) Fail(3, "open " + dir + ": " + db.status().ToString());
  return std::move(*db);
}

// Where workflow `id` stands: streams it, verifying every event.
std::uint64_t CurrentCursor(runic::Store& store, const std::string& id) {
  auto it = store.Stream(id);
  if (!it.ok()) {
    if (it.status().IsNotFound()) return 0;
    Fail(4, "stream " + EscapeId(id) + ": " + it.status().ToString());
  }
  std::uint64_t n = 0;
  std::string why;
  for (; (*it)->Valid(); (*it)->Next()) {
    ++n;
    if ((*it)->sequence() != n || !runic::test::VerifyDurableValue((*it)->value(), 'E', id, n, &why)) {
      Fail(4, "workflow " + EscapeId(id) + " event " + std::to_string(n) + " is wrong: " + why);
    }
  }
  if (!(*it)->status().ok()) Fail(4, "stream " + EscapeId(id) + ": " + (*it)->status().ToString());
  return n;
}

struct AppendConfig {
  std::string dir;
  bool sync = false;
  int threads = 1, workflows = 1;
  long appends = 1;
  std::string end;
  std::uint64_t seed = 1;
  std::size_t event_bytes = SIZE_MAX;
};

void AppendThread(runic::Store& store, const AppendConfig& cfg, int t, std::atomic<long>* total,
                  std::chrono::steady_clock::time_point deadline) {
  std::vector<std::string> ids;
  std::vector<std::uint64_t> cursors;
  std::vector<std::uint64_t> appends_to;
  for (int i = 0; i < cfg.workflows; ++i) {
    ids.push_back(DurabilityWorkflowId(t, i));
    cursors.push_back(CurrentCursor(store, ids.back()));
    appends_to.push_back(0);
  }
  std::mt19937_64 rng(cfg.seed * 1000003u + static_cast<unsigned>(t));
  std::vector<std::string> batch;
  for (long a = 0; a < cfg.appends; ++a) {
    if (std::chrono::steady_clock::now() > deadline) Fail(5, "time limit reached");
    const int w = static_cast<int>(rng() % ids.size());
    const std::string& id = ids[w];
    const int n = 1 + static_cast<int>(rng() % 8);
    batch.clear();
    for (int k = 1; k <= n; ++k) {
      batch.push_back(runic::test::MakeDurableValue('E', id, cursors[w] + k, cfg.event_bytes));
    }
    runic::AppendOptions ao;
    ao.expected_cursor = cursors[w];
    auto r = store.Append(id, batch, ao);
    if (!r.ok()) Fail(4, "append to " + EscapeId(id) + ": " + r.status().ToString());
    if (*r != cursors[w] + static_cast<std::uint64_t>(n)) {
      Fail(4, "append to " + EscapeId(id) + " returned cursor " + std::to_string(*r) + ", expected " +
                  std::to_string(cursors[w] + static_cast<std::uint64_t>(n)));
    }
    cursors[w] = *r;
    Emit(EscapeId(id) + " " + std::to_string(*r) + "\n");
    total->fetch_add(1);
    if (++appends_to[w] % 5 == 0) {
      runic::Status s = store.Save(id, runic::test::MakeDurableValue('L', id, cursors[w]));
      if (!s.ok()) Fail(4, "save log of " + EscapeId(id) + ": " + s.ToString());
    }
  }
}

int RunAppend(const AppendConfig& cfg) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeLimit;
  std::shared_ptr<runic::Database> db = OpenOrDie(cfg.dir, cfg.sync);
  auto store = db->OpenStore(kRunner);
  if (!store.ok()) Fail(3, "open store: " + store.status().ToString());
  std::atomic<long> total{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < cfg.threads; ++t) {
    threads.emplace_back(AppendThread, std::ref(**store), std::cref(cfg), t, &total, deadline);
  }
  for (std::thread& th : threads) th.join();

  if (cfg.end == "wait") {
    Emit("done\n");
    while (std::chrono::steady_clock::now() < deadline) ::sleep(1);
    Fail(5, "not killed within the time limit");
  }
  auto stats = db->Stats();
  if (!stats.ok()) Fail(4, "stats: " + stats.status().ToString());
  Emit("stats commits=" + std::to_string(stats->commits) + " wal_syncs=" + std::to_string(stats->wal_syncs) +
       " appends=" + std::to_string(total.load()) + "\n");
  store->reset();
  db.reset();  // the last handle: closes (and flushes) the database
  Emit("closed\n");
  return 0;
}

int RunFill(const std::string& dir, const std::string& filler) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeLimit;
  std::shared_ptr<runic::Database> db = OpenOrDie(dir, false);
  auto store = db->OpenStore(kRunner);
  if (!store.ok()) Fail(3, "open store: " + store.status().ToString());
  runic::Store& s = **store;
  std::vector<std::string> ids;
  std::vector<std::uint64_t> cursors;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(runic::test::FullDiskWorkflowId(i));
    cursors.push_back(0);
  }
  runic::Status failure;
  for (long a = 0; a < 100000 && std::chrono::steady_clock::now() < deadline; ++a) {
    const std::size_t w = static_cast<std::size_t>(a) % ids.size();
    std::vector<std::string> batch;
    for (std::uint64_t k = 1; k <= 4; ++k) {
      batch.push_back(runic::test::MakeDurableValue('E', ids[w], cursors[w] + k, 16 << 10));
    }
    runic::AppendOptions ao;
    ao.expected_cursor = cursors[w];
    auto r = s.Append(ids[w], batch, ao);
    if (!r.ok()) {
      failure = r.status();
      break;
    }
    if (*r != cursors[w] + 4) Fail(4, "append returned cursor " + std::to_string(*r));
    cursors[w] = *r;
    Emit(EscapeId(ids[w]) + " " + std::to_string(*r) + "\n");
  }
  if (failure.ok()) {
    Emit("never-full\n");
    return 0;
  }
  Emit("error " + failure.ToString() + "\n");

  // Whatever space is left goes to another file: the disk is now full.
  std::uint64_t filled = 0;
  if (FILE* f = std::fopen(filler.c_str(), "wb")) {
    std::setvbuf(f, nullptr, _IONBF, 0);
    std::string chunk(64 << 10, 'f');
    for (std::size_t size = chunk.size(); size > 0 && filled < (std::uint64_t{1} << 30);) {
      std::size_t n = std::fwrite(chunk.data(), 1, size, f);
      filled += n;
      if (n < size) {
        std::clearerr(f);
        size /= 2;
      }
    }
    std::fclose(f);
  }
  Emit("filler " + std::to_string(filled) + "\n");

  Emit("save " + s.Save(ids[0], runic::test::MakeDurableValue('L', ids[0], cursors[0])).ToString() + "\n");
  auto again = s.Append(ids[1], std::vector<std::string>{runic::test::MakeEvent(ids[1], cursors[1] + 1)});
  Emit("append " + (again.ok() ? std::string("OK ") + std::to_string(*again) : again.status().ToString()) + "\n");

  for (const std::string& id : ids) {
    auto it = s.Stream(id);
    std::uint64_t n = 0;
    runic::Status st = it.status();
    if (it.ok()) {
      std::string why;
      for (; (*it)->Valid(); (*it)->Next()) {
        ++n;
        if (!runic::test::VerifyDurableValue((*it)->value(), 'E', id, n, &why)) {
          Fail(4, "workflow " + EscapeId(id) + " event " + std::to_string(n) + " is wrong: " + why);
        }
      }
      st = (*it)->status();
    }
    Emit("read " + EscapeId(id) + " " + std::to_string(n) + " " + st.ToString() + "\n");
  }
  store->reset();
  db.reset();
  Emit("closed\n");
  return 0;
}

int RunHold(const std::string& dir) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeLimit;
  std::shared_ptr<runic::Database> db = OpenOrDie(dir, false);
  Emit("ready\n");
  char buf[64];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
  }
  db.reset();
  return 0;
}

// True once stdin reached end of file (or failed).
bool StdinClosed() {
  pollfd p{STDIN_FILENO, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  char buf[64];
  ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
  return n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN);
}

int RunRounds(const AppendConfig& cfg) {
  // Blocked before RocksDB starts its threads, which inherit the mask: the
  // signal stays pending until sigtimedwait takes it, and never kills a thread.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  if (::pthread_sigmask(SIG_BLOCK, &usr1, nullptr) != 0) Fail(4, "cannot block SIGUSR1");
  const auto deadline = std::chrono::steady_clock::now() + kTimeLimit;
  std::shared_ptr<runic::Database> db = OpenOrDie(cfg.dir, cfg.sync);
  auto store = db->OpenStore(kRunner);
  if (!store.ok()) Fail(3, "open store: " + store.status().ToString());
  Emit("ready\n");
  std::atomic<long> total{0};
  AppendConfig round = cfg;
  while (!StdinClosed()) {
    if (std::chrono::steady_clock::now() > deadline) Fail(5, "time limit reached");
    const timespec wait{0, 200 * 1000 * 1000};
    if (::sigtimedwait(&usr1, nullptr, &wait) != SIGUSR1) continue;
    ++round.seed;
    AppendThread(**store, round, 0, &total, deadline);
    Emit("done\n");
  }
  store->reset();
  db.reset();
  return 0;
}

long ParseLong(const char* s, const char* what) {
  char* end = nullptr;
  long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v < 0) Fail(2, std::string("bad ") + what + ": " + s);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "hold" && argc == 3) return RunHold(argv[2]);
  if (mode == "fill" && argc == 4) return RunFill(argv[2], argv[3]);
  if (mode == "rounds" && argc == 5) {
    AppendConfig cfg;
    cfg.dir = argv[2];
    cfg.workflows = static_cast<int>(ParseLong(argv[3], "WORKFLOWS"));
    cfg.appends = ParseLong(argv[4], "APPENDS");
    if (cfg.workflows < 1) Fail(2, "bad arguments");
    return RunRounds(cfg);
  }
  if (mode == "append" && (argc == 9 || argc == 10)) {
    AppendConfig cfg;
    cfg.dir = argv[2];
    cfg.sync = ParseLong(argv[3], "SYNC") != 0;
    cfg.threads = static_cast<int>(ParseLong(argv[4], "THREADS"));
    cfg.workflows = static_cast<int>(ParseLong(argv[5], "WORKFLOWS"));
    cfg.appends = ParseLong(argv[6], "APPENDS");
    cfg.end = argv[7];
    cfg.seed = static_cast<std::uint64_t>(ParseLong(argv[8], "SEED"));
    if (argc == 10) cfg.event_bytes = static_cast<std::size_t>(ParseLong(argv[9], "EVENT_BYTES"));
    if (cfg.threads < 1 || cfg.threads > 64 || cfg.workflows < 1 || (cfg.end != "exit" && cfg.end != "wait")) {
      Fail(2, "bad arguments");
    }
    return RunAppend(cfg);
  }
  std::fprintf(stderr,
               "usage: append_helper append DIR SYNC THREADS WORKFLOWS APPENDS exit|wait SEED [EVENT_BYTES]\n"
               "       append_helper hold DIR\n"
               "       append_helper rounds DIR WORKFLOWS APPENDS\n"
               "       append_helper fill DIR FILLER\n");
  return 2;
}
