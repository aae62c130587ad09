// The store contract, as every engine must honour it. A new engine is added
// by adding its options to kEngines below and passing this suite.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "runic/runic.h"
#include "test_util.h"

namespace runic {
namespace {

struct EngineCase {
  const char* name;
  bool disc_copies;
  bool sync;
};

// Names the case in test listings (ctest shows GetParam()).
void PrintTo(const EngineCase& c, std::ostream* os) { *os << c.name; }

constexpr EngineCase kEngines[] = {
    {"memory", false, false},
    {"disk", true, false},
    {"disk_sync", true, true},
};

class StoreConformance : public ::testing::TestWithParam<EngineCase> {
 protected:
  void SetUp() override { Reopen(); }

  DatabaseOptions Options() const {
    DatabaseOptions o;
    o.disc_copies = GetParam().disc_copies;
    o.sync = GetParam().sync;
    o.dir = GetParam().disc_copies ? dir_.Sub("db") : dir_.path();  // memory: a unique name
    return o;
  }

  // Releases every handle (closing the database) and opens it again. For the
  // memory engine this is a fresh, empty database.
  void Reopen() {
    store_.reset();
    db_.reset();
    Result<std::shared_ptr<Database>> db = Database::Open(Options());
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    store_ = OpenStore("runner");
  }

  std::unique_ptr<Store> OpenStore(std::string_view runner) {
    Result<std::unique_ptr<Store>> s = db_->OpenStore(runner);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // Every event of `id` after `after`, checking order and contiguity.
  std::vector<std::string> StreamAll(Store& store, std::string_view id, std::uint64_t after = 0) {
    Result<std::unique_ptr<EventIterator>> it = store.Stream(id, {after});
    EXPECT_TRUE(it.ok()) << it.status().ToString();
    std::vector<std::string> out;
    if (!it.ok()) return out;
    std::uint64_t expected = after + 1;
    for (; (*it)->Valid(); (*it)->Next()) {
      EXPECT_EQ((*it)->sequence(), expected++);
      out.emplace_back((*it)->value());
    }
    EXPECT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
    return out;
  }

  std::vector<std::string> Ids(const ListOptions& options = {}) {
    Result<ListPage> page = store_->List(options);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->ids : std::vector<std::string>{};
  }

  bool durable() const { return GetParam().disc_copies; }

  test::TempDir dir_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<Store> store_;
};

// --- The seed adapter's checks ------------------------------------------------

TEST_P(StoreConformance, CreatingTablesTwiceIsNotAnError) {
  auto again = OpenStore("runner");
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(store_->Save("wf", "log").ok());
  EXPECT_EQ(again->Load("wf")->log, "log");
}

TEST_P(StoreConformance, DataSurvivesClosingAndReopeningTheStoreHandle) {
  ASSERT_TRUE(store_->Save("wf", "log").ok());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"e1"}).ok());
  store_.reset();
  store_ = OpenStore("runner");
  EXPECT_EQ(store_->Load("wf")->log, "log");
  EXPECT_EQ(StreamAll(*store_, "wf"), std::vector<std::string>{"e1"});
}

TEST_P(StoreConformance, DataSurvivesReopeningTheDatabaseOnDisk) {
  if (!durable()) GTEST_SKIP() << "a memory database is gone when it closes";
  ASSERT_TRUE(store_->Save("wf", "log").ok());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"e1", "e2"}).ok());
  ASSERT_TRUE(store_->SaveSnapshot("wf", 1, "snap").ok());
  ASSERT_TRUE(store_->SaveFact("h", "fact").ok());
  Reopen();
  EXPECT_EQ(store_->Load("wf")->log, "log");
  EXPECT_EQ(StreamAll(*store_, "wf"), (std::vector<std::string>{"e1", "e2"}));
  EXPECT_EQ(store_->LoadSnapshot("wf")->bytes, "snap");
  EXPECT_EQ(*store_->LoadFact("h"), "fact");
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"e3"}), 3u);
}

TEST_P(StoreConformance, SaveLoadRoundTripWithUpdatedAt) {
  const auto before = std::chrono::system_clock::now();
  std::string log("\0binary\xff log", 12);
  ASSERT_TRUE(store_->Save("wf", log).ok());
  Result<LogRecord> rec = store_->Load("wf");
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->log, log);
  EXPECT_GE(rec->updated_at, before - std::chrono::seconds(1));
  EXPECT_LE(rec->updated_at, std::chrono::system_clock::now() + std::chrono::seconds(1));
}

TEST_P(StoreConformance, LoadOfUnknownIdIsNotFound) {
  Result<LogRecord> rec = store_->Load("nope");
  ASSERT_FALSE(rec.ok());
  EXPECT_TRUE(rec.status().IsNotFound()) << rec.status().ToString();
}

