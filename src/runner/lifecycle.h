// A Worker's lifecycle as explicit states with checked transitions, in four
// parts that change independently:
//
//   Phase      what the workflow is doing (SEMANTICS.md 4, "States"); the
//              public WorkflowState is this phase.
//   Ownership  whether this worker holds the workflow in the store.
//   Dispatch   whether this worker still starts runnables and records.
//   CommitStage where its checkpoint is in the Committer's queue.
//
// A transition the tables below do not allow is a bug in the Runner: it
// aborts the process with both states named, in every build, rather than
// run on in a state nobody designed (tests/lifecycle_test.cc).
//
// Thread safety: none; the Worker holds its mutex around every call.
#ifndef RUNIC_SRC_RUNNER_LIFECYCLE_H_
#define RUNIC_SRC_RUNNER_LIFECYCLE_H_

#include <optional>
#include <string>
#include <string_view>

#include "runic/runner.h"

namespace runic::internal {

// The phases are WorkflowState's:
//   running    runnables ready or running
//   waiting    only timers, awaits and retry backoffs pending (later: children)
//   paused     nothing new dispatches (entered by the controls issue)
//   idle       nothing left to run: complete until the next input
//   halted     a node failed with halt, or the store failed (HaltCause)
//   cancelling compensations running (entered by the controls issue)
//   cancelled  terminal: refuses inputs (entered by the controls issue)
using Phase = WorkflowState;

// Whether `from` may become `to` (the same phase is always allowed).
bool PhaseMayBecome(Phase from, Phase to);

// Why a workflow halted: a node's failure is part of its history (a
// snapshot records it; resume finds it halted again); a failed write is
// not (resume runs it again).
enum class HaltCause { kNone, kNode, kStore };

enum class Ownership {
  kNotHeld,  // not claimed (or released once everything was written)
  kHeld,     // claimed: this worker may write
  kGivenUp,  // released for good (Stop, Shutdown): nothing claims it again
  kFenced,   // a write failed with kNotOwner: nothing is written any more
};
bool OwnershipMayBecome(Ownership from, Ownership to);

enum class Dispatch {
  kOn,        // runnables start as they become ready
  kStopped,   // Drain or Stop: nothing new starts; results are still recorded
  kDetached,  // Stop, once written: nothing is recorded, committed or reported
  kUnloaded,  // unloaded with nothing to run and everything written: a call
              // that reaches it goes to a new Worker loaded from the store
};
bool DispatchMayBecome(Dispatch from, Dispatch to);

enum class CommitStage {
  kNone,          // not in the Committer's queue
  kQueued,        // queued, or being written
  kQueuedAgain,   // queued, and another commit is wanted after this one
  kLeftToWaiter,  // a commit is wanted; a thread waiting in Checkpoint makes it
};
bool CommitStageMayBecome(CommitStage from, CommitStage to);

// The controls (SEMANTICS.md 4, "Controls") and the phase each is refused
// in. kCancelled is not sent: the Runner records it when a cancel (or
// terminate) has finished (running steps returned; later, compensations).
// kCompensated is not sent either: recorded when the compensations of a
// halt (OnFailure::kCompensate) have run.
enum class Control { kPause, kUnpause, kCancel, kTerminate, kRetry, kCancelled, kCompensated };
// "pause", "unpause", "cancel", "terminate", "retry", "cancelled", "compensated".
const char* ControlName(Control control);
// nullopt for another name.
std::optional<Control> ControlByName(std::string_view name);
// Why `control` is refused in `phase` ("" when allowed): pause from running,
// waiting or idle; unpause from paused; cancel from any phase but cancelling
// and cancelled; terminate from any but cancelled; retry from halted (by a
// node: `halted_by_node`, and not after its compensations ran:
// `compensated`).
std::string ControlRefusal(Control control, Phase phase, bool halted_by_node = true, bool compensated = false);

// Aborts naming the part and both states when `allowed` is false.
void CheckTransition(bool allowed, const char* part, int from, int to);

// One part's state: To() checks the transition.
template <typename State, bool (*kMayBecome)(State, State)>
class StateOf {
 public:
  explicit StateOf(State initial, const char* part) : state_(initial), part_(part) {}
  State get() const { return state_; }
  bool is(State s) const { return state_ == s; }
  void To(State next) {
    CheckTransition(state_ == next || kMayBecome(state_, next), part_, static_cast<int>(state_),
                    static_cast<int>(next));
    state_ = next;
  }

 private:
  State state_;
  const char* part_;
};

using PhaseState = StateOf<Phase, PhaseMayBecome>;
using OwnershipState = StateOf<Ownership, OwnershipMayBecome>;
using DispatchState = StateOf<Dispatch, DispatchMayBecome>;
using CommitState = StateOf<CommitStage, CommitStageMayBecome>;

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_LIFECYCLE_H_
