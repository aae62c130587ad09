// Databases: naming (options and URIs), identity within a process, runners,
// the data directory's guards, and read-only databases (also while another
// process, append_helper, holds and writes them).
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <thread>

#include "child_process.h"
#include "durability_events.h"
#include "runic/runic.h"
#include "store/keys.h"
#include "test_util.h"

#ifndef RUNIC_APPEND_HELPER
#error "RUNIC_APPEND_HELPER must name the append_helper executable"
#endif

namespace runic {
namespace {

namespace fs = std::filesystem;

DatabaseOptions Disk(const std::string& dir) {
  DatabaseOptions o;
  o.dir = dir;
  return o;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

TEST(DatabaseUri, ParsesEnginesAndParameters) {
  Result<DatabaseOptions> m = Database::ParseUri("memory:");
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->disc_copies);
  EXPECT_EQ(Database::ParseUri("memory:cache")->dir, "cache");

  Result<DatabaseOptions> d = Database::ParseUri("disk:///var/lib/app/runic?sync=1&read_cache_bytes=1024");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_TRUE(d->disc_copies);
  EXPECT_EQ(d->dir, "/var/lib/app/runic");
  EXPECT_TRUE(d->sync);
  EXPECT_EQ(d->read_cache_bytes, 1024u);
  EXPECT_EQ(Database::ParseUri("disk:relative/dir")->dir, "relative/dir");
  EXPECT_EQ(Database::ParseUri("disk://")->dir, "");
  EXPECT_EQ(Database::ParseUri("disk:///with%20space")->dir, "/with space");
  EXPECT_FALSE(Database::ParseUri("disk:///x?create=0")->create_if_missing);
}

TEST(DatabaseUri, ParsesReadOnly) {
  EXPECT_FALSE(Database::ParseUri("disk:///var/lib/app/runic")->read_only);
  Result<DatabaseOptions> ro = Database::ParseUri("disk:///var/lib/app/runic?read_only=1");
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  EXPECT_TRUE(ro->read_only);
  EXPECT_EQ(ro->dir, "/var/lib/app/runic");
  EXPECT_TRUE(Database::ParseUri("disk:relative?read_cache_bytes=0&read_only=true")->read_only);
  EXPECT_FALSE(Database::ParseUri("disk:///x?read_only=0")->read_only);
  for (const char* bad : {"disk:///x?read_only=yes", "disk:///x?read_only", "memory:?read_only=1"}) {
    EXPECT_TRUE(Database::ParseUri(bad).status().IsInvalidArgument()) << bad;
  }
}

TEST(DatabaseUri, RejectsBadUrisClearly) {
  for (const char* bad :
       {"", "nonsense", ":x", "ftp://host/x", "disk://host/path", "disk:///x?sync=maybe", "disk:///x?color=red",
        "disk:///x?sync", "memory:?sync=1", "disk:///x%zz", "disk:///x?read_cache_bytes=-1", "etcd://",
        "etcd://127.0.0.1", "etcd:127.0.0.1:1", "etcd://127.0.0.1:1?sync=1", "etcd://127.0.0.1:1?lease_ttl_ms=x"}) {
    Result<DatabaseOptions> r = Database::ParseUri(bad);
    EXPECT_TRUE(r.status().IsInvalidArgument()) << "'" << bad << "' gave " << r.status().ToString();
    EXPECT_FALSE(r.status().message().empty());
  }
}

TEST(Database, OpenUriOpensTheNamedDatabase) {
  test::TempDir tmp;
  Result<std::shared_ptr<Database>> db = Database::OpenUri("disk://" + tmp.Sub("db") + "?sync=1");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_TRUE((*db)->options().sync);
  EXPECT_EQ((*db)->options().dir, tmp.Sub("db"));
  EXPECT_TRUE(fs::exists(tmp.Sub("db") + "/RUNIC"));
}

TEST(Database, SamePathTwiceIsTheSameDatabase) {
  test::TempDir tmp;
  auto a = Database::Open(Disk(tmp.Sub("db")));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  // Another spelling of the same directory.
  auto b = Database::Open(Disk(tmp.Sub("db") + "/../db/"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto sa = (*a)->OpenStore("r");
  auto sb = (*b)->OpenStore("r");
  ASSERT_TRUE(sa.ok() && sb.ok());
  ASSERT_TRUE((*sa)->Save("wf", "x").ok());
  EXPECT_EQ((*sb)->Load("wf")->log, "x");
}

TEST(Database, ConflictingOptionsAreInvalid) {
  test::TempDir tmp;
  auto a = Database::Open(Disk(tmp.Sub("db")));
  ASSERT_TRUE(a.ok());
  DatabaseOptions synced = Disk(tmp.Sub("db"));
  synced.sync = true;
  Result<std::shared_ptr<Database>> b = Database::Open(synced);
  EXPECT_TRUE(b.status().IsInvalidArgument()) << b.status().ToString();
  a->reset();
  // Once closed, it opens with the new options.
  EXPECT_TRUE(Database::Open(synced).ok());
}

TEST(Database, BadOptionsAreInvalid) {
  DatabaseOptions memory_sync;
  memory_sync.disc_copies = false;
  memory_sync.sync = true;
  EXPECT_TRUE(Database::Open(memory_sync).status().IsInvalidArgument());
  DatabaseOptions huge_cache;
  huge_cache.disc_copies = false;
  huge_cache.read_cache_bytes = ~std::size_t{0};
  EXPECT_TRUE(Database::Open(huge_cache).status().IsInvalidArgument());
}

TEST(Database, MemoryTablesOutliveTheStoreHandleButNotTheDatabase) {
  DatabaseOptions o;
  o.disc_copies = false;
  o.dir = "memory-identity-test";
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok());
  {
    auto store = (*db)->OpenStore("r");
    ASSERT_TRUE((*store)->Save("wf", "kept").ok());
  }
  {
    auto same = Database::Open(o);  // same name: same database
    auto store = (*same)->OpenStore("r");
    EXPECT_EQ((*store)->Load("wf")->log, "kept");
  }
  db->reset();
  auto fresh = Database::Open(o);
  auto store = (*fresh)->OpenStore("r");
  EXPECT_TRUE((*store)->Load("wf").status().IsNotFound());
}

TEST(Database, DefaultDirComesFromRunicDir) {
  test::TempDir tmp;
  ::setenv("RUNIC_DIR", tmp.Sub("from-env").c_str(), 1);
  auto db = Database::Open(DatabaseOptions{});
  ::unsetenv("RUNIC_DIR");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ((*db)->options().dir, tmp.Sub("from-env"));
  struct stat st;
  ASSERT_EQ(::stat(tmp.Sub("from-env").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(Database, ListsAndDropsRunners) {
  test::TempDir tmp;
  for (bool disk : {false, true}) {
    DatabaseOptions o = Disk(tmp.Sub(disk ? "db" : "mem"));
    o.disc_copies = disk;
    auto db = Database::Open(o);
    ASSERT_TRUE(db.ok());
    EXPECT_TRUE((*db)->ListRunners()->empty());
    auto a = (*db)->OpenStore("alpha");
    auto b = (*db)->OpenStore("beta");
    ASSERT_TRUE((*a)->Save("wf", "a").ok());
    ASSERT_TRUE((*a)->Append("wf", std::vector<std::string>{"e"}).ok());
    ASSERT_TRUE((*a)->SaveFact("h", "f").ok());
    ASSERT_TRUE((*b)->Save("wf", "b").ok());
    EXPECT_EQ(*(*db)->ListRunners(), (std::vector<std::string>{"alpha", "beta"}));
    ASSERT_TRUE((*db)->DropRunner("alpha").ok());
    EXPECT_TRUE((*db)->DropRunner("never-was").ok());
    EXPECT_EQ(*(*db)->ListRunners(), std::vector<std::string>{"beta"});
    auto again = (*db)->OpenStore("alpha");
    EXPECT_TRUE((*again)->Load("wf").status().IsNotFound());
    EXPECT_TRUE((*again)->Stream("wf").status().IsNotFound());
    EXPECT_TRUE((*again)->LoadFact("h").status().IsNotFound());
    EXPECT_EQ((*b)->Load("wf")->log, "b");
    EXPECT_TRUE((*db)->DropRunner("").IsInvalidArgument());
  }
}

// A drop never lands between the read and the write of an append: whatever
// survives streams cleanly.
TEST(Database, DropRunnerDuringAppendsLeavesNoBrokenWorkflow) {
  test::TempDir tmp;
  for (bool disk : {false, true}) {
    DatabaseOptions o = Disk(tmp.Sub(disk ? "db" : "mem"));
    o.disc_copies = disk;
    auto db = Database::Open(o);
    ASSERT_TRUE(db.ok());
    auto store = (*db)->OpenStore("r");
    std::atomic<bool> done{false};
    std::thread appender([&] {
      for (int i = 0; i < 3000 && !done.load(); ++i) {
        EXPECT_TRUE((*store)->Append("wf", std::vector<std::string>{"a", "b"}).ok());
      }
    });
    for (int i = 0; i < 30; ++i) ASSERT_TRUE((*db)->DropRunner("r").ok());
    done = true;
    appender.join();
    Result<std::unique_ptr<EventIterator>> it = (*store)->Stream("wf");
    if (it.ok()) {
      std::uint64_t expected = 1;
      for (; (*it)->Valid(); (*it)->Next()) EXPECT_EQ((*it)->sequence(), expected++);
      EXPECT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
    } else {
      EXPECT_TRUE(it.status().IsNotFound()) << it.status().ToString();
    }
    // Writing through the handle kept across the drops lists the runner again.
    ASSERT_TRUE((*store)->Save("after", "x").ok());
    EXPECT_EQ(*(*db)->ListRunners(), std::vector<std::string>{"r"});
  }
}

TEST(Database, RunnersPersistOnDisk) {
  test::TempDir tmp;
  {
    auto db = Database::Open(Disk(tmp.Sub("db")));
    auto s = (*db)->OpenStore("persisted");
    ASSERT_TRUE(s.ok());
  }
  auto db = Database::Open(Disk(tmp.Sub("db")));
  EXPECT_EQ(*(*db)->ListRunners(), std::vector<std::string>{"persisted"});
}

// With sync on, concurrent commits share WAL fsyncs (RocksDB write groups).
// Counted from the engine's statistics, not inferred from timing.
TEST(DiskEngine, ConcurrentSyncedAppendsShareFsyncs) {
  test::TempDir tmp;
  DatabaseOptions o = Disk(tmp.Sub("db"));
  o.sync = true;
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok());
  auto store = (*db)->OpenStore("r");
  ASSERT_TRUE(store.ok());
  const DatabaseStats before = *(*db)->Stats();
  constexpr int kThreads = 8, kAppends = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAppends; ++i) {
        EXPECT_TRUE((*store)->Append("wf" + std::to_string(t), std::vector<std::string>{"event"}).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  const DatabaseStats after = *(*db)->Stats();
  const std::uint64_t commits = after.commits - before.commits;
  const std::uint64_t syncs = after.wal_syncs - before.wal_syncs;
  EXPECT_EQ(commits, static_cast<std::uint64_t>(kThreads * kAppends));
  EXPECT_GE(syncs, 1u);
  EXPECT_LT(syncs, commits) << "no two commits shared an fsync";
  std::printf("%llu commits, %llu WAL syncs\n", static_cast<unsigned long long>(commits),
              static_cast<unsigned long long>(syncs));
}

TEST(DiskEngine, WithoutSyncNoWalSyncHappens) {
  test::TempDir tmp;
  auto db = Database::Open(Disk(tmp.Sub("db")));
  auto store = (*db)->OpenStore("r");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE((*store)->Append("wf", std::vector<std::string>{"e"}).ok());
  const DatabaseStats stats = *(*db)->Stats();
  EXPECT_GE(stats.commits, 20u);
  EXPECT_EQ(stats.wal_syncs, 0u);
}

TEST(DataDirectory, PathUnderARegularFileIsAnError) {
  test::TempDir tmp;
  WriteFile(tmp.Sub("file"), "x");
  Result<std::shared_ptr<Database>> db = Database::Open(Disk(tmp.Sub("file") + "/db"));
  EXPECT_FALSE(db.ok());
  EXPECT_TRUE(db.status().IsIOError()) << db.status().ToString();
  db = Database::Open(Disk(tmp.Sub("file")));
  EXPECT_TRUE(db.status().IsIOError()) << db.status().ToString();
  EXPECT_NE(db.status().message().find("not a directory"), std::string::npos);
}

TEST(DataDirectory, ForeignFilesAreRefusedAndLeftAlone) {
  test::TempDir tmp;
  fs::create_directories(tmp.Sub("photos"));
  WriteFile(tmp.Sub("photos") + "/cat.jpg", "meow");
  Result<std::shared_ptr<Database>> db = Database::Open(Disk(tmp.Sub("photos")));
  EXPECT_TRUE(db.status().IsIOError()) << db.status().ToString();
  EXPECT_NE(db.status().message().find("not a Runic database"), std::string::npos);
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.Sub("photos")), fs::directory_iterator()), 1);
}

TEST(DataDirectory, NewerFormatIsRefusedClearly) {
  test::TempDir tmp;
  { ASSERT_TRUE(Database::Open(Disk(tmp.Sub("db"))).ok()); }
  WriteFile(tmp.Sub("db") + "/RUNIC", "runic-database\nformat-version 99\n");
  Result<std::shared_ptr<Database>> db = Database::Open(Disk(tmp.Sub("db")));
  EXPECT_TRUE(db.status().IsInvalidArgument()) << db.status().ToString();
  EXPECT_NE(db.status().message().find("format version 99"), std::string::npos);
}

// Format 1 (counters without a time) is read; opening it for writing marks
// it format 2 first, so that a library that reads only format 1 refuses it.
TEST(DataDirectory, AnOlderFormatIsUpgradedWhenOpenedForWriting) {
  test::TempDir tmp;
  {
    auto db = *Database::Open(Disk(tmp.Sub("db")));
    ASSERT_TRUE((*db->OpenStore("r"))->Append("wf", std::vector<std::string>{"e1"}).ok());
  }
  WriteFile(tmp.Sub("db") + "/RUNIC", "runic-database\nformat-version 1\nstate ready\n");
  auto marker = [&] {
    std::ifstream in(tmp.Sub("db") + "/RUNIC");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  DatabaseOptions read_only = Disk(tmp.Sub("db"));
  read_only.read_only = true;
  { ASSERT_TRUE(Database::Open(read_only).ok()); }
  EXPECT_NE(marker().find("format-version 1"), std::string::npos) << "a reader changed the marker";
  {
    auto db = Database::Open(Disk(tmp.Sub("db")));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_EQ((*(*db)->OpenStore("r"))->Describe("wf")->cursor, 1u);
  }
  EXPECT_NE(marker().find("format-version 2"), std::string::npos) << marker();
}

TEST(DataDirectory, DamagedMarkerIsCorruption) {
  test::TempDir tmp;
  { ASSERT_TRUE(Database::Open(Disk(tmp.Sub("db"))).ok()); }
  WriteFile(tmp.Sub("db") + "/RUNIC", "garbage");
  EXPECT_TRUE(Database::Open(Disk(tmp.Sub("db"))).status().IsCorruption());
}

TEST(DataDirectory, MissingWithoutCreateIsNotFound) {
  test::TempDir tmp;
  DatabaseOptions o = Disk(tmp.Sub("absent"));
  o.create_if_missing = false;
  EXPECT_TRUE(Database::Open(o).status().IsNotFound());
  EXPECT_FALSE(fs::exists(tmp.Sub("absent")));
  // An empty directory is not a database either.
  fs::create_directories(tmp.Sub("empty"));
  o.dir = tmp.Sub("empty");
  EXPECT_TRUE(Database::Open(o).status().IsNotFound());
  EXPECT_TRUE(fs::is_empty(tmp.Sub("empty")));
}

TEST(DataDirectory, AnAdoptedEmptyDirectoryBecomesPrivate) {
  test::TempDir tmp;
  fs::create_directories(tmp.Sub("shared"));
  ::chmod(tmp.Sub("shared").c_str(), 0755);
  ASSERT_TRUE(Database::Open(Disk(tmp.Sub("shared"))).ok());
  struct stat st;
  ASSERT_EQ(::stat(tmp.Sub("shared").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(DataDirectory, MissingEngineFilesAreReportedNotRecreated) {
  test::TempDir tmp;
  {
    auto db = Database::Open(Disk(tmp.Sub("db")));
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*(*db)->OpenStore("r"))->Save("wf", "precious").ok());
  }
  fs::rename(tmp.Sub("db") + "/rocksdb", tmp.Sub("moved-away"));
  Result<std::shared_ptr<Database>> db = Database::Open(Disk(tmp.Sub("db")));
  EXPECT_TRUE(db.status().IsCorruption()) << db.status().ToString();
  EXPECT_FALSE(fs::exists(tmp.Sub("db") + "/rocksdb"));
}

// A database written before counters recorded the time of the last append
// (16-byte counters) still opens, reads and appends; its updated_at is the
// log's, or the epoch for a workflow with events only.
// A database written before the waits table (inboxes, indexes) existed:
// read-only it reads as having none; opened as owner it gains the table.
TEST(DiskEngine, ADatabaseWithoutTheWaitsTableReadsAndGainsIt) {
  test::TempDir tmp;
  const std::string dir = tmp.Sub("db");
  {
    auto db = Database::Open(Disk(dir));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*(*db)->OpenStore("r"))->Append("wf", std::vector<std::string>{"a"}).ok());
  }
  {
    rocksdb::Options o;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(o, dir + "/rocksdb", &names).ok());
    ASSERT_NE(std::find(names.begin(), names.end(), "waits"), names.end());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const std::string& name : names) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir + "/rocksdb", cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "waits") {
        ASSERT_TRUE(db->DropColumnFamily(handles[i]).ok());
      }
    }
    for (rocksdb::ColumnFamilyHandle* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  {
    DatabaseOptions ro = Disk(dir);
    ro.read_only = true;
    auto db = Database::Open(ro);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto store = std::move(*(*db)->OpenStore("r"));
    EXPECT_EQ(store->Describe("wf")->cursor, 1u);
    Result<InboxPage> inbox = store->ReadInbox("wf");
    ASSERT_TRUE(inbox.ok()) << inbox.status().ToString();
    EXPECT_TRUE(inbox->entries.empty());
    StateListOptions all;
    all.tag_is_prefix = true;
    Result<StatePage> states = store->ListByState(all);
    ASSERT_TRUE(states.ok()) << states.status().ToString();
    EXPECT_TRUE(states->entries.empty());
    Result<ListPage> pending = store->ListInboxes();
    ASSERT_TRUE(pending.ok());
    EXPECT_TRUE(pending->ids.empty());
  }
  auto db = Database::Open(Disk(dir));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto store = std::move(*(*db)->OpenStore("r"));
  Result<std::uint64_t> seq = store->AppendInbox("wf", "s");
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_EQ(*seq, 1u);
}

TEST(DiskEngine, CountersWithoutATimeStillDecode) {
  test::TempDir tmp;
  const std::string dir = tmp.Sub("db");
  std::chrono::system_clock::time_point log_time;
  {
    auto db = Database::Open(Disk(dir));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto store = (*db)->OpenStore("r");
    ASSERT_TRUE((*store)->Append("events", std::vector<std::string>{"a", "bc"}).ok());
    ASSERT_TRUE((*store)->Append("both", std::vector<std::string>{"x"}).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_TRUE((*store)->Save("both", "log").ok());
    log_time = (*store)->Load("both")->updated_at;
  }
  {
    // Cut every counter back to the old 16 bytes (counter, trimmed).
    rocksdb::Options o;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(o, dir + "/rocksdb", &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (const std::string& name : names) cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir + "/rocksdb", cfs, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    rocksdb::ColumnFamilyHandle* counters = nullptr;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == "counters") counters = handles[i];
    }
    ASSERT_NE(counters, nullptr);
    const std::string prefix = internal::keys::RunnerPrefix("r");
    int cut = 0;
    for (const char* id : {"events", "both"}) {
      const std::string key = internal::keys::WorkflowKey(prefix, id);
      std::string v;
      ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), counters, key, &v).ok()) << id;
      ASSERT_EQ(v.size(), 24u) << "counters are written with their time";
      ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), counters, key, v.substr(0, 16)).ok());
      ++cut;
    }
    EXPECT_EQ(cut, 2);
    for (rocksdb::ColumnFamilyHandle* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = Database::Open(Disk(dir));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto store = (*db)->OpenStore("r");
  Result<WorkflowSummary> events = (*store)->Describe("events");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  EXPECT_EQ(events->cursor, 2u);
  EXPECT_EQ(events->event_bytes, 3u);
  EXPECT_EQ(events->updated_at, std::chrono::system_clock::time_point());
  EXPECT_EQ((*store)->Describe("both")->updated_at, log_time);
  ASSERT_TRUE((*store)->Trim("events", 1).ok());
  EXPECT_EQ((*store)->Describe("events")->updated_at, std::chrono::system_clock::time_point());
  const auto before = std::chrono::system_clock::now() - std::chrono::seconds(1);
  EXPECT_EQ(*(*store)->Append("events", std::vector<std::string>{"d"}), 3u);
  events = (*store)->Describe("events");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  EXPECT_GT(events->updated_at, before);
  EXPECT_EQ(events->trimmed, 1u);
  Result<StoreStats> stats = (*store)->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->events, 3u);
}

