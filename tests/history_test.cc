// runic/history.h: reading stored workflows (typed events, state, inputs,
// results, the stored definition and its graph), and resuming histories that
// earlier releases wrote (tests/data/history_v*.txt).
#include "runic/history.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "history_data.h"
#include "history_fixture.h"
#include "runic/runic.h"
#include "test_util.h"

namespace runic {
namespace {

using namespace std::chrono_literals;
using test::FixtureMode;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The runner's store on the memory or the disk engine.
class HistoryTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    DatabaseOptions o;
    o.disc_copies = GetParam();
    o.dir = GetParam() ? dir_.Sub("db") : "history-test-" + std::to_string(::getpid()) + "-" + Name();
    db_ = *Database::Open(o);
    store_ = std::move(*db_->OpenStore("history"));
  }

  static std::string Name() { return ::testing::UnitTest::GetInstance()->current_test_info()->name(); }

  std::unique_ptr<Runner> MakeRunner() {
    RunnerOptions o;
    o.store = store_.get();
    o.threads = 2;
    auto runner = std::move(*Runner::Create(std::move(o)));
    EXPECT_TRUE(runner->Register(test::FixtureOrders(FixtureMode::kResuming)).ok());
    EXPECT_TRUE(runner->Register(test::FixtureFragile(FixtureMode::kResuming)).ok());
    return runner;
  }

  WorkflowHistory Read(const std::string& id, HistoryReadOptions options = {}) {
    Result<WorkflowHistory> h = ReadHistory(*store_, id, options);
    EXPECT_TRUE(h.ok()) << h.status().ToString();
    return h.ok() ? *h : WorkflowHistory{};
  }

  test::TempDir dir_;
  std::shared_ptr<Database> db_;
  std::unique_ptr<Store> store_;
};

