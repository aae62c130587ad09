// Runner: runs workflows on a thread pool, checkpoints them to a store, and
// resumes them after a crash without redoing completed work.
//
// A workflow instance has an id (a store workflow id). Its history is an
// event stream in the store: started (definition name, version,
// fingerprint), input, dispatched (runnable, attempt), completed (runnable,
// produced fact), failed (runnable, attempt, error, outcome). Fact values go
// to the store's fact table; events carry only their hashes. Resume replays
// the snapshot and the events after it, then dispatches again every runnable
// that was not completed — a step whose completion was persisted never runs
// again; one that was running when the process died runs again.
//
// Ownership (with a store that several processes share, such as etcd; on
// the embedded engines all of it is a no-op): a runner claims a workflow
// (Store::Claim) before it writes anything for it or reads it for a resume,
// and holds it through its process's lease while it has work. It gives the
// workflow up (Store::Release) once it finished (completed or halted) and
// all of it is written, when it is stopped, and at Shutdown; an input to a
// finished workflow claims it again. Another runner can take a workflow over
// only when it is given up, or once the holder's lease expired (it
// crashed, hung or was cut off). kNotOwner from StartWorkflow, Resume, or
// Run on a finished workflow that must be claimed again: another live
// runner holds it; nothing was written, try again later. kNotOwner from a
// checkpoint (Run, Checkpoint, Stop, or a group checkpoint): this runner
// lost the workflow (its lease expired, another runner may have it); it
// halts with kNotOwner (Lookup, on_complete) and nothing more is written
// for it, not even a release. Stop it, then Resume it (here or elsewhere)
// to go on from what the store holds.
#ifndef RUNIC_RUNNER_H_
#define RUNIC_RUNNER_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runic/clock.h"
#include "runic/export.h"
#include "runic/result.h"
#include "runic/status.h"
#include "runic/store.h"
#include "runic/workflow.h"

namespace runic {

enum class CheckpointStrategy {
  kEveryCycle,  // after every applied result (default): the least redone work
                // (cycles that end on the pool are written in groups, see
                // RunnerOptions::store)
  kOnComplete,  // only when the workflow becomes idle
  kEveryN,      // after every `checkpoint_every` completed runnables
  kManual,      // only on Runner::Checkpoint (and Stop/Shutdown)
};

// How a workflow instance runs. The options a workflow is started with are
// recorded in its started event (and its snapshots): resumed, here or in
// another process (a restart, a takeover), it runs with them again. What
// is called back is not recorded: RunnerOptions::on_complete.
struct WorkflowOptions {
  CheckpointStrategy checkpoint = CheckpointStrategy::kEveryCycle;
  std::size_t checkpoint_every = 10;  // for kEveryN
  // At most this many runnables of this workflow run at once.
  std::size_t max_concurrency = 8;
  // Write a snapshot of the workflow's state every this many events (0:
  // never), and then trim the events it covers when trim_after_snapshot.
  std::uint64_t snapshot_every = 0;
  bool trim_after_snapshot = false;

  friend bool operator==(const WorkflowOptions&, const WorkflowOptions&) = default;
};

// Callbacks around workflows and runnables. They run on the thread that
// caused them (a pool thread, the timer thread for timeouts, the caller of
// Run), except that a workflow finished by a group checkpoint reports on a
// pool thread; never under the runner's locks, never on the committer's
// thread. Exceptions they throw are caught and discarded. Each attempt is
// reported once: runnable_start, then runnable_stop or runnable_exception (a
// timed-out attempt: DeadlineExceeded, from the timer thread; whatever it
// returns later is neither recorded nor reported). Store
// operations have their own callbacks: StoreOptions::telemetry of the Store
// given to the runner.
struct RunnerTelemetry {
  struct Event {
    std::string_view workflow_id;
    std::string_view node;                 // empty for workflow events
    int attempt = 0;                       // runnables
    std::chrono::nanoseconds duration{0};  // of the attempt (runnable_stop, _exception)
    const Status* error = nullptr;         // exceptions
    // runnable_start: how long the attempt waited in the pool queue, from
    // its dispatch until it started running (not counted in its timeout).
    std::chrono::nanoseconds queued{0};
  };
  std::function<void(const Event&)> workflow_start, workflow_stop, workflow_exception;
  std::function<void(const Event&)> runnable_start, runnable_stop, runnable_exception;
};

struct RunnerOptions {
  // Names the runner (for logs and telemetry).
  std::string name = "runner";
  // Where workflows are checkpointed; null: in memory only (no resume).
  // Not owned: it must outlive the Runner. With a store, one more thread
  // ("runic-commit") writes the checkpoints of cycles that end on the pool,
  // many workflows in one Store::AppendMany; the runnables a cycle made
  // ready start once that write succeeded.
  Store* store = nullptr;
  // Pool threads ("runic-pool"); 0: the number of cores. A step that ignores its stop token
  // keeps its thread until it returns; the other threads go on, and
  // timeouts and retries are handled on a separate timer thread.
  std::size_t threads = 0;
  // Default: Clock::Real().
  std::shared_ptr<Clock> clock;
  RunnerTelemetry telemetry;
  // Called (on a pool thread) each time a workflow of this runner becomes
  // idle, halts or is cancelled: ok when everything ran, else the halting
  // error (or the cancel's reason). Also for the
  // workflows it resumed or took over, whoever started them. Must not call
  // Shutdown.
  std::function<void(const std::string& id, const Status& outcome)> on_complete;

