// Durability of the disk engine, tested across process boundaries.
//
// append_helper (a separate executable, started with fork + exec) writes
// self-verifying events (durability_events.h) and reports each acknowledged
// append on stdout with an unbuffered write(2). The tests here
//   - SIGKILL it at random points and check, after reopening, that every
//     acknowledged event is present, in order, contiguous and intact, with
//     sync off and on;
//   - count the WAL syncs it reports (sync on: some, at most one per commit;
//     sync off: none);
//   - damage its files (WAL tail cut, a byte flipped in the WAL, a byte
//     flipped in a table file) and check that reading everything back gives
//     either correct data or a kCorruption status, never wrong data;
//   - let it hold a database and check that this process is told the
//     database is in use by another process;
//   - fill a small tmpfs (when this process may mount one) and check that a
//     full disk is an I/O error that corrupts nothing;
//   - kill it while it creates a database and check the directory opens.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "child_process.h"
#include "durability_events.h"
#include "runic/database.h"
#include "test_util.h"

#ifndef RUNIC_APPEND_HELPER
#error "RUNIC_APPEND_HELPER must name the append_helper executable"
#endif

namespace runic::test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr const char* kRunner = "durability";  // the runner append_helper writes

// ---------------------------------------------------------------------------
// The helper process.

using test::ChildProcess;
using test::DescribeWait;

// ---------------------------------------------------------------------------
// Acknowledgements.

struct Workload {
  int threads = 2;
  int workflows = 4;  // per thread

  std::vector<std::string> Ids() const {
    std::vector<std::string> ids;
    for (int t = 0; t < threads; ++t)
      for (int i = 0; i < workflows; ++i) ids.push_back(DurabilityWorkflowId(t, i));
    return ids;
  }
};

// The highest acknowledged cursor of every workflow.
class Acks {
 public:
  explicit Acks(const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      by_escaped_[EscapeId(id)] = id;
      cursor_[id] = 0;
    }
  }

  // Takes one "<escaped id> <cursor>" line. False (with the reason) for a
  // line that is not an acknowledgement of a known workflow, or that moves a
  // workflow's cursor backwards.
  bool Take(const std::string& line, std::string* why) {
    std::size_t sp = line.rfind(' ');
    if (sp == std::string::npos) {
      *why = "not an acknowledgement: '" + line + "'";
      return false;
    }
    auto it = by_escaped_.find(line.substr(0, sp));
    if (it == by_escaped_.end()) {
      *why = "unknown workflow in '" + line + "'";
      return false;
    }
    std::uint64_t c = std::strtoull(line.c_str() + sp + 1, nullptr, 10);
    if (c <= cursor_[it->second]) {
      *why = "cursor went backwards in '" + line + "'";
      return false;
    }
    cursor_[it->second] = c;
    ++count_;
    return true;
  }

  const std::map<std::string, std::uint64_t>& cursors() const { return cursor_; }
  std::uint64_t events() const {
    std::uint64_t n = 0;
    for (const auto& [id, c] : cursor_) n += c;
    return n;
  }
  long count() const { return count_; }

 private:
  std::map<std::string, std::string> by_escaped_;
  std::map<std::string, std::uint64_t> cursor_;
  long count_ = 0;
};

std::vector<std::string> AppendArgs(const std::string& dir, bool sync, const Workload& w, long appends_per_thread,
                                    const std::string& end, std::uint64_t seed) {
  return {"append",
          dir,
          sync ? "1" : "0",
          std::to_string(w.threads),
          std::to_string(w.workflows),
          std::to_string(appends_per_thread),
          end,
          std::to_string(seed)};
}

// ---------------------------------------------------------------------------
// Reading a database back.

struct ReadBack {
  Status open;                                  // Database::Open
  std::vector<Status> errors;                   // every failed read after a good open
  std::vector<std::string> wrong;               // wrong data: must always stay empty
  std::map<std::string, std::uint64_t> events;  // verified events per workflow (from 1, contiguous)
  std::map<std::string, bool> complete;         // whether the workflow's stream ended without error