TEST_P(StoreConformance, SaveOverwrites) {
  ASSERT_TRUE(store_->Save("wf", "one").ok());
  ASSERT_TRUE(store_->Save("wf", "two").ok());
  EXPECT_EQ(store_->Load("wf")->log, "two");
}

TEST_P(StoreConformance, CheckpointBehavesAsSave) {
  ASSERT_TRUE(store_->Checkpoint("wf", "one").ok());
  EXPECT_EQ(store_->Load("wf")->log, "one");
  ASSERT_TRUE(store_->Checkpoint("wf", "two").ok());
  EXPECT_EQ(store_->Load("wf")->log, "two");
  EXPECT_TRUE(*store_->Exists("wf"));
}

TEST_P(StoreConformance, DeleteRemovesEverythingAndMissingIdIsFine) {
  ASSERT_TRUE(store_->Save("wf", "log").ok());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"a", "b"}).ok());
  ASSERT_TRUE(store_->SaveSnapshot("wf", 2, "snap").ok());
  ASSERT_TRUE(store_->Delete("wf").ok());
  EXPECT_TRUE(store_->Load("wf").status().IsNotFound());
  EXPECT_TRUE(store_->Stream("wf").status().IsNotFound());
  EXPECT_TRUE(store_->LoadSnapshot("wf").status().IsNotFound());
  EXPECT_FALSE(*store_->Exists("wf"));
  EXPECT_TRUE(Ids().empty());
  EXPECT_TRUE(store_->Delete("wf").ok());
  EXPECT_TRUE(store_->Delete("never-existed").ok());
}

TEST_P(StoreConformance, ListOnEmptyAndSeveralIdsIncludingEventsOnly) {
  EXPECT_TRUE(Ids().empty());
  ASSERT_TRUE(store_->Save("b", "log").ok());
  ASSERT_TRUE(store_->Save("a", "log").ok());
  ASSERT_TRUE(store_->Append("c-events-only", std::vector<std::string>{"e"}).ok());
  ASSERT_TRUE(store_->Save("d", "log").ok());
  ASSERT_TRUE(store_->Append("d", std::vector<std::string>{"e"}).ok());
  EXPECT_EQ(Ids(), (std::vector<std::string>{"a", "b", "c-events-only", "d"}));
}

TEST_P(StoreConformance, ListByPrefixInPages) {
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(store_->Save("order-" + std::to_string(100 + i), "l").ok());
  ASSERT_TRUE(store_->Append("order-200", std::vector<std::string>{"e"}).ok());
  ASSERT_TRUE(store_->Save("other", "l").ok());
  ASSERT_TRUE(store_->Save("orde", "l").ok());
  ASSERT_TRUE(store_->Save("order-", "the prefix itself").ok());
  std::vector<std::string> all;
  ListOptions options;
  options.prefix = "order-";
  options.limit = 7;
  for (int page = 0; page < 10; ++page) {
    Result<ListPage> p = store_->List(options);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    all.insert(all.end(), p->ids.begin(), p->ids.end());
    if (!p->more) break;
    options.start_after = p->ids.back();
  }
  ASSERT_EQ(all.size(), 27u);
  EXPECT_EQ(all.front(), "order-");
  EXPECT_EQ(all[1], "order-100");
  EXPECT_EQ(all.back(), "order-200");
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));
  // One id per page: every page moves on, even from an id equal to the prefix.
  options.start_after.clear();
  options.limit = 1;
  std::vector<std::string> one_by_one;
  for (int page = 0; page < 40; ++page) {
    Result<ListPage> p = store_->List(options);
    ASSERT_TRUE(p.ok());
    one_by_one.insert(one_by_one.end(), p->ids.begin(), p->ids.end());
    if (!p->more) break;
    options.start_after = p->ids.back();
  }
  EXPECT_EQ(one_by_one, all);
}

TEST_P(StoreConformance, ExistsIsTrueForALogOrACounter) {
  EXPECT_FALSE(*store_->Exists("wf"));
  ASSERT_TRUE(store_->Save("wf", "log").ok());
  EXPECT_TRUE(*store_->Exists("wf"));
  ASSERT_TRUE(store_->Append("ev", std::vector<std::string>{"e"}).ok());
  EXPECT_TRUE(*store_->Exists("ev"));
  EXPECT_FALSE(*store_->Exists("other"));
}