  // Unloading (SEMANTICS.md 4, "Unloading"), with a store: a workflow with
  // nothing to run now (waiting for a time or a signal, idle, paused,
  // halted by a node, cancelled) is unloaded once it has been so for this
  // long with everything it recorded written: its memory is freed and its
  // ownership given up (etcd), and it holds no thread or timer. The store
  // brings it back when it has work: its due time (see due_poll_interval),
  // a signal or a control in its inbox, an input (Run loads it), ResumeAll.
  // A workflow with a due time within 2 x due_poll_interval, or one a
  // thread waits for in AwaitIdle, stays loaded. Zero: as soon as it is
  // quiet; milliseconds::max(): never. Default 60 s.
  std::chrono::milliseconds unload_after = std::chrono::seconds(60);
  // With a store: how often the runner reads the store's due-time index for
  // workflows not loaded here (unloaded, or left by ResumeAll because their
  // time was far) and loads those due within 2 x this, so that their timers
  // fire on time. Every runner of a shared store (etcd) polls; the one that
  // claims a workflow first runs it. Reads only the entries due within the
  // window. Default 1 s; at least 1 ms.
  std::chrono::milliseconds due_poll_interval = std::chrono::seconds(1);
  // Retention of finished workflows (SEMANTICS.md 4, "Retention"), with a
  // store: a workflow that is idle (completed) or cancelled for this long
  // (from the write that finished it, on this runner's clock) is deleted
  // from the store with its index entries, inbox and idempotency keys
  // (which live in its events), by the runner's poll of the due-time index
  // (the expiry is the workflow's due time while it is finished), at most
  // 10,000 a poll. It is kept when it is loaded here (it is deleted once
  // unloaded), has inbox entries not yet recorded, or changed since the
  // poll read it (the store's conditional delete); an input before then
  // makes it run again, and its next finish starts the period again. The
  // facts it named stay in the fact table until a fact sweep (runic/gc.h,
  // `runic gc`). Workflows that finished while retention was off are kept.
  // On etcd a runner deletes only what it can claim. Zero (the default):
  // kept for ever.
  std::chrono::milliseconds retention{0};
};

// A workflow's state (SEMANTICS.md 4, "States"); the controls (Pause,
// Cancel, ...) enter paused, cancelling and cancelled.
enum class WorkflowState {
  kRunning,     // has runnables ready or running
  kIdle,        // nothing left to run: complete until the next input (Run and
                // signals are still accepted: not terminal)
  kHalted,      // a node failed with OnFailure::kHalt, or the store failed
                // (WorkflowInfo::error says which); not terminal
  kWaiting,     // only timers, awaits and retry backoffs pending (later also
                // children)
  kPaused,      // nothing new dispatches; inputs are recorded and dispatched on
                // unpause
  kCancelling,  // compensations running
  kCancelled,   // terminal: refuses inputs
};
// "running", "idle", "halted", "waiting", "paused", "cancelling",
// "cancelled".
RUNIC_EXPORT const char* WorkflowStateName(WorkflowState state);

// Which stored workflows Runner::ListStoredWorkflows lists.
struct StoredWorkflowQuery {
  std::optional<WorkflowState> state;  // default: every state
  // "" for every definition; with version 0, every version of it.
  std::string definition;
  int version = 0;
  // Only ids that start with this. The index is read only where it matches
  // when a state, a definition and its version are given; otherwise the
  // entries of the state(s) are read and filtered.
  std::string prefix;
  std::string start_after;   // the `next` of the previous page
  std::size_t limit = 1000;  // 1 .. 100000
};

struct StoredWorkflow {
  std::string id;
  WorkflowState state = WorkflowState::kIdle;
  std::string definition;
  int version = 0;
};

struct StoredWorkflowPage {
  std::vector<StoredWorkflow> workflows;  // in (state, definition@version, id) order
  std::string next;                       // "" on the last page; else pass as start_after
};

struct WorkflowInfo {
  std::string id;
  std::string workflow;  // definition name
  int version = 0;
  WorkflowState state = WorkflowState::kIdle;
  Status error;                 // why it halted (or was cancelled)
  std::uint64_t facts = 0;      // inputs and productions
  std::uint64_t completed = 0;  // runnables completed (including skipped)
  std::uint64_t running = 0;    // runnables running or waiting for a retry
  // Runnables that had been dispatched before the process stopped and that
  // resume dispatched again (started, queued or waiting for a retry then).
  std::uint64_t redispatched = 0;
  std::uint64_t cursor = 0;  // events committed to the store
  WorkflowOptions options;   // what it runs with (see WorkflowOptions)
};

// Produced values by node name, in production order.
using WorkflowResults = std::map<std::string, std::vector<Value>>;

// What StartWorkflow does when the id exists already (running here, or in
// the store).
enum class IfExists {
  kFail,            // kConflict (the default)
  kReturnExisting,  // OK when it runs the same definition (by name): a caller
                    // retrying a start after a timeout gets the workflow its
                    // first call started. Nothing is written; an existing
                    // workflow that is only in the store is resumed here.
};

// Idempotency keys (StartOptions, Runner::Run): scope (workflow id, key); a
// key seen before is acknowledged (OK) and not applied again. Kept as long as
// the workflow (in its history and snapshots: trims do not lose them). At
// most kMaxIdempotencyKeyBytes; "" is no key.
inline constexpr std::size_t kMaxIdempotencyKeyBytes = 256;

struct StartOptions {
  // The first input, written in the same commit as the start: the workflow
  // is never in the store without it.
  std::optional<Value> input = std::nullopt;
  // A start with a key this workflow was started with is acknowledged (OK)
  // whatever if_exists says.
  std::string idempotency_key = {};
  IfExists if_exists = IfExists::kFail;
};

struct ResumeAllOptions {
  // As for Resume, for every workflow it resumes.
  std::optional<WorkflowOptions> options = std::nullopt;
  // Also look at every workflow the store's state index does not name:
  // those last written by a release before the index (they join it at
  // their next write). Reads each workflow's head (Store::Peek): time in
  // proportion to the workflows in the store. Default false: only the
  // indexes are read, in proportion to the workflows with work now.
  bool scan_unindexed = false;
};

// What Runner::ResumeAll did, workflow by workflow, each list in id order.
struct ResumeAllReport {
  // Resumed, with work left, and running here now.
  std::vector<std::string> resumed;
  // Could not be resumed (an unregistered or changed definition, a trimmed
  // or corrupt history, a store error): each with its error, whose message
  // names the workflow. The others were resumed all the same.
  struct Failure {
    std::string id;
    Status status;
  };
  std::vector<Failure> failed;
  // Held by another live runner (kNotOwner): not read. Call ResumeAll again
  // after the lease TTL to take over those whose runner died.
  std::vector<std::string> owned_elsewhere;
  // OK, or why listing the store's workflows stopped part-way: the ids
  // after the last one listed were not looked at. Call again.
  Status listing;
};

// Thread safety: every method may be called from any thread.
// Destruction calls Shutdown().
class RUNIC_EXPORT Runner {
 public:
  static Result<std::unique_ptr<Runner>> Create(RunnerOptions options);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Makes a definition available to Resume. StartWorkflow registers too.
  // kConflict when another definition with the same name and version but a
  // different fingerprint is registered. `defaults`: the options of the
  // starts of this definition that give none, and of its workflows whose
  // history records none (started by a release before options were
  // recorded); a later Register with defaults replaces them, one without
  // keeps them (WorkflowOptions{} the first time).
  Status Register(std::shared_ptr<const Workflow> workflow);
  Status Register(std::shared_ptr<const Workflow> workflow, const WorkflowOptions& defaults);

