// order_service: order fulfilment as a durable Runic workflow, the main job
// of Runic C++. Read this file after examples/store_demo.cc (the store tour).
//
//   order_service run DIR N     start N orders and run them to the end
//   order_service resume DIR    resume every unfinished order after a crash
//   order_service report DIR N  check the N orders and the execution journal
//
// scripts/demo runs `run`, kills it with SIGKILL half-way, then `resume` in a
// new process and `report`: every order finishes, and no step whose
// completion reached the store runs again.
//
// DIR holds
//   DIR/db/          the disk database (runic::Database, runner "orders")
//   DIR/journal.log  one line per step execution, written by the step itself
//                    with an unbuffered write(2) on an O_APPEND descriptor,
//                    so a SIGKILL loses at most the line being written
//   DIR/persisted.log  per resume: the step completions found in the store
//   DIR/resume.log   per resume: workflows resumed, runnables re-dispatched
//   DIR/payments.log one line per acknowledged payment signal
// (The database gets a directory of its own because Runic refuses to create
// a database in a non-empty directory that is not one already.)
//
// The workflow, "orders" version 1, for one order (the input):
//
//   validate -> check_inventory -+-> screen_fraud ------+-> finalize (join) -+-> await_payment -> charge
//                                +-> estimate_shipping -+                    +-> remind (1 s) -> send_reminder
//
// check_inventory is flaky: for every fourth order its first attempt in a
// process fails, and its policy retries it (3 retries, exponential backoff
// from 20 ms). screen_fraud and estimate_shipping run in parallel (a fan-out);
// finalize waits for both (a join). Then the order waits for its payment:
// await_payment is an Await of the signal "payment" (at most 3 s: an order
// nobody pays halts with kDeadlineExceeded and is then cancelled with a
// reason), and remind a durable timer (Delay) that sends a reminder 1 s
// after the order was finalized, paid or not.
//
// Payments come from another thread, as a payment provider's webhooks
// would (Runner::Signal, key "pay-<order>"): for even orders right after
// the order starts (before it waits: the signal is kept for its await), for
// the others once the order waits, every tenth twice with the same key
// (applied once), and never for orders ending in 7. Each acknowledged
// payment is journalled to DIR/payments.log; `resume` sends them all again
// (a provider retrying after our crash: the keys make that safe).
//
// Output goes through write(2) as well, one line at a time, so a parent
// reading our stdout through a pipe sees every line as soon as it happens:
//   started N            every order's input is durable
//   completed K          K steps completed so far in this process
//   done ID OUTCOME      an order became idle ("ok" or the halting error)
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <runic/runic.h>
#include <runic/runner.h>
#include <runic/workflow.h>

namespace {

using runic::Result;
using runic::Status;
using runic::Value;
using std::chrono::milliseconds;

constexpr const char* kRunner = "orders";    // the store's runner name
constexpr const char* kWorkflow = "orders";  // the definition's name
constexpr int kVersion = 1;
// The nodes every order ends with one value of (a paid one also await_payment and charge).
constexpr const char* kNodes[] = {"validate", "check_inventory", "screen_fraud", "estimate_shipping",
                                  "finalize", "remind",          "send_reminder"};
constexpr auto kAwait = std::chrono::minutes(2);           // longest wait for one order
constexpr auto kPaymentTimeout = std::chrono::seconds(3);  // an order's wait for its payment
constexpr auto kReminderDelay = std::chrono::seconds(1);

// Who pays when (see the top of the file).
bool NeverPaid(int n) { return n % 10 == 7; }
bool PaidEarly(int n) { return n % 2 == 0; }
bool PaidTwice(int n) { return n % 10 == 3; }
Value Payment(int n) { return {{"paid_cents", n * 100}, {"provider", "acme-pay"}}; }

// ---------------------------------------------------------------------------
// Unbuffered output.

bool WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// One line to stdout, in one write(2): lines from pool threads never mix.
void Say(const std::string& line) { WriteAll(STDOUT_FILENO, line + "\n"); }

int Fail(const std::string& what, const Status& s) {
  WriteAll(STDERR_FILENO, "order_service: " + what + ": " + s.ToString() + "\n");
  return 1;
}

// ---------------------------------------------------------------------------
// The business: pure functions of their inputs. Runic records their results
// as facts; the same order gives the same values in every process, which is
// what lets `report` recompute the expected outcome of every order.

std::string OrderId(int n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "order-%04d", n);
  return buf;
}

