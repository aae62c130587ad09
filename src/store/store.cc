// The public Store handle: argument checks against the engine's limits and
// telemetry, in one place for every engine.
#include "runic/store.h"

#include <chrono>
#include <exception>
#include <limits>
#include <set>

#include "store/database_impl.h"
#include "store/store_rep.h"

namespace runic {

using internal::CheckListOptions;
using internal::CheckSize;
using internal::Instrumented;

const char* StoreOpName(StoreOp op) {
  switch (op) {
    case StoreOp::kSave:
      return "save";
    case StoreOp::kLoad:
      return "load";
    case StoreOp::kCheckpoint:
      return "checkpoint";
    case StoreOp::kAppend:
      return "append";
    case StoreOp::kStream:
      return "stream";
    case StoreOp::kSaveSnapshot:
      return "save_snapshot";
    case StoreOp::kLoadSnapshot:
      return "load_snapshot";
    case StoreOp::kSaveFact:
      return "save_fact";
    case StoreOp::kLoadFact:
      return "load_fact";
    case StoreOp::kDeleteFact:
      return "delete_fact";
    case StoreOp::kDelete:
      return "delete";
    case StoreOp::kList:
      return "list";
    case StoreOp::kExists:
      return "exists";
    case StoreOp::kTrim:
      return "trim";
    case StoreOp::kStats:
      return "stats";
    case StoreOp::kAppendMany:
      return "append_many";
    case StoreOp::kDescribe:
      return "describe";
    case StoreOp::kListFacts:
      return "list_facts";
    case StoreOp::kImportEvents:
      return "import_events";
    case StoreOp::kImportWorkflow:
      return "import_workflow";
    case StoreOp::kClaim:
      return "claim";
    case StoreOp::kRelease:
      return "release";
    case StoreOp::kAppendInbox:
      return "append_inbox";
    case StoreOp::kReadInbox:
      return "read_inbox";
    case StoreOp::kListInboxes:
      return "list_inboxes";
    case StoreOp::kListByState:
      return "list_by_state";
    case StoreOp::kListDue:
      return "list_due";
    case StoreOp::kImportInbox:
      return "import_inbox";
  }
  return "unknown";
}

Result<std::unique_ptr<Store>> DatabaseImpl::MakeStore(std::shared_ptr<DatabaseImpl> impl, std::string_view runner,
                                                       const StoreOptions& options) {
  Status s = CheckSize("runner name", runner, impl->limits().max_runner_name_bytes);
  if (!s.ok()) return s;
  Result<std::shared_ptr<internal::RunnerTables>> tables = impl->engine().OpenRunner(runner);
  if (!tables.ok()) return tables.status();
  auto rep = std::make_unique<Store::Rep>();
  rep->db = std::move(impl);
  rep->tables = std::move(*tables);
  rep->runner = std::string(runner);
  rep->telemetry = options.telemetry;
  rep->has_telemetry = options.telemetry.on_start || options.telemetry.on_stop || options.telemetry.on_exception;
  return std::unique_ptr<Store>(new Store(std::move(rep)));
}

Store::Store(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Store::~Store() = default;

const std::string& Store::runner_name() const { return rep_->runner; }
const StoreLimits& Store::limits() const { return rep_->db->limits(); }

// Save and Checkpoint are one operation under two names (and telemetry ops).
static Status SaveLog(Store::Rep& rep, StoreOp op, std::string_view id, std::string_view log) {
  return Instrumented(rep, op, id, log.size(), [&]() -> Status {
    if (Status w = rep.db->CheckWritable(); !w.ok()) return w;
    const StoreLimits& lim = rep.db->limits();
    Status s = CheckSize("workflow id", id, lim.max_id_bytes);
    if (s.ok()) s = CheckSize("log", log, lim.max_value_bytes);
    if (!s.ok()) return s;
    return rep.tables->SaveLog(id, log, internal::NowMicros());
  });
}

Status Store::Save(std::string_view id, std::string_view log) { return SaveLog(*rep_, StoreOp::kSave, id, log); }

Status Store::Checkpoint(std::string_view id, std::string_view log) {
  return SaveLog(*rep_, StoreOp::kCheckpoint, id, log);
}

Result<LogRecord> Store::Load(std::string_view id) {
  return Instrumented(*rep_, StoreOp::kLoad, id, 0, [&]() -> Result<LogRecord> {
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->LoadLog(id);
  });
}

// The checks every append (and import of events, `op`) passes before an
// engine sees it; `total` gets the bytes of its events and facts.
static Status CheckAppend(const StoreLimits& lim, std::string_view id, std::span<const std::string_view> events,
                          const AppendOptions& options, std::uint64_t* total, const char* op = "append") {
  *total = 0;
  for (std::string_view e : events) *total += e.size();
  for (const auto& fact : options.facts) *total += fact.second.size();
  Status s = CheckSize("workflow id", id, lim.max_id_bytes);
  if (!s.ok()) return s;
  if (events.empty()) return Status::InvalidArgument(std::string(op) + " of an empty batch");
  const std::size_t entries = events.size() + options.facts.size() + internal::ExtraEntries(lim, options);
  if (entries > lim.max_batch_events) {
    return Status::InvalidArgument("batch of " + std::to_string(entries) +
                                   " events, facts and index or inbox writes; the limit is " +
                                   std::to_string(lim.max_batch_events));
  }
  if (options.state_tag && !options.state_tag->empty()) {
    if (Status t = internal::CheckStateTag(lim, *options.state_tag); !t.ok()) return t;
  }
  for (const auto& [hash, value] : options.facts) {
    s = CheckSize("fact hash", hash, lim.max_id_bytes);
    if (s.ok()) s = CheckSize("fact value", value, lim.max_value_bytes);
    if (!s.ok()) return s;
  }
  if (*total > lim.max_batch_bytes) {
    return Status::InvalidArgument("batch of " + std::to_string(*total) + " bytes; the limit is " +
                                   std::to_string(lim.max_batch_bytes));
  }
  for (std::string_view e : events) {
    s = CheckSize("event", e, lim.max_value_bytes);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Result<std::uint64_t> Store::Append(std::string_view id, const std::vector<std::string_view>& events,
                                    const AppendOptions& options) {
  std::uint64_t total = 0;
  Status checked = CheckAppend(limits(), id, events, options, &total);
  if (Status w = rep_->db->CheckWritable(); !w.ok()) checked = w;
  return Instrumented(*rep_, StoreOp::kAppend, id, total, [&]() -> Result<std::uint64_t> {
    if (!checked.ok()) return checked;
    return rep_->tables->Append({id, events, &options});
  });
}

std::vector<Result<std::uint64_t>> Store::AppendMany(std::span<const AppendRequest> requests) {
  std::vector<Result<std::uint64_t>> results(requests.size(), Result<std::uint64_t>(std::uint64_t{0}));
  std::vector<internal::RunnerTables::AppendInput> inputs;
  std::vector<std::size_t> input_of;  // inputs[k] answers requests[input_of[k]]
  std::uint64_t bytes = 0;
  std::set<std::string_view> ids;
  const Status writable = rep_->db->CheckWritable();
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const AppendRequest& r = requests[i];
    std::uint64_t total = 0;
    Status s = CheckAppend(limits(), r.id, r.events, r.options, &total);
    if (!writable.ok()) s = writable;
    if (s.ok() && !ids.insert(r.id).second) {
      s = Status::InvalidArgument("workflow '" + std::string(r.id) + "' appears twice in one AppendMany");
    }
    if (!s.ok()) {
      results[i] = s;
      continue;
    }
    bytes += total;
    inputs.push_back({r.id, r.events, &r.options});
    input_of.push_back(i);
  }
  bool answered = false;
  const Status first_failure = Instrumented(*rep_, StoreOp::kAppendMany, "", bytes, [&]() -> Status {
    if (!inputs.empty()) {
      std::vector<Result<std::uint64_t>> written = rep_->tables->AppendMany(inputs);
      for (std::size_t k = 0; k < written.size(); ++k) results[input_of[k]] = std::move(written[k]);
    }
    answered = true;
    for (const Result<std::uint64_t>& r : results) {
      if (!r.ok()) return r.status();
    }
    return Status::OK();
  });
  if (!answered) {  // the engine threw (out of memory, say): nothing it was given is known to be written
    for (std::size_t i : input_of) results[i] = first_failure;
  }
  return results;
}

Result<std::uint64_t> Store::Append(std::string_view id, const std::vector<std::string>& events,
                                    const AppendOptions& options) {
  std::vector<std::string_view> views(events.begin(), events.end());
  return Append(id, views, options);
}

Result<std::unique_ptr<EventIterator>> Store::Stream(std::string_view id, const StreamOptions& options) {
  return Instrumented(*rep_, StoreOp::kStream, id, 0, [&]() -> Result<std::unique_ptr<EventIterator>> {
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->Stream(id, options.after, rep_->db);
  });
}

Status Store::SaveSnapshot(std::string_view id, std::uint64_t cursor, std::string_view bytes) {
  return Instrumented(*rep_, StoreOp::kSaveSnapshot, id, bytes.size(), [&]() -> Status {
    if (Status w = rep_->db->CheckWritable(); !w.ok()) return w;
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (s.ok()) s = CheckSize("snapshot", bytes, limits().max_value_bytes);
    if (!s.ok()) return s;
    // A snapshot stands for a workflow's state; without a log or a counter
    // there is no workflow, and List, Exists and Describe would never show
    // what was stored (though Stats would count it). Checked here, once for
    // every engine.
    Result<bool> exists = rep_->tables->Exists(id);
    if (!exists.ok()) return exists.status();
    if (!*exists) {
      return Status::NotFound("workflow '" + std::string(id) + "' has no log or events: nothing to snapshot");
    }
    return rep_->tables->SaveSnapshot(id, cursor, bytes);
  });
}

Result<Snapshot> Store::LoadSnapshot(std::string_view id) {
  return Instrumented(*rep_, StoreOp::kLoadSnapshot, id, 0, [&]() -> Result<Snapshot> {
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->LoadSnapshot(id);
  });
}

Status Store::SaveFact(std::string_view hash, std::string_view value) {
  return Instrumented(*rep_, StoreOp::kSaveFact, hash, value.size(), [&]() -> Status {
    if (Status w = rep_->db->CheckWritable(); !w.ok()) return w;
    Status s = CheckSize("fact hash", hash, limits().max_id_bytes);
    if (s.ok()) s = CheckSize("fact value", value, limits().max_value_bytes);
    if (!s.ok()) return s;
    return rep_->tables->SaveFact(hash, value);
  });
}

Result<std::string> Store::LoadFact(std::string_view hash) {
  return Instrumented(*rep_, StoreOp::kLoadFact, hash, 0, [&]() -> Result<std::string> {
    Status s = CheckSize("fact hash", hash, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->LoadFact(hash);
  });
}

Status Store::DeleteFact(std::string_view hash) {
  return Instrumented(*rep_, StoreOp::kDeleteFact, hash, 0, [&]() -> Status {
    if (Status w = rep_->db->CheckWritable(); !w.ok()) return w;
    Status s = CheckSize("fact hash", hash, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->DeleteFact(hash);
  });
}

Status Store::Delete(std::string_view id) { return Delete(id, DeleteOptions{}); }

Status Store::Delete(std::string_view id, const DeleteOptions& options) {
  return Instrumented(*rep_, StoreOp::kDelete, id, 0, [&]() -> Status {
    if (Status w = rep_->db->CheckWritable(); !w.ok()) return w;
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->Delete(id, options);
  });
}

Status Store::Claim(std::string_view id) {
  return Instrumented(*rep_, StoreOp::kClaim, id, 0, [&]() -> Status {
    if (Status w = rep_->db->CheckWritable(); !w.ok()) return w;
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->Claim(id);
  });
}

Status Store::Release(std::string_view id) {
  return Instrumented(*rep_, StoreOp::kRelease, id, 0, [&]() -> Status {
    if (Status w = rep_->db->CheckWritable(); !w.ok()) return w;
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->Release(id);
  });
}

Result<ListPage> Store::List(const ListOptions& options) {
  return Instrumented(*rep_, StoreOp::kList, options.prefix, 0, [&]() -> Result<ListPage> {
    if (Status s = CheckListOptions(limits(), options); !s.ok()) return s;
    return rep_->tables->List(options);
  });
}

Result<bool> Store::Exists(std::string_view id) {
  return Instrumented(*rep_, StoreOp::kExists, id, 0, [&]() -> Result<bool> {
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->Exists(id);
  });
}

Result<WorkflowSummary> Store::Describe(std::string_view id) {
  return Instrumented(*rep_, StoreOp::kDescribe, id, 0, [&]() -> Result<WorkflowSummary> {
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->Describe(id, /*count_events=*/true);
  });
}

Status Store::Trim(std::string_view id, std::uint64_t cursor) {
  return Instrumented(*rep_, StoreOp::kTrim, id, 0, [&]() -> Status {
    if (Status w = rep_->db->CheckWritable(); !w.ok()) return w;
    Status s = CheckSize("workflow id", id, limits().max_id_bytes);
    if (!s.ok()) return s;
    return rep_->tables->Trim(id, cursor);
  });
}

Result<StoreStats> Store::Stats() {
  return Instrumented(*rep_, StoreOp::kStats, {}, 0, [&]() -> Result<StoreStats> { return rep_->tables->Stats(); });
}

Result<ListPage> Store::ListFacts(const ListOptions& options) {
  return Instrumented(*rep_, StoreOp::kListFacts, options.prefix, 0, [&]() -> Result<ListPage> {
    if (Status s = CheckListOptions(limits(), options); !s.ok()) return s;
    return rep_->tables->ListFacts(options);
  });
}

Status Store::ImportEvents(std::string_view id, std::uint64_t first_sequence,
                           const std::vector<std::string_view>& events) {
  std::uint64_t total = 0;
  Status checked = CheckAppend(limits(), id, events, {}, &total, "import");
  if (checked.ok() && first_sequence == 0) {
    checked = Status::InvalidArgument("import into '" + std::string(id) + "': sequences start at 1, not 0");
  }
  // The last sequence stays below UINT64_MAX: ImportWorkflow's cursor does,
  // so that cursor + 1 (the next append) exists.
  if (checked.ok() && first_sequence > std::numeric_limits<std::uint64_t>::max() - events.size()) {
    checked =
        Status::InvalidArgument("import into '" + std::string(id) + "': sequence " + std::to_string(first_sequence) +
                                " + " + std::to_string(events.size()) + " events is beyond the largest sequence");
  }
  if (Status w = rep_->db->CheckWritable(); !w.ok()) checked = w;
  return Instrumented(*rep_, StoreOp::kImportEvents, id, total, [&]() -> Status {
    if (!checked.ok()) return checked;
    return rep_->tables->ImportEvents(id, first_sequence, events);
  });
}

// The checks of ImportWorkflow, with the name of the workflow in every message.
static Status CheckImport(const StoreLimits& lim, std::string_view id, const WorkflowImport& w) {
  Status s = CheckSize("workflow id", id, lim.max_id_bytes);
  if (!s.ok()) return s;
  const std::string where = "import of '" + std::string(id) + "': ";
  if (w.trimmed > w.cursor) {
    return Status::InvalidArgument(where + "trimmed " + std::to_string(w.trimmed) + " is above the cursor " +
                                   std::to_string(w.cursor));
  }
  if (w.cursor == std::numeric_limits<std::uint64_t>::max()) {
    return Status::InvalidArgument(where + "the cursor leaves no sequence for the next append");
  }
  if (w.log) {
    s = CheckSize("log", w.log->log, lim.max_value_bytes);
    if (!s.ok()) return Status::InvalidArgument(where + s.message());
  }
  if (w.snapshot) {
    s = CheckSize("snapshot", w.snapshot->bytes, lim.max_value_bytes);
    if (!s.ok()) return Status::InvalidArgument(where + s.message());
    if (w.snapshot->cursor > w.cursor) {
      return Status::InvalidArgument(where + "snapshot cursor " + std::to_string(w.snapshot->cursor) +
                                     " is above the cursor " + std::to_string(w.cursor));
    }
  }
  if (!w.state_tag.empty()) {
    if (Status t = internal::CheckStateTag(lim, w.state_tag); !t.ok())
      return Status::InvalidArgument(where + t.message());
  }
  if (w.cursor == 0 && (!w.state_tag.empty() || w.due != 0 || w.inbox_last != 0 || w.inbox_closed)) {
    return Status::InvalidArgument(where + "a workflow without events has no index entry and no inbox");
  }
  if (w.inbox_consumed > w.inbox_last) {
    return Status::InvalidArgument(where + "inbox consumed " + std::to_string(w.inbox_consumed) +
                                   " is above its last entry " + std::to_string(w.inbox_last));
  }
  if (w.inbox_last - w.inbox_consumed > lim.max_inbox_entries) {
    return Status::InvalidArgument(where + std::to_string(w.inbox_last - w.inbox_consumed) +
                                   " pending inbox entries; the limit is " + std::to_string(lim.max_inbox_entries));
  }
  return Status::OK();
}

Status Store::ImportWorkflow(std::string_view id, const WorkflowImport& w) {
  const std::uint64_t bytes = (w.log ? w.log->log.size() : 0) + (w.snapshot ? w.snapshot->bytes.size() : 0);
  return Instrumented(*rep_, StoreOp::kImportWorkflow, id, bytes, [&]() -> Status {
    if (Status s = rep_->db->CheckWritable(); !s.ok()) return s;
    if (Status s = CheckImport(limits(), id, w); !s.ok()) return s;
    return rep_->tables->ImportWorkflow(id, w);
  });
}

Result<WorkflowHead> Store::Peek(std::string_view id) {
  return Instrumented(*rep_, StoreOp::kDescribe, id, 0, [&]() -> Result<WorkflowHead> {
    if (Status s = CheckSize("workflow id", id, limits().max_id_bytes); !s.ok()) return s;
    Result<WorkflowSummary> d = rep_->tables->Describe(id, /*count_events=*/false);
    if (!d.ok()) return d.status();
    WorkflowHead h;
    h.cursor = d->cursor;
    h.trimmed = d->trimmed;
    h.has_log = d->has_log;
    h.updated_at = d->updated_at;
    h.state_tag = std::move(d->state_tag);
    h.due = d->due;
    h.inbox_last = d->inbox_last;
    h.inbox_consumed = d->inbox_consumed;
    h.inbox_closed = d->inbox_closed;
    return h;
  });
}

}  // namespace runic
