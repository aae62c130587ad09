// The Worker's side of unloading (SEMANTICS.md 4, "Unloading"): a workflow
// with nothing to run now and everything written is unloaded after
// RunnerOptions::unload_after of quiet; the store's indexes (due time,
// inbox, state) and the runner's calls load it again when there is work.
#include "runner/history_codec.h"
#include "runner/worker.h"

namespace runic::internal {

bool Worker::QuietLocked() const {
  if (ctx_.store == nullptr || !dispatch_.is(Dispatch::kOn) || ownership_.is(Ownership::kFenced)) return false;
  // (Facts wait only with events; the one exception, the definition's
  // structure, goes with whichever write of its definition comes next.)
  if (running_ != 0 || !commit_.is(CommitStage::kNone) || !pending_.empty() || !held_tasks_.empty()) return false;
  switch (phase_.get()) {
    case Phase::kWaiting:
    case Phase::kIdle:
      return ready_.empty();
    case Phase::kPaused:     // what is ready waits for an unpause, which loads it
    case Phase::kCancelled:  // terminal
      return true;
    case Phase::kHalted:  // by a node, in its history (a retry loads it); a store's halt stays loaded to be seen
      return halt_cause_ == HaltCause::kNode;
    case Phase::kRunning:
    case Phase::kCancelling:
      return false;
  }
  return false;
}

void Worker::ScheduleUnloadCheck(Clock::time_point when) {
  if (unload_timer_ != 0 || !ctx_.request_unload) return;
  std::weak_ptr<Worker> weak = weak_from_this();
  unload_timer_ = ctx_.timer->At(when, [weak, request = ctx_.request_unload] {
    if (auto self = weak.lock()) request(std::move(self));
  });
}

void Worker::NoteQuietLocked() {
  if (ctx_.unload_after == std::chrono::milliseconds::max()) return;
  if (!QuietLocked()) {
    quiet_since_.reset();  // the check that comes looks again
    return;
  }
  if (!quiet_since_) quiet_since_ = ctx_.clock->Now();
  ScheduleUnloadCheck(*quiet_since_ + ctx_.unload_after);
}

bool Worker::TryUnload(bool at_once) {
  std::lock_guard lock(mu_);
  if (!at_once) unload_timer_ = 0;  // the check under way
  if (!QuietLocked()) {
    quiet_since_.reset();  // Settle starts the quiet time again when it comes
    return false;
  }
  const Clock::time_point now = ctx_.clock->Now();
  if (!quiet_since_) quiet_since_ = now;
  if (!at_once && (ctx_.unload_after == std::chrono::milliseconds::max() || now - *quiet_since_ < ctx_.unload_after)) {
    ScheduleUnloadCheck(*quiet_since_ + ctx_.unload_after);
    return false;
  }
  // A due time near: its timer here fires it on time (the index would
  // bring the workflow back only at the runner's next poll); its firing
  // ends the quiet time. A thread in AwaitIdle or Checkpoint, a call that
  // pinned it, or a callback under way: their end looks again
  // (NoteQuietLocked).
  const bool due_near =
      !Ended() && !dues_.empty() && *dues_.begin() < WallMicros(*ctx_.clock) + ctx_.keep_loaded_within_us;
  if (due_near || awaiters_ > 0 || pins_ > 0 || reporting_ > 0 || sync_waiters_ > 0) return false;
  for (auto& [id, r] : active_) ctx_.timer->Cancel(std::exchange(r.due_timer, 0));
  ctx_.timer->Cancel(std::exchange(unload_timer_, 0));
  dispatch_.To(Dispatch::kUnloaded);
  changed_.notify_all();  // Await returns kUnloaded
  return true;
}

void Worker::ReleaseUnloaded() {
  std::lock_guard lock(mu_);
  ReleaseLocked();
}

void Worker::RecordUndispatched() {
  // Paused, halted and cancelled workflows say so in the index themselves.
  if (ctx_.store == nullptr || !(phase_.is(Phase::kRunning) || phase_.is(Phase::kWaiting) || phase_.is(Phase::kIdle))) {
    return;
  }
  DeriveReduces();  // a map whose last branch finished during the stop
  for (auto& [id, r] : active_) {
    if (r.recorded || r.running || r.waits()) continue;
    Record(EncodeDispatchEvent(WallMicros(*ctx_.clock), id, r.node->name, r.failures + 1));
    r.recorded = true;
    ++recorded_pending_;
  }
}

}  // namespace runic::internal
