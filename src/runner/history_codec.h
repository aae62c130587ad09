// The Runner's stored format, in one place: its events, its snapshots and
// its definition structures. The Worker writes them through the encoders
// below; everything that reads them (the Worker's resume, the public
// runic/history.h reader, the CLI, the tests) decodes them here.
//
// Events are CBOR maps with short keys; every one has t (its kind) and at
// (when it was recorded: UTC microseconds since the Unix epoch):
//   start    {t, at, w: name, v: version, fp: fingerprint, k: idempotency key
//             (when given), opt: options (options_codec.h; histories written
//             before options were recorded have none)}
//   input    {t, at, f: fact, o: ordinal, k: idempotency key (when given)}
//   dispatch {t, at, r: runnable, n: node, a: attempt, u: true for a node's compensation
//             (also on its done and fail events)}
//   wait     {t, at, r, n, due: UTC microseconds when it ends (an await without
//             a timeout: none), ev: the event an await waits for}: a wait started
//   signal   {t, at, q: inbox sequence, n: name, f: the value's fact, k: key (when
//             given), x: why it was dropped (instead of f: a repeated key, an entry
//             that does not decode)}: an inbox entry recorded (consumed)
//   control  {t, at, q: inbox sequence (0: applied without a store's inbox), c: pause |
//             unpause | cancel | terminate | retry | cancelled | compensated (the
//             compensations of a halt ran: it is halted), why: reason (when
//             given), x: why it was refused (instead of applied)}
//   done     {t, at, r, n, us: duration, f: fact or null, p: parent facts, root, fb: fallback,
//             q: the inbox sequence of the signal an await took, m: a map's array length
//             (its expansion: element i is derived from f and i, and not stored)}
//   fail     {t, at, r, n, a, us, e: error, c: status code, o: retry | skip | halt | fallback |
//             compensate (the compensations run, then it halts), h: the halt message (with
//             o = halt or compensate; older histories have none),
//             due: when the retry may start (with o = retry after a backoff)}
// A snapshot is a CBOR map (see EncodeSnapshot); a definition structure is
// the array the fingerprint hashes (see DefinitionShape).
//
// Compatibility: a field is only ever added, and a reader treats a missing
// added field as its old meaning; tests/data/history_v*.txt are histories
// of earlier releases that history_test resumes.
#ifndef RUNIC_SRC_RUNNER_HISTORY_CODEC_H_
#define RUNIC_SRC_RUNNER_HISTORY_CODEC_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runic/history.h"
#include "runic/inbox.h"
#include "runic/runner.h"
#include "runic/status.h"
#include "runic/store.h"
#include "runic/workflow.h"

