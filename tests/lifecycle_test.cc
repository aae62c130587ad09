// The Worker's lifecycle tables (src/runner/lifecycle.h): which transitions
// are allowed, and that any other aborts.
#include "runner/lifecycle.h"

#include <gtest/gtest.h>

namespace runic::internal {
namespace {

constexpr Phase kPhases[] = {Phase::kRunning, Phase::kIdle,       Phase::kHalted,   Phase::kWaiting,
                             Phase::kPaused,  Phase::kCancelling, Phase::kCancelled};

TEST(LifecycleTest, CancelledIsTerminalAndEveryOtherPhaseCanBeCancelled) {
  for (Phase p : kPhases) {
    if (p != Phase::kCancelled) {
      EXPECT_FALSE(PhaseMayBecome(Phase::kCancelled, p)) << WorkflowStateName(p);
      EXPECT_TRUE(PhaseMayBecome(p, Phase::kCancelled)) << WorkflowStateName(p);
    }
  }
}

TEST(LifecycleTest, WorkMovesBetweenRunningWaitingAndIdle) {
  EXPECT_TRUE(PhaseMayBecome(Phase::kRunning, Phase::kWaiting));
  EXPECT_TRUE(PhaseMayBecome(Phase::kWaiting, Phase::kRunning));
  EXPECT_TRUE(PhaseMayBecome(Phase::kRunning, Phase::kIdle));
  EXPECT_TRUE(PhaseMayBecome(Phase::kIdle, Phase::kRunning));
  // A halted workflow runs again only through a retry (running), never
  // straight to idle or waiting.
  EXPECT_TRUE(PhaseMayBecome(Phase::kHalted, Phase::kRunning));
  EXPECT_FALSE(PhaseMayBecome(Phase::kHalted, Phase::kIdle));
  EXPECT_FALSE(PhaseMayBecome(Phase::kHalted, Phase::kWaiting));
  // Cancelling ends cancelled (or halted by a failed write), never idle.
  EXPECT_FALSE(PhaseMayBecome(Phase::kCancelling, Phase::kIdle));
  EXPECT_FALSE(PhaseMayBecome(Phase::kCancelling, Phase::kRunning));
}

TEST(LifecycleTest, OwnershipGivenUpOrFencedIsNeverHeldAgain) {
  EXPECT_TRUE(OwnershipMayBecome(Ownership::kNotHeld, Ownership::kHeld));
  EXPECT_TRUE(OwnershipMayBecome(Ownership::kHeld, Ownership::kNotHeld));
  EXPECT_TRUE(OwnershipMayBecome(Ownership::kHeld, Ownership::kFenced));
  EXPECT_FALSE(OwnershipMayBecome(Ownership::kGivenUp, Ownership::kHeld));
  EXPECT_FALSE(OwnershipMayBecome(Ownership::kFenced, Ownership::kHeld));
  EXPECT_FALSE(OwnershipMayBecome(Ownership::kFenced, Ownership::kGivenUp));
}

TEST(LifecycleTest, DispatchOnlyStops) {
  EXPECT_TRUE(DispatchMayBecome(Dispatch::kOn, Dispatch::kStopped));
  EXPECT_TRUE(DispatchMayBecome(Dispatch::kStopped, Dispatch::kDetached));
  EXPECT_FALSE(DispatchMayBecome(Dispatch::kStopped, Dispatch::kOn));
  EXPECT_FALSE(DispatchMayBecome(Dispatch::kDetached, Dispatch::kStopped));
  EXPECT_TRUE(DispatchMayBecome(Dispatch::kOn, Dispatch::kUnloaded));
  EXPECT_FALSE(DispatchMayBecome(Dispatch::kStopped, Dispatch::kUnloaded)) << "a stopping worker is not unloaded";
  EXPECT_FALSE(DispatchMayBecome(Dispatch::kUnloaded, Dispatch::kStopped));
  EXPECT_FALSE(DispatchMayBecome(Dispatch::kUnloaded, Dispatch::kOn));
}

TEST(LifecycleTest, ACommitIsQueuedBeforeItIsWantedAgainOrLeftToAWaiter) {
  EXPECT_TRUE(CommitStageMayBecome(CommitStage::kNone, CommitStage::kQueued));
  EXPECT_FALSE(CommitStageMayBecome(CommitStage::kNone, CommitStage::kQueuedAgain));
  EXPECT_FALSE(CommitStageMayBecome(CommitStage::kNone, CommitStage::kLeftToWaiter));
  EXPECT_TRUE(CommitStageMayBecome(CommitStage::kQueuedAgain, CommitStage::kLeftToWaiter));
  EXPECT_FALSE(CommitStageMayBecome(CommitStage::kQueued, CommitStage::kLeftToWaiter));
  EXPECT_TRUE(CommitStageMayBecome(CommitStage::kLeftToWaiter, CommitStage::kNone));
}

TEST(LifecycleDeathTest, AForbiddenTransitionAbortsNamingIt) {
  PhaseState phase(Phase::kCancelled, "phase");
  EXPECT_DEATH(phase.To(Phase::kRunning), "workflow phase may not go from state 6 to 0");
  OwnershipState ownership(Ownership::kFenced, "ownership");
  EXPECT_DEATH(ownership.To(Ownership::kHeld), "workflow ownership may not go");
  DispatchState dispatch(Dispatch::kOn, "dispatch");
  dispatch.To(Dispatch::kOn);  // the same state is always allowed
  dispatch.To(Dispatch::kStopped);
  EXPECT_TRUE(dispatch.is(Dispatch::kStopped));
}

}  // namespace
}  // namespace runic::internal