// --- Read-only databases ---------------------------------------------------------

DatabaseOptions ReadOnly(const std::string& dir) {
  DatabaseOptions o = Disk(dir);
  o.read_only = true;
  return o;
}

// Every file under `dir` with its size and modification time.
std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> Files(const std::string& dir) {
  std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> out;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir)) {
    out[e.path().string()] = {e.is_regular_file() ? e.file_size() : 0, e.last_write_time()};
  }
  return out;
}

// Every write a Store and a Database offer, through a read-only database:
// each refused with InvalidArgument naming the database.
void ExpectEveryWriteRefused(Database& db, Store& store) {
  const std::string why = "database " + db.options().dir + " is open read-only";
  auto refused = [&](const Status& s, const char* op) {
    EXPECT_TRUE(s.IsInvalidArgument()) << op << ": " << s.ToString();
    EXPECT_NE(s.message().find(why), std::string::npos) << op << ": " << s.ToString();
  };
  refused(store.Save("ro-wf", "log"), "save");
  refused(store.Checkpoint("ro-wf", "log"), "checkpoint");
  refused(store.Append("ro-wf", std::vector<std::string>{"e"}).status(), "append");
  AppendOptions with_fact;
  with_fact.facts = {{"ro-fact", "v"}};
  refused(store.Append("ro-wf", std::vector<std::string>{"e"}, with_fact).status(), "append with a fact");
  const std::vector<AppendRequest> many = {{"ro-wf", {"e"}, {}}, {"ro-wf2", {"e"}, {}}};
  for (const Result<std::uint64_t>& r : store.AppendMany(many)) refused(r.status(), "append_many");
  refused(store.SaveSnapshot("ro-wf", 0, "s"), "save_snapshot");
  refused(store.SaveFact("ro-fact", "v"), "save_fact");
  refused(store.DeleteFact("ro-fact"), "delete_fact");
  refused(store.Delete("ro-wf"), "delete");
  refused(store.Trim("ro-wf", 0), "trim");
  refused(store.ImportEvents("ro-wf", 1, std::vector<std::string_view>{"e"}), "import_events");
  WorkflowImport import;
  import.log = LogRecord{"log", std::chrono::system_clock::now()};
  refused(store.ImportWorkflow("ro-wf", import), "import_workflow");
  refused(db.DropRunner(store.runner_name()), "drop_runner");
  EXPECT_FALSE(*store.Exists("ro-wf"));
  EXPECT_FALSE(*store.Exists("ro-wf2"));
  EXPECT_TRUE(store.LoadFact("ro-fact").status().IsNotFound());
}

