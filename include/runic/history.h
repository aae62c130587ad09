// History: a read-only view of what a Runner stored for a workflow (its
// definition, typed events, current state, inputs and results), for tools,
// tests and services that inspect workflows without running them.
//
// A Runner records a workflow as events in its store's event stream (a
// started event, each input, each dispatch, completion and failure of a
// runnable) and, from time to time, a snapshot that stands for the events up
// to its cursor. Values live in the store's fact table, content-addressed.
// The structure of each definition (nodes, kinds, edges, policies) is stored
// once, as the fact whose hash is the definition's fingerprint (SHA-256 of
// the structure's canonical encoding), by the first start or resume of the
// definition in each Runner: a workflow can be drawn without its C++ code.
//
// Histories written by earlier releases of this format are read (and
// resumed) as they were written; fields an older history lacks are empty.
//
// Thread safety: the functions are as safe as the Store they read (any
// number of threads at once). Reading a workflow a Runner is writing sees a
// consistent prefix of its history: what the store had acknowledged when
// each read ran.
#ifndef RUNIC_HISTORY_H_
#define RUNIC_HISTORY_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runic/export.h"
#include "runic/result.h"
#include "runic/runner.h"
#include "runic/status.h"
#include "runic/store.h"
#include "runic/workflow.h"

namespace runic {

enum class HistoryEventKind {
  kStart,     // the workflow started: its definition and options
  kInput,     // an input was recorded (Runner::Run, or the start's input)
  kDispatch,  // an attempt of a runnable was dispatched to the pool
  kDone,      // a runnable completed (produced a value, or nothing)
  kFail,      // an attempt failed, and what followed
  kWait,      // a wait started: a delay's (its due time) or an await's
  kSignal,    // an inbox entry was recorded: a signal kept for an await, or dropped
  kControl,   // a control was applied (or refused): pause, unpause, cancel, ...
};
// "start", "input", "dispatch", "done", "fail", "wait", "signal", "control".
RUNIC_EXPORT const char* HistoryEventKindName(HistoryEventKind kind);

// What followed a failed attempt.
enum class FailureOutcome {
  kRetry,       // another attempt follows
  kFallback,    // the node produced its policy's fallback value
  kSkip,        // the node produced nothing (OnFailure::kSkip)
  kHalt,        // the workflow halted
  kCompensate,  // the compensations run (state cancelling), then the workflow halts
};
// "retry", "fallback", "skip", "halt", "compensate".
RUNIC_EXPORT const char* FailureOutcomeName(FailureOutcome outcome);

// One stored event. Fields not of its kind are empty.
struct HistoryEvent {
  std::uint64_t sequence = 0;  // in the workflow's event stream, from 1
  HistoryEventKind kind = HistoryEventKind::kStart;
  // When it was recorded: the Runner's wall clock, UTC microseconds since
  // the Unix epoch.
  std::int64_t at_us = 0;