namespace runic::internal {

// --- Events (written on every step: straight to CBOR) ---------------------

std::string EncodeStartEvent(std::int64_t at_us, const Workflow& workflow, const WorkflowOptions& options,
                             std::string_view key);
std::string EncodeInputEvent(std::int64_t at_us, std::string_view fact, std::uint64_t ordinal, std::string_view key);
// `compensation`: the runnable is a node's compensation (Builder::Compensate),
// here and in the done and fail events.
std::string EncodeDispatchEvent(std::int64_t at_us, std::string_view runnable, std::string_view node, int attempt,
                                bool compensation = false);
// `due_us` 0: no due time (an await without a timeout); `event`: an await's.
std::string EncodeWaitEvent(std::int64_t at_us, std::string_view runnable, std::string_view node, std::int64_t due_us,
                            std::string_view event = {});
// `fact` empty: dropped (`dropped` says why).
std::string EncodeSignalEvent(std::int64_t at_us, std::uint64_t inbox_sequence, std::string_view name,
                              std::string_view fact, std::string_view key, std::string_view dropped);
// `fact` empty: the runnable produced nothing (parents, root and fallback
// are then not written). `elements`: a map's expansion, its array's length.
std::string EncodeDoneEvent(std::int64_t at_us, std::string_view runnable, std::string_view node,
                            std::int64_t duration_us, std::string_view fact, const std::vector<std::string>& parents,
                            std::string_view root, bool fallback, std::uint64_t inbox_sequence = 0,
                            std::optional<std::uint64_t> elements = std::nullopt, bool compensation = false);

std::string EncodeControlEvent(std::int64_t at_us, std::uint64_t inbox_sequence, std::string_view control,
                               std::string_view reason, std::string_view refused);

// --- Inbox entries (any process appends them; the owner decodes them) ------
//   signal  {t: "signal", n: name, v: the value (one CBOR item), k: key (when given)}
//   control {t: "control", c: pause | unpause | cancel | terminate | retry, why: reason (when given)}
struct InboxMessage {
  enum class Kind { kSignal, kControl } kind = Kind::kSignal;
  std::string name;    // a signal's name, or a control's ("pause", ...)
  Value value;         // a signal's
  std::string key;     // a signal's
  std::string reason;  // a control's
};
std::string EncodeControlEntry(std::string_view control, std::string_view reason);
// `value` is one encoded CBOR item (EncodeValue).
std::string EncodeSignalEntry(std::string_view name, std::string_view value, std::string_view key);
// kCorruption when `bytes` are not an entry of a known kind with its fields
// (an empty or oversized name, a value nested too deeply).
Result<InboxMessage> DecodeInboxEntry(std::string_view bytes);
// The error's message is cut at kMaxRecordedError bytes. `retry_due_us`:
// when a retry after a backoff may start (0: at once, or no retry).
std::string EncodeFailEvent(std::int64_t at_us, std::string_view runnable, std::string_view node, int attempt,
                            std::int64_t duration_us, const Status& error, FailureOutcome outcome,
                            std::string_view halt_message, std::int64_t retry_due_us = 0, bool compensation = false);

// An error message is recorded up to this size, so that one huge message
// (say, an HTTP body in an exception) cannot make an event too large to
// store. A control's reason is recorded whole: the same bound.
inline constexpr std::size_t kMaxRecordedError = kMaxControlReasonBytes;

// One failed attempt as a halt message lists it ("attempt 2:
// DeadlineExceeded: ..."), its message cut so that the halt message of many
// attempts stays within kMaxRecordedError.
std::string AttemptError(int attempt, Status::Code code, std::string_view message);

// Why a cancelled workflow ended: kCancelled, "workflow 'id' was cancelled
// (or terminated): reason".
Status CancelStatus(std::string_view id, bool terminated, std::string_view reason);

// A Status of a recorded code (a code no Status has: kUnavailable).
Status StatusWithCode(Status::Code code, std::string_view message);

// --- Snapshots ------------------------------------------------------------

// A fact as the history names it (its value is in the fact table).
struct FactRecord {
  std::string hash;
  std::string node;  // "" for an input
  std::vector<std::string> parents;
  std::string root;  // the input it descends from
};

// What a workflow's history adds up to: the content of a snapshot, and what
// HistoryState folds events into.
struct HistoryState {
  bool started = false;
  std::string definition;
  int version = 0;
  std::string fingerprint;
  std::optional<WorkflowOptions> options;  // none: recorded nowhere (older)
  std::uint64_t inputs = 0;
  std::vector<FactRecord> facts;  // in the order recorded, each once
  std::set<std::string> fact_hashes;
  std::set<std::string> done;  // completed runnables (including skipped)
  std::uint64_t completed = 0;
  // Runnables not done: failed attempts so far and their errors
  // (AttemptError lines), whether an attempt was dispatched, and the node
  // (when known). A halted workflow's halting runnable stays here.
  std::map<std::string, int> failures;
  std::map<std::string, std::vector<std::string>> errors;
  std::set<std::string> dispatched;
  std::map<std::string, std::string> nodes;
  // Runnables that wait for a due time (UTC microseconds): a delay's wait,
  // an await's timeout, or a retry's backoff, until the next dispatch.
  std::map<std::string, std::int64_t> due;
  // Awaits waiting for a signal (runnable, event), in the order they started.
  std::vector<std::pair<std::string, std::string>> awaits;
  // Signals recorded and not yet taken by an await, in inbox order.
  struct Signal {
    std::uint64_t sequence = 0;
    std::string name, fact, key;
  };
  std::vector<Signal> signals;
  std::uint64_t inbox_through = 0;  // the last inbox entry recorded
  // Controls: paused; cancelling (cancel or terminate recorded), cancelled
  // (finished), with the reason given.
  bool paused = false;
  bool cancelling = false;
  bool cancelled = false;
  std::string cancel_reason;
  bool terminated = false;  // terminate, not cancel
  // Compensations run (or are due) before the cancel (not a terminate) or
  // a halt with OnFailure::kCompensate ends; `halt_after`: the error that
  // halt ends with (OK: a cancel); `compensated`: a halt's compensations
  // ran (Retry is refused).
  bool compensating = false;
  Status halt_after;
  bool compensated = false;
  std::set<std::string, std::less<>> keys;  // idempotency keys
  bool halted = false;
  Status halt_error;
  std::uint64_t cursor = 0;  // the last event folded (or the snapshot's)
};

std::string EncodeSnapshot(const HistoryState& state);
// kCorruption naming what is wrong. Snapshots of older releases lack some
// fields (errors, keys, options, nodes): they are then empty.
Result<HistoryState> DecodeSnapshot(std::string_view bytes);

// Folds one event into `state`. kCorruption when it does not fit (an event
// before the started event, a second started event). Duplicate facts are
// kept once.
Status ApplyEvent(const HistoryEvent& event, HistoryState& state);
// Adds a fact unless known; false when it was.
bool AddFactRecord(FactRecord fact, HistoryState& state);

// --- Reading a stored history (history.cc) ---------------------------------

// A workflow's history as its store holds it: the snapshot (when it has
// one) with every event after it folded in.
struct LoadedHistory {
  HistoryState state;
  std::uint64_t snapshot_cursor = 0;  // 0: no snapshot
};
// Reads the snapshot, then each event after it, decoded, folded in and
// passed to `on_event` (when given). kNotFound when the store has no such
// workflow; kCorruption naming the workflow when a record does not decode
// or fit, when events the snapshot does not cover were trimmed, or when it
// has no started event; the store's own errors otherwise.
Result<LoadedHistory> LoadHistory(Store& store, std::string_view id,
                                  const std::function<void(HistoryEvent&&)>& on_event = nullptr);
// The value of fact `hash` of workflow `id`. kCorruption naming both when
// it is missing from the fact table or does not decode.
Result<Value> LoadFactValue(Store& store, std::string_view id, const std::string& hash);

// --- Definition structures ------------------------------------------------

// The structure of `nodes` as stored and fingerprinted: an array of
// {name, kind, parents, policy}. The fingerprint is the SHA-256 (hex) of
// EncodeValue of it.
Value DefinitionShape(const std::vector<Workflow::Node>& nodes);
// "step", "join", "rule": a node's kind as the structure records it.
const char* NodeKindName(Workflow::NodeKind kind);
// kCorruption when `shape` is not such an array.
Result<std::vector<NodeStructure>> NodesFromShape(const Value& shape);

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_HISTORY_CODEC_H_
