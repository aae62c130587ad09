// The Worker's signals: awaits, the buffer of signals no await has taken,
// and the inbox they come from (SEMANTICS.md 4, "Inbox" and "Signals").
//
// Any process appends a signal to the workflow's inbox (Runner::Signal);
// only the owner records it, in a "signal" event whose write also marks the
// entry consumed (IndexChange::consume_inbox_through), so each entry is
// recorded once. A recorded signal goes to the await of its name that
// started first, or waits in the buffer for one; an await that takes it
// completes in the same write, and what follows it runs once that write is
// durable, as after any step.
#include "runner/hash.h"
#include "runner/history_codec.h"
#include "runner/worker.h"

namespace runic::internal {

void Worker::StartAwait(const std::string& id, Runnable& r) {
  const Workflow::Node& node = *r.node;
  const std::int64_t due = node.await_timeout.count() > 0
                               ? WallMicros(*ctx_.clock) + std::chrono::microseconds(node.await_timeout).count()
                               : 0;
  if (ctx_.store != nullptr) {
    Record(EncodeWaitEvent(WallMicros(*ctx_.clock), id, node.name, due, node.event));
    if (!r.recorded) ++recorded_pending_;
    r.recorded = true;
  }
  ++r.generation;
  r.dispatched_at = ctx_.clock->Now();
  SetAwaiting(id, r);
  if (due != 0) {
    SetDue(r, due);
    ScheduleDue(id, r);
  }
  MatchSignals(node.event);
}

void Worker::MatchSignals(const std::string& event) {
  // Paused: buffered until unpause; halted: until a retry.
  if (!phase_.is(Phase::kRunning) && !phase_.is(Phase::kWaiting) && !phase_.is(Phase::kIdle)) return;
  for (;;) {
    auto waiting = awaiting_.find(event);
    auto buffered = buffered_.find(event);
    if (waiting == awaiting_.end() || buffered == buffered_.end()) return;
    const std::string id = waiting->second.front();
    const Buffered signal = buffered->second.front();
    buffered->second.pop_front();
    if (buffered->second.empty()) buffered_.erase(buffered);
    Runnable& r = active_.at(id);
    ClearDue(r);
    ClearAwaiting(id, r);
    Value produced{{"input", facts_.at(r.inputs.front()).value}, {"signal", signal_facts_.at(signal.fact).value}};
    const auto waited = std::chrono::duration_cast<std::chrono::nanoseconds>(ctx_.clock->Now() - r.dispatched_at);
    Complete(id, r, std::move(produced), {}, waited, false, signal.sequence);
  }
}

void Worker::RecordSignal(std::uint64_t sequence, std::string name, Value value, std::string key, std::string dropped) {
  inbox_read_ = std::max(inbox_read_, sequence);
  if (dropped.empty() && !key.empty() && keys_.count(key) != 0) {
    dropped = "idempotency key '" + key + "' was applied before";
  }
  std::string hash;
  if (dropped.empty()) {
    std::string bytes = EncodeValue(value);
    // Named by the workflow's inbox entry: two equal values sent twice are
    // two signals.
    hash = FactHash(bytes, "signal " + name, {std::to_string(sequence)});
    if (ctx_.store == nullptr) bytes.clear();
    auto [it, added] = signal_facts_.try_emplace(hash, Fact{std::move(value), std::move(bytes), "", {}, ""});
    if (ctx_.store != nullptr && added) pending_facts_.push_back(&*it);
    if (!key.empty()) keys_.insert(key);
    buffered_[name].push_back(Buffered{sequence, hash, key});
  }
  if (ctx_.store != nullptr) {
    Record(EncodeSignalEvent(WallMicros(*ctx_.clock), sequence, name, hash, dropped.empty() ? key : "", dropped));
  }
  if (dropped.empty()) MatchSignals(name);
}

Status Worker::ReadInboxLocked() {
  if (ctx_.store == nullptr) return Status::OK();
  // Bounded: at most max_inbox_entries are pending, 1,000 a page.
  for (int page = 0; page < 1000; ++page) {
    InboxReadOptions options;
    options.after = inbox_read_;
    Result<InboxPage> read = ctx_.store->ReadInbox(id_, options);
    if (!read.ok()) return read.status();
    for (InboxEntry& e : read->entries) {
      Result<InboxMessage> message = DecodeInboxEntry(e.bytes);
      if (message.ok() && message->kind == InboxMessage::Kind::kControl) {
        ApplyControl(e.sequence, *ControlByName(message->name), std::move(message->reason));
        continue;
      }
      if (!message.ok()) {
        // Consumed all the same (recorded as dropped, with why): one bad
        // entry must not block the ones after it.
        RecordSignal(e.sequence, "", Value(), "", message.status().message());
        continue;
      }
      RecordSignal(e.sequence, std::move(message->name), std::move(message->value), std::move(message->key), "");
    }
    if (!read->more || read->entries.empty()) break;
  }
  return Status::OK();
}

bool Worker::TakeInbox() {
  std::unique_lock lock(mu_);
  if (dispatch_.is(Dispatch::kUnloaded)) return false;
  if (ctx_.store == nullptr || !dispatch_.is(Dispatch::kOn) || ownership_.is(Ownership::kFenced)) return true;
  const bool held = ownership_.is(Ownership::kHeld);
  // Another runner holding the workflow records the entries itself.
  if (!ClaimLocked().ok()) return !dispatch_.is(Dispatch::kUnloaded);
  const std::uint64_t before = inbox_read_;
  const Status read = ReadInboxLocked();
  if (inbox_read_ != before) {
    // The records and the consumption in one write: through the Committer
    // (grouped with other workflows' writes) for a workflow held already;
    // for one claimed just now, here, so that it can be given up again.
    (void)AfterChange(lock, /*must_commit=*/!held);  // unlocks; a failed write halts the workflow
    lock.lock();
  }
  (void)read;  // a failed read leaves the entries pending: the next signal or resume takes them
  // A workflow that was given up when it finished is given up again once
  // its signals are written (they may be for a later await).
  if (!held && dispatch_.is(Dispatch::kOn) && IdleLocked() && pending_.empty() && reporting_ == 0) ReleaseLocked();
  return true;
}

Status Worker::DeliverSignal(std::string_view name, Value value, std::string_view key) {
  std::unique_lock lock(mu_);
  if (!dispatch_.is(Dispatch::kOn)) return Status::Unavailable("workflow '" + id_ + "' is stopping");
  if (phase_.is(Phase::kCancelled)) {
    return Status::FailedPrecondition("workflow '" + id_ + "' is cancelled: it takes no signal");
  }
  if (!key.empty() && keys_.count(key) != 0) return Status::OK();  // applied before
  RecordSignal(inbox_read_ + 1, std::string(name), std::move(value), std::string(key), "");
  return AfterChange(lock, /*must_commit=*/false);
}

}  // namespace runic::internal
