// The disk engine's inboxes and state and due-time indexes, in the kWaits
// column family under the runner prefix:
//
//   inbox entry  = 'i' escaped id (keys.h WorkflowKey), u64 sequence -> bytes
//   state entry  = 's' tag 0x00 escaped id                         -> ""
//   due entry    = 'd' u64 due, escaped id                          -> ""
//
// A tag holds no 0x00 byte, so (tag, id) keys sort as the pairs do. The
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
#include "store/keys.h"

namespace runic::internal::disk {

std::string DiskTables::InboxKey(std::string_view id, std::uint64_t seq) const {
  return keys::EventKey(keys::WorkflowKey(prefix_ + 'i', id), seq);
}

std::string DiskTables::StateKey(std::string_view tag, std::string_view id) const {
  std::string p = prefix_ + 's';
  p.append(tag);
  p.push_back('\0');
  return keys::WorkflowKey(p, id);
}

std::string DiskTables::DueKey(std::uint64_t due, std::string_view id) const {
  std::string p = prefix_ + 'd';
  keys::PutFixed64(&p, due);
  return keys::WorkflowKey(p, id);
}

Status DiskTables::AddWaits(rocksdb::WriteBatch* batch, std::string_view id, Counter& c, const AppendOptions& o) {
  if (o.consume_inbox_through > c.inbox_last) {
    return Status::InvalidArgument("consuming inbox entries of '" + std::string(id) + "' up to " +
                                   std::to_string(o.consume_inbox_through) + ", above its last entry " +
                                   std::to_string(c.inbox_last));
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
      return Status::NotFound("workflow '" + std::string(id) + "' has no events: no inbox to append to");
    }
    if (c->inbox_closed) return Status::FailedPrecondition("the inbox of workflow '" + std::string(id) + "' is closed");
    const std::size_t limit = EmbeddedLimits().max_inbox_entries;
    if (c->inbox_last - c->inbox_consumed >= limit) {
      return Status::ResourceExhausted("the inbox of workflow '" + std::string(id) + "' holds " +
                                       std::to_string(limit) + " unconsumed entries, its limit");
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
  std::string range = table;
  keys::AppendEscaped(&range, options.prefix);
  std::string start = range;
  if (!options.start_after.empty() && options.start_after >= options.prefix) {
    start = keys::PrefixSuccessor(keys::WorkflowKey(table, options.start_after));
  }
  const std::string limit = keys::PrefixSuccessor(range);
  rocksdb::ReadOptions ro;
  const rocksdb::Slice upper(limit);
  if (!limit.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kWaits]));
  for (it->Seek(start); it->Valid();) {
    const std::string_view key(it->key().data(), it->key().size());
    std::optional<std::string> id =
        key.size() >= table.size() + 8 ? keys::DecodeId(key.substr(0, key.size() - 8), table) : std::nullopt;
    if (!id) return Status::Corruption("malformed inbox key in runner '" + runner_ + "'");
    if (page.ids.size() == options.limit) {
      page.more = true;
      break;
    }
    page.ids.push_back(std::move(*id));
    it->Seek(keys::PrefixSuccessor(keys::WorkflowKey(table, page.ids.back())));
  }
  if (!it->status().ok()) return FromRocks(it->status(), "listing inboxes");
  return page;
}

Result<std::unique_ptr<InboxWatch>> DiskTables::WatchInboxes(InboxListener listener) {
  return listeners_->Add(std::move(listener));
}

Result<StatePage> DiskTables::ListByState(const StateListOptions& options) {
  StatePage page;
  if (!has_waits()) return page;
  const std::string table = prefix_ + 's';
  std::string range = table + options.tag;
  if (!options.tag_is_prefix) {
    range.push_back('\0');
    keys::AppendEscaped(&range, options.id_prefix);
  }
  std::string start = range;
  if (!options.start_after_tag.empty() || !options.start_after_id.empty()) {
    std::string after = table + options.start_after_tag;
    after.push_back('\0');
    after = options.start_after_id.empty() ? after : keys::WorkflowKey(after, options.start_after_id) + '\0';
    if (after > start) start = std::move(after);
  }
  const std::string limit = keys::PrefixSuccessor(range);
  rocksdb::ReadOptions ro;
  const rocksdb::Slice upper(limit);
  if (!limit.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kWaits]));
  for (it->Seek(start); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data() + table.size(), it->key().size() - table.size());
    const std::size_t end = key.find('\0');
    std::optional<std::string> id =
        end == std::string_view::npos ? std::nullopt : keys::DecodeId(key.substr(end + 1), "");
    if (!id) return Status::Corruption("malformed state-index key in runner '" + runner_ + "'");
    if (page.entries.size() == options.limit) {
      page.more = true;
      break;
    }
    page.entries.push_back(TaggedId{std::string(key.substr(0, end)), std::move(*id)});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "listing the state index");
  return page;
}

Result<DuePage> DiskTables::ListDue(const DueListOptions& options) {
  DuePage page;
  if (!has_waits()) return page;
  const std::string table = prefix_ + 'd';
  std::string start = table;
  keys::PutFixed64(&start, options.start_after_due);
  if (!options.start_after_id.empty()) start = keys::WorkflowKey(start, options.start_after_id) + '\0';
  std::string limit = table;
  keys::PutFixed64(&limit, options.before);  // entries due before it
  rocksdb::ReadOptions ro;
  const rocksdb::Slice upper(limit);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(s_->db->NewIterator(ro, s_->cf[kWaits]));
  for (it->Seek(start); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    std::optional<std::string> id =
        key.size() > table.size() + 8 ? keys::DecodeId(key.substr(table.size() + 8), "") : std::nullopt;
    if (!id) return Status::Corruption("malformed due-index key in runner '" + runner_ + "'");
    if (page.entries.size() == options.limit) {
      page.more = true;
      break;
    }
    page.entries.push_back(DueEntry{keys::GetFixed64(key.substr(table.size())), std::move(*id)});
  }
  if (!it->status().ok()) return FromRocks(it->status(), "listing the due-time index");
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
