// The store contract, as every engine must honour it. A new engine is added
// by adding its options to kEngines (store_conformance.h) and passing this
// suite and store_waits_test.cc's. Built a
// second time with RUNIC_CONFORMANCE_ETCD as etcd_conformance_test, for the
// etcd engine on a 3-member cluster the test starts (one per process).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "runic/runic.h"
#include "store_conformance.h"
#include "test_util.h"

namespace runic {
namespace {

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
  AppendRequest empty{"d", {}, {}};                  // bad input
  AppendRequest again{"a", {"a3"}, {}};              // an id twice in one call
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
        for (int e = 0; e < kBatch; ++e)
          batch.push_back(std::to_string(t) + ":" + std::to_string(i) + ":" + std::to_string(e));
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
  // On etcd fewer but bigger events (a million keys would take minutes to
  // write through Raft): 50 MiB, more than the growth allowed below.
  const std::uint64_t total = GetParam().etcd ? 200'000 : 1'000'000;
  const std::size_t kBatch = std::min<std::size_t>(1000, store_->limits().max_batch_events);
  std::vector<std::string> batch(kBatch, std::string(GetParam().etcd ? 256 : 16, 'e'));
  for (std::uint64_t written = 0; written < total; written += batch.size()) {
    batch.resize(std::min<std::uint64_t>(kBatch, total - written));
    ASSERT_TRUE(store_->Append("big", batch).ok());
  }
  const std::uint64_t before = test::CurrentRssBytes();
  Result<std::unique_ptr<EventIterator>> it = store_->Stream("big");
  ASSERT_TRUE(it.ok());
  std::uint64_t n = 0, peak = before;
  for (; (*it)->Valid(); (*it)->Next()) {
    if (++n % 100000 == 0) peak = std::max(peak, test::CurrentRssBytes());
  }
  ASSERT_TRUE((*it)->status().ok()) << (*it)->status().ToString();
  EXPECT_EQ(n, total);
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed memory in quarantine (256 MiB): RSS then
  // measures the quarantine, not the stream. The Release run checks it.
  (void)peak;
#else
  EXPECT_LT(peak - before, std::uint64_t{32} << 20) << "streaming grew RSS by " << ((peak - before) >> 20) << " MiB";
#endif
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
  for (int i = 1; i <= 1000; ++i) {
    batch.push_back(std::to_string(i));
    if (batch.size() == store_->limits().max_batch_events || i == 1000) {
      ASSERT_TRUE(store_->Append("wf", batch).ok());
      batch.clear();
    }
  }
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
  EXPECT_TRUE(store_->SaveSnapshot("none", 1, "s").IsNotFound());  // no workflow at all
  EXPECT_TRUE(store_->LoadSnapshot("wf").status().IsNotFound());
}

// A snapshot of a workflow that does not exist would be stored where List,
// Exists and Describe never show it (and only Stats counts it): refused.
TEST_P(StoreConformance, SnapshotOfAWorkflowWithNoLogOrEventsIsRefused) {
  Result<StoreStats> before = store_->Stats();
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  Status s = store_->SaveSnapshot("ghost", 0, "state");
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("'ghost'"), std::string::npos) << s.ToString();
  EXPECT_TRUE(store_->LoadSnapshot("ghost").status().IsNotFound());
  EXPECT_FALSE(*store_->Exists("ghost"));
  EXPECT_TRUE(Ids().empty());
  EXPECT_TRUE(store_->Describe("ghost").status().IsNotFound());
  Result<StoreStats> after = store_->Stats();
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->snapshots, before->snapshots);
  EXPECT_EQ(after->snapshot_bytes, before->snapshot_bytes);

  // Once the workflow exists, by an append or by a log alone, it is taken.
  ASSERT_TRUE(store_->Append("ghost", std::vector<std::string>{"e1"}).ok());
  ASSERT_TRUE(store_->SaveSnapshot("ghost", 1, "state").ok());
  EXPECT_EQ(store_->LoadSnapshot("ghost")->bytes, "state");
  ASSERT_TRUE(store_->Save("log-only", "log").ok());
  ASSERT_TRUE(store_->SaveSnapshot("log-only", 0, "s").ok());
  EXPECT_EQ(store_->Stats()->snapshots, before->snapshots + 2);

  // And deleting the workflow makes it refused again.
  ASSERT_TRUE(store_->Delete("ghost").ok());
  EXPECT_TRUE(store_->SaveSnapshot("ghost", 0, "state").IsNotFound());
  EXPECT_EQ(store_->Stats()->snapshots, before->snapshots + 1);
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
  const std::vector<std::string> ids = {std::string("a"),          std::string("a\0", 2),   std::string("a\0\x01", 3),
                                        std::string("a\0\xff", 3), std::string("a\x01", 2), std::string("a\xff", 2),
                                        std::string("\0", 1),      std::string("a/b"),      std::string("a:b")};
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
  EXPECT_EQ(Ids(prefixed),
            (std::vector<std::string>{std::string("a\0", 2), std::string("a\0\x01", 3), std::string("a\0\xff", 3)}));
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

// --- Describe -----------------------------------------------------------------

// The time of a write as stored: engines keep microseconds.
std::chrono::system_clock::time_point Micros(std::chrono::system_clock::time_point t) {
  return std::chrono::floor<std::chrono::microseconds>(t);
}

TEST_P(StoreConformance, DescribeOfAMissingWorkflowIsNotFound) {
  EXPECT_TRUE(store_->Describe("nope").status().IsNotFound()) << store_->Describe("nope").status().ToString();
  // A snapshot alone cannot make a workflow exist: it is refused.
  EXPECT_TRUE(store_->SaveSnapshot("snapshot-only", 0, "s").IsNotFound());
  EXPECT_TRUE(store_->Describe("snapshot-only").status().IsNotFound());
  ASSERT_TRUE(store_->Save("gone", "log").ok());
  ASSERT_TRUE(store_->Append("gone", std::vector<std::string>{"e"}).ok());
  ASSERT_TRUE(store_->Delete("gone").ok());
  EXPECT_TRUE(store_->Describe("gone").status().IsNotFound());
  EXPECT_TRUE(store_->Describe("").status().IsInvalidArgument());
  EXPECT_TRUE(store_->Describe(std::string(store_->limits().max_id_bytes + 1, 'i')).status().IsInvalidArgument());
}