  // Starts workflow instance `id` with `options` (none: the definition's
  // registered defaults), recorded with its start. kConflict when `id` is
  // already running in this runner, or (with a store) already exists in the
  // store: use Resume. kNotOwner: another live runner holds `id`; nothing
  // was written.
  Status StartWorkflow(std::string_view id, std::shared_ptr<const Workflow> workflow,
                       std::optional<WorkflowOptions> options = std::nullopt);
  // The same, with a first input, an idempotency key and a choice for an id
  // that exists (see StartOptions). kInvalidArgument for a key over
  // kMaxIdempotencyKeyBytes or an input over the store's limits: nothing
  // written.
  Status StartWorkflow(std::string_view id, std::shared_ptr<const Workflow> workflow,
                       std::optional<WorkflowOptions> options, const StartOptions& start);

  // Adds an input; returns once it is durable (with a store). A workflow
  // not loaded here (unloaded, or only in the store) is loaded first, as
  // Resume does. kNotFound for an id neither here nor in the store (or
  // whose definition is not registered here); kInvalidArgument for a value
  // over the store's limits. When the store fails, the error is returned and the workflow
  // halts; the input may still be recorded by a later checkpoint. kNotOwner:
  // another runner holds the workflow (this one had given it up when it
  // finished, and nothing was recorded; or it lost it, see above).
  // kFailedPrecondition: the workflow is halted, cancelling or cancelled;
  // nothing recorded. A paused workflow records it and runs it on unpause.
  Status Run(std::string_view id, Value input);
  // The same with an idempotency key: a key this workflow has seen (from Run
  // or its start) is acknowledged and the input not applied again, also
  // after a restart; kInvalidArgument for a key over kMaxIdempotencyKeyBytes.
  // kFailedPrecondition as above, unless the key was applied before.
  Status Run(std::string_view id, Value input, std::string_view idempotency_key);

