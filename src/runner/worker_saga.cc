// Sagas (SEMANTICS.md 4, "Controls" and "Map, children, sagas"): on a
// cancel (not a terminate) and on a halt whose node's policy says
// kCompensate, the compensations of the values the workflow's nodes
// produced run one at a time, the latest completed first, each recorded
// (dispatch, done or fail, marked as a compensation) like a step, while the
// workflow is cancelling; then the cancel ends ("cancelled") or the halt
// does ("compensated": halted with the node's error). Which compensations
// are left is what the history says: every compensated node's value whose
// compensation is not done, so a resume after a crash goes on where it was.
#include <algorithm>

#include "runner/hash.h"
#include "runner/history_codec.h"
#include "runner/worker.h"

namespace runic::internal {

std::string Worker::CompensationId(const std::string& fact) {
  // Its input is no fact's hash: no runnable of a node can have this id.
  return RunnableId("compensation", {fact, "compensation"});
}

void Worker::BeginCompensation(Status halt) {
  phase_.To(Phase::kCancelling);
  compensating_ = true;
  halt_after_ = halt;
  halt_error_ = std::move(halt);  // what Lookup shows meanwhile
  compensate_from_ = kFromLatest;
  StopForCancel();
}

bool Worker::CompensationLeft() {
  if (!compensating_) return false;
  compensate_from_ = std::min(compensate_from_, fact_order_.size());
  for (; compensate_from_ > 0; --compensate_from_) {
    const std::string& hash = fact_order_[compensate_from_ - 1];
    const Fact& f = facts_.at(hash);
    if (f.role != Fact::Role::kValue || f.node.empty()) continue;
    const Workflow::Node* node = workflow_->Find(f.node);
    if (node != nullptr && node->compensate && !done_.count(CompensationId(hash))) return true;
  }
  return false;
}

bool Worker::StepCancel(std::vector<Task>& tasks) {
  if (!phase_.is(Phase::kCancelling) || running_ != 0 || !dispatch_.is(Dispatch::kOn)) return false;
  if (CompensationLeft()) {
    const std::string& hash = fact_order_[compensate_from_ - 1];
    const std::string id = CompensationId(hash);
    auto it = active_.find(id);
    if (it == active_.end()) {
      const Fact& f = facts_.at(hash);
      Runnable r;
      r.node = workflow_->Find(f.node);
      r.inputs = {hash};
      r.compensation = true;  // root "": counted in no map's branch
      if (auto n = saga_failures_.find(id); n != saga_failures_.end()) r.failures = n->second;
      if (auto e = saga_errors_.find(id); e != saga_errors_.end()) r.errors = e->second;
      it = active_.emplace(id, std::move(r)).first;
      if (auto d = saga_due_.find(id); d != saga_due_.end() && d->second != 0) {
        SetDue(it->second, d->second);  // its retry's backoff, what is left of it
        ScheduleDue(id, it->second);
      }
    }
    // (One waiting for its retry's backoff starts when it comes due: OnDue.)
    if (it->second.due_us == 0) tasks.push_back(StartAttempt(id, it->second));
    return false;
  }
  const bool halt = !halt_after_.ok();
  compensating_ = false;
  if (ctx_.store != nullptr) {
    Record(EncodeControlEvent(WallMicros(*ctx_.clock), 0, halt ? "compensated" : "cancelled", "", ""));
  }
  if (halt) {
    phase_.To(Phase::kHalted);
    halt_cause_ = HaltCause::kNode;
    halt_error_ = halt_after_;
    compensated_ = true;
  } else {
    phase_.To(Phase::kCancelled);  // its inbox is closed in the same write (IndexChangeNow)
  }
  return true;
}

}  // namespace runic::internal