TEST_P(StoreConformance, DescribeSummarisesLogEventsSnapshotAndTrim) {
  ASSERT_TRUE(store_->Save("wf", "log-123").ok());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"a"}).ok());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"bb", "ccc"}).ok());
  const auto before = Micros(std::chrono::system_clock::now());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"dddd", "eeeee"}).ok());
  const auto after = std::chrono::system_clock::now();
  ASSERT_TRUE(store_->SaveSnapshot("wf", 3, "snap!").ok());
  Result<WorkflowSummary> untrimmed = store_->Describe("wf");
  ASSERT_TRUE(untrimmed.ok()) << untrimmed.status().ToString();
  EXPECT_EQ(untrimmed->events, 5u);
  EXPECT_EQ(untrimmed->event_bytes, 15u);
  ASSERT_TRUE(store_->Trim("wf", 3).ok());

  Result<WorkflowSummary> d = store_->Describe("wf");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->cursor, 5u);
  EXPECT_EQ(d->trimmed, 3u);
  EXPECT_EQ(d->events, 2u);
  EXPECT_EQ(d->event_bytes, 9u);  // "dddd" and "eeeee": the trimmed ones no longer count
  EXPECT_TRUE(d->has_log);
  EXPECT_EQ(d->log_bytes, 7u);
  EXPECT_TRUE(d->has_snapshot);
  EXPECT_EQ(d->snapshot_cursor, 3u);
  EXPECT_EQ(d->snapshot_bytes, 5u);
  // The last append set the time; the snapshot and the trim kept it.
  EXPECT_GE(d->updated_at, before);
  EXPECT_LE(d->updated_at, after);
  EXPECT_EQ(d->updated_at, untrimmed->updated_at);

  // Every event trimmed: the counter still says where the stream stands.
  ASSERT_TRUE(store_->Trim("wf", 5).ok());
  d = store_->Describe("wf");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->cursor, 5u);
  EXPECT_EQ(d->trimmed, 5u);
  EXPECT_EQ(d->events, 0u);
  EXPECT_EQ(d->event_bytes, 0u);
  EXPECT_EQ(d->updated_at, untrimmed->updated_at);

  if (durable()) {
    Reopen();
    Result<WorkflowSummary> reopened = store_->Describe("wf");
    ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
    EXPECT_EQ(reopened->cursor, 5u);
    EXPECT_EQ(reopened->log_bytes, 7u);
    EXPECT_EQ(reopened->updated_at, untrimmed->updated_at);
  }
}

TEST_P(StoreConformance, DescribeTimeMovesWithEveryAppendAndSave) {
  ASSERT_TRUE(store_->Save("wf", "log").ok());
  const auto saved = store_->Load("wf")->updated_at;
  EXPECT_EQ(store_->Describe("wf")->updated_at, saved);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  auto before = Micros(std::chrono::system_clock::now());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"e"}).ok());
  auto after = std::chrono::system_clock::now();
  const auto appended = store_->Describe("wf")->updated_at;
  EXPECT_GT(appended, saved);
  EXPECT_GE(appended, before);
  EXPECT_LE(appended, after);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  const std::vector<AppendRequest> many = {{"wf", {"f"}, {}}};
  ASSERT_TRUE(store_->AppendMany(many)[0].ok());
  const auto appended_many = store_->Describe("wf")->updated_at;
  EXPECT_GT(appended_many, appended);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  before = Micros(std::chrono::system_clock::now());
  ASSERT_TRUE(store_->Checkpoint("wf", "log 2").ok());
  after = std::chrono::system_clock::now();
  const auto checkpointed = store_->Describe("wf")->updated_at;
  EXPECT_GT(checkpointed, appended_many);
  EXPECT_GE(checkpointed, before);
  EXPECT_LE(checkpointed, after);
  EXPECT_EQ(checkpointed, store_->Load("wf")->updated_at);
}

TEST_P(StoreConformance, DescribeAnEventsOnlyAndALogOnlyWorkflow) {
  const auto before = Micros(std::chrono::system_clock::now());
  ASSERT_TRUE(store_->Append("events-only", std::vector<std::string>{"x", "yz"}).ok());
  ASSERT_TRUE(store_->Save("log-only", "abc").ok());
  const auto after = std::chrono::system_clock::now();

  Result<WorkflowSummary> e = store_->Describe("events-only");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->cursor, 2u);
  EXPECT_EQ(e->trimmed, 0u);
  EXPECT_EQ(e->events, 2u);
  EXPECT_EQ(e->event_bytes, 3u);
  EXPECT_FALSE(e->has_log);
  EXPECT_EQ(e->log_bytes, 0u);
  EXPECT_FALSE(e->has_snapshot);
  EXPECT_EQ(e->snapshot_cursor, 0u);
  EXPECT_EQ(e->snapshot_bytes, 0u);
  EXPECT_GE(e->updated_at, before);
  EXPECT_LE(e->updated_at, after);

  Result<WorkflowSummary> l = store_->Describe("log-only");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  EXPECT_EQ(l->cursor, 0u);
  EXPECT_EQ(l->trimmed, 0u);
  EXPECT_EQ(l->events, 0u);
  EXPECT_EQ(l->event_bytes, 0u);
  EXPECT_TRUE(l->has_log);
  EXPECT_EQ(l->log_bytes, 3u);
  EXPECT_FALSE(l->has_snapshot);
  EXPECT_GE(l->updated_at, before);
  EXPECT_LE(l->updated_at, after);
  EXPECT_EQ(l->updated_at, store_->Load("log-only")->updated_at);
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
  ASSERT_TRUE((*store)->Describe("wf").ok());
  EXPECT_TRUE((*store)->Describe("nope").status().IsNotFound());
  EXPECT_TRUE((*store)->Append("wf", std::vector<std::string>{}).status().IsInvalidArgument());
  EXPECT_TRUE((*store)->LoadFact("x").status().IsNotFound());
  const std::vector<AppendRequest> two = {{"w1", {"abc"}, {}}, {"w2", {"de"}, {}}};
  for (const Result<std::uint64_t>& r : (*store)->AppendMany(two)) EXPECT_TRUE(r.ok());
  const std::vector<AppendRequest> bad = {{"w1", {}, {}}};
  EXPECT_TRUE((*store)->AppendMany(bad)[0].status().IsInvalidArgument());
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "start save wf", "stop save 5", "start load wf", "stop load 5", "start describe wf",
                      "stop describe 0", "start describe nope", "stop describe 0", "start append wf",
                      "exception append InvalidArgument", "start load_fact x", "stop load_fact 0", "start append_many ",
                      "stop append_many 5", "start append_many ", "exception append_many InvalidArgument"}));
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

