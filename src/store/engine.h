// The internal contract between a Database and its engines. The public Store
// handle validates arguments and runs telemetry; an engine only stores.
#ifndef RUNIC_SRC_STORE_ENGINE_H_
#define RUNIC_SRC_STORE_ENGINE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runic/database.h"
#include "runic/event_iterator.h"
#include "runic/result.h"
#include "runic/status.h"
#include "runic/store.h"

namespace runic::internal {

// The limits of the embedded engines, chosen so that a replicated engine
// (etcd: 1.5 MiB per request) can honour them too.
StoreLimits EmbeddedLimits();
// The limits of the inbox and indexes and the costs of their writes, the
// same on every engine.
void SetWaitLimits(StoreLimits* limits);
// What the index and inbox options of an append cost against
// max_batch_events.
std::size_t ExtraEntries(const StoreLimits& limits, const AppendOptions& options);

// Microseconds since the Unix epoch, as stored for updated_at.
std::int64_t NowMicros();
// A time as stored for updated_at (microseconds, rounded down).
std::int64_t ToMicros(std::chrono::system_clock::time_point t);

// One runner's tables inside an engine. Arguments are already validated
// against the limits. Thread-safe.
class RunnerTables {
 public:
  virtual ~RunnerTables() = default;

  virtual Status SaveLog(std::string_view id, std::string_view log, std::int64_t updated_at_us) = 0;
  virtual Result<LogRecord> LoadLog(std::string_view id) = 0;
  using FactList = std::span<const std::pair<std::string_view, std::string_view>>;
  // One append. `options` (expected cursor, facts, index and inbox changes)
  // apply in the same atomic write as the events; ids are distinct within
  // an AppendMany. Validated: sizes, the tag's bytes.
  struct AppendInput {
    std::string_view id;
    std::span<const std::string_view> events;
    const AppendOptions* options = nullptr;
  };
  virtual Result<std::uint64_t> Append(const AppendInput& in) = 0;
  // One result per input, in order, each as Append's. This default appends
  // them one by one; engines that can write them together override it.
  virtual std::vector<Result<std::uint64_t>> AppendMany(std::span<const AppendInput> inputs);
  // The iterator must hold `database` (and release it last): it keeps the
  // database open while the iterator lives.
  virtual Result<std::unique_ptr<EventIterator>> Stream(std::string_view id, std::uint64_t after,
                                                        std::shared_ptr<const void> database) = 0;
  virtual Status SaveSnapshot(std::string_view id, std::uint64_t cursor, std::string_view bytes) = 0;
  virtual Result<Snapshot> LoadSnapshot(std::string_view id) = 0;
  virtual Status SaveFact(std::string_view hash, std::string_view value) = 0;
  virtual Result<std::string> LoadFact(std::string_view hash) = 0;
  virtual Status DeleteFact(std::string_view hash) = 0;
  // Checks `options`' conditions and deletes in one atomic step.
  virtual Status Delete(std::string_view id, const DeleteOptions& options) = 0;
  virtual Result<ListPage> List(const ListOptions& options) = 0;
  virtual Result<bool> Exists(std::string_view id) = 0;
  // kNotFound when !Exists(id). One consistent view of the workflow.
  // `count_events` false: event_bytes is left 0 and no event is read
  // (Store::Peek).
  virtual Result<WorkflowSummary> Describe(std::string_view id, bool count_events) = 0;
  virtual Status Trim(std::string_view id, std::uint64_t cursor) = 0;
  virtual Result<StoreStats> Stats() = 0;
  // Fact hashes in byte order, paged as List pages ids.
  virtual Result<ListPage> ListFacts(const ListOptions& options) = 0;
  // Store::ImportEvents: writes the events at first_sequence, first_sequence
  // + 1, ... and leaves the counter alone. The sequences do not overflow.
  virtual Status ImportEvents(std::string_view id, std::uint64_t first_sequence,
                              std::span<const std::string_view> events) = 0;
  // Store::ImportWorkflow. Validated: trimmed <= cursor < UINT64_MAX, a
  // snapshot's cursor <= cursor, log and snapshot within the limits.
  virtual Status ImportWorkflow(std::string_view id, const WorkflowImport& w) = 0;
  // Store::ImportInbox: entries at their sequences (at least 1), the
  // inbox's cursors left alone.
  virtual Status ImportInbox(std::string_view id, std::span<const InboxEntry> entries) = 0;

