// Loading workflows from the store: ResumeAll (what has work now, as the
// store's indexes say), loads on demand for the calls that reach a workflow
// not loaded here, and what the store says of one without loading it.
#include <set>

#include "runic/history.h"
#include "runner/runner_impl.h"

namespace runic {
namespace {

// Bounds every listing loop: 100,000 pages of 1,000.
constexpr int kMaxPages = 100000;

// The ids of the state-index entries whose tag starts with `prefix`.
Status ListTagged(Store& store, const std::string& prefix, std::set<std::string>* ids) {
  StateListOptions o;
  o.tag = prefix;
  o.tag_is_prefix = true;
  for (int page = 0; page < kMaxPages; ++page) {
    Result<StatePage> listed = store.ListByState(o);
    if (!listed.ok()) return listed.status();
    for (const TaggedId& e : listed->entries) ids->insert(e.id);
    if (!listed->more || listed->entries.empty()) return Status::OK();
    o.start_after_tag = listed->entries.back().tag;
    o.start_after_id = listed->entries.back().id;
  }
  return Status::OK();
}

// Those due before `before`, but for finished ones (their due time is their
// expiry: retention deletes them, nothing runs).
Status ListDueBefore(Store& store, std::uint64_t before, std::set<std::string>* ids) {
  DueListOptions o;
  o.before = before;
  for (int page = 0; page < kMaxPages; ++page) {
    Result<DuePage> listed = store.ListDue(o);
    if (!listed.ok()) return listed.status();
    for (const DueEntry& e : listed->entries) {
      Result<WorkflowHead> head = store.Peek(e.id);
      if (head.status().IsNotFound()) continue;  // deleted since it was listed
      std::optional<StateIndexEntry> tagged = head.ok() ? ParseStateIndexTag(head->state_tag) : std::nullopt;
      const bool finished =
          tagged && (tagged->state == WorkflowState::kIdle || tagged->state == WorkflowState::kCancelled);
      if (!finished) ids->insert(e.id);
    }
    if (!listed->more || listed->entries.empty()) return Status::OK();
    o.start_after_due = listed->entries.back().due;
    o.start_after_id = listed->entries.back().id;
  }
  return Status::OK();
}

// Workflows whose inbox has entries to record.
Status ListPendingInboxes(Store& store, std::set<std::string>* ids) {
  ListOptions o;
  for (int page = 0; page < kMaxPages; ++page) {
    Result<ListPage> listed = store.ListInboxes(o);
    if (!listed.ok()) return listed.status();
    ids->insert(listed->ids.begin(), listed->ids.end());
    if (!listed->more || listed->ids.empty()) return Status::OK();
    o.start_after = listed->ids.back();
  }
  return Status::OK();
}

// Every workflow with no state-index entry (last written before the index).
Status ListUnindexed(Store& store, std::set<std::string>* ids) {
  ListOptions o;
  for (int page = 0; page < kMaxPages; ++page) {
    Result<ListPage> listed = store.List(o);
    if (!listed.ok()) return listed.status();
    for (const std::string& id : listed->ids) {
      Result<WorkflowHead> head = store.Peek(id);
      if (head.ok() && head->state_tag.empty()) ids->insert(id);
    }
    if (!listed->more || listed->ids.empty()) return Status::OK();
    o.start_after = listed->ids.back();
  }
  return Status::OK();
}

}  // namespace

Result<ResumeAllReport> Runner::ResumeAll(std::optional<WorkflowOptions> options) {
  ResumeAllOptions o;
  o.options = std::move(options);
  return ResumeAll(o);
}

Result<ResumeAllReport> Runner::ResumeAll(const ResumeAllOptions& options) {
  Store* store = impl_->options.store;
  if (store == nullptr) return Status::InvalidArgument("runner '" + impl_->options.name + "' has no store");
  ResumeAllReport report;
  // What has work now: running or cancelling (a crash cut them short), due
  // soon, or with inbox entries to record.
  std::set<std::string> ids;
  const std::uint64_t soon =
      static_cast<std::uint64_t>(internal::WallMicros(*impl_->clock)) +
      2 * static_cast<std::uint64_t>(std::chrono::microseconds(impl_->options.due_poll_interval).count());
  Status listed = ListTagged(*store, StateIndexPrefix(WorkflowState::kRunning), &ids);
  if (!listed.ok()) return listed;  // nothing resumed
  report.listing = ListTagged(*store, StateIndexPrefix(WorkflowState::kCancelling), &ids);
  if (report.listing.ok()) report.listing = ListDueBefore(*store, soon, &ids);
  if (report.listing.ok()) report.listing = ListPendingInboxes(*store, &ids);
  if (options.scan_unindexed && report.listing.ok()) report.listing = ListUnindexed(*store, &ids);
  for (const std::string& id : ids) {
    if (impl_->Find(id)) continue;
    Result<std::shared_ptr<Worker>> loaded = impl_->Load(id, options.options);
    if (!loaded.ok()) {
      Status s = loaded.status();
      if (s.IsNotOwner()) {
        report.owned_elsewhere.push_back(id);
      } else if (!s.IsConflict()) {  // kConflict: loaded here meanwhile (by a signal or a control); that load goes on
        report.failed.push_back({id, std::move(s)});
      }
      continue;
    }
    if ((*loaded)->had_work_on_resume()) {
      report.resumed.push_back(id);
    } else {
      impl_->Unload(*loaded, /*at_once=*/true);  // finished or halted: nothing to run
    }
  }
  return report;
}

Result<PinnedWorker> Runner::Impl::FindOrLoad(std::string_view id, bool* loaded_here) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    {
      std::unique_lock lock(mu);
      // A load or an unload of it under way here: its end is waited for.
      loading_done.wait_for(lock, std::chrono::seconds(30), [&] { return shut_down || !loading.count(id); });
      if (shut_down) return Status::Unavailable("runner '" + options.name + "' is shut down");
      auto it = workers.find(id);
      if (it != workers.end()) {
        it->second->Pin();  // under mu: an Unload (which takes mu first) sees it
        return PinnedWorker(it->second);
      }
      if (loading.count(id)) {
        return Status::Unavailable("workflow '" + std::string(id) + "' has been loading in runner '" + options.name +
                                   "' for 30 s");
      }
    }
    if (options.store == nullptr) return NotRunning(id);
    // The worker it loaded, pinned before it is published: looking it up
    // again could find it unloaded and load it twice for one call.
    Result<std::shared_ptr<Worker>> loaded = Load(id, std::nullopt, /*pin=*/true);
    if (loaded.ok()) {
      if (loaded_here != nullptr) *loaded_here = true;
      return PinnedWorker(std::move(*loaded));
    }
    if (!loaded.status().IsConflict()) return loaded.status();  // kConflict: loaded meanwhile by another call
  }
  return Status::Unavailable("workflow '" + std::string(id) + "' was unloaded again and again while loading");
}