  // Sends the event `name` with `value` to workflow `id` (SEMANTICS.md 4,
  // "Signals"; Workflow::Builder::Await). Returns once it is durable in the
  // workflow's inbox, whether the workflow is loaded here, in another
  // runner (etcd: its owner records it), or in none (this runner loads it
  // when its definition is registered here; otherwise the next runner that
  // resumes it records it). An Await of that name takes it, the one that
  // started first, or it is kept (buffered) until one starts. `key`: an
  // idempotency key (scope: the workflow, shared with Run's and the
  // start's): a signal with a key the workflow has seen is acknowledged and
  // not applied again. Without a store it goes straight to a workflow
  // running here (and is lost with the process). Errors, with nothing
  // stored: kInvalidArgument (an empty id, an empty name or one over
  // kMaxSignalNameBytes, a key over kMaxIdempotencyKeyBytes, a value over
  // the store's limit or nested deeper than kMaxValueDepth); kNotFound (no
  // such workflow in the store; without a store: not running here);
  // kFailedPrecondition (its inbox is closed: it was cancelled);
  // kResourceExhausted (StoreLimits::max_inbox_entries are waiting to be
  // recorded); the store's errors.
  Status Signal(std::string_view id, std::string_view name, Value value, std::string_view key = {});

  // Controls (SEMANTICS.md 4, "Controls"). Each returns once it is durable
  // in the workflow's inbox (without a store: once applied to the workflow
  // running here); the workflow's owner applies it, here or in another
  // runner (etcd), in the order controls and signals were sent, and records
  // it in the history. Errors, with nothing written: kFailedPrecondition
  // when the workflow's state refuses it (as this runner, or the store's
  // state index, sees it; a state that changed before the owner applies it
  // is recorded in the history as a refusal, with why); kNotFound (no such
  // workflow; without a store: not running here); kInvalidArgument (an
  // empty id, a reason over 4,096 bytes); the store's errors.
  //
  // Cancel: nothing new starts, timers and awaits end, running steps are
  // asked to stop (their results are still recorded); state cancelling until
  // none runs, then cancelled: terminal, never resumed to run again, its
  // inbox closed (Run, Signal and controls fail with kFailedPrecondition);
  // on_complete and Lookup give kCancelled with the reason. Refused once
  // cancelling or cancelled. (Child workflows, then compensations, come
  // first with the composition release.)
  Status Cancel(std::string_view id, std::string_view reason = {});
  // A cancel without compensations; also ends a cancel under way.
  Status Terminate(std::string_view id, std::string_view reason = {});
  // From running, waiting or idle: nothing new starts; running steps finish
  // and are recorded; timers that come due are recorded and what follows
  // them starts on Unpause; signals are kept for it; inputs are recorded.
  Status Pause(std::string_view id);
  // From paused: it runs on.
  Status Unpause(std::string_view id);
  // From halted by a node: its failed runnables run again with fresh
  // attempts (their policies' retries apply anew). A workflow halted by the
  // store is not halted in its history: Stop and Resume it instead.
  Status Retry(std::string_view id);

