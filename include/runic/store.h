// Store: the handle through which one Runner persists its workflows.
//
// A store is the set of tables of one runner (named by `runner_name`) inside
// a Database: workflow logs, event streams with their counters, snapshots and
// content-addressed facts. The tables belong to the database: releasing a
// Store handle and opening it again for the same runner finds the same data,
// in the memory engine too, as long as the Database stays open.
//
// Every engine implements this one contract and passes one conformance suite
// (tests/store_conformance_test.cc); the Runner reaches engines only through
// it.
#ifndef RUNIC_STORE_H_
#define RUNIC_STORE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runic/event_iterator.h"
#include "runic/export.h"
#include "runic/options.h"
#include "runic/result.h"
#include "runic/status.h"

namespace runic {

class DatabaseImpl;

// The sizes an engine accepts. A call beyond them fails with
// kInvalidArgument and writes nothing. Every value and id the embedded
// engines accept also fits one request of a replicated engine (etcd: 1.5
// MiB), so data moves between engines; an engine may accept smaller batches,
// which its own limits() say.
struct StoreLimits {
  std::size_t max_runner_name_bytes = 0;  // runner names: 1 .. this
  std::size_t max_id_bytes = 0;           // workflow ids and fact hashes: 1 .. this
  std::size_t max_value_bytes = 0;        // a log, event, snapshot or fact: 1 .. this
  std::size_t max_batch_events = 0;       // events in one Append: 1 .. this
  std::size_t max_batch_bytes = 0;        // sum of event sizes in one Append
  std::size_t max_state_tag_bytes = 0;    // state tags: 1 .. this, without a 0x00 byte
  std::size_t max_inbox_entries = 0;      // unconsumed inbox entries per workflow

  // What each extra write of an append costs against max_batch_events,
  // counted with its events and facts whenever the option is set (see
  // AppendOptions). Idempotency keys travel inside the events and cost
  // nothing more; the index of pending inboxes is made of the entries
  // themselves, so an inbox entry costs no pending key either.
  std::size_t state_tag_cost = 0;      // state_tag: the old index entry out, the new one in
  std::size_t due_cost = 0;            // due: the old due entry out, the new one in
  std::size_t inbox_consume_cost = 0;  // consume_inbox_through: the cursor, the entries' removal
  std::size_t inbox_close_cost = 0;    // close_inbox: the flag
};

// A workflow log as last saved.
struct LogRecord {
  std::string log;
  // When the log was saved (the system clock of the saving process).
  std::chrono::system_clock::time_point updated_at;
};

// A workflow's snapshot: bytes that stand for the events up to `cursor`.
struct Snapshot {
  std::uint64_t cursor = 0;
  std::string bytes;
};

struct AppendOptions {
  // When set, the append happens only if the workflow's counter equals this
  // value (0: the workflow must have no events yet); otherwise nothing is
  // written and Append returns kConflict. Default: append unconditionally.
  std::optional<std::uint64_t> expected_cursor;

  // Facts (hash, value) to save in the same atomic write as the events, as
  // SaveFact would: no reader ever sees the events without them, and on a
  // conflict or error none is written. Each counts as one entry against
  // max_batch_events and its value's bytes against max_batch_bytes. The
  // views must stay valid during the call. Default: none.
  std::vector<std::pair<std::string_view, std::string_view>> facts;

  // The workflow's entry in the state index (ListByState), moved in the
  // same atomic write as the events: the entry (tag, id) replaces the
  // workflow's previous one; "" removes it. The tag is opaque to the store
  // (the Runner writes "state/definition@version"). An engine writes the
  // index only when the tag differs from the stored one. Default: unchanged.
  std::optional<std::string_view> state_tag;

  // The workflow's entry in the due-time index (ListDue), in the same
  // atomic write: (due, id) replaces its previous entry; 0 removes it. The
  // value is opaque to the store (the Runner passes microseconds since the
  // Unix epoch). Default: unchanged.
  std::optional<std::uint64_t> due;

  // Marks the workflow's inbox entries with sequences up to this one
  // consumed, in the same atomic write as the events that record them: they
  // are removed, no longer count against max_inbox_entries, and the
  // workflow leaves ListInboxes when no later entry is pending. Above the
  // inbox's last sequence it is kInvalidArgument (nothing written); at or
  // below what was consumed before, a no-op. Default 0: none.
  std::uint64_t consume_inbox_through = 0;