Value MakeOrder(int n) {
  Value items = Value::array();
  for (int i = 0; i < 1 + n % 3; ++i) {
    items.push_back({{"sku", "SKU-" + std::to_string(100 + (n * 7 + i * 13) % 50)},
                     {"qty", 1 + (n + i) % 4},
                     {"price_cents", 250 + (n * 37 + i * 101) % 2000}});
  }
  return {
      {"order", OrderId(n)}, {"number", n}, {"customer", "customer-" + std::to_string(n * 7 % 13)}, {"items", items}};
}

Result<Value> Validate(const Value& order) {
  if (!order.contains("items") || order["items"].empty()) return Status::InvalidArgument("order has no items");
  long total = 0;
  for (const Value& item : order["items"]) {
    if (item.value("qty", 0) <= 0) return Status::InvalidArgument("bad quantity");
    total += item["qty"].get<long>() * item["price_cents"].get<long>();
  }
  return Value{{"order", order["order"]},
               {"number", order["number"]},
               {"customer", order["customer"]},
               {"items", order["items"].size()},
               {"total_cents", total}};
}

Value CheckInventory(const Value& v) {
  static constexpr const char* kWarehouses[] = {"Leeds", "Lyon", "Leipzig"};
  Value out = v;
  out["warehouse"] = kWarehouses[v["number"].get<int>() % 3];
  out["reserved"] = true;
  return out;
}

Value ScreenFraud(const Value& v) {
  const int score = v["number"].get<int>() * 53 % 100;
  return {{"order", v["order"]}, {"fraud_score", score}, {"approved", score < 90}, {"total_cents", v["total_cents"]}};
}

Value EstimateShipping(const Value& v) {
  const int n = v["number"].get<int>();
  return {{"order", v["order"]},
          {"carrier", n % 2 ? "DHL" : "UPS"},
          {"days", 1 + n % 5},
          {"cost_cents", 499 + 100 * (n % 4)},
          {"from", v["warehouse"]}};
}

// A join gets one value per parent, in the order the parents were named.
Value Finalize(const Value& fraud, const Value& shipping) {
  return {{"order", fraud["order"]},
          {"status", fraud["approved"].get<bool>() ? "confirmed" : "held for review"},
          {"total_cents", fraud["total_cents"].get<long>() + shipping["cost_cents"].get<long>()},
          {"carrier", shipping["carrier"]},
          {"days", shipping["days"]}};
}

// What finalize must produce for order n: the pipeline called directly.
Value ExpectedFinal(int n) {
  Value inventory = CheckInventory(*Validate(MakeOrder(n)));
  return Finalize(ScreenFraud(inventory), EstimateShipping(inventory));
}

// An Await produces {"input": what it was fed, "signal": the signal's value}.
Value Charge(const Value& awaited) {
  return {{"order", awaited["input"]["order"]},
          {"charged_cents", awaited["signal"]["paid_cents"]},
          {"provider", awaited["signal"]["provider"]}};
}

Value Reminder(const Value& final) { return {{"order", final["order"]}, {"reminder", "sent"}}; }

// ---------------------------------------------------------------------------
// The steps: the business functions plus what makes them look like real
// work (a few ms of "I/O"), the flaky inventory service, and the journal.

struct Env {
  int journal_fd = -1;
};

// Sleeps `ms`, waking early when the runner asks the step to stop (timeout
// or shutdown). A cooperative step checks its stop token like this.
bool Work(const std::stop_token& stop, int ms) {
  const auto until = std::chrono::steady_clock::now() + milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (stop.stop_requested()) return false;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return true;
}

// "<workflow id> <node> ok|failed": one execution of the runnable
// (workflow, node). The workflow id travels inside every value ("order"),
// because a step sees only its input. Written after the function has
// finished and before the step returns its value to the runner, so every
// completion the runner could have persisted has its line.
void Journal(const Env& env, const Value& v, std::string_view node, bool ok) {
  if (env.journal_fd < 0) return;
  // (An await's value carries the order in its input.)
  const Value& order = v.contains("order") ? v["order"] : v["input"]["order"];
  std::string line = order.get<std::string>() + " " + std::string(node) + (ok ? " ok\n" : " failed\n");
  WriteAll(env.journal_fd, line);
}

