// Maps and reduces end to end (SEMANTICS.md 4, "Map, children, sagas"), on
// no store, memory, disk, disk with sync and (in runner_waits_etcd_test)
// etcd: each element runs once and is folded in element order, equal
// elements stay distinct, empty arrays give the initial value, skipped
// elements add nothing, a halted element halts the workflow until Retry,
// a restart runs only the elements that had not finished, and what a map
// cannot take is refused with a clear error.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "waits_fixture.h"

namespace runic {
namespace {

using namespace std::chrono_literals;

#if defined(RUNIC_SANITIZED)
constexpr int kLargeMap = 2000;  // the sanitizers are about 10x slower
#else
constexpr int kLargeMap = 10000;
#endif

// Calls per element value, from the steps' threads.
class CallCounts {
 public:
  void Add(const Value& v) {
    std::lock_guard lock(mu_);
    ++calls_[v.dump()];
  }
  int Of(const Value& v) {
    std::lock_guard lock(mu_);
    return calls_[v.dump()];
  }
  int Total() {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [v, c] : calls_) n += c;
    return n;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> calls_;
};

ReduceFn Sum() {
  return
      [](Value acc, const Value& v) -> Result<Value> { return Value(acc.get<std::int64_t>() + v.get<std::int64_t>()); };
}

// chunks: 0..n-1 for input n; square each; sum the squares; then +1000.
std::shared_ptr<const Workflow> SumOfSquares(CallCounts* calls) {
  return *Workflow::Builder("squares", 1)
              .Map("chunks",
                   [](const Value& n, std::stop_token) -> Result<Value> {
                     Value a = Value::array();
                     for (int i = 0; i < n.get<int>(); ++i) a.push_back(i);
                     return a;
                   })
              .Step(
                  "square",
                  [calls](const Value& v, std::stop_token) -> Result<Value> {
                    calls->Add(v);
                    return Value(v.get<std::int64_t>() * v.get<std::int64_t>());
                  },
                  "chunks")
              .Reduce("sum", "chunks", "square", 0, Sum())
              .Step(
                  "after", [](const Value& v, std::stop_token) -> Result<Value> { return Value(v.get<int>() + 1000); },
                  "sum")
              .Build();
}

std::int64_t SquaresBelow(std::int64_t n) { return (n - 1) * n * (2 * n - 1) / 6; }

class RunnerMapTest : public RunnerWaitsTest {
 protected:
  void Configure(RunnerOptions& o) override { o.threads = 4; }

  void StartAndFinish(const std::string& id, const std::shared_ptr<const Workflow>& wf, Value input,
                      std::optional<WorkflowOptions> options = std::nullopt) {
    ASSERT_TRUE(runner_->Register(wf).ok());
    StartOptions start;
    start.input = std::move(input);
    Status s = runner_->StartWorkflow(id, wf, options, start);
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = runner_->AwaitIdle(id, 120s);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
};

TEST_P(RunnerMapTest, EachElementRunsOnceAndTheReduceFoldsThemAll) {
  CallCounts calls;
  WorkflowOptions options;
  options.max_concurrency = 3;
  StartAndFinish("m", SumOfSquares(&calls), 20, options);
  Result<WorkflowResults> r = runner_->GetResults("m");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["sum"], Value::array({SquaresBelow(20)}));
  EXPECT_EQ((*r)["after"], Value::array({SquaresBelow(20) + 1000}));
  EXPECT_EQ((*r)["square"].size(), 20u);
  EXPECT_EQ((*r)["chunks"].size(), 1u);  // the array, not its elements
  for (int i = 0; i < 20; ++i) EXPECT_EQ(calls.Of(i), 1) << i;
  EXPECT_EQ(runner_->Lookup("m")->state, WorkflowState::kIdle);
  if (!has_store()) return;
  // The expansion is one event: the array's fact and its length.
  int expansions = 0;
  for (const HistoryEvent& e : Events("m", HistoryEventKind::kDone)) {
    if (e.node != "chunks") continue;
    ++expansions;
    EXPECT_EQ(e.elements, std::optional<std::uint64_t>(20));
  }
  EXPECT_EQ(expansions, 1);
  EXPECT_EQ(Events("m", HistoryEventKind::kDispatch).size(), 1u + 20u + 1u + 1u);
  // The history reader gives what the runner gives.
  Result<WorkflowHistory> h = ReadHistory(*store_, "m");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->results, *r);
  EXPECT_EQ(h->state, WorkflowState::kIdle);
}

TEST_P(RunnerMapTest, EqualElementsStayDistinctAndAreFoldedInElementOrder) {
  CallCounts calls;
  auto wf = *Workflow::Builder("letters", 1)
                 .Map("each")  // the input is the array
                 .Step(
                     "upper",
                     [&calls](const Value& v, std::stop_token) -> Result<Value> {
                       calls.Add(v);
                       // Later elements finish first: the fold keeps element order.
                       std::this_thread::sleep_for(std::chrono::milliseconds(v.get<std::string>() == "a" ? 20 : 0));
                       std::string s = v.get<std::string>();
                       for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                       return Value(s);
                     },
                     "each")
                 .Reduce("word", "each", "upper", "",
                         [](Value acc, const Value& v) -> Result<Value> {
                           return Value(acc.get<std::string>() + v.get<std::string>());
                         })
                 .Build();
  StartAndFinish("w", wf, Value::array({"a", "b", "a", "a", "c"}));
  Result<WorkflowResults> r = runner_->GetResults("w");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["word"], Value::array({"ABAAC"}));
  EXPECT_EQ(calls.Of("a"), 3);  // three facts, three runs
  EXPECT_EQ(calls.Of("b"), 1);
  EXPECT_EQ((*r)["upper"].size(), 5u);
}

