#include "runner/lifecycle.h"

#include <cstdio>
#include <cstdlib>
#include <iterator>

namespace runic::internal {

bool PhaseMayBecome(Phase from, Phase to) {
  using P = Phase;
  switch (from) {
    case P::kRunning:
    case P::kWaiting:
    case P::kPaused:
      // Work goes on, pauses, finishes, halts or is cancelled. (A paused
      // workflow's running steps finish: it may end idle or halted.)
      return to != from;
    case P::kIdle:
      // An input makes it run (or wait for a retry); a failed snapshot of its last write (lost
      // ownership) halts it; controls pause or cancel it.
      return to == P::kRunning || to == P::kWaiting || to == P::kHalted || to == P::kPaused || to == P::kCancelling ||
             to == P::kCancelled;
    case P::kHalted:
      // Retry runs its failed nodes again; cancel ends it.
      return to == P::kRunning || to == P::kCancelling || to == P::kCancelled;
    case P::kCancelling:
      // Compensations end; a failed write halts it (resumed later).
      return to == P::kCancelled || to == P::kHalted;
    case P::kCancelled:
      return false;  // terminal
  }
  return false;
}

namespace {
constexpr const char* kControlNames[] = {"pause", "unpause",   "cancel",     "terminate",
                                         "retry", "cancelled", "compensated"};
}  // namespace

const char* ControlName(Control control) {
  const auto i = static_cast<std::size_t>(control);
  return i < std::size(kControlNames) ? kControlNames[i] : "?";
}

std::optional<Control> ControlByName(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kControlNames); ++i) {
    if (name == kControlNames[i]) return static_cast<Control>(i);
  }
  return std::nullopt;
}

std::string ControlRefusal(Control control, Phase phase, bool halted_by_node, bool compensated) {
  using P = Phase;
  bool allowed = false;
  switch (control) {
    case Control::kPause:
      allowed = phase == P::kRunning || phase == P::kWaiting || phase == P::kIdle;
      break;
    case Control::kUnpause:
      allowed = phase == P::kPaused;
      break;
    case Control::kCancel:
      allowed = phase != P::kCancelling && phase != P::kCancelled;
      break;
    case Control::kTerminate:
      allowed = phase != P::kCancelled;
      break;
    case Control::kRetry:
      allowed = phase == P::kHalted && halted_by_node && !compensated;
      break;
    case Control::kCancelled:
    case Control::kCompensated:
      allowed = phase == P::kCancelling;
      break;
  }
  if (allowed) return {};
  if (control == Control::kRetry && phase == P::kHalted && compensated) {
    return "cannot retry a workflow whose compensations ran (its node's policy said compensate): what it did "
           "was undone; start a new one";
  }
  std::string why = std::string("cannot ") + ControlName(control) + " a workflow that is " + WorkflowStateName(phase);
  if (control == Control::kRetry && phase == P::kHalted) {
    why += " by the store (not by a node): stop and resume it instead";
  }
  return why;
}

bool OwnershipMayBecome(Ownership from, Ownership to) {
  using O = Ownership;
  switch (from) {
    case O::kNotHeld:
      return true;  // claimed, given up, or fenced by a write that failed
    case O::kHeld:
      return true;  // released, given up, or fenced
    case O::kGivenUp:
      return to == O::kFenced;  // a write already under way failed
    case O::kFenced:
      return false;  // for good
  }
  return false;
}

bool DispatchMayBecome(Dispatch from, Dispatch to) {
  using D = Dispatch;
  switch (from) {
    case D::kOn:
      return to == D::kStopped || to == D::kDetached || to == D::kUnloaded;
    case D::kStopped:
      return to == D::kDetached;
    case D::kDetached:
    case D::kUnloaded:
      return false;  // for good: a new Worker loads the workflow again
  }
  return false;
}

bool CommitStageMayBecome(CommitStage from, CommitStage to) {
  using C = CommitStage;
  switch (from) {
    case C::kNone:
      return to == C::kQueued;  // a cycle wants its checkpoint written
    case C::kQueued:
      // Another cycle wants one too; the write ended.
      return to == C::kQueuedAgain || to == C::kNone;
    case C::kQueuedAgain:
      // The Committer took what was wanted; the write ended and the next
      // is queued, or left to a waiting thread, or dropped (failure).
      return to == C::kQueued || to == C::kLeftToWaiter || to == C::kNone;
    case C::kLeftToWaiter:
      // The waiting thread commits it; or a cycle queues it first.
      return to == C::kNone || to == C::kQueuedAgain;
  }
  return false;
}

void CheckTransition(bool allowed, const char* part, int from, int to) {
  if (allowed) return;
  std::fprintf(stderr, "runic: internal error: workflow %s may not go from state %d to %d\n", part, from, to);
  std::abort();
}

}  // namespace runic::internal