TEST(ReadOnly, MissingDatabaseIsNotFoundAndNothingIsCreated) {
  test::TempDir tmp;
  Result<std::shared_ptr<Database>> db = Database::Open(ReadOnly(tmp.Sub("absent")));
  EXPECT_TRUE(db.status().IsNotFound()) << db.status().ToString();
  EXPECT_NE(db.status().message().find(tmp.Sub("absent")), std::string::npos) << db.status().ToString();
  EXPECT_FALSE(fs::exists(tmp.Sub("absent")));
  db = Database::OpenUri("disk://" + tmp.Sub("absent") + "?read_only=1");
  EXPECT_TRUE(db.status().IsNotFound()) << db.status().ToString();
  EXPECT_FALSE(fs::exists(tmp.Sub("absent")));
  // create_if_missing does not apply: nothing is ever created.
  DatabaseOptions create = ReadOnly(tmp.Sub("absent"));
  create.create_if_missing = true;
  EXPECT_TRUE(Database::Open(create).status().IsNotFound());
  EXPECT_FALSE(fs::exists(tmp.Sub("absent")));
  // An empty directory is no database either, and stays empty.
  fs::create_directories(tmp.Sub("empty"));
  EXPECT_TRUE(Database::Open(ReadOnly(tmp.Sub("empty"))).status().IsNotFound());
  EXPECT_TRUE(fs::is_empty(tmp.Sub("empty")));
  // Foreign files are refused as by a read-write open, and left alone.
  fs::create_directories(tmp.Sub("photos"));
  WriteFile(tmp.Sub("photos") + "/cat.jpg", "meow");
  EXPECT_TRUE(Database::Open(ReadOnly(tmp.Sub("photos"))).status().IsIOError());
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.Sub("photos")), fs::directory_iterator()), 1);
}

