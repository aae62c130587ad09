// document_ingestion: a document pipeline as a durable Runic workflow, the
// second tour after examples/order_service.cc: a map over a variable number
// of chunks, a reduce, an approval signal with a timeout, and a saga that
// undoes what was done when publishing fails or the document is cancelled.
//
//   document_ingestion run DIR N     ingest N documents and run them to the end
//   document_ingestion resume DIR N  resume every unfinished one after a crash
//   document_ingestion report DIR N  check the N documents and the journal
//
// The workflow, "ingest" version 1, for one document (the input {"doc": n}):
//
//   fetch -> split (map: 1..5 chunks) -> embed (per chunk) -> combine (reduce)
//         -> approval (await "approve", 3 s) -> publish
//
// fetch is flaky (every third document's first attempt in a process fails;
// retried with backoff) and passes its step context's idempotency key to
// the "document store" it calls, so a fetch run again after a crash is one
// fetch there. embed stores each chunk's embedding (journalled) and has a
// compensation that deletes it. Approvals come from another thread (key
// "approve-<doc>", sent again after a crash: applied once) for every
// document but those ending in 4, whose approval times out: the approval's
// policy says compensate. publish fails for documents ending in 7 (the
// index rejects them), compensate too. Documents ending in 9 are cancelled
// by the client once they wait for their approval: a cancel compensates.
// So: published (idle) documents keep their embeddings; every other one is
// halted (4, 7) or cancelled (9) with each embedding deleted exactly once.
//
// DIR/db is the database (disk, sync on); DIR/journal.log has one line per
// effect ("<doc> embed <chunk>", "<doc> delete <chunk>", "<doc> publish",
// "<doc> fetch <key>"), written by the step with one write(2); `resume`
// marks each restart there. stdout: "completed K" after each step, "done
// ID STATE" when a document finishes.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <runic/runic.h>

namespace {

using runic::Result;
using runic::Status;
using runic::StepContext;
using runic::Value;
using runic::WorkflowState;
using namespace std::chrono_literals;

constexpr const char* kRunner = "documents";

bool WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}
void Say(const std::string& line) { WriteAll(STDOUT_FILENO, line + "\n"); }
int Fail(const std::string& what, const Status& s) {
  WriteAll(STDERR_FILENO, "document_ingestion: " + what + ": " + s.ToString() + "\n");
  return 1;
}

std::string DocId(int n) { return "doc-" + std::to_string(n); }
int Chunks(int n) { return 1 + n % 5; }
bool ApprovalTimesOut(int n) { return n % 10 == 4; }
bool PublishFails(int n) { return n % 10 == 7; }
bool Cancelled(int n) { return n % 10 == 9; }

// The state a document ends in, and whether its embeddings were deleted.
WorkflowState Expected(int n) {
  if (Cancelled(n)) return WorkflowState::kCancelled;
  return ApprovalTimesOut(n) || PublishFails(n) ? WorkflowState::kHalted : WorkflowState::kIdle;
}

