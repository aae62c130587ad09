// The memory engine: every runner's tables in this process's heap, gone when
// the database closes.
//
// Events live in fixed-size chunks that are never rewritten once a slot is
// filled. A stream copies the list of chunk pointers it needs when it opens
// (a few bytes per 64 events) and then reads the slots without a lock: slots
// at or below the counter it saw were written before it opened, and later
// appends only fill higher slots. Trim and delete drop chunks from the
// workflow, not from open streams, so an open stream keeps its view.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <unordered_map>

#include "store/engine.h"
#include "store/inbox_listeners.h"
#include "store/memory/memory_waits.h"

namespace runic::internal {
namespace {

constexpr std::uint64_t kChunkEvents = 64;

// 64 events, their bytes packed into blocks that never move once written
// (a stream reads them through views without a lock; packing keeps one
// stream's reads close together and an append down to a copy).
struct Chunk {
  std::array<std::string_view, kChunkEvents> slots;

  // Copies `event` into the chunk's blocks; returns the stored bytes.
  std::string_view Store(std::string_view event) {
    constexpr std::size_t kBlockBytes = std::size_t{16} << 10;
    if (blocks_.empty() || event.size() > block_size_ - block_used_) {
      block_size_ = std::max(kBlockBytes, event.size());
      blocks_.push_back(std::make_unique_for_overwrite<char[]>(block_size_));
      block_used_ = 0;
    }
    char* at = blocks_.back().get() + block_used_;
    if (!event.empty()) std::memcpy(at, event.data(), event.size());
    block_used_ += event.size();
    return {at, event.size()};
  }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;  // written by the appender only
  std::size_t block_size_ = 0, block_used_ = 0;
};

struct Workflow {
  std::optional<std::string> log;
  std::int64_t updated_at_us = 0;   // of the log
  std::int64_t appended_at_us = 0;  // of the last append
  std::uint64_t counter = 0;
  std::uint64_t trimmed = 0;  // events 1..trimmed are gone
  // chunks[i] holds sequences first_chunk*K + i*K + 1 ..
  std::uint64_t first_chunk = 0;
  std::deque<std::shared_ptr<Chunk>> chunks;
  std::optional<Snapshot> snapshot;
  // Events written by ImportEvents, by sequence, until ImportWorkflow puts
  // them into chunks: kept apart, so that no open stream's slot is rewritten.
  std::map<std::uint64_t, std::string> imported;
  WorkflowWaits waits;
  std::map<std::uint64_t, std::string> imported_inbox;  // by ImportInbox, until ImportWorkflow

  bool exists() const { return log.has_value() || counter > 0; }
  bool empty() const {
    return !exists() && !snapshot.has_value() && imported.empty() && waits.empty() && imported_inbox.empty();
  }
};

// Hands out one chunk's events per page.
class MemoryIterator final : public EventIterator {
 public:
  MemoryIterator(std::shared_ptr<const void> database, std::vector<std::shared_ptr<Chunk>> chunks, std::uint64_t after,
                 std::uint64_t end)
      : database_(std::move(database)), chunks_(std::move(chunks)), next_(after + 1), end_(end) {
    NextPage();
  }

 private:
  void NextPage() override {
    if (next_ > end_) return SetPage(next_, nullptr, 0);
    const std::uint64_t first_slot = (next_ - 1) % kChunkEvents;
    const std::uint64_t count = std::min(kChunkEvents - first_slot, end_ - next_ + 1);
    const Chunk& chunk = *chunks_[chunk_++];
    SetPage(next_, chunk.slots.data() + first_slot, count);
    next_ += count;
  }

