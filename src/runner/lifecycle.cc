#include "runner/lifecycle.h"

#include <cstdio>
#include <cstdlib>

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

bool DispatchMayBecome(Dispatch from, Dispatch to) { return static_cast<int>(to) > static_cast<int>(from); }

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