TEST_P(StoreConformance, FactsRoundTripNotFoundOverwriteAndIndependence) {
  EXPECT_TRUE(store_->LoadFact("h1").status().IsNotFound());
  ASSERT_TRUE(store_->SaveFact("h1", "v1").ok());
  ASSERT_TRUE(store_->SaveFact("h2", "v2").ok());
  EXPECT_EQ(*store_->LoadFact("h1"), "v1");
  ASSERT_TRUE(store_->SaveFact("h1", "v1b").ok());
  EXPECT_EQ(*store_->LoadFact("h1"), "v1b");
  EXPECT_EQ(*store_->LoadFact("h2"), "v2");
  // Facts are not workflows, and deleting a workflow keeps them.
  ASSERT_TRUE(store_->Save("h1", "a log").ok());
  ASSERT_TRUE(store_->Delete("h1").ok());
  EXPECT_EQ(*store_->LoadFact("h1"), "v1b");
  EXPECT_EQ(Ids(), std::vector<std::string>{});
  // Another runner does not see them.
  auto other = OpenStore("other-runner");
  EXPECT_TRUE(other->LoadFact("h1").status().IsNotFound());
  ASSERT_TRUE(store_->DeleteFact("h1").ok());
  EXPECT_TRUE(store_->LoadFact("h1").status().IsNotFound());
  EXPECT_TRUE(store_->DeleteFact("h1").ok());
}

TEST_P(StoreConformance, TwentyFourThreadsWritingDistinctIds) {
  constexpr int kThreads = 24, kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        if (!store_->Save(id, "log-" + id).ok()) ++failures;
        if (!store_->Append(id, std::vector<std::string>{"e-" + id}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  ListOptions all;
  all.limit = 10000;
  EXPECT_EQ(Ids(all).size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (int t = 0; t < kThreads; ++t) {
    const std::string id = "t" + std::to_string(t) + "-7";
    EXPECT_EQ(store_->Load(id)->log, "log-" + id);
    EXPECT_EQ(StreamAll(*store_, id), std::vector<std::string>{"e-" + id});
  }
}

TEST_P(StoreConformance, ReadAfterWriteFromAnotherThread) {
  for (int i = 0; i < 50; ++i) {
    const std::string value = "v" + std::to_string(i);
    ASSERT_TRUE(store_->Save("wf", value).ok());
    ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{value}).ok());
    std::string seen_log, seen_event;
    std::thread reader([&] {
      seen_log = store_->Load("wf")->log;
      seen_event = StreamAll(*store_, "wf").back();
    });
    reader.join();
    EXPECT_EQ(seen_log, value);
    EXPECT_EQ(seen_event, value);
  }
}

// --- Streams -------------------------------------------------------------------

TEST_P(StoreConformance, AppendReturnsTheNewCursorFromOne) {
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"a"}), 1u);
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"b", "c"}), 3u);
  EXPECT_EQ(*store_->Append("other", std::vector<std::string>{"x"}), 1u);
  EXPECT_EQ(StreamAll(*store_, "wf"), (std::vector<std::string>{"a", "b", "c"}));
}

TEST_P(StoreConformance, StreamAfterACursor) {
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"a", "b", "c", "d"}).ok());
  EXPECT_EQ(StreamAll(*store_, "wf", 2), (std::vector<std::string>{"c", "d"}));
  EXPECT_TRUE(StreamAll(*store_, "wf", 4).empty());
  EXPECT_TRUE(StreamAll(*store_, "wf", 99).empty());
}

TEST_P(StoreConformance, StreamOfUnknownIdIsNotFound) {
  EXPECT_TRUE(store_->Stream("nope").status().IsNotFound());
  ASSERT_TRUE(store_->Save("log-only", "l").ok());
  EXPECT_TRUE(store_->Stream("log-only").status().IsNotFound());
}

TEST_P(StoreConformance, EmptyBatchIsInvalidAndWritesNothing) {
  Result<std::uint64_t> r = store_->Append("wf", std::vector<std::string>{});
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_FALSE(*store_->Exists("wf"));
}

TEST_P(StoreConformance, ExpectedCursorConflictWritesNothing) {
  AppendOptions expect0;
  expect0.expected_cursor = 0;
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"a"}, expect0), 1u);
  Result<std::uint64_t> r = store_->Append("wf", std::vector<std::string>{"b"}, expect0);
  EXPECT_TRUE(r.status().IsConflict()) << r.status().ToString();
  AppendOptions expect1;
  expect1.expected_cursor = 1;
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"c"}, expect1), 2u);
  EXPECT_EQ(StreamAll(*store_, "wf"), (std::vector<std::string>{"a", "c"}));
  AppendOptions expect5;
  expect5.expected_cursor = 5;
  EXPECT_TRUE(store_->Append("new", std::vector<std::string>{"x"}, expect5).status().IsConflict());
  EXPECT_FALSE(*store_->Exists("new"));
}

