// runner_owner_helper: a Runner process for the cross-process ownership
// tests (two processes on one replicated store; one is SIGKILLed, or paused
// with SIGSTOP past its lease and resumed with SIGCONT).
//
//   runner_owner_helper URI ID STEPS STEP_MS [--wait]
//
// Opens the database URI names (Database::OpenUri), the store of runner
// "owner", and runs workflow ID of definition "owner" v1: a chain of STEPS
// steps s1 -> s2 -> ... -> sSTEPS, each sleeping STEP_MS (cooperatively:
// a stop request ends it early, as a failed attempt) and adding 1 to its
// input. It starts ID with input 0, or, when ID already exists in the store,
// resumes it. Without --wait, kNotOwner from the start or the resume ends
// the process at once (exit 3); with --wait it tries again every 100 ms
// until it owns the workflow (also after kUnavailable or kOutcomeUnknown,
// printing "retry STATUS").
//
// stdout, one write(2) per line (a test reads them while the process runs):
//   "pid P"                    first, P this process's id
//   "not-owner MESSAGE"        a start or resume refused: another runner holds ID
//   "started" | "resumed R C"  it owns ID; R: runnables it dispatched again,
//                              C: runnables whose completion the store held
//   "step K V"                 step sK returned V (not yet durable: the next
//                              "durable" line says when it is)
//   "durable"                  a checkpoint of ID reached the store
//   "store-error OP CODE: MESSAGE"  a store operation failed (e.g. an append
//                              refused with NotOwner once ownership is lost)
//   "results JSON"             at the end: Runner::GetResults, as a JSON
//                              object node -> [values]
//   "cursor N"                 at the end: the events of ID this runner knows
//                              committed (WorkflowInfo::cursor)
//   "finished OK" | "finished CODE: MESSAGE"   the workflow became idle or
//                              halted (the last line)
// Exit: 0 finished ok; 3 not owner (start/resume, without --wait); 4 the
// workflow halted (e.g. "finished NotOwner: ..." after it lost ownership);
// 1 any other error (on stderr); 2 usage.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>

#include "helper_output.h"
#include "runic/database.h"
#include "runic/runner.h"
#include "runic/telemetry.h"
#include "runic/workflow.h"

namespace {

using runic::Result;
using runic::Status;
using runic::Value;

constexpr const char* kRunner = "owner";

using runic::test::Say;
using runic::test::WriteAll;

int Fail(const std::string& what, const Status& s) { return runic::test::Fail("runner_owner_helper", what, s); }

std::optional<long> ParseLong(const char* s) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < 0) return std::nullopt;
  return v;
}