  bool clean() const { return open.ok() && errors.empty(); }
  // "" when every error is kCorruption; otherwise a description of the others.
  std::string NonCorruptionErrors() const {
    std::string out;
    if (!open.ok() && !open.IsCorruption()) out += "open: " + open.ToString() + "; ";
    for (const Status& s : errors)
      if (!s.IsCorruption()) out += s.ToString() + "; ";
    return out;
  }
  std::string FirstError() const {
    if (!open.ok()) return "Open: " + open.ToString();
    if (!errors.empty()) return errors.front().ToString();
    return "";
  }
};

// Opens the database in `dir` and reads everything of the helper's runner:
// List, then Stream and Load of every workflow `ids` names, verifying every
// value. Reading goes on past errors so that every workflow is tried.
ReadBack ReadEverything(const std::string& dir, const std::vector<std::string>& ids, bool create = false) {
  ReadBack rb;
  DatabaseOptions o;
  o.dir = dir;
  o.create_if_missing = create;
  auto db = Database::Open(o);
  if (!db.ok()) {
    rb.open = db.status();
    return rb;
  }
  auto store = (*db)->OpenStore(kRunner);
  if (!store.ok()) {
    rb.errors.push_back(store.status());
    return rb;
  }
  Store& s = **store;
  const std::set<std::string> known(ids.begin(), ids.end());

  // List: only known ids, each once, in order.
  std::set<std::string> listed;
  ListOptions lo;
  lo.limit = 3;  // several pages
  for (int page = 0; page < 1000; ++page) {
    auto p = s.List(lo);
    if (!p.ok()) {
      rb.errors.push_back(p.status());
      break;
    }
    for (const std::string& id : p->ids) {
      if (!known.count(id)) rb.wrong.push_back("List returned an unknown id '" + EscapeId(id) + "'");
      if (!listed.insert(id).second) rb.wrong.push_back("List returned '" + EscapeId(id) + "' twice");
    }
    if (!p->more || p->ids.empty()) break;
    lo.start_after = p->ids.back();
  }

  std::string why;
  for (const std::string& id : ids) {
    std::uint64_t n = 0;
    bool complete = false;
    auto it = s.Stream(id);
    if (it.ok()) {
      for (; (*it)->Valid(); (*it)->Next()) {
        ++n;
        if ((*it)->sequence() != n) {
          rb.wrong.push_back("workflow " + EscapeId(id) + ": sequence " + std::to_string((*it)->sequence()) +
                             " where " + std::to_string(n) + " was due");
          break;
        }
        if (!VerifyDurableValue((*it)->value(), 'E', id, n, &why)) {
          rb.wrong.push_back("workflow " + EscapeId(id) + " event " + std::to_string(n) + ": " + why);
          break;
        }
      }
      if ((*it)->status().ok()) {
        complete = true;
      } else {
        rb.errors.push_back((*it)->status());
      }
    } else if (it.status().IsNotFound()) {
      complete = true;  // never appended to
    } else {
      rb.errors.push_back(it.status());
    }
    rb.events[id] = n;
    rb.complete[id] = complete;
    if (complete && n > 0 && !listed.count(id) && rb.errors.empty()) {
      rb.wrong.push_back("workflow " + EscapeId(id) + " has events but List did not return it");
    }

    auto log = s.Load(id);
    if (log.ok()) {
      DurableValue d;
      if (!DecodeDurableValue(log->log, &d, &why) || !VerifyDurableValue(log->log, 'L', id, d.number, &why)) {
        rb.wrong.push_back("workflow " + EscapeId(id) + " log: " + why);
      } else if (complete && d.number > n) {
        // A log is saved only after the append that reached its cursor.
        rb.wrong.push_back("workflow " + EscapeId(id) + " log names cursor " + std::to_string(d.number) +
                           " above the " + std::to_string(n) + " events present");
      }
    } else if (!log.status().IsNotFound()) {
      rb.errors.push_back(log.status());
    }
  }
  return rb;
}

// The events acknowledged but not read back, over all workflows.
std::uint64_t LostEvents(const ReadBack& rb, const std::map<std::string, std::uint64_t>& acked) {
  std::uint64_t lost = 0;
  for (const auto& [id, c] : acked) {
    auto it = rb.events.find(id);
    std::uint64_t have = it == rb.events.end() ? 0 : it->second;
    if (have < c) lost += c - have;
  }
  return lost;
}

