// The disk engine's runner tables: logs, appends, streams, snapshots,
// facts, listings, descriptions and stats of one runner (imports are in
// disk_import.cc).
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "store/disk/disk_engine.h"
#include "store/disk/read_cache.h"
#include "store/keys.h"

namespace runic::internal::disk {
namespace {

// One consistent state of the database for a read of several keys: a
// snapshot, or on a secondary (which has none) the exclusion of Refresh.
class ReadView {
 public:
  explicit ReadView(Shared& s) : s_(s) {
    if (s_.read_only) {
      refresh_lock_ = std::shared_lock(s_.refresh_mu);
    } else {
      snapshot_ = s_.db->GetSnapshot();
    }
  }
  ~ReadView() {
    if (snapshot_ != nullptr) s_.db->ReleaseSnapshot(snapshot_);
  }
  ReadView(const ReadView&) = delete;
  ReadView& operator=(const ReadView&) = delete;

  rocksdb::ReadOptions Options() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    return ro;
  }
  // Hands the snapshot (null on a secondary) to a reader that outlives the view.
  const rocksdb::Snapshot* ReleaseSnapshot() { return std::exchange(snapshot_, nullptr); }

 private:
  Shared& s_;
  const rocksdb::Snapshot* snapshot_ = nullptr;
  std::shared_lock<std::shared_mutex> refresh_lock_;
};

}  // namespace

// 24 bytes: counter, trimmed, time of the last append; then, when the
// workflow is in an index or has an inbox, 25 more (due, inbox last and
// consumed, a flags byte: 1 = inbox closed) and the state tag. Counters
// written before the time was recorded have 16 bytes and still decode (time
// 0), those before the indexes 24.
std::string EncodeCounter(const Counter& c) {
  std::string out;
  out.reserve(24);
  keys::PutFixed64(&out, c.counter);
  keys::PutFixed64(&out, c.trimmed);
  keys::PutFixed64(&out, static_cast<std::uint64_t>(c.updated_at_us));
  if (c.due == 0 && c.inbox_last == 0 && !c.inbox_closed && c.state_tag.empty()) return out;
  keys::PutFixed64(&out, c.due);
  keys::PutFixed64(&out, c.inbox_last);
  keys::PutFixed64(&out, c.inbox_consumed);
  out.push_back(c.inbox_closed ? '\1' : '\0');
  out.append(c.state_tag);
  return out;
}

Result<Counter> DecodeCounter(std::string_view v, std::string_view id) {
  auto malformed = [&] { return Status::Corruption("event counter of '" + std::string(id) + "' is malformed"); };
  if (v.size() != 16 && v.size() != 24 && v.size() < 49) return malformed();
  Counter c;
  c.counter = keys::GetFixed64(v);
  c.trimmed = keys::GetFixed64(v.substr(8));
  if (v.size() >= 24) c.updated_at_us = static_cast<std::int64_t>(keys::GetFixed64(v.substr(16)));
  if (v.size() >= 49) {
    c.due = keys::GetFixed64(v.substr(24));
    c.inbox_last = keys::GetFixed64(v.substr(32));
    c.inbox_consumed = keys::GetFixed64(v.substr(40));
    if (static_cast<unsigned char>(v[48]) > 1) return malformed();
    c.inbox_closed = v[48] == '\1';
    c.state_tag.assign(v.substr(49));
    if (c.state_tag.find('\0') != std::string::npos) return malformed();
  }
  if (c.trimmed > c.counter || c.inbox_consumed > c.inbox_last) {
    return Status::Corruption("event counter of '" + std::string(id) + "' is inconsistent");
  }
  return c;
}

Status DiskTables::EnsureRegistered() {
  if (s_->read_only) return Status::OK();
  if (registered_.load(std::memory_order_acquire)) return Status::OK();
  std::string ignored;
  const rocksdb::Slice name(runner_);
  rocksdb::Status found = s_->db->Get(rocksdb::ReadOptions(), s_->cf[kRunners], name, &ignored);
  if (found.IsNotFound()) {
    rocksdb::WriteBatch batch;
    batch.Put(s_->cf[kRunners], name, rocksdb::Slice());
    Status st = s_->Write(&batch, "registering runner '" + runner_ + "'");
    if (!st.ok()) return st;
  } else if (!found.ok()) {
    return FromRocks(found, "reading runner '" + runner_ + "'");
  }
  registered_.store(true, std::memory_order_release);
  return Status::OK();
}