class Service {
 public:
  Status Open(const std::string& dir) {
    journal_ = ::open((dir + "/journal.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (journal_ < 0) return Status::IOError("cannot open " + dir + "/journal.log");
    Result<std::shared_ptr<runic::Database>> db = runic::Database::OpenUri("disk://" + dir + "/db?sync=1");
    if (!db.ok()) return db.status();
    db_ = *db;
    Result<std::unique_ptr<runic::Store>> store = db_->OpenStore(kRunner);
    if (!store.ok()) return store.status();
    store_ = std::move(*store);
    runic::RunnerOptions options;
    options.name = kRunner;
    options.store = store_.get();
    options.telemetry.runnable_stop = [this](const runic::RunnerTelemetry::Event&) {
      Say("completed " + std::to_string(++completed_));
    };
    options.on_complete = [](const std::string& id, const Status& outcome) {
      Say("done " + id + " " + (outcome.ok() ? "ok" : runic::Status::CodeName(outcome.code())));
    };
    Result<std::unique_ptr<runic::Runner>> runner = runic::Runner::Create(std::move(options));
    if (!runner.ok()) return runner.status();
    runner_ = std::move(*runner);
    Result<std::shared_ptr<const runic::Workflow>> wf = Build();
    if (!wf.ok()) return wf.status();
    workflow_ = *wf;
    return runner_->Register(workflow_);
  }
  ~Service() {
    runner_.reset();  // shuts down first: its steps use the journal
    if (journal_ >= 0) ::close(journal_);
  }

  // Starts documents 1..n (key "start": a start sent again after a crash is
  // applied once), then approves or cancels each as its number says.
  int Drive(int n) {
    for (int i = 1; i <= n; ++i) {
      runic::StartOptions start;
      start.input = Value{{"doc", i}};
      start.idempotency_key = "start";
      Status s = runner_->StartWorkflow(DocId(i), workflow_, std::nullopt, start);
      if (!s.ok() && !s.IsConflict()) return Fail("start " + DocId(i), s);  // kConflict: resumed already
    }
    Say("started " + std::to_string(n));
    for (int i = 1; i <= n; ++i) {
      if (ApprovalTimesOut(i)) continue;
      if (!AwaitApproval(DocId(i))) continue;  // it ended already (before a crash)
      Status s = Cancelled(i) ? runner_->Cancel(DocId(i), "withdrawn by its author")
                              : runner_->Signal(DocId(i), "approve", Value{{"by", "editor"}}, "approve-" + DocId(i));
      if (!s.ok() && !s.IsFailedPrecondition()) return Fail("approve or cancel " + DocId(i), s);
    }
    for (int i = 1; i <= n; ++i) {
      if (Status s = runner_->AwaitIdle(DocId(i), 2min); !s.ok()) return Fail("await " + DocId(i), s);
    }
    return 0;
  }

  runic::Runner& runner() { return *runner_; }
  runic::Store& store() { return *store_; }
  void Journal(const std::string& line) { WriteAll(journal_, line + "\n"); }

 private:
  // Waits (bounded) until `id` waits for its approval (combined, and
  // waiting: not for a fetch's retry); false when it finished instead.
  bool AwaitApproval(const std::string& id) {
    for (int i = 0; i < 30000; ++i) {
      Result<runic::WorkflowInfo> info = runner_->Lookup(id);
      if (info.ok() && info->state != WorkflowState::kRunning && info->state != WorkflowState::kWaiting) return false;
      if (info.ok() && info->state == WorkflowState::kWaiting) {
        Result<runic::WorkflowResults> results = runner_->GetResults(id);
        if (results.ok() && results->count("combine") != 0) return true;
      }
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }

  Result<std::shared_ptr<const runic::Workflow>> Build() {
    auto fetch = [this](const Value& in, const StepContext& ctx) -> Result<Value> {
      const int n = in["doc"].get<int>();
      // The document store applies a fetch once per key (here: journalled).
      if (n % 3 == 0 && FirstTry(n)) return Status::Unavailable("store busy");
      Journal(DocId(n) + " fetch " + std::string(ctx.idempotency_key));
      return Value{{"doc", n}, {"text", std::string(static_cast<std::size_t>(Chunks(n)) * 40, 'x')}};
    };
    auto split = [](const Value& d, std::stop_token) -> Result<Value> {
      Value chunks = Value::array();
      const std::string text = d["text"].get<std::string>();
      for (std::size_t at = 0, k = 0; at < text.size(); at += 40, ++k) {
        chunks.push_back({{"doc", d["doc"]}, {"chunk", k}, {"text", text.substr(at, 40)}});
      }
      return chunks;
    };
    auto embed = [this](const Value& c, std::stop_token) -> Result<Value> {
      std::this_thread::sleep_for(2ms);  // the model's time
      Journal(DocId(c["doc"].get<int>()) + " embed " + c["chunk"].dump());
      return Value{{"doc", c["doc"]}, {"chunk", c["chunk"]}, {"dims", 384}};
    };
    // The embedding store deletes once per key: a compensation cut by a
    // crash runs again with the same key.
    auto delete_embedding = [this](const Value& chunk, const Value&, const StepContext& ctx) -> Status {
      Journal(DocId(chunk["doc"].get<int>()) + " delete " + chunk["chunk"].dump() + " " +
              std::string(ctx.idempotency_key));
      return Status::OK();
    };
    auto combine = [](Value acc, const Value& e) -> Result<Value> {
      acc["doc"] = e["doc"];
      acc["chunks"] = acc.value("chunks", 0) + 1;
      return acc;
    };
    auto publish = [this](const Value& approved, const StepContext& ctx) -> Result<Value> {
      const int n = approved["input"]["doc"].get<int>();
      if (PublishFails(n)) return Status::FailedPrecondition("the index rejects " + DocId(n));
      Journal(DocId(n) + " publish " + std::string(ctx.idempotency_key));
      return Value{{"doc", n}, {"published", true}, {"chunks", approved["input"]["chunks"]}};
    };
    runic::StepPolicy compensate;
    compensate.on_failure = runic::OnFailure::kCompensate;
    runic::StepPolicy flaky;
    flaky.max_retries = 3;
    flaky.backoff = runic::Backoff::kExponential;
    flaky.base_delay = 20ms;
    return runic::Workflow::Builder("ingest", 1)
        .Step("fetch", fetch)
        .Map("split", split, "fetch")
        .Step("embed", embed, "split")
        .Compensate("embed", delete_embedding)
        .Reduce("combine", "split", "embed", Value::object(), combine)
        .Await("approval", "approve", "combine", 3s)
        .Step("publish", publish, "approval")
        .Policy("fetch", flaky)
        .Policy("approval", compensate)
        .Policy("publish", compensate)
        .Build();
  }

  // Whether this is document n's first fetch in this process.
  bool FirstTry(int n) {
    std::lock_guard lock(flaky_mu_);
    return flaky_.insert(n).second;
  }

  int journal_ = -1;
  std::atomic<int> completed_{0};
  std::mutex flaky_mu_;
  std::set<int> flaky_;
  std::shared_ptr<runic::Database> db_;
  std::unique_ptr<runic::Store> store_;
  std::unique_ptr<runic::Runner> runner_;
  std::shared_ptr<const runic::Workflow> workflow_;
};

int Run(const std::string& dir, int n) {
  Service service;
  if (Status s = service.Open(dir); !s.ok()) return Fail("open", s);
  return service.Drive(n);
}

int Resume(const std::string& dir, int n) {
  Service service;
  if (Status s = service.Open(dir); !s.ok()) return Fail("open", s);
  service.Journal("== resume");
  Result<runic::ResumeAllReport> report = service.runner().ResumeAll();
  if (!report.ok()) return Fail("resume", report.status());
  for (const auto& f : report->failed) return Fail("resume " + f.id, f.status);
  Say("resumed " + std::to_string(report->resumed.size()));
  return service.Drive(n);  // starts what a crash cut off; approvals again (keys)
}

// Checks every document's end and the journal: each chunk embedded; each
// chunk of an undone document deleted under one key (once, as the
// embedding store applies it) and the others not; each published document
// published under one key and the others not.
int Report(const std::string& dir, int n) {
  Result<std::shared_ptr<runic::Database>> db = runic::Database::OpenUri("disk://" + dir + "/db?read_only=1");
  if (!db.ok()) return Fail("open", db.status());
  Result<std::unique_ptr<runic::Store>> store = (*db)->OpenStore(kRunner);
  if (!store.ok()) return Fail("store", store.status());
  // Distinct effects: "<doc> embed <chunk>", "<doc> delete <chunk>" and
  // "<doc> publish" with the number of distinct keys each came with.
  std::map<std::string, std::set<std::string>> effects;
  std::ifstream journal(dir + "/journal.log");
  for (std::string line; std::getline(journal, line);) {
    if (line.find(" delete ") != std::string::npos || line.find(" publish ") != std::string::npos) {
      effects[line.substr(0, line.rfind(' '))].insert(line.substr(line.rfind(' ') + 1));
    } else if (line.find(" embed ") != std::string::npos) {
      effects[line].insert("");
    }
  }
  auto count = [&](const std::string& effect) { return static_cast<int>(effects[effect].size()); };
  int problems = 0;
  auto problem = [&](const std::string& what) {
    ++problems;
    Say("problem " + what);
  };
  for (int i = 1; i <= n; ++i) {
    const std::string id = DocId(i);
    Result<runic::WorkflowHistory> h = runic::ReadHistory(**store, id);
    if (!h.ok()) {
      problem(id + ": " + h.status().ToString());
      continue;
    }
    if (h->state != Expected(i)) {
      problem(id + " is " + runic::WorkflowStateName(h->state) + ", expected " + runic::WorkflowStateName(Expected(i)));
    }
    const bool undone = Expected(i) != WorkflowState::kIdle;
    for (int k = 0; k < Chunks(i); ++k) {
      if (count(id + " embed " + std::to_string(k)) < 1)
        problem(id + ": chunk " + std::to_string(k) + " never embedded");
      const int deleted = count(id + " delete " + std::to_string(k));
      if (deleted != (undone ? 1 : 0))
        problem(id + ": chunk " + std::to_string(k) + " deleted " + std::to_string(deleted));
    }
    const int published = count(id + " publish");
    if (published != (Expected(i) == WorkflowState::kIdle ? 1 : 0)) {
      problem(id + ": published " + std::to_string(published) + " times");
    }
  }
  Say(problems == 0 ? "report ok " + std::to_string(n) : "report failed: " + std::to_string(problems) + " problems");
  return problems == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: document_ingestion run|resume|report DIR N\n");
    return 2;
  }
  const std::string mode = argv[1], dir = argv[2];
  const int n = std::atoi(argv[3]);
  if (n <= 0) {
    std::fprintf(stderr, "document_ingestion: N must be a positive count\n");
    return 2;
  }
  if (mode == "run") return Run(dir, n);
  if (mode == "resume") return Resume(dir, n);
  if (mode == "report") return Report(dir, n);
  std::fprintf(stderr, "usage: document_ingestion run|resume|report DIR N\n");
  return 2;
}
