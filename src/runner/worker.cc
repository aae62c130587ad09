#include "runner/worker.h"

#include <algorithm>

#include "runner/hash.h"
#include "runner/history_codec.h"

namespace runic::internal {
namespace {

// "workflow 'id' (orders v1): node 'n' failed after 3 attempt(s): attempt
// 1: ...; attempt 2: ...; attempt 3: ...", at most kMaxRecordedError bytes
// (the last attempts kept when it must be cut).
std::string HaltMessage(const std::string& id, const Workflow& workflow, const std::string& node, int attempts,
                        const std::vector<std::string>& errors) {
  const std::string head = "workflow '" + id + "' (" + workflow.name() + " v" + std::to_string(workflow.version()) +
                           "): node '" + node + "' failed after " + std::to_string(attempts) + " attempt(s): ";
  std::string tail;
  for (auto it = errors.rbegin(); it != errors.rend(); ++it) {
    const std::string with = *it + (tail.empty() ? "" : "; " + tail);
    if (head.size() + with.size() > kMaxRecordedError) {
      tail = "...; " + tail;
      break;
    }
    tail = with;
  }
  return head + tail;
}

std::chrono::milliseconds Backoff(const StepPolicy& p, int retry) {
  using std::chrono::milliseconds;
  milliseconds delay{0};
  switch (p.backoff) {
    case Backoff::kNone:
      break;
    case Backoff::kLinear:
      delay = p.base_delay * retry;
      break;
    case Backoff::kExponential:
      delay = p.base_delay * (std::int64_t{1} << std::min(retry - 1, 30));
      break;
  }
  return std::min(delay, p.max_delay);
}

}  // namespace

void Notify(const std::function<void(const RunnerTelemetry::Event&)>& fn, const RunnerTelemetry::Event& event) {
  if (!fn) return;
  try {
    fn(event);
  } catch (...) {
    // Telemetry never changes what the runner does.
  }
}

Worker::Worker(RunnerContext ctx, std::string id, std::shared_ptr<const Workflow> workflow,
               std::optional<WorkflowOptions> options)
    : ctx_(std::move(ctx)),
      id_(std::move(id)),
      workflow_(std::move(workflow)),
      options_(options.value_or(WorkflowOptions{})),
      options_given_(options.has_value()) {}

Status Worker::Start(std::optional<Value> input, std::string_view key, std::string structure) {
  std::unique_lock lock(mu_);
  std::string bytes;
  if (input) {
    Result<std::string> encoded = EncodeInput(*input);
    if (!encoded.ok()) return encoded.status();
    bytes = std::move(*encoded);
  }
  // Nothing is written for a workflow that another runner holds.
  if (Status claimed = ClaimLocked(); !claimed.ok()) return claimed;
  AddStructure(std::move(structure));
  stored_due_ = 0;  // a new workflow has no entry in the due-time index
  Record(EncodeStartEvent(WallMicros(*ctx_.clock), *workflow_, options_, key));
  if (!key.empty()) keys_.emplace(key);
  std::string hash;
  if (input) hash = RecordInput(std::move(*input), std::move(bytes), {});
  Status s = CheckpointLocked(lock);  // the start and its first input: one write
  lock.unlock();
  if (!s.ok()) return s;
  Notify(ctx_.telemetry->workflow_start, {id_, {}, 0, {}, nullptr});
  if (hash.empty()) return s;
  lock.lock();
  Derive(hash);
  was_idle_ = false;
  return AfterChange(lock, /*must_commit=*/false);
}

Status Worker::AddInput(Value& input, std::string_view key) {
  std::unique_lock lock(mu_);
  if (dispatch_.is(Dispatch::kUnloaded)) return Status::Unavailable("workflow '" + id_ + "' was unloaded");
  if (!dispatch_.is(Dispatch::kOn)) return Status::Unavailable("workflow '" + id_ + "' is stopping");
  if (ownership_.is(Ownership::kFenced)) return fence_;
  if (!key.empty() && keys_.count(key) != 0) {
    // Applied before: acknowledged, once what recorded it is in the store.
    return pending_.empty() ? Status::OK() : CheckpointLocked(lock);
  }
  Result<std::string> bytes = EncodeInput(input);
  if (!bytes.ok()) return bytes.status();
  // Nothing would run on it: say so rather than record an input that waits
  // for ever.
  // (A paused workflow records it, and runs it on unpause.)
  if (phase_.is(Phase::kHalted) || phase_.is(Phase::kCancelling) || phase_.is(Phase::kCancelled)) {
    return Status::FailedPrecondition("workflow '" + id_ + "' (" + workflow_->name() + " v" +
                                      std::to_string(workflow_->version()) + ") is " + WorkflowStateName(phase_.get()) +
                                      ", so its input was not recorded: " + halt_error_.ToString());
  }
  // A workflow given up when it finished is claimed again before it runs on;
  // if another runner holds it now, the input is refused and nothing recorded.
  if (Status claimed = ClaimLocked(); !claimed.ok()) return claimed;
  const std::string hash = RecordInput(std::move(input), std::move(*bytes), key);
  Derive(hash);
  was_idle_ = false;
  return AfterChange(lock, /*must_commit=*/true);
}

Result<std::string> Worker::EncodeInput(const Value& input) const {
  std::string bytes = EncodeValue(input);
  if (ctx_.store != nullptr && bytes.size() > ctx_.store->limits().max_value_bytes) {
    return Status::InvalidArgument("input of " + std::to_string(bytes.size()) + " bytes is over the store's limit of " +
                                   std::to_string(ctx_.store->limits().max_value_bytes));
  }
  if (!CborNestingWithin(bytes, kMaxValueDepth)) {
    return Status::InvalidArgument("input nests deeper than " + std::to_string(kMaxValueDepth) + " levels");
  }
  if (Status s = CheckRootMaps(input); !s.ok()) return s;
  return bytes;
}

std::string Worker::RecordInput(Value input, std::string bytes, std::string_view key) {
  const std::uint64_t ordinal = inputs_++;
  const std::vector<std::string> parents{std::to_string(ordinal)};
  const std::string hash = FactHash(bytes, "", parents);
  if (ctx_.store == nullptr) bytes.clear();
  FactEntry* entry = AddFact(hash, Fact{std::move(input), std::move(bytes), "", parents, hash});
  if (ctx_.store != nullptr && entry != nullptr) pending_facts_.push_back(entry);
  Record(EncodeInputEvent(WallMicros(*ctx_.clock), hash, ordinal, key));
  if (!key.empty()) keys_.emplace(key);
  return hash;
}

Status Worker::Checkpoint() {
  std::unique_lock lock(mu_);
  Status s = CheckpointLocked(lock);
  NoteQuietLocked();  // its unload may have waited for this thread
  return s;
}

void Worker::Drain() {
  std::lock_guard lock(mu_);
  if (dispatch_.is(Dispatch::kUnloaded)) return;  // everything is written already
  dispatch_.To(Dispatch::kStopped);
  ready_.clear();
  changed_.notify_all();
}

Status Worker::Detach(bool persist) {
  std::unique_lock lock(mu_);
  if (dispatch_.is(Dispatch::kUnloaded)) return Status::OK();  // everything is written already
  dispatch_.To(Dispatch::kStopped);
  ready_.clear();
  Status s = Status::OK();
  if (persist) {
    s = CheckpointLocked(lock);
  } else {
    WaitForCommitter(lock);  // nothing of this worker is written after Detach
  }
  SubmitOrUndo(std::exchange(held_tasks_, {}));  // stopped: they end at once
  dispatch_.To(Dispatch::kDetached);             // from here on nothing is recorded, committed or reported
  GiveUpLocked();                                // everything this worker writes is written
  for (auto& [id, r] : active_) {
    if (r.running) r.stop.request_stop();
    ctx_.timer->Cancel(std::exchange(r.due_timer, 0));  // the timer holds nothing of a stopped workflow
  }
  changed_.notify_all();
  return s;
}

void Worker::GiveUpOwnership() {
  std::lock_guard lock(mu_);
  GiveUpLocked();
}

Worker::Awaited Worker::Await(std::chrono::milliseconds timeout, bool for_idle) {
  std::unique_lock lock(mu_);
  ++awaiters_;
  const bool done = changed_.wait_for(lock, timeout, [&] {
    return dispatch_.is(Dispatch::kUnloaded) || (reporting_ == 0 && (for_idle ? IdleLocked() : running_ == 0));
  });
  --awaiters_;
  if (dispatch_.is(Dispatch::kUnloaded)) return Awaited::kUnloaded;
  NoteQuietLocked();  // its unload waited for this thread
  return done ? Awaited::kDone : Awaited::kTimedOut;
}

bool Worker::WorkDoneLocked() const {
  return running_ == 0 && (active_.empty() || Ended() || !dispatch_.is(Dispatch::kOn));
}

bool Worker::IdleLocked() const { return WorkDoneLocked() && commit_.is(CommitStage::kNone); }

bool Worker::Ended() const { return phase_.is(Phase::kHalted) || phase_.is(Phase::kCancelled); }

void Worker::UpdatePhaseLocked() {
  // Paused, halted and the cancel phases are left by controls, not by work.
  if (!phase_.is(Phase::kRunning) && !phase_.is(Phase::kWaiting) && !phase_.is(Phase::kIdle)) return;
  if (IdleLocked()) {
    phase_.To(Phase::kIdle);
  } else if (running_ == 0 && ready_.empty() && !active_.empty() && commit_.is(CommitStage::kNone)) {
    phase_.To(Phase::kWaiting);  // every runnable left waits for its retry's backoff
  } else {
    phase_.To(Phase::kRunning);
  }
}

WorkflowResults Worker::Results() {
  std::lock_guard lock(mu_);
  WorkflowResults out;
  for (const std::string& h : fact_order_) {
    const Fact& f = facts_.at(h);
    if (!f.node.empty() && f.role != Fact::Role::kElement) out[f.node].push_back(f.value);
  }
  return out;
}

WorkflowInfo Worker::Info() {
  std::lock_guard lock(mu_);
  WorkflowInfo info;
  info.id = id_;
  info.workflow = workflow_->name();
  info.version = workflow_->version();
  info.state = phase_.get();
  info.error = halt_error_;
  info.facts = facts_.size() - element_of_.size();  // elements are parts of their array
  info.completed = completed_;
  info.running = active_.size();
  info.redispatched = redispatched_;
  info.cursor = cursor_;
  info.options = options_;
  return info;
}

// --- State changes (mu_ held) -------------------------------------------------

Worker::FactEntry* Worker::AddFact(const std::string& hash, Fact fact) {
  if (facts_.count(hash)) return nullptr;
  first_of_.emplace(std::make_pair(fact.node, fact.root), hash);
  auto [it, added] = facts_.emplace(hash, std::move(fact));
  fact_order_.push_back(hash);
  return &*it;
}

void Worker::AddStructure(std::string bytes) {
  if (bytes.empty() || ctx_.store == nullptr) return;
  structure_.emplace(workflow_->fingerprint(), Fact{Value(), std::move(bytes), "", {}, ""});
  pending_facts_.push_back(&*structure_);
}

void Worker::Derive(const std::string& hash) {
  const Fact& fact = facts_.at(hash);
  if (fact.role == Fact::Role::kArray) {
    Expand(hash);  // its elements feed the map's children, not the array
    return;
  }
  for (const Workflow::Node& node : workflow_->nodes()) {
    if (node.kind == Workflow::NodeKind::kReduce) continue;  // DeriveReduces
    const bool fed = fact.node.empty()
                         ? node.parents.empty()
                         : std::find(node.parents.begin(), node.parents.end(), fact.node) != node.parents.end();
    if (!fed) continue;
    std::vector<std::string> inputs;
    if (node.kind == Workflow::NodeKind::kJoin) {
      for (const std::string& parent : node.parents) {
        auto it = first_of_.find({parent, fact.root});
        if (it == first_of_.end()) break;
        inputs.push_back(it->second);
      }
      if (inputs.size() != node.parents.size()) continue;
    } else {
      inputs.push_back(hash);
    }
    std::string id = RunnableId(node.name, inputs);
    MakeRunnable(std::move(id), node, std::move(inputs), fact.root);
  }
}

void Worker::MakeRunnable(std::string id, const Workflow::Node& node, std::vector<std::string> inputs,
                          std::string root) {
  if (done_.count(id) || active_.count(id)) return;
  Runnable r;
  r.node = &node;
  r.inputs = std::move(inputs);
  r.root = std::move(root);
  if (auto f = replay_failures_.find(id); f != replay_failures_.end()) r.failures = f->second;
  if (auto e = replay_errors_.find(id); e != replay_errors_.end()) r.errors = e->second;
  Runnable& added = active_.emplace(id, std::move(r)).first->second;
  CountOpen(added.root, +1);
  if (auto d = replay_due_.find(id); d != replay_due_.end()) {
    // Waiting when the history was written: only what is left of it (an
    // await without a timeout waits for its signal: Resume).
    if (d->second != 0) {
      SetDue(added, d->second);
      ScheduleDue(id, added);
    }
    return;
  }
  ready_.push_back(std::move(id));
}

void Worker::Record(std::string event) {
  if (ctx_.store != nullptr) pending_.push_back(std::move(event));
}

void Worker::Forget(const std::string& id) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  if (it->second.recorded) --recorded_pending_;
  ClearDue(it->second);
  ClearAwaiting(id, it->second);
  CountOpen(it->second.root, -1);
  active_.erase(it);
}