void ExpectNoWrongData(const ReadBack& rb, const std::string& what) {
  EXPECT_TRUE(rb.wrong.empty()) << what << ": wrong data read back, first: " << rb.wrong.front();
}

// ---------------------------------------------------------------------------
// Files.

// The files under `dir`/rocksdb whose names end with `suffix`, by name (RocksDB
// numbers them in creation order with a fixed width).
std::vector<fs::path> EngineFiles(const std::string& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(dir) / "rocksdb")) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void FlipByte(const fs::path& file, std::uint64_t offset, unsigned char mask) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good()) << file;
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  ASSERT_TRUE(f.good()) << file << " offset " << offset;
  c = static_cast<char>(static_cast<unsigned char>(c) ^ mask);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
  f.flush();
  ASSERT_TRUE(f.good()) << file;
}

void CopyTree(const std::string& from, const std::string& to) { fs::copy(from, to, fs::copy_options::recursive); }

// ---------------------------------------------------------------------------
// Running the helper to completion.

// Runs the helper in a fresh `dir` until it has written `appends_per_thread`
// appends per thread; with end "wait" it is then SIGKILLed (so the data is
// only in the WAL), with "exit" it closes the database cleanly (which
// flushes it into table files). Returns the acknowledgements and, for
// "exit", the helper's stats line.
void WriteDatabase(const std::string& dir, bool sync, const Workload& w, long appends_per_thread,
                   const std::string& end, std::uint64_t seed, Acks* acks, std::string* stats_line = nullptr) {
  auto h = ChildProcess::Start(RUNIC_APPEND_HELPER, AppendArgs(dir, sync, w, appends_per_thread, end, seed));
  ASSERT_NE(h, nullptr) << "cannot start " << RUNIC_APPEND_HELPER;
  const auto deadline = Clock::now() + seconds(120);
  std::string line, why;
  bool finished = false;
  while (h->ReadLine(&line, deadline)) {
    if (line == "done" || line == "closed") {
      finished = true;
      break;
    }
    if (line.rfind("stats ", 0) == 0) {
      if (stats_line) *stats_line = line;
      continue;
    }
    ASSERT_TRUE(acks->Take(line, &why)) << why;
  }
  ASSERT_TRUE(finished) << "the helper stopped before finishing its work";
  ASSERT_EQ(acks->count(), appends_per_thread * w.threads);
  if (end == "wait") h->Kill();
  int status = h->Wait(Clock::now() + seconds(60));
  if (end == "wait") {
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << DescribeWait(status);
  } else {
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWait(status);
  }
}

std::uint64_t StatField(const std::string& line, const std::string& name) {
  std::size_t p = line.find(" " + name + "=");
  if (p == std::string::npos) return UINT64_MAX;
  return std::strtoull(line.c_str() + p + name.size() + 2, nullptr, 10);
}

// ---------------------------------------------------------------------------
// kill -9.