runic::StepFn SlowAddOne(int k, std::chrono::milliseconds step) {
  return [k, step](const Value& v, std::stop_token stop) -> Result<Value> {
    const auto until = std::chrono::steady_clock::now() + step;
    while (std::chrono::steady_clock::now() < until) {
      if (stop.stop_requested()) return Status::Unavailable("cancelled");
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const Value out = v.get<long>() + 1;
    Say("step " + std::to_string(k) + " " + out.dump());
    return out;
  };
}

std::shared_ptr<const runic::Workflow> Definition(int steps, std::chrono::milliseconds step) {
  runic::Workflow::Builder b("owner", 1);
  for (int k = 1; k <= steps; ++k) {
    b.Step("s" + std::to_string(k), SlowAddOne(k, step), k == 1 ? "" : "s" + std::to_string(k - 1));
  }
  Result<std::shared_ptr<const runic::Workflow>> wf = b.Build();
  if (!wf.ok()) {
    Fail("definition", wf.status());
    std::exit(1);
  }
  return *wf;
}

int Usage() {
  WriteAll(STDERR_FILENO, "usage: runner_owner_helper URI ID STEPS STEP_MS [--wait]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 6) return Usage();
  const std::string uri = argv[1], id = argv[2];
  const std::optional<long> steps = ParseLong(argv[3]), step_ms = ParseLong(argv[4]);
  const bool wait = argc == 6 && std::string_view(argv[5]) == "--wait";
  if (!steps || *steps < 1 || !step_ms || (argc == 6 && !wait)) return Usage();
  Say("pid " + std::to_string(::getpid()));

  Result<std::shared_ptr<runic::Database>> db = runic::Database::OpenUri(uri);
  if (!db.ok()) return Fail("open " + uri, db.status());
  // Every successful checkpoint of the workflow: its appends, on any thread.
  runic::StoreOptions store_options;
  store_options.telemetry.on_stop = [&id](const runic::StoreOpEvent& e) {
    if (e.status != nullptr && !e.status->ok()) return;
    if ((e.op == runic::StoreOp::kAppend && e.id == id) || e.op == runic::StoreOp::kAppendMany) {
      Say("durable");
    }
  };
  store_options.telemetry.on_exception = [](const runic::StoreOpEvent& e) {
    Say(std::string("store-error ") + runic::StoreOpName(e.op) + " " +
        (e.status != nullptr ? e.status->ToString() : std::string("?")));
  };
  Result<std::unique_ptr<runic::Store>> store = (*db)->OpenStore(kRunner, store_options);
  if (!store.ok()) return Fail("open store", store.status());

  std::mutex mu;
  std::condition_variable done;
  std::optional<Status> outcome;
  runic::RunnerOptions runner_options;
  runner_options.on_complete = [&](const std::string&, const Status& s) {
    std::lock_guard lock(mu);
    outcome = s;
    done.notify_all();
  };
  runner_options.name = kRunner;
  runner_options.store = store->get();
  runner_options.threads = 2;
  Result<std::unique_ptr<runic::Runner>> runner = runic::Runner::Create(std::move(runner_options));
  if (!runner.ok()) return Fail("runner", runner.status());
  const auto wf = Definition(static_cast<int>(*steps), std::chrono::milliseconds(*step_ms));
  if (Status s = (*runner)->Register(wf); !s.ok()) return Fail("register", s);

  for (;;) {
    Status s = (*runner)->StartWorkflow(id, wf);
    if (s.ok()) {
      Say("started");
      s = (*runner)->Run(id, Value(0));
      if (!s.ok()) return Fail("run", s);
      break;
    }
    if (s.IsConflict()) {  // it exists: take it over from the store
      s = (*runner)->Resume(id);
      if (s.ok()) {
        Result<runic::WorkflowInfo> info = (*runner)->Lookup(id);
        if (!info.ok()) return Fail("lookup " + id, info.status());
        Say("resumed " + std::to_string(info->redispatched) + " " + std::to_string(info->completed));
        break;
      }
    }
    // With --wait, a cluster slow to answer (a loaded machine) is waited
    // for too: a claim whose outcome was unknown is settled by the next one
    // (a claim of a workflow this process already holds is ok).
    const bool transient = s.code() == Status::Code::kUnavailable || s.code() == Status::Code::kOutcomeUnknown;
    if (wait && transient) {
      Say("retry " + s.ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    if (s.code() != Status::Code::kNotOwner) return Fail("start or resume " + id, s);
    Say("not-owner " + s.message());
    if (!wait) return 3;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  // A resumed workflow with nothing left to run reports no completion.
  Result<runic::WorkflowInfo> info = (*runner)->Lookup(id);
  if (info.ok() && info->state != runic::WorkflowState::kRunning) {
    std::lock_guard lock(mu);
    if (!outcome) outcome = info->error;
  }
  Status final;
  {
    std::unique_lock lock(mu);
    done.wait(lock, [&] { return outcome.has_value(); });
    final = *outcome;
  }
  Result<runic::WorkflowResults> results = (*runner)->GetResults(id);
  if (results.ok()) {
    Value object = Value::object();
    for (const auto& [node, values] : *results) object[node] = values;
    Say("results " + object.dump());
  }
  info = (*runner)->Lookup(id);
  if (info.ok()) Say("cursor " + std::to_string(info->cursor));
  Say(final.ok() ? "finished OK" : "finished " + final.ToString());
  (*runner)->Shutdown();
  return final.ok() ? 0 : 4;
}