  const std::shared_ptr<const void> database_;        // released last
  const std::vector<std::shared_ptr<Chunk>> chunks_;  // chunks_[0] holds sequence after + 1
  std::size_t chunk_ = 0;
  std::uint64_t next_;  // first sequence of the next page
  const std::uint64_t end_;
};

// One mutex per runner's workflows: the engine is for speed in one process,
// and a map lookup under a shared lock is far cheaper than the callers' work.
class MemoryTables final : public RunnerTables {
 public:
  Status SaveLog(std::string_view id, std::string_view log, std::int64_t updated_at_us) override {
    registered.store(true, std::memory_order_relaxed);
    std::unique_lock lock(mu_);
    Workflow& w = workflows_[std::string(id)];
    w.log.emplace(log);
    w.updated_at_us = updated_at_us;
    return Status::OK();
  }

  Result<LogRecord> LoadLog(std::string_view id) override {
    std::shared_lock lock(mu_);
    const Workflow* w = Find(id);
    if (w == nullptr || !w->log) return NotFound("log", id);
    return LogRecord{*w->log, std::chrono::system_clock::time_point(std::chrono::microseconds(w->updated_at_us))};
  }

  Result<std::uint64_t> Append(const AppendInput& in) override {
    registered.store(true, std::memory_order_relaxed);
    const std::string_view id = in.id;
    const AppendOptions& o = *in.options;
    std::unique_lock lock(mu_);
    auto it = workflows_.find(id);
    const std::uint64_t counter = it == workflows_.end() ? 0 : it->second.counter;
    if (o.expected_cursor && *o.expected_cursor != counter) return ConflictStatus(id, *o.expected_cursor, counter);
    static const WorkflowWaits kNone;
    if (Status s = WaitIndexes::Check(id, it == workflows_.end() ? kNone : it->second.waits, o); !s.ok()) return s;
    const FactList facts = o.facts;
    if (!facts.empty()) {  // before the events are visible (lock order: mu_, then facts_mu_)
      std::unique_lock facts_lock(facts_mu_);
      for (const auto& [hash, value] : facts) facts_[std::string(hash)].assign(value);
    }
    if (it == workflows_.end()) it = workflows_.emplace(std::string(id), Workflow{}).first;
    Workflow& w = it->second;
    const std::span<const std::string_view> events = in.events;
    // As on disk, where both write the same keys: the last write of a
    // sequence wins over an imported event.
    if (!w.imported.empty()) {
      w.imported.erase(w.imported.upper_bound(w.counter), w.imported.upper_bound(w.counter + events.size()));
    }
    waits_.Apply(it->first, w.waits, o);
    for (std::string_view e : events) {
      const std::uint64_t index = w.counter;  // sequence - 1
      const std::uint64_t chunk = index / kChunkEvents;
      if (w.chunks.empty()) w.first_chunk = chunk;
      if (chunk - w.first_chunk >= w.chunks.size()) w.chunks.push_back(std::make_shared<Chunk>());
      Chunk& c = *w.chunks[chunk - w.first_chunk];
      c.slots[index % kChunkEvents] = c.Store(e);
      ++w.counter;
    }
    w.appended_at_us = NowMicros();
    return w.counter;
  }

  Result<std::unique_ptr<EventIterator>> Stream(std::string_view id, std::uint64_t after,
                                                std::shared_ptr<const void> database) override {
    std::shared_lock lock(mu_);
    const Workflow* w = Find(id);
    if (w == nullptr || w->counter == 0) return NotFound("event stream", id);
    Status trimmed = CheckNotTrimmed(id, after, w->trimmed);
    if (!trimmed.ok()) return trimmed;
    if (after >= w->counter) return EmptyIterator();
    const std::uint64_t from = after / kChunkEvents - w->first_chunk;
    const std::uint64_t to = (w->counter - 1) / kChunkEvents - w->first_chunk;
    std::vector<std::shared_ptr<Chunk>> chunks(w->chunks.begin() + from, w->chunks.begin() + to + 1);
    return std::unique_ptr<EventIterator>(
        new MemoryIterator(std::move(database), std::move(chunks), after, w->counter));
  }

