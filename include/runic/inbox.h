// Inbox: sending signals and controls to a workflow through its store, from
// any process: a service's Runner (Runner::Signal, Runner::Cancel, ... call
// these), a tool (the runic CLI), or another service that holds only a
// Store handle of the runner. The workflow's owner records each entry in
// its history, once, in the order they were appended (SEMANTICS.md 4,
// "Inbox", "Signals", "Controls"); see Runner::Signal and the controls for
// what each one does.
//
// Thread safety: as the Store (any number of threads at once).
#ifndef RUNIC_INBOX_H_
#define RUNIC_INBOX_H_

#include <cstdint>
#include <string_view>

#include "runic/export.h"
#include "runic/result.h"
#include "runic/status.h"
#include "runic/store.h"
#include "runic/workflow.h"

namespace runic {

// The controls a workflow takes through its inbox.
enum class WorkflowControl { kPause, kUnpause, kCancel, kTerminate, kRetry };
// "pause", "unpause", "cancel", "terminate", "retry".
RUNIC_EXPORT const char* WorkflowControlName(WorkflowControl control);

// The longest reason a control carries (bytes).
inline constexpr std::size_t kMaxControlReasonBytes = 4096;

// Appends the signal `name` with `value` (and idempotency key `key`, "" for
// none) to workflow `id`'s inbox and returns its inbox sequence once it is
// durable. Errors, with nothing stored: kInvalidArgument (an empty id, an
// empty name or one over kMaxSignalNameBytes, a key over 256 bytes, a value
// nested deeper than kMaxValueDepth or whose entry is over the store's
// max_value_bytes); kNotFound (no such workflow); kFailedPrecondition (its
// inbox is closed: cancelled); kResourceExhausted (max_inbox_entries wait
// to be recorded); the store's errors.
RUNIC_EXPORT Result<std::uint64_t> SendSignal(Store& store, std::string_view id, std::string_view name,
                                              const Value& value, std::string_view key = {});

// Checks `control` against the workflow's state as the store's state index
// says (kFailedPrecondition, nothing written: e.g. unpause of a workflow
// that is not paused, retry of one that is not halted) and appends it to
// its inbox; returns its inbox sequence once durable. Other errors as
// SendSignal's; a reason over kMaxControlReasonBytes is kInvalidArgument.
RUNIC_EXPORT Result<std::uint64_t> SendControl(Store& store, std::string_view id, WorkflowControl control,
                                               std::string_view reason = {});

}  // namespace runic

#endif  // RUNIC_INBOX_H_