  // Closes the workflow's inbox in the same atomic write (the Runner does so
  // in the write that enters `cancelled`): AppendInbox then fails with
  // kFailedPrecondition. Entries already there can still be read and
  // consumed. A closed inbox stays closed. Default false.
  bool close_inbox = false;
};

// One workflow's part of an AppendMany.
struct AppendRequest {
  std::string_view id;
  std::vector<std::string_view> events;
  AppendOptions options;
};

struct StreamOptions {
  // Yield only events with a sequence greater than this. Default 0: all.
  std::uint64_t after = 0;
};

struct ListOptions {
  // Only ids that start with this. Default: all.
  std::string prefix;
  // Only ids after this one (the `next` of the previous page). Default: from
  // the first.
  std::string start_after;
  // At most this many ids per page (1 .. 100000). Default 1000.
  std::size_t limit = 1000;
};

struct ListPage {
  std::vector<std::string> ids;  // in byte order
  // True when more ids may follow: pass ids.back() as start_after.
  bool more = false;
};

// An entry of a workflow's inbox: bytes any process appended for its owner.
struct InboxEntry {
  std::uint64_t sequence = 0;  // 1, 2, ... per workflow, never reused
  std::string bytes;
};

struct InboxReadOptions {
  // Only entries with a sequence greater than this. Default 0: all.
  std::uint64_t after = 0;
  // At most this many entries (1 .. 100000). Default 1000.
  std::size_t limit = 1000;
};

struct InboxPage {
  std::vector<InboxEntry> entries;  // unconsumed, in sequence order
  bool more = false;                // pass entries.back().sequence as `after`
};

// An entry of the state index: a workflow and its tag (AppendOptions::state_tag).
struct TaggedId {
  std::string tag;
  std::string id;
};

struct StateListOptions {
  // The tag to list; with tag_is_prefix, every tag that starts with it
  // ("" with tag_is_prefix: every entry). Entries come in (tag, id) order.
  std::string tag;
  bool tag_is_prefix = false;
  // Only ids that start with this; only with an exact tag (with a tag
  // prefix it would read entries it does not return: kInvalidArgument).
  std::string id_prefix;
  // Only entries after (start_after_tag, start_after_id): the last entry of
  // the previous page. Default: from the first.
  std::string start_after_tag;
  std::string start_after_id;
  // At most this many entries per page (1 .. 100000). Default 1000.
  std::size_t limit = 1000;
};

struct StatePage {
  std::vector<TaggedId> entries;
  bool more = false;  // pass the last entry's tag and id as start_after_*
};

// An entry of the due-time index (AppendOptions::due).
struct DueEntry {
  std::uint64_t due = 0;
  std::string id;
};

struct DueListOptions {
  // Only entries due before this value. Default: all.
  std::uint64_t before = UINT64_MAX;
  // Only entries after (start_after_due, start_after_id), in (due, id)
  // order: the last entry of the previous page. Default: from the first.
  std::uint64_t start_after_due = 0;
  std::string start_after_id;
  // At most this many entries per page (1 .. 100000). Default 1000.
  std::size_t limit = 1000;
};

struct DuePage {
  std::vector<DueEntry> entries;
  bool more = false;  // pass the last entry as start_after_*
};

// Told the id of a workflow whose inbox gained an entry (Store::WatchInboxes).
using InboxListener = std::function<void(std::string_view id)>;

// A registration of an InboxListener; destroying it ends the calls, waiting
// for those that run (so never destroy it inside its own listener).
class RUNIC_EXPORT InboxWatch {
 public:
  virtual ~InboxWatch();
};

// What a store holds for one workflow (Store::Describe).
struct WorkflowSummary {
  std::uint64_t cursor = 0;       // the highest sequence appended (0: none)
  std::uint64_t trimmed = 0;      // events up to this sequence were trimmed
  std::uint64_t events = 0;       // events kept: cursor - trimmed
  std::uint64_t event_bytes = 0;  // their value bytes
  bool has_log = false;
  std::uint64_t log_bytes = 0;
  bool has_snapshot = false;
  std::uint64_t snapshot_cursor = 0, snapshot_bytes = 0;
  // The last Save, Checkpoint or Append of this workflow.
  std::chrono::system_clock::time_point updated_at;
  std::string state_tag;  // its entry in the state index ("": none)
  std::uint64_t due = 0;  // its entry in the due-time index (0: none)
  // Its inbox: the last sequence appended, the last consumed, the entries
  // pending (appended - consumed) and whether it is closed.
  std::uint64_t inbox_last = 0, inbox_consumed = 0, inbox_pending = 0;
  bool inbox_closed = false;
};

// A workflow's head (Store::Peek): what Describe says without reading its
// events, so its cost does not grow with the workflow's history.
struct WorkflowHead {
  std::uint64_t cursor = 0;   // the highest sequence appended (0: none)
  std::uint64_t trimmed = 0;  // events up to this sequence were trimmed
  bool has_log = false;
  // The last Save, Checkpoint or Append of this workflow.
  std::chrono::system_clock::time_point updated_at;
  std::string state_tag;  // its entry in the state index ("": none)
  std::uint64_t due = 0;  // its entry in the due-time index (0: none)
  // Its inbox: the last sequence appended and the last consumed.
  std::uint64_t inbox_last = 0, inbox_consumed = 0;
  bool inbox_closed = false;
};

// Conditions of Store::Delete, compared in the same atomic step as the
// delete: kConflict (and nothing deleted) when one does not hold.
struct DeleteOptions {
  // The workflow's cursor must be this (no event appended since it was
  // read). Unset: any.
  std::optional<std::uint64_t> expected_cursor;
  // The last sequence appended to its inbox must be this (no signal or
  // control sent since it was read). Unset: any.
  std::optional<std::uint64_t> expected_inbox_last;
};

// A workflow's state as another store held it, for copying between stores
// (Store::ImportWorkflow; `runic migrate`).
struct WorkflowImport {
  std::uint64_t cursor = 0;   // the counter
  std::uint64_t trimmed = 0;  // events up to here were trimmed
  std::optional<LogRecord> log;
  std::optional<Snapshot> snapshot;
  std::chrono::system_clock::time_point updated_at;  // as Describe reported it
  std::string state_tag;                             // as Describe reported them
  std::uint64_t due = 0;
  std::uint64_t inbox_last = 0, inbox_consumed = 0;
  bool inbox_closed = false;
};

// Counts and value bytes of one runner's tables. Computed by reading the
// tables, so it costs time proportional to their size.
struct StoreStats {
  std::uint64_t logs = 0, log_bytes = 0;
  std::uint64_t workflows_with_events = 0, events = 0, event_bytes = 0;
  std::uint64_t snapshots = 0, snapshot_bytes = 0;
  std::uint64_t facts = 0, fact_bytes = 0;
  std::uint64_t inbox_entries = 0, inbox_bytes = 0;  // unconsumed
  std::uint64_t state_entries = 0, due_entries = 0;
};

// Thread safety: every method may be called from any number of threads at
// once. Appends to one workflow are serialised (each gets its own contiguous
// range of sequences). On disk, writes to different workflows run in
// parallel; the memory engine serialises the writes of one runner (each
// takes microseconds).
// Reads are "dirty" as in Mnesia: they see every write acknowledged before
// they started and never half of one.
//
// Lifetime: a Store keeps its Database open. Releasing it while other threads
// still call it is undefined, as for any C++ object; iterators it returned
// stay valid.
class RUNIC_EXPORT Store {
 public:
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& runner_name() const;
  const StoreLimits& limits() const;