// Rounds of: start the helper on the same directory, let it append, SIGKILL
// it after a random number of acknowledgements, reopen and check.
//
// All rounds share one directory, on purpose: each round then starts from a
// database that earlier crashes left behind (recovered WALs, table files
// flushed during recovery, several WAL generations), and the helper
// continues every workflow from the cursor it finds, so an acknowledged
// event lost by any earlier crash, or a torn batch resurrected, shows up as
// a missing, duplicated or misplaced event. A fresh directory per round
// would only ever test recovery from a single crash of a new database.
void KillNineRounds(bool sync) {
  constexpr int kRounds = 24;
  constexpr long kAppendsPerThread = 1500;  // bounds each round's work
  const auto test_deadline = Clock::now() + seconds(150);
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  // Four appending threads, so that synced commits get merged into groups.
  const Workload w{4, 4};
  Acks acks(w.Ids());
  std::mt19937_64 rng(sync ? 1234 : 4321);
  long killed_mid_work = 0, timed_kills = 0;
  for (int round = 0; round < kRounds; ++round) {
    ASSERT_LT(Clock::now(), test_deadline) << "too slow: round " << round << " of " << kRounds;
    // After round 0, a quarter of the rounds die at a random moment from 0 to 30 ms after
    // the start, often while the database is still opening (recovering what
    // the previous crash left); the others after a random number of
    // acknowledgements, half of them early (1 to 20), half later (21 to 620).
    const bool timed = round > 0 && rng() % 4 == 0;  // round 0 creates the database
    const long kill_after = timed            ? LONG_MAX
                            : rng() % 2 == 0 ? 1 + static_cast<long>(rng() % 20)
                                             : 21 + static_cast<long>(rng() % 600);
    const auto started = Clock::now();
    auto h = ChildProcess::Start(RUNIC_APPEND_HELPER, AppendArgs(dir, sync, w, kAppendsPerThread, "wait", 100 + round));
    ASSERT_NE(h, nullptr);
    const auto deadline = timed ? started + std::chrono::microseconds(rng() % 30000) : started + seconds(60);
    std::string line, why;
    long seen = 0;
    bool done = false, timed_out = false;
    while (seen < kill_after && h->ReadLine(&line, deadline, &timed_out)) {
      if (line == "done") {
        done = true;
        break;
      }
      ASSERT_TRUE(acks.Take(line, &why)) << why;
      ++seen;
    }
    if (!timed) {
      ASSERT_FALSE(timed_out) << "round " << round << ": no acknowledgement within the time limit";
    }
    if (timed) ++timed_kills;
    h->Kill();
    // Every line already in the pipe was written after its Append returned:
    // those are acknowledged too.
    while (h->ReadLine(&line, Clock::now() + seconds(30))) {
      if (line == "done") {
        done = true;
        continue;
      }
      ASSERT_TRUE(acks.Take(line, &why)) << why;
    }
    int status = h->Wait(Clock::now() + seconds(30));
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "round " << round << ": the helper " << DescribeWait(status) << " before it was killed";
    if (!done) ++killed_mid_work;

    ReadBack rb = ReadEverything(dir, w.Ids());
    ASSERT_TRUE(rb.clean()) << "round " << round << ": " << rb.FirstError();
    ASSERT_TRUE(rb.wrong.empty()) << "round " << round << ": " << rb.wrong.front();
    for (const auto& [id, c] : acks.cursors()) {
      ASSERT_GE(rb.events[id], c) << "round " << round << ": workflow " << EscapeId(id) << " lost acknowledged events";
    }
  }
  EXPECT_GT(killed_mid_work, kRounds / 2) << "most kills should land while the helper is still appending";
  std::printf(
      "[   INFO   ] sync=%d: %d rounds (%ld killed at a random moment), %ld acknowledged appends, %llu "
      "acknowledged events, %ld kills before the helper had finished; nothing lost\n",
      sync ? 1 : 0, kRounds, timed_kills, acks.count(), static_cast<unsigned long long>(acks.events()),
      killed_mid_work);
}

TEST(Durability, KillNineLosesNothingAcknowledgedSyncOff) { KillNineRounds(false); }
TEST(Durability, KillNineLosesNothingAcknowledgedSyncOn) { KillNineRounds(true); }

