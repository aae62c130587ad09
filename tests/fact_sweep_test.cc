// The fact sweep (runic/gc.h) on memory, disk, disk with sync and (in
// runner_waits_etcd_test) etcd: what deleted workflows named goes, what the
// remaining ones name stays, also while a writer produces the swept values
// again; a sweep cut short is finished by the next one.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <openssl/evp.h>

#include "waits_fixture.h"

namespace runic {
namespace {

class FactSweepTest : public RunnerWaitsTest {
 protected:
  void SetUp() override {
    if (!GetParam().store) GTEST_SKIP() << "facts live in a store";
    RunnerWaitsTest::SetUp();
    wf_ = *Workflow::Builder("sweep", 1)
               .Step("double", [](const Value& v, std::stop_token) -> Result<Value> { return Value(v.get<int>() * 2); })
               .Step(
                   "add", [](const Value& v, std::stop_token) -> Result<Value> { return Value(v.get<int>() + 1); },
                   "double")
               .Build();
    ASSERT_TRUE(runner_->Register(wf_).ok());
    options_.journal_path = dir_.Sub("sweep.journal");
  }

  void Start(const std::string& id, int input) {
    ASSERT_TRUE(runner_->StartWorkflow(id, wf_, std::nullopt, StartOptions{.input = input}).ok()) << id;
    ASSERT_TRUE(runner_->AwaitIdle(id, 10s).ok()) << id;
  }

  std::size_t Facts() {
    std::size_t n = 0;
    ListOptions o;
    for (int page = 0; page < 1000; ++page) {
      Result<ListPage> listed = store_->ListFacts(o);
      EXPECT_TRUE(listed.ok());
      if (!listed.ok()) return n;
      n += listed->ids.size();
      if (!listed->more || listed->ids.empty()) break;
      o.start_after = listed->ids.back();
    }
    return n;
  }

  // Every workflow's history reads whole, values included, and a new
  // runner resumes each of them.
  void ExpectAllReadAndResume(const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      Result<WorkflowHistory> h = ReadHistory(*store_, id);
      ASSERT_TRUE(h.ok()) << id << ": " << h.status().ToString();
    }
    runner_->Shutdown();
    runner_ = MakeRunner(clock_);
    ASSERT_TRUE(runner_->Register(wf_).ok());
    for (const std::string& id : ids) {
      Status s = runner_->Resume(id);
      ASSERT_TRUE(s.ok() || s.IsConflict()) << id << ": " << s.ToString();
      Result<WorkflowResults> results = runner_->GetResults(id);
      ASSERT_TRUE(results.ok()) << id << ": " << results.status().ToString();
    }
  }

  std::shared_ptr<const Workflow> wf_;
  FactSweepOptions options_;
};

TEST_P(FactSweepTest, DeletedWorkflowsFactsGoAndTheOthersStay) {
  for (int i = 0; i < 6; ++i) Start("w" + std::to_string(i), i);
  const std::size_t all = Facts();
  ASSERT_GT(all, 6u);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->Delete("w" + std::to_string(i)).ok());
  Result<FactSweepReport> r = SweepFacts(*store_, options_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->workflows, 3u);
  EXPECT_EQ(r->facts, all);
  EXPECT_EQ(r->deleted, 9u) << "each deleted workflow's input, doubled and added values";
  EXPECT_EQ(r->restored + r->recovered, 0u);
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(Facts(), all - 9);
  EXPECT_FALSE(std::filesystem::exists(options_.journal_path));
  // A second sweep finds nothing to delete.
  r = SweepFacts(*store_, options_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->deleted, 0u);
  ExpectAllReadAndResume({"w3", "w4", "w5"});
}

TEST_P(FactSweepTest, MaxDeletesStopsAndTheNextSweepGoesOn) {
  for (int i = 0; i < 4; ++i) Start("w" + std::to_string(i), i);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(store_->Delete("w" + std::to_string(i)).ok());
  options_.max_deletes = 5;
  options_.batch = 2;
  Result<FactSweepReport> r = SweepFacts(*store_, options_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->deleted, 5u);
  EXPECT_FALSE(r->complete);
  options_.max_deletes = 0;
  r = SweepFacts(*store_, options_);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->deleted, 7u) << "12 values in all";
  EXPECT_EQ(r->structures, 1u);
  EXPECT_EQ(Facts(), 1u) << "the definition's structure stays, though no workflow names it now";
}