  // Upserts the workflow's whole log and records the time.
  Status Save(std::string_view id, std::string_view log);
  // The last saved log. kNotFound when none was saved.
  Result<LogRecord> Load(std::string_view id);
  // Same as Save: the engine's write-ahead log already makes it durable.
  Status Checkpoint(std::string_view id, std::string_view log);

  // Atomically writes `events` with sequences counter+1 .. counter+n and
  // stores the new counter (and options.facts); returns the new cursor. All
  // or nothing: no reader ever sees part of a batch. An empty batch is
  // kInvalidArgument.
  Result<std::uint64_t> Append(std::string_view id, const std::vector<std::string_view>& events,
                               const AppendOptions& options = {});
  Result<std::uint64_t> Append(std::string_view id, const std::vector<std::string>& events,
                               const AppendOptions& options = {});

  // Appends each request as Append would and returns one result per
  // request, in the same order. Each request is all or nothing on its own;
  // one that fails (a conflict, bad input) leaves the others unaffected. An
  // id may appear once per call: a repeat fails with kInvalidArgument. The
  // limits apply per request. Engines that can commit the requests in one
  // write do (the disk engine: one WriteBatch, so one WAL write and, with
  // sync, one fsync for all), which is why it exists: a Runner checkpointing
  // many workflows at once pays for one write instead of one each.
  // Telemetry: one kAppendMany operation, with an empty id, the bytes of all
  // requests, and the first failure as its status.
  [[nodiscard]] std::vector<Result<std::uint64_t>> AppendMany(std::span<const AppendRequest> requests);

