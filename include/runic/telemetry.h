// Telemetry hooks for store operations.
#ifndef RUNIC_TELEMETRY_H_
#define RUNIC_TELEMETRY_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string_view>

#include "runic/export.h"
#include "runic/status.h"

namespace runic {

enum class StoreOp : std::uint8_t {
  kSave,
  kLoad,
  kCheckpoint,
  kAppend,
  kStream,
  kSaveSnapshot,
  kLoadSnapshot,
  kSaveFact,
  kLoadFact,
  kDeleteFact,
  kDelete,
  kList,
  kExists,
  kTrim,
  kStats,
  kAppendMany,
  kDescribe,
  kListFacts,
  kImportEvents,
  kImportWorkflow,
  kClaim,
  kRelease,
  kAppendInbox,
  kReadInbox,
  kListInboxes,
  kListByState,
  kListDue,
  kImportInbox,
};

// The stable name of an operation, e.g. "append".
RUNIC_EXPORT const char* StoreOpName(StoreOp op);

// What a callback is told. The string_views and the status pointer are valid
// only during the callback.
struct StoreOpEvent {
  StoreOp op;
  std::string_view runner;
  std::string_view id;                // workflow id, fact hash or list prefix
  std::chrono::nanoseconds duration;  // zero in on_start
  std::uint64_t bytes = 0;            // value bytes written or read
  const Status* status = nullptr;     // set in on_stop (ok) and on_exception
};

// Callbacks run synchronously on the thread that called the store operation:
// on_start before the engine is touched, then exactly one of on_stop (the
// operation succeeded; NotFound from a lookup counts as success) or
// on_exception (any other error). Keep them short: they add to every call's
// latency. An exception thrown by a callback is caught and discarded; it
// never propagates into the store or changes an operation's result.
// Empty functions are skipped at no cost.
struct StoreTelemetry {
  std::function<void(const StoreOpEvent&)> on_start;
  std::function<void(const StoreOpEvent&)> on_stop;
  std::function<void(const StoreOpEvent&)> on_exception;
};

}  // namespace runic

#endif  // RUNIC_TELEMETRY_H_