// A step's business function: its input and the attempt (1, 2, ...: it
// counts every attempt, across retries and resumes after a crash).
using Business = std::function<Result<Value>(const Value& in, int attempt)>;

// A step that takes its context (runic::StepContext): the stop token, and
// the attempt for `fn`.
runic::ContextStepFn MakeStep(std::shared_ptr<const Env> env, std::string node, int ms, Business fn) {
  return [env, node = std::move(node), ms, fn = std::move(fn)](const Value& in,
                                                               const runic::StepContext& context) -> Result<Value> {
    if (!Work(context.stop, ms)) return Status::Unavailable(node + " cancelled");
    Result<Value> out = fn(in, context.attempt);
    Journal(*env, in, node, out.ok());
    return out;
  };
}

// The inventory service times out on the first attempt for every fourth
// order; the retry policy's next attempt gets through.
Result<Value> FlakyCheckInventory(const Value& v, int attempt) {
  if (v["number"].get<int>() % 4 == 3 && attempt == 1) {
    return Status::Unavailable("inventory service timed out (simulated)");
  }
  return CheckInventory(v);
}

// The definition. Every mode builds the same graph with the same policies,
// so the fingerprint recorded in the store matches and Resume accepts it.
Result<std::shared_ptr<const runic::Workflow>> MakeWorkflow(std::shared_ptr<const Env> env) {
  runic::StepPolicy flaky;
  flaky.max_retries = 3;
  flaky.backoff = runic::Backoff::kExponential;
  flaky.base_delay = milliseconds(20);  // 20, 40, 80 ms
  flaky.max_delay = milliseconds(200);

  return runic::Workflow::Builder(kWorkflow, kVersion)
      .Step("validate",
            MakeStep(env, "validate", 3, [](const Value& v, int) { return Validate(v); }))  // root: fed by Runner::Run
      .Step("check_inventory", MakeStep(env, "check_inventory", 8, FlakyCheckInventory), "validate")
      .Step("screen_fraud",
            MakeStep(env, "screen_fraud", 6, [](const Value& v, int) -> Result<Value> { return ScreenFraud(v); }),
            "check_inventory")
      .Step("estimate_shipping",
            MakeStep(env, "estimate_shipping", 5,
                     [](const Value& v, int) -> Result<Value> { return EstimateShipping(v); }),
            "check_inventory")
      .Join("finalize", {"screen_fraud", "estimate_shipping"},
            [env](const std::vector<Value>& in, std::stop_token stop) -> Result<Value> {
              if (!Work(stop, 2)) return Status::Unavailable("finalize cancelled");
              Value out = Finalize(in[0], in[1]);
              Journal(*env, in[0], "finalize", true);
              return out;
            })
      // The payment: a durable wait for the signal "payment" (kept if it came
      // earlier), then the charge. Its timeout halts the order (the default
      // policy) with kDeadlineExceeded, not retried; the service cancels it.
      .Await("await_payment", "payment", "finalize", std::chrono::duration_cast<milliseconds>(kPaymentTimeout))
      .Step("charge", MakeStep(env, "charge", 2, [](const Value& v, int) -> Result<Value> { return Charge(v); }),
            "await_payment")
      // A durable timer: its due time is in the store, so a crash neither
      // loses the reminder nor sends it early or twice.
      .Delay("remind", std::chrono::duration_cast<milliseconds>(kReminderDelay), "finalize")
      .Step("send_reminder",
            MakeStep(env, "send_reminder", 1, [](const Value& v, int) -> Result<Value> { return Reminder(v); }),
            "remind")
      .Policy("check_inventory", flaky)
      .Build();
}

// ---------------------------------------------------------------------------
// Reading what the store holds.
//
// What a stored workflow has produced, read from its history without
// running anything (runic/history.h): exactly the values whose completion
// is in the store.
Result<runic::WorkflowResults> StoredResults(runic::Store& store, const std::string& id) {
  Result<runic::WorkflowHistory> history = runic::ReadHistory(store, id);
  if (!history.ok()) return history.status();
  return history->results;
}