// --- ListFacts ------------------------------------------------------------------

// Every page of ListFacts from `options` on, checking that each page but the
// last is full and says more.
std::vector<std::string> AllFactPages(Store& store, ListOptions options) {
  std::vector<std::string> all;
  for (int page = 0; page < 1000; ++page) {
    Result<ListPage> p = store.ListFacts(options);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    if (!p.ok()) break;
    all.insert(all.end(), p->ids.begin(), p->ids.end());
    if (!p->more) break;
    EXPECT_EQ(p->ids.size(), options.limit);
    options.start_after = p->ids.back();
  }
  return all;
}

TEST_P(StoreConformance, ListFactsPagesHashesInByteOrder) {
  Result<ListPage> empty = store_->ListFacts();
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->ids.empty());
  EXPECT_FALSE(empty->more);
  std::vector<std::string> expected;  // the hashes starting with "sha-"
  for (int i = 24; i >= 0; --i) {
    const std::string hash = "sha-" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    ASSERT_TRUE(store_->SaveFact(hash, "v" + hash).ok());
    expected.push_back(hash);
  }
  // Bytes compare unsigned: 0xff after every letter; NUL inside a hash is a byte like any other.
  for (const std::string& hash : {std::string("sha-\xff", 5), std::string("sha-\0x", 6), std::string("sha-")}) {
    ASSERT_TRUE(store_->SaveFact(hash, "v").ok());
    expected.push_back(hash);
  }
  AppendOptions with_fact;
  with_fact.facts = {{"sha-by-append", "v"}};
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"e"}, with_fact).ok());
  expected.push_back("sha-by-append");
  std::sort(expected.begin(), expected.end());
  // Not listed: other prefixes, a deleted fact, workflows, another runner's facts.
  for (const char* other : {"sha", "sh", "tha-1", "rha-1"}) ASSERT_TRUE(store_->SaveFact(other, "v").ok());
  ASSERT_TRUE(store_->SaveFact("sha-deleted", "v").ok());
  ASSERT_TRUE(store_->DeleteFact("sha-deleted").ok());
  ASSERT_TRUE(store_->Save("sha-workflow", "log").ok());
  ASSERT_TRUE(OpenStore("other-runner")->SaveFact("sha-other-runner", "v").ok());

  ListOptions options;
  options.prefix = "sha-";
  options.limit = 7;
  EXPECT_EQ(AllFactPages(*store_, options), expected);
  options.limit = 1;
  EXPECT_EQ(AllFactPages(*store_, options), expected);
  // A page that ends exactly at the last hash says there is no more.
  options.limit = expected.size();
  Result<ListPage> whole = store_->ListFacts(options);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->ids, expected);
  EXPECT_FALSE(whole->more);
  options.limit = expected.size() - 1;
  whole = store_->ListFacts(options);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_TRUE(whole->more);
  EXPECT_EQ(whole->ids.size(), expected.size() - 1);
  // start_after: before the prefix starts from the first; inside it, just past it; past it, nothing.
  options.limit = 1000;
  options.start_after = "aaa";
  EXPECT_EQ(store_->ListFacts(options)->ids, expected);
  options.start_after = "sha-10";
  const auto past_10 = std::upper_bound(expected.begin(), expected.end(), "sha-10");
  EXPECT_EQ(store_->ListFacts(options)->ids, std::vector<std::string>(past_10, expected.end()));
  options.start_after = "shb";
  EXPECT_TRUE(store_->ListFacts(options)->ids.empty());
  // Without a prefix: every fact of this runner.
  EXPECT_EQ(AllFactPages(*store_, {.prefix = "", .start_after = "", .limit = 3}).size(), expected.size() + 4);

  const std::string long_id(store_->limits().max_id_bytes + 1, 'h');
  for (ListOptions bad : {ListOptions{.prefix = "", .start_after = "", .limit = 0},
                          ListOptions{.prefix = "", .start_after = "", .limit = 100001},
                          ListOptions{.prefix = long_id, .start_after = "", .limit = 10},
                          ListOptions{.prefix = "", .start_after = long_id, .limit = 10}}) {
    EXPECT_TRUE(store_->ListFacts(bad).status().IsInvalidArgument());
  }
  EXPECT_TRUE(store_->ListFacts({.prefix = "", .start_after = "", .limit = 100000}).ok());
}

// --- Import ----------------------------------------------------------------------

void ExpectSameSummary(const WorkflowSummary& a, const WorkflowSummary& b, const std::string& what) {
  EXPECT_EQ(a.cursor, b.cursor) << what;
  EXPECT_EQ(a.trimmed, b.trimmed) << what;
  EXPECT_EQ(a.events, b.events) << what;
  EXPECT_EQ(a.event_bytes, b.event_bytes) << what;
  EXPECT_EQ(a.has_log, b.has_log) << what;
  EXPECT_EQ(a.log_bytes, b.log_bytes) << what;
  EXPECT_EQ(a.has_snapshot, b.has_snapshot) << what;
  EXPECT_EQ(a.snapshot_cursor, b.snapshot_cursor) << what;
  EXPECT_EQ(a.snapshot_bytes, b.snapshot_bytes) << what;
  EXPECT_EQ(a.updated_at, b.updated_at) << what;
}