Status DiskTables::SaveLog(std::string_view id, std::string_view log, std::int64_t updated_at_us) {
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) return r;
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  auto value = std::make_shared<std::string>();
  value->reserve(8 + log.size());
  keys::PutFixed64(value.get(), static_cast<std::uint64_t>(updated_at_us));
  value->append(log);
  std::lock_guard lock(s_->StripeOf(wkey));
  const std::uint64_t epoch = s_->cache.epoch();
  rocksdb::WriteBatch batch;
  batch.Put(s_->cf[kLogs], wkey, *value);
  Status st = s_->Write(&batch, "saving the log of '" + std::string(id) + "'");
  if (st.ok()) s_->cache.Put(CacheKey('L', wkey), std::move(value), epoch);
  return st;
}

Result<LogRecord> DiskTables::LoadLog(std::string_view id) {
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  Result<ReadCache::Value> v = CachedGet(kLogs, 'L', wkey, id, "log");
  if (!v.ok()) return v.status();
  const std::string& raw = **v;
  if (raw.size() < 8) return Status::Corruption("the log of '" + std::string(id) + "' is malformed");
  LogRecord rec;
  rec.updated_at = std::chrono::system_clock::time_point(
      std::chrono::microseconds(static_cast<std::int64_t>(keys::GetFixed64(raw))));
  rec.log.assign(raw, 8);
  return rec;
}

Result<std::uint64_t> DiskTables::Append(const AppendInput& in) {
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) return r;
  const std::string wkey = keys::WorkflowKey(prefix_, in.id);
  std::lock_guard lock(s_->StripeOf(wkey));
  rocksdb::WriteBatch batch;
  Result<std::uint64_t> seq = AddAppend(&batch, wkey, in);
  if (!seq.ok()) return seq;
  Status st = s_->Write(&batch, "appending to '" + std::string(in.id) + "'");
  InvalidateFacts(in.options->facts);
  if (!st.ok()) return st;
  return seq;
}

// One WriteBatch for every input that passes its checks.
std::vector<Result<std::uint64_t>> DiskTables::AppendMany(std::span<const AppendInput> inputs) {
  std::vector<Result<std::uint64_t>> results;
  results.reserve(inputs.size());
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) {
    results.assign(inputs.size(), r);
    return results;
  }
  std::vector<std::string> wkeys;
  wkeys.reserve(inputs.size());
  std::vector<std::size_t> stripes;
  for (const AppendInput& in : inputs) {
    wkeys.push_back(keys::WorkflowKey(prefix_, in.id));
    stripes.push_back(s_->StripeIndex(wkeys.back()));
  }
  // Every stripe involved, locked in index order so that two batches never
  // wait on each other.
  std::sort(stripes.begin(), stripes.end());
  stripes.erase(std::unique(stripes.begin(), stripes.end()), stripes.end());
  std::vector<std::unique_lock<std::mutex>> locks;
  locks.reserve(stripes.size());
  for (std::size_t i : stripes) locks.emplace_back(s_->stripes[i]);

  rocksdb::WriteBatch batch;
  bool any = false;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    results.push_back(AddAppend(&batch, wkeys[i], inputs[i]));
    any = any || results.back().ok();
  }
  if (!any) return results;
  Status st = s_->Write(&batch, "appending to " + std::to_string(inputs.size()) + " workflows");
  for (const AppendInput& in : inputs) InvalidateFacts(in.options->facts);
  if (!st.ok()) {
    for (Result<std::uint64_t>& r : results) {
      if (r.ok()) r = st;
    }
  }
  return results;
}

Result<std::unique_ptr<EventIterator>> DiskTables::Stream(std::string_view id, std::uint64_t after,
                                                          std::shared_ptr<const void> database) {
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  ReadView view(*s_);
  bool found = false;
  Result<Counter> c = s_->ReadCounter(view.Options(), wkey, id, &found);
  Status st = !c.ok()  ? c.status()
              : !found ? Status::NotFound("no event stream for '" + std::string(id) + "'")
                       : CheckNotTrimmed(id, after, c->trimmed);
  if (!st.ok()) return st;
  if (after >= c->counter) return EmptyIterator();
  return NewDiskIterator(std::move(database), s_, view.ReleaseSnapshot(), std::move(wkey), after, c->counter);
}

