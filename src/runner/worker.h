// Worker: one running workflow instance. It owns the instance's state
// (facts, runnables, pending events), dispatches ready runnables to the pool
// within the workflow's concurrency limit, applies their results, and
// checkpoints to the store. All of it under one mutex per workflow: results
// of one workflow apply one at a time, workflows proceed in parallel.
//
// Its state is explicit (lifecycle.h): the phase the public WorkflowState
// shows, ownership in the store, dispatch, and its place in the Committer's
// queue, each with checked transitions.
//
// Ownership (Store::Claim / Release; with a store): a worker claims its
// workflow before it reads it for a resume or writes anything for it, and
// gives it up once everything is written and nothing is left to run (it
// claims it again before an input makes it run), when detached, and at
// shutdown. A write that fails with kNotOwner means another runner has the
// workflow now: the worker is "fenced": it halts with that status and never
// calls the store for the workflow again (no retry, no snapshot, no release).
#ifndef RUNIC_SRC_RUNNER_WORKER_H_
#define RUNIC_SRC_RUNNER_WORKER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runic/runner.h"
#include "runner/committer.h"
#include "runner/history_codec.h"
#include "runner/lifecycle.h"
#include "runner/thread_pool.h"
#include "runner/timer.h"

namespace runic::internal {

// What a Worker needs from its Runner. Outlives every Worker.
struct RunnerContext {
  Store* store = nullptr;
  std::shared_ptr<Clock> clock;
  ThreadPool* pool = nullptr;
  Timer* timer = nullptr;
  const RunnerTelemetry* telemetry = nullptr;
  Committer* committer = nullptr;  // set when there is a store
  // RunnerOptions::on_complete (may be empty).
  const std::function<void(const std::string&, const Status&)>* on_complete = nullptr;
};

// A registered definition and the options of the workflows that record none.
struct Definition {
  std::shared_ptr<const Workflow> workflow;
  WorkflowOptions defaults;
  // For a resume: the structure to store with the workflow's next write
  // ("" none).
  std::string structure = {};
};

// Runs a telemetry callback (if set); what it throws is dropped: telemetry
// never changes what the runner does.
void Notify(const std::function<void(const RunnerTelemetry::Event&)>& fn, const RunnerTelemetry::Event& event);

class Worker : public std::enable_shared_from_this<Worker> {
 public:
  // `options`: what a started workflow runs with; for a resumed one, what
  // replaces its recorded options (none: it runs with those).
  Worker(RunnerContext ctx, std::string id, std::shared_ptr<const Workflow> workflow,
         std::optional<WorkflowOptions> options);

  // A new instance: claims it, records the started event (with its options
  // and the start's idempotency key) and `input` if any, and commits them in
  // one write, with the definition's `structure` (fact named by its
  // fingerprint) unless "".
  Status Start(std::optional<Value> input, std::string_view key, std::string structure);
  // Finds a registered definition by name, version and fingerprint.
  using DefinitionLookup = std::function<Result<Definition>(const std::string&, int, const std::string&)>;

  // Claims the workflow, rebuilds the state from the store (snapshot, then
  // events) and dispatches what is left, with the options recorded at its
  // start (or the definition's defaults when its history records none).
  Status Resume(const DefinitionLookup& lookup);

  // Records an input and runs what it makes ready. A non-empty `key` seen
  // before (by an input or the start) is acknowledged and not applied again.
  Status AddInput(Value input, std::string_view key);
  Status Checkpoint();
  // Shutdown: stops dispatching; steps already running finish and their
  // results are recorded; queued ones do not start.
  void Drain();
  // Stop: stops dispatching, checkpoints when `persist`, then asks running
  // steps to stop and drops whatever they return, and gives the ownership up.
  Status Detach(bool persist);
  // Shutdown, once everything is checkpointed: gives the ownership up (a
  // failed Release is ignored: the lease expiry covers it); no later commit
  // claims it again.
  void GiveUpOwnership();
  // Waits (real time) until nothing runs; with `for_idle`, until nothing is
  // left to run either (or the workflow halted).
  bool Await(std::chrono::milliseconds timeout, bool for_idle);

  // Whether Resume found runnables left to run.
  bool had_work_on_resume() {
    std::lock_guard lock(mu_);
    return had_work_on_resume_;
  }

