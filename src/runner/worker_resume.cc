// Worker::Resume: the state rebuilt from the store (snapshot, then events,
// through the history codec), then what is left dispatched.
#include "runner/worker.h"

namespace runic::internal {

Status Worker::Resume(const DefinitionLookup& lookup) {
  std::unique_lock lock(mu_);
  // Claimed before anything is read: a replicated store then serves the
  // reads below with every write of the previous owner (linearizable).
  if (Status claimed = ClaimLocked(); !claimed.ok()) return claimed;
  auto corrupt = [this](const std::string& what) { return Status::Corruption("workflow '" + id_ + "': " + what); };
  Result<LoadedHistory> loaded = LoadHistory(*ctx_.store, id_);
  if (!loaded.ok()) return loaded.status();
  HistoryState& state = loaded->state;
  Result<Definition> definition = lookup(state.definition, state.version, state.fingerprint);
  if (!definition.ok()) return definition.status();
  workflow_ = std::move(definition->workflow);
  if (!options_given_) options_ = state.options.value_or(definition->defaults);
  AddStructure(std::move(definition->structure));

  for (FactRecord& f : state.facts) {
    const Workflow::Node* node = f.node.empty() ? nullptr : workflow_->Find(f.node);
    if (!f.node.empty() && node == nullptr) return corrupt("unknown node '" + f.node + "'");
    Result<Value> value = LoadFactValue(*ctx_.store, id_, f.hash);
    if (!value.ok()) return value.status();
    const bool array = node != nullptr && node->kind == Workflow::NodeKind::kMap;
    if (array && !value->is_array()) return corrupt("map '" + f.node + "' produced fact " + f.hash + ", not an array");
    AddFact(f.hash, Fact{std::move(*value),
                         {},
                         std::move(f.node),
                         std::move(f.parents),
                         std::move(f.root),
                         array ? Fact::Role::kArray : Fact::Role::kValue,
                         0});
  }
  inputs_ = state.inputs;
  done_.insert(state.done.begin(), state.done.end());
  completed_ = state.completed;
  keys_ = std::move(state.keys);
  compensating_ = state.compensating;
  halt_after_ = state.halt_after;
  compensated_ = state.compensated;
  if (state.cancelled || state.cancelling || state.compensating) cancel_ = {state.terminated, state.cancel_reason};
  if (state.cancelled || state.cancelling) {
    phase_.To(state.cancelled ? Phase::kCancelled : Phase::kCancelling);
    // (A halt's compensations under way show the halt's error.)
    halt_error_ =
        !state.cancelled && !halt_after_.ok() ? halt_after_ : CancelStatus(id_, state.terminated, state.cancel_reason);
  } else if (state.halted) {
    phase_.To(Phase::kHalted);
    halt_cause_ = HaltCause::kNode;
    halt_error_ = state.halt_error;
  } else if (state.paused) {
    phase_.To(Phase::kPaused);
  }
  cursor_ = state.cursor;
  snapshot_cursor_ = loaded->snapshot_cursor;
  replay_failures_ = {state.failures.begin(), state.failures.end()};
  replay_errors_ = {state.errors.begin(), state.errors.end()};
  replay_due_ = {state.due.begin(), state.due.end()};
  for (const auto& [runnable, event] : state.awaits)
    replay_due_.try_emplace(runnable, 0);  // waiting, maybe without a due time
  inbox_read_ = state.inbox_through;
  for (const HistoryState::Signal& g : state.signals) {
    Result<Value> value = LoadFactValue(*ctx_.store, id_, g.fact);
    if (!value.ok()) return value.status();
    signal_facts_.try_emplace(g.fact, Fact{std::move(*value), {}, "", {}, ""});
    buffered_[g.name].push_back(Buffered{g.sequence, g.fact, g.key});
  }

  // Every runnable the facts call for and that did not complete runs
  // (again); those that were dispatched before the crash are counted.
  const std::vector<std::string> order = fact_order_;
  for (const std::string& h : order) Derive(h);
  DeriveReduces();  // of the maps whose every element had finished
  // What compensations failed before (they are not derived: StepCancel
  // makes them).
  for (const auto& [id, n] : state.failures) {
    if (!active_.count(id)) saga_failures_.emplace(id, n);
  }
  for (const auto& [id, e] : state.errors) {
    if (!active_.count(id)) saga_errors_.emplace(id, e);
  }
  for (const auto& [id, due] : state.due) {
    if (!active_.count(id)) saga_due_.emplace(id, due);
  }
  for (auto& [id, r] : active_) {
    redispatched_ += state.dispatched.count(id);
    r.recorded = state.dispatched.count(id) > 0 || state.failures.count(id) > 0 || replay_due_.count(id) > 0;
    recorded_pending_ += r.recorded;
  }
  // The awaits wait again in the order they started.
  for (const auto& [runnable, event] : state.awaits) {
    if (auto it = active_.find(runnable); it != active_.end()) SetAwaiting(runnable, it->second);
  }
  replay_failures_.clear();
  replay_errors_.clear();
  replay_due_.clear();
  // Entries that came while nobody had it loaded.
  const bool ended_before = Ended();
  if (Status read = ReadInboxLocked(); !read.ok()) return read;
  MatchAllSignals();
  DeriveReduces();  // the signals may have finished a map's last branches
  // A cancel the crash cut short goes on: what ran then is lost with it;
  // its compensations left run (AfterChange), or it ends now.
  if (phase_.is(Phase::kCancelling)) {
    for (auto& [id, r] : active_) {
      ClearDue(r);
      ClearAwaiting(id, r);
    }
    ready_.clear();
    compensate_from_ = kFromLatest;
    std::vector<Task> none;
    if (!CompensationLeft()) StepCancel(none);
  }
  had_work_on_resume_ = (!active_.empty() && !Ended()) || phase_.is(Phase::kCancelling);
  was_idle_ = !had_work_on_resume_;  // a finished workflow is not "completed" again
  // But one that a cancel or terminate in its inbox ended here ends now,
  // as it would have loaded: reported on the pool, once it is published
  // (a callback may call the runner about it).
  const bool ended_by_inbox = !ended_before && Ended();
  const Status ended_outcome = halt_error_;
  if (ended_by_inbox) ++reporting_;
  if (!had_work_on_resume_) {
    // Finished: given up as when it finished (a later input claims it
    // again), once the signals it recorded are written.
    if (Status s = CheckpointLocked(lock); !s.ok()) return s;
    ReleaseLocked();
  }
  lock.unlock();
  Notify(ctx_.telemetry->workflow_start, {id_, {}, 0, {}, nullptr});
  if (ended_by_inbox) {
    ctx_.pool->Submit([self = shared_from_this(), ended_outcome] { self->ReportIdle(ended_outcome); });
  }
  lock.lock();
  return AfterChange(lock, false);
}

}  // namespace runic::internal