TEST(ReadOnly, MemoryEngineRefusesIt) {
  DatabaseOptions o;
  o.disc_copies = false;
  o.dir = "read-only-memory";
  o.read_only = true;
  Result<std::shared_ptr<Database>> db = Database::Open(o);
  EXPECT_TRUE(db.status().IsInvalidArgument()) << db.status().ToString();
  // Also while a memory database of that name is open.
  o.read_only = false;
  auto open = Database::Open(o);
  ASSERT_TRUE(open.ok());
  o.read_only = true;
  EXPECT_TRUE(Database::Open(o).status().IsInvalidArgument());
  EXPECT_TRUE(Database::OpenUri("memory:read-only-memory?read_only=1").status().IsInvalidArgument());
}

TEST(ReadOnly, ReadOnlyAndReadWriteInOneProcessAreConflictingOptions) {
  test::TempDir tmp;
  const std::string dir = tmp.Sub("db");
  auto rw = Database::Open(Disk(dir));
  ASSERT_TRUE(rw.ok()) << rw.status().ToString();
  Result<std::shared_ptr<Database>> ro = Database::Open(ReadOnly(dir));
  EXPECT_TRUE(ro.status().IsInvalidArgument()) << ro.status().ToString();
  EXPECT_NE(ro.status().message().find("read_only"), std::string::npos) << ro.status().ToString();
  rw->reset();
  ro = Database::Open(ReadOnly(dir));
  ASSERT_TRUE(ro.ok()) << ro.status().ToString();
  auto again = Database::Open(ReadOnly(dir));  // the same database
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(&(*again)->options(), &(*ro)->options());
  rw = Database::Open(Disk(dir));
  EXPECT_TRUE(rw.status().IsInvalidArgument()) << rw.status().ToString();
}