Status DiskTables::SaveSnapshot(std::string_view id, std::uint64_t cursor, std::string_view bytes) {
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) return r;
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  std::lock_guard lock(s_->StripeOf(wkey));
  Result<Counter> c = s_->ReadCounter(rocksdb::ReadOptions(), wkey, id);
  if (!c.ok()) return c.status();
  if (cursor > c->counter) {
    return Status::InvalidArgument("snapshot cursor " + std::to_string(cursor) + " is above workflow '" +
                                   std::string(id) + "' counter " + std::to_string(c->counter));
  }
  std::string value;
  keys::PutFixed64(&value, cursor);
  value.append(bytes);
  rocksdb::WriteBatch batch;
  batch.Put(s_->cf[kSnapshots], wkey, value);
  return s_->Write(&batch, "saving the snapshot of '" + std::string(id) + "'");
}

Result<Snapshot> DiskTables::LoadSnapshot(std::string_view id) {
  std::string v;
  rocksdb::Status rs = s_->db->Get(rocksdb::ReadOptions(), s_->cf[kSnapshots], keys::WorkflowKey(prefix_, id), &v);
  if (rs.IsNotFound()) return Status::NotFound("no snapshot for '" + std::string(id) + "'");
  if (!rs.ok()) return FromRocks(rs, "loading the snapshot of '" + std::string(id) + "'");
  if (v.size() < 8) return Status::Corruption("the snapshot of '" + std::string(id) + "' is malformed");
  return Snapshot{keys::GetFixed64(v), v.substr(8)};
}

Status DiskTables::SaveFact(std::string_view hash, std::string_view value) {
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) return r;
  const std::string fkey = prefix_ + std::string(hash);
  auto cached = std::make_shared<const std::string>(value);
  std::lock_guard lock(s_->StripeOf(fkey));
  const std::uint64_t epoch = s_->cache.epoch();
  rocksdb::WriteBatch batch;
  batch.Put(s_->cf[kFacts], fkey, *cached);
  Status st = s_->Write(&batch, "saving a fact");
  if (st.ok()) s_->cache.Put(CacheKey('F', fkey), std::move(cached), epoch);
  return st;
}

Result<std::string> DiskTables::LoadFact(std::string_view hash) {
  Result<ReadCache::Value> v = CachedGet(kFacts, 'F', prefix_ + std::string(hash), hash, "fact");
  if (!v.ok()) return v.status();
  return std::string(**v);
}

Status DiskTables::DeleteFact(std::string_view hash) {
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) return r;
  const std::string fkey = prefix_ + std::string(hash);
  std::lock_guard lock(s_->StripeOf(fkey));
  rocksdb::WriteBatch batch;
  batch.Delete(s_->cf[kFacts], fkey);
  Status st = s_->Write(&batch, "deleting a fact");
  s_->cache.Erase(CacheKey('F', fkey));
  return st;
}

Status DiskTables::Delete(std::string_view id, const DeleteOptions& options) {
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) return r;
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  // Appends and inbox appends take the same stripe: the conditions hold
  // until the batch is written.
  std::lock_guard lock(s_->StripeOf(wkey));
  bool found = false;
  Result<Counter> c = s_->ReadCounter(rocksdb::ReadOptions(), wkey, id, &found);
  if (options.expected_cursor || options.expected_inbox_last) {
    if (!c.ok()) return c.status();
    if (!found) return Status::NotFound("no workflow '" + std::string(id) + "' to delete");
    if (Status s = DeleteConflict(id, options, c->counter, c->inbox_last); !s.ok()) return s;
  }
  rocksdb::WriteBatch batch;
  if (c.ok()) {
    AddWaitsRemoval(&batch, id, *c);
  } else if (!c.status().IsCorruption()) {
    return c.status();  // a damaged record is deleted all the same; its index keys stay (Stats counts them)
  }
  batch.Delete(s_->cf[kLogs], wkey);
  batch.Delete(s_->cf[kCounters], wkey);
  batch.Delete(s_->cf[kSnapshots], wkey);
  batch.DeleteRange(s_->cf[kEvents], wkey, keys::PrefixSuccessor(wkey));
  Status st = s_->Write(&batch, "deleting '" + std::string(id) + "'");
  s_->cache.Erase(CacheKey('L', wkey));
  return st;
}