std::vector<Worker::Task> Worker::DispatchReady() {
  std::vector<Task> tasks;
  // Nothing new starts once stopped, halted, paused or cancelled.
  if (!dispatch_.is(Dispatch::kOn) ||
      !(phase_.is(Phase::kRunning) || phase_.is(Phase::kWaiting) || phase_.is(Phase::kIdle))) {
    return tasks;
  }
  const std::size_t limit = std::max<std::size_t>(1, options_.max_concurrency);
  // A wait that ends at once (an await taking a buffered signal) may finish
  // a map's last branch: its reduces are made in another round.
  do {
    DeriveReduces();
    DispatchRound(tasks, limit);
  } while (!settled_.empty() && !Ended() && !phase_.is(Phase::kCancelling));
  return tasks;
}

void Worker::DispatchRound(std::vector<Task>& tasks, std::size_t limit) {
  while (!ready_.empty() && !Ended()) {
    auto it = active_.find(ready_.front());
    if (it == active_.end() || it->second.running) {
      ready_.pop_front();
      continue;
    }
    Runnable& r = it->second;
    if (r.node->kind == Workflow::NodeKind::kDelay || r.node->kind == Workflow::NodeKind::kAwait) {
      // A wait holds no thread: not counted against the limit.
      const std::string id = std::move(ready_.front());
      ready_.pop_front();
      if (r.due_us != 0 || r.awaiting) continue;  // waiting already
      if (r.node->kind == Workflow::NodeKind::kDelay) {
        StartWait(id, r);
      } else {
        StartAwait(id, r);
      }
      continue;
    }
    if (running_ >= limit) break;
    const std::string id = std::move(ready_.front());
    ready_.pop_front();
    tasks.push_back(StartAttempt(id, r));
  }
}

