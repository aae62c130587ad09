// Two Runner processes on etcd and durable waits: runner B (this process)
// signals, pauses and cancels workflows that runner A (waits_owner_helper,
// another process) owns; A applies each once. Then A is SIGKILLed, B sends
// more while nobody holds them, takes them over once A's lease expired, and
// every signal and control is applied exactly once: each signal kept once
// in its workflow's history (its repeats dropped), each paid workflow
// charged once (none that A charged is charged again by B), the paused one
// paused until B unpauses it, the cancelled one cancelled for good.
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "child_process.h"
#include "runic/runic.h"
#include "shared_etcd_cluster.h"

#ifndef RUNIC_WAITS_OWNER_HELPER
#error "RUNIC_WAITS_OWNER_HELPER must name the waits_owner_helper executable"
#endif

namespace runic {
namespace {

using namespace std::chrono_literals;
using test::ChildProcess;
using Clock = std::chrono::steady_clock;

constexpr int kWorkflows = 5;

std::string Id(int i) { return "p-" + std::to_string(i); }

// Polls (bounded) until the history of `id` satisfies `ready`.
bool AwaitHistory(Store& store, const std::string& id, const std::function<bool(const WorkflowHistory&)>& ready) {
  for (int i = 0; i < 3000; ++i) {
    Result<WorkflowHistory> h = ReadHistory(store, id);
    if (h.ok() && ready(*h)) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

// The signal events of `id`'s history: recorded and kept, or dropped.
int SignalEvents(Store& store, const std::string& id, bool dropped) {
  HistoryReadOptions read;
  read.events = true;
  Result<WorkflowHistory> h = ReadHistory(store, id, read);
  int count = 0;
  if (h.ok()) {
    for (const HistoryEvent& e : h->events)
      count += e.kind == HistoryEventKind::kSignal && e.dropped.empty() != dropped;
  }
  return count;
}
int KeptSignals(Store& store, const std::string& id) { return SignalEvents(store, id, /*dropped=*/false); }

TEST(RunnerWaitsTakeover, SignalsAndControlsFromAnotherProcessApplyOnceAcrossAKillAndATakeover) {
  const std::string uri = test::SharedEtcdCluster().Uri("lease_ttl_ms=2000&linearizable=1");
  const std::string db_uri =
      uri.substr(0, uri.find('?')) + "/waitstakeover" + std::to_string(::getpid()) + uri.substr(uri.find('?'));
  auto a = ChildProcess::Start(RUNIC_WAITS_OWNER_HELPER, {db_uri, std::to_string(kWorkflows)});
  ASSERT_NE(a, nullptr);
  std::string line;
  std::vector<std::string> a_lines;
  while (a->ReadLine(&line, Clock::now() + 60s) && line != "started") a_lines.push_back(line);
  ASSERT_EQ(line, "started");

  Result<std::shared_ptr<Database>> db = Database::OpenUri(db_uri);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  Result<std::unique_ptr<Store>> opened = (*db)->OpenStore("payments");
  ASSERT_TRUE(opened.ok());
  Store& store = **opened;
  std::atomic<int> charged_here{0};
  RunnerOptions options;
  options.name = "B";
  options.store = &store;
  options.threads = 2;
  std::unique_ptr<Runner> b = std::move(*Runner::Create(std::move(options)));
  auto wf = *Workflow::Builder("payment", 1)
                 .Await("pay", "payment")
                 .Step(
                     "charge",
                     [&](const Value& v, std::stop_token) -> Result<Value> {
                       ++charged_here;
                       return v["signal"];
                     },
                     "pay")
                 .Build();
  ASSERT_TRUE(b->Register(wf).ok());

  // While A owns them: p-1 and p-2 paid (each twice, one key), p-3 paused,
  // p-4 cancelled; p-5 left waiting.
  for (int i : {1, 2}) {
    for (int k = 0; k < 2; ++k) ASSERT_TRUE(b->Signal(Id(i), "payment", i * 100, "pay-" + Id(i)).ok());
  }
  ASSERT_TRUE(b->Pause(Id(3)).ok());
  ASSERT_TRUE(b->Cancel(Id(4), "from B").ok());
  for (int i : {1, 2}) {
    EXPECT_TRUE(AwaitHistory(store, Id(i), [](const WorkflowHistory& h) { return h.results.count("charge") != 0; }))
        << Id(i) << " was not charged by A";
  }
  EXPECT_TRUE(AwaitHistory(store, Id(3), [](const WorkflowHistory& h) { return h.state == WorkflowState::kPaused; }));
  EXPECT_TRUE(
      AwaitHistory(store, Id(4), [](const WorkflowHistory& h) { return h.state == WorkflowState::kCancelled; }));
  EXPECT_EQ(charged_here.load(), 0) << "B ran a step of a workflow A owns";

  // A dies; B sends while nobody holds the workflows, then takes them over.
  a->Kill();
  (void)a->Wait(Clock::now() + 10s);
  ASSERT_TRUE(b->Signal(Id(5), "payment", 500, "pay-" + Id(5)).ok());
  ASSERT_TRUE(b->Signal(Id(1), "payment", 100, "pay-" + Id(1)).ok()) << "a retry of a payment applied before";
  ASSERT_TRUE(b->Unpause(Id(3)).ok());
  EXPECT_TRUE(b->Signal(Id(4), "payment", 1).IsFailedPrecondition()) << "cancelled: its inbox is closed";
  bool taken = false;
  for (int round = 0; round < 100 && !taken; ++round) {
    Result<ResumeAllReport> report = b->ResumeAll();
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    ASSERT_TRUE(report->failed.empty()) << report->failed[0].status.ToString();
    taken = report->owned_elsewhere.empty();
    if (!taken) std::this_thread::sleep_for(200ms);
  }
  ASSERT_TRUE(taken) << "A's lease never expired";
  for (int i : {3, 5}) {
    for (int k = 0; k < 3000 && !b->Lookup(Id(i)).ok(); ++k) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(b->Signal(Id(3), "payment", 300, "pay-" + Id(3)).ok());
  for (int i : {3, 5}) {
    EXPECT_TRUE(AwaitHistory(store, Id(i), [](const WorkflowHistory& h) { return h.state == WorkflowState::kIdle; }))
        << Id(i) << " did not finish after the takeover";
  }
  // The repeat of p-1's payment is recorded, dropped (A dropped the first
  // repeat before it died): two dropped signal events.
  for (int k = 0; k < 3000 && SignalEvents(store, Id(1), /*dropped=*/true) < 2; ++k) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(SignalEvents(store, Id(1), /*dropped=*/true), 2) << "the repeat sent after the kill was not recorded";
  for (int i : {1, 2, 3, 5}) {
    Result<WorkflowHistory> h = ReadHistory(store, Id(i));
    ASSERT_TRUE(h.ok()) << h.status().ToString();
    EXPECT_EQ(h->results["charge"], std::vector<Value>{Value(i * 100)}) << Id(i);
    EXPECT_EQ(KeptSignals(store, Id(i)), 1) << Id(i) << ": a signal applied twice or lost";
  }
  EXPECT_EQ(charged_here.load(), 2) << "B charged only what A had not (p-3, p-5)";
  EXPECT_EQ(ReadHistory(store, Id(4))->state, WorkflowState::kCancelled);
  b.reset();
}

}  // namespace
}  // namespace runic
