// The Worker's controls (SEMANTICS.md 4, "Controls"): pause, unpause,
// cancel, terminate and retry, applied in the order their inbox entries
// were appended, each recorded in a control event (or refused there, with
// why, when the workflow's state changed after the control was sent).
#include "runner/history_codec.h"
#include "runner/worker.h"

namespace runic::internal {

std::string Worker::RefusalOf(Control control) {
  std::lock_guard lock(mu_);
  if (!dispatch_.is(Dispatch::kOn)) return "workflow '" + id_ + "' is stopping";
  return ControlRefusal(control, phase_.get(), halt_cause_ == HaltCause::kNode, compensated_);
}

Status Worker::DeliverControl(Control control, std::string reason) {
  std::unique_lock lock(mu_);
  if (!dispatch_.is(Dispatch::kOn)) return Status::Unavailable("workflow '" + id_ + "' is stopping");
  const std::string refused = ControlRefusal(control, phase_.get(), halt_cause_ == HaltCause::kNode, compensated_);
  if (!refused.empty()) return Status::FailedPrecondition("workflow '" + id_ + "': " + refused);
  ApplyControl(0, control, std::move(reason));
  return AfterChange(lock, /*must_commit=*/false);
}

void Worker::ApplyControl(std::uint64_t sequence, Control control, std::string reason) {
  inbox_read_ = std::max(inbox_read_, sequence);
  const std::string refused = ControlRefusal(control, phase_.get(), halt_cause_ == HaltCause::kNode, compensated_);
  if (ctx_.store != nullptr) {
    Record(EncodeControlEvent(WallMicros(*ctx_.clock), sequence, ControlName(control), reason, refused));
  }
  if (!refused.empty()) return;
  switch (control) {
    case Control::kPause:
      phase_.To(Phase::kPaused);  // DispatchReady starts nothing; the signals wait in the buffer
      break;
    case Control::kUnpause:
      phase_.To(Phase::kRunning);  // Settle moves it on to waiting or idle as the work says
      MatchAllSignals();
      break;
    case Control::kRetry:
      RetryHalted();
      break;
    case Control::kCancel:
    case Control::kTerminate:
      BeginCancel(control == Control::kTerminate, reason);
      break;
    case Control::kCancelled:
    case Control::kCompensated:
      break;  // recorded by StepCancel, never sent
  }
}

void Worker::RetryHalted() {
  halt_cause_ = HaltCause::kNone;
  if (compensating_) {
    // A compensation halted: the compensations go on (that one with fresh
    // attempts: it was forgotten).
    phase_.To(Phase::kCancelling);
    halt_error_ = halt_after_.ok() ? CancelStatus(id_, cancel_.terminated, cancel_.reason) : halt_after_;
    saga_failures_.clear();
    saga_errors_.clear();
    saga_due_.clear();
    compensate_from_ = kFromLatest;
    return;
  }
  phase_.To(Phase::kRunning);
  halt_error_ = Status::OK();
  for (auto& [id, r] : active_) {
    if (r.running) continue;
    const bool step = r.node->kind != Workflow::NodeKind::kDelay && r.node->kind != Workflow::NodeKind::kAwait;
    if (step && r.failures > 0) {
      // Fresh attempts: its policy's retries apply again.
      r.failures = 0;
      r.errors.clear();
      ClearDue(r);
      ready_.push_back(id);
    } else if (r.due_us != 0) {
      ScheduleDue(id, r);  // it may have come due while halted (OnDue did nothing then)
    }
  }
  // The runnable that halted was forgotten: made again, with no failure.
  const std::vector<std::string> order = fact_order_;
  for (const std::string& h : order) Derive(h);
  // And a reduce that halted: made again by DeriveReduces.
  for (auto& [array, x] : expansions_) {
    if (!x.reduced) continue;
    x.reduced = false;
    CountOpen(x.root, +1);  // its branch waits for the reduces again
    settled_.push_back(array);
  }
  MatchAllSignals();
}

void Worker::BeginCancel(bool terminate, const std::string& reason) {
  phase_.To(Phase::kCancelling);
  cancel_ = {terminate, reason};
  halt_error_ = CancelStatus(id_, terminate, reason);
  // Then the compensations of completed nodes run (a cancel, not a
  // terminate: StepCancel), once no step runs; those that ran before (a
  // compensated halt, a compensation that halted) never run again.
  compensating_ = !terminate;
  halt_after_ = Status::OK();
  saga_failures_.clear();  // a compensation that halted runs with fresh attempts
  saga_errors_.clear();
  saga_due_.clear();
  compensate_from_ = kFromLatest;
  StopForCancel();
}

void Worker::StopForCancel() {
  ready_.clear();
  for (auto& [id, r] : active_) {
    ClearDue(r);
    ClearAwaiting(id, r);
    if (r.running) r.stop.request_stop();  // its late result is recorded all the same
  }
}

void Worker::MatchAllSignals() {
  std::vector<std::string> events;
  for (const auto& [event, waiting] : awaiting_) events.push_back(event);
  for (const std::string& event : events) MatchSignals(event);
}

}  // namespace runic::internal