TEST_P(StoreConformance, AppendSavesItsFactsInTheSameWrite) {
  AppendOptions with_facts;
  with_facts.facts = {{"h1", "value one"}, {"h2", "value two"}};
  ASSERT_TRUE(store_->SaveFact("h1", "stale").ok());
  ASSERT_TRUE(store_->LoadFact("h1").ok());  // cached, where there is a cache
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"e1"}, with_facts), 1u);
  EXPECT_EQ(*store_->LoadFact("h1"), "value one");
  EXPECT_EQ(*store_->LoadFact("h2"), "value two");
  // A conflict writes neither the events nor the facts.
  AppendOptions conflicting;
  conflicting.expected_cursor = 7;
  conflicting.facts = {{"h3", "never"}};
  EXPECT_TRUE(store_->Append("wf", std::vector<std::string>{"e2"}, conflicting).status().IsConflict());
  EXPECT_TRUE(store_->LoadFact("h3").status().IsNotFound());
  // Facts count against the batch limits, and bad ones are refused.
  const StoreLimits& lim = store_->limits();
  AppendOptions too_many;
  std::vector<std::string> hashes;
  for (std::size_t i = 0; i < lim.max_batch_events; ++i) hashes.push_back("f" + std::to_string(i));
  for (const std::string& h : hashes) too_many.facts.emplace_back(h, "v");
  EXPECT_TRUE(store_->Append("wf", std::vector<std::string>{"e"}, too_many).status().IsInvalidArgument());
  AppendOptions empty_hash;
  empty_hash.facts = {{"", "v"}};
  EXPECT_TRUE(store_->Append("wf", std::vector<std::string>{"e"}, empty_hash).status().IsInvalidArgument());
  EXPECT_TRUE(store_->LoadFact("f0").status().IsNotFound());
  EXPECT_EQ(StreamAll(*store_, "wf"), std::vector<std::string>{"e1"});
}

// The ids AppendManyFromManyThreadsStaysContiguous appends to.
constexpr const char* kIdNames[] = {"m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7"};

TEST_P(StoreConformance, AppendManyAppliesEachRequestOnItsOwn) {
  ASSERT_EQ(*store_->Append("b", std::vector<std::string>{"b1"}), 1u);
  AppendRequest a{"a", {"a1", "a2"}, {}};
  a.options.expected_cursor = 0;
  a.options.facts = {{"fa", "value a"}};
  AppendRequest b{"b", {"b2"}, {}};
  b.options.expected_cursor = 1;
  AppendRequest c{"c", {"c1"}, {}};
  c.options.expected_cursor = 5;  // a conflict: writes neither its event nor its fact
  c.options.facts = {{"fc", "never"}};
  AppendRequest empty{"d", {}, {}};                 // bad input
  AppendRequest again{"a", {"a3"}, {}};             // an id twice in one call
  AppendRequest big{"e", {std::string_view()}, {}};  // an empty event
  std::vector<AppendRequest> requests = {a, b, c, empty, again, big};
  std::vector<Result<std::uint64_t>> results = store_->AppendMany(requests);
  ASSERT_EQ(results.size(), requests.size());
  ASSERT_TRUE(results[0].ok()) << results[0].status().ToString();
  EXPECT_EQ(*results[0], 2u);
  ASSERT_TRUE(results[1].ok()) << results[1].status().ToString();
  EXPECT_EQ(*results[1], 2u);
  EXPECT_TRUE(results[2].status().IsConflict()) << results[2].status().ToString();
  EXPECT_TRUE(results[3].status().IsInvalidArgument());
  EXPECT_TRUE(results[4].status().IsInvalidArgument());
  EXPECT_NE(results[4].status().message().find("twice"), std::string::npos);
  EXPECT_TRUE(results[5].status().IsInvalidArgument());

  EXPECT_EQ(StreamAll(*store_, "a"), (std::vector<std::string>{"a1", "a2"}));
  EXPECT_EQ(StreamAll(*store_, "b"), (std::vector<std::string>{"b1", "b2"}));
  EXPECT_EQ(*store_->LoadFact("fa"), "value a");
  EXPECT_TRUE(store_->LoadFact("fc").status().IsNotFound());
  for (const char* id : {"c", "d", "e"}) EXPECT_FALSE(*store_->Exists(id)) << id;
  EXPECT_TRUE(store_->AppendMany({}).empty());
}

TEST_P(StoreConformance, AppendManyFromManyThreadsStaysContiguous) {
  constexpr int kThreads = 4, kRounds = 50, kIds = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        // Every thread appends to every id, in a different order each time.
        std::vector<std::string> events;
        std::vector<AppendRequest> requests;
        for (int k = 0; k < kIds; ++k) events.push_back("t" + std::to_string(t) + "r" + std::to_string(r));
        for (int k = 0; k < kIds; ++k) {
          const int id = (k + t + r) % kIds;
          requests.push_back({std::string_view(kIdNames[id]), {events[static_cast<std::size_t>(k)]}, {}});
        }
        for (const Result<std::uint64_t>& res : store_->AppendMany(requests)) failures += res.ok() ? 0 : 1;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  for (int k = 0; k < kIds; ++k) {
    EXPECT_EQ(StreamAll(*store_, kIdNames[k]).size(), static_cast<std::size_t>(kThreads * kRounds));
  }
}