  // Store::AppendInbox, ReadInbox, ListInboxes (options validated),
  // WatchInboxes, ListByState, ListDue.
  virtual Result<std::uint64_t> AppendInbox(std::string_view id, std::string_view entry) = 0;
  virtual Result<InboxPage> ReadInbox(std::string_view id, const InboxReadOptions& options) = 0;
  virtual Result<ListPage> ListInboxes(const ListOptions& options) = 0;
  virtual Result<std::unique_ptr<InboxWatch>> WatchInboxes(InboxListener listener) = 0;
  virtual Result<StatePage> ListByState(const StateListOptions& options) = 0;
  virtual Result<DuePage> ListDue(const DueListOptions& options) = 0;

  // Store::Claim / Release. Engines owned by one process keep these.
  virtual Status Claim(std::string_view /*id*/) { return Status::OK(); }
  virtual Status Release(std::string_view /*id*/) { return Status::OK(); }
};

// A database's storage. Closing happens in the destructor, which runs only
// when no handle, store or iterator of the database is left.
class Engine {
 public:
  virtual ~Engine() = default;
  // What one call may hold (Store::limits()).
  virtual StoreLimits Limits() const { return EmbeddedLimits(); }
  // The tables of `runner`, created when missing; the same object for the
  // same name for the engine's whole life.
  virtual Result<std::shared_ptr<RunnerTables>> OpenRunner(std::string_view runner) = 0;
  virtual Result<std::vector<std::string>> ListRunners() = 0;
  virtual Status DropRunner(std::string_view runner) = 0;
  virtual Result<DatabaseStats> Stats() = 0;
  // A read-only database catches up with its owner's writes; for the rest
  // there is nothing to catch up with.
  virtual Status Refresh() { return Status::OK(); }
  // Database::Backup. `dest_dir` is not empty. Engines that cannot copy
  // themselves into a directory keep this.
  virtual Status Backup(const std::string& dest_dir) {
    return Status::InvalidArgument("this engine cannot back up into a directory such as '" + dest_dir + "'");
  }
};

// The inbox errors every engine gives (one wording for all).
Status NoInbox(std::string_view id);                                                  // kNotFound
Status InboxClosed(std::string_view id);                                              // kFailedPrecondition
Status InboxFull(std::string_view id, std::uint64_t limit);                           // kResourceExhausted
Status ConsumeAbove(std::string_view id, std::uint64_t through, std::uint64_t last);  // kInvalidArgument
// Store::Delete's conditions against what the engine read: kConflict when
// one does not hold.
Status DeleteConflict(std::string_view id, const DeleteOptions& options, std::uint64_t cursor,
                      std::uint64_t inbox_last);

// Builds the stream status for a workflow whose events up to `trimmed` are
// gone, when a reader asks for events after `after`. OK when none is missing.
Status CheckNotTrimmed(std::string_view id, std::uint64_t after, std::uint64_t trimmed);

// An EventIterator over nothing, or failed with `status`.
std::unique_ptr<EventIterator> EmptyIterator(Status status = Status::OK());

// Engine factories. `options` are resolved (absolute dir for disk).
Result<std::unique_ptr<Engine>> OpenMemoryEngine(const DatabaseOptions& options);
Result<std::unique_ptr<Engine>> OpenDiskEngine(const DatabaseOptions& options);
// `options.nodes` is not empty; `options.dir` names the database.
Result<std::unique_ptr<Engine>> OpenEtcdEngine(const DatabaseOptions& options);

}  // namespace runic::internal

#endif  // RUNIC_SRC_STORE_ENGINE_H_
