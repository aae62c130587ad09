// The disk engine's inboxes and state and due-time indexes, in the kWaits
// column family under the runner prefix, in the layout of index_keys.h:
// inbox entries (-> their bytes) behind 'i', state entries behind 's', due
// entries behind 'd' (-> ""). The
// workflow's own place in them (its tag, due time, inbox cursors and closed
// flag) is in its counter record, which every append and inbox append reads
// under the workflow's stripe lock: a write and the index keys it moves are
// one WriteBatch. The pending index is the inbox entries themselves (a
// consumed entry is deleted), so a workflow is pending exactly while one of
// its entries is there.
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <mutex>
#include <shared_mutex>

#include "store/disk/disk_engine.h"
#include "store/index_keys.h"
#include "store/keys.h"

namespace runic::internal::disk {

std::string DiskTables::InboxKey(std::string_view id, std::uint64_t seq) const {
  return keys::InboxEntryKey(prefix_ + 'i', id, seq);
}

std::string DiskTables::StateKey(std::string_view tag, std::string_view id) const {
  return keys::StateEntryKey(prefix_ + 's', tag, id);
}

std::string DiskTables::DueKey(std::uint64_t due, std::string_view id) const {
  return keys::DueEntryKey(prefix_ + 'd', due, id);
}

Status DiskTables::AddWaits(rocksdb::WriteBatch* batch, std::string_view id, Counter& c, const AppendOptions& o) {
  if (o.consume_inbox_through > c.inbox_last) {
    return ConsumeAbove(id, o.consume_inbox_through, c.inbox_last);
  }
  if (!has_waits() && (o.state_tag || o.due || o.consume_inbox_through != 0)) {
    return Status::InvalidArgument("database " + s_->dir.path() + " is open read-only");
  }
  if (o.state_tag && *o.state_tag != c.state_tag) {
    if (!c.state_tag.empty()) batch->Delete(s_->cf[kWaits], StateKey(c.state_tag, id));
    if (!o.state_tag->empty()) batch->Put(s_->cf[kWaits], StateKey(*o.state_tag, id), rocksdb::Slice());
    c.state_tag.assign(*o.state_tag);
  }
  if (o.due && *o.due != c.due) {
    if (c.due != 0) batch->Delete(s_->cf[kWaits], DueKey(c.due, id));
    if (*o.due != 0) batch->Put(s_->cf[kWaits], DueKey(*o.due, id), rocksdb::Slice());
    c.due = *o.due;
  }
  if (o.consume_inbox_through > c.inbox_consumed) {
    batch->DeleteRange(s_->cf[kWaits], InboxKey(id, c.inbox_consumed + 1), InboxKey(id, o.consume_inbox_through + 1));
    c.inbox_consumed = o.consume_inbox_through;
  }
  if (o.close_inbox) c.inbox_closed = true;
  return Status::OK();
}

void DiskTables::AddWaitsRemoval(rocksdb::WriteBatch* batch, std::string_view id, const Counter& c) {
  if (!has_waits()) return;
  if (!c.state_tag.empty()) batch->Delete(s_->cf[kWaits], StateKey(c.state_tag, id));
  if (c.due != 0) batch->Delete(s_->cf[kWaits], DueKey(c.due, id));
  const std::string inbox = keys::WorkflowKey(prefix_ + 'i', id);
  batch->DeleteRange(s_->cf[kWaits], inbox, keys::PrefixSuccessor(inbox));
}

Result<std::uint64_t> DiskTables::AppendInbox(std::string_view id, std::string_view entry) {
  Result<std::uint64_t> seq = [&]() -> Result<std::uint64_t> {
    std::shared_lock drop(drop_mu);
    if (Status r = EnsureRegistered(); !r.ok()) return r;
    const std::string wkey = keys::WorkflowKey(prefix_, id);
    std::lock_guard lock(s_->StripeOf(wkey));
    bool found = false;
    Result<Counter> c = s_->ReadCounter(rocksdb::ReadOptions(), wkey, id, &found);
    if (!c.ok()) return c.status();
    if (!found || c->counter == 0) {
      return NoInbox(id);
    }
    if (c->inbox_closed) return InboxClosed(id);
    const std::size_t limit = EmbeddedLimits().max_inbox_entries;
    if (c->inbox_last - c->inbox_consumed >= limit) {
      return InboxFull(id, limit);
    }
    if (!has_waits()) return Status::InvalidArgument("database " + s_->dir.path() + " is open read-only");
    Counter next = std::move(*c);
    ++next.inbox_last;
    rocksdb::WriteBatch batch;
    batch.Put(s_->cf[kWaits], InboxKey(id, next.inbox_last), rocksdb::Slice(entry.data(), entry.size()));
    batch.Put(s_->cf[kCounters], wkey, EncodeCounter(next));
    Status st = s_->Write(&batch, "appending to the inbox of '" + std::string(id) + "'");
    if (!st.ok()) return st;
    return next.inbox_last;
  }();
  if (seq.ok()) listeners_->Notify(id);
  return seq;
}

Result<InboxPage> DiskTables::ReadInbox(std::string_view id, const InboxReadOptions& options) {
  InboxPage page;
  if (!has_waits()) return page;
  const std::string inbox = keys::WorkflowKey(prefix_ + 'i', id);
  const std::string limit = keys::PrefixSuccessor(inbox);
  rocksdb::ReadOptions ro;
  const rocksdb::Slice upper(limit);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kWaits]));
  for (it->Seek(keys::EventKey(inbox, options.after + 1)); options.after < UINT64_MAX && it->Valid(); it->Next()) {
    if (it->key().size() != inbox.size() + 8) {
      return Status::Corruption("malformed inbox key of '" + std::string(id) + "'");
    }
    if (page.entries.size() == options.limit) {
      page.more = true;
      break;
    }
    page.entries.push_back(
        InboxEntry{keys::GetFixed64(std::string_view(it->key().data() + inbox.size(), 8)), it->value().ToString()});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "reading the inbox of '" + std::string(id) + "'");
  return page;
}

