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
  // RunnerOptions::unload_after (max(): never), and how near a due time
  // keeps a workflow loaded (2 x due_poll_interval, in microseconds).
  std::chrono::milliseconds unload_after = std::chrono::milliseconds::max();
  std::int64_t keep_loaded_within_us = 0;
  // RunnerOptions::retention in microseconds (0: kept for ever).
  std::int64_t retention_us = 0;
  // Asks the runner to unload the worker (Worker::TryUnload) off the
  // timer thread.
  std::function<void(std::shared_ptr<class Worker>)> request_unload;
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

// The clock's wall time in UTC microseconds since the Unix epoch: how
// event times and due times are stored.
std::int64_t WallMicros(Clock& clock);

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
  // `input` is moved from only when it is recorded (a caller tries it on a
  // new worker when this one was out of date).
  Status AddInput(Value& input, std::string_view key);
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
  // left to run either (or the workflow halted). A worker is not unloaded
  // while a thread waits here.
  enum class Awaited { kDone, kTimedOut, kUnloaded };
  Awaited Await(std::chrono::milliseconds timeout, bool for_idle);

  // Reads the workflow's inbox entries not yet recorded and records them
  // (claiming the workflow first; nothing when another runner holds it),
  // then runs what the signals let go on. On a pool thread. False when the
  // worker was unloaded meanwhile: the runner loads the workflow again,
  // which records them.
  bool TakeInbox();
  // Without a store: the signal goes straight to the workflow's buffer.
  // `bytes`: the value's encoding.
  Status DeliverSignal(std::string_view name, Value value, std::string_view key);

  // Why `control` would be refused now ("" when it would be applied).
  std::string RefusalOf(Control control);
  // Without a store: applies the control at once (kFailedPrecondition when
  // refused).
  Status DeliverControl(Control control, std::string reason);

  // Unloading (worker_unload.cc). Called by the runner with its map
  // locked: true when the worker has nothing to run and everything written,
  // and has had so for RunnerOptions::unload_after (unless `at_once`: a
  // workflow loaded only to record a signal), with no due time near: it
  // is unloaded then (Dispatch::kUnloaded), its timers cancelled, and the
  // runner forgets it and calls ReleaseUnloaded. Otherwise it schedules the
  // next check when one is wanted.
  bool TryUnload(bool at_once = false);
  // Gives the ownership of an unloaded worker's workflow up (if held).
  void ReleaseUnloaded();
  // The runner could not look at the check (the worker was not published
  // yet, or stopped): it is not scheduled any more.
  void DropUnloadCheck() {
    std::lock_guard lock(mu_);
    unload_timer_ = 0;
  }
  // Schedules the check of TryUnload if the worker is quiet (it is
  // published now).
  void NoteQuiet() {
    std::lock_guard lock(mu_);
    NoteQuietLocked();
  }
  // A Runner call holds the worker: it is not unloaded until Unpin (which
  // looks at unloading again). Pin a published worker only with the
  // runner's map locked (as TryUnload runs), or before publishing it.
  void Pin() {
    std::lock_guard lock(mu_);
    ++pins_;
  }
  void Unpin() {
    std::lock_guard lock(mu_);
    --pins_;
    NoteQuietLocked();
  }
  // Whether it was unloaded: a call that reached it goes to a new worker.
  bool unloaded() {
    std::lock_guard lock(mu_);
    return dispatch_.is(Dispatch::kUnloaded);
  }

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
    // The input it descends from; in a map's branch, the element (so that
    // a join there matches values of one element).
    std::string root;
    // A map's array (its elements feed the map's children), or element
    // `element` of one (derived from the array: never stored).
    enum class Role : std::uint8_t { kValue, kArray, kElement };
    Role role = Role::kValue;
    std::uint64_t element = 0;
  };
  // A map's expansion (worker_map.cc), by its array's fact.
  struct Expansion {
    const Workflow::Node* map = nullptr;
    std::string root;                   // the array's (the branch the map ran in)
    std::vector<std::string> elements;  // their facts, by index
    // Runnables alive in its elements' branches (nested maps' included),
    // and 1 for each nested expansion whose reduces have not started: its
    // own reduces start when it comes to 0.
    std::size_t open = 0;
    std::vector<const Workflow::Node*> reduces;  // of its map
    bool reduced = false;                        // its reduces were made
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
    Clock::time_point dispatched_at;  // when the attempt was queued (a delay: when its wait started)
    std::uint64_t generation = 0;     // results (and due times) of older attempts are stale
    // A delay's wait, an await's timeout, or a retry's backoff: when it ends
    // (UTC microseconds; in dues_); 0 when it does not wait for a time.
    std::int64_t due_us = 0;
    // Its callbacks on the timer thread (0: none), cancelled when they are
    // no longer wanted, so that the timer holds nothing of a workflow that
    // finished or was unloaded.
    Timer::Id due_timer = 0, timeout_timer = 0;
    // Which ScheduleDue the due timer is: one that fires while a later one
    // replaces it (waiting for the lock) is ignored.
    std::uint64_t due_schedule = 0;
    // An await waiting for its event (in awaiting_).
    bool awaiting = false;
    // A compensation of the value inputs[0] (worker_saga.cc), not the node's
    // function.
    bool compensation = false;
    bool waits() const { return due_us != 0 || awaiting; }  // counted in waiting_
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
  // Creates runnable `id` (unless done or there), ready to run or, when
  // resuming, waiting as the history says.
  void MakeRunnable(std::string id, const Workflow::Node& node, std::vector<std::string> inputs, std::string root);

  // Maps (worker_map.cc).
  // Adds the elements of the map's array `array` as facts and creates
  // what they make ready; once.
  void Expand(const std::string& array);
  // A runnable of branch `root` was created (+1) or finished (-1): counted
  // in every expansion whose branch holds it.
  void CountOpen(const std::string& root, int delta);
  // Creates the reduces of the expansions whose branches all finished.
  void DeriveReduces();
  // What reduce `node` folds for expansion `array`, in element order.
  std::vector<Value> Collected(const std::string& array, const Workflow::Node& node) const;
  // kInvalidArgument when `input` cannot feed a root map that takes its
  // input as its array.
  Status CheckRootMaps(const Value& input) const;
  // Marks ready runnables running, up to the concurrency limit; returns
  // them (id, generation) to submit once their dispatch is recorded.
  std::vector<Task> DispatchReady();
  // One pass of DispatchReady over ready_: waits start, steps up to `limit`
  // running.
  void DispatchRound(std::vector<Task>& tasks, std::size_t limit);
  // Queues an event (CBOR, see the format in worker.cc) for the next commit.
  void Record(std::string event);
  // Removes a finished runnable (done, skipped or halted).
  void Forget(const std::string& id);
  // The workflow's state as its history reads once the pending events are
  // written (its entry in the store's state index).
  WorkflowState StoredStateNow() const;
  // What the next write moves in the store's indexes: the state tag and the
  // earliest due time, each only when it differs from what the store holds.
  struct IndexChange {
    std::optional<WorkflowState> state;
    std::string tag;  // of `state`
    std::optional<std::uint64_t> due;
    std::uint64_t consume_inbox_through = 0;  // 0: nothing more consumed
    bool close_inbox = false;                 // entering cancelled
    std::size_t cost = 0;                     // in batch entries (StoreLimits)
  };
  IndexChange IndexChangeNow() const;
  // The store holds `change` now.
  void IndexWritten(const IndexChange& change);

  // Durable waits (worker_waits.cc): a delay's wait and a retry's backoff.
  // Starts a delay runnable's wait: records its due time and schedules it.
  void StartWait(const std::string& id, Runnable& r);
  // `r` waits until `due_us` (in dues_), or no longer (ClearDue).
  void SetDue(Runnable& r, std::int64_t due_us);
  void ClearDue(Runnable& r);
  // `r` (an await) waits for its event, or no longer.
  void SetAwaiting(const std::string& id, Runnable& r);
  void ClearAwaiting(const std::string& id, Runnable& r);

  // Signals (worker_signals.cc).
  // Starts an await runnable's wait: records it, then takes a buffered
  // signal if one is there.
  void StartAwait(const std::string& id, Runnable& r);
  // Gives the buffered signals of `event` to its awaits, oldest to first.
  void MatchSignals(const std::string& event);
  // Records inbox entry `sequence` (a signal, or one dropped with `dropped`
  // saying why) and buffers it.
  void RecordSignal(std::uint64_t sequence, std::string name, Value value, std::string key, std::string dropped);
  // Reads and records the inbox entries after inbox_read_.
  Status ReadInboxLocked();
  // MatchSignals for every event an await waits for.
  void MatchAllSignals();

  // Controls (worker_controls.cc). Records control `control` (inbox entry
  // `sequence`; 0 when applied without the store's inbox) and applies it,
  // or records why it is refused in the state the workflow is in now.
  void ApplyControl(std::uint64_t sequence, Control control, std::string reason);
  // Retry of a halted workflow: its failed runnables run again with fresh
  // attempts.
  void RetryHalted();
  // Cancel (or terminate): nothing new starts, waits end, running steps are
  // asked to stop; StepCancel goes on once none runs.
  void BeginCancel(bool terminate, const std::string& reason);
  // Nothing new starts, waits end, running steps are asked to stop.
  void StopForCancel();

  // Sagas (worker_saga.cc).
  // A node failed with OnFailure::kCompensate (`halt`: its halt error): the
  // workflow is cancelling until its compensations ran, then halted.
  void BeginCompensation(Status halt);
  // Cancelling with nothing running: dispatches the next compensation (its
  // task into `tasks`), or ends the cancel ("cancelled") or the halt
  // ("compensated") when none is left; true when it ended.
  bool StepCancel(std::vector<Task>& tasks);
  // The compensation runnable of fact `fact`.
  static std::string CompensationId(const std::string& fact);
  // A compensation is due: cancelling with one left to run.
  bool CompensationLeft();
  // The policy an attempt of `r` runs with (its compensation's, for one).
  static const StepPolicy& PolicyOf(const Runnable& r) {
    return r.compensation ? r.node->compensation_policy : r.node->policy;
  }
  // Marks `r` running, records its dispatch; the task to submit.
  Task StartAttempt(const std::string& id, Runnable& r);
  // Asks the timer thread to call OnDue when r's due time comes.
  void ScheduleDue(const std::string& id, Runnable& r);
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
  // `may_retry` false: the policy's retries do not apply (an await that
  // timed out).
  void OnFailure(const std::string& id, Runnable& r, const Status& error, std::chrono::nanoseconds took,
                 bool may_retry = true);
  // `bytes`: the produced value's encoding, when already made;
  // `inbox_sequence`: the signal an await took.
  void Complete(const std::string& id, Runnable& r, std::optional<Value> produced, std::string bytes,
                std::chrono::nanoseconds took, bool fallback, std::uint64_t inbox_sequence = 0);
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
  // Nothing runs or will run until a due time, a signal, a control or an
  // input, and everything is written: it may be unloaded.
  bool QuietLocked() const;
  // Schedules a check of TryUnload at `when` unless one is scheduled.
  void ScheduleUnloadCheck(Clock::time_point when);
  // After a change: starts or ends the quiet time that unloads it.
  void NoteQuietLocked();
  // At Stop or Shutdown: the runnables made ready and never dispatched are
  // recorded as dispatched, so that the history (and the state index) says
  // the workflow has work and ResumeAll loads it.
  void RecordUndispatched();
  // What a snapshot records of the state now.
  HistoryState StateSnapshot() const;

  // Pool and timer entry points (take mu_).
  void Run(const std::string& id, std::uint64_t generation);
  void OnTimeout(const std::string& id, std::uint64_t generation);
  // A due time came: a delay passes its input on, an await times out, a
  // retry's backoff ends.
  void OnDue(const std::string& id, std::uint64_t generation, std::uint64_t schedule);

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
  // Maps' expansions by array fact, the array fact of each element, and
  // the expansions whose open count came to 0 since DeriveReduces.
  std::unordered_map<std::string, Expansion> expansions_;
  std::unordered_map<std::string, std::string> element_of_;
  std::vector<std::string> settled_;
  std::deque<std::string> ready_;
  std::size_t running_ = 0;
  // The lifecycle (lifecycle.h). halt_error_: why it halted (or, later,
  // was cancelled); fence_: the write that failed with kNotOwner.
  PhaseState phase_{Phase::kIdle, "phase"};
  HaltCause halt_cause_ = HaltCause::kNone;
  Status halt_error_;
  // The cancel (or terminate) under way or done, as recorded (snapshots).
  struct CancelRecord {
    bool terminated = false;
    std::string reason;
  };
  CancelRecord cancel_;
  // Sagas: compensations are due (a cancel, a halt with kCompensate); what
  // that halt ends with (OK: a cancel); whether a halt's compensations ran
  // (Retry is refused); facts_order_ below this index are still to be
  // looked at for a compensation (from the latest down; kFromLatest: from
  // the last fact once nothing runs, so late results count); failed
  // attempts and backoffs of compensations before a resume.
  bool compensating_ = false;
  Status halt_after_;
  bool compensated_ = false;
  std::size_t compensate_from_ = kFromLatest;
  static constexpr std::size_t kFromLatest = static_cast<std::size_t>(-1);  // (late results included)
  std::unordered_map<std::string, int> saga_failures_;
  std::unordered_map<std::string, std::vector<std::string>> saga_errors_;
  std::unordered_map<std::string, std::int64_t> saga_due_;
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
  // The due times of the runnables that wait for one, and how many
  // runnables wait (for a time or a signal).
  std::multiset<std::int64_t> dues_;
  std::size_t waiting_ = 0;
  // Awaits waiting, by event, in the order they started; signals recorded
  // and not taken, by name, in inbox order (their values in signal_facts_,
  // by hash); the last inbox entry recorded.
  std::map<std::string, std::deque<std::string>> awaiting_;
  struct Buffered {
    std::uint64_t sequence;
    std::string fact;
    std::string key;  // its idempotency key ("" none)
  };
  std::map<std::string, std::deque<Buffered>> buffered_;
  std::unordered_map<std::string, Fact> signal_facts_;
  std::uint64_t inbox_read_ = 0;
  // It gave its ownership up once (a finished workflow): a claim after
  // that checks that nobody wrote the workflow meanwhile (ClaimLocked).
  bool released_ = false;
  // What the store's indexes hold for the workflow (none before the first
  // write here: the store then compares), and what the committer took with
  // the events.
  std::optional<WorkflowState> stored_state_;
  std::optional<std::uint64_t> stored_due_;
  std::uint64_t stored_consumed_ = 0;
  bool stored_closed_ = false;
  IndexChange taken_index_;
  std::vector<Task> held_tasks_, taken_tasks_;
  std::uint64_t cursor_ = 0;
  std::uint64_t snapshot_cursor_ = 0;
  std::uint64_t completed_ = 0, completed_since_checkpoint_ = 0, redispatched_ = 0;
  std::unordered_map<std::string, int> replay_failures_;                     // during Resume
  std::unordered_map<std::string, std::vector<std::string>> replay_errors_;  // during Resume
  // During Resume: runnables waiting when the history was written, with
  // their due time (0: an await without one).
  std::unordered_map<std::string, std::int64_t> replay_due_;
  bool was_idle_ = true;
  int reporting_ = 0;  // idle callbacks still running (outside mu_)
  int awaiters_ = 0;   // threads in Await
  int pins_ = 0;       // Runner calls holding the worker (Pin)
  // Since when it has been quiet (QuietLocked), and the scheduled unload
  // check (0: none).
  std::optional<Clock::time_point> quiet_since_;
  Timer::Id unload_timer_ = 0;
  bool had_work_on_resume_ = false;
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_WORKER_H_