  WorkflowResults Results();
  WorkflowInfo Info();
  const std::string& id() const { return id_; }
  // Whether `key` was given to the start or to an input of this workflow.
  bool HasKey(std::string_view key) {
    std::lock_guard lock(mu_);
    return keys_.count(key) != 0;
  }
  // The definition's name (fixed once started or resumed).
  std::string definition_name() {
    std::lock_guard lock(mu_);
    return workflow_->name();
  }

  // The Committer's side of a queued checkpoint: it takes the pending events
  // (kAlone: they need several appends, or the workflow is not held, so
  // CommitAlone writes them or fails), then reports the write's result
  // (nullptr: nothing was taken).
  enum class Take { kNothing, kTaken, kAlone };
  Take TakeCommit(QueuedCommit* out);
  void FinishCommit(const Result<std::uint64_t>* written);
  void CommitAlone();

 private:
  struct Fact {
    Value value;
    std::string bytes;  // its encoding, while it waits to be written
    std::string node;   // "" for an input
    std::vector<std::string> parents;
    std::string root;  // the input it descends from
  };
  using Task = std::pair<std::string, std::uint64_t>;  // runnable id, generation
  struct Runnable {
    const Workflow::Node* node = nullptr;
    std::vector<std::string> inputs;
    std::string root;
    int failures = 0;  // failed attempts so far
    // Each failed attempt's error ("attempt 2: DeadlineExceeded: ..."), for
    // the halt message.
    std::vector<std::string> errors;
    bool running = false;
    // Its dispatch is in the history, which counts it pending until it is
    // done (recorded_pending_).
    bool recorded = false;
    // The running attempt returned within its deadline (its result is being
    // recorded): a timeout that fires now is too late and reports nothing.
    bool returned = false;
    Clock::time_point dispatched_at;  // when the attempt was queued
    std::uint64_t generation = 0;     // results of older attempts are stale
    std::stop_source stop;
  };

  // All below run with mu_ held.
  using FactEntry = std::pair<const std::string, Fact>;  // hash, fact
  // An input's encoding; kInvalidArgument when it is over the store's limit.
  Result<std::string> EncodeInput(const Value& input) const;
  // Records input `input` (encoded as `bytes`) with its key; returns its
  // fact's hash.
  std::string RecordInput(Value input, std::string bytes, std::string_view key);
  // Adds a fact unless known; returns its entry (stable: facts are never
  // erased from facts_).
  FactEntry* AddFact(const std::string& hash, Fact fact);
  // Queues the definition's structure for the next write.
  void AddStructure(std::string bytes);
  // Creates the runnables that the new fact `hash` makes ready.
  void Derive(const std::string& hash);
  // Marks ready runnables running, up to the concurrency limit; returns
  // them (id, generation) to submit once their dispatch is recorded.
  std::vector<Task> DispatchReady();
  // Queues an event (CBOR, see the format in worker.cc) for the next commit.
  void Record(std::string event);
  // Removes a finished runnable (done, skipped or halted).
  void Forget(const std::string& id);
  // The workflow's entry in the store's state index, as its history reads
  // once the pending events are written: "state/definition@version".
  std::string StateTag() const;
  // Waits for a queued checkpoint, then commits the rest here.
  Status CheckpointLocked(std::unique_lock<std::mutex>& lock);
  void WaitForCommitter(std::unique_lock<std::mutex>& lock);
  Status Commit();
  // Drops the first `events` pending events and `facts` pending facts (and
  // those facts' bytes): the store has them.
  void Written(std::size_t events, std::size_t facts);
  // After a commit (queued or not) ended with `s`: halts on failure, starts
  // `tasks` (or undoes them), queues the next commit if one is wanted.
  void EndCommit(std::unique_lock<std::mutex>& lock, const Status& s, std::vector<Task> tasks);
  // A failed checkpoint halts the workflow (unless it already halted);
  // kNotOwner also fences it.
  void HaltOnStoreError(const Status& s);
  // Claims the workflow unless this worker holds it already.
  Status ClaimLocked();
  // Gives the ownership up if held; a failed Release is ignored.
  void ReleaseLocked();
  // Releases it and never claims it again.
  void GiveUpLocked();
  // Submits tasks to the pool, or undoes them when the workflow halted.
  void SubmitOrUndo(std::vector<Task> tasks);
  // Writes a snapshot (and trims) when due. kNotOwner when the store fenced
  // the workflow meanwhile (it is then halted); other failures are ignored:
  // resume replays the events instead.
  Status MaybeSnapshot();
  void OnFailure(const std::string& id, Runnable& r, const Status& error, std::chrono::nanoseconds took);
  // `bytes`: the produced value's encoding, when already made.
  void Complete(const std::string& id, Runnable& r, std::optional<Value> produced, std::string bytes,
                std::chrono::nanoseconds took, bool fallback);
  // After any change: dispatch, checkpoint as the strategy says (on a pool
  // or timer thread through the Committer, unless `must_commit`), then
  // Settle. Returns the checkpoint's status (ok when queued).
  Status AfterChange(std::unique_lock<std::mutex>& lock, bool must_commit);
  // Notifies waiters and, with the lock released, reports a workflow that
  // became idle. Unlocks.
  void Settle(std::unique_lock<std::mutex>& lock);
  // Runs the workflow's stop (or exception) telemetry and on_complete.
  void ReportIdle(const Status& outcome);
  // Nothing runs and nothing is left to run (or the workflow halted).
  bool WorkDoneLocked() const;
  // WorkDoneLocked, and no checkpoint is queued.
  bool IdleLocked() const;
  // Halted or cancelled: nothing runs on.
  bool Ended() const;
  // Moves the phase between running, waiting and idle as the work says.
  void UpdatePhaseLocked();
  // What a snapshot records of the state now.
  HistoryState StateSnapshot() const;