// A process killed while it creates a database must leave a directory that
// the next Open accepts (and that holds no wrong data): fresh directories,
// each helper killed at a random moment in its first 25 ms, while it creates
// the directory, its marker and the RocksDB files (half of them within 3 ms
// of the directory's appearance).
//
// DISABLED: fails today. DataDir::Open writes RUNIC.tmp, fsyncs it and
// renames it to RUNIC; a kill before the rename leaves a directory holding
// only RUNIC.tmp, which every later Open refuses with kIOError "... is not
// empty and is not a Runic database (no RUNIC marker)" (7 to 12 of the 60
// kills here on the machine it was written on). Enable it with the fix.
TEST(Durability, KillNineWhileCreatingLeavesAnOpenableDatabase) {
  constexpr int kRounds = 60;
  TempDir tmp;
  const Workload w;
  std::mt19937_64 rng(77);
  int refused = 0;
  std::string first_refusal;
  for (int round = 0; round < kRounds; ++round) {
    const std::string dir = tmp.Sub("db" + std::to_string(round));
    auto h = ChildProcess::Start(RUNIC_APPEND_HELPER, AppendArgs(dir, true, w, 50, "wait", 500 + round));
    ASSERT_NE(h, nullptr);
    if (round % 2 == 0) {
      // Just after the directory appears: while the database is being created.
      const auto limit = Clock::now() + seconds(10);
      while (!fs::exists(dir) && Clock::now() < limit) ::usleep(50);
      ::usleep(static_cast<useconds_t>(rng() % 3000));
    } else {
      ::usleep(static_cast<useconds_t>(rng() % 25000));
    }
    h->Kill();
    (void)h->Wait(Clock::now() + seconds(30));
    ReadBack rb = ReadEverything(dir, w.Ids(), /*create=*/true);
    ASSERT_TRUE(rb.wrong.empty()) << "round " << round << ": " << rb.wrong.front();
    if (!rb.clean()) {
      if (++refused == 1) {
        first_refusal = rb.FirstError() + "; the directory holds:";
        for (const auto& e : fs::directory_iterator(dir)) first_refusal += " " + e.path().filename().string();
      }
    }
  }
  EXPECT_EQ(refused, 0) << refused << " of " << kRounds
                        << " directories left by a kill could not be opened; first: " << first_refusal;
}

// ---------------------------------------------------------------------------
// WAL syncs.

void CheckWalSyncs(bool sync) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  const Workload w;
  constexpr long kAppendsPerThread = 300;
  Acks acks(w.Ids());
  std::string stats;
  WriteDatabase(dir, sync, w, kAppendsPerThread, "exit", 7, &acks, &stats);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_FALSE(stats.empty()) << "the helper printed no stats";
  const std::uint64_t commits = StatField(stats, "commits");
  const std::uint64_t syncs = StatField(stats, "wal_syncs");
  ASSERT_NE(commits, UINT64_MAX) << stats;
  ASSERT_NE(syncs, UINT64_MAX) << stats;
  std::printf("[   INFO   ] sync=%d: %s\n", sync ? 1 : 0, stats.c_str());
  // Every append is a commit (log saves and registering the runner add more).
  EXPECT_GE(commits, static_cast<std::uint64_t>(kAppendsPerThread * w.threads)) << stats;
  if (sync) {
    EXPECT_GT(syncs, 0u) << stats;
    EXPECT_LE(syncs, commits) << stats;
  } else {
    EXPECT_EQ(syncs, 0u) << stats;
  }
  ReadBack rb = ReadEverything(dir, w.Ids());
  ASSERT_TRUE(rb.clean()) << rb.FirstError();
  ExpectNoWrongData(rb, "after a clean close");
  EXPECT_EQ(LostEvents(rb, acks.cursors()), 0u);
}

TEST(Durability, SyncOnSyncsTheWal) { CheckWalSyncs(true); }
TEST(Durability, SyncOffNeverSyncsTheWal) { CheckWalSyncs(false); }

// ---------------------------------------------------------------------------
// Damage matrix.

enum class Damage { kWalTailCut, kWalByteFlip, kTableByteFlip };

// Checks one damaged copy and prints what happened. `prefix_ok`: a clean
// recovery may have lost acknowledged events at the end (a cut WAL tail);
// otherwise a clean recovery must have every acknowledged event.
void CheckDamaged(const std::string& what, const std::string& dir, const Acks& acks, const Workload& w, bool prefix_ok,
                  std::map<std::string, int>* outcomes) {
  const auto start = Clock::now();
  ReadBack rb = ReadEverything(dir, w.Ids());
  const long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  ExpectNoWrongData(rb, what);
  EXPECT_EQ(rb.NonCorruptionErrors(), "") << what << ": errors other than kCorruption";
  const std::uint64_t lost = LostEvents(rb, acks.cursors());
  std::string outcome;
  if (rb.clean()) {
    if (!prefix_ok) {
      EXPECT_EQ(lost, 0u) << what << ": clean recovery that lost acknowledged events";
    }
    outcome = lost == 0 ? "clean recovery, all data" : "clean recovery, a prefix";
    std::printf(
        "[  DAMAGE  ] %-40s (%lld ms) clean recovery: every event verified; %llu of %llu acknowledged "
        "events lost\n",
        what.c_str(), ms, static_cast<unsigned long long>(lost), static_cast<unsigned long long>(acks.events()));
  } else {
    outcome = rb.open.ok() ? "kCorruption from reads" : "kCorruption from Open";
    std::printf("[  DAMAGE  ] %-40s (%lld ms) %s: %s\n", what.c_str(), ms, outcome.c_str(), rb.FirstError().c_str());
  }
  ++(*outcomes)[outcome];
}