Worker::Task Worker::StartAttempt(const std::string& id, Runnable& r) {
  ClearDue(r);  // a retry's backoff ends with its dispatch
  r.running = true;
  ++r.generation;
  r.stop = std::stop_source();
  r.returned = false;
  r.dispatched_at = ctx_.clock->Now();
  ++running_;
  if (ctx_.store != nullptr) {
    Record(EncodeDispatchEvent(WallMicros(*ctx_.clock), id, r.node->name, r.failures + 1, r.compensation));
    if (!r.recorded) ++recorded_pending_;
    r.recorded = true;
  }
  return Task(id, r.generation);
}

void Worker::OnFailure(const std::string& id, Runnable& r, const Status& error, std::chrono::nanoseconds took,
                       bool may_retry) {
  const StepPolicy& policy = PolicyOf(r);
  ++r.failures;
  FailureOutcome outcome = may_retry && r.failures <= policy.max_retries ? FailureOutcome::kRetry
                           : policy.fallback && !r.compensation          ? FailureOutcome::kFallback
                           : policy.on_failure == OnFailure::kSkip       ? FailureOutcome::kSkip
                           : policy.on_failure == OnFailure::kCompensate ? FailureOutcome::kCompensate
                                                                         : FailureOutcome::kHalt;
  // A compensation does not compensate; a cancel under way compensates already.
  if (outcome == FailureOutcome::kCompensate && (r.compensation || phase_.is(Phase::kCancelling))) {
    outcome = FailureOutcome::kHalt;
  }
  r.errors.push_back(AttemptError(r.failures, error.code(), error.message()));
  const bool halts = outcome == FailureOutcome::kHalt || outcome == FailureOutcome::kCompensate;
  const auto delay = outcome == FailureOutcome::kRetry ? Backoff(policy, r.failures) : std::chrono::milliseconds(0);
  // The backoff is durable: the retry's due time is recorded with the failure.
  const std::int64_t retry_due =
      delay.count() > 0 ? WallMicros(*ctx_.clock) + std::chrono::microseconds(delay).count() : 0;
  // The halt message names every attempt's error, the timeouts too (the
  // last one alone may hide why the earlier ones failed).
  std::string halt_message = halts ? HaltMessage(id_, *workflow_, r.node->name, r.failures, r.errors) : std::string();
  if (halts && r.compensation && compensating_) {
    // Both errors: the compensation's, and why it was compensating.
    halt_message = ("compensation of " + halt_message + "; while compensating for: " + halt_error_.message())
                       .substr(0, kMaxRecordedError);
  }
  if (ctx_.store != nullptr) {
    Record(EncodeFailEvent(WallMicros(*ctx_.clock), id, r.node->name, r.failures, took.count() / 1000, error, outcome,
                           halt_message, retry_due, r.compensation));
    // (A delay whose instant could not be computed fails before anything
    // else of it is recorded.)
    if (!r.recorded) ++recorded_pending_;
    r.recorded = true;
  }
  if (outcome == FailureOutcome::kRetry) {
    if (retry_due == 0) {
      if (!r.compensation) ready_.push_back(id);  // (StepCancel dispatches a compensation)
      return;
    }
    SetDue(r, retry_due);
    ScheduleDue(id, r);
  } else if (outcome == FailureOutcome::kCompensate) {
    Forget(id);
    BeginCompensation(StatusWithCode(error.code(), halt_message));
  } else if (outcome == FailureOutcome::kFallback) {
    Complete(id, r, *policy.fallback, {}, took, true);
  } else if (outcome == FailureOutcome::kSkip) {
    done_.insert(id);
    ++completed_;
    ++completed_since_checkpoint_;
    Forget(id);
  } else {
    // A cancel under way is not a halt; a compensation that failed is
    // (unless a terminate ended the compensations meanwhile).
    if (!phase_.is(Phase::kCancelling) || (r.compensation && compensating_)) {
      phase_.To(Phase::kHalted);
      halt_cause_ = HaltCause::kNode;
      halt_error_ = StatusWithCode(error.code(), halt_message);
    }
    Forget(id);
  }
}