Result<ListPage> DiskTables::List(const ListOptions& options) {
  std::string range = prefix_;
  keys::AppendEscaped(&range, options.prefix);
  std::string start = range;
  if (!options.start_after.empty() && options.start_after >= options.prefix) {
    start = keys::WorkflowKey(prefix_, options.start_after);
    start.push_back('\0');  // just past start_after itself
  }
  const std::string limit = keys::PrefixSuccessor(range);
  ReadView view(*s_);
  rocksdb::ReadOptions ro = view.Options();
  rocksdb::Slice upper(limit);
  if (!limit.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> logs(s_->db->NewIterator(ro, s_->cf[kLogs]));
  std::unique_ptr<rocksdb::Iterator> counters(s_->db->NewIterator(ro, s_->cf[kCounters]));
  logs->Seek(start);
  counters->Seek(start);
  ListPage page;
  Status st;
  // Merge the two sorted key sets; an id with both appears once.
  while (logs->Valid() || counters->Valid()) {
    rocksdb::Slice key;
    if (!counters->Valid() || (logs->Valid() && logs->key().compare(counters->key()) <= 0)) {
      key = logs->key();
    } else {
      key = counters->key();
    }
    const std::string current = key.ToString();
    if (page.ids.size() == options.limit) {
      page.more = true;
      break;
    }
    std::optional<std::string> id = keys::DecodeId(current, prefix_);
    if (!id) {
      st = Status::Corruption("malformed workflow key in runner '" + runner_ + "'");
      break;
    }
    page.ids.push_back(std::move(*id));
    if (logs->Valid() && logs->key() == current) logs->Next();
    if (counters->Valid() && counters->key() == current) counters->Next();
  }
  if (st.ok() && !logs->status().ok()) st = FromRocks(logs->status(), "listing workflows");
  if (st.ok() && !counters->status().ok()) st = FromRocks(counters->status(), "listing workflows");
  if (!st.ok()) return st;
  return page;
}

Result<bool> DiskTables::Exists(std::string_view id) {
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  std::string v;
  for (Table t : {kCounters, kLogs}) {
    rocksdb::Status rs = s_->db->Get(rocksdb::ReadOptions(), s_->cf[t], wkey, &v);
    if (rs.ok()) return true;
    if (!rs.IsNotFound()) return FromRocks(rs, "checking '" + std::string(id) + "'");
  }
  return false;
}

Result<WorkflowSummary> DiskTables::Describe(std::string_view id, bool count_events) {
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  ReadView view(*s_);
  const rocksdb::ReadOptions ro = view.Options();
  WorkflowSummary sum;
  std::int64_t updated_at_us = 0;
  std::string v;
  rocksdb::Status rs = s_->db->Get(ro, s_->cf[kLogs], wkey, &v);
  if (rs.ok()) {
    if (v.size() < 8) return Status::Corruption("the log of '" + std::string(id) + "' is malformed");
    sum.has_log = true;
    sum.log_bytes = v.size() - 8;
    updated_at_us = static_cast<std::int64_t>(keys::GetFixed64(v));
  } else if (!rs.IsNotFound()) {
    return FromRocks(rs, "loading the log of '" + std::string(id) + "'");
  }
  bool found = false;
  Result<Counter> c = s_->ReadCounter(ro, wkey, id, &found);
  if (!c.ok()) return c.status();
  if (!sum.has_log && !found) return Status::NotFound("no workflow '" + std::string(id) + "'");
  sum.cursor = c->counter;
  sum.trimmed = c->trimmed;
  sum.events = c->counter - c->trimmed;
  updated_at_us = std::max(updated_at_us, c->updated_at_us);
  rs = s_->db->Get(ro, s_->cf[kSnapshots], wkey, &v);
  if (rs.ok()) {
    if (v.size() < 8) return Status::Corruption("the snapshot of '" + std::string(id) + "' is malformed");
    sum.has_snapshot = true;
    sum.snapshot_cursor = keys::GetFixed64(v);
    sum.snapshot_bytes = v.size() - 8;
  } else if (!rs.IsNotFound()) {
    return FromRocks(rs, "loading the snapshot of '" + std::string(id) + "'");
  }
  if (count_events && sum.events > 0) {
    const std::string upper = keys::EventKey(wkey, c->counter + 1);
    const rocksdb::Slice upper_bound(upper);
    rocksdb::ReadOptions events_ro = ro;
    events_ro.iterate_upper_bound = &upper_bound;
    std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(events_ro, s_->cf[kEvents]));
    std::uint64_t n = 0;
    for (it->Seek(keys::EventKey(wkey, c->trimmed + 1)); it->Valid(); it->Next()) {
      ++n;
      sum.event_bytes += it->value().size();
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading the events of '" + std::string(id) + "'");
    // As in Stream: a missing event is damage, never a shorter stream.
    if (n != sum.events) {
      return Status::Corruption("workflow '" + std::string(id) + "' has " + std::to_string(n) + " of its " +
                                std::to_string(sum.events) + " events");
    }
  }
  sum.updated_at = std::chrono::system_clock::time_point(std::chrono::microseconds(updated_at_us));
  sum.state_tag = c->state_tag;
  sum.due = c->due;
  sum.inbox_last = c->inbox_last;
  sum.inbox_consumed = c->inbox_consumed;
  sum.inbox_pending = c->inbox_last - c->inbox_consumed;
  sum.inbox_closed = c->inbox_closed;
  return sum;
}

Status DiskTables::Trim(std::string_view id, std::uint64_t cursor) {
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) return r;
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  std::lock_guard lock(s_->StripeOf(wkey));
  bool found = false;
  Result<Counter> c = s_->ReadCounter(rocksdb::ReadOptions(), wkey, id, &found);
  if (!c.ok()) return c.status();
  if (!found) return Status::NotFound("no event stream for '" + std::string(id) + "'");
  if (cursor > c->counter) {
    return Status::InvalidArgument("trim cursor " + std::to_string(cursor) + " is above workflow '" + std::string(id) +
                                   "' counter " + std::to_string(c->counter));
  }
  if (cursor <= c->trimmed) return Status::OK();
  rocksdb::WriteBatch batch;
  batch.DeleteRange(s_->cf[kEvents], keys::EventKey(wkey, c->trimmed + 1), keys::EventKey(wkey, cursor + 1));
  Counter trimmed = *c;
  trimmed.trimmed = cursor;
  batch.Put(s_->cf[kCounters], wkey, EncodeCounter(trimmed));
  return s_->Write(&batch, "trimming '" + std::string(id) + "'");
}