  // The values produced so far: the worker's, or for a workflow not loaded
  // here, what its history in the store says (read, not loaded). kNotFound
  // when it is in neither.
  Result<WorkflowResults> GetResults(std::string_view id);

  // Commits every event not yet in the store (after a group checkpoint of
  // the workflow already under way, if any) and returns once they are in it.
  // A store error is returned and halts the workflow, as any failed
  // checkpoint does: what cannot be made durable does not run on.
  // kNotOwner: this runner lost the workflow; nothing more is written for it.
  // A workflow not loaded here has everything in the store: OK (kNotFound
  // when the store has no such workflow).
  Status Checkpoint(std::string_view id);

  // Stops dispatching, checkpoints when `persist`, asks running steps to
  // stop, gives the ownership up, and unloads the workflow. Results of steps
  // still running are discarded (resume runs them again); nothing more is
  // written for it. kNotOwner: this runner had lost the workflow, so the
  // checkpoint was not written; it is unloaded all the same. Stop is not a
  // cancel: the workflow comes back when it has work (its due time, a
  // signal, an input, ResumeAll). One not loaded here: OK (kNotFound when
  // the store has no such workflow).
  Status Stop(std::string_view id, bool persist = true);

  // Loads workflow `id` from the store and dispatches what is left.
  // kNotFound: no such workflow, or its definition is not registered;
  // kInvalidArgument: the registered definition has another version or
  // fingerprint; kCorruption: its events cannot be decoded; kConflict: it is
  // already running here. kNotOwner: another live runner holds it; nothing
  // was read or written: try again once that runner stopped or its lease
  // expired. A resumed workflow with nothing left to run is given up at once.
  // It runs with the options recorded at its start; `options` replaces them
  // while it is loaded here (not recorded: a later resume uses the recorded
  // ones again).
  Status Resume(std::string_view id, std::optional<WorkflowOptions> options = std::nullopt);

  // Loads the store's workflows that have work now and are not loaded here,
  // as its indexes say: running or cancelling (a crash cut them short),
  // due within 2 x RunnerOptions::due_poll_interval, or with inbox entries
  // to record. Waiting ones with a far due time are loaded by the runner's
  // poll of the due-time index when their time comes; idle, halted and
  // paused ones by the input, retry or unpause that gives them work. So it
  // reads and holds in proportion to the work now, not to the store (a
  // million workflows waiting on far timers cost nothing here). One
  // workflow that cannot be resumed never keeps the others from running:
  // the report lists it with its error and goes on. Fails only when there
  // is no store, or the store cannot list its indexes at all (nothing was
  // resumed then).
  Result<ResumeAllReport> ResumeAll(const ResumeAllOptions& options);
  // ResumeAll with ResumeAllOptions::options = `options`.
  Result<ResumeAllReport> ResumeAll(std::optional<WorkflowOptions> options = std::nullopt);

  // The ids loaded in this runner now (not those unloaded: see
  // ListStoredWorkflows).
  std::vector<std::string> ListWorkflows();
  // The store's workflows by state, definition and id prefix, from its
  // state index (runic/history.h), one page at a time, whether loaded here
  // or not. kFailedPrecondition without a store.
  Result<StoredWorkflowPage> ListStoredWorkflows(const StoredWorkflowQuery& query = {});
  // The worker's view, or for a workflow not loaded here, its history's in
  // the store (read, not loaded: redispatched 0, running = its pending
  // runnables). kNotFound when it is in neither.
  Result<WorkflowInfo> Lookup(std::string_view id);

  // Waits (real time) until the workflow is idle, halted or cancelled (not
  // merely waiting for a timer, a signal or a retry's backoff) and the runner's
  // on_complete callback has returned. A workflow not loaded here that the
  // store says is finished: OK at once; one with work: loaded here (as
  // Resume) and waited for, or, when another runner holds it, its state in
  // the store is polled. kDeadlineExceeded when `timeout` passes first;
  // kNotFound when the store has no such workflow.
  Status AwaitIdle(std::string_view id, std::chrono::milliseconds timeout);

  // Stops accepting work and dispatching, lets the steps already running
  // finish (their results are recorded; queued ones do not start and run on
  // resume), then checkpoints every workflow and gives up their ownership.
  // Idempotent; a concurrent call waits for the first. Must not be called
  // from a step or a callback.
  void Shutdown();

  struct Impl;

 private:
  explicit Runner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace runic

#endif  // RUNIC_RUNNER_H_