// The fixture's data of the first format (before definition structures were
// stored): each workflow reads as what it was, and resumes.
TEST_P(HistoryTest, HistoriesOfTheFirstFormatReadAndResume) {
  const std::string text = ReadFile(std::string(RUNIC_TEST_DATA) + "/history_v1.txt");
  ASSERT_FALSE(text.empty());
  ASSERT_TRUE(test::LoadStore(text, *store_).ok());

  WorkflowHistory complete = Read("complete");
  EXPECT_EQ(complete.state, WorkflowState::kIdle);
  EXPECT_EQ(complete.definition.name, "orders");
  EXPECT_EQ(complete.definition.version, 1);
  EXPECT_EQ(complete.definition.fingerprint, test::FixtureOrders(FixtureMode::kResuming)->fingerprint());
  EXPECT_FALSE(complete.definition.nodes.has_value());  // not stored by that release
  ASSERT_EQ(complete.inputs.size(), 2u);
  EXPECT_EQ(complete.inputs[0]["order"], "A-1");
  EXPECT_EQ(complete.results["receipt"].size(), 2u);
  ASSERT_EQ(complete.results["audit"].size(), 1u);  // only the big order
  EXPECT_EQ(complete.results["audit"][0]["audited"], "A-1");
  EXPECT_EQ(complete.idempotency_keys, (std::vector<std::string>{"input-1", "start-complete"}));
  ASSERT_TRUE(complete.options.has_value());
  EXPECT_TRUE(complete.waiting_for.empty());

  WorkflowHistory snapshotted = Read("snapshotted");
  EXPECT_EQ(snapshotted.state, WorkflowState::kIdle);
  EXPECT_EQ(snapshotted.snapshot_cursor, 22u);
  EXPECT_EQ(snapshotted.results["receipt"].size(), 2u);
  EXPECT_EQ(snapshotted.options->snapshot_every, 4u);

  WorkflowHistory halted = Read("halted");
  EXPECT_EQ(halted.state, WorkflowState::kHalted);
  EXPECT_TRUE(halted.halt_error.IsIOError()) << halted.halt_error.ToString();
  EXPECT_NE(halted.halt_error.message().find("attempt 2"), std::string::npos) << halted.halt_error.ToString();
  ASSERT_EQ(halted.waiting_for.size(), 1u);
  EXPECT_EQ(halted.waiting_for[0].node, "fail");
  EXPECT_EQ(halted.waiting_for[0].failed_attempts, 2);

  WorkflowHistory stopped = Read("stopped");
  EXPECT_EQ(stopped.state, WorkflowState::kRunning);
  ASSERT_EQ(stopped.waiting_for.size(), 1u);
  EXPECT_EQ(stopped.waiting_for[0].node, "slow");
  EXPECT_EQ(stopped.results.count("slow"), 0u);

  // Resumed by this release: the one with work left finishes; nothing done
  // runs again; the halted one stays halted.
  // They are not in the state index (written before it): ResumeAll finds
  // them only when asked to look at every workflow.
  auto runner = MakeRunner();
  Result<ResumeAllReport> report = runner->ResumeAll();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->resumed.empty());
  ResumeAllOptions scan;
  scan.scan_unindexed = true;
  report = runner->ResumeAll(scan);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->failed.empty()) << report->failed[0].status.ToString();
  EXPECT_EQ(report->resumed, (std::vector<std::string>{"stopped"}));
  ASSERT_TRUE(runner->AwaitIdle("stopped", 20s).ok());
  EXPECT_EQ(runner->GetResults("stopped")->at("slow").size(), 1u);
  EXPECT_EQ(runner->Lookup("stopped")->redispatched, 1u);

  ASSERT_TRUE(runner->Resume("complete").ok());
  EXPECT_TRUE(runner->Run("complete", Value{{"order", "A-2"}, {"amount", 10}}, "input-1").ok());  // seen: not again
  ASSERT_TRUE(runner->Run("complete", Value{{"order", "A-3"}, {"amount", 7}}).ok());
  ASSERT_TRUE(runner->AwaitIdle("complete", 20s).ok());
  EXPECT_EQ(runner->GetResults("complete")->at("receipt").size(), 3u);

  ASSERT_TRUE(runner->Resume("snapshotted").ok());
  ASSERT_TRUE(runner->Run("snapshotted", Value{{"order", "S-3"}, {"amount", 1000}}).ok());
  ASSERT_TRUE(runner->AwaitIdle("snapshotted", 20s).ok());
  EXPECT_EQ(runner->GetResults("snapshotted")->at("audit").size(), 2u);

  ASSERT_TRUE(runner->Resume("halted").ok());
  EXPECT_EQ(runner->Lookup("halted")->state, WorkflowState::kHalted);
  EXPECT_TRUE(runner->Run("halted", Value{{"fail", false}}).IsFailedPrecondition());
  runner->Shutdown();

  // Resuming stored the structures: the workflows can be drawn now.
  WorkflowHistory after = Read("stopped");
  EXPECT_EQ(after.state, WorkflowState::kIdle);
  ASSERT_TRUE(after.definition.nodes.has_value());
  EXPECT_EQ(after.definition.nodes->size(), 2u);
  EXPECT_EQ(Read("complete").results["receipt"].size(), 3u);
}