Result<StoreStats> DiskTables::Stats() {
  StoreStats stats;
  ReadView view(*s_);
  rocksdb::ReadOptions ro = view.Options();
  const std::string limit = keys::PrefixSuccessor(prefix_);
  rocksdb::Slice upper(limit);
  ro.iterate_upper_bound = &upper;
  struct Sum {
    Table table;
    std::uint64_t* count;
    std::uint64_t* bytes;
    std::size_t header;
  };
  std::uint64_t counters = 0, counter_bytes = 0;
  Status st;
  for (Sum sum : {Sum{kLogs, &stats.logs, &stats.log_bytes, 8}, Sum{kEvents, &stats.events, &stats.event_bytes, 0},
                  Sum{kSnapshots, &stats.snapshots, &stats.snapshot_bytes, 8},
                  Sum{kFacts, &stats.facts, &stats.fact_bytes, 0}, Sum{kCounters, &counters, &counter_bytes, 0}}) {
    std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[sum.table]));
    for (it->Seek(prefix_); it->Valid(); it->Next()) {
      ++*sum.count;
      *sum.bytes += it->value().size() - std::min(sum.header, it->value().size());
      if (sum.table == kCounters) {
        Result<Counter> c = DecodeCounter(std::string_view(it->value().data(), it->value().size()), "?");
        if (c.ok() && c->counter > c->trimmed) ++stats.workflows_with_events;
      }
    }
    if (!it->status().ok() && st.ok()) st = FromRocks(it->status(), "computing stats");
  }
  if (has_waits()) {
    std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kWaits]));
    for (it->Seek(prefix_); it->Valid(); it->Next()) {
      switch (it->key().size() > prefix_.size() ? it->key()[prefix_.size()] : '\0') {
        case 'i':
          ++stats.inbox_entries;
          stats.inbox_bytes += it->value().size();
          break;
        case 's':
          ++stats.state_entries;
          break;
        case 'd':
          ++stats.due_entries;
          break;
        default:
          break;
      }
    }
    if (!it->status().ok() && st.ok()) st = FromRocks(it->status(), "computing stats");
  }
  if (!st.ok()) return st;
  return stats;
}