  // kStart: the definition, and the options the workflow runs with (none in
  // histories written before options were recorded).
  std::string definition;
  int version = 0;
  std::string fingerprint;
  std::optional<WorkflowOptions> options;
  // kStart, kInput: the idempotency key given ("" for none).
  std::string idempotency_key;
  // kInput: its fact and ordinal (0, 1, ...). kDone: the fact the runnable
  // produced; "" when it produced nothing (a rule whose condition did not
  // hold).
  std::string fact;
  std::uint64_t ordinal = 0;
  // kDispatch, kDone, kFail: the runnable (a node on its input facts) and
  // its node.
  std::string runnable;
  std::string node;
  // kDispatch: the attempt dispatched; kFail: the attempt that failed (1
  // for the first).
  int attempt = 0;
  // kDone, kFail: how long the attempt ran, in microseconds.
  std::int64_t duration_us = 0;
  // kDone with a fact: the input facts it was produced from, the input it
  // descends from (in a map's branch: the element it descends from), and
  // whether it is the policy's fallback value.
  std::vector<std::string> parents;
  std::string root;
  bool fallback = false;
  // kDispatch, kDone, kFail: the runnable is `node`'s compensation.
  bool compensation = false;
  // kDone of a map: its array's length (the expansion: element i's fact
  // is derived from the array's fact and i, and is not stored).
  std::optional<std::uint64_t> elements;
  // kFail: the attempt's error, what followed, and for kHalt the halt
  // message (naming every attempt's error).
  Status error;
  FailureOutcome outcome = FailureOutcome::kRetry;
  std::string halt_message;
  // kWait: when the wait ends (an await's timeout; 0: none); kFail with
  // kRetry: when the retry may start after its backoff (0: at once). UTC
  // microseconds since the Unix epoch.
  std::int64_t due_us = 0;
  // kWait of an await: the event it waits for; kSignal: the signal's name.
  std::string event;
  // kSignal: its inbox entry (and in `fact` its value's fact, "" when
  // dropped); kDone of an await: the signal it took.
  std::uint64_t inbox_sequence = 0;
  // kSignal: why the entry was consumed without being kept (a repeated
  // idempotency key, an entry that does not decode); "" when kept.
  // kControl: why it was refused (the workflow's state); "" when applied.
  std::string dropped;
  // kControl: "pause", "unpause", "cancel", "terminate", "retry", or
  // "cancelled" (recorded when a cancel or terminate has finished) or
  // "compensated" (when the compensations of a halt have run), and the
  // reason given with it.
  std::string control;
  std::string reason;
};

// Decodes one stored event. kCorruption (naming the sequence) when `bytes`
// are not a Runner event of a known kind with the fields of its kind.
RUNIC_EXPORT Result<HistoryEvent> DecodeHistoryEvent(std::uint64_t sequence, std::string_view bytes);

// A node of a stored definition: Workflow::Node without its functions.
struct NodeStructure {
  std::string name;
  Workflow::NodeKind kind = Workflow::NodeKind::kStep;
  std::vector<std::string> parents;  // empty: fed by the workflow's inputs
  StepPolicy policy;                 // as resolved when the workflow was built
  // kDelay: a fixed delay, or (delay_until) an instant computed from the
  // input. kAwait: the event it waits for, and its timeout in `delay` (0:
  // none).
  std::chrono::milliseconds delay{0};
  bool delay_until = false;
  std::string event;
  // kReduce: the map whose elements it folds (its one parent is the node
  // whose values it folds) and its initial value.
  std::string map;
  Value initial;
  // Builder::Compensate: its compensation's policy (none: no compensation).
  std::optional<StepPolicy> compensation;
};

struct StoredDefinition {
  std::string name;
  int version = 0;
  std::string fingerprint;
  // In the order the builder declared them (parents before children). None
  // when the store has no structure for the fingerprint: histories written
  // before structures were stored, until a Runner of this release starts
  // or resumes a workflow of the definition.
  std::optional<std::vector<NodeStructure>> nodes;
};

// Loads the structure stored for `fingerprint`. kNotFound when none is
// stored; kCorruption when the stored bytes do not hash to the fingerprint
// or do not decode.
RUNIC_EXPORT Result<std::vector<NodeStructure>> LoadDefinitionStructure(Store& store, std::string_view fingerprint);

// A runnable that has not finished: dispatched (running when the history
// was written, or cut off by a crash or a stop), failed with a retry to
// come, or (in a halted workflow) the one that halted it.
struct PendingRunnable {
  std::string runnable;
  std::string node;         // "" when only a snapshot of an older release names it
  int failed_attempts = 0;  // attempts that failed so far
  // A delay's wait, an await's timeout, or a retry's backoff: when it ends
  // (UTC microseconds); 0 when it is not waiting for a time.
  std::int64_t due_us = 0;
  // An await's: the event it waits for ("" for other runnables).
  std::string event;
};

// A signal recorded and not yet taken by an await (buffered).
struct BufferedSignal {
  std::uint64_t inbox_sequence = 0;
  std::string name;
  std::string idempotency_key;
  Value value;  // with HistoryReadOptions::values
};

struct WorkflowHistory {
  std::string id;
  StoredDefinition definition;
  // What it runs with, as recorded at its start (none in older histories:
  // it then runs with its definition's registered defaults).
  std::optional<WorkflowOptions> options;
  // As the history says: kHalted when a node halted it; kWaiting while
  // every pending runnable (`waiting_for`) waits for a due time (a delay, a
  // retry's backoff) or a signal (an await); kRunning while another is
  // pending; else kIdle. (A stopped workflow
  // whose dispatched runnables all finished, with more made ready that
  // were never dispatched, reads as idle: runnables are recorded when they
  // are dispatched.)
  WorkflowState state = WorkflowState::kIdle;
  Status halt_error;  // why it halted (kCancelled: why it was cancelled or terminated)
  std::vector<PendingRunnable> waiting_for;
  // The earliest due time of the pending runnables (0: none).
  std::int64_t due_us = 0;
  // Signals no await has taken yet, in inbox order.
  std::vector<BufferedSignal> signals;
  // With HistoryReadOptions::values: the inputs in the order recorded, and
  // the produced values by node in production order (as Runner::GetResults
  // gives them).
  std::vector<Value> inputs;
  WorkflowResults results;
  // The idempotency keys of its start and inputs, in byte order.
  std::vector<std::string> idempotency_keys;
  std::uint64_t facts = 0;            // inputs and produced values recorded
  std::uint64_t completed = 0;        // runnables completed (including skipped)
  std::uint64_t cursor = 0;           // the last event's sequence
  std::uint64_t snapshot_cursor = 0;  // 0: read from its first event
  // With HistoryReadOptions::events: the events after the snapshot.
  std::vector<HistoryEvent> events;
};

struct HistoryReadOptions {
  // Load the inputs' and results' values from the fact table (one read per
  // fact). Default true.
  bool values = true;
  // Return the decoded events after the snapshot. Default false.
  bool events = false;
  // Load the definition's structure. Default true.
  bool structure = true;
};

// Reads the workflow `id` from `store`: its snapshot, then the events after
// it. Errors: kNotFound when the store has no such workflow; kCorruption
// (naming the workflow and what is wrong) when a snapshot, event or fact
// does not decode, a fact is missing, or events its snapshot does not cover
// were trimmed; the store's own errors otherwise.
RUNIC_EXPORT Result<WorkflowHistory> ReadHistory(Store& store, std::string_view id,
                                                 const HistoryReadOptions& options = {});

// A stored value (a fact's bytes, CBOR) decoded. kCorruption when the bytes
// are not one CBOR item or nest deeper than kMaxValueDepth.
RUNIC_EXPORT Result<Value> DecodeStoredValue(std::string_view bytes);

// Options as a history records them: {"checkpoint": "every_cycle",
// "checkpoint_every": 10, "max_concurrency": 8, "snapshot_every": 0,
// "trim_after_snapshot": false} (for tools that print them).
RUNIC_EXPORT Value WorkflowOptionsValue(const WorkflowOptions& options);

enum class GraphFormat {
  kDot,      // Graphviz: `dot -Tsvg`
  kMermaid,  // a Mermaid flowchart (renders in Markdown on GitHub and GitLab)
};
// The definition's graph: one node per NodeStructure labelled with its name,
// kind and policy (retries, timeout, on failure), edges from parents to
// children, and the inputs as a source. kFailedPrecondition when the
// definition has no stored structure.
RUNIC_EXPORT Result<std::string> RenderGraph(const StoredDefinition& definition, GraphFormat format);

// --- The store's state index ------------------------------------------------
// The Runner keeps each workflow's entry in the store's state index
// (Store::ListByState) as its history reads, written in the same atomic
// write as the events that change it. Its tag is
// "state/definition@version", so one state is the tag prefix "state/" and
// one definition in one state the exact tag. Workflows last written by a
// release before the index join it at their next write.

// The tag of a workflow in `state` of the definition (name, version).
RUNIC_EXPORT std::string StateIndexTag(WorkflowState state, std::string_view definition, int version);
// The tag prefix of every workflow in `state`: "state/".
RUNIC_EXPORT std::string StateIndexPrefix(WorkflowState state);

struct StateIndexEntry {
  WorkflowState state = WorkflowState::kIdle;
  std::string definition;
  int version = 0;
};
// A tag read back; nullopt when it is not one StateIndexTag makes.
RUNIC_EXPORT std::optional<StateIndexEntry> ParseStateIndexTag(std::string_view tag);

}  // namespace runic

#endif  // RUNIC_HISTORY_H_
