// waits_crash_helper: the process waits_crash_test kills and resumes.
//
//   waits_crash_helper run DIR W     start W workflows and drive them (below)
//   waits_crash_helper resume DIR W  resume them and drive them to the end
//   waits_crash_helper check DIR W   print every broken invariant, then "checked W"
//
// DIR/db is the disk database (sync on; runner "waits"), whose runner
// unloads every workflow as soon as it is quiet and polls the due-time
// index every 10 ms (the 30 ms timer unloads, then comes back by the poll;
// each signal and control reloads the workflow it is for): kills land in
// unloading and reloading too. Workflow "waits" v1,
// per workflow i (one input {"wf", "i"}):
//   a (step) -> t (Delay 30 ms) -> w (Await "go") -> b (step)
// b fails its first attempt ever for i % 5 == 2 (a marker file remembers it
// across processes) and halts the workflow.
//
// The client (a thread of the same process: the database has one owner
// process) takes each workflow through its actions once it waits, by i % 5:
//   0: cancel;  1: pause, unpause, signal;  2: signal, retry (once halted);
//   3, 4: signal.
// A signal is "go" with value {"i": i} and key "go-<id>". Each action the
// runner acknowledged (or refused as already applied: kFailedPrecondition)
// is journalled to DIR/client.log with one write(2); `resume` goes on from
// the first action not journalled, sending again the one the kill may have
// cut between its acknowledgement and its journal line. Steps journal
// "<id> <node> ok|failed" to DIR/journal.log after their function ran;
// `resume` writes "== resume" there and, under the same marker, to
// DIR/persisted.log the completions the store holds. stdout: "progress N"
// after each completion and each action, "started" once every start is
// durable.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
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

constexpr const char* kRunner = "waits";
std::atomic<int> progress{0};

int Fail(const std::string& what, const Status& s) { return runic::test::Fail("waits_crash_helper", what, s); }
void Progress() { Say("progress " + std::to_string(++progress)); }

std::string Id(int i) { return "w-" + std::to_string(i); }

std::vector<std::string> Actions(int i) {
  switch (i % 5) {
    case 0:
      return {"cancel"};
    case 1:
      return {"pause", "unpause", "signal"};
    case 2:
      return {"signal", "retry"};
    default:
      return {"signal"};
  }
}

struct Helper {
  std::string dir;
  int journal_fd = -1, client_fd = -1;
  std::shared_ptr<runic::Database> db;
  std::unique_ptr<runic::Store> store;
  std::unique_ptr<runic::Runner> runner;
  std::shared_ptr<const runic::Workflow> workflow;

  ~Helper() {
    runner.reset();
    for (int fd : {journal_fd, client_fd}) {
      if (fd >= 0) ::close(fd);
    }
  }