// A database no process holds: read-only sees everything and changes
// nothing, not even a file of the directory.
TEST(ReadOnly, ReadsAClosedDatabaseAndWritesNothing) {
  test::TempDir tmp;
  const std::string dir = tmp.Sub("db");
  {
    auto db = Database::Open(Disk(dir));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto store = (*db)->OpenStore("r");
    ASSERT_TRUE((*store)->Save("wf", "log").ok());
    ASSERT_TRUE((*store)->Append("wf", std::vector<std::string>{"a", "b", "c"}).ok());
    ASSERT_TRUE((*store)->SaveSnapshot("wf", 2, "snap").ok());
    ASSERT_TRUE((*store)->SaveFact("h", "fact").ok());
  }
  const auto files = Files(dir);
  // The secondary's own directory goes to $TMPDIR: watch it come and go.
  const std::string private_tmp = tmp.Sub("tmp");
  fs::create_directories(private_tmp);
  const char* old_tmpdir = std::getenv("TMPDIR");
  const std::string saved_tmpdir = old_tmpdir != nullptr ? old_tmpdir : "";
  ::setenv("TMPDIR", private_tmp.c_str(), 1);
  {
    auto db = Database::Open(ReadOnly(dir));
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_TRUE((*db)->options().read_only);
    EXPECT_FALSE(fs::is_empty(private_tmp));
    auto store = (*db)->OpenStore("r");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ((*store)->Load("wf")->log, "log");
    EXPECT_EQ((*store)->LoadSnapshot("wf")->bytes, "snap");
    EXPECT_EQ(*(*store)->LoadFact("h"), "fact");
    EXPECT_EQ((*store)->List()->ids, std::vector<std::string>{"wf"});
    EXPECT_TRUE(*(*store)->Exists("wf"));
    Result<WorkflowSummary> d = (*store)->Describe("wf");
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->cursor, 3u);
    EXPECT_EQ(d->snapshot_cursor, 2u);
    EXPECT_EQ((*store)->Stats()->events, 3u);
    EXPECT_EQ(*(*db)->ListRunners(), std::vector<std::string>{"r"});
    {
      Result<std::unique_ptr<EventIterator>> it = (*store)->Stream("wf", {1});
      ASSERT_TRUE(it.ok()) << it.status().ToString();
      // An open stream's view must not change: Refresh waits for it to go.
      Status busy = (*db)->Refresh();
      EXPECT_EQ(busy.code(), Status::Code::kUnavailable) << busy.ToString();
      std::vector<std::string> seen;
      for (; (*it)->Valid(); (*it)->Next()) seen.emplace_back((*it)->value());
      EXPECT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
      EXPECT_EQ(seen, (std::vector<std::string>{"b", "c"}));
    }
    EXPECT_TRUE((*db)->Refresh().ok());
    ExpectEveryWriteRefused(**db, **store);
    // A runner opened read-only is not created.
    auto other = (*db)->OpenStore("other");
    ASSERT_TRUE(other.ok()) << other.status().ToString();
    EXPECT_TRUE((*other)->List()->ids.empty());
    EXPECT_EQ(*(*db)->ListRunners(), std::vector<std::string>{"r"});
  }
  if (saved_tmpdir.empty()) {
    ::unsetenv("TMPDIR");
  } else {
    ::setenv("TMPDIR", saved_tmpdir.c_str(), 1);
  }
  EXPECT_TRUE(fs::is_empty(private_tmp)) << "the secondary's directory outlived the database";
  EXPECT_EQ(Files(dir), files) << "a read-only open changed the database's files";
  auto db = Database::Open(Disk(dir));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(*(*db)->ListRunners(), std::vector<std::string>{"r"});
  EXPECT_TRUE((*db)->Refresh().ok());  // nothing to do for a read-write database
}

// Drives append_helper in "rounds" mode (holding and writing a database in
// another process) and keeps what it acknowledged.
class AppendRounds {
 public:
  using Clock = std::chrono::steady_clock;

  // Start it before this test starts threads of its own.
  AppendRounds(const std::string& dir, int workflows, int appends) {
    helper_ = test::ChildProcess::Start(RUNIC_APPEND_HELPER,
                                        {"rounds", dir, std::to_string(workflows), std::to_string(appends)},
                                        /*pipe_stdin=*/true);
    for (int i = 0; i < workflows; ++i) {
      const std::string id = test::DurabilityWorkflowId(0, i);
      by_escaped_[test::EscapeId(id)] = id;
      acked_[id] = 0;
    }
  }

  ::testing::AssertionResult Ready() {
    std::string line;
    if (helper_ == nullptr) return ::testing::AssertionFailure() << "append_helper did not start";
    if (!helper_->ReadLine(&line, Clock::now() + std::chrono::seconds(60)) || line != "ready") {
      return ::testing::AssertionFailure() << "append_helper is not ready: " << line;
    }
    return ::testing::AssertionSuccess();
  }

  // One round of appends; `on_ack` runs after each acknowledgement, while the
  // helper goes on appending.
  ::testing::AssertionResult Round(const std::function<void()>& on_ack = [] {}) {
    if (::kill(helper_->pid(), SIGUSR1) != 0) return ::testing::AssertionFailure() << "kill: " << std::strerror(errno);
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    std::string line;
    for (int lines = 0; lines < 1000; ++lines) {
      if (!helper_->ReadLine(&line, deadline)) return ::testing::AssertionFailure() << "the helper stopped answering";
      if (line == "done") return ::testing::AssertionSuccess();
      const std::size_t sp = line.rfind(' ');
      auto it = sp == std::string::npos ? by_escaped_.end() : by_escaped_.find(line.substr(0, sp));
      if (it == by_escaped_.end()) return ::testing::AssertionFailure() << "not an acknowledgement: " << line;
      acked_[it->second] = std::strtoull(line.c_str() + sp + 1, nullptr, 10);
      on_ack();
    }
    return ::testing::AssertionFailure() << "no end to the round";
  }

  // Closes the helper's stdin: it closes the database and exits.
  ::testing::AssertionResult Finish() {
    helper_->CloseStdin();
    const int status = helper_->Wait(Clock::now() + std::chrono::seconds(60));
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << test::DescribeWait(status);
  }