std::vector<std::string_view> Views(const std::vector<std::string>& v, std::size_t from, std::size_t to) {
  return std::vector<std::string_view>(v.begin() + static_cast<std::ptrdiff_t>(from),
                                       v.begin() + static_cast<std::ptrdiff_t>(to));
}

class StoreImport : public StoreConformance {
 protected:
  // What `runic migrate` reads of a workflow: its summary, its kept events,
  // log and snapshot.
  struct Source {
    WorkflowSummary summary;
    std::vector<std::string> events;  // sequences summary.trimmed + 1 ..
    WorkflowImport import;
  };
  Source Read(Store& from, const std::string& id) {
    Source src;
    Result<WorkflowSummary> d = from.Describe(id);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    if (!d.ok()) return src;
    src.summary = *d;
    if (d->cursor > 0) src.events = StreamAll(from, id, d->trimmed);
    src.import.cursor = d->cursor;
    src.import.trimmed = d->trimmed;
    src.import.updated_at = d->updated_at;
    if (d->has_log) src.import.log = *from.Load(id);
    if (d->has_snapshot) src.import.snapshot = *from.LoadSnapshot(id);
    return src;
  }
  // The copy: the events in two ImportEvents, then ImportWorkflow.
  void Import(Store& to, const std::string& id, const Source& src) {
    const std::size_t half = src.events.size() / 2;
    const std::uint64_t first = src.summary.trimmed + 1;
    if (half > 0) {
      ASSERT_TRUE(to.ImportEvents(id, first, Views(src.events, 0, half)).ok());
    }
    if (half < src.events.size()) {
      ASSERT_TRUE(to.ImportEvents(id, first + half, Views(src.events, half, src.events.size())).ok());
    }
    Status s = to.ImportWorkflow(id, src.import);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // The copy shows exactly what the source did.
  void ExpectCopy(Store& copy, const std::string& id, const Source& src) {
    Result<WorkflowSummary> d = copy.Describe(id);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ExpectSameSummary(*d, src.summary, id);
    if (src.summary.cursor > 0) {
      EXPECT_EQ(StreamAll(copy, id, src.summary.trimmed), src.events) << id;
    } else {
      EXPECT_TRUE(copy.Stream(id).status().IsNotFound()) << id;
    }
    if (src.summary.trimmed > 0) {
      Status trimmed = copy.Stream(id, {0}).status();
      EXPECT_TRUE(trimmed.IsTrimmed()) << trimmed.ToString();
      EXPECT_EQ(trimmed.first_kept_sequence(), src.summary.trimmed + 1);
    }
    Result<LogRecord> log = copy.Load(id);
    if (src.import.log) {
      ASSERT_TRUE(log.ok()) << log.status().ToString();
      EXPECT_EQ(log->log, src.import.log->log);
      EXPECT_EQ(log->updated_at, src.import.log->updated_at);
    } else {
      EXPECT_TRUE(log.status().IsNotFound()) << id;
    }
    Result<Snapshot> snap = copy.LoadSnapshot(id);
    if (src.import.snapshot) {
      ASSERT_TRUE(snap.ok()) << snap.status().ToString();
      EXPECT_EQ(snap->cursor, src.import.snapshot->cursor);
      EXPECT_EQ(snap->bytes, src.import.snapshot->bytes);
    } else {
      EXPECT_TRUE(snap.status().IsNotFound()) << id;
    }
  }

  // A workflow with all there is: log, 150 events in three appends (across
  // the memory engine's 64-event chunks), a snapshot and a trim.
  void MakeSource(Store& store, const std::string& id) {
    std::string log("log of \0 ", 9);  // any bytes
    ASSERT_TRUE(store.Save(id, log + id).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the log's time differs from the appends'
    for (int batch = 0; batch < 3; ++batch) {
      std::vector<std::string> events;
      for (int i = 0; i < 50; ++i) {
        events.push_back(id + "/" + std::to_string(batch * 50 + i + 1) + std::string(i, 'x'));
      }
      ASSERT_TRUE(store.Append(id, events).ok());
    }
    ASSERT_TRUE(store.SaveSnapshot(id, 70, "snapshot of " + id).ok());
    ASSERT_TRUE(store.Trim(id, 70).ok());
  }
};

TEST_P(StoreImport, RoundTripIsExactAndAppendsContinue) {
  MakeSource(*store_, "wf");
  ASSERT_TRUE(store_->Save("log-only", "just a log").ok());
  ASSERT_TRUE(store_->Append("events-only", std::vector<std::string>{"a", "b", "c"}).ok());
  ASSERT_TRUE(store_->Append("all-trimmed", std::vector<std::string>{"a", "b"}).ok());
  ASSERT_TRUE(store_->Trim("all-trimmed", 2).ok());
  auto copy = OpenStore("copy");
  ASSERT_NE(copy, nullptr);
  std::map<std::string, Source> sources;
  for (const char* id : {"wf", "log-only", "events-only", "all-trimmed"}) sources[id] = Read(*store_, id);
  ASSERT_EQ(sources["wf"].events.size(), 80u);
  ASSERT_EQ(sources["wf"].summary.trimmed, 70u);
  ASSERT_NE(sources["wf"].import.log->updated_at, sources["wf"].summary.updated_at);

  // Imported events stay out of sight until ImportWorkflow.
  const Source& wf = sources["wf"];
  ASSERT_TRUE(copy->ImportEvents("wf", 71, Views(wf.events, 0, 30)).ok());
  ASSERT_TRUE(copy->ImportEvents("wf", 101, Views(wf.events, 30, 80)).ok());
  EXPECT_FALSE(*copy->Exists("wf"));
  EXPECT_TRUE(copy->Stream("wf").status().IsNotFound());
  EXPECT_TRUE(copy->Describe("wf").status().IsNotFound());
  EXPECT_TRUE(copy->List()->ids.empty());
  Status imported = copy->ImportWorkflow("wf", wf.import);
  ASSERT_TRUE(imported.ok()) << imported.ToString();
  for (const auto& [id, src] : sources) {
    if (id != "wf") Import(*copy, id, src);
  }
  for (const auto& [id, src] : sources) ExpectCopy(*copy, id, src);
  EXPECT_EQ(copy->List()->ids, (std::vector<std::string>{"all-trimmed", "events-only", "log-only", "wf"}));
  // The source is untouched.
  for (const auto& [id, src] : sources) ExpectCopy(*store_, id, src);

  // Redoing the copy (an interrupted migrate run again) gives the same.
  Import(*copy, "wf", wf);
  ASSERT_TRUE(copy->ImportWorkflow("wf", wf.import).ok());  // the last step alone too
  ExpectCopy(*copy, "wf", wf);
  Result<StoreStats> stats = copy->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->events, 80u + 3u);  // wf's kept events and events-only's, no more
  EXPECT_EQ(stats->logs, 2u);
  EXPECT_EQ(stats->snapshots, 1u);

  if (durable()) {
    copy.reset();
    Reopen();
    copy = OpenStore("copy");
    for (const auto& [id, src] : sources) ExpectCopy(*copy, id, src);
  }
  // Appends continue after the imported cursor.
  EXPECT_EQ(*copy->Append("wf", std::vector<std::string>{"next"}), 151u);
  std::vector<std::string> continued = wf.events;
  continued.push_back("next");
  EXPECT_EQ(StreamAll(*copy, "wf", 70), continued);
  EXPECT_EQ(*copy->Append("log-only", std::vector<std::string>{"first"}), 1u);
  EXPECT_EQ(*copy->Append("all-trimmed", std::vector<std::string>{"c"}), 3u);
  EXPECT_EQ(StreamAll(*copy, "all-trimmed", 2), std::vector<std::string>{"c"});
  ASSERT_TRUE(copy->Trim("wf", 151).ok());
  EXPECT_EQ(copy->Describe("wf")->events, 0u);
}

TEST_P(StoreImport, AMissingEventIsRefusedAndChangesNothing) {
  // A new workflow: event 3 of 1..4 was never imported.
  ASSERT_TRUE(store_->ImportEvents("fresh", 1, std::vector<std::string_view>{"a", "b"}).ok());
  ASSERT_TRUE(store_->ImportEvents("fresh", 4, std::vector<std::string_view>{"d"}).ok());
  WorkflowImport w;
  w.cursor = 4;
  w.log = LogRecord{"log", std::chrono::system_clock::now()};
  w.snapshot = Snapshot{2, "snap"};
  w.updated_at = std::chrono::system_clock::now();
  Status s = store_->ImportWorkflow("fresh", w);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("event 3 is missing"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("fresh"), std::string::npos) << s.ToString();
  EXPECT_FALSE(*store_->Exists("fresh"));
  EXPECT_TRUE(store_->Load("fresh").status().IsNotFound());
  EXPECT_TRUE(store_->LoadSnapshot("fresh").status().IsNotFound());
  EXPECT_TRUE(store_->Stream("fresh").status().IsNotFound());
  // Past the cursor is missing too.
  w.cursor = 5;
  w.trimmed = 3;
  s = store_->ImportWorkflow("fresh", w);
  EXPECT_NE(s.message().find("event 5 is missing"), std::string::npos) << s.ToString();
  // With the gap trimmed, it imports, and the events outside (3, 4] are gone.
  w.cursor = 4;
  s = store_->ImportWorkflow("fresh", w);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(StreamAll(*store_, "fresh", 3), std::vector<std::string>{"d"});
  EXPECT_EQ(store_->Stats()->events, 1u);

  // An existing workflow: asked for events it lacks, it keeps what it has.
  ASSERT_TRUE(store_->Save("wf", "old log").ok());
  ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"o1", "o2", "o3"}).ok());
  const WorkflowSummary before = *store_->Describe("wf");
  WorkflowImport more;
  more.cursor = 5;
  more.log = LogRecord{"new log", std::chrono::system_clock::now()};
  s = store_->ImportWorkflow("wf", more);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("event 4 is missing"), std::string::npos) << s.ToString();
  ExpectSameSummary(*store_->Describe("wf"), before, "wf");
  EXPECT_EQ(store_->Load("wf")->log, "old log");
  EXPECT_EQ(StreamAll(*store_, "wf"), (std::vector<std::string>{"o1", "o2", "o3"}));
  // The events it holds count: importing the missing ones is enough.
  ASSERT_TRUE(store_->ImportEvents("wf", 4, std::vector<std::string_view>{"n4", "n5"}).ok());
  s = store_->ImportWorkflow("wf", more);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(StreamAll(*store_, "wf"), (std::vector<std::string>{"o1", "o2", "o3", "n4", "n5"}));
  EXPECT_EQ(store_->Load("wf")->log, "new log");
  EXPECT_TRUE(store_->LoadSnapshot("wf").status().IsNotFound());
}