void Worker::Complete(const std::string& id, Runnable& r, std::optional<Value> produced, std::string bytes,
                      std::chrono::nanoseconds took, bool fallback, std::uint64_t inbox_sequence) {
  std::string hash;
  if (produced) {
    if (bytes.empty()) bytes = EncodeValue(*produced);
    hash = FactHash(bytes, r.node->name, r.inputs);
  }
  const bool array = produced && r.node->kind == Workflow::NodeKind::kMap;
  if (ctx_.store != nullptr) {
    Record(EncodeDoneEvent(WallMicros(*ctx_.clock), id, r.node->name, took.count() / 1000, hash, r.inputs, r.root,
                           fallback, inbox_sequence,
                           array ? std::optional<std::uint64_t>(produced->size()) : std::nullopt, r.compensation));
  }
  if (produced) {
    if (ctx_.store == nullptr) bytes.clear();  // kept only until written
    FactEntry* entry = AddFact(hash, Fact{std::move(*produced), std::move(bytes), r.node->name, r.inputs, r.root,
                                          array ? Fact::Role::kArray : Fact::Role::kValue, 0});
    if (ctx_.store != nullptr && entry != nullptr) pending_facts_.push_back(entry);
  }
  done_.insert(id);
  ++completed_;
  ++completed_since_checkpoint_;
  Forget(id);  // `r` is gone from here on
  if (!hash.empty()) Derive(hash);
}