TEST_P(RunnerMapTest, AnEmptyArrayGivesTheInitialValue) {
  CallCounts calls;
  StartAndFinish("e", SumOfSquares(&calls), 0);
  Result<WorkflowResults> r = runner_->GetResults("e");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["sum"], Value::array({0}));
  EXPECT_EQ((*r)["after"], Value::array({1000}));
  EXPECT_EQ(calls.Total(), 0);
}

TEST_P(RunnerMapTest, AReduceOfTheMapItselfFoldsTheElements) {
  auto wf = *Workflow::Builder("count", 1).Map("each").Reduce("total", "each", "each", 0, Sum()).Build();
  StartAndFinish("c", wf, Value::array({5, 5, 7}));
  EXPECT_EQ((*runner_->GetResults("c"))["total"], Value::array({17}));
}

TEST_P(RunnerMapTest, ASkippedElementAddsNothing) {
  auto wf = *Workflow::Builder("odd", 1)
                 .Map("each")
                 .Step(
                     "keep_odd",
                     [](const Value& v, std::stop_token) -> Result<Value> {
                       if (v.get<int>() % 2 == 0) return Status::InvalidArgument("even");
                       return v;
                     },
                     "each")
                 .Policy("keep_odd", StepPolicy{.on_failure = OnFailure::kSkip})
                 .Reduce("sum", "each", "keep_odd", 0, Sum())
                 .Build();
  StartAndFinish("o", wf, Value::array({1, 2, 3, 4, 5}));
  EXPECT_EQ((*runner_->GetResults("o"))["sum"], Value::array({9}));
  EXPECT_EQ(runner_->Lookup("o")->state, WorkflowState::kIdle);
}

TEST_P(RunnerMapTest, AHaltedElementHaltsTheWorkflowAndRetryRunsItAgain) {
  std::atomic<int> failures_left{1};
  CallCounts calls;
  auto wf = *Workflow::Builder("flaky", 1)
                 .Map("each")
                 .Step(
                     "work",
                     [&](const Value& v, std::stop_token) -> Result<Value> {
                       calls.Add(v);
                       if (v.get<int>() == 3 && failures_left.fetch_sub(1) > 0) return Status::Unavailable("down");
                       return Value(v.get<int>() * 10);
                     },
                     "each")
                 .Reduce("sum", "each", "work", 0, Sum())
                 .Build();
  StartAndFinish("f", wf, Value::array({1, 2, 3, 4}));
  Result<WorkflowInfo> info = runner_->Lookup("f");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, WorkflowState::kHalted);
  EXPECT_EQ((*runner_->GetResults("f")).count("sum"), 0u);  // the reduce waits for every element
  ASSERT_TRUE(runner_->Retry("f").ok());
  ASSERT_EQ(AwaitState("f", WorkflowState::kIdle), WorkflowState::kIdle);
  EXPECT_EQ((*runner_->GetResults("f"))["sum"], Value::array({100}));
  EXPECT_EQ(calls.Of(3), 2);
  EXPECT_EQ(calls.Of(1), 1);
}

TEST_P(RunnerMapTest, AHaltedReduceIsRetried) {
  std::atomic<int> failures_left{1};
  auto wf = *Workflow::Builder("fold", 1)
                 .Map("each")
                 .Reduce("sum", "each", "each", 0,
                         [&](Value acc, const Value& v) -> Result<Value> {
                           if (failures_left.fetch_sub(1) > 0) return Status::Unavailable("not yet");
                           return Value(acc.get<int>() + v.get<int>());
                         })
                 .Build();
  StartAndFinish("r", wf, Value::array({1, 2}));
  EXPECT_EQ(runner_->Lookup("r")->state, WorkflowState::kHalted);
  ASSERT_TRUE(runner_->Retry("r").ok());
  ASSERT_EQ(AwaitState("r", WorkflowState::kIdle), WorkflowState::kIdle);
  EXPECT_EQ((*runner_->GetResults("r"))["sum"], Value::array({3}));
}