  Status SaveSnapshot(std::string_view id, std::uint64_t cursor, std::string_view bytes) override {
    registered.store(true, std::memory_order_relaxed);
    std::unique_lock lock(mu_);
    auto it = workflows_.find(id);
    const std::uint64_t counter = it == workflows_.end() ? 0 : it->second.counter;
    if (cursor > counter) return SnapshotAboveCounter(id, cursor, counter);
    if (it == workflows_.end()) it = workflows_.emplace(std::string(id), Workflow{}).first;
    it->second.snapshot = Snapshot{cursor, std::string(bytes)};
    return Status::OK();
  }

  Result<Snapshot> LoadSnapshot(std::string_view id) override {
    std::shared_lock lock(mu_);
    const Workflow* w = Find(id);
    if (w == nullptr || !w->snapshot) return NotFound("snapshot", id);
    return *w->snapshot;
  }

  Status SaveFact(std::string_view hash, std::string_view value) override {
    registered.store(true, std::memory_order_relaxed);
    std::unique_lock lock(facts_mu_);
    facts_[std::string(hash)].assign(value);
    return Status::OK();
  }

  Result<std::string> LoadFact(std::string_view hash) override {
    std::shared_lock lock(facts_mu_);
    auto it = facts_.find(std::string(hash));
    if (it == facts_.end()) return NotFound("fact", hash);
    return it->second;
  }

  Status DeleteFact(std::string_view hash) override {
    std::unique_lock lock(facts_mu_);
    facts_.erase(std::string(hash));
    return Status::OK();
  }

  Status Delete(std::string_view id, const DeleteOptions& options) override {
    std::unique_lock lock(mu_);
    auto it = workflows_.find(id);
    if (options.expected_cursor || options.expected_inbox_last) {
      if (it == workflows_.end() || !it->second.exists()) return NotFound("workflow", id);
      if (Status s = DeleteConflict(id, options, it->second.counter, it->second.waits.inbox_last); !s.ok()) return s;
    }
    if (it != workflows_.end()) {
      waits_.Remove(it->first, it->second.waits);
      workflows_.erase(it);
    }
    return Status::OK();
  }

  Result<ListPage> List(const ListOptions& options) override {
    std::shared_lock lock(mu_);
    ListPage page;
    auto it = options.start_after.empty() || options.start_after < options.prefix
                  ? workflows_.lower_bound(options.prefix)
                  : workflows_.upper_bound(options.start_after);
    for (; it != workflows_.end() && it->first.starts_with(options.prefix); ++it) {
      if (!it->second.exists()) continue;
      if (page.ids.size() == options.limit) {
        page.more = true;
        break;
      }
      page.ids.push_back(it->first);
    }
    return page;
  }

  Result<bool> Exists(std::string_view id) override {
    std::shared_lock lock(mu_);
    const Workflow* w = Find(id);
    return w != nullptr && w->exists();
  }

  Result<WorkflowSummary> Describe(std::string_view id, bool count_events) override {
    std::shared_lock lock(mu_);
    const Workflow* w = Find(id);
    if (w == nullptr || !w->exists()) return NotFound("workflow", id);
    WorkflowSummary sum;
    sum.cursor = w->counter;
    sum.trimmed = w->trimmed;
    sum.events = w->counter - w->trimmed;
    sum.event_bytes = count_events ? EventBytes(*w) : 0;
    sum.has_log = w->log.has_value();
    sum.log_bytes = w->log ? w->log->size() : 0;
    sum.has_snapshot = w->snapshot.has_value();
    if (w->snapshot) {
      sum.snapshot_cursor = w->snapshot->cursor;
      sum.snapshot_bytes = w->snapshot->bytes.size();
    }
    sum.updated_at =
        std::chrono::system_clock::time_point(std::chrono::microseconds(std::max(w->updated_at_us, w->appended_at_us)));
    sum.state_tag = w->waits.state_tag;
    sum.due = w->waits.due;
    sum.inbox_last = w->waits.inbox_last;
    sum.inbox_consumed = w->waits.inbox_consumed;
    sum.inbox_pending = w->waits.inbox.size();
    sum.inbox_closed = w->waits.inbox_closed;
    return sum;
  }