  // The workflow's events after `options.after`, up to its counter now, read
  // lazily. kNotFound when the workflow has no counter. kTrimmed (with
  // first_kept_sequence()) when events after `options.after` were trimmed.
  // `after` at or past the counter gives an empty iterator.
  Result<std::unique_ptr<EventIterator>> Stream(std::string_view id, const StreamOptions& options = {});

  // One snapshot slot per workflow; a save replaces it. `cursor` may not be
  // above the workflow's counter (kInvalidArgument). kNotFound, storing
  // nothing, when the workflow does not exist (no log and no counter: see
  // Exists): a snapshot belongs to a workflow. The check and the write are
  // two steps, not one atomic write: should another thread or process Delete
  // the workflow between them, the snapshot may be left without its workflow
  // (Stats counts it; the next Delete of the id removes it). So delete a
  // workflow only while nothing snapshots it (the Runner never deletes).
  Status SaveSnapshot(std::string_view id, std::uint64_t cursor, std::string_view bytes);
  // kNotFound when the workflow has no snapshot.
  Result<Snapshot> LoadSnapshot(std::string_view id);

  // Content-addressed values, independent of workflows: Delete(id) keeps
  // them. Saving a hash again overwrites it.
  Status SaveFact(std::string_view hash, std::string_view value);
  Result<std::string> LoadFact(std::string_view hash);
  // Removes a fact; removing a missing one is ok.
  Status DeleteFact(std::string_view hash);

  // Removes the workflow's log, events, counter and snapshot. A later append
  // starts again at sequence 1 and no old event is ever read again. Deleting
  // a missing workflow is ok.
  Status Delete(std::string_view id);
  // Delete, only if `options`' conditions hold when it applies: kConflict
  // (nothing deleted) when one does not; kNotFound for a missing workflow
  // when a condition is set. What a retention sweep uses: a workflow that
  // received an event or an inbox entry since it was judged expired is
  // kept.
  Status Delete(std::string_view id, const DeleteOptions& options);

  // Ids for which Exists is true, in byte order, one page at a time.
  Result<ListPage> List(const ListOptions& options = {});
  // True when the workflow has a log or an event counter.
  Result<bool> Exists(std::string_view id);
  // What the store holds for the workflow. kNotFound when !Exists(id).
  // Reads the workflow's events to count their bytes.
  Result<WorkflowSummary> Describe(std::string_view id);
  // Describe's counters and indexes without reading the events: a few
  // point reads whatever the history's length. kNotFound when !Exists(id).
  Result<WorkflowHead> Peek(std::string_view id);

  // Deletes the events with sequence <= cursor (normally covered by a
  // snapshot). The counter never goes down: the next append still gets
  // counter + 1. Idempotent; trimming to a lower cursor than before is a
  // no-op. kInvalidArgument when cursor is above the counter; kNotFound when
  // the workflow has no counter.
  Status Trim(std::string_view id, std::uint64_t cursor);

  // Counts and sizes of this runner's tables.
  Result<StoreStats> Stats();

  // Fact hashes in byte order, one page at a time (as List pages ids).
  Result<ListPage> ListFacts(const ListOptions& options = {});