TEST_P(StoreImport, ImportingOverAWorkflowReplacesIt) {
  // The destination holds more: 10 events, a log, a snapshot; and imported
  // events beyond them that were never made part of it.
  ASSERT_TRUE(store_->Save("wf", "old log").ok());
  for (int i = 1; i <= 10; ++i) {
    ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"old" + std::to_string(i)}).ok());
  }
  ASSERT_TRUE(store_->SaveSnapshot("wf", 8, "old snapshot").ok());
  ASSERT_TRUE(store_->ImportEvents("wf", 20, std::vector<std::string_view>{"stray20", "stray21"}).ok());
  // The source: 5 events, trimmed to 2, no log, no snapshot.
  auto source = OpenStore("source");
  ASSERT_TRUE(source->Append("wf", std::vector<std::string>{"s1", "s2", "s3", "s4", "s5"}).ok());
  ASSERT_TRUE(source->Trim("wf", 2).ok());
  const Source src = Read(*source, "wf");
  Import(*store_, "wf", src);
  ExpectCopy(*store_, "wf", src);
  EXPECT_EQ(StreamAll(*store_, "wf", 2), (std::vector<std::string>{"s3", "s4", "s5"}));
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->events, 3u) << "an event outside the imported range survived";
  EXPECT_EQ(stats->logs, 0u);
  EXPECT_EQ(stats->snapshots, 0u);
  // The stray imported events went too: they no longer count as imported.
  WorkflowImport stale = src.import;
  stale.cursor = 21;
  stale.trimmed = 19;
  Status s = store_->ImportWorkflow("wf", stale);
  EXPECT_NE(s.message().find("event 20 is missing"), std::string::npos) << s.ToString();
  // Appends continue from the imported cursor, and nothing old reappears.
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"n6"}), 6u);
  EXPECT_EQ(StreamAll(*store_, "wf", 2), (std::vector<std::string>{"s3", "s4", "s5", "n6"}));
  for (int i = 7; i <= 21; ++i) {
    ASSERT_TRUE(store_->Append("wf", std::vector<std::string>{"n" + std::to_string(i)}).ok());
  }
  const std::vector<std::string> tail = StreamAll(*store_, "wf", 18);
  EXPECT_EQ(tail, (std::vector<std::string>{"n19", "n20", "n21"}));

  // Importing an empty state removes the workflow, as Delete would.
  ASSERT_TRUE(store_->ImportWorkflow("wf", WorkflowImport{}).ok());
  EXPECT_FALSE(*store_->Exists("wf"));
  EXPECT_TRUE(store_->Stream("wf").status().IsNotFound());
  EXPECT_EQ(store_->Stats()->events, 0u);
  EXPECT_EQ(*store_->Append("wf", std::vector<std::string>{"again"}), 1u);
}