TEST_P(HistoryTest, ReadsTypedEventsStateAndTheStoredDefinition) {
  auto runner = MakeRunner();
  WorkflowOptions options;
  options.max_concurrency = 3;
  StartOptions start;
  start.input = Value{{"order", "B-1"}, {"amount", 300}};
  start.idempotency_key = "first";
  ASSERT_TRUE(runner->StartWorkflow("b", test::FixtureOrders(FixtureMode::kResuming), options, start).ok());
  ASSERT_TRUE(runner->AwaitIdle("b", 20s).ok());

  HistoryReadOptions read;
  read.events = true;
  WorkflowHistory h = Read("b", read);
  EXPECT_EQ(h.state, WorkflowState::kIdle);
  EXPECT_EQ(h.results, *runner->GetResults("b"));
  EXPECT_EQ(h.completed, 5u);
  EXPECT_EQ(h.cursor, runner->Lookup("b")->cursor);
  ASSERT_FALSE(h.events.empty());
  const HistoryEvent& first = h.events.front();
  EXPECT_EQ(first.kind, HistoryEventKind::kStart);
  EXPECT_EQ(first.sequence, 1u);
  EXPECT_EQ(first.definition, "orders");
  EXPECT_EQ(first.idempotency_key, "first");
  ASSERT_TRUE(first.options.has_value());
  EXPECT_EQ(first.options->max_concurrency, 3u);
  EXPECT_GT(first.at_us, 1'600'000'000'000'000);  // wall time, UTC microseconds
  EXPECT_EQ(h.events[1].kind, HistoryEventKind::kInput);
  int done = 0, dispatched = 0;
  for (const HistoryEvent& e : h.events) {
    if (e.kind == HistoryEventKind::kDispatch) {
      ++dispatched;
      EXPECT_EQ(e.attempt, 1);
    }
    if (e.kind != HistoryEventKind::kDone) continue;
    ++done;
    EXPECT_FALSE(e.runnable.empty());
    EXPECT_FALSE(e.fact.empty()) << e.node;  // every node produced something here
    EXPECT_FALSE(e.parents.empty()) << e.node;
  }
  EXPECT_EQ(done, 5);
  EXPECT_EQ(dispatched, 5);

  ASSERT_TRUE(h.definition.nodes.has_value());
  const std::vector<NodeStructure>& nodes = *h.definition.nodes;
  ASSERT_EQ(nodes.size(), 5u);
  EXPECT_EQ(nodes[0].name, "validate");
  EXPECT_TRUE(nodes[0].parents.empty());
  EXPECT_EQ(nodes[1].policy.max_retries, 1);
  EXPECT_EQ(nodes[3].kind, Workflow::NodeKind::kRule);
  EXPECT_EQ(nodes[4].kind, Workflow::NodeKind::kJoin);
  EXPECT_EQ(nodes[4].parents, (std::vector<std::string>{"charge", "ship"}));
}

TEST_P(HistoryTest, GraphsInDotAndMermaid) {
  auto runner = MakeRunner();
  ASSERT_TRUE(runner->StartWorkflow("g", test::FixtureOrders(FixtureMode::kResuming)).ok());
  StoredDefinition def = Read("g").definition;
  Result<std::string> dot = RenderGraph(def, GraphFormat::kDot);
  ASSERT_TRUE(dot.ok()) << dot.status().ToString();
  EXPECT_EQ(dot->rfind("digraph \"orders v1\" {", 0), 0u) << *dot;
  EXPECT_NE(dot->find("inputs -> n0;"), std::string::npos) << *dot;
  EXPECT_NE(dot->find("n1 -> n4;"), std::string::npos) << *dot;  // charge -> receipt
  EXPECT_NE(dot->find("n4 [shape=diamond, label=\"receipt (join)\"]"), std::string::npos) << *dot;
  EXPECT_NE(dot->find("charge (step, retries 1)"), std::string::npos) << *dot;
  Result<std::string> mermaid = RenderGraph(def, GraphFormat::kMermaid);
  ASSERT_TRUE(mermaid.ok());
  EXPECT_EQ(mermaid->rfind("flowchart LR\n", 0), 0u) << *mermaid;
  EXPECT_NE(mermaid->find("n3{{\"audit (rule)\"}}"), std::string::npos) << *mermaid;
  EXPECT_NE(mermaid->find("n0 --> n3"), std::string::npos) << *mermaid;

  def.nodes.reset();
  EXPECT_TRUE(RenderGraph(def, GraphFormat::kDot).status().IsFailedPrecondition());
}

TEST_P(HistoryTest, WhatDoesNotDecodeIsAClearError) {
  EXPECT_TRUE(ReadHistory(*store_, "nobody").status().IsNotFound());

  auto runner = MakeRunner();
  const auto orders = test::FixtureOrders(FixtureMode::kResuming);
  ASSERT_TRUE(runner->StartWorkflow("c", orders).ok());
  ASSERT_TRUE(runner->Stop("c").ok());
  const std::string garbage = "\xa1\x61t\x63zap";  // {"t": "zap"}
  ASSERT_TRUE(store_->Append("c", {std::string_view(garbage)}).ok());
  Status s = ReadHistory(*store_, "c").status();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("workflow 'c'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("event 2"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("unknown event type 'zap'"), std::string::npos) << s.ToString();

  // The Runner's resume reads through the same decoder.
  Status resumed = runner->Resume("c");
  EXPECT_TRUE(resumed.IsCorruption()) << resumed.ToString();

  // A field of the wrong type; not CBOR at all.
  EXPECT_TRUE(DecodeHistoryEvent(1,
                                 "\xa2\x61t\x68"
                                 "dispatch\x61r\x01")
                  .status()
                  .IsCorruption());
  EXPECT_TRUE(DecodeHistoryEvent(1, "\xff\x00").status().IsCorruption());
  EXPECT_TRUE(DecodeHistoryEvent(1, "").status().IsCorruption());

  // A structure whose bytes are not what its fingerprint says.
  ASSERT_TRUE(store_->SaveFact(orders->fingerprint(), "\x80").ok());
  Status structure = LoadDefinitionStructure(*store_, orders->fingerprint()).status();
  EXPECT_TRUE(structure.IsCorruption()) << structure.ToString();
  EXPECT_TRUE(LoadDefinitionStructure(*store_, std::string(64, '0')).status().IsNotFound());
}

// Bytes nested deeper than any value the Runner writes are refused before
// the (recursive) decoder could exhaust the stack; every mutation of a real
// event decodes or is refused, never crashes.
TEST_P(HistoryTest, DeepOrMutatedBytesAreRefusedNotACrash) {
  std::string deep(200000, '\x81');  // [[[[...]]]]
  deep += '\x00';
  Status s = DecodeStoredValue(deep).status();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_TRUE(DecodeHistoryEvent(1, deep).status().IsCorruption());
  std::string indefinite(100000, '\x9f');  // indefinite-length arrays
  EXPECT_TRUE(DecodeStoredValue(indefinite).status().IsCorruption());
  // An array that says it holds 2^63 items (the decoder throws for this even
  // when told not to).
  EXPECT_TRUE(DecodeStoredValue(std::string("\x9b\x7f\xff\xff\xff\xff\xff\xff\xff\x00", 10)).status().IsCorruption());
  std::string shallow(kMaxValueDepth, '\x81');
  shallow += '\x00';
  EXPECT_TRUE(DecodeStoredValue(shallow).ok());

  auto runner = MakeRunner();
  Value nested = 1;
  for (std::size_t i = 0; i < kMaxValueDepth + 1; ++i) nested = Value::array({nested});
  StartOptions start;
  start.input = nested;
  Status refused = runner->StartWorkflow("deep", test::FixtureOrders(FixtureMode::kResuming), std::nullopt, start);
  EXPECT_TRUE(refused.IsInvalidArgument()) << refused.ToString();
  EXPECT_TRUE(ReadHistory(*store_, "deep").status().IsNotFound()) << "nothing written";

  ASSERT_TRUE(runner->StartWorkflow("m", test::FixtureOrders(FixtureMode::kResuming)).ok());
  ASSERT_TRUE(runner->Run("m", Value{{"order", "M-1"}, {"amount", 150}, {"fail_first", true}}).ok());
  ASSERT_TRUE(runner->AwaitIdle("m", 20s).ok());
  runner->Shutdown();
  Result<std::unique_ptr<EventIterator>> it = store_->Stream("m");
  ASSERT_TRUE(it.ok());
  int decoded = 0, refused_events = 0;
  for (; (*it)->Valid(); (*it)->Next()) {
    const std::string bytes((*it)->value());
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      for (int bit : {0, 3, 7}) {
        std::string mutated = bytes;
        mutated[i] = static_cast<char>(mutated[i] ^ (1 << bit));
        Result<HistoryEvent> e = DecodeHistoryEvent((*it)->sequence(), mutated);
        if (e.ok()) {
          ++decoded;
        } else {
          EXPECT_TRUE(e.status().IsCorruption()) << e.status().ToString();
          ++refused_events;
        }
      }
      Result<HistoryEvent> cut = DecodeHistoryEvent((*it)->sequence(), std::string_view(bytes).substr(0, i));
      EXPECT_TRUE(cut.status().IsCorruption()) << "a cut event decoded: " << i << " of " << bytes.size();
    }
  }
  EXPECT_GT(refused_events, 0);
  EXPECT_GT(decoded, 0);  // a flipped bit inside a string still decodes
}

// The store's state index follows each history: written with the events
// that change the state, listed by Runner::ListStoredWorkflows whether
// loaded or not.
TEST_P(HistoryTest, TheStoresStateIndexFollowsEachHistory) {
  auto passes = *Workflow::Builder("passes", 3)
                     .Step("s", [](const Value& v, std::stop_token) -> Result<Value> { return v; })
                     .Build();
  auto breaks = *Workflow::Builder("breaks", 1)
                     .Step("s", [](const Value&, std::stop_token) -> Result<Value> { return Status::IOError("no"); })
                     .Build();
  StartOptions start;
  start.input = Value{{"n", 1}};
  {
    auto runner = MakeRunner();
    for (const char* id : {"p-1", "p-2", "q-1"}) {
      ASSERT_TRUE(runner->StartWorkflow(id, passes, std::nullopt, start).ok());
      ASSERT_TRUE(runner->AwaitIdle(id, 20s).ok());
    }
    ASSERT_TRUE(runner->StartWorkflow("b-1", breaks, std::nullopt, start).ok());
    ASSERT_TRUE(runner->AwaitIdle("b-1", 20s).ok());
    ASSERT_EQ(runner->Lookup("b-1")->state, WorkflowState::kHalted);
    runner->Shutdown();
  }
  auto runner = MakeRunner();  // loads nothing: the index is the store's
  auto ids = [&](StoredWorkflowQuery q) {
    std::vector<std::string> out;
    for (int page = 0; page < 10; ++page) {
      Result<StoredWorkflowPage> p = runner->ListStoredWorkflows(q);
      EXPECT_TRUE(p.ok()) << p.status().ToString();
      if (!p.ok()) break;
      for (const StoredWorkflow& w : p->workflows) {
        out.push_back(std::string(WorkflowStateName(w.state)) + " " + w.definition + "@" + std::to_string(w.version) +
                      " " + w.id);
      }
      if (p->next.empty()) break;
      q.start_after = p->next;
    }
    return out;
  };
  EXPECT_EQ(ids({}), (std::vector<std::string>{"halted breaks@1 b-1", "idle passes@3 p-1", "idle passes@3 p-2",
                                               "idle passes@3 q-1"}));
  StoredWorkflowQuery idle;
  idle.state = WorkflowState::kIdle;
  idle.limit = 1;
  EXPECT_EQ(ids(idle).size(), 3u) << "pages of one";
  idle.definition = "passes";
  idle.version = 3;
  idle.prefix = "p-";
  EXPECT_EQ(ids(idle), (std::vector<std::string>{"idle passes@3 p-1", "idle passes@3 p-2"}));
  StoredWorkflowQuery halted;
  halted.state = WorkflowState::kHalted;
  EXPECT_EQ(ids(halted), (std::vector<std::string>{"halted breaks@1 b-1"}));
  StoredWorkflowQuery by_definition;
  by_definition.definition = "breaks";
  EXPECT_EQ(ids(by_definition).size(), 1u);
  EXPECT_TRUE(runner->ListWorkflows().empty());
  // Each entry is what the history says.
  for (const char* id : {"p-1", "p-2", "q-1", "b-1"}) {
    WorkflowHistory h = Read(id, {.values = false, .events = false, .structure = false});
    EXPECT_EQ(store_->Describe(id)->state_tag, StateIndexTag(h.state, h.definition.name, h.definition.version)) << id;
  }
  StoredWorkflowQuery none;
  none.limit = 0;
  EXPECT_TRUE(runner->ListStoredWorkflows(none).status().IsInvalidArgument());
}

TEST(StateIndexTag, RoundTripsAndRefusesOtherTags) {
  std::optional<StateIndexEntry> e = ParseStateIndexTag(StateIndexTag(WorkflowState::kCancelled, "a/b@c", 12));
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->state, WorkflowState::kCancelled);
  EXPECT_EQ(e->definition, "a/b@c");
  EXPECT_EQ(e->version, 12);
  for (const char* bad : {"", "idle", "idle/", "idle/x", "idle/x@", "idle/@1", "bored/x@1", "idle/x@1y"}) {
    EXPECT_FALSE(ParseStateIndexTag(bad).has_value()) << bad;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, HistoryTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "disk" : "memory"; });

}  // namespace
}  // namespace runic