// W7 of WORKLOADS.md, smaller: 8 threads appending to the same 8 workflows.
TEST_P(StoreConformance, ContendedAppendsStayContiguous) {
  constexpr int kThreads = 8, kAppends = 200, kBatch = 10;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kAppends; ++i) {
        const std::string id = "wf" + std::to_string(rng() % 8);
        std::vector<std::string> batch;
        for (int e = 0; e < kBatch; ++e) batch.push_back(std::to_string(t) + ":" + std::to_string(i) + ":" + std::to_string(e));
        if (!store_->Append(id, batch).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  std::size_t total = 0;
  for (int w = 0; w < 8; ++w) {
    std::vector<std::string> events = StreamAll(*store_, "wf" + std::to_string(w));  // checks contiguity
    ASSERT_EQ(events.size() % kBatch, 0u);
    for (std::size_t i = 0; i < events.size(); i += kBatch) {  // batches never interleave
      const std::string origin = events[i].substr(0, events[i].rfind(':'));
      for (int e = 0; e < kBatch; ++e) EXPECT_EQ(events[i + e], origin + ":" + std::to_string(e));
    }
    total += events.size();
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kThreads * kAppends * kBatch));
}

TEST_P(StoreConformance, ConcurrentReaderNeverSeesAPartialBatch) {
  constexpr int kBatch = 50, kAppends = 200;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>(kBatch, "x")).ok());
  std::thread reader([&] {
    for (int i = 0; i < 100000 && !done.load(); ++i) {
      Result<std::unique_ptr<EventIterator>> it = store_->Stream("wf");
      if (!it.ok()) {
        ++bad;
        continue;
      }
      std::uint64_t n = 0;
      for (; (*it)->Valid(); (*it)->Next()) ++n;
      if (!(*it)->status().ok() || n % kBatch != 0) ++bad;
      ++reads;
    }
  });
  // Keep appending until the reader has read a while (bounded either way).
  for (int i = 0; i < 50 * kAppends && (i < kAppends || reads.load() < 100); ++i) {
    ASSERT_TRUE(store_->Append("wf", std::vector<std::string>(kBatch, "x")).ok());
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(reads.load(), 0);
}

TEST_P(StoreConformance, StreamOpenedBeforeAnAppendDoesNotSeeIt) {
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"a", "b"}).ok());
  Result<std::unique_ptr<EventIterator>> it = store_->Stream("wf");
  ASSERT_TRUE(it.ok());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"c"}).ok());
  ASSERT_TRUE(store_->Trim("wf", 1).ok());
  std::vector<std::string> seen;
  for (; (*it)->Valid(); (*it)->Next()) seen.emplace_back((*it)->value());
  EXPECT_TRUE((*it)->status().ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
}

TEST_P(StoreConformance, StreamKeepsItsViewAcrossDelete) {
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"a", "b"}).ok());
  Result<std::unique_ptr<EventIterator>> it = store_->Stream("wf");
  ASSERT_TRUE(it.ok());
  ASSERT_TRUE(store_->Delete("wf").ok());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"new"}).ok());
  std::vector<std::string> seen;
  for (; (*it)->Valid(); (*it)->Next()) seen.emplace_back((*it)->value());
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b"}));
}

TEST_P(StoreConformance, StreamingAMillionEventsUsesConstantMemory) {
  constexpr int kBatches = 1000, kBatch = 1000;
  std::vector<std::string> batch(kBatch, std::string(16, 'e'));
  for (int i = 0; i < kBatches; ++i) ASSERT_TRUE(store_->Append("big", batch).ok());
  const std::uint64_t before = test::CurrentRssBytes();
  Result<std::unique_ptr<EventIterator>> it = store_->Stream("big");
  ASSERT_TRUE(it.ok());
  std::uint64_t n = 0, peak = before;
  for (; (*it)->Valid(); (*it)->Next()) {
    if (++n % 100000 == 0) peak = std::max(peak, test::CurrentRssBytes());
  }
  ASSERT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
  EXPECT_EQ(n, static_cast<std::uint64_t>(kBatches) * kBatch);
  EXPECT_LT(peak - before, std::uint64_t{32} << 20) << "streaming grew RSS by " << ((peak - before) >> 20) << " MiB";
}

