// composition_crash_helper: the process composition_crash_test kills and
// resumes.
//
//   composition_crash_helper run URI DIR W N KIND     start W workflows, each a map of N elements
//   composition_crash_helper resume URI DIR W N KIND  resume them and run them to the end
//   composition_crash_helper check URI DIR W N KIND   print every broken invariant, then "checked W"
//
// URI is the database (disk with sync, or a database of its own on etcd);
// DIR holds the journals. Workflow "docs" v1, per workflow (input N):
//   chunks (map: 0..N-1) -> process (step, per element) -> sum (reduce) -> publish (step)
// process returns {"e": element, "sq": element^2}; sum adds the squares.
// KIND "saga": "process" has a compensation, and "publish" is an Await
// "approve" that never comes: the client cancels each workflow once it
// waits there (again after a kill: refused once applied), so every
// element's compensation runs, latest first.
// Steps journal "<id> process <e> ok", "<id> undo <e> ok" and "<id>
// publish ok" to DIR/journal.log after their function ran; `resume` writes
// "== resume <pid>" there and, under the same marker, to DIR/persisted.log
// what the store holds done. stdout: "progress N" after each completed
// step.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "crash_journal.h"
#include "helper_output.h"
#include "runic/runic.h"

namespace {

using runic::Result;
using runic::Status;
using runic::Value;
using runic::WorkflowState;
using namespace std::chrono_literals;
using runic::test::Say;
using runic::test::WriteAll;

constexpr const char* kRunner = "composition";
std::atomic<int> progress{0};

int Fail(const std::string& what, const Status& s) { return runic::test::Fail("composition_crash_helper", what, s); }

std::string Id(int i) { return "doc-" + std::to_string(i); }

std::int64_t SquaresBelow(std::int64_t n) { return (n - 1) * n * (2 * n - 1) / 6; }

// The compensations the store holds done for `id` (0 when unreadable).
std::size_t CompensationsDone(runic::Store& store, const std::string& id) {
  runic::HistoryReadOptions read;
  read.events = true;
  read.values = false;
  Result<runic::WorkflowHistory> h = runic::ReadHistory(store, id, read);
  if (!h.ok()) return 0;
  std::size_t n = 0;
  for (const runic::HistoryEvent& e : h->events) n += e.kind == runic::HistoryEventKind::kDone && e.compensation;
  return n;
}

struct Helper {
  bool saga = false;
  int journal_fd = -1;
  std::shared_ptr<runic::Database> db;
  std::unique_ptr<runic::Store> store;
  std::unique_ptr<runic::Runner> runner;
  std::shared_ptr<const runic::Workflow> workflow;

  ~Helper() {
    runner.reset();
    if (journal_fd >= 0) ::close(journal_fd);
  }