Status Runner::Impl::InStore(std::string_view id) {
  if (options.store == nullptr) return NotRunning(id);
  Result<bool> exists = options.store->Exists(id);
  if (!exists.ok()) return exists.status();
  if (!*exists) {
    return Status::NotFound("no workflow '" + std::string(id) + "' in runner '" + options.name + "' or its store");
  }
  return Status::OK();
}

Result<WorkflowInfo> Runner::Impl::StoredInfo(std::string_view id) {
  if (options.store == nullptr) return NotRunning(id);
  HistoryReadOptions read;
  read.values = false;
  read.structure = false;
  Result<WorkflowHistory> history = ReadHistory(*options.store, id, read);
  if (!history.ok()) return history.status();
  WorkflowInfo info;
  info.id = std::string(id);
  info.workflow = history->definition.name;
  info.version = history->definition.version;
  info.state = history->state;
  info.error = history->halt_error;
  info.facts = history->facts;
  info.completed = history->completed;
  info.running = history->waiting_for.size();
  info.cursor = history->cursor;
  if (history->options) {
    info.options = *history->options;
  } else {
    std::lock_guard lock(mu);
    auto it = definitions.find({info.workflow, info.version});
    if (it != definitions.end()) info.options = it->second.defaults;
  }
  return info;
}

}  // namespace runic