  // Copying a workflow from another store (`runic migrate`), in two steps
  // that are each idempotent, so an interrupted copy can simply be redone:
  // ImportEvents writes events at their own sequences (first_sequence,
  // first_sequence + 1, ...) without making them visible; ImportWorkflow
  // then makes the workflow exactly what `w` says: its counter (cursor,
  // trimmed) and update time, its log and snapshot (removed when absent),
  // and no event outside (trimmed, cursor]. Events in that range must have
  // been imported (kInvalidArgument names the first missing one; events the
  // workflow already holds in that range count too). The limits apply as for
  // Append; first_sequence is at least 1. Import into a workflow that nothing
  // else writes meanwhile: where the workflow already exists, its readers may
  // see imported events at sequences it holds before ImportWorkflow.
  Status ImportEvents(std::string_view id, std::uint64_t first_sequence, const std::vector<std::string_view>& events);
  Status ImportWorkflow(std::string_view id, const WorkflowImport& w);
  // Writes inbox entries at their own sequences (at most max_inbox_entries
  // per call), as ImportEvents writes events: ImportWorkflow then makes
  // (inbox_consumed, inbox_last] the workflow's pending entries and removes
  // the others. Each sequence is at least 1.
  Status ImportInbox(std::string_view id, const std::vector<InboxEntry>& entries);

  // --- Waiting: inbox, state and due-time indexes -----------------------

  // Appends `entry` to the workflow's inbox and returns its sequence. The
  // one write no ownership fences: any process may append to any workflow's
  // inbox, while the workflow has an event counter (else kNotFound), its
  // inbox is open (else kFailedPrecondition) and fewer than
  // max_inbox_entries are pending (else kResourceExhausted), all checked in
  // the same atomic write. Nothing is written on an error. Durable when it
  // returns, as an Append.
  Result<std::uint64_t> AppendInbox(std::string_view id, std::string_view entry);
  // The workflow's pending (unconsumed) inbox entries after options.after.
  // An unknown workflow has none.
  Result<InboxPage> ReadInbox(std::string_view id, const InboxReadOptions& options = {});
  // Ids of the workflows with pending inbox entries, in byte order, paged as
  // List pages ids; reads only the pending entries' keys.
  Result<ListPage> ListInboxes(const ListOptions& options = {});
  // Calls `listener` for each entry appended to any inbox of this runner's
  // tables after this returns: from the appending thread in the embedded
  // engines (any Store handle of this runner in this Database), before the
  // append returns, so it must be quick; on etcd from the engine's watch
  // thread (the appends of every process). Entries appended while nobody
  // watched are found with ListInboxes: a Runner lists once after it starts
  // watching.
  Result<std::unique_ptr<InboxWatch>> WatchInboxes(InboxListener listener);

  // State-index entries (AppendOptions::state_tag), one page at a time;
  // reads only the keys it returns (and one more to tell `more`).
  Result<StatePage> ListByState(const StateListOptions& options);
  // Due-time entries (AppendOptions::due) due before options.before, in
  // (due, id) order, one page at a time.
  Result<DuePage> ListDue(const DueListOptions& options = {});

  // Ownership, for engines that several processes write (etcd). Claim makes
  // this process the owner of workflow `id`, held by its lease (see
  // EtcdOptions::lease_ttl): ok when it now owns it or already did;
  // kNotOwner when another process's live lease holds it (it can be claimed
  // once that lease has expired). While a workflow is owned, every write for
  // it (append, save, snapshot, trim, delete, import) from any other process
  // fails with kNotOwner and writes nothing, and once this process loses the
  // ownership (its lease expired, another process claimed it), its own
  // writes for it fail so too: two processes never both write a workflow,
  // even across a partition or a long pause. A workflow nobody owns may be
  // written by anyone. Reads are not fenced. The embedded engines belong to
  // one process: Claim and Release are ok and do nothing.
  Status Claim(std::string_view id);
  // Gives the ownership of `id` up, if this process holds it; ok otherwise.
  Status Release(std::string_view id);

  struct Rep;  // opaque: the implementation's state

 private:
  friend class DatabaseImpl;
  explicit Store(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

}  // namespace runic

#endif  // RUNIC_STORE_H_