TEST_P(RunnerMapTest, NestedMapsAndAJoinInABranch) {
  // For each row: sum its cells (inner map), and pair the row's sum with
  // its length (a join of two nodes of the row's branch); the outer reduce
  // adds the pairs' products.
  auto wf =
      *Workflow::Builder("grid", 1)
           .Map("rows")
           .Map("cells", "rows")
           .Reduce("row_sum", "cells", "cells", 0, Sum())
           .Step(
               "row_len", [](const Value& row, std::stop_token) -> Result<Value> { return Value(row.size()); }, "rows")
           .Join("product", {"row_sum", "row_len"},
                 [](const std::vector<Value>& in, std::stop_token) -> Result<Value> {
                   return Value(in[0].get<std::int64_t>() * in[1].get<std::int64_t>());
                 })
           .Reduce("total", "rows", "product", 0, Sum())
           .Build();
  StartAndFinish("g", wf, Value::array({Value::array({1, 2}), Value::array(), Value::array({3, 3, 3})}));
  Result<WorkflowResults> r = runner_->GetResults("g");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<int> row_sums;  // in production order
  for (const Value& v : (*r)["row_sum"]) row_sums.push_back(v.get<int>());
  std::sort(row_sums.begin(), row_sums.end());
  EXPECT_EQ(row_sums, (std::vector<int>{0, 3, 9}));
  EXPECT_EQ((*r)["total"], Value::array({3 * 2 + 0 + 9 * 3}));
}

TEST_P(RunnerMapTest, WhatAMapCannotTakeIsRefused) {
  auto wf = *Workflow::Builder("plain", 1).Map("each").Reduce("sum", "each", "each", 0, Sum()).Build();
  ASSERT_TRUE(runner_->Register(wf).ok());
  StartOptions start;
  start.input = Value{{"not", "an array"}};
  Status s = runner_->StartWorkflow("p", wf, std::nullopt, start);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find("map 'each'"), std::string::npos) << s.ToString();
  EXPECT_FALSE(runner_->Lookup("p").ok());  // nothing recorded
  ASSERT_TRUE(runner_->StartWorkflow("p", wf).ok());
  s = runner_->Run("p", 7);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(runner_->Lookup("p")->facts, 0u);

  // A map whose function returns something else fails, not retried.
  std::atomic<int> calls{0};
  auto bad = *Workflow::Builder("bad", 1)
                  .Map("split",
                       [&calls](const Value&, std::stop_token) -> Result<Value> {
                         ++calls;
                         return Value("text");
                       })
                  .Policy("split", StepPolicy{.max_retries = 3})
                  .Build();
  StartAndFinish("b", bad, 1);
  Result<WorkflowInfo> info = runner_->Lookup("b");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, WorkflowState::kHalted);
  EXPECT_EQ(info->error.code(), Status::Code::kInvalidArgument) << info->error.ToString();
  EXPECT_NE(info->error.message().find("needs an array"), std::string::npos) << info->error.ToString();
  EXPECT_EQ(calls.load(), 1);

  if (!has_store()) return;
  // An array over the store's value limit fails the map like any value.
  const std::size_t limit = store_->limits().max_value_bytes;
  auto big = *Workflow::Builder("big", 1)
                  .Map("split",
                       [limit](const Value&, std::stop_token) -> Result<Value> {
                         return Value::array({std::string(limit, 'x')});
                       })
                  .Build();
  StartAndFinish("x", big, 1);
  info = runner_->Lookup("x");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, WorkflowState::kHalted);
  EXPECT_NE(info->error.message().find("over the store's limit"), std::string::npos) << info->error.ToString();
}

