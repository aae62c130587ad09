// The Runner's stored history as readable JSON (`runic show`), decoded by
// runic/history.h; bytes in any other format come out as base64 (with the
// decoder's error), never raw.
#ifndef RUNIC_TOOLS_RUNIC_EVENT_JSON_H_
#define RUNIC_TOOLS_RUNIC_EVENT_JSON_H_

#include <cstdint>
#include <string_view>

#include "format.h"
#include "runic/history.h"
#include "runic/store.h"

namespace runic::cli {

// One event: {"seq", "type", "time", and per type "workflow", "version",
// "fingerprint", "options" (what it was started with), "idempotency_key",
// "step", "runnable", "attempt", "fact", "value" (the fact's value from the
// fact table),
// "parents", "duration_us", "error", "code" (the Status code's name, e.g.
// "Unavailable"), "outcome", "halt" (the halt message, naming every
// attempt's error), ...}; for bytes that are not a Runner event,
// {"seq", "base64"}.
Json EventJson(std::uint64_t sequence, std::string_view bytes, Store& store);

// What ReadHistory makes of a workflow: {"state", "definition"
// ("name@version"), "fingerprint", "completed", "waiting_for" (each with its
// "due" time and "awaits" event when it waits), "idempotency_keys",
// "halt_reason" (halted only), "cancel_reason" (cancelling or cancelled),
// "due" (the earliest), "buffered_signals" (when there are)}.
Json HistoryJson(const WorkflowHistory& history);

// A snapshot's bytes: the Runner's snapshot decoded (its "code" by name),
// or {"base64"}.
Json SnapshotJson(std::string_view bytes);

}  // namespace runic::cli

#endif  // RUNIC_TOOLS_RUNIC_EVENT_JSON_H_
