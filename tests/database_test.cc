// Databases: naming (options and URIs), identity within a process, runners,
// and the data directory's guards.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "runic/runic.h"
#include "test_util.h"

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

TEST(DatabaseUri, RejectsBadUrisClearly) {
  for (const char* bad : {"", "nonsense", ":x", "ftp://host/x", "disk://host/path", "disk:///x?sync=maybe",
                          "disk:///x?color=red", "disk:///x?sync", "memory:?sync=1", "disk:///x%zz",
                          "disk:///x?read_cache_bytes=-1", "etcd://127.0.0.1:1,127.0.0.1:2"}) {
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

}  // namespace
}  // namespace runic