  Status Trim(std::string_view id, std::uint64_t cursor) override {
    std::unique_lock lock(mu_);
    auto it = workflows_.find(id);
    if (it == workflows_.end() || it->second.counter == 0) return NotFound("event stream", id);
    Workflow& w = it->second;
    if (cursor > w.counter) return TrimAboveCounter(id, cursor, w.counter);
    if (cursor <= w.trimmed) return Status::OK();
    // As on disk, where the trim deletes the keys of (trimmed, cursor].
    w.imported.erase(w.imported.upper_bound(w.trimmed), w.imported.upper_bound(cursor));
    w.trimmed = cursor;
    // Drop the chunks whose every slot is now trimmed.
    while (!w.chunks.empty() && (w.first_chunk + 1) * kChunkEvents <= cursor) {
      w.chunks.pop_front();
      ++w.first_chunk;
    }
    return Status::OK();
  }

  Result<StoreStats> Stats() override {
    StoreStats stats;
    {
      std::shared_lock lock(mu_);
      for (const auto& [id, w] : workflows_) {
        if (w.log) {
          ++stats.logs;
          stats.log_bytes += w.log->size();
        }
        if (w.counter > w.trimmed) {
          ++stats.workflows_with_events;
          stats.events += w.counter - w.trimmed;
          stats.event_bytes += EventBytes(w);
        }
        if (w.snapshot) {
          ++stats.snapshots;
          stats.snapshot_bytes += w.snapshot->bytes.size();
        }
        stats.inbox_entries += w.waits.inbox.size();
        for (const auto& [seq, entry] : w.waits.inbox) stats.inbox_bytes += entry.size();
      }
      stats.state_entries = waits_.state_entries();
      stats.due_entries = waits_.due_entries();
    }
    std::shared_lock lock(facts_mu_);
    for (const auto& [hash, value] : facts_) {
      ++stats.facts;
      stats.fact_bytes += value.size();
    }
    return stats;
  }

  // facts_ is a hash map, for LoadFact's speed, so a page costs one pass
  // over every fact, keeping the smallest limit + 1 hashes in a heap.
  Result<ListPage> ListFacts(const ListOptions& options) override {
    const bool after = !options.start_after.empty() && options.start_after >= options.prefix;
    std::shared_lock lock(facts_mu_);
    std::priority_queue<std::string_view> heap;  // the largest kept on top
    for (const auto& entry : facts_) {
      const std::string_view hash = entry.first;
      if (!hash.starts_with(options.prefix) || (after && hash <= options.start_after)) continue;
      if (heap.size() <= options.limit) {
        heap.push(hash);
      } else if (hash < heap.top()) {
        heap.pop();
        heap.push(hash);
      }
    }
    ListPage page;
    page.more = heap.size() > options.limit;
    if (page.more) heap.pop();
    page.ids.resize(heap.size());
    for (std::size_t i = heap.size(); i-- > 0; heap.pop()) page.ids[i] = std::string(heap.top());
    return page;
  }

  Status ImportEvents(std::string_view id, std::uint64_t first_sequence,
                      std::span<const std::string_view> events) override {
    registered.store(true, std::memory_order_relaxed);
    std::unique_lock lock(mu_);
    auto it = workflows_.find(id);
    if (it == workflows_.end()) it = workflows_.emplace(std::string(id), Workflow{}).first;
    std::uint64_t seq = first_sequence;
    for (std::string_view e : events) it->second.imported[seq++].assign(e);
    return Status::OK();
  }

