// Runner::Signal, the controls and the inbox watch: signals and controls
// reach a workflow through its inbox in the store, and the runner that has
// it loaded (or loads it) records them (worker_signals.cc,
// worker_controls.cc).
#include "runic/history.h"
#include "runic/inbox.h"
#include "runner/runner_impl.h"

namespace runic {

void Runner::Impl::OnInbox(std::string_view id) {
  std::shared_ptr<Worker> worker;
  {
    std::lock_guard lock(mu);
    if (shut_down) return;
    auto it = workers.find(id);
    if (it != workers.end()) worker = it->second;
  }
  // On the pool: this runs on the appending thread. Not loaded here (or
  // unloaded meanwhile): loaded (its Resume records the entry) if its
  // definition is registered and no other runner holds it; one loaded for
  // it with nothing to run afterwards is unloaded again at once, as
  // ResumeAll does. A load or an unload under way is waited for.
  pool->Submit([this, id = std::string(id), worker = std::move(worker)] {
    if (worker && worker->TakeInbox()) return;
    if (worker) Forget(worker);
    for (int attempt = 0; attempt < 3; ++attempt) {
      bool loaded_here = false;
      Result<PinnedWorker> loaded = FindOrLoad(id, &loaded_here);
      if (!loaded.ok()) return;  // held elsewhere, unregistered, not in the store: theirs to record
      if (loaded_here) {
        // Its resume read the inbox after the entry came.
        std::shared_ptr<Worker> w = loaded->get();
        loaded->reset();
        if (!w->had_work_on_resume()) Unload(w, /*at_once=*/true);
        return;
      }
      if ((*loaded)->TakeInbox()) return;  // pinned: not unloaded meanwhile
      Forget(loaded->get());               // out of date: a new load records it
    }
  });
}

namespace {

// Why a signal is refused before anything is stored ("" when it is not).
std::string SignalRefusal(std::string_view id, std::string_view name, std::string_view bytes, std::string_view key) {
  const std::string what = "signal '" + std::string(name) + "' to workflow '" + std::string(id) + "'";
  if (id.empty()) return "a signal to an empty workflow id";
  if (name.empty() || name.size() > kMaxSignalNameBytes) {
    return "a signal's name is 1 to " + std::to_string(kMaxSignalNameBytes) + " bytes; this one has " +
           std::to_string(name.size());
  }
  if (Status bad_key = internal::CheckKey(key); !bad_key.ok()) return what + ": " + bad_key.message();
  if (!internal::CborNestingWithin(bytes, kMaxValueDepth)) {
    return what + ": its value nests deeper than " + std::to_string(kMaxValueDepth) + " levels";
  }
  return {};
}

// Appends a signal that SignalRefusal let through (`bytes`: its value's
// encoding) to the workflow's inbox.
Result<std::uint64_t> AppendSignal(Store& store, std::string_view id, std::string_view name, const std::string& bytes,
                                   std::string_view key) {
  const std::string what = "signal '" + std::string(name) + "' to workflow '" + std::string(id) + "'";
  const std::string entry = internal::EncodeSignalEntry(name, bytes, key);
  if (entry.size() > store.limits().max_value_bytes) {
    return Status::InvalidArgument(what + " of " + std::to_string(entry.size()) +
                                   " bytes is over the store's limit of " +
                                   std::to_string(store.limits().max_value_bytes));
  }
  Result<std::uint64_t> sequence = store.AppendInbox(id, entry);
  if (!sequence.ok()) return sequence.status().Annotate(what);
  return sequence;
}

// The state of a workflow not loaded here, as the store's state index (or,
// for a workflow last written before the index, its history) says.
Result<WorkflowState> StoredState(Store& store, std::string_view id) {
  Result<WorkflowHead> head = store.Peek(id);
  if (head.status().IsNotFound()) return Status::NotFound("no workflow '" + std::string(id) + "' in the store");
  if (!head.ok()) return head.status();
  if (std::optional<StateIndexEntry> entry = ParseStateIndexTag(head->state_tag)) return entry->state;
  HistoryReadOptions read;
  read.values = false;
  read.structure = false;
  Result<WorkflowHistory> history = ReadHistory(store, id, read);
  if (!history.ok()) return history.status();
  return history->state;
}

// The public controls are the internal ones, in the same order.
internal::Control ToControl(WorkflowControl control) { return static_cast<internal::Control>(control); }

Result<std::uint64_t> AppendControl(Store& store, std::string_view id, internal::Control control,
                                    std::string_view reason) {
  Result<std::uint64_t> sequence =
      store.AppendInbox(id, internal::EncodeControlEntry(internal::ControlName(control), reason));
  if (!sequence.ok()) {
    return sequence.status().Annotate(std::string(internal::ControlName(control)) + " of workflow '" + std::string(id) +
                                      "'");
  }
  return sequence;
}

// Why a control is refused before its state is looked at ("" when it is not).
std::string ControlInputRefusal(std::string_view id, internal::Control control, std::string_view reason) {
  if (id.empty()) return std::string("a ") + internal::ControlName(control) + " of an empty workflow id";
  if (reason.size() > kMaxControlReasonBytes) {
    return std::string(internal::ControlName(control)) + " of workflow '" + std::string(id) +
           "': a reason is at most " + std::to_string(kMaxControlReasonBytes) + " bytes";
  }
  return {};
}

}  // namespace

const char* WorkflowControlName(WorkflowControl control) { return internal::ControlName(ToControl(control)); }

Result<std::uint64_t> SendSignal(Store& store, std::string_view id, std::string_view name, const Value& value,
                                 std::string_view key) {
  const std::string bytes = internal::EncodeValue(value);
  if (std::string refused = SignalRefusal(id, name, bytes, key); !refused.empty()) {
    return Status::InvalidArgument(refused);
  }
  return AppendSignal(store, id, name, bytes, key);
}

Result<std::uint64_t> SendControl(Store& store, std::string_view id, WorkflowControl control, std::string_view reason) {
  const internal::Control c = ToControl(control);
  if (std::string refused = ControlInputRefusal(id, c, reason); !refused.empty()) {
    return Status::InvalidArgument(refused);
  }
  const std::string what = std::string(internal::ControlName(c)) + " of workflow '" + std::string(id) + "'";
  Result<WorkflowState> state = StoredState(store, id);
  if (!state.ok()) return state.status().Annotate(what);
  // A halted workflow whose compensations ran is not retried: only its
  // history says so.
  bool compensated = false;
  if (c == internal::Control::kRetry && *state == WorkflowState::kHalted) {
    Result<internal::LoadedHistory> history = internal::LoadHistory(store, id);
    if (!history.ok()) return history.status().Annotate(what);
    compensated = history->state.compensated;
  }
  // Checked again by the owner when it records it (the state may change
  // meanwhile: it then records why it refused it).
  if (std::string refused = internal::ControlRefusal(c, *state, true, compensated); !refused.empty()) {
    return Status::FailedPrecondition(what + ": " + refused);
  }
  return AppendControl(store, id, c, reason);
}

Status Runner::Signal(std::string_view id, std::string_view name, Value value, std::string_view key) {
  Store* store = impl_->options.store;
  // Checked first: a bad signal is refused even with a key seen before.
  const std::string bytes = internal::EncodeValue(value);
  if (std::string refused = SignalRefusal(id, name, bytes, key); !refused.empty()) {
    return Status::InvalidArgument(refused);
  }
  std::shared_ptr<Worker> loaded = impl_->Find(id);
  if (store != nullptr) {
    if (loaded && !key.empty() && loaded->HasKey(key)) return Status::OK();  // applied before
    return AppendSignal(*store, id, name, bytes, key).status();
  }
  if (!loaded) return impl_->NotRunning(id);
  return loaded->DeliverSignal(name, std::move(value), key);
}

Status Runner::Impl::SendControl(std::string_view id, internal::Control control, std::string_view reason) {
  if (std::string refused = ControlInputRefusal(id, control, reason); !refused.empty()) {
    return Status::InvalidArgument(refused);
  }
  std::shared_ptr<Worker> loaded = Find(id);
  Store* store = options.store;
  std::string refused;
  if (loaded) {
    refused = loaded->RefusalOf(control);
    if (loaded->unloaded()) loaded = nullptr;  // meanwhile: the store has its state
  }
  if (!loaded && store == nullptr) return NotRunning(id);
  // Not loaded here: the store's state index says whether it is refused.
  if (!loaded) return runic::SendControl(*store, id, static_cast<WorkflowControl>(control), reason).status();
  if (!refused.empty()) {
    return Status::FailedPrecondition(std::string(internal::ControlName(control)) + " of workflow '" + std::string(id) +
                                      "': " + refused);
  }
  if (store == nullptr) return loaded->DeliverControl(control, std::string(reason));
  return AppendControl(*store, id, control, reason).status();
}

Status Runner::Cancel(std::string_view id, std::string_view reason) {
  return impl_->SendControl(id, internal::Control::kCancel, reason);
}
Status Runner::Terminate(std::string_view id, std::string_view reason) {
  return impl_->SendControl(id, internal::Control::kTerminate, reason);
}
Status Runner::Pause(std::string_view id) { return impl_->SendControl(id, internal::Control::kPause, {}); }
Status Runner::Unpause(std::string_view id) { return impl_->SendControl(id, internal::Control::kUnpause, {}); }
Status Runner::Retry(std::string_view id) { return impl_->SendControl(id, internal::Control::kRetry, {}); }

}  // namespace runic