  // Cursors acknowledged so far, by workflow id.
  const std::map<std::string, std::uint64_t>& acked() const { return acked_; }
  pid_t pid() const { return helper_->pid(); }

 private:
  std::unique_ptr<test::ChildProcess> helper_;
  std::map<std::string, std::string> by_escaped_;
  std::map<std::string, std::uint64_t> acked_;
};

// The cursor of each workflow of `ids` in the runner append_helper writes,
// checking that Stream yields every event up to it, each the one written for
// its place.
std::map<std::string, std::uint64_t> VerifiedHelperCursors(Store& store,
                                                           const std::map<std::string, std::uint64_t>& ids) {
  std::map<std::string, std::uint64_t> out;
  for (const auto& [id, unused] : ids) {
    Result<std::unique_ptr<EventIterator>> it = store.Stream(id);
    out[id] = 0;
    if (it.status().IsNotFound()) continue;
    EXPECT_TRUE(it.ok()) << it.status().ToString();
    if (!it.ok()) continue;
    std::uint64_t n = 0;
    std::string why;
    for (; (*it)->Valid(); (*it)->Next()) {
      ++n;
      EXPECT_EQ((*it)->sequence(), n);
      EXPECT_TRUE(test::VerifyDurableValue((*it)->value(), 'E', id, n, &why)) << why;
    }
    EXPECT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
    out[id] = n;
  }
  return out;
}

// A database another process holds is refused with kInUse, and the message
// names that process, so that whoever sees it knows what to stop.
TEST(DataDirectory, InUseNamesTheProcessThatHoldsTheDatabase) {
  test::TempDir tmp;
  const std::string dir = tmp.Sub("db");
  AppendRounds rounds(dir, 1, 1);
  ASSERT_TRUE(rounds.Ready());
  Result<std::shared_ptr<Database>> db = Database::Open(Disk(dir));
  ASSERT_TRUE(db.status().IsInUse()) << db.status().ToString();
  const std::string message = db.status().message();
  EXPECT_NE(message.find("is in use by another process"), std::string::npos) << message;
  EXPECT_NE(message.find("(pid " + std::to_string(rounds.pid()) + ", append_helper)"), std::string::npos) << message;
  EXPECT_TRUE(rounds.Finish());
  // Once the holder is gone, the database opens.
  EXPECT_TRUE(Database::Open(Disk(dir)).ok());
}

// append_helper holds the database and appends in rounds; this process reads
// it read-only: what was acknowledged before Open is there, what was
// acknowledged after is not until Refresh, and every write is refused.
TEST(ReadOnly, ReadsADatabaseAnotherProcessHoldsAndRefreshes) {
  constexpr int kWorkflows = 3;
  constexpr const char* kRunner = "durability";  // the runner append_helper writes
  test::TempDir tmp;
  const std::string dir = tmp.Sub("db");
  // Started first, while this process has no other thread.
  AppendRounds rounds(dir, kWorkflows, 30);
  ASSERT_TRUE(rounds.Ready());
  const std::map<std::string, std::uint64_t>& acked = rounds.acked();
  // What the read-only store shows of each workflow: every event in its
  // place (Stream), and Describe agreeing.
  auto cursors = [&](Store& store) {
    std::map<std::string, std::uint64_t> out = VerifiedHelperCursors(store, acked);
    for (const auto& [id, n] : out) {
      Result<WorkflowSummary> d = store.Describe(id);
      if (n == 0 && d.status().IsNotFound()) continue;
      EXPECT_TRUE(d.ok()) << d.status().ToString();
      if (!d.ok()) continue;
      EXPECT_EQ(d->cursor, n);
      EXPECT_EQ(d->events, n);
    }
    return out;
  };

  ASSERT_TRUE(rounds.Round());
  // The helper holds the database: a read-write open is refused, a read-only one is not.
  Result<std::shared_ptr<Database>> rw = Database::Open(Disk(dir));
  EXPECT_TRUE(rw.status().IsInUse()) << rw.status().ToString();
  Result<std::shared_ptr<Database>> db = Database::OpenUri("disk://" + dir + "?read_only=1");
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto store = (*db)->OpenStore(kRunner);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(cursors(**store), acked);

  // Logs come through the read cache: fill it, then check a Refresh empties it.
  std::map<std::string, std::uint64_t> log_cursor;
  for (const auto& [id, unused] : acked) {
    Result<LogRecord> rec = (*store)->Load(id);
    test::DurableValue v;
    std::string why;
    if (!rec.ok()) {
      EXPECT_TRUE(rec.status().IsNotFound()) << rec.status().ToString();
      continue;
    }
    ASSERT_TRUE(test::DecodeDurableValue(rec->log, &v, &why)) << why;
    log_cursor[id] = v.number;
  }

  // Acknowledged after Open: not seen until Refresh.
  const std::map<std::string, std::uint64_t> at_open = acked;
  ASSERT_TRUE(rounds.Round());
  ASSERT_NE(acked, at_open);
  EXPECT_EQ(cursors(**store), at_open);
  ASSERT_TRUE((*db)->Refresh().ok());
  EXPECT_EQ(cursors(**store), acked);
  int newer_logs = 0;
  for (const auto& [id, unused] : acked) {
    Result<LogRecord> rec = (*store)->Load(id);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    test::DurableValue v;
    std::string why;
    ASSERT_TRUE(test::DecodeDurableValue(rec->log, &v, &why)) << why;
    EXPECT_TRUE(test::VerifyDurableValue(rec->log, 'L', id, v.number, &why)) << why;
    EXPECT_LE(v.number, acked.at(id));
    if (v.number > log_cursor[id]) ++newer_logs;
  }
  EXPECT_GT(newer_logs, 0) << "Load still answers from before the Refresh";

  // Refreshes while the helper appends: each sees at least what was
  // acknowledged before it, and never a broken stream.
  int refreshes = 0;
  ASSERT_TRUE(rounds.Round([&] {
    const std::map<std::string, std::uint64_t> floor = acked;
    Status s = (*db)->Refresh();
    EXPECT_TRUE(s.ok()) << s.ToString();
    ++refreshes;
    for (const auto& [id, seen] : cursors(**store)) EXPECT_GE(seen, floor.at(id)) << test::EscapeId(id);
  }));
  EXPECT_GT(refreshes, 0);
  ASSERT_TRUE((*db)->Refresh().ok());
  EXPECT_EQ(cursors(**store), acked);

  ExpectEveryWriteRefused(**db, **store);
  EXPECT_EQ(cursors(**store), acked);
  EXPECT_EQ(*(*db)->ListRunners(), std::vector<std::string>{kRunner});

  // The helper closes the database (flushing it) and exits; this process
  // still reads, before and after catching up with the close.
  ASSERT_TRUE(rounds.Finish());
  EXPECT_EQ(cursors(**store), acked);
  Status refreshed = (*db)->Refresh();
  EXPECT_TRUE(refreshed.ok()) << refreshed.ToString();
  EXPECT_EQ(cursors(**store), acked);
  store->reset();
  db->reset();

  // Nothing the read-only database was asked to write is there.
  auto after = Database::Open(Disk(dir));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(*(*after)->ListRunners(), std::vector<std::string>{kRunner});
  auto check = (*after)->OpenStore(kRunner);
  EXPECT_FALSE(*(*check)->Exists("ro-wf"));
  EXPECT_TRUE((*check)->LoadFact("ro-fact").status().IsNotFound());
  EXPECT_EQ(cursors(**check), acked);
}