void PrintOutcomes(const std::map<std::string, int>& outcomes) {
  for (const auto& [o, n] : outcomes) std::printf("[  DAMAGE  ]   %d x %s\n", n, o.c_str());
}

TEST(Durability, DamagedWalTailRecoversAPrefixOrReportsCorruption) {
  TempDir tmp;
  const std::string base = tmp.Sub("base");
  const Workload w;
  Acks acks(w.Ids());
  WriteDatabase(base, false, w, 150, "wait", 11, &acks);
  if (::testing::Test::HasFatalFailure()) return;
  std::vector<fs::path> logs = EngineFiles(base, ".log");
  ASSERT_FALSE(logs.empty()) << "no WAL in " << base;
  const std::string wal_name = logs.back().filename().string();
  const std::uint64_t size = fs::file_size(logs.back());
  ASSERT_GT(size, 10000u) << "the WAL should hold the data: " << logs.back();
  std::map<std::string, int> outcomes;
  for (std::uint64_t cut : {std::uint64_t{1}, std::uint64_t{7}, std::uint64_t{100}, std::uint64_t{1000},
                            std::uint64_t{32768}, size / 2, size - 1}) {
    const std::string dir = tmp.Sub("cut-" + std::to_string(cut));
    CopyTree(base, dir);
    fs::resize_file(fs::path(dir) / "rocksdb" / wal_name, size - cut);
    CheckDamaged("WAL " + wal_name + " minus last " + std::to_string(cut) + " B", dir, acks, w, true, &outcomes);
  }
  PrintOutcomes(outcomes);
}

TEST(Durability, FlippedWalByteGivesCorrectDataOrCorruption) {
  TempDir tmp;
  const std::string base = tmp.Sub("base");
  const Workload w;
  Acks acks(w.Ids());
  WriteDatabase(base, false, w, 150, "wait", 12, &acks);
  if (::testing::Test::HasFatalFailure()) return;
  std::vector<fs::path> logs = EngineFiles(base, ".log");
  ASSERT_FALSE(logs.empty()) << "no WAL in " << base;
  const std::string wal_name = logs.back().filename().string();
  const std::uint64_t size = fs::file_size(logs.back());
  ASSERT_GT(size, 10000u);
  std::map<std::string, int> outcomes;
  const unsigned char masks[] = {0x01, 0xff, 0x80, 0x10, 0x5a};
  int k = 0;
  for (std::uint64_t at : {size / 2, size / 3, 2 * size / 3, size / 2 + 1, size / 4}) {
    const unsigned char mask = masks[k++];
    const std::string dir = tmp.Sub("flip-" + std::to_string(at));
    CopyTree(base, dir);
    FlipByte(fs::path(dir) / "rocksdb" / wal_name, at, mask);
    if (::testing::Test::HasFatalFailure()) return;
    char what[96];
    std::snprintf(what, sizeof what, "WAL %s byte %llu ^ 0x%02x", wal_name.c_str(), static_cast<unsigned long long>(at),
                  mask);
    CheckDamaged(what, dir, acks, w, false, &outcomes);
  }
  PrintOutcomes(outcomes);
}