  Status Open(const std::string& d) {
    dir = d;
    Result<std::shared_ptr<runic::Database>> opened = runic::Database::OpenUri("disk://" + dir + "/db?sync=1");
    if (!opened.ok()) return opened.status();
    db = *opened;
    Result<std::unique_ptr<runic::Store>> s = db->OpenStore(kRunner);
    if (!s.ok()) return s.status();
    store = std::move(*s);
    journal_fd = ::open((dir + "/journal.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    client_fd = ::open((dir + "/client.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (journal_fd < 0 || client_fd < 0) return Status::IOError("cannot open the journals");
    workflow = Build();
    runic::RunnerOptions options;
    options.name = kRunner;
    options.store = store.get();
    options.threads = 4;
    options.unload_after = 0ms;
    options.due_poll_interval = 10ms;
    options.telemetry.runnable_stop = [](const runic::RunnerTelemetry::Event&) { Progress(); };
    Result<std::unique_ptr<runic::Runner>> r = runic::Runner::Create(std::move(options));
    if (!r.ok()) return r.status();
    runner = std::move(*r);
    return runner->Register(workflow);
  }

  runic::StepFn JournalledStep(const std::string& node) {
    return [this, node](const Value& v, std::stop_token) -> Result<Value> {
      const std::string id = v.contains("input") ? v["input"]["wf"].get<std::string>() : v["wf"].get<std::string>();
      bool fail = false;
      if (node == "b" && v["input"]["i"].get<int>() % 5 == 2) {
        // Its first attempt ever fails: the marker is made before the failure.
        const int fd = ::open((dir + "/b-failed-" + id).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) ::close(fd);
        fail = fd >= 0;
      }
      WriteAll(journal_fd, id + " " + node + (fail ? " failed\n" : " ok\n"));
      if (fail) return Status::Unavailable("b fails once");
      return v;
    };
  }

  std::shared_ptr<const runic::Workflow> Build() {
    return *runic::Workflow::Builder("waits", 1)
                .Step("a", JournalledStep("a"))
                .Delay("t", 30ms, "a")
                .Await("w", "go", "t")
                .Step("b", JournalledStep("b"), "w")
                .Build();
  }

  // What the runner says of `id` now (its state, and whether t has fired).
  WorkflowState State(const std::string& id) {
    Result<runic::WorkflowInfo> info = runner->Lookup(id);
    return info.ok() ? info->state : WorkflowState::kRunning;
  }

  // Waits (bounded) until `ready` holds for `id`.
  bool WaitFor(const std::string& id, const std::function<bool(WorkflowState)>& ready) {
    for (int i = 0; i < 20000; ++i) {
      if (ready(State(id))) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

  // Sends `action` to workflow i once its state allows it; true once the
  // runner acknowledged it (or refused it as applied already).
  bool Send(int i, const std::string& action) {
    const std::string id = Id(i);
    Status s;
    // Once it settled (a state that an action sent again after a kill
    // finds too: paused already, cancelled already), or for a retry once it
    // halted (or ran on: the failure was cut by the kill).
    WaitFor(id, [&](WorkflowState st) {
      return action == "retry" ? st == WorkflowState::kHalted || st == WorkflowState::kIdle
                               : st != WorkflowState::kRunning;
    });
    if (action == "signal") s = runner->Signal(id, "go", Value{{"i", i}}, "go-" + id);
    if (action == "retry") s = runner->Retry(id);
    if (action == "pause") s = runner->Pause(id);
    if (action == "unpause") s = runner->Unpause(id);
    if (action == "cancel") s = runner->Cancel(id, "crash test");
    if (!s.ok() && !s.IsFailedPrecondition()) {
      Fail(action + " " + id, s);
      return false;
    }
    // A control is applied after Send returns (its owner records it from
    // the inbox): the next action waits until it was.
    if (action == "pause") WaitFor(id, [](WorkflowState st) { return st == WorkflowState::kPaused; });
    if (action == "unpause") WaitFor(id, [](WorkflowState st) { return st != WorkflowState::kPaused; });
    if (action == "retry") WaitFor(id, [](WorkflowState st) { return st != WorkflowState::kHalted; });
    WriteAll(client_fd, id + " " + action + "\n");
    Progress();
    return true;
  }

  // Takes every workflow through the actions after the `done` ones.
  int Drive(int w, const std::map<std::string, std::size_t>& done) {
    for (int i = 1; i <= w; ++i) {
      const std::vector<std::string> actions = Actions(i);
      auto it = done.find(Id(i));
      std::size_t from = it == done.end() ? 0 : it->second;
      // The last journalled action may have been cut after it was sent:
      // each is safe to send again (a key, or a refusal in the wrong state).
      for (std::size_t k = from; k < actions.size(); ++k) {
        if (!Send(i, actions[k])) return 1;
      }
    }
    for (int i = 1; i <= w; ++i) {
      if (Status s = runner->AwaitIdle(Id(i), 60s); !s.ok()) return Fail("await " + Id(i), s);
    }
    return 0;
  }

  // Starts the W workflows, each with its input and the key "start" (sent
  // again after a kill: applied once).
  Status StartAll(int w) {
    for (int i = 1; i <= w; ++i) {
      runic::StartOptions start;
      start.input = Value{{"wf", Id(i)}, {"i", i}};
      start.idempotency_key = "start";
      if (Status s = runner->StartWorkflow(Id(i), workflow, std::nullopt, start); !s.ok()) {
        return s.Annotate("start " + Id(i));
      }
    }
    return Status::OK();
  }
};

int Run(const std::string& dir, int w) {
  Helper h;
  if (Status s = h.Open(dir); !s.ok()) return Fail("open", s);
  if (Status s = h.StartAll(w); !s.ok()) return Fail("start", s);
  Say("started");
  return h.Drive(w, {});
}

int Resume(const std::string& dir, int w) {
  Helper h;
  if (Status s = h.Open(dir); !s.ok()) return Fail("open", s);
  const std::string marker = "== resume " + std::to_string(::getpid()) + "\n";
  WriteAll(h.journal_fd, marker);
  std::string persisted = marker;
  std::vector<std::string> paused;  // as the store holds them
  for (int i = 1; i <= w; ++i) {
    Result<runic::WorkflowHistory> history = runic::ReadHistory(*h.store, Id(i));
    if (history.status().IsNotFound()) continue;  // its start was cut off: started below
    if (!history.ok()) return Fail("history " + Id(i), history.status());
    // (Not one with an unpause waiting in its inbox: the client sent it.)
    Result<runic::WorkflowHead> summary = h.store->Peek(Id(i));
    if (history->state == WorkflowState::kPaused && summary.ok() && summary->inbox_last == summary->inbox_consumed) {
      paused.push_back(Id(i));
    }
    for (const char* node : {"a", "b"}) {
      if (history->results.count(node) != 0) persisted += Id(i) + " " + node + "\n";
    }
  }
  const int fd = ::open((dir + "/persisted.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  WriteAll(fd, persisted);
  ::close(fd);
  // What the client had done.
  std::map<std::string, std::size_t> done;
  for (const std::string& line : runic::test::ReadLines(dir + "/client.log")) ++done[line.substr(0, line.find(' '))];
  Result<runic::ResumeAllReport> report = h.runner->ResumeAll();
  if (!report.ok()) return Fail("resume all", report.status());
  for (const auto& f : report->failed) return Fail("resume " + f.id, f.status);
  // The client starts again what it may not have started (keys: once).
  if (Status s = h.StartAll(w); !s.ok()) return Fail("start again", s);
  // A workflow the store held paused is resumed paused.
  for (const std::string& id : paused) {
    if (h.State(id) != WorkflowState::kPaused) {
      Say("violation " + id + " was paused and is " + runic::WorkflowStateName(h.State(id)));
    }
  }
  const int code = h.Drive(w, done);
  Say("resumed");
  return code;
}

int Check(const std::string& dir, int w) {
  Result<std::shared_ptr<runic::Database>> db = runic::Database::OpenUri("disk://" + dir + "/db?read_only=1");
  if (!db.ok()) return Fail("open", db.status());
  Result<std::unique_ptr<runic::Store>> store = (*db)->OpenStore(kRunner);
  if (!store.ok()) return Fail("store", store.status());
  auto violation = [](const std::string& what) { Say("violation " + what); };
  for (const std::string& key : runic::test::PersistedThatRanAgain(dir)) {
    violation("a persisted step ran again: " + key);
  }
  runic::HistoryReadOptions read;
  read.events = true;
  for (int i = 1; i <= w; ++i) {
    const std::string id = Id(i);
    Result<runic::WorkflowHistory> h = runic::ReadHistory(**store, id, read);
    if (!h.ok()) {
      violation(id + ": " + h.status().ToString());
      continue;
    }
    const bool cancelled = i % 5 == 0;
    const WorkflowState want = cancelled ? WorkflowState::kCancelled : WorkflowState::kIdle;
    if (h->state != want) violation(id + " is " + runic::WorkflowStateName(h->state));
    if (cancelled && h->results.count("b")) violation(id + ": b ran after its cancel");
    if (!cancelled) {
      const std::vector<Value>& took = h->results["w"];
      if (took.size() != 1 || took[0]["signal"] != Value{{"i", i}}) {
        violation(id + ": its await took " + Value(took).dump());
      }
      if (h->results["b"].size() != 1) violation(id + ": b produced " + std::to_string(h->results["b"].size()));
    }
    int kept = 0, waits = 0, fired = 0;
    std::int64_t due = 0, fired_at = 0;
    for (const runic::HistoryEvent& e : h->events) {
      if (e.kind == runic::HistoryEventKind::kSignal && e.dropped.empty()) ++kept;
      if (e.kind == runic::HistoryEventKind::kWait && e.node == "t") {
        ++waits;
        due = e.due_us;
      }
      if (e.kind == runic::HistoryEventKind::kDone && e.node == "t") {
        ++fired;
        fired_at = e.at_us;
      }
    }
    if (!cancelled && kept != 1) violation(id + ": " + std::to_string(kept) + " signals kept (one sent)");
    if (waits > 1 || fired > 1)
      violation(id + ": the timer started " + std::to_string(waits) + " and fired " + std::to_string(fired) + " times");
    if (fired == 1 && fired_at < due) violation(id + ": the timer fired early");
    if (!cancelled && fired != 1) violation(id + ": the timer never fired");
    if (!h->signals.empty()) violation(id + ": signals left in its buffer");
  }
  Say("checked " + std::to_string(w));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: waits_crash_helper run|resume|check DIR W\n");
    return 2;
  }
  const std::string mode = argv[1], dir = argv[2];
  const int w = std::atoi(argv[3]);
  if (mode == "run") return Run(dir, w);
  if (mode == "resume") return Resume(dir, w);
  if (mode == "check") return Check(dir, w);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