TEST_P(StoreImport, BadInputIsRefusedAndWritesNothing) {
  const StoreLimits& lim = store_->limits();
  const std::string big(lim.max_value_bytes + 1, 'v');
  const std::string long_id(lim.max_id_bytes + 1, 'i');
  using Events = std::vector<std::string_view>;
  const auto max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_TRUE(store_->ImportEvents("", 1, Events{"e"}).IsInvalidArgument());
  EXPECT_TRUE(store_->ImportEvents(long_id, 1, Events{"e"}).IsInvalidArgument());
  Status zero = store_->ImportEvents("wf", 0, Events{"e"});
  EXPECT_TRUE(zero.IsInvalidArgument()) << zero.ToString();
  EXPECT_TRUE(store_->ImportEvents("wf", 1, Events{}).IsInvalidArgument());
  EXPECT_TRUE(store_->ImportEvents("wf", 1, Events{"e", ""}).IsInvalidArgument());
  EXPECT_TRUE(store_->ImportEvents("wf", 1, Events{big}).IsInvalidArgument());
  EXPECT_TRUE(store_->ImportEvents("wf", 1, Events(lim.max_batch_events + 1, "e")).IsInvalidArgument());
  const std::string half(lim.max_batch_bytes / 2 + 1, 'h');
  EXPECT_TRUE(store_->ImportEvents("wf", 1, Events{half, half}).IsInvalidArgument());
  EXPECT_TRUE(store_->ImportEvents("wf", max, Events{"e"}).IsInvalidArgument());
  EXPECT_TRUE(store_->ImportEvents("wf", max - 1, Events{"e", "f"}).IsInvalidArgument());

  auto import = [&](std::uint64_t cursor, std::uint64_t trimmed) {
    WorkflowImport w;
    w.cursor = cursor;
    w.trimmed = trimmed;
    w.updated_at = std::chrono::system_clock::now();
    return w;
  };
  EXPECT_TRUE(store_->ImportWorkflow("", import(0, 0)).IsInvalidArgument());
  EXPECT_TRUE(store_->ImportWorkflow(long_id, import(0, 0)).IsInvalidArgument());
  Status above = store_->ImportWorkflow("wf", import(3, 4));
  EXPECT_TRUE(above.IsInvalidArgument()) << above.ToString();
  EXPECT_TRUE(store_->ImportWorkflow("wf", import(max, max)).IsInvalidArgument());
  WorkflowImport w = import(0, 0);
  w.snapshot = Snapshot{1, "snap"};  // above the cursor
  EXPECT_TRUE(store_->ImportWorkflow("wf", w).IsInvalidArgument());
  w.snapshot = Snapshot{0, ""};
  EXPECT_TRUE(store_->ImportWorkflow("wf", w).IsInvalidArgument());
  w.snapshot = Snapshot{0, big};
  EXPECT_TRUE(store_->ImportWorkflow("wf", w).IsInvalidArgument());
  w.snapshot.reset();
  w.log = LogRecord{"", std::chrono::system_clock::now()};
  EXPECT_TRUE(store_->ImportWorkflow("wf", w).IsInvalidArgument());
  w.log = LogRecord{big, std::chrono::system_clock::now()};
  EXPECT_TRUE(store_->ImportWorkflow("wf", w).IsInvalidArgument());

  // Nothing was written, and at the limits it works.
  EXPECT_TRUE(Ids().empty());
  Result<StoreStats> stats = store_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->events + stats->logs + stats->snapshots, 0u);
  EXPECT_TRUE(store_->ImportEvents("wf", 1, Events(lim.max_batch_events, "e")).ok());
  EXPECT_TRUE(store_->ImportEvents("wf", max - 1, Events{"e"}).ok());
  Status at_limits = store_->ImportWorkflow("wf", import(lim.max_batch_events, 0));
  EXPECT_TRUE(at_limits.ok()) << at_limits.ToString();
  EXPECT_EQ(store_->Describe("wf")->events, lim.max_batch_events);
}

