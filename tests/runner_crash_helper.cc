// runner_crash_helper: the process runner_crash_test kills and resumes.
//
//   runner_crash_helper run DIR W      start W workflows and run them
//   runner_crash_helper resume DIR     resume every unfinished workflow
//   runner_crash_helper results DIR W  print the stored results of each workflow
//   runner_crash_helper expected W     run W workflows without a store and
//                                      print their results (the reference)
//
// DIR/db is the disk database (runner "crash"). Every step execution appends
// "<workflow> <node> <input> ok|failed" to DIR/journal.log with one
// unbuffered write(2) on an O_APPEND descriptor, after its function has
// finished and before it returns its value to the runner. `resume` first
// appends "== resume <pid> <time>" to the journal and, under the same line,
// to DIR/persisted.log the (workflow, node, input) completions the store
// holds, read from its history (runic/history.h); then it resumes.
//
// stdout, one write(2) per line: "started" once every input is durable,
// "completed K" after each completed runnable, and at the end of `resume`
// "resumed X redispatched R". Starts and inputs carry idempotency keys;
// `resume` sends them all again (a client retrying after the crash).
//
// The workflow "crash" version 1, per input (x an integer):
//   a -> b (flaky: retried) -> c -+-> d -+-> g (join d, e) -+-> h (join g, f)
//                                 +-> e -+                  |
//                                 +-> f --------------------+
//                                       \-> r (rule: only when f's x is even)
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "helper_output.h"
#include "runic/database.h"
#include "runic/history.h"
#include "runic/runner.h"
#include "runic/workflow.h"

namespace {

using runic::Result;
using runic::Status;
using runic::Value;
using std::chrono::milliseconds;

constexpr const char* kRunner = "crash";
constexpr auto kAwait = std::chrono::seconds(60);

using runic::test::Say;
using runic::test::WriteAll;

int Fail(const std::string& what, const Status& s) { return runic::test::Fail("runner_crash_helper", what, s); }

std::string WorkflowId(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "wf-%03d", i);
  return buf;
}
// Workflow i gets 1 + i % 2 inputs.
int Inputs(int i) { return 1 + i % 2; }
Value Input(int i, int k) { return {{"wf", WorkflowId(i)}, {"in", k}, {"x", i * 10 + k}}; }

struct Env {
  int journal_fd = -1;
};

Value With(const Value& from, long x) { return {{"wf", from["wf"]}, {"in", from["in"]}, {"x", x}}; }

void Journal(const Env& env, const Value& v, std::string_view node, bool ok) {
  if (env.journal_fd < 0) return;
  WriteAll(env.journal_fd, v["wf"].get<std::string>() + " " + std::string(node) + " " +
                               std::to_string(v["in"].get<int>()) + (ok ? " ok\n" : " failed\n"));
}