TEST(Durability, FlippedTableFileByteGivesCorrectDataOrCorruption) {
  TempDir tmp;
  const std::string base = tmp.Sub("base");
  const Workload w;
  Acks acks(w.Ids());
  WriteDatabase(base, false, w, 150, "exit", 13, &acks);
  if (::testing::Test::HasFatalFailure()) return;
  std::vector<fs::path> tables = EngineFiles(base, ".sst");
  ASSERT_FALSE(tables.empty()) << "a clean close should have flushed table files into " << base;
  std::map<std::string, int> outcomes;
  for (const fs::path& t : tables) {
    const std::uint64_t size = fs::file_size(t);
    // The middle (data blocks of the big files), and a quarter in.
    for (std::uint64_t at : {size / 2, size / 4}) {
      const std::string name = t.filename().string();
      const std::string dir = tmp.Sub("sst-" + name + "-" + std::to_string(at));
      CopyTree(base, dir);
      FlipByte(fs::path(dir) / "rocksdb" / name, at, 0x04);
      if (::testing::Test::HasFatalFailure()) return;
      CheckDamaged("table " + name + " (" + std::to_string(size) + " B) byte " + std::to_string(at), dir, acks, w,
                   false, &outcomes);
    }
  }
  PrintOutcomes(outcomes);
}

// ---------------------------------------------------------------------------
// A second process.

