// The disk engine's imports (Store::ImportEvents, Store::ImportWorkflow):
// a workflow written as given, in one WriteBatch, under its stripe lock.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <mutex>
#include <shared_mutex>

#include "store/disk/disk_engine.h"
#include "store/index_keys.h"
#include "store/keys.h"

namespace runic::internal::disk {

// Written where the stream will have them, under the stripe lock so that
// ImportWorkflow's check and write see no import in between. The counter
// is not touched: streams read up to it, so these stay out of sight.
Status DiskTables::ImportEvents(std::string_view id, std::uint64_t first_sequence,
                                std::span<const std::string_view> events) {
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) return r;
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  std::lock_guard lock(s_->StripeOf(wkey));
  rocksdb::WriteBatch batch;
  std::string key;
  std::uint64_t seq = first_sequence;
  for (std::string_view e : events) {
    key.assign(wkey);
    keys::PutFixed64(&key, seq++);
    batch.Put(s_->cf[kEvents], key, rocksdb::Slice(e.data(), e.size()));
  }
  return s_->Write(&batch, "importing events of '" + std::string(id) + "'");
}

Status DiskTables::ImportWorkflow(std::string_view id, const WorkflowImport& w) {
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) return r;
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  const std::string wend = keys::PrefixSuccessor(wkey);  // past every event of the workflow
  const std::string first = keys::EventKey(wkey, w.trimmed + 1);
  const std::string past = keys::EventKey(wkey, w.cursor + 1);  // validated: cursor < UINT64_MAX
  std::lock_guard lock(s_->StripeOf(wkey));
  // One pass over the workflow's events: (trimmed, cursor] must all be
  // there; what lies below or above goes, with a range delete only where
  // there is something to delete.
  bool below = false, above = false;
  {
    rocksdb::ReadOptions ro;
    const rocksdb::Slice upper(wend);
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kEvents]));
    it->Seek(wkey);
    below = it->Valid() && it->key().compare(first) < 0;
    std::uint64_t expected = w.trimmed + 1;
    if (it->status().ok()) {
      for (it->Seek(first); expected <= w.cursor && it->Valid(); it->Next()) {
        const rocksdb::Slice key = it->key();
        if (key.size() != wkey.size() + 8 ||
            keys::GetFixed64(std::string_view(key.data() + wkey.size(), 8)) != expected) {
          break;
        }
        ++expected;
      }
    }
    if (!it->status().ok()) return FromRocks(it->status(), "reading the events of '" + std::string(id) + "'");
    if (expected <= w.cursor) {
      return Status::InvalidArgument("import of '" + std::string(id) + "': event " + std::to_string(expected) +
                                     " is missing; events " + std::to_string(w.trimmed + 1) + " to " +
                                     std::to_string(w.cursor) + " must be imported first");
    }
    above = it->Valid();  // the first key past the range, if any
  }
  Result<Counter> old = s_->ReadCounter(rocksdb::ReadOptions(), wkey, id);
  if (!old.ok()) return old.status();
  Status inbox = CheckImportedInbox(id, w);
  if (!inbox.ok()) return inbox;
  rocksdb::WriteBatch batch;
  if (below) batch.DeleteRange(s_->cf[kEvents], wkey, first);
  if (above) batch.DeleteRange(s_->cf[kEvents], past, wend);
  // The old index entries go; the inbox keeps the imported entries in
  // (consumed, last] only.
  if (!old->state_tag.empty()) batch.Delete(s_->cf[kWaits], StateKey(old->state_tag, id));
  if (old->due != 0) batch.Delete(s_->cf[kWaits], DueKey(old->due, id));
  batch.DeleteRange(s_->cf[kWaits], InboxKey(id, 0), InboxKey(id, w.inbox_consumed + 1));
  batch.DeleteRange(s_->cf[kWaits], InboxKey(id, w.inbox_last + 1), keys::AfterInboxesOf(prefix_ + 'i', id));
  // No counter for a workflow without events, as after Save alone (it has
  // no index entry nor inbox either: CheckImport).
  if (w.cursor > 0) {
    Counter c{w.cursor,     w.trimmed,        ToMicros(w.updated_at), w.due,
              w.inbox_last, w.inbox_consumed, w.inbox_closed,         w.state_tag};
    batch.Put(s_->cf[kCounters], wkey, EncodeCounter(c));
    if (!c.state_tag.empty()) batch.Put(s_->cf[kWaits], StateKey(c.state_tag, id), rocksdb::Slice());
    if (c.due != 0) batch.Put(s_->cf[kWaits], DueKey(c.due, id), rocksdb::Slice());
  } else {
    batch.Delete(s_->cf[kCounters], wkey);
  }
  if (w.log) {
    std::string value;
    value.reserve(8 + w.log->log.size());
    keys::PutFixed64(&value, static_cast<std::uint64_t>(ToMicros(w.log->updated_at)));
    value.append(w.log->log);
    batch.Put(s_->cf[kLogs], wkey, value);
  } else {
    batch.Delete(s_->cf[kLogs], wkey);
  }
  if (w.snapshot) {
    std::string value;
    value.reserve(8 + w.snapshot->bytes.size());
    keys::PutFixed64(&value, w.snapshot->cursor);
    value.append(w.snapshot->bytes);
    batch.Put(s_->cf[kSnapshots], wkey, value);
  } else {
    batch.Delete(s_->cf[kSnapshots], wkey);
  }
  Status st = s_->Write(&batch, "importing '" + std::string(id) + "'");
  s_->cache.Erase(CacheKey('L', wkey));  // under the stripe: no fill from before the write survives
  return st;
}

// Every entry of (consumed, last] must have been imported, as events must.
Status DiskTables::CheckImportedInbox(std::string_view id, const WorkflowImport& w) {
  if (w.inbox_last == w.inbox_consumed) return Status::OK();
  const std::string past = InboxKey(id, w.inbox_last + 1);
  rocksdb::ReadOptions ro;
  const rocksdb::Slice upper(past);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kWaits]));
  std::uint64_t expected = w.inbox_consumed + 1;
  for (it->Seek(InboxKey(id, expected)); it->Valid() && expected <= w.inbox_last; it->Next(), ++expected) {
    const rocksdb::Slice key = it->key();
    if (keys::GetFixed64(std::string_view(key.data() + key.size() - 8, 8)) != expected) break;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the inbox of '" + std::string(id) + "'");
  if (expected <= w.inbox_last) {
    return Status::InvalidArgument("import of '" + std::string(id) + "': inbox entry " + std::to_string(expected) +
                                   " is missing; entries " + std::to_string(w.inbox_consumed + 1) + " to " +
                                   std::to_string(w.inbox_last) + " must be imported first");
  }
  return Status::OK();
}

}  // namespace runic::internal::disk