TEST_P(StoreConformance, TrimAndItsEdgeCases) {
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"1", "2", "3", "4", "5"}).ok());
  EXPECT_TRUE(store_->Trim("nope", 1).IsNotFound());
  EXPECT_TRUE(store_->Trim("wf", 6).IsInvalidArgument());
  ASSERT_TRUE(store_->Trim("wf", 0).ok());
  EXPECT_EQ(StreamAll(*store_, "wf").size(), 5u);
  ASSERT_TRUE(store_->Trim("wf", 3).ok());
  ASSERT_TRUE(store_->Trim("wf", 3).ok());  // idempotent
  ASSERT_TRUE(store_->Trim("wf", 2).ok());  // lower: no-op
  Result<std::unique_ptr<EventIterator>> from_start = store_->Stream("wf");
  ASSERT_TRUE(from_start.status().IsTrimmed()) << from_start.status().ToString();
  EXPECT_EQ(from_start.status().first_kept_sequence(), 4u);
  EXPECT_TRUE(store_->Stream("wf", {2}).status().IsTrimmed());
  EXPECT_EQ(StreamAll(*store_, "wf", 3), (std::vector<std::string>{"4", "5"}));
  // The counter never goes down.
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"6"}), 6u);
  ASSERT_TRUE(store_->Trim("wf", 6).ok());  // everything
  EXPECT_TRUE(StreamAll(*store_, "wf", 6).empty());
  EXPECT_EQ(store_->Stream("wf").status().first_kept_sequence(), 7u);
  EXPECT_TRUE(*store_->Exists("wf"));
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"7"}), 7u);
  EXPECT_EQ(StreamAll(*store_, "wf", 6), std::vector<std::string>{"7"});
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->events, 1u);
}

TEST_P(StoreConformance, TrimAcrossManyEventsKeepsTheRest) {
  std::vector<std::string> batch;
  for (int i = 1; i <= 1000; ++i) batch.push_back(std::to_string(i));
  ASSERT_TRUE(store_->Append("wf", batch).ok());
  ASSERT_TRUE(store_->Trim("wf", 129).ok());
  ASSERT_TRUE(store_->Trim("wf", 640).ok());
  std::vector<std::string> rest = StreamAll(*store_, "wf", 640);
  ASSERT_EQ(rest.size(), 360u);
  EXPECT_EQ(rest.front(), "641");
  EXPECT_EQ(rest.back(), "1000");
}

TEST_P(StoreConformance, DeleteThenAppendStartsAgainAtOne) {
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"old1", "old2", "old3"}).ok());
  ASSERT_TRUE(store_->Trim("wf", 1).ok());
  ASSERT_TRUE(store_->Delete("wf").ok());
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"new1"}), 1u);
  EXPECT_EQ(StreamAll(*store_, "wf"), std::vector<std::string>{"new1"});
  if (durable()) {
    Reopen();
    EXPECT_EQ(StreamAll(*store_, "wf"), std::vector<std::string>{"new1"});
    EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"new2"}), 2u);
    EXPECT_EQ(StreamAll(*store_, "wf"), (std::vector<std::string>{"new1", "new2"}));
  }
}

// --- Snapshots -----------------------------------------------------------------

TEST_P(StoreConformance, SnapshotSaveLoadOverwrite) {
  EXPECT_TRUE(store_->LoadSnapshot("wf").status().IsNotFound());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"a", "b", "c"}).ok());
  ASSERT_TRUE(store_->SaveSnapshot("wf", 2, "state@2").ok());
  Result<Snapshot> snap = store_->LoadSnapshot("wf");
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->cursor, 2u);
  EXPECT_EQ(snap->bytes, "state@2");
  ASSERT_TRUE(store_->SaveSnapshot("wf", 3, "state@3").ok());
  EXPECT_EQ(store_->LoadSnapshot("wf")->cursor, 3u);
  EXPECT_EQ(store_->LoadSnapshot("wf")->bytes, "state@3");
}

TEST_P(StoreConformance, SnapshotCursorAboveTheCounterIsRefused) {
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"a"}).ok());
  EXPECT_TRUE(store_->SaveSnapshot("wf", 2, "s").IsInvalidArgument());
  EXPECT_TRUE(store_->SaveSnapshot("none", 1, "s").IsInvalidArgument());
  EXPECT_TRUE(store_->LoadSnapshot("wf").status().IsNotFound());
}

TEST_P(StoreConformance, SnapshotIsDeletedWithTheWorkflow) {
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"a"}).ok());
  ASSERT_TRUE(store_->SaveSnapshot("wf", 1, "s").ok());
  ASSERT_TRUE(store_->Delete("wf").ok());
  EXPECT_TRUE(store_->LoadSnapshot("wf").status().IsNotFound());
}

// --- Isolation of runners and ids --------------------------------------------