TEST_P(RunnerMapTest, AfterARestartOnlyTheUnfinishedElementsRun) {
  if (!has_store()) GTEST_SKIP() << "a restart needs a store";
  // Elements below 5 finish; the others block until the workflow is stopped.
  CallCounts calls;
  std::atomic<bool> hold{true};
  auto make = [&] {
    return *Workflow::Builder("held", 1)
                .Map("each")
                .Step(
                    "work",
                    [&](const Value& v, const StepContext& ctx) -> Result<Value> {
                      calls.Add(v);
                      while (v.get<int>() >= 5 && hold && !ctx.stop.stop_requested()) std::this_thread::sleep_for(1ms);
                      if (ctx.stop.stop_requested()) return Status::Cancelled("stopped");
                      return Value(v.get<int>() + 100);
                    },
                    "each")
                .Reduce("sum", "each", "work", 0, Sum())
                .Build();
  };
  auto wf = make();
  ASSERT_TRUE(runner_->Register(wf).ok());
  StartOptions start;
  start.input = Value::array({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  WorkflowOptions options;
  options.max_concurrency = 3;
  ASSERT_TRUE(runner_->StartWorkflow("h", wf, options, start).ok());
  for (int i = 0; i < 5000 && (*runner_->GetResults("h"))["work"].size() < 5; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ((*runner_->GetResults("h"))["work"].size(), 5u);
  ASSERT_TRUE(runner_->Stop("h").ok());
  hold = false;
  RestartAt(kT0, wf, "h");
  ASSERT_TRUE(runner_->AwaitIdle("h", 60s).ok());
  Result<WorkflowResults> r = runner_->GetResults("h");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["sum"], Value::array({45 + 1000}));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(calls.Of(i), 1) << "element " << i << " was done before the restart";
  for (int i = 5; i < 10; ++i) EXPECT_GE(calls.Of(i), 1) << i;
  // The elements cut by the stop ran again; those never started ran once.
  EXPECT_LE(calls.Total(), 10 + 3);
}

TEST_P(RunnerMapTest, ALargeMapFinishesWithEachElementDoneOnce) {
  CallCounts calls;
  WorkflowOptions options;
  options.max_concurrency = 64;
  StartAndFinish("big", SumOfSquares(&calls), kLargeMap, options);
  Result<WorkflowResults> r = runner_->GetResults("big");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)["sum"], Value::array({SquaresBelow(kLargeMap)}));
  EXPECT_EQ(calls.Total(), kLargeMap);
  if (!has_store()) return;
  // And a fresh read of the store agrees.
  Result<WorkflowHistory> h = ReadHistory(*store_, "big");
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->results["sum"], (*r)["sum"]);
  EXPECT_EQ(h->completed, static_cast<std::uint64_t>(kLargeMap) + 3);
}

INSTANTIATE_TEST_SUITE_P(Engines, RunnerMapTest, ::testing::ValuesIn(kWaitEngines),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(MapBuild, MistakesAreRefusedWithAClearError) {
  auto step = [](const Value& v, std::stop_token) -> Result<Value> { return v; };
  auto message = [](const Workflow::Builder& b) {
    Result<std::shared_ptr<const Workflow>> wf = b.Build();
    EXPECT_EQ(wf.status().code(), Status::Code::kInvalidArgument);
    return wf.status().message();
  };
  EXPECT_NE(
      message(Workflow::Builder("a", 1).Step("s", step).Reduce("r", "nope", "s", 0, Sum())).find("not an earlier map"),
      std::string::npos);
  EXPECT_NE(
      message(Workflow::Builder("a", 1).Step("s", step).Reduce("r", "s", "s", 0, Sum())).find("not an earlier map"),
      std::string::npos);
  EXPECT_NE(message(Workflow::Builder("a", 1).Map("m").Step("out", step).Reduce("r", "m", "out", 0, Sum()))
                .find("not map 'm' or a node in its branch"),
            std::string::npos);
  EXPECT_NE(
      message(
          Workflow::Builder("a", 1).Map("m").Step("in", step, "m").Step("out", step).Join("j", {"in", "out"}, nullptr))
          .find("no function"),
      std::string::npos);
  EXPECT_NE(message(Workflow::Builder("a", 1)
                        .Map("m")
                        .Step("in", step, "m")
                        .Step("out", step)
                        .Join("j", {"in", "out"},
                              [](const std::vector<Value>& v, std::stop_token) -> Result<Value> { return v[0]; }))
                .find("different maps' branches"),
            std::string::npos);
  EXPECT_NE(message(Workflow::Builder("a", 1).Map("m").Policy("m", StepPolicy{.fallback = Value(1)}))
                .find("fallback that is not an array"),
            std::string::npos);
  EXPECT_NE(message(Workflow::Builder("a", 1).Map("m").Reduce("r", "m", "m", 0, nullptr)).find("no function"),
            std::string::npos);
  // A reduce's output is outside the map: it joins with what is outside.
  EXPECT_TRUE(
      Workflow::Builder("a", 1)
          .Map("m")
          .Reduce("r", "m", "m", 0, Sum())
          .Step("out", step)
          .Join("j", {"r", "out"}, [](const std::vector<Value>& v, std::stop_token) -> Result<Value> { return v[0]; })
          .Build()
          .ok());
}

}  // namespace
}  // namespace runic