TEST_P(StoreImport, TelemetryNamesTheNewOperations) {
  std::vector<std::string> seen;
  StoreOptions options;
  options.telemetry.on_stop = [&](const StoreOpEvent& e) {
    seen.push_back(std::string(StoreOpName(e.op)) + " " + std::string(e.id) + " " + std::to_string(e.bytes));
  };
  options.telemetry.on_exception = [&](const StoreOpEvent& e) {
    seen.push_back(std::string(StoreOpName(e.op)) + " " + Status::CodeName(e.status->code()));
  };
  Result<std::unique_ptr<Store>> store = db_->OpenStore("telemetry", options);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->ListFacts({.prefix = "p", .start_after = "", .limit = 5}).ok());
  ASSERT_TRUE((*store)->ImportEvents("wf", 1, std::vector<std::string_view>{"abc", "de"}).ok());
  WorkflowImport w;
  w.cursor = 2;
  w.log = LogRecord{"1234", {}};
  w.snapshot = Snapshot{1, "12345678"};
  ASSERT_TRUE((*store)->ImportWorkflow("wf", w).ok());
  w.cursor = 3;
  EXPECT_TRUE((*store)->ImportWorkflow("wf", w).IsInvalidArgument());
  EXPECT_EQ(seen, (std::vector<std::string>{"list_facts p 0", "import_events wf 5", "import_workflow wf 12",
                                            "import_workflow InvalidArgument"}));
}

INSTANTIATE_TEST_SUITE_P(Engines, StoreImport, ::testing::ValuesIn(kEngines),
                         [](const ::testing::TestParamInfo<EngineCase>& info) { return std::string(info.param.name); });

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

// --- URIs, Status and Result: no engine needed ------------------------------------
// Built into the memory/disk binary only: the etcd build would run them again.
#ifndef RUNIC_CONFORMANCE_ETCD

// `uri` is refused with kInvalidArgument, and the message holds each of `words`.
void ExpectRefused(std::string_view uri, std::initializer_list<std::string_view> words) {
  Result<DatabaseOptions> r = Database::ParseUri(uri);
  ASSERT_FALSE(r.ok()) << "'" << uri << "' was accepted";
  EXPECT_TRUE(r.status().IsInvalidArgument()) << "'" << uri << "': " << r.status().ToString();
  for (std::string_view w : words) {
    EXPECT_NE(r.status().message().find(w), std::string::npos)
        << "'" << uri << "': the message does not say '" << w << "': " << r.status().ToString();
  }
}

TEST(ParseUri, RefusesMalformedEtcdMembersNamingThem) {
  ExpectRefused("etcd://127.0.0.1:99999/x", {"'127.0.0.1:99999'", "out of range"});
  ExpectRefused("etcd://127.0.0.1:65536", {"'127.0.0.1:65536'", "out of range"});
  ExpectRefused("etcd://127.0.0.1:0", {"'127.0.0.1:0'", "out of range"});
  ExpectRefused("etcd://127.0.0.1:123456789012345678901234567890", {"out of range"});
  ExpectRefused("etcd://127.0.0.1:notaport/x", {"'127.0.0.1:notaport'", "'notaport' is not a number"});
  ExpectRefused("etcd://127.0.0.1:-1/x", {"'-1' is not a number"});
  ExpectRefused("etcd://127.0.0.1:/x", {"'127.0.0.1:'", "empty port"});
  ExpectRefused("etcd://:/", {"':'", "empty host"});
  ExpectRefused("etcd://:2379", {"':2379'", "empty host"});
  ExpectRefused("etcd://127.0.0.1/x", {"'127.0.0.1'", "no port"});
  ExpectRefused("etcd://a:1,,b:2/x", {"''", "empty"});
  ExpectRefused("etcd://a:1,/x", {"''", "empty"});
  ExpectRefused("etcd:///x", {"no member"});
  ExpectRefused("etcd://a:1,b:2:3/x", {"'b:2:3'", "brackets"});
  ExpectRefused("etcd://::1:2379/x", {"brackets"});
  ExpectRefused("etcd://[::1/x", {"'[::1'", "never closes"});
  ExpectRefused("etcd://[]:1/x", {"'[]:1'", "empty host"});
  ExpectRefused("etcd://[::1]/x", {"'[::1]'", "no port"});
  ExpectRefused("etcd://[::1]:/x", {"empty port"});
  ExpectRefused("etcd://[::1]:70000/x", {"out of range"});
  ExpectRefused("etcd://a%20b:1/x", {"'a%20b:1'", "letters, digits"});
  ExpectRefused("etcd://user@h:1/x", {"'user@h:1'", "letters, digits"});
}

TEST(ParseUri, AcceptsWellFormedEtcdMembers) {
  Result<DatabaseOptions> o = Database::ParseUri("etcd://127.0.0.1:2379,[::1]:2380,etcd-0.example_zone:1,h:65535/db");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->nodes, (std::vector<std::string>{"127.0.0.1:2379", "[::1]:2380", "etcd-0.example_zone:1", "h:65535"}));
  EXPECT_EQ(o->dir, "db");
}

// Database::Open checks DatabaseOptions::nodes as ParseUri checks a URI's
// members, before it opens the engine: at once, not after the call timeout.
TEST(ParseUri, OpenRefusesMalformedNodesBeforeConnecting) {
  for (const char* bad : {"127.0.0.1:99999", "127.0.0.1:notaport", "127.0.0.1:", ":", "", "host", "a b:1", "::1:1"}) {
    DatabaseOptions o;
    o.nodes = {"127.0.0.1:2379", bad};
    o.etcd.call_timeout = std::chrono::milliseconds(3000);
    const auto start = std::chrono::steady_clock::now();
    Result<std::shared_ptr<Database>> db = Database::Open(o);
    EXPECT_TRUE(db.status().IsInvalidArgument()) << "'" << bad << "': " << db.status().ToString();
    EXPECT_NE(db.status().message().find("'" + std::string(bad) + "'"), std::string::npos) << db.status().ToString();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1)) << bad;
  }
  // The schemes etcd's own tools print are still taken: this one is checked
  // and then fails only for want of a member that answers.
  DatabaseOptions o;
  o.nodes = {"http://127.0.0.1:1"};
  o.etcd.call_timeout = std::chrono::milliseconds(200);
  Result<std::shared_ptr<Database>> db = Database::Open(o);
  EXPECT_FALSE(db.status().IsInvalidArgument()) << db.status().ToString();
}