  // Builds the workflow's chunks anew from the imported events and those of
  // its stream now (an open stream keeps the old chunks), then swaps them in
  // with the rest, under the lock: one atomic change.
  Status ImportWorkflow(std::string_view id, const WorkflowImport& in) override {
    registered.store(true, std::memory_order_relaxed);
    std::unique_lock lock(mu_);
    auto it = workflows_.find(id);
    const bool created = it == workflows_.end();
    if (created) it = workflows_.emplace(std::string(id), Workflow{}).first;
    Workflow& w = it->second;
    Result<std::map<std::uint64_t, std::string>> inbox = WaitIndexes::ImportedInbox(id, w.waits, w.imported_inbox, in);
    if (!inbox.ok()) {
      if (created) workflows_.erase(it);
      return inbox.status();
    }
    const std::uint64_t first_chunk = in.trimmed / kChunkEvents;  // the chunk of sequence trimmed + 1
    std::deque<std::shared_ptr<Chunk>> chunks;
    auto imported = w.imported.upper_bound(in.trimmed);
    for (std::uint64_t seq = in.trimmed + 1; seq <= in.cursor; ++seq) {
      std::string_view event;
      const std::uint64_t index = seq - 1;
      if (imported != w.imported.end() && imported->first == seq) {
        event = (imported++)->second;
      } else if (seq > w.trimmed && seq <= w.counter) {
        event = w.chunks[index / kChunkEvents - w.first_chunk]->slots[index % kChunkEvents];
      } else {
        if (created) workflows_.erase(it);
        return Status::InvalidArgument("import of '" + std::string(id) + "': event " + std::to_string(seq) +
                                       " is missing; events " + std::to_string(in.trimmed + 1) + " to " +
                                       std::to_string(in.cursor) + " must be imported first");
      }
      if (index / kChunkEvents - first_chunk >= chunks.size()) chunks.push_back(std::make_shared<Chunk>());
      Chunk& c = *chunks.back();
      c.slots[index % kChunkEvents] = c.Store(event);
    }
    w.counter = in.cursor;
    w.trimmed = in.trimmed;
    w.first_chunk = first_chunk;
    w.chunks = std::move(chunks);
    w.appended_at_us = in.cursor > 0 ? ToMicros(in.updated_at) : 0;  // no counter, no time of its own
    w.log.reset();
    w.updated_at_us = 0;
    if (in.log) {
      w.log = in.log->log;
      w.updated_at_us = ToMicros(in.log->updated_at);
    }
    w.snapshot = in.snapshot;
    w.imported.clear();
    waits_.Import(it->first, w.waits, in, std::move(*inbox));
    w.imported_inbox.clear();
    if (w.empty()) workflows_.erase(it);
    return Status::OK();
  }

  Status ImportInbox(std::string_view id, std::span<const InboxEntry> entries) override {
    registered.store(true, std::memory_order_relaxed);
    std::unique_lock lock(mu_);
    auto it = workflows_.find(id);
    if (it == workflows_.end()) it = workflows_.emplace(std::string(id), Workflow{}).first;
    for (const InboxEntry& e : entries) it->second.imported_inbox[e.sequence] = e.bytes;
    return Status::OK();
  }

  // --- Inboxes and indexes (memory_waits.h) ---------------------------------

  Result<std::uint64_t> AppendInbox(std::string_view id, std::string_view entry) override {
    Result<std::uint64_t> seq = [&]() -> Result<std::uint64_t> {
      std::unique_lock lock(mu_);
      auto it = workflows_.find(id);
      if (it == workflows_.end() || it->second.counter == 0) return NoInbox(id);
      return waits_.AppendInbox(it->first, it->second.waits, EmbeddedLimits().max_inbox_entries, entry);
    }();
    if (seq.ok()) listeners_->Notify(id);
    return seq;
  }

  Result<InboxPage> ReadInbox(std::string_view id, const InboxReadOptions& options) override {
    std::shared_lock lock(mu_);
    const Workflow* w = Find(id);
    if (w == nullptr) return InboxPage{};
    return WaitIndexes::Read(w->waits, options);
  }

  Result<ListPage> ListInboxes(const ListOptions& options) override {
    std::shared_lock lock(mu_);
    return waits_.ListInboxes(options);
  }

  Result<std::unique_ptr<InboxWatch>> WatchInboxes(InboxListener listener) override {
    return listeners_->Add(std::move(listener));
  }

  Result<StatePage> ListByState(const StateListOptions& options) override {
    std::shared_lock lock(mu_);
    return waits_.ListByState(options);
  }