  Status Open(const std::string& uri, const std::string& dir) {
    Result<std::shared_ptr<runic::Database>> opened = runic::Database::OpenUri(uri);
    if (!opened.ok()) return opened.status();
    db = *opened;
    Result<std::unique_ptr<runic::Store>> s = db->OpenStore(kRunner);
    if (!s.ok()) return s.status();
    store = std::move(*s);
    journal_fd = ::open((dir + "/journal.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (journal_fd < 0) return Status::IOError("cannot open the journal");
    workflow = Build();
    runic::RunnerOptions options;
    options.name = kRunner;
    options.store = store.get();
    options.threads = 4;
    options.telemetry.runnable_stop = [](const runic::RunnerTelemetry::Event&) {
      Say("progress " + std::to_string(++progress));
    };
    Result<std::unique_ptr<runic::Runner>> r = runic::Runner::Create(std::move(options));
    if (!r.ok()) return r.status();
    runner = std::move(*r);
    runic::WorkflowOptions defaults;
    defaults.max_concurrency = 8;
    return runner->Register(workflow, defaults);
  }

  std::shared_ptr<const runic::Workflow> Build() {
    using runic::StepContext;
    runic::Workflow::Builder b("docs", 1);
    b.Map("chunks",
          [](const Value& n, std::stop_token) -> Result<Value> {
            Value a = Value::array();
            for (int i = 0; i < n.get<int>(); ++i) a.push_back(i);
            return a;
          })
        .Step(
            "process",
            [this](const Value& e, const StepContext& ctx) -> Result<Value> {
              std::this_thread::sleep_for(200us);  // long enough for kills to land midway
              WriteAll(journal_fd, std::string(ctx.workflow_id) + " process " + e.dump() + " ok\n");
              return Value{{"e", e}, {"sq", e.get<std::int64_t>() * e.get<std::int64_t>()}};
            },
            "chunks")
        .Reduce("sum", "chunks", "process", 0, [](Value acc, const Value& v) -> Result<Value> {
          return Value(acc.get<std::int64_t>() + v["sq"].get<std::int64_t>());
        });
    if (saga) {
      b.Await("publish", "approve", "sum")
          .Compensate("process", [this](const Value& e, const Value&, const StepContext& ctx) -> Status {
            std::this_thread::sleep_for(200us);
            WriteAll(journal_fd, std::string(ctx.workflow_id) + " undo " + e.dump() + " ok\n");
            return Status::OK();
          });
    } else {
      b.Step(
          "publish",
          [this](const Value& sum, const StepContext& ctx) -> Result<Value> {
            WriteAll(journal_fd, std::string(ctx.workflow_id) + " publish ok\n");
            return sum;
          },
          "sum");
    }
    return *b.Build();
  }

  // Saga: cancels each workflow once it waits for its approval (refused
  // when it was applied before a kill).
  int CancelAll(int w) {
    if (!saga) return 0;
    for (int i = 1; i <= w; ++i) {
      WorkflowState state = WorkflowState::kRunning;
      for (int k = 0; k < 300000 && state == WorkflowState::kRunning; ++k) {
        Result<runic::WorkflowInfo> info = runner->Lookup(Id(i));
        if (info.ok()) state = info->state;
        if (state == WorkflowState::kRunning) std::this_thread::sleep_for(1ms);
      }
      Status s = runner->Cancel(Id(i), "crash test");
      if (!s.ok() && !s.IsFailedPrecondition()) return Fail("cancel " + Id(i), s);
    }
    return 0;
  }

  // Starts the W workflows with the key "start" (sent again after a kill:
  // applied once).
  Status StartAll(int w, int n) {
    for (int i = 1; i <= w; ++i) {
      runic::StartOptions start;
      start.input = n;
      start.idempotency_key = "start";
      Status s = runner->StartWorkflow(Id(i), workflow, std::nullopt, start);
      // On etcd a killed process's lease holds a workflow it was starting
      // for a while.
      for (int attempt = 0; s.IsNotOwner() && attempt < 300; ++attempt) {
        std::this_thread::sleep_for(100ms);
        s = runner->StartWorkflow(Id(i), workflow, std::nullopt, start);
      }
      if (s.IsConflict()) continue;  // loaded by ResumeAll
      if (!s.ok()) return s.Annotate("start " + Id(i));
    }
    return Status::OK();
  }

  int AwaitAll(int w) {
    for (int i = 1; i <= w; ++i) {
      if (Status s = runner->AwaitIdle(Id(i), 300s); !s.ok()) return Fail("await " + Id(i), s);
    }
    return 0;
  }
};

int Run(const std::string& uri, const std::string& dir, int w, int n, bool saga) {
  Helper h;
  h.saga = saga;
  if (Status s = h.Open(uri, dir); !s.ok()) return Fail("open", s);
  if (Status s = h.StartAll(w, n); !s.ok()) return Fail("start", s);
  Say("started");
  if (int code = h.CancelAll(w); code != 0) return code;
  return h.AwaitAll(w);
}

int Resume(const std::string& uri, const std::string& dir, int w, int n, bool saga) {
  Helper h;
  h.saga = saga;
  if (Status s = h.Open(uri, dir); !s.ok()) return Fail("open", s);
  const std::string marker = "== resume " + std::to_string(::getpid()) + "\n";
  WriteAll(h.journal_fd, marker);
  std::string persisted = marker;
  for (int i = 1; i <= w; ++i) {
    Result<runic::WorkflowHistory> history = runic::ReadHistory(*h.store, Id(i));
    if (history.status().IsNotFound()) continue;  // its start was cut off: started below
    if (!history.ok()) return Fail("history " + Id(i), history.status());
    const std::vector<Value>& processed = history->results["process"];
    for (const Value& v : processed) persisted += Id(i) + " process " + v["e"].dump() + "\n";
    if (history->results.count("publish") != 0) persisted += Id(i) + " publish\n";
    // The compensations done: the latest completed first.
    std::size_t undone = CompensationsDone(*h.store, Id(i));
    for (auto v = processed.rbegin(); v != processed.rend() && undone > 0; ++v, --undone) {
      persisted += Id(i) + " undo " + (*v)["e"].dump() + "\n";
    }
  }
  const int fd = ::open((dir + "/persisted.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  WriteAll(fd, persisted);
  ::close(fd);
  // On etcd the killed process's lease holds its workflows for a while.
  for (int attempt = 0;; ++attempt) {
    Result<runic::ResumeAllReport> report = h.runner->ResumeAll();
    if (!report.ok()) return Fail("resume all", report.status());
    bool held = false;
    for (const auto& f : report->failed) {
      if (!f.status.IsNotOwner() || attempt >= 300) return Fail("resume " + f.id, f.status);
      held = true;
    }
    if (!held) break;
    std::this_thread::sleep_for(100ms);
  }
  if (Status s = h.StartAll(w, n); !s.ok()) return Fail("start again", s);
  if (int code = h.CancelAll(w); code != 0) return code;
  const int code = h.AwaitAll(w);
  Say("resumed");
  return code;
}

int Check(const std::string& uri, const std::string& dir, int w, int n, bool saga) {
  Result<std::shared_ptr<runic::Database>> db = runic::Database::OpenUri(uri);
  if (!db.ok()) return Fail("open", db.status());
  Result<std::unique_ptr<runic::Store>> store = (*db)->OpenStore(kRunner);
  if (!store.ok()) return Fail("store", store.status());
  auto violation = [](const std::string& what) { Say("violation " + what); };
  std::set<std::string> ran;
  for (const std::string& key : runic::test::PersistedThatRanAgain(dir, &ran)) {
    violation("a persisted step ran again: " + key);
  }
  for (int i = 1; i <= w; ++i) {
    const std::string id = Id(i);
    Result<runic::WorkflowHistory> h = runic::ReadHistory(**store, id);
    if (!h.ok()) {
      violation(id + ": " + h.status().ToString());
      continue;
    }
    const WorkflowState want = saga ? WorkflowState::kCancelled : WorkflowState::kIdle;
    if (h->state != want) violation(id + " is " + runic::WorkflowStateName(h->state));
    std::map<std::int64_t, int> elements;
    for (const Value& v : h->results["process"]) ++elements[v["e"].get<std::int64_t>()];
    for (int e = 0; e < n; ++e) {
      if (elements[e] != 1) violation(id + ": element " + std::to_string(e) + " done " + std::to_string(elements[e]));
      if (!ran.count(id + " process " + std::to_string(e)))
        violation(id + ": element " + std::to_string(e) + " never ran");
    }
    if (h->results["sum"] != std::vector<Value>{Value(SquaresBelow(n))}) {
      violation(id + ": sum " + Value(h->results["sum"]).dump());
    }
    if (saga) {
      const std::size_t undone = CompensationsDone(**store, id);
      if (undone != static_cast<std::size_t>(n)) violation(id + ": " + std::to_string(undone) + " compensations done");
      for (int e = 0; e < n; ++e) {
        if (!ran.count(id + " undo " + std::to_string(e)))
          violation(id + ": element " + std::to_string(e) + " never undone");
      }
    } else if (h->results["publish"].size() != 1) {
      violation(id + ": published " + std::to_string(h->results["publish"].size()) + " times");
    }
  }
  Say("checked " + std::to_string(w));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: composition_crash_helper run|resume|check URI DIR W N map|saga\n");
    return 2;
  }
  const std::string mode = argv[1], uri = argv[2], dir = argv[3];
  const int w = std::atoi(argv[4]), n = std::atoi(argv[5]);
  const bool saga = std::string(argv[6]) == "saga";
  if (mode == "run") return Run(uri, dir, w, n, saga);
  if (mode == "resume") return Resume(uri, dir, w, n, saga);
  if (mode == "check") return Check(uri, dir, w, n, saga);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