  // Pool and timer entry points (take mu_).
  void Run(const std::string& id, std::uint64_t generation);
  void OnTimeout(const std::string& id, std::uint64_t generation);
  void Retry(const std::string& id);

  const RunnerContext ctx_;
  const std::string id_;
  std::shared_ptr<const Workflow> workflow_;
  // Set by the constructor or, before anything runs, by Resume; read-only
  // from then on.
  WorkflowOptions options_;
  const bool options_given_;  // for a resume: options_ replace the recorded ones

  std::mutex mu_;
  std::condition_variable changed_;
  std::unordered_map<std::string, Fact> facts_;
  std::vector<std::string> fact_order_;
  std::map<std::pair<std::string, std::string>, std::string> first_of_;  // (node, root) -> fact
  std::uint64_t inputs_ = 0;
  // The idempotency keys of the start and of inputs (SEMANTICS.md 4: scope
  // (workflow id, key); kept as long as the workflow, across snapshots).
  std::set<std::string, std::less<>> keys_;
  std::unordered_set<std::string> done_;
  std::unordered_map<std::string, Runnable> active_;  // ready, running or waiting for a retry
  std::deque<std::string> ready_;
  std::size_t running_ = 0;
  // The lifecycle (lifecycle.h). halt_error_: why it halted (or, later,
  // was cancelled); fence_: the write that failed with kNotOwner.
  PhaseState phase_{Phase::kIdle, "phase"};
  HaltCause halt_cause_ = HaltCause::kNone;
  Status halt_error_;
  OwnershipState ownership_{Ownership::kNotHeld, "ownership"};
  Status fence_;
  DispatchState dispatch_{Dispatch::kOn, "dispatch"};
  // Events not yet committed, and the new facts they name. A deque: the
  // Committer reads taken events through views while new ones are added.
  std::deque<std::string> pending_;
  std::vector<FactEntry*> pending_facts_;
  // The definition's structure while it waits to be written (not a fact of
  // the workflow: pending_facts_ names it until written).
  std::optional<FactEntry> structure_;
  // The Committer's share: where this worker is in its queue, who waits to
  // commit here, how much of pending_ / pending_facts_ is being written, and
  // the dispatched runnables that start once their dispatch is durable.
  CommitState commit_{CommitStage::kNone, "commit stage"};
  int sync_waiters_ = 0;
  std::size_t taken_events_ = 0, taken_facts_ = 0;
  // Runnables whose dispatch is recorded and which are not done.
  std::size_t recorded_pending_ = 0;
  // The state tag the store holds ("" before the first write here: the
  // store then compares), and the one the committer took with the events.
  std::string stored_tag_, taken_tag_;
  std::vector<Task> held_tasks_, taken_tasks_;
  std::uint64_t cursor_ = 0;
  std::uint64_t snapshot_cursor_ = 0;
  std::uint64_t completed_ = 0, completed_since_checkpoint_ = 0, redispatched_ = 0;
  std::unordered_map<std::string, int> replay_failures_;                     // during Resume
  std::unordered_map<std::string, std::vector<std::string>> replay_errors_;  // during Resume
  bool was_idle_ = true;
  int reporting_ = 0;  // idle callbacks still running (outside mu_)
  bool had_work_on_resume_ = false;
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_WORKER_H_