// Sleeps a little (1..4 ms, from the value), cooperatively.
bool Work(const std::stop_token& stop, const Value& v) {
  const auto until = std::chrono::steady_clock::now() + milliseconds(1 + v["x"].get<long>() % 4);
  while (std::chrono::steady_clock::now() < until) {
    if (stop.stop_requested()) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return true;
}

runic::StepFn Step(std::shared_ptr<const Env> env, std::string node, std::function<Result<Value>(const Value&)> fn) {
  return [env, node = std::move(node), fn = std::move(fn)](const Value& in, std::stop_token stop) -> Result<Value> {
    if (!Work(stop, in)) return Status::Unavailable("cancelled");
    Result<Value> out = fn(in);
    Journal(*env, in, node, out.ok());
    return out;
  };
}

runic::JoinFn Join(std::shared_ptr<const Env> env, std::string node, std::function<long(long, long)> fn) {
  return [env, node = std::move(node), fn = std::move(fn)](const std::vector<Value>& in,
                                                           std::stop_token stop) -> Result<Value> {
    if (in.size() != 2) return Status::InvalidArgument("join of two");
    if (!Work(stop, in[0])) return Status::Unavailable("cancelled");
    Value out = With(in[0], fn(in[0]["x"].get<long>(), in[1]["x"].get<long>()));
    Journal(*env, in[0], node, true);
    return out;
  };
}

// b fails its first attempt in each process for every third input.
Result<Value> FlakyB(const Value& v) {
  static std::mutex mu;
  static std::set<std::string> failed_once;
  const long x = v["x"].get<long>();
  if (x % 3 == 0) {
    std::lock_guard<std::mutex> lock(mu);
    if (failed_once.insert(v["wf"].get<std::string>() + "/" + std::to_string(v["in"].get<int>())).second) {
      return Status::Unavailable("flaky (simulated)");
    }
  }
  return With(v, x + 7);
}

Result<std::shared_ptr<const runic::Workflow>> MakeWorkflow(std::shared_ptr<const Env> env) {
  auto map = [](long (*f)(long)) {
    return [f](const Value& v) -> Result<Value> { return With(v, f(v["x"].get<long>())); };
  };
  runic::StepPolicy flaky;
  flaky.max_retries = 2;
  flaky.backoff = runic::Backoff::kLinear;
  flaky.base_delay = milliseconds(5);
  return runic::Workflow::Builder("crash", 1)
      .Step("a", Step(env, "a", map([](long x) { return x * 3 + 1; })))
      .Step("b", Step(env, "b", FlakyB), "a")
      .Step("c", Step(env, "c", map([](long x) { return x * 2; })), "b")
      .Step("d", Step(env, "d", map([](long x) { return x - 1; })), "c")
      .Step("e", Step(env, "e", map([](long x) { return x * x % 1000; })), "c")
      .Step("f", Step(env, "f", map([](long x) { return x + 100; })), "c")
      .Join("g", {"d", "e"}, Join(env, "g", [](long d, long e) { return d + e; }))
      .Rule(
          "r", [](const Value& v) { return v["x"].get<long>() % 2 == 0; },
          Step(env, "r", map([](long x) { return x / 2; })), "f")
      .Join("h", {"g", "f"}, Join(env, "h", [](long g, long f) { return g * 1000 + f; }))
      .Policy("b", flaky)
      .Build();
}

// The results stored for workflow `id`, read without running anything.
Result<runic::WorkflowResults> StoredResults(runic::Store& store, const std::string& id) {
  Result<runic::WorkflowHistory> history = runic::ReadHistory(store, id);
  if (!history.ok()) return history.status();
  return history->results;
}

// Every workflow id in the store.
Result<std::vector<std::string>> AllIds(runic::Store& store) {
  std::vector<std::string> all;
  runic::ListOptions page;
  for (int pages = 0; pages < 10000; ++pages) {
    auto ids = store.List(page);
    if (!ids.ok()) return ids.status();
    all.insert(all.end(), ids->ids.begin(), ids->ids.end());
    if (!ids->more || ids->ids.empty()) break;
    page.start_after = ids->ids.back();
  }
  return all;
}

// One line: "<id> <results as JSON, each node's values sorted>".
std::string Canonical(const std::string& id, const runic::WorkflowResults& results) {
  Value all = Value::object();
  for (const auto& [node, values] : results) {
    std::vector<std::string> dumped;
    for (const Value& v : values) dumped.push_back(v.dump());
    std::sort(dumped.begin(), dumped.end());
    Value sorted = Value::array();
    for (const std::string& d : dumped) sorted.push_back(Value::parse(d));
    all[node] = sorted;
  }
  return id + " " + all.dump();
}

struct Helper {
  std::string dir;
  std::shared_ptr<runic::Database> db;
  std::unique_ptr<runic::Store> store;
  std::shared_ptr<Env> env = std::make_shared<Env>();
  std::atomic<std::uint64_t> completed{0};

  ~Helper() {
    if (env->journal_fd >= 0) ::close(env->journal_fd);
  }

  Status Open(const std::string& d, bool journal) {
    dir = d;
    runic::DatabaseOptions options;
    options.dir = dir + "/db";
    auto opened = runic::Database::Open(options);
    if (!opened.ok()) return opened.status();
    db = *opened;
    auto s = db->OpenStore(kRunner);
    if (!s.ok()) return s.status();
    store = std::move(*s);
    if (journal) {
      env->journal_fd = ::open((dir + "/journal.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (env->journal_fd < 0) return Status::IOError("cannot open the journal");
    }
    return Status::OK();
  }

  Result<std::unique_ptr<runic::Runner>> MakeRunner(bool with_store, bool report) {
    runic::RunnerOptions options;
    options.name = kRunner;
    options.store = with_store ? store.get() : nullptr;
    options.threads = 4;
    if (report) {
      options.telemetry.runnable_stop = [this](const runic::RunnerTelemetry::Event&) {
        Say("completed " + std::to_string(completed.fetch_add(1) + 1));
      };
    }
    return runic::Runner::Create(std::move(options));
  }
};

runic::WorkflowOptions Options() {
  runic::WorkflowOptions options;
  options.checkpoint = runic::CheckpointStrategy::kEveryCycle;
  options.max_concurrency = 4;
  return options;
}

// The start and the inputs of workflow `i`, each with its idempotency key,
// as a client sends them (again, after a crash, when it does not know
// whether they were applied).
Status Send(runic::Runner& runner, const std::shared_ptr<const runic::Workflow>& workflow, int i) {
  runic::StartOptions start;
  start.idempotency_key = "start";
  if (Status s = runner.StartWorkflow(WorkflowId(i), workflow, Options(), start); !s.ok()) return s;
  for (int k = 0; k < Inputs(i); ++k) {
    if (Status s = runner.Run(WorkflowId(i), Input(i, k), "input-" + std::to_string(k)); !s.ok()) return s;
  }
  return Status::OK();
}

// Starts and runs W workflows on `runner`, waits for them; 0 or 1.
int RunAll(runic::Runner& runner, const std::shared_ptr<const runic::Workflow>& workflow, int w) {
  for (int i = 1; i <= w; ++i) {
    if (Status s = Send(runner, workflow, i); !s.ok()) return Fail("send " + WorkflowId(i), s);
  }
  Say("started");
  for (int i = 1; i <= w; ++i) {
    if (Status s = runner.AwaitIdle(WorkflowId(i), kAwait); !s.ok()) return Fail("await " + WorkflowId(i), s);
  }
  return 0;
}

int Run(const std::string& dir, int w) {
  Helper h;
  if (Status s = h.Open(dir, true); !s.ok()) return Fail("open", s);
  auto workflow = MakeWorkflow(h.env);
  if (!workflow.ok()) return Fail("build", workflow.status());
  auto runner = h.MakeRunner(true, true);
  if (!runner.ok()) return Fail("runner", runner.status());
  return RunAll(**runner, *workflow, w);
}

int Expected(int w) {
  auto env = std::make_shared<Env>();
  auto workflow = MakeWorkflow(env);
  if (!workflow.ok()) return Fail("build", workflow.status());
  runic::RunnerOptions options;
  options.name = kRunner;
  options.threads = 4;
  auto runner = runic::Runner::Create(std::move(options));
  if (!runner.ok()) return Fail("runner", runner.status());
  if (int rc = RunAll(**runner, *workflow, w); rc != 0) return rc;
  for (int i = 1; i <= w; ++i) {
    auto results = (*runner)->GetResults(WorkflowId(i));
    if (!results.ok()) return Fail("results", results.status());
    Say(Canonical(WorkflowId(i), *results));
  }
  return 0;
}

int Resume(const std::string& dir) {
  Helper h;
  if (Status s = h.Open(dir, true); !s.ok()) return Fail("open", s);
  const std::string marker = "== resume " + std::to_string(::getpid()) + " " +
                             std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "\n";
  if (!WriteAll(h.env->journal_fd, marker)) return Fail("journal", Status::IOError("write"));
  {
    std::string persisted = marker;
    auto ids = AllIds(*h.store);
    if (!ids.ok()) return Fail("list", ids.status());
    for (const std::string& id : *ids) {
      auto results = StoredResults(*h.store, id);
      if (!results.ok()) return Fail("read the history of " + id, results.status());
      for (const auto& [node, values] : *results) {
        for (const Value& v : values) {
          if (v.is_object() && v.contains("in")) {
            persisted += id + " " + node + " " + std::to_string(v["in"].get<int>()) + "\n";
          }
        }
      }
    }
    int fd = ::open((dir + "/persisted.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || !WriteAll(fd, persisted)) return Fail("persisted.log", Status::IOError("write"));
    ::close(fd);
  }
  auto workflow = MakeWorkflow(h.env);
  if (!workflow.ok()) return Fail("build", workflow.status());
  auto runner = h.MakeRunner(true, true);
  if (!runner.ok()) return Fail("runner", runner.status());
  if (Status s = (*runner)->Register(*workflow); !s.ok()) return Fail("register", s);
  // No options: each workflow runs with those it recorded at its start.
  auto resumed = (*runner)->ResumeAll();
  if (!resumed.ok()) return Fail("resume all", resumed.status());
  if (!resumed->failed.empty()) return Fail("resume " + resumed->failed[0].id, resumed->failed[0].status);
  std::uint64_t redispatched = 0;
  for (const std::string& id : resumed->resumed) redispatched += (*runner)->Lookup(id)->redispatched;
  // The client sends every start and input again with its key: all were
  // acknowledged before the kill (`run` says "started" once they are, and is
  // killed only after), so none may be applied again (the results would
  // show it).
  auto ids = AllIds(*h.store);
  if (!ids.ok()) return Fail("list", ids.status());
  for (const std::string& id : *ids) {
    if (Status s = Send(**runner, *workflow, std::atoi(id.c_str() + 3)); !s.ok()) return Fail("send again " + id, s);
  }
  for (const std::string& id : *ids) {
    if (Status s = (*runner)->AwaitIdle(id, kAwait); !s.ok()) return Fail("await " + id, s);
    auto info = (*runner)->Lookup(id);
    if (!info.ok()) return Fail("lookup " + id, info.status());
    if (info->state != runic::WorkflowState::kIdle) return Fail("state of " + id, info->error);
    if (!(info->options == Options())) {
      return Fail("options of " + id, Status::Corruption("not those it was started with"));
    }
  }
  Say("resumed " + std::to_string(resumed->resumed.size()) + " redispatched " + std::to_string(redispatched));
  return 0;
}

int Results(const std::string& dir, int w) {
  Helper h;
  if (Status s = h.Open(dir, false); !s.ok()) return Fail("open", s);
  for (int i = 1; i <= w; ++i) {
    auto results = StoredResults(*h.store, WorkflowId(i));
    if (!results.ok()) {
      Say(WorkflowId(i) + " error " + results.status().ToString());
    } else {
      Say(Canonical(WorkflowId(i), *results));
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "run") return Run(args[1], std::atoi(args[2].c_str()));
  if (args.size() == 2 && args[0] == "resume") return Resume(args[1]);
  if (args.size() == 3 && args[0] == "results") return Results(args[1], std::atoi(args[2].c_str()));
  if (args.size() == 2 && args[0] == "expected") return Expected(std::atoi(args[1].c_str()));
  WriteAll(STDERR_FILENO, "usage: runner_crash_helper run DIR W | resume DIR | results DIR W | expected W\n");
  return 2;
}