Result<ListPage> DiskTables::ListFacts(const ListOptions& options) {
  const std::string range = prefix_ + options.prefix;
  std::string start = range;
  if (!options.start_after.empty() && options.start_after >= options.prefix) {
    start = prefix_ + options.start_after;
    start.push_back('\0');  // just past start_after itself
  }
  const std::string limit = keys::PrefixSuccessor(range);
  ReadView view(*s_);
  rocksdb::ReadOptions ro = view.Options();
  rocksdb::Slice upper(limit);
  if (!limit.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kFacts]));
  ListPage page;
  for (it->Seek(start); it->Valid(); it->Next()) {
    if (page.ids.size() == options.limit) {
      page.more = true;
      break;
    }
    page.ids.emplace_back(it->key().data() + prefix_.size(), it->key().size() - prefix_.size());
  }
  if (!it->status().ok()) return FromRocks(it->status(), "listing facts");
  return page;
}

// Adds one append's events, counter and facts to `batch`; returns the new
// counter. The caller holds the stripe of `wkey`. Adds nothing on a
// conflict or error.
Result<std::uint64_t> DiskTables::AddAppend(rocksdb::WriteBatch* batch, const std::string& wkey,
                                            const AppendInput& in) {
  Result<Counter> c = s_->ReadCounter(rocksdb::ReadOptions(), wkey, in.id);
  if (!c.ok()) return c.status();
  const AppendOptions& o = *in.options;
  if (o.expected_cursor && *o.expected_cursor != c->counter) {
    return Status::Conflict("workflow '" + std::string(in.id) + "' is at cursor " + std::to_string(c->counter) +
                            ", not the expected " + std::to_string(*o.expected_cursor));
  }
  Counter next = std::move(*c);
  if (Status s = AddWaits(batch, in.id, next, o); !s.ok()) return s;
  std::string key = keys::EventKey(wkey, 0);
  std::uint64_t seq = next.counter;
  for (std::string_view e : in.events) {
    key.resize(wkey.size());
    keys::PutFixed64(&key, ++seq);
    batch->Put(s_->cf[kEvents], key, rocksdb::Slice(e.data(), e.size()));
  }
  next.counter = seq;
  next.updated_at_us = NowMicros();
  batch->Put(s_->cf[kCounters], wkey, EncodeCounter(next));
  std::string fkey;
  for (const auto& [hash, value] : o.facts) {
    fkey.assign(prefix_).append(hash);
    batch->Put(s_->cf[kFacts], fkey, rocksdb::Slice(value.data(), value.size()));
  }
  return seq;
}

// The facts' stripes are not held by appends: after writing facts, drop
// their cached values and any fill that read them before the write.
void DiskTables::InvalidateFacts(FactList facts) {
  for (const auto& fact : facts) s_->cache.Invalidate(CacheKey('F', prefix_ + std::string(fact.first)));
}

std::string DiskTables::CacheKey(char table, std::string_view key) {
  std::string out(1, table);
  out.append(key);
  return out;
}

// A point read through the read cache. A miss fills the cache under the
// key's stripe lock, so it cannot race with a write of the same key.
Result<ReadCache::Value> DiskTables::CachedGet(Table table, char tag, const std::string& key, std::string_view id,
                                               const char* what) {
  const std::string ckey = CacheKey(tag, key);
  if (ReadCache::Value v = s_->cache.Get(ckey)) return v;
  std::unique_lock<std::mutex> lock;
  if (s_->cache.enabled()) lock = std::unique_lock(s_->StripeOf(key));
  const std::uint64_t epoch = s_->cache.epoch();
  auto value = std::make_shared<std::string>();
  rocksdb::Status rs = s_->db->Get(rocksdb::ReadOptions(), s_->cf[table], key, value.get());
  if (rs.IsNotFound()) return Status::NotFound(std::string("no ") + what + " for '" + std::string(id) + "'");
  if (!rs.ok()) return FromRocks(rs, std::string("loading the ") + what + " of '" + std::string(id) + "'");
  s_->cache.Put(ckey, value, epoch);
  return ReadCache::Value(std::move(value));
}

}  // namespace runic::internal::disk