struct Service {
  std::string dir;
  std::shared_ptr<runic::Database> db;
  std::unique_ptr<runic::Store> store;
  std::shared_ptr<Env> env = std::make_shared<Env>();
  int payments_fd = -1;  // DIR/payments.log

  ~Service() {
    if (env->journal_fd >= 0) ::close(env->journal_fd);
    if (payments_fd >= 0) ::close(payments_fd);
  }

  Status Open(const std::string& d, bool journal) {
    dir = d;
    runic::DatabaseOptions options;
    options.dir = dir + "/db";  // created when missing, mode 0700
    options.create_if_missing = true;
    Result<std::shared_ptr<runic::Database>> opened = runic::Database::Open(options);
    if (!opened.ok()) return opened.status();
    db = *opened;
    Result<std::unique_ptr<runic::Store>> s = db->OpenStore(kRunner);
    if (!s.ok()) return s.status();
    store = std::move(*s);
    if (journal) {
      env->journal_fd = ::open((dir + "/journal.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (env->journal_fd < 0) return Status::IOError("cannot open " + dir + "/journal.log");
      payments_fd = ::open((dir + "/payments.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (payments_fd < 0) return Status::IOError("cannot open " + dir + "/payments.log");
    }
    return Status::OK();
  }

  // A runner on this service's store. `counter`, when given, counts the
  // completed steps and prints "completed K" after each.
  // `halted`: counts the workflows that halt other than by an unpaid order's
  // timeout (none: nothing is told).
  Result<std::unique_ptr<runic::Runner>> MakeRunner(std::atomic<std::uint64_t>* counter, std::size_t threads,
                                                    std::atomic<int>* halted = nullptr) {
    runic::RunnerOptions options;
    options.name = kRunner;
    options.store = store.get();
    // The steps mostly wait (like I/O), so more threads than cores pay off.
    options.threads = threads;
    if (counter != nullptr) {
      options.telemetry.runnable_stop = [counter](const runic::RunnerTelemetry::Event&) {
        Say("completed " + std::to_string(counter->fetch_add(1) + 1));
      };
    }
    if (halted != nullptr) {
      // For every order of this runner, whether it started it or resumed it.
      options.on_complete = [halted](const std::string& id, const Status& outcome) {
        // An unpaid order's timeout, and the cancel that follows it, are expected.
        if (!outcome.ok() && !outcome.IsDeadlineExceeded() && !outcome.IsCancelled()) halted->fetch_add(1);
        Say("done " + id + " " + (outcome.ok() ? std::string("ok") : outcome.ToString()));
      };
    }
    return runic::Runner::Create(std::move(options));
  }

  // Every workflow id in the store, page by page.
  Result<std::vector<std::string>> AllIds() {
    std::vector<std::string> ids;
    runic::ListOptions page_options;
    for (int pages = 0; pages < 100000; ++pages) {
      Result<runic::ListPage> page = store->List(page_options);
      if (!page.ok()) return page.status();
      ids.insert(ids.end(), page->ids.begin(), page->ids.end());
      if (!page->more || page->ids.empty()) break;
      page_options.start_after = page->ids.back();
    }
    return ids;
  }

  // Appends `text` to DIR/name with one write(2).
  Status AppendFile(const std::string& name, const std::string& text) {
    int fd = ::open((dir + "/" + name).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return Status::IOError("cannot open " + dir + "/" + name);
    bool ok = WriteAll(fd, text);
    ::close(fd);
    return ok ? Status::OK() : Status::IOError("cannot write " + dir + "/" + name);
  }
};

// The orders' options, registered with the definition: each order records
// them at its start, and runs with them again when resumed.
runic::WorkflowOptions OrderOptions() {
  runic::WorkflowOptions options;
  // The default, spelled out: every applied result is appended to the store
  // before the next dispatch, so a crash redoes at most the steps in flight.
  options.checkpoint = runic::CheckpointStrategy::kEveryCycle;
  return options;
}

// ---------------------------------------------------------------------------
// The payment provider and the orders nobody paid.

// Sends order n's payment (every tenth twice, with the same key: applied
// once) and journals each one acknowledged. A cancelled order refuses it
// (kFailedPrecondition): not an error.
Status Pay(runic::Runner& runner, Service& svc, int n) {
  const std::string id = OrderId(n), key = "pay-" + id;
  for (int k = 0; k < (PaidTwice(n) ? 2 : 1); ++k) {
    // Returns once the signal is durable in the order's inbox, whether the
    // order waits for it yet or not.
    Status s = runner.Signal(id, "payment", Payment(n), key);
    if (s.IsFailedPrecondition()) return Status::OK();
    if (!s.ok()) return s;
    WriteAll(svc.payments_fd, id + " " + key + "\n");
  }
  return Status::OK();
}

// The provider's thread: the early payments at once, the others once their
// order waits for one (it was finalized), none for the unpaid orders.
std::thread PaymentProvider(runic::Runner& runner, Service& svc, int orders, std::atomic<int>* failures) {
  return std::thread([&runner, &svc, orders, failures] {
    auto pay = [&](int n) {
      if (Status s = Pay(runner, svc, n); !s.ok()) {
        failures->fetch_add(1);
        Fail("pay " + OrderId(n), s);
      }
    };
    for (int n = 1; n <= orders; ++n) {
      if (PaidEarly(n) && !NeverPaid(n)) pay(n);
    }
    for (int n = 1; n <= orders; ++n) {
      if (PaidEarly(n) || NeverPaid(n)) continue;
      for (int i = 0; i < 60000; ++i) {  // at most a minute
        Result<runic::WorkflowResults> results = runner.GetResults(OrderId(n));
        if (!results.ok() || results->count("finalize")) break;  // waiting (or not loaded here: sent all the same)
        std::this_thread::sleep_for(milliseconds(1));
      }
      pay(n);
    }
  });
}

// Cancels the orders whose payment never came (their await timed out and
// halted them), with a reason, and waits until each is cancelled; returns
// how many. The halted ones are found in the store's state index.
Result<int> CancelUnpaid(runic::Runner& runner, runic::Store& store) {
  runic::StoredWorkflowQuery query;
  query.state = runic::WorkflowState::kHalted;
  Result<runic::StoredWorkflowPage> halted = runner.ListStoredWorkflows(query);
  if (!halted.ok()) return halted.status();
  int cancelled = 0;
  for (const runic::StoredWorkflow& w : halted->workflows) {
    Result<runic::WorkflowHistory> history = runic::ReadHistory(store, w.id);
    if (!history.ok()) return history.status();
    if (!history->halt_error.IsDeadlineExceeded()) continue;  // halted by something else: left for an operator
    // Durable in the order's inbox; the order's runner records it.
    if (Status s = runner.Cancel(w.id, "no payment within 3 s"); !s.ok()) return s;
    ++cancelled;
    for (int i = 0; i < 30000; ++i) {
      Result<runic::WorkflowHistory> now = runic::ReadHistory(store, w.id);
      if (now.ok() && now->state == runic::WorkflowState::kCancelled) break;
      std::this_thread::sleep_for(milliseconds(1));
    }
  }
  return cancelled;
}

// ---------------------------------------------------------------------------
// run DIR N

int Run(const std::string& dir, int n) {
  Service svc;
  if (Status s = svc.Open(dir, /*journal=*/true); !s.ok()) return Fail("open " + dir, s);
  auto workflow = MakeWorkflow(svc.env);
  if (!workflow.ok()) return Fail("build the workflow", workflow.status());
  std::atomic<std::uint64_t> completed{0};
  std::atomic<int> halted{0};
  auto runner = svc.MakeRunner(&completed, 8, &halted);
  if (!runner.ok()) return Fail("create the runner", runner.status());
  if (Status s = (*runner)->Register(*workflow, OrderOptions()); !s.ok()) return Fail("register", s);

  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 1; i <= n; ++i) {
    const std::string id = OrderId(i);
    // kConflict when the id is already in the store: that is Resume's job.
    if (Status s = (*runner)->StartWorkflow(id, *workflow); !s.ok()) return Fail("start " + id, s);
    // Returns once the input is durable: from here on the order survives a
    // crash of this process.
    if (Status s = (*runner)->Run(id, MakeOrder(i)); !s.ok()) return Fail("run " + id, s);
    // Orders arrive over time, as at a real service: the first ones are
    // finishing while the last ones come in.
    std::this_thread::sleep_for(milliseconds(1));
  }
  Say("started " + std::to_string(n));
  std::atomic<int> payment_failures{0};
  std::thread provider = PaymentProvider(**runner, svc, n, &payment_failures);

  for (int i = 1; i <= n; ++i) {
    if (Status s = (*runner)->AwaitIdle(OrderId(i), kAwait); !s.ok()) {
      provider.join();
      return Fail("await " + OrderId(i), s);
    }
  }
  provider.join();
  Result<int> cancelled = CancelUnpaid(**runner, *svc.store);
  if (!cancelled.ok()) return Fail("cancel the unpaid orders", cancelled.status());
  const auto ms = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count();
  Say("run: " + std::to_string(n) + " orders, " + std::to_string(completed.load()) + " steps completed, " +
      std::to_string(*cancelled) + " unpaid cancelled, " + std::to_string(halted.load()) + " halted, in " +
      std::to_string(ms) + " ms");
  return halted.load() == 0 && payment_failures.load() == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------
// resume DIR

int Resume(const std::string& dir) {
  Service svc;
  if (Status s = svc.Open(dir, /*journal=*/true); !s.ok()) return Fail("open " + dir, s);
  const std::string marker = "== resume " + std::to_string(::getpid()) + " " +
                             std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "\n";
  // Everything journalled after this line ran in this process.
  if (!WriteAll(svc.env->journal_fd, marker)) return Fail("journal", Status::IOError("write"));

  // 1. Before anything runs again, record which completions the store holds
  //    (their histories): `report` checks that none of them runs again.
  {
    auto ids = svc.AllIds();
    if (!ids.ok()) return Fail("list workflows", ids.status());
    std::string persisted = marker;
    for (const std::string& id : *ids) {
      auto results = StoredResults(*svc.store, id);
      if (!results.ok()) return Fail("read the history of " + id, results.status());
      for (const auto& [node, values] : *results) {
        // The steps journal their runs; the await and the timer run no code.
        if (node == "await_payment" || node == "remind") continue;
        for (std::size_t i = 0; i < values.size(); ++i) persisted += id + " " + node + "\n";
      }
    }
    if (Status s = svc.AppendFile("persisted.log", persisted); !s.ok()) return Fail("persisted.log", s);
  }

  // 2. Resume for real. The definition must be registered first: C++
  //    functions cannot be stored, so the store names it (name, version,
  //    fingerprint) and Resume looks it up.
  auto workflow = MakeWorkflow(svc.env);
  if (!workflow.ok()) return Fail("build the workflow", workflow.status());
  std::atomic<std::uint64_t> completed{0};
  std::atomic<int> halted{0};
  auto runner = svc.MakeRunner(&completed, 8, &halted);
  if (!runner.ok()) return Fail("create the runner", runner.status());
  if (Status s = (*runner)->Register(*workflow); !s.ok()) return Fail("register", s);

  // Every workflow in the store with work left: runnables that were
  // dispatched but whose completion never reached the store are dispatched
  // again; completed ones are not. Each runs with the options it recorded
  // at its start.
  auto resumed = (*runner)->ResumeAll();
  if (!resumed.ok()) return Fail("resume", resumed.status());
  // The provider sends every payment again (it cannot know which ones we
  // recorded before the crash): the keys make each count once.
  auto ids = svc.AllIds();
  if (!ids.ok()) return Fail("list workflows", ids.status());
  std::atomic<int> payment_failures{0};
  std::thread provider = PaymentProvider(**runner, svc, static_cast<int>(ids->size()), &payment_failures);
  // One order that cannot be resumed does not keep the others from running.
  for (const runic::ResumeAllReport::Failure& f : resumed->failed) {
    std::fprintf(stderr, "order_service: order %s not resumed: %s\n", f.id.c_str(), f.status.ToString().c_str());
  }
  std::uint64_t redispatched = 0;
  for (const std::string& id : resumed->resumed) {
    if (Status s = (*runner)->AwaitIdle(id, kAwait); !s.ok()) {
      provider.join();
      return Fail("await " + id, s);
    }
    auto info = (*runner)->Lookup(id);
    if (!info.ok()) return Fail("lookup " + id, info.status());
    redispatched += info->redispatched;
  }
  provider.join();
  // Orders the payments loaded again (they were idle, or waited) finish too.
  for (const std::string& id : (*runner)->ListWorkflows()) {
    if (Status s = (*runner)->AwaitIdle(id, kAwait); !s.ok()) return Fail("await " + id, s);
  }
  Result<int> cancelled = CancelUnpaid(**runner, *svc.store);
  if (!cancelled.ok()) return Fail("cancel the unpaid orders", cancelled.status());
  Say("resume: " + std::to_string(resumed->resumed.size()) + " workflows resumed, " + std::to_string(redispatched) +
      " runnables dispatched again, " + std::to_string(completed.load()) + " steps completed, " +
      std::to_string(*cancelled) + " unpaid cancelled, " + std::to_string(halted.load()) + " halted");
  if (payment_failures.load() != 0) return 1;
  if (Status s = svc.AppendFile("resume.log", "resumed " + std::to_string(resumed->resumed.size()) + " redispatched " +
                                                  std::to_string(redispatched) + "\n");
      !s.ok()) {
    return Fail("resume.log", s);
  }
  return halted.load() == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------
// report DIR N

// The lines of a text file ("" when it is missing).
std::vector<std::string> ReadLines(const std::string& path) {
  std::vector<std::string> lines;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return lines;
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(text.substr(start, nl - start));
  }
  return lines;  // a torn last line (no newline) is dropped
}

int Report(const std::string& dir, int n) {
  Service svc;
  if (Status s = svc.Open(dir, /*journal=*/false); !s.ok()) return Fail("open " + dir, s);

  // Did every order finish with the value an uninterrupted run gives: paid
  // and charged, or (unpaid) cancelled? And the signals and timers, from
  // the histories: every acknowledged payment recorded once (its key kept
  // once, the duplicates dropped), every reminder fired once, never before
  // its due time.
  std::set<std::string> acknowledged;  // payment keys the provider was told were durable
  int sent = 0;
  for (const std::string& line : ReadLines(dir + "/payments.log")) {
    acknowledged.insert(line.substr(line.find(' ') + 1));
    ++sent;
  }
  int finished = 0, cancelled = 0, unpaid = 0, consumed = 0, consumed_twice = 0, lost = 0, early = 0, fired_twice = 0;
  std::vector<std::string> unfinished;
  runic::HistoryReadOptions with_events;
  with_events.events = true;
  for (int i = 1; i <= n; ++i) {
    const std::string id = OrderId(i);
    unpaid += NeverPaid(i);
    Result<runic::WorkflowHistory> h = runic::ReadHistory(*svc.store, id, with_events);
    if (!h.ok()) {
      unfinished.push_back(id + " (" + h.status().ToString() + ")");
      continue;
    }
    runic::WorkflowResults& results = h->results;
    bool ok = true;
    for (const char* node : kNodes) ok = ok && results.count(node) && results.at(node).size() == 1;
    ok = ok && results["finalize"][0] == ExpectedFinal(i);
    if (NeverPaid(i)) {
      ok = ok && h->state == runic::WorkflowState::kCancelled && results.count("charge") == 0;
    } else {
      ok = ok && h->state == runic::WorkflowState::kIdle && results["charge"].size() == 1 &&
           results["charge"][0] == Charge({{"input", ExpectedFinal(i)}, {"signal", Payment(i)}});
    }
    cancelled += h->state == runic::WorkflowState::kCancelled;
    std::map<std::string, int> kept;  // key -> signals recorded and kept
    std::int64_t due = 0;
    int fired = 0;
    for (const runic::HistoryEvent& e : h->events) {
      if (e.kind == runic::HistoryEventKind::kSignal && e.dropped.empty()) ++kept[e.idempotency_key];
      if (e.kind == runic::HistoryEventKind::kWait && e.node == "remind") due = e.due_us;
      if (e.kind == runic::HistoryEventKind::kDone && e.node == "remind") {
        ++fired;
        early += e.at_us < due;
      }
    }
    fired_twice += fired > 1;
    for (const auto& [key, count] : kept) {
      consumed += count;
      consumed_twice += count > 1;
    }
    consumed_twice += results["await_payment"].size() > 1;
    const std::string key = "pay-" + id;
    lost += acknowledged.count(key) != 0 && kept.count(key) == 0;
    if (ok) {
      ++finished;
    } else {
      unfinished.push_back(id + " (" + runic::WorkflowStateName(h->state) + ")");
    }
  }

  // Compare the journal with the completions the store held before each
  // resume. The journal is cut into segments by "== resume" lines: segment
  // 0 is `run`, segment k the k-th resume; persisted.log lists, for the
  // k-th resume, the (workflow, node) pairs whose completion was in the
  // store when it started. Such a pair must have no journal line in
  // segment k or later.
  std::set<std::string> persisted;                            // union over the resumes so far
  std::map<std::string, std::set<std::string>> persisted_at;  // resume marker -> pairs
  {
    std::string current;
    for (const std::string& line : ReadLines(dir + "/persisted.log")) {
      if (line.rfind("== ", 0) == 0) {
        current = line;
        persisted_at[current];
      } else {
        persisted_at[current].insert(line);
      }
    }
  }
  std::map<std::string, int> runs;  // (workflow node) -> successful executions
  std::set<std::string> ran_again;  // persisted pairs executed again
  for (const std::string& line : ReadLines(dir + "/journal.log")) {
    if (line.rfind("== ", 0) == 0) {
      const auto& add = persisted_at[line];
      persisted.insert(add.begin(), add.end());
      continue;
    }
    const std::size_t last = line.rfind(' ');
    if (last == std::string::npos) continue;
    const std::string key = line.substr(0, last);
    if (line.compare(last + 1, std::string::npos, "ok") == 0) ++runs[key];
    if (persisted.count(key)) ran_again.insert(key);
  }
  int twice = 0;
  for (const auto& [key, count] : runs) twice += count > 1;
  int unjournalled = 0;  // a persisted completion must have its journal line
  for (const auto& [marker, pairs] : persisted_at) {
    for (const std::string& key : pairs) unjournalled += runs.count(key) == 0;
  }

  std::uint64_t resumed = 0, redispatched = 0;
  for (const std::string& line : ReadLines(dir + "/resume.log")) {
    unsigned long long r = 0, d = 0;
    if (std::sscanf(line.c_str(), "resumed %llu redispatched %llu", &r, &d) == 2) {
      resumed += r;
      redispatched += d;
    }
  }

  Say("report: " + std::to_string(finished) + "/" + std::to_string(n) +
      " orders finished with the values of an uninterrupted run (paid and charged, or unpaid and cancelled)");
  for (const std::string& id : unfinished) Say("  NOT FINISHED: " + id);
  Say("  workflows resumed:              " + std::to_string(resumed));
  Say("  runnables dispatched again:     " + std::to_string(redispatched));
  Say("  steps that ran twice:           " + std::to_string(twice) +
      " (allowed: in flight at the kill, completion not yet in the store)");
  Say("  persisted steps that ran again: " + std::to_string(ran_again.size()));
  for (const std::string& key : ran_again) Say("    RAN AGAIN: " + key);
  if (unjournalled) Say("  persisted completions with no journal line: " + std::to_string(unjournalled));
  Say("  payment signals sent:           " + std::to_string(sent) + " (acknowledged; " +
      std::to_string(acknowledged.size()) + " keys)");
  Say("  payment signals consumed:       " + std::to_string(consumed));
  Say("  signals consumed twice:         " + std::to_string(consumed_twice) + " (must be 0)");
  Say("  signals lost:                   " + std::to_string(lost) + " (must be 0)");
  Say("  reminders fired early:          " + std::to_string(early) + " (must be 0)");
  Say("  reminders fired twice:          " + std::to_string(fired_twice) + " (must be 0)");
  Say("  orders cancelled (unpaid):      " + std::to_string(cancelled) + " of " + std::to_string(unpaid) +
      " never paid");
  const bool good = finished == n && ran_again.empty() && unjournalled == 0 && consumed_twice == 0 && lost == 0 &&
                    early == 0 && fired_twice == 0 && cancelled == unpaid;
  Say(good ? "report: OK" : "report: FAILED");
  return good ? 0 : 1;
}

int Usage() {
  WriteAll(STDERR_FILENO, "usage: order_service run DIR N | resume DIR | report DIR N\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string mode = argv[1], dir = argv[2];
  const int n = argc > 3 ? std::atoi(argv[3]) : 0;
  if (mode == "run" && argc == 4 && n > 0) return Run(dir, n);
  if (mode == "resume" && argc == 3) return Resume(dir);
  if (mode == "report" && argc == 4 && n > 0) return Report(dir, n);
  return Usage();
}