// The test: a writer produces the swept values again (the same
// inputs of the same definition: the same facts) while sweeps run, one
// fact a batch so that deletes and appends interleave; afterwards every
// workflow reads whole and resumes.
TEST_P(FactSweepTest, AWriterReproducingTheSweptFactsDuringTheSweepLosesNothing) {
  const int n = GetParam().sync ? 20 : 60;
  for (int i = 0; i < n; ++i) Start("old" + std::to_string(i), i);
  for (int i = 0; i < n; ++i) ASSERT_TRUE(store_->Delete("old" + std::to_string(i)).ok());
  std::atomic<bool> done{false};
  std::vector<std::string> ids;
  std::thread writer([&] {
    for (int i = 0; i < n; ++i) {
      const std::string id = "new" + std::to_string(i);
      Status s = runner_->StartWorkflow(id, wf_, std::nullopt, StartOptions{.input = i});
      EXPECT_TRUE(s.ok()) << s.ToString();
      EXPECT_TRUE(runner_->AwaitIdle(id, 10s).ok());
      ids.push_back(id);
    }
    done = true;
  });
  options_.batch = 1;
  std::uint64_t restored = 0;
  for (int round = 0; round < 1000 && !done; ++round) {
    Result<FactSweepReport> r = SweepFacts(*store_, options_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    restored += r->restored;
  }
  writer.join();
  Result<FactSweepReport> last = SweepFacts(*store_, options_);
  ASSERT_TRUE(last.ok()) << last.status().ToString();
  EXPECT_EQ(last->referenced, last->facts) << "what is left is named";
  std::printf("put back during the sweeps: %llu\n", static_cast<unsigned long long>(restored));
  ExpectAllReadAndResume(ids);
}

std::string Sha256Hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

// A journal as a sweep cut short after its delete leaves it (the format of
// src/runner/fact_sweep.cc), for a fact a workflow names.
void WriteJournal(const std::string& path, const std::string& hash, const std::string& value, bool damaged) {
  auto u32 = [](std::size_t v) {
    std::string b;
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return b;
  };
  std::string sum = Sha256Hex(hash + '\0' + value);
  if (damaged) sum[0] = sum[0] == '0' ? '1' : '0';
  std::ofstream(path, std::ios::binary) << u32(hash.size()) << hash << u32(value.size()) << value << sum << u32(70)
                                        << "cut";  // a record cut short at the end
}

TEST_P(FactSweepTest, ASweepCutShortIsFinishedByTheNextOneAndADamagedJournalDeletesNothing) {
  Start("w", 3);
  Result<WorkflowHistory> h = ReadHistory(*store_, "w");
  ASSERT_TRUE(h.ok());
  Result<ListPage> facts = store_->ListFacts();
  ASSERT_TRUE(facts.ok());
  // The first fact that is not the structure: a value the workflow names.
  std::string hash;
  for (const std::string& f : facts->ids) {
    if (f != h->definition.fingerprint) hash = f;
  }
  ASSERT_FALSE(hash.empty());
  const std::string value = *store_->LoadFact(hash);

  ASSERT_TRUE(store_->DeleteFact(hash).ok());  // the cut-short sweep's delete
  WriteJournal(options_.journal_path, hash, value, /*damaged=*/true);
  Result<FactSweepReport> r = SweepFacts(*store_, options_);
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_TRUE(std::filesystem::exists(options_.journal_path)) << "left for inspection";
  EXPECT_EQ(Facts(), facts->ids.size() - 1);

  WriteJournal(options_.journal_path, hash, value, /*damaged=*/false);
  r = SweepFacts(*store_, options_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->recovered, 1u);
  EXPECT_EQ(r->deleted, 0u);
  EXPECT_EQ(*store_->LoadFact(hash), value);
  EXPECT_FALSE(std::filesystem::exists(options_.journal_path));
  ExpectAllReadAndResume({"w"});
}

TEST_P(FactSweepTest, BadOptionsAreRefusedBeforeAnythingIsRead) {
  FactSweepOptions o;
  EXPECT_TRUE(SweepFacts(*store_, o).status().IsInvalidArgument());
  o.journal_path = options_.journal_path;
  o.batch = 0;
  EXPECT_TRUE(SweepFacts(*store_, o).status().IsInvalidArgument());
  o.batch = 100001;
  EXPECT_TRUE(SweepFacts(*store_, o).status().IsInvalidArgument());
}

TEST_P(FactSweepTest, AStoreThatIsNotARunnersIsNotSwept) {
  ASSERT_TRUE(store_->SaveFact("h", "v").ok());
  ASSERT_TRUE(store_->Append("raw", std::vector<std::string_view>{"not an event"}).ok());
  Result<FactSweepReport> r = SweepFacts(*store_, options_);
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_TRUE(store_->LoadFact("h").ok()) << "nothing deleted";
}

INSTANTIATE_TEST_SUITE_P(Engines, FactSweepTest, ::testing::ValuesIn(kWaitEngines),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace runic