TEST(Durability, DatabaseHeldByAnotherProcessIsInUse) {
  TempDir tmp;
  const std::string dir = tmp.Sub("db");
  auto h = ChildProcess::Start(RUNIC_APPEND_HELPER, {"hold", dir}, /*pipe_stdin=*/true);
  ASSERT_NE(h, nullptr);
  std::string line;
  ASSERT_TRUE(h->ReadLine(&line, Clock::now() + seconds(60)));
  ASSERT_EQ(line, "ready");

  DatabaseOptions o;
  o.dir = dir;
  auto db = Database::Open(o);
  ASSERT_FALSE(db.ok()) << "opened a database another process holds";
  EXPECT_TRUE(db.status().IsInUse()) << db.status().ToString();
  EXPECT_NE(db.status().message().find("in use by another process"), std::string::npos) << db.status().ToString();
  auto by_uri = Database::OpenUri("disk://" + dir);
  ASSERT_FALSE(by_uri.ok());
  EXPECT_TRUE(by_uri.status().IsInUse()) << by_uri.status().ToString();

  h->CloseStdin();  // the helper closes its database and exits
  int status = h->Wait(Clock::now() + seconds(60));
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << DescribeWait(status);

  db = Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto store = (*db)->OpenStore(kRunner);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto c = (*store)->Append("after", std::vector<std::string>{"x"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(*c, 1u);

  // And the other way round: while this process holds it, the helper cannot.
  auto h2 = ChildProcess::Start(RUNIC_APPEND_HELPER, {"hold", dir}, true);
  ASSERT_NE(h2, nullptr);
  status = h2->Wait(Clock::now() + seconds(60));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 3) << "helper " << DescribeWait(status);
}

// ---------------------------------------------------------------------------
// A full disk.

// A tmpfs mounted at a directory, unmounted on destruction.
class TmpfsMount {
 public:
  explicit TmpfsMount(std::string path) : path_(std::move(path)) {}
  // "" on success, else why it could not be mounted.
  std::string Mount(const std::string& size) {
    if (::mkdir(path_.c_str(), 0700) != 0) return std::string("mkdir: ") + std::strerror(errno);
    const std::string data = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, data.c_str()) != 0) return std::strerror(errno);
    mounted_ = true;
    return "";
  }
  ~TmpfsMount() {
    if (mounted_ && ::umount2(path_.c_str(), 0) != 0) ::umount2(path_.c_str(), MNT_DETACH);
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

// The fill and the reads on the full disk run in the helper, so that a crash
// there is seen (and the file system still unmounted) rather than taking
// this process down.
//
// DISABLED: fails today, see below. With Debian's librocksdb 7.8 (built with
// assertions) the helper aborts on the full disk: RocksDB's info log
// (DIR/rocksdb/LOG) lives on the same file system; once one of its writes
// fails with ENOSPC, its next line trips
//   writable_file_writer.h:312: AssertFalseAndGetStatusForPrevError():
//   Assertion `sync_without_flush_called_' failed.
// in a background flush (error recovery) or in the flush on close. Enable it
// once the engine keeps RocksDB's info log from aborting the process.
TEST(Durability, FullDiskIsAnIOErrorAndCorruptsNothing) {
  TempDir tmp;                       // destroyed last
  TmpfsMount mnt(tmp.Sub("small"));  // unmounted before tmp is removed
  const std::string why = mnt.Mount("8m");
  if (!why.empty()) GTEST_SKIP() << "cannot mount a small tmpfs here (" << why << "); full disk not tested";

  // Space to free later, so that the database can be reopened and recover.
  const std::string ballast = tmp.Sub("small/ballast");
  {
    std::ofstream b(ballast, std::ios::binary);
    std::string mib(1 << 20, '\x55');
    for (int i = 0; i < 5; ++i) b.write(mib.data(), static_cast<std::streamsize>(mib.size()));
    ASSERT_TRUE(b.good()) << "cannot write the ballast";
  }
  const std::string dir = tmp.Sub("small/db");
  const std::string filler = tmp.Sub("small/filler");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(FullDiskWorkflowId(i));
  Acks acks(ids);

  auto h = ChildProcess::Start(RUNIC_APPEND_HELPER, {"fill", dir, filler});
  ASSERT_NE(h, nullptr);
  const auto deadline = Clock::now() + seconds(120);
  std::string line, why_not, error, save, append;
  std::map<std::string, std::string> reads;  // escaped id -> "<events> <status>"
  bool closed = false;
  while (h->ReadLine(&line, deadline)) {
    if (line == "never-full") FAIL() << "the 8 MiB file system never filled up";
    const bool ack = line.rfind("error ", 0) != 0 && line.rfind("filler ", 0) != 0 && line.rfind("save ", 0) != 0 &&
                     line.rfind("append ", 0) != 0 && line.rfind("read ", 0) != 0 && line != "closed";
    if (ack) {
      ASSERT_TRUE(acks.Take(line, &why_not)) << why_not;
      continue;
    }
    std::printf("[  HELPER  ] %s\n", line.c_str());
    if (line.rfind("error ", 0) == 0) {
      error = line.substr(6);
    } else if (line.rfind("save ", 0) == 0) {
      save = line.substr(5);
    } else if (line.rfind("append ", 0) == 0) {
      append = line.substr(7);
    } else if (line.rfind("read ", 0) == 0) {
      std::size_t sp = line.find(' ', 5);
      reads[line.substr(5, sp - 5)] = line.substr(sp + 1);
    } else if (line == "closed") {
      closed = true;
    }
  }
  const int status = h->Wait(Clock::now() + seconds(60));
  // What happened on the full disk.
  EXPECT_EQ(error.rfind("IOError", 0), 0u) << "a full disk must fail the append with kIOError, got: " << error;
  EXPECT_EQ(save.rfind("IOError", 0), 0u) << "Save on the full disk: " << save;
  EXPECT_EQ(append.rfind("IOError", 0), 0u) << "Append on the full disk: " << append;
  for (const std::string& id : ids) {
    const std::string expect = std::to_string(acks.cursors().at(id)) + " OK";
    EXPECT_EQ(reads[EscapeId(id)], expect) << "reading " << EscapeId(id) << " on the full disk";
  }
  EXPECT_TRUE(closed) << "the helper did not close the database";
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the helper " << DescribeWait(status) << " on the full disk (a crash, not an error status)";

  // Free the space and reopen: every acknowledged event is there, intact.
  std::error_code ec;
  fs::remove(ballast, ec);
  ASSERT_FALSE(ec) << ec.message();
  fs::remove(filler, ec);
  ReadBack rb = ReadEverything(dir, ids);
  ASSERT_TRUE(rb.clean()) << "reopening after freeing space: " << rb.FirstError();
  ExpectNoWrongData(rb, "after freeing space");
  EXPECT_EQ(LostEvents(rb, acks.cursors()), 0u) << "acknowledged events lost to the full disk";

  // And the database takes writes again.
  DatabaseOptions o;
  o.dir = dir;
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto store = (*db)->OpenStore(kRunner);
  ASSERT_TRUE(store.ok());
  const std::string& id = ids[0];
  auto r = (*store)->Append(id, std::vector<std::string>{MakeEvent(id, rb.events[id] + 1)});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, rb.events[id] + 1);
}

}  // namespace
}  // namespace runic::test
