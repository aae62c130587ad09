// The Worker's side of the store: ownership, checkpoints (alone or through
// the Committer), and snapshots.
#include "runner/worker.h"

#include <algorithm>

#include "runner/hash.h"

namespace runic::internal {

// --- Ownership ------------------------------------------------------------------

Status Worker::ClaimLocked() {
  if (ctx_.store == nullptr || ownership_.is(Ownership::kHeld)) return Status::OK();
  if (ownership_.is(Ownership::kFenced)) return fence_;
  if (ownership_.is(Ownership::kGivenUp)) {
    return Status::Unavailable("workflow '" + id_ + "' is stopped: its ownership was given up");
  }
  Status s = ctx_.store->Claim(id_);
  if (!s.ok()) return s;
  ownership_.To(Ownership::kHeld);
  if (!released_) return s;
  // Claimed again after it gave the workflow up: another runner may have
  // loaded it meanwhile (and written, or deleted it). This worker is then
  // out of date: it is dropped, and the call goes to a new load.
  Result<WorkflowHead> head = ctx_.store->Peek(id_);
  if (head.ok() && head->cursor == cursor_ && head->inbox_consumed == inbox_read_) return s;
  ReleaseLocked();
  dispatch_.To(Dispatch::kUnloaded);
  changed_.notify_all();
  return Status::Unavailable("workflow '" + id_ + "' changed in the store since this runner last held it");
}

void Worker::ReleaseLocked() {
  if (ctx_.store == nullptr || !ownership_.is(Ownership::kHeld)) return;
  released_ = true;
  ownership_.To(Ownership::kNotHeld);
  (void)ctx_.store->Release(id_);  // best effort: the lease's expiry covers a failure
}

void Worker::GiveUpLocked() {
  ReleaseLocked();
  if (!ownership_.is(Ownership::kFenced)) ownership_.To(Ownership::kGivenUp);
}

// --- Checkpoints -----------------------------------------------------------------

void Worker::WaitForCommitter(std::unique_lock<std::mutex>& lock) {
  auto queued = [this] { return commit_.is(CommitStage::kQueued) || commit_.is(CommitStage::kQueuedAgain); };
  if (!queued()) return;
  ++sync_waiters_;  // so that the Committer leaves what follows to us
  changed_.wait(lock, [&] { return !queued(); });
  --sync_waiters_;
}

Status Worker::CheckpointLocked(std::unique_lock<std::mutex>& lock) {
  if (ctx_.store == nullptr) return Status::OK();
  WaitForCommitter(lock);
  if (dispatch_.is(Dispatch::kStopped)) RecordUndispatched();                  // Stop, Shutdown
  if (commit_.is(CommitStage::kLeftToWaiter)) commit_.To(CommitStage::kNone);  // committed here
  if (ownership_.is(Ownership::kFenced)) {
    SubmitOrUndo(std::exchange(held_tasks_, {}));  // halted: undone
    return fence_;
  }
  if (pending_.empty()) return Status::OK();
  completed_since_checkpoint_ = 0;
  Status s = Commit();
  if (s.ok()) {
    s = MaybeSnapshot();
  } else {
    HaltOnStoreError(s);
  }
  SubmitOrUndo(std::exchange(held_tasks_, {}));  // durable now, or undone by the halt
  return s;
}

void Worker::HaltOnStoreError(const Status& s) {
  if (s.code() == Status::Code::kNotOwner && !ownership_.is(Ownership::kFenced)) {
    // Another runner has the workflow now: this one writes nothing more for
    // it (not even a release: the ownership is not this worker's any more).
    ownership_.To(Ownership::kFenced);
    fence_ = s;
  }
  // What cannot be made durable must not run on.
  if (Ended()) return;
  phase_.To(Phase::kHalted);
  halt_cause_ = HaltCause::kStore;
  halt_error_ = s;
}

Worker::Take Worker::TakeCommit(QueuedCommit* out) {
  std::lock_guard lock(mu_);
  if (pending_.empty()) {
    commit_.To(CommitStage::kQueued);  // nothing is wanted: someone wrote it
    return Take::kNothing;
  }
  if (!ownership_.is(Ownership::kHeld)) return Take::kAlone;  // Commit refuses
  const StoreLimits& lim = ctx_.store->limits();
  IndexChange index = IndexChangeNow();
  if (pending_.size() + pending_facts_.size() + index.cost > lim.max_batch_events) return Take::kAlone;
  std::size_t bytes = 0;
  out->facts.reserve(pending_facts_.size());
  for (const FactEntry* f : pending_facts_) {
    out->facts.emplace_back(f->first, f->second.bytes);
    bytes += f->second.bytes.size();
  }
  out->events.reserve(pending_.size());
  for (const std::string& e : pending_) {
    out->events.push_back(e);
    bytes += e.size();
  }
  if (bytes > lim.max_batch_bytes) return Take::kAlone;
  out->expected_cursor = cursor_;
  taken_index_ = std::move(index);
  if (taken_index_.state) out->state_tag = taken_index_.tag;
  out->due = taken_index_.due;
  out->consume_inbox_through = taken_index_.consume_inbox_through;
  out->close_inbox = taken_index_.close_inbox;
  taken_events_ = pending_.size();
  taken_facts_ = pending_facts_.size();
  taken_tasks_ = std::exchange(held_tasks_, {});
  commit_.To(CommitStage::kQueued);  // what was wanted is taken
  completed_since_checkpoint_ = 0;
  return Take::kTaken;
}

void Worker::FinishCommit(const Result<std::uint64_t>* written) {
  std::unique_lock lock(mu_);
  Status s = Status::OK();
  if (written != nullptr) {
    s = written->status();
    if (s.ok()) {
      cursor_ = **written;
      IndexWritten(taken_index_);
      Written(taken_events_, taken_facts_);
    }
  }
  taken_events_ = taken_facts_ = 0;
  EndCommit(lock, s, std::exchange(taken_tasks_, {}));
}

void Worker::CommitAlone() {
  std::unique_lock lock(mu_);
  commit_.To(CommitStage::kQueued);  // what was wanted is written here
  completed_since_checkpoint_ = 0;
  const Status s = Commit();
  EndCommit(lock, s, std::exchange(held_tasks_, {}));
}

void Worker::EndCommit(std::unique_lock<std::mutex>& lock, const Status& s, std::vector<Task> tasks) {
  bool again = commit_.is(CommitStage::kQueuedAgain);
  if (!s.ok()) {
    HaltOnStoreError(s);
    tasks.insert(tasks.end(), held_tasks_.begin(), held_tasks_.end());
    held_tasks_.clear();
    again = false;
  } else if (pending_.empty()) {
    (void)MaybeSnapshot();  // only when the state in memory is all written; halts when fenced
  }
  if (ownership_.is(Ownership::kFenced)) again = false;  // (by the snapshot) nothing more is written
  // A thread waiting in CheckpointLocked commits the rest itself.
  if (!again) {
    commit_.To(CommitStage::kNone);
  } else if (sync_waiters_ > 0) {
    commit_.To(CommitStage::kLeftToWaiter);
  } else {
    commit_.To(CommitStage::kQueued);
    if (!ctx_.committer->Enqueue(shared_from_this())) commit_.To(CommitStage::kNone);  // (on its thread: never)
  }
  SubmitOrUndo(std::move(tasks));
  Settle(lock);
}

// Appends the pending events with the values of their new facts, in as many
// appends as the store's batch limits need. Each append is complete in
// itself (whole events, and every fact before the events that name it), and
// facts travel in the same atomic write as events: one write per cycle.
Status Worker::Commit() {
  if (ownership_.is(Ownership::kFenced)) return fence_;
  // Start, Resume and inputs claim the workflow; it is given up only with
  // nothing left to write, or for good.
  if (!ownership_.is(Ownership::kHeld) && !pending_.empty()) {
    return Status::Unavailable("workflow '" + id_ + "' is not held by this runner" +
                               (ownership_.is(Ownership::kGivenUp) ? ": it was stopped" : ""));
  }
  const StoreLimits& lim = ctx_.store->limits();
  while (!pending_.empty()) {
    AppendOptions append;
    append.expected_cursor = cursor_;  // this worker is the workflow's only writer
    std::vector<std::string_view> batch;
    std::size_t bytes = 0;
    auto fits = [&](std::size_t size) {
      const std::size_t entries = batch.size() + append.facts.size();
      return entries == 0 || (entries < lim.max_batch_events && bytes + size <= lim.max_batch_bytes);
    };
    while (append.facts.size() < pending_facts_.size()) {
      const FactEntry* f = pending_facts_[append.facts.size()];
      if (!fits(f->second.bytes.size())) break;
      append.facts.emplace_back(f->first, f->second.bytes);
      bytes += f->second.bytes.size();
    }
    // Events go only once every pending fact is in this or an earlier
    // append; the index changes go with the last events (they are the state
    // after them), so their cost is kept free for them.
    const IndexChange index = IndexChangeNow();
    if (append.facts.size() == pending_facts_.size()) {
      while (batch.size() < pending_.size() && fits(pending_[batch.size()].size()) &&
             batch.size() + append.facts.size() + index.cost < lim.max_batch_events) {
        batch.push_back(pending_[batch.size()]);
        bytes += batch.back().size();
      }
    }
    const bool last = batch.size() == pending_.size();
    if (last && index.state) append.state_tag = index.tag;
    if (last) {
      append.due = index.due;
      append.consume_inbox_through = index.consume_inbox_through;
      append.close_inbox = index.close_inbox;
    }
    if (batch.empty()) {
      // Only facts fit: save them on their own (they name no event yet).
      for (const auto& [hash, value] : append.facts) {
        Status s = ctx_.store->SaveFact(hash, value);
        if (!s.ok()) return s;
      }
      Written(0, append.facts.size());
      continue;
    }
    Result<std::uint64_t> cursor = ctx_.store->Append(id_, batch, append);
    if (!cursor.ok()) return cursor.status();
    cursor_ = *cursor;
    if (last) IndexWritten(index);
    Written(batch.size(), append.facts.size());
  }
  return Status::OK();
}

void Worker::Written(std::size_t events, std::size_t facts) {
  pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(events));
  for (std::size_t i = 0; i < facts; ++i) {
    std::string().swap(pending_facts_[i]->second.bytes);  // the store has them now
  }
  pending_facts_.erase(pending_facts_.begin(), pending_facts_.begin() + static_cast<std::ptrdiff_t>(facts));
}