// --- Backup ----------------------------------------------------------------------

// What the backup tests write as event `seq` of workflow `id` of `runner`.
std::string BackupEvent(const std::string& runner, const std::string& id, std::uint64_t seq) {
  return runner + "/" + id + "/" + std::to_string(seq);
}

// The cursor of `id` in `store` (0 when it has no events), after checking
// that Stream yields every event up to it, each the one written for its place.
std::uint64_t VerifiedBackupCursor(Store& store, const std::string& id) {
  Result<std::unique_ptr<EventIterator>> it = store.Stream(id);
  if (it.status().IsNotFound()) return 0;
  EXPECT_TRUE(it.ok()) << it.status().ToString();
  if (!it.ok()) return 0;
  std::uint64_t n = 0;
  for (; (*it)->Valid(); (*it)->Next()) {
    ++n;
    EXPECT_EQ((*it)->sequence(), n);
    EXPECT_EQ((*it)->value(), BackupEvent(store.runner_name(), id, n));
  }
  EXPECT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
  return n;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 0777;
}

TEST(Backup, CopiesADiskDatabaseWhileAnotherThreadAppends) {
  using Clock = std::chrono::steady_clock;
  constexpr int kWorkflows = 4;
  const std::vector<std::string> runners = {"alpha", "beta", "gamma"};
  test::TempDir tmp;
  auto db = Database::Open(Disk(tmp.Sub("db")));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  std::map<std::string, std::unique_ptr<Store>> stores;
  for (const std::string& r : runners) {
    auto store = (*db)->OpenStore(r);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    stores[r] = std::move(*store);
    ASSERT_TRUE(stores[r]->SaveFact("fact", "fact of " + r).ok());
    ASSERT_TRUE(stores[r]->Save("wf0", "log of " + r).ok());
  }
  {
    auto trimmed = (*db)->OpenStore("trimmed");
    ASSERT_TRUE((*trimmed)->Append("wf", std::vector<std::string>{"a", "b", "c"}).ok());
    ASSERT_TRUE((*trimmed)->SaveSnapshot("wf", 2, "snap").ok());
    ASSERT_TRUE((*trimmed)->Trim("wf", 2).ok());
  }

  // One thread appends to every workflow of every runner in turn, each
  // append checked against the cursor it last acknowledged.
  std::mutex mu;
  std::map<std::pair<std::string, int>, std::uint64_t> acked;
  std::atomic<bool> stop{false};
  std::atomic<long> appends{0};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    for (long n = 0; n < 1000000 && !stop.load() && Clock::now() < deadline; ++n) {
      const std::string& r = runners[static_cast<std::size_t>(n % 3)];
      const int w = static_cast<int>((n / 3) % kWorkflows);
      const std::string id = "wf" + std::to_string(w);
      std::uint64_t cursor = 0;
      {
        std::lock_guard lock(mu);
        cursor = acked[{r, w}];
      }
      std::vector<std::string> events;
      for (std::uint64_t k = 1; k <= static_cast<std::uint64_t>(1 + n % 3); ++k) {
        events.push_back(BackupEvent(r, id, cursor + k));
      }
      AppendOptions options;
      options.expected_cursor = cursor;
      Result<std::uint64_t> c = stores.at(r)->Append(id, events, options);
      if (!c.ok()) {
        ADD_FAILURE() << c.status().ToString();
        ++failures;
        return;
      }
      std::lock_guard lock(mu);
      acked[{r, w}] = *c;
      ++appends;
    }
  });
  auto wait_for_appends = [&](long count) {
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (appends.load() < count && failures.load() == 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return appends.load() >= count;
  };
  const bool started = wait_for_appends(300);
  std::map<std::pair<std::string, int>, std::uint64_t> floor;
  {
    std::lock_guard lock(mu);
    floor = acked;
  }
  const Status backed_up = (*db)->Backup(tmp.Sub("backup"));
  const long after_backup = appends.load();
  const bool went_on = wait_for_appends(after_backup + 300);
  stop = true;
  writer.join();
  ASSERT_TRUE(started && went_on) << "the writer stalled after " << appends.load() << " appends";
  ASSERT_EQ(failures.load(), 0);
  ASSERT_TRUE(backed_up.ok()) << backed_up.ToString();

  EXPECT_EQ(ModeOf(tmp.Sub("backup")), 0700u);
  EXPECT_TRUE(fs::exists(tmp.Sub("backup") + "/RUNIC"));
  stores.clear();
  db->reset();  // the source closes: the backup stands on its own
  auto copy = Database::Open(Disk(tmp.Sub("backup")));
  ASSERT_TRUE(copy.ok()) << copy.status().ToString();
  EXPECT_EQ(*(*copy)->ListRunners(), (std::vector<std::string>{"alpha", "beta", "gamma", "trimmed"}));
  int behind_the_end = 0;  // workflows whose later appends the copy does not have
  for (const std::string& r : runners) {
    auto store = (*copy)->OpenStore(r);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    EXPECT_EQ(*(*store)->LoadFact("fact"), "fact of " + r);
    EXPECT_EQ((*store)->Load("wf0")->log, "log of " + r);
    for (int w = 0; w < kWorkflows; ++w) {
      const std::string id = "wf" + std::to_string(w);
      const std::uint64_t cursor = VerifiedBackupCursor(**store, id);
      const std::uint64_t before = floor[std::make_pair(r, w)], last = acked[std::make_pair(r, w)];
      EXPECT_GE(cursor, before) << r << " " << id << ": an acknowledged append is missing";
      EXPECT_LE(cursor, last) << r << " " << id;
      if (cursor < last) ++behind_the_end;
    }
  }
  EXPECT_GT(behind_the_end, 0) << "the copy has appends made after Backup returned";
  auto trimmed = (*copy)->OpenStore("trimmed");
  Result<WorkflowSummary> d = (*trimmed)->Describe("wf");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->cursor, 3u);
  EXPECT_EQ(d->trimmed, 2u);
  EXPECT_EQ((*trimmed)->LoadSnapshot("wf")->bytes, "snap");
  // The copy is a database like any other: it takes writes.
  EXPECT_EQ(*(*trimmed)->Append("wf", std::vector<std::string>{"d"}), 4u);
}

