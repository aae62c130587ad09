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
    if (!f.node.empty() && workflow_->Find(f.node) == nullptr) return corrupt("unknown node '" + f.node + "'");
    Result<Value> value = LoadFactValue(*ctx_.store, id_, f.hash);
    if (!value.ok()) return value.status();
    AddFact(f.hash, Fact{std::move(*value), {}, std::move(f.node), std::move(f.parents), std::move(f.root)});
  }
  inputs_ = state.inputs;
  done_.insert(state.done.begin(), state.done.end());
  completed_ = state.completed;
  keys_ = std::move(state.keys);
  if (state.halted) {
    phase_.To(Phase::kHalted);
    halt_cause_ = HaltCause::kNode;
    halt_error_ = state.halt_error;
  }
  cursor_ = state.cursor;
  snapshot_cursor_ = loaded->snapshot_cursor;
  replay_failures_ = {state.failures.begin(), state.failures.end()};
  replay_errors_ = {state.errors.begin(), state.errors.end()};

  // Every runnable the facts call for and that did not complete runs
  // (again); those that were dispatched before the crash are counted.
  const std::vector<std::string> order = fact_order_;
  for (const std::string& h : order) Derive(h);
  for (auto& [id, r] : active_) {
    redispatched_ += state.dispatched.count(id);
    r.recorded = state.dispatched.count(id) > 0 || state.failures.count(id) > 0;
    recorded_pending_ += r.recorded;
  }
  replay_failures_.clear();
  replay_errors_.clear();
  had_work_on_resume_ = !active_.empty() && !Ended();
  was_idle_ = !had_work_on_resume_;           // a finished workflow is not "completed" again
  if (!had_work_on_resume_) ReleaseLocked();  // finished: as when it finished (a later input claims it again)
  lock.unlock();
  Notify(ctx_.telemetry->workflow_start, {id_, {}, 0, {}, nullptr});
  lock.lock();
  return AfterChange(lock, false);
}

}  // namespace runic::internal