Status Worker::AfterChange(std::unique_lock<std::mutex>& lock, bool must_commit) {
  if (dispatch_.is(Dispatch::kDetached) || dispatch_.is(Dispatch::kUnloaded)) {
    changed_.notify_all();
    return Status::OK();
  }
  std::vector<Task> tasks = DispatchReady();
  // A cancel goes on once no step runs: its compensations one at a time,
  // then its end, each always written.
  const bool cancelled = StepCancel(tasks);
  bool commit = must_commit || cancelled || phase_.is(Phase::kCancelling);
  switch (options_.checkpoint) {
    case CheckpointStrategy::kEveryCycle:
      commit = true;
      break;
    case CheckpointStrategy::kOnComplete:
      commit = commit || WorkDoneLocked();
      break;
    case CheckpointStrategy::kEveryN:
      commit = commit || completed_since_checkpoint_ >= std::max<std::size_t>(1, options_.checkpoint_every) ||
               WorkDoneLocked();
      break;
    case CheckpointStrategy::kManual:
      break;
  }
  if (ownership_.is(Ownership::kFenced)) commit = false;  // nothing is written for it any more
  Status committed = Status::OK();
  if (commit && !must_commit && ctx_.committer != nullptr) {
    // Written by the Committer together with other workflows' checkpoints;
    // what this cycle dispatched starts once that write succeeded. (A cycle
    // that recorded nothing dispatched nothing: nothing to wait for.)
    if (!pending_.empty()) {
      held_tasks_.insert(held_tasks_.end(), tasks.begin(), tasks.end());
      tasks.clear();
      switch (commit_.get()) {
        case CommitStage::kNone:
          commit_.To(CommitStage::kQueued);
          // (Refused once the runner shut down: a worker loaded meanwhile
          // is detached without writing; its tasks never start.)
          if (!ctx_.committer->Enqueue(shared_from_this())) commit_.To(CommitStage::kNone);
          break;
        case CommitStage::kLeftToWaiter:
          // Queued now rather than left to the thread waiting to commit:
          // both write what is pending, whichever comes first.
          commit_.To(CommitStage::kQueuedAgain);
          if (!ctx_.committer->Enqueue(shared_from_this())) commit_.To(CommitStage::kLeftToWaiter);
          break;
        case CommitStage::kQueued:
        case CommitStage::kQueuedAgain:
          commit_.To(CommitStage::kQueuedAgain);
          break;
      }
    }
  } else if (commit) {
    committed = CheckpointLocked(lock);
  }
  SubmitOrUndo(std::move(tasks));
  Settle(lock);
  return committed;
}