TEST(Backup, DestinationMustBeMissingOrEmpty) {
  test::TempDir tmp;
  auto db = Database::Open(Disk(tmp.Sub("db")));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto store = (*db)->OpenStore("r");
  ASSERT_TRUE((*store)->Append("wf", std::vector<std::string>{"a", "b"}).ok());

  // A directory with files: refused, and left as it was.
  fs::create_directories(tmp.Sub("full/sub"));
  WriteFile(tmp.Sub("full") + "/keep.txt", "mine");
  const auto files = Files(tmp.Sub("full"));
  Status s = (*db)->Backup(tmp.Sub("full"));
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find(tmp.Sub("full")), std::string::npos) << s.ToString();
  EXPECT_EQ(Files(tmp.Sub("full")), files);
  // A file, the database itself, a directory inside it, no path at all.
  WriteFile(tmp.Sub("file"), "x");
  EXPECT_TRUE((*db)->Backup(tmp.Sub("file")).IsInvalidArgument());
  EXPECT_EQ(fs::file_size(tmp.Sub("file")), 1u);
  EXPECT_TRUE((*db)->Backup(tmp.Sub("db")).IsInvalidArgument());
  EXPECT_TRUE((*db)->Backup(tmp.Sub("db") + "/backup").IsInvalidArgument());
  EXPECT_FALSE(fs::exists(tmp.Sub("db") + "/backup"));
  EXPECT_TRUE((*db)->Backup("").IsInvalidArgument());

  // An empty directory is taken and made private; missing parents are made.
  fs::create_directories(tmp.Sub("empty"));
  ::chmod(tmp.Sub("empty").c_str(), 0755);
  s = (*db)->Backup(tmp.Sub("empty"));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ModeOf(tmp.Sub("empty")), 0700u);
  s = (*db)->Backup(tmp.Sub("new/parents/backup"));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(ModeOf(tmp.Sub("new/parents/backup")), 0700u);
  // A backup is no longer empty.
  const auto backup_files = Files(tmp.Sub("empty"));
  EXPECT_TRUE((*db)->Backup(tmp.Sub("empty")).IsInvalidArgument());
  EXPECT_EQ(Files(tmp.Sub("empty")), backup_files);
  ASSERT_TRUE((*store)->Append("wf", std::vector<std::string>{"c"}).ok());

  for (const char* sub : {"empty", "new/parents/backup"}) {
    auto copy = Database::Open(Disk(tmp.Sub(sub)));
    ASSERT_TRUE(copy.ok()) << sub << ": " << copy.status().ToString();
    auto copied = (*copy)->OpenStore("r");
    Result<std::unique_ptr<EventIterator>> it = (*copied)->Stream("wf");
    ASSERT_TRUE(it.ok()) << it.status().ToString();
    std::vector<std::string> seen;
    for (; (*it)->Valid(); (*it)->Next()) seen.emplace_back((*it)->value());
    EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"})) << sub;
  }
}

TEST(Backup, AMemoryDatabaseIsRefusedWithTheWayOut) {
  DatabaseOptions o;
  o.disc_copies = false;
  o.dir = "backup-of-memory";
  auto db = Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE((*(*db)->OpenStore("r"))->Save("wf", "log").ok());
  test::TempDir tmp;
  Status s = (*db)->Backup(tmp.Sub("backup"));
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("runic migrate"), std::string::npos) << s.ToString();
  EXPECT_FALSE(fs::exists(tmp.Sub("backup")));
}

// A read-only database backs up the data of the process that holds and
// writes it: each backup opens, and holds at least what was acknowledged
// before Backup was called (a backup catches up with the owner first).
TEST(ReadOnly, BackupWhileAnotherProcessHoldsAndWrites) {
  constexpr const char* kRunner = "durability";  // the runner append_helper writes
  test::TempDir tmp;
  const std::string dir = tmp.Sub("db");
  AppendRounds helper(dir, 3, 40);
  ASSERT_TRUE(helper.Ready());
  ASSERT_TRUE(helper.Round());
  auto db = Database::Open(ReadOnly(dir));
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  ASSERT_TRUE(helper.Round());  // acknowledged after Open, before any Refresh

  // (backup directory, what was acknowledged before its Backup was called)
  std::vector<std::pair<std::string, std::map<std::string, std::uint64_t>>> backups;
  auto backup = [&] {
    const std::string dest = tmp.Sub("backup-" + std::to_string(backups.size()));
    const std::map<std::string, std::uint64_t> floor = helper.acked();
    Status s = (*db)->Backup(dest);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (s.ok()) backups.emplace_back(dest, floor);
  };
  {
    // Not while a stream of the database is open: its view would move.
    auto store = (*db)->OpenStore(kRunner);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    Result<std::unique_ptr<EventIterator>> it = (*store)->Stream(helper.acked().begin()->first);
    ASSERT_TRUE(it.ok()) << it.status().ToString();
    Status busy = (*db)->Backup(tmp.Sub("busy"));
    EXPECT_EQ(busy.code(), Status::Code::kUnavailable) << busy.ToString();
    EXPECT_FALSE(fs::exists(tmp.Sub("busy")));
  }
  backup();
  // While the helper appends.
  int acks = 0;
  ASSERT_TRUE(helper.Round([&] {
    if (++acks % 12 == 1) backup();
  }));
  EXPECT_EQ(acks, 40);  // so four backups during the round
  ASSERT_TRUE(helper.Round());
  backup();
  // The owner closes the database (flushing it, and deleting its WALs).
  ASSERT_TRUE(helper.Finish());
  backup();
  ASSERT_EQ(backups.size(), 7u);

  int before_the_end = 0;
  for (const auto& [dest, floor] : backups) {
    auto copy = Database::Open(Disk(dest));
    ASSERT_TRUE(copy.ok()) << dest << ": " << copy.status().ToString();
    EXPECT_EQ(*(*copy)->ListRunners(), std::vector<std::string>{kRunner});
    auto store = (*copy)->OpenStore(kRunner);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (const auto& [id, cursor] : VerifiedHelperCursors(**store, helper.acked())) {
      EXPECT_GE(cursor, floor.at(id)) << dest << " " << test::EscapeId(id) << ": an acknowledged append is missing";
      EXPECT_LE(cursor, helper.acked().at(id)) << dest;
      if (cursor < helper.acked().at(id)) ++before_the_end;
    }
  }
  EXPECT_GT(before_the_end, 0) << "no backup was taken before the last appends";
  // The last backup, of a database no one writes, has all of it.
  auto last = Database::Open(Disk(backups.back().first));
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(VerifiedHelperCursors(**(*last)->OpenStore(kRunner), helper.acked()), helper.acked());
}

}  // namespace
}  // namespace runic
