// The Worker's durable waits: a delay node's timer and a retry's backoff.
// Both record their due time (wall clock, UTC microseconds) in the history
// when the wait starts, and the earliest one goes to the store's due-time
// index with the same write; a resumed workflow waits only what is left.
#include <algorithm>

#include "runner/history_codec.h"
#include "runner/worker.h"

namespace runic::internal {

std::int64_t WallMicros(Clock& clock) {
  return std::chrono::duration_cast<std::chrono::microseconds>(clock.WallNow().time_since_epoch()).count();
}

void Worker::StartWait(const std::string& id, Runnable& r) {
  const Workflow::Node& node = *r.node;
  std::int64_t due = 0;
  if (node.until) {
    Result<std::chrono::system_clock::time_point> until = Status::Unavailable("");
    try {
      until = node.until(facts_.at(r.inputs.front()).value);
    } catch (const std::exception& e) {
      until = Status::Unavailable("delay '" + node.name + "' threw: " + e.what());
    } catch (...) {
      until = Status::Unavailable("delay '" + node.name + "' threw an exception");
    }
    if (!until.ok()) {
      // Not retried: the function is pure, it would fail again.
      OnFailure(id, r, until.status(), std::chrono::nanoseconds(0), /*may_retry=*/false);  // `r` may be gone now
      return;
    }
    due = std::chrono::duration_cast<std::chrono::microseconds>(until->time_since_epoch()).count();
  } else {
    due = WallMicros(*ctx_.clock) + std::chrono::microseconds(node.delay).count();
  }
  due = std::max<std::int64_t>(due, 1);  // 0 means "no due time"
  if (ctx_.store != nullptr) {
    Record(EncodeWaitEvent(WallMicros(*ctx_.clock), id, node.name, due));
    if (!r.recorded) ++recorded_pending_;
    r.recorded = true;
  }
  ++r.generation;
  r.dispatched_at = ctx_.clock->Now();
  SetDue(r, due);
  ScheduleDue(id, r);
}

void Worker::SetDue(Runnable& r, std::int64_t due_us) {
  ClearDue(r);
  waiting_ += !r.waits();
  r.due_us = due_us;
  dues_.insert(due_us);
}

void Worker::ClearDue(Runnable& r) {
  ctx_.timer->Cancel(std::exchange(r.due_timer, 0));
  if (r.due_us == 0) return;
  dues_.erase(dues_.find(r.due_us));
  r.due_us = 0;
  waiting_ -= !r.waits();
}

void Worker::SetAwaiting(const std::string& id, Runnable& r) {
  if (r.awaiting) return;
  waiting_ += !r.waits();
  r.awaiting = true;
  awaiting_[r.node->event].push_back(id);
}

void Worker::ClearAwaiting(const std::string& id, Runnable& r) {
  if (!r.awaiting) return;
  r.awaiting = false;
  waiting_ -= !r.waits();
  auto it = awaiting_.find(r.node->event);
  if (it == awaiting_.end()) return;
  std::erase(it->second, id);
  if (it->second.empty()) awaiting_.erase(it);
}

void Worker::ScheduleDue(const std::string& id, Runnable& r) {
  // Due times are wall-clock instants; the timer runs on steady time, which
  // does not jump: wait what is left now, and OnDue checks the wall clock.
  const auto left = std::chrono::microseconds(std::max<std::int64_t>(0, r.due_us - WallMicros(*ctx_.clock)));
  std::weak_ptr<Worker> weak = weak_from_this();
  ctx_.timer->Cancel(r.due_timer);
  r.due_timer =
      ctx_.timer->At(ctx_.clock->Now() + left, [weak, id, generation = r.generation, schedule = ++r.due_schedule] {
        if (auto self = weak.lock()) self->OnDue(id, generation, schedule);
      });
}

void Worker::OnDue(const std::string& id, std::uint64_t generation, std::uint64_t schedule) {
  std::unique_lock lock(mu_);
  auto it = active_.find(id);
  if (it == active_.end() || it->second.generation != generation || it->second.due_schedule != schedule ||
      it->second.running || it->second.due_us == 0) {
    return;  // done, stopped or superseded meanwhile
  }
  Runnable& r = it->second;
  r.due_timer = 0;  // this one fired
  // Resume (or a retry) schedules it again; a paused workflow records what
  // comes due and dispatches what follows on unpause.
  if (!dispatch_.is(Dispatch::kOn) || Ended() || (phase_.is(Phase::kCancelling) && !r.compensation)) return;
  if (WallMicros(*ctx_.clock) < r.due_us) {
    ScheduleDue(id, r);  // the wall clock is behind the steady one: never early
    return;
  }
  if (r.compensation) {
    ClearDue(r);  // its backoff is over: StepCancel dispatches it
  } else if (r.node->kind == Workflow::NodeKind::kAwait) {
    // No signal came in time: not retried (a retry would wait for the same
    // signal again); its fallback, skip or halt applies.
    ClearDue(r);
    ClearAwaiting(id, r);
    const Status timeout =
        Status::DeadlineExceeded("await '" + r.node->name + "' got no '" + r.node->event + "' signal within " +
                                 std::to_string(r.node->await_timeout.count()) + " ms");
    const auto waited = std::chrono::duration_cast<std::chrono::nanoseconds>(ctx_.clock->Now() - r.dispatched_at);
    OnFailure(id, r, timeout, waited, /*may_retry=*/false);
  } else if (r.node->kind == Workflow::NodeKind::kDelay) {
    // Fired: recorded once, as the delay's completion with its input passed on.
    const auto waited = std::chrono::duration_cast<std::chrono::nanoseconds>(ctx_.clock->Now() - r.dispatched_at);
    Complete(id, r, facts_.at(r.inputs.front()).value, {}, waited, false);
  } else {
    ready_.push_back(id);  // the backoff is over; it ends (ClearDue) with the dispatch
  }
  (void)AfterChange(lock, false);  // a failed checkpoint halts the workflow
}

WorkflowState Worker::StoredStateNow() const {
  // As history.cc reads a history's state: halted by a node; else running
  // while a recorded runnable is not done and not every one waits (for a
  // due time or a signal), waiting when every one does; else idle.
  if (phase_.is(Phase::kCancelled) || phase_.is(Phase::kCancelling) || phase_.is(Phase::kPaused)) return phase_.get();
  if (phase_.is(Phase::kHalted) && halt_cause_ == HaltCause::kNode) return WorkflowState::kHalted;
  if (recorded_pending_ == 0) return WorkflowState::kIdle;
  return recorded_pending_ > waiting_ ? WorkflowState::kRunning : WorkflowState::kWaiting;
}

Worker::IndexChange Worker::IndexChangeNow() const {
  IndexChange change;
  const StoreLimits& lim = ctx_.store->limits();
  const WorkflowState state = StoredStateNow();
  if (stored_state_ != state) {
    change.state = state;
    change.tag = StateIndexTag(state, workflow_->name(), workflow_->version());
    change.cost += lim.state_tag_cost;
  }
  // The earliest due time of a runnable the history names (a delay not yet
  // recorded is not waiting in the store's eyes).
  // Nothing fires while it is halted (a retry schedules its times again),
  // so the index does not bring back a halted workflow for them. A
  // finished one's due time is its expiry (retention), from its last write.
  std::uint64_t due = dues_.empty() || Ended() ? 0 : static_cast<std::uint64_t>(*dues_.begin());
  if (ctx_.retention_us > 0 && (state == WorkflowState::kIdle || state == WorkflowState::kCancelled)) {
    due = static_cast<std::uint64_t>(WallMicros(*ctx_.clock) + ctx_.retention_us);
  }
  if (stored_due_ != due) {
    change.due = due;
    change.cost += lim.due_cost;
  }
  // The inbox entries recorded by the pending events are consumed with them.
  if (inbox_read_ > stored_consumed_) {
    change.consume_inbox_through = inbox_read_;
    change.cost += lim.inbox_consume_cost;
  }
  if (phase_.is(Phase::kCancelled) && !stored_closed_) {
    change.close_inbox = true;  // terminal: signals and controls are refused from here on
    change.cost += lim.inbox_close_cost;
  }
  return change;
}

void Worker::IndexWritten(const IndexChange& change) {
  if (change.state) stored_state_ = change.state;
  if (change.due) stored_due_ = change.due;
  stored_consumed_ = std::max(stored_consumed_, change.consume_inbox_through);
  stored_closed_ = stored_closed_ || change.close_inbox;
}

}  // namespace runic::internal