Status Worker::MaybeSnapshot() {
  if (options_.snapshot_every == 0 || cursor_ - snapshot_cursor_ < options_.snapshot_every) return Status::OK();
  const std::string bytes = EncodeSnapshot(StateSnapshot());
  if (bytes.size() > ctx_.store->limits().max_value_bytes) return Status::OK();  // too large: replay events instead
  Status s = ctx_.store->SaveSnapshot(id_, cursor_, bytes);
  if (s.ok()) {
    snapshot_cursor_ = cursor_;
    if (options_.trim_after_snapshot) s = ctx_.store->Trim(id_, cursor_);
  }
  if (s.code() != Status::Code::kNotOwner) return Status::OK();  // resume replays the events instead
  HaltOnStoreError(s);
  return s;
}

HistoryState Worker::StateSnapshot() const {
  HistoryState state;
  state.started = true;
  state.definition = workflow_->name();
  state.version = workflow_->version();
  state.fingerprint = workflow_->fingerprint();
  state.options = options_;
  state.inputs = inputs_;
  for (const std::string& h : fact_order_) {
    const Fact& f = facts_.at(h);
    if (f.role == Fact::Role::kElement) continue;  // derived from its array
    state.facts.push_back(FactRecord{h, f.node, f.parents, f.root});
  }
  state.done.insert(done_.begin(), done_.end());
  state.completed = completed_;
  for (const auto& [id, r] : active_) {
    if (r.failures > 0) state.failures[id] = r.failures;
    if (!r.errors.empty()) state.errors[id] = r.errors;
    if (r.running) state.dispatched.insert(id);
    if (r.due_us > 0) state.due[id] = r.due_us;
    state.nodes[id] = r.node->name;
  }
  for (const auto& [event, ids] : awaiting_) {
    for (const std::string& id : ids) state.awaits.emplace_back(id, event);
  }
  for (const auto& [name, signals] : buffered_) {
    for (const Buffered& b : signals) state.signals.push_back(HistoryState::Signal{b.sequence, name, b.fact, b.key});
  }
  std::sort(state.signals.begin(), state.signals.end(),
            [](const HistoryState::Signal& a, const HistoryState::Signal& b) { return a.sequence < b.sequence; });
  state.inbox_through = inbox_read_;
  state.paused = phase_.is(Phase::kPaused);
  state.cancelling = phase_.is(Phase::kCancelling);
  state.cancelled = phase_.is(Phase::kCancelled);
  if (state.cancelling || state.cancelled || compensating_) {
    state.cancel_reason = cancel_.reason;
    state.terminated = cancel_.terminated;
  }
  state.compensating = compensating_;
  state.halt_after = halt_after_;
  state.compensated = compensated_;
  state.keys = keys_;
  // A halt of the store's making is not part of the workflow's history.
  state.halted = phase_.is(Phase::kHalted) && halt_cause_ == HaltCause::kNode;
  if (state.halted) state.halt_error = halt_error_;
  return state;
}

}  // namespace runic::internal