// Reads one entry key per pending workflow: after each, it seeks past the
// workflow's other entries.
Result<ListPage> DiskTables::ListInboxes(const ListOptions& options) {
  ListPage page;
  if (!has_waits()) return page;
  const std::string table = prefix_ + 'i';
  const keys::KeyRange range = keys::InboxesRange(table, options);
  rocksdb::ReadOptions ro;
  const rocksdb::Slice upper(range.end);
  if (!range.end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kWaits]));
  for (it->Seek(range.start); it->Valid();) {
    std::optional<std::string> id =
        keys::DecodeInboxEntryId(std::string_view(it->key().data(), it->key().size()), table);
    if (!id) return Status::Corruption("malformed inbox key in runner '" + runner_ + "'");
    if (page.ids.size() == options.limit) {
      page.more = true;
      break;
    }
    page.ids.push_back(std::move(*id));
    it->Seek(keys::AfterInboxesOf(table, page.ids.back()));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "listing inboxes");
  return page;
}

Result<std::unique_ptr<InboxWatch>> DiskTables::WatchInboxes(InboxListener listener) {
  return listeners_->Add(std::move(listener));
}

// Both listings: one scan of `range` in kWaits, each key decoded by
// `decode` (nullopt: damage), at most `limit` of them and one more to tell
// `more`.
template <typename Entry, typename Decode>
static Status ScanIndex(Shared& s, const keys::KeyRange& range, std::size_t limit, Decode decode,
                        std::vector<Entry>* entries, bool* more, const std::string& what) {
  rocksdb::ReadOptions ro;
  const rocksdb::Slice upper(range.end);
  if (!range.end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(s.db->NewIterator(ro, s.cf[kWaits]));
  for (it->Seek(range.start); it->Valid(); it->Next()) {
    std::optional<Entry> e = decode(std::string_view(it->key().data(), it->key().size()));
    if (!e) return Status::Corruption("malformed key in " + what);
    if (entries->size() == limit) {
      *more = true;
      break;
    }
    entries->push_back(std::move(*e));
  }
  return FromRocks(it->status(), "listing " + what);
}

Result<StatePage> DiskTables::ListByState(const StateListOptions& options) {
  StatePage page;
  if (!has_waits()) return page;
  const std::string table = prefix_ + 's';
  Status st = ScanIndex<TaggedId>(
      *s_, keys::StateRange(table, options), options.limit,
      [&](std::string_view key) { return keys::DecodeStateEntry(key, table); }, &page.entries, &page.more,
      "the state index of runner '" + runner_ + "'");
  if (!st.ok()) return st;
  return page;
}

Result<DuePage> DiskTables::ListDue(const DueListOptions& options) {
  DuePage page;
  if (!has_waits()) return page;
  const std::string table = prefix_ + 'd';
  Status st = ScanIndex<DueEntry>(
      *s_, keys::DueRange(table, options), options.limit,
      [&](std::string_view key) { return keys::DecodeDueEntry(key, table); }, &page.entries, &page.more,
      "the due-time index of runner '" + runner_ + "'");
  if (!st.ok()) return st;
  return page;
}

Status DiskTables::ImportInbox(std::string_view id, std::span<const InboxEntry> entries) {
  std::shared_lock drop(drop_mu);
  if (Status r = EnsureRegistered(); !r.ok()) return r;
  const std::string wkey = keys::WorkflowKey(prefix_, id);
  std::lock_guard lock(s_->StripeOf(wkey));
  rocksdb::WriteBatch batch;
  for (const InboxEntry& e : entries) batch.Put(s_->cf[kWaits], InboxKey(id, e.sequence), e.bytes);
  return s_->Write(&batch, "importing the inbox of '" + std::string(id) + "'");
}

}  // namespace runic::internal::disk