  Result<DuePage> ListDue(const DueListOptions& options) override {
    std::shared_lock lock(mu_);
    return waits_.ListDue(options);
  }

  void Clear() {
    {
      std::unique_lock lock(mu_);
      workflows_.clear();
      waits_.Clear();
    }
    std::unique_lock lock(facts_mu_);
    facts_.clear();
  }

  // Listed by ListRunners: set by OpenStore and by any write (a handle kept
  // across a drop makes its runner exist again), cleared by a drop.
  std::atomic<bool> registered{true};

 private:
  // The bytes of the events kept. The caller holds mu_.
  static std::uint64_t EventBytes(const Workflow& w) {
    std::uint64_t bytes = 0;
    for (std::uint64_t seq = w.trimmed + 1; seq <= w.counter; ++seq) {
      const std::uint64_t index = seq - 1;
      bytes += w.chunks[index / kChunkEvents - w.first_chunk]->slots[index % kChunkEvents].size();
    }
    return bytes;
  }

  const Workflow* Find(std::string_view id) const {
    auto it = workflows_.find(id);
    return it == workflows_.end() ? nullptr : &it->second;
  }

  static Status NotFound(const char* what, std::string_view id) {
    return Status::NotFound(std::string("no ") + what + " for '" + std::string(id) + "'");
  }
  static Status ConflictStatus(std::string_view id, std::uint64_t expected, std::uint64_t counter) {
    return Status::Conflict("workflow '" + std::string(id) + "' is at cursor " + std::to_string(counter) +
                            ", not the expected " + std::to_string(expected));
  }
  static Status SnapshotAboveCounter(std::string_view id, std::uint64_t cursor, std::uint64_t counter) {
    return Status::InvalidArgument("snapshot cursor " + std::to_string(cursor) + " is above workflow '" +
                                   std::string(id) + "' counter " + std::to_string(counter));
  }
  static Status TrimAboveCounter(std::string_view id, std::uint64_t cursor, std::uint64_t counter) {
    return Status::InvalidArgument("trim cursor " + std::to_string(cursor) + " is above workflow '" + std::string(id) +
                                   "' counter " + std::to_string(counter));
  }

  std::shared_mutex mu_;
  std::map<std::string, Workflow, std::less<>> workflows_;
  WaitIndexes waits_;  // over workflows_[*].waits, under mu_
  const std::shared_ptr<InboxListeners> listeners_ = std::make_shared<InboxListeners>();
  std::shared_mutex facts_mu_;
  std::unordered_map<std::string, std::string> facts_;
};

class MemoryEngine final : public Engine {
 public:
  Result<std::shared_ptr<RunnerTables>> OpenRunner(std::string_view runner) override {
    std::lock_guard lock(mu_);
    std::shared_ptr<MemoryTables>& tables = runners_[std::string(runner)];
    if (!tables) tables = std::make_shared<MemoryTables>();
    tables->registered = true;
    return std::shared_ptr<RunnerTables>(tables);
  }

  Result<std::vector<std::string>> ListRunners() override {
    std::lock_guard lock(mu_);
    std::vector<std::string> names;
    for (const auto& [name, tables] : runners_) {
      if (tables->registered) names.push_back(name);
    }
    return names;
  }

  Status DropRunner(std::string_view runner) override {
    std::lock_guard lock(mu_);
    auto it = runners_.find(std::string(runner));
    if (it == runners_.end()) return Status::OK();
    it->second->Clear();
    it->second->registered = false;
    return Status::OK();
  }

  Result<DatabaseStats> Stats() override {
    DatabaseStats stats;
    stats.engine = "memory";
    return stats;
  }

  Status Backup(const std::string&) override {
    return Status::InvalidArgument(
        "a memory database cannot be backed up into a directory; copy its runners into a disk database with "
        "`runic migrate`");
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<MemoryTables>> runners_;
};

}  // namespace

Result<std::unique_ptr<Engine>> OpenMemoryEngine(const DatabaseOptions&) {
  return std::unique_ptr<Engine>(new MemoryEngine());
}

}  // namespace runic::internal