void Worker::SubmitOrUndo(std::vector<Task> tasks) {
  for (auto& [id, generation] : tasks) {
    if (!Ended()) {
      ctx_.pool->Submit([self = shared_from_this(), id = id, generation = generation] { self->Run(id, generation); });
      continue;
    }
    auto it = active_.find(id);  // never started: undo
    if (it != active_.end() && it->second.generation == generation && it->second.running) {
      it->second.running = false;
      --running_;
    }
  }
}

void Worker::Settle(std::unique_lock<std::mutex>& lock) {
  UpdatePhaseLocked();
  NoteQuietLocked();
  const bool idle = IdleLocked();
  const bool became_idle = idle && !was_idle_ && dispatch_.is(Dispatch::kOn);  // a stop is not a completion
  if (idle) was_idle_ = true;
  if (became_idle) ++reporting_;  // Await waits for the callbacks
  const Status outcome = Ended() ? halt_error_ : Status::OK();
  changed_.notify_all();
  lock.unlock();
  if (!became_idle) return;
  if (Committer::OnCommitterThread()) {
    // A callback may wait for a commit (Stop, Checkpoint) or take its time:
    // never on the committer's thread.
    ctx_.pool->Submit([self = shared_from_this(), outcome] { self->ReportIdle(outcome); });
  } else {
    ReportIdle(outcome);
  }
}

void Worker::ReportIdle(const Status& outcome) {
  {
    // Finished and all written: another runner may take the workflow over
    // from here (a later input claims it again).
    std::lock_guard lock(mu_);
    if (dispatch_.is(Dispatch::kOn) && IdleLocked() && pending_.empty()) ReleaseLocked();
  }
  Notify(outcome.ok() ? ctx_.telemetry->workflow_stop : ctx_.telemetry->workflow_exception,
         {id_, {}, 0, {}, outcome.ok() ? nullptr : &outcome});
  if (ctx_.on_complete != nullptr && *ctx_.on_complete) {
    try {
      (*ctx_.on_complete)(id_, outcome);
    } catch (...) {
      // A callback's exception must not escape into the pool.
    }
  }
  std::lock_guard lock(mu_);
  --reporting_;
  NoteQuietLocked();  // its unload waited for the callbacks
  changed_.notify_all();
}

}  // namespace runic::internal