TEST_P(StoreConformance, RunnersWithPrefixNamesNeverCollide) {
  auto a = OpenStore("a");
  auto ab = OpenStore("ab");
  ASSERT_TRUE(a->Save("bc", "from a").ok());
  ASSERT_TRUE(ab->Save("c", "from ab").ok());
  ASSERT_TRUE(a->Append("bc", std::vector<std::string>{"a-event"}).ok());
  ASSERT_TRUE(ab->Append("c", std::vector<std::string>{"ab-event"}).ok());
  ASSERT_TRUE(a->SaveFact("bc", "fa").ok());
  EXPECT_TRUE(ab->Load("bc").status().IsNotFound());
  EXPECT_TRUE(a->Load("c").status().IsNotFound());
  EXPECT_TRUE(ab->LoadFact("c").status().IsNotFound());
  EXPECT_EQ(a->List()->ids, std::vector<std::string>{"bc"});
  EXPECT_EQ(ab->List()->ids, std::vector<std::string>{"c"});
  EXPECT_EQ(StreamAll(*a, "bc"), std::vector<std::string>{"a-event"});
  EXPECT_EQ(StreamAll(*ab, "c"), std::vector<std::string>{"ab-event"});
  ASSERT_TRUE(a->Delete("bc").ok());
  EXPECT_EQ(StreamAll(*ab, "c"), std::vector<std::string>{"ab-event"});
}

TEST_P(StoreConformance, IdsWithSeparatorBytesNeverCollide) {
  const std::vector<std::string> ids = {
      std::string("a"), std::string("a\0", 2), std::string("a\0\x01", 3), std::string("a\0\xff", 3),
      std::string("a\x01", 2), std::string("a\xff", 2), std::string("\0", 1), std::string("a/b"), std::string("a:b")};
  for (const std::string& id : ids) {
    ASSERT_TRUE(store_->Save(id, "log:" + id).ok());
    ASSERT_TRUE(store_->Append(id, std::vector<std::string>{"ev:" + id}).ok());
  }
  for (const std::string& id : ids) {
    EXPECT_EQ(store_->Load(id)->log, "log:" + id);
    EXPECT_EQ(StreamAll(*store_, id), std::vector<std::string>{"ev:" + id});
  }
  std::vector<std::string> sorted = ids;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(Ids(), sorted);
  ListOptions prefixed;
  prefixed.prefix = std::string("a\0", 2);
  EXPECT_EQ(Ids(prefixed), (std::vector<std::string>{std::string("a\0", 2), std::string("a\0\x01", 3),
                                                    std::string("a\0\xff", 3)}));
  ASSERT_TRUE(store_->Delete("a").ok());
  for (const std::string& id : ids) {
    if (id != "a") {
      EXPECT_EQ(StreamAll(*store_, id), std::vector<std::string>{"ev:" + id});
    }
  }
}

// --- Bad input -----------------------------------------------------------------

TEST_P(StoreConformance, BadInputIsRefusedAndWritesNothing) {
  const StoreLimits& lim = store_->limits();
  const std::string long_id(lim.max_id_bytes + 1, 'i');
  const std::string big(lim.max_value_bytes + 1, 'v');
  EXPECT_TRUE(store_->Save("", "log").IsInvalidArgument());
  EXPECT_TRUE(store_->Save(long_id, "log").IsInvalidArgument());
  EXPECT_TRUE(store_->Save("wf", "").IsInvalidArgument());
  EXPECT_TRUE(store_->Save("wf", big).IsInvalidArgument());
  EXPECT_TRUE(store_->Append("", std::vector<std::string>{"e"}).status().IsInvalidArgument());
  EXPECT_TRUE(store_->Append("wf", std::vector<std::string>{""}).status().IsInvalidArgument());
  EXPECT_TRUE(store_->Append("wf", std::vector<std::string>{big}).status().IsInvalidArgument());
  EXPECT_TRUE(
      store_->Append("wf", std::vector<std::string>(lim.max_batch_events + 1, "e")).status().IsInvalidArgument());
  EXPECT_TRUE(store_->Append("wf", std::vector<std::string>{"ok", std::string(lim.max_batch_bytes, 'x')})
                  .status()
                  .IsInvalidArgument());
  EXPECT_TRUE(store_->SaveSnapshot("wf", 0, "").IsInvalidArgument());
  EXPECT_TRUE(store_->SaveFact("", "v").IsInvalidArgument());
  EXPECT_TRUE(store_->SaveFact("h", big).IsInvalidArgument());
  EXPECT_TRUE(store_->Load(long_id).status().IsInvalidArgument());
  ListOptions zero;
  zero.limit = 0;
  EXPECT_TRUE(store_->List(zero).status().IsInvalidArgument());
  EXPECT_TRUE(db_->OpenStore("").status().IsInvalidArgument());
  EXPECT_TRUE(db_->OpenStore(std::string(lim.max_runner_name_bytes + 1, 'r')).status().IsInvalidArgument());
  // Nothing was written, and the store still works.
  EXPECT_TRUE(Ids().empty());
  EXPECT_TRUE(store_->LoadFact("h").status().IsNotFound());
  // At the limits exactly, it works.
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>(lim.max_batch_events, "e")), lim.max_batch_events);
  EXPECT_TRUE(store_->Save(std::string(lim.max_id_bytes, 'i'), std::string(lim.max_value_bytes, 'v')).ok());
}