TEST(ParseUri, RefusesRepeatedParametersFragmentsAndEmptyQueries) {
  ExpectRefused("disk:x?sync=1&sync=0", {"'sync'", "more than once"});
  ExpectRefused("disk:x?sync=1&create=1&sync=1", {"'sync'", "more than once"});
  ExpectRefused("memory:x?read_cache_bytes=1&read_cache_bytes=2", {"'read_cache_bytes'", "more than once"});
  ExpectRefused("etcd://h:1/x?timeout_ms=5&timeout_ms=6", {"'timeout_ms'", "more than once"});
  ExpectRefused("disk:x#frag", {"'#frag'", "fragment", "%23"});
  ExpectRefused("disk:///x?sync=1#frag", {"'#frag'", "fragment"});
  ExpectRefused("memory:name#", {"fragment"});
  ExpectRefused("etcd://h:1/x#frag", {"fragment", "%23"});
  ExpectRefused("disk:x?", {"'disk:x?'", "'?'"});
  ExpectRefused("memory:?", {"'?'"});
  ExpectRefused("etcd://h:1/x?", {"'?'"});
  ExpectRefused("disk:x?sync=1&&create=1", {"empty parameter"});
  ExpectRefused("disk:x?&sync=1", {"empty parameter"});
  ExpectRefused("disk:x?sync=1&", {"empty parameter"});
  ExpectRefused("etcd://h:1/x?user=u&&password=p", {"empty parameter"});

  // Nothing of a password shows in these messages, escaped '#' or repeated.
  for (const char* uri : {"etcd://h:1/x?user=u&password=se#cret", "etcd://h:1/x?user=u&password=secret&password=secret",
                          "etcd://h:1/x?user=u&password=secret&"}) {
    Result<DatabaseOptions> r = Database::ParseUri(uri);
    EXPECT_TRUE(r.status().IsInvalidArgument()) << uri;
    EXPECT_EQ(r.status().message().find("cret"), std::string::npos) << r.status().ToString();
  }

  // What these rules leave alone.
  EXPECT_EQ(Database::ParseUri("disk:x%23y")->dir, "x#y");
  EXPECT_EQ(Database::ParseUri("etcd://h:1/x?password=a%23b")->etcd.password, "a#b");
  Result<DatabaseOptions> o = Database::ParseUri("disk:x?sync=1&create=0&read_only=1&read_cache_bytes=7");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->sync);
  EXPECT_EQ(o->read_cache_bytes, 7u);
  EXPECT_EQ(Database::ParseUri("memory:x")->dir, "x");
}

TEST(StatusTest, EveryCodeHasItsPredicate) {
  using Predicate = bool (Status::*)() const;
  struct Case {
    Status status;
    Status::Code code;
    Predicate is;
  };
  const std::vector<Case> cases = {
      {Status::NotFound("m"), Status::Code::kNotFound, &Status::IsNotFound},
      {Status::Conflict("m"), Status::Code::kConflict, &Status::IsConflict},
      {Status::InvalidArgument("m"), Status::Code::kInvalidArgument, &Status::IsInvalidArgument},
      {Status::IOError("m"), Status::Code::kIOError, &Status::IsIOError},
      {Status::Corruption("m"), Status::Code::kCorruption, &Status::IsCorruption},
      {Status::Trimmed(7, "m"), Status::Code::kTrimmed, &Status::IsTrimmed},
      {Status::Unavailable("m"), Status::Code::kUnavailable, &Status::IsUnavailable},
      {Status::DeadlineExceeded("m"), Status::Code::kDeadlineExceeded, &Status::IsDeadlineExceeded},
      {Status::OutcomeUnknown("m"), Status::Code::kOutcomeUnknown, &Status::IsOutcomeUnknown},
      {Status::NotOwner("m"), Status::Code::kNotOwner, &Status::IsNotOwner},
      {Status::InUse("m"), Status::Code::kInUse, &Status::IsInUse},
      {Status::FailedPrecondition("m"), Status::Code::kFailedPrecondition, &Status::IsFailedPrecondition},
      {Status::ResourceExhausted("m"), Status::Code::kResourceExhausted, &Status::IsResourceExhausted},
      {Status::Cancelled("m"), Status::Code::kCancelled, &Status::IsCancelled},
  };
  // Every code but kOk, once each: a code added later without a case here fails.
  std::set<Status::Code> codes;
  for (const Case& c : cases) codes.insert(c.code);
  EXPECT_EQ(codes.size(), static_cast<std::size_t>(Status::Code::kCancelled));
  EXPECT_EQ(cases.size(), codes.size());
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), c.code) << c.status.ToString();
    EXPECT_FALSE(c.status.ok());
    EXPECT_FALSE((Status::OK().*c.is)()) << Status::CodeName(c.code);
    for (const Case& other : cases) {
      EXPECT_EQ((c.status.*other.is)(), c.code == other.code)
          << c.status.ToString() << " answered Is" << Status::CodeName(other.code) << "()";
    }
  }
}

TEST(ResultDeathTest, ValueOfAFailedResultAbortsNamingTheStatus) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const char* expected = "runic: Result::value\\(\\) called on a failed result: NotFound: no workflow 'wf'";
  EXPECT_DEATH(
      {
        Result<int> r = Status::NotFound("no workflow 'wf'");
        (void)r.value();
      },
      expected);
  EXPECT_DEATH(
      {
        const Result<std::string> r = Status::NotFound("no workflow 'wf'");
        (void)r->size();
      },
      expected);
  EXPECT_DEATH(
      {
        Result<std::string> r = Status::NotFound("no workflow 'wf'");
        std::string taken = *std::move(r);
        (void)taken;
      },
      expected);
  // And a value is there to read when there is one.
  Result<std::string> r = std::string("v");
  EXPECT_EQ(r.value(), "v");
  EXPECT_EQ(std::move(r).value(), "v");
}

#endif  // RUNIC_CONFORMANCE_ETCD

}  // namespace
}  // namespace runic