// --- Telemetry and stats ---------------------------------------------------------

TEST_P(StoreConformance, TelemetrySeesEveryOperationAndItsExceptionsAreContained) {
  std::vector<std::string> seen;
  std::mutex mu;
  StoreOptions options;
  options.telemetry.on_start = [&](const StoreOpEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back(std::string("start ") + StoreOpName(e.op) + " " + std::string(e.id));
    throw std::runtime_error("telemetry bug");  // must not escape
  };
  options.telemetry.on_stop = [&](const StoreOpEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back(std::string("stop ") + StoreOpName(e.op) + " " + std::to_string(e.bytes));
  };
  options.telemetry.on_exception = [&](const StoreOpEvent& e) {
    std::lock_guard lock(mu);
    seen.push_back(std::string("exception ") + StoreOpName(e.op) + " " + Status::CodeName(e.status->code()));
  };
  Result<std::unique_ptr<Store>> store = db_->OpenStore("telemetry", options);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->Save("wf", "12345").ok());
  ASSERT_TRUE((*store)->Load("wf").ok());
  EXPECT_TRUE((*store)->Append("wf", std::vector<std::string>{}).status().IsInvalidArgument());
  EXPECT_TRUE((*store)->LoadFact("x").status().IsNotFound());
  const std::vector<AppendRequest> two = {{"w1", {"abc"}, {}}, {"w2", {"de"}, {}}};
  for (const Result<std::uint64_t>& r : (*store)->AppendMany(two)) EXPECT_TRUE(r.ok());
  const std::vector<AppendRequest> bad = {{"w1", {}, {}}};
  EXPECT_TRUE((*store)->AppendMany(bad)[0].status().IsInvalidArgument());
  EXPECT_EQ(seen, (std::vector<std::string>{"start save wf", "stop save 5", "start load wf", "stop load 5",
                                            "start append wf", "exception append InvalidArgument",
                                            "start load_fact x", "stop load_fact 0", "start append_many ",
                                            "stop append_many 5", "start append_many ",
                                            "exception append_many InvalidArgument"}));
}

TEST_P(StoreConformance, StatsCountTheTables) {
  ASSERT_TRUE(store_->Save("a", "12345").ok());
  ASSERT_TRUE(store_->Append("a", std::vector<std::string>{"12", "345"}).ok());
  ASSERT_TRUE(store_->Append("b", std::vector<std::string>{"1"}).ok());
  ASSERT_TRUE(store_->SaveSnapshot("a", 1, "snap").ok());
  ASSERT_TRUE(store_->SaveFact("f", "fact").ok());
  Result<StoreStats> s = store_->Stats();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->logs, 1u);
  EXPECT_EQ(s->log_bytes, 5u);
  EXPECT_EQ(s->workflows_with_events, 2u);
  EXPECT_EQ(s->events, 3u);
  EXPECT_EQ(s->event_bytes, 6u);
  EXPECT_EQ(s->snapshots, 1u);
  EXPECT_EQ(s->snapshot_bytes, 4u);
  EXPECT_EQ(s->facts, 1u);
  EXPECT_EQ(s->fact_bytes, 4u);
}

// --- Read cache: never a stale value ----------------------------------------------

TEST_P(StoreConformance, LoadsNeverSeeAnOlderValueThanTheLastAcknowledged) {
  std::atomic<int> acknowledged{0};
  std::atomic<bool> done{false};
  std::atomic<int> stale{0};
  std::thread reader([&] {
    for (int i = 0; i < 200000 && !done.load(); ++i) {
      const int floor = acknowledged.load();
      Result<LogRecord> rec = store_->Load("wf");
      if (!rec.ok()) continue;
      if (std::stoi(rec->log) < floor) ++stale;
    }
  });
  for (int v = 1; v <= 300; ++v) {
    ASSERT_TRUE(store_->Save("wf", std::to_string(v)).ok());
    acknowledged = v;
  }
  ASSERT_TRUE(store_->Delete("wf").ok());
  done = true;
  reader.join();
  EXPECT_EQ(stale.load(), 0);
  EXPECT_TRUE(store_->Load("wf").status().IsNotFound());
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreConformance, ::testing::ValuesIn(kEngines),
                         [](const ::testing::TestParamInfo<EngineCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace runic
