// The etcd engine's inboxes and state and due-time indexes (key layout in
// etcd_keys.h). An inbox append is the one write no ownership fences: it
// compares the inbox's last and consumed keys and the closed key's absence,
// so its checks hold in its own transaction. An owner's append moves its
// index entries and consumes entries in its own transaction
// (EtcdTables::AddWaits, called by CommitChunk).
#include <chrono>
#include <set>
#include <thread>

#include "store/etcd/etcd_tables.h"

namespace runic::internal::etcd {
namespace {

std::string U64(std::uint64_t v) {
  std::string out;
  keys::PutFixed64(&out, v);
  return out;
}

// A u64 key's value as read (0 when absent); false when malformed.
bool ReadU64(const pb::RangeResponse& r, std::uint64_t* v, std::int64_t* mod) {
  *v = 0;
  *mod = 0;
  if (r.kvs().empty()) return true;
  if (r.kvs(0).value().size() != 8) return false;
  *v = keys::GetFixed64(r.kvs(0).value());
  *mod = r.kvs(0).mod_revision();
  return true;
}

void CompareVersion(pb::TxnRequest* txn, std::string key, std::int64_t version) {
  pb::Compare* c = txn->add_compare();
  c->set_result(pb::Compare::EQUAL);
  c->set_target(pb::Compare::VERSION);
  c->set_key(std::move(key));
  c->set_version(version);
}

void CompareCreate(pb::TxnRequest* txn, std::string key, std::int64_t create_revision) {
  pb::Compare* c = txn->add_compare();
  c->set_result(pb::Compare::EQUAL);
  c->set_target(pb::Compare::CREATE);
  c->set_key(std::move(key));
  c->set_create_revision(create_revision);
}

}  // namespace

void EtcdTables::AddWaits(AppendJob* j, google::protobuf::RepeatedPtrField<pb::RequestOp>* ops) {
  const AppendOptions& o = *j->in->options;
  const std::string_view id = j->in->id;
  CounterValue& next = j->next;
  if (o.state_tag && *o.state_tag != next.state_tag) {
    if (!next.state_tag.empty()) AddDelete(ops, k_.StateEntry(next.state_tag, id));
    if (!o.state_tag->empty()) AddPut(ops, k_.StateEntry(*o.state_tag, id), "");
    next.state_tag.assign(*o.state_tag);
  }
  if (o.due && *o.due != next.due) {
    if (next.due != 0) AddDelete(ops, k_.DueEntry(next.due, id));
    if (*o.due != 0) AddPut(ops, k_.DueEntry(*o.due, id), "");
    next.due = *o.due;
  }
  if (o.consume_inbox_through > j->inbox_consumed) {
    AddPut(ops, k_.InboxConsumed(id), U64(o.consume_inbox_through));
    AddDelete(ops, k_.Inbox(id), k_.InboxEntry(id, o.consume_inbox_through + 1));
  }
  if (o.close_inbox) AddPut(ops, k_.InboxClosed(id), "1");
}

Status EtcdTables::ReadInboxCursors(std::string_view id, std::uint64_t* last, std::uint64_t* consumed) {
  pb::TxnRequest txn;
  AddGet(txn.mutable_success(), k_.InboxLast(id));
  AddGet(txn.mutable_success(), k_.InboxConsumed(id));
  pb::TxnResponse r;
  if (Status s = c_->client().Txn(txn, &r, c_->client().NewDeadline(), /*read_only=*/true); !s.ok()) return s;
  std::int64_t mod = 0;
  if (!ReadU64(r.responses(0).response_range(), last, &mod) ||
      !ReadU64(r.responses(1).response_range(), consumed, &mod) || *consumed > *last) {
    return Status::Corruption("the inbox cursors of " + Quote(id) + " are malformed");
  }
  return Status::OK();
}

Status EtcdTables::ReadInboxLast(std::string_view id, Deadline deadline, std::uint64_t* last, std::int64_t* mod) {
  pb::RangeRequest request;
  request.set_key(k_.InboxLast(id));
  pb::RangeResponse got;
  if (Status s = c_->client().Range(request, &got, deadline); !s.ok()) return s;
  if (!ReadU64(got, last, mod)) return Status::Corruption("the inbox cursors of " + Quote(id) + " are malformed");
  return Status::OK();
}

Result<std::uint64_t> EtcdTables::AppendInbox(std::string_view id, std::string_view entry) {
  const Deadline deadline = c_->client().NewDeadline();
  const std::size_t limit = EmbeddedLimits().max_inbox_entries;
  for (int round = 0; round < kMaxRounds && Clock::now() < deadline; ++round) {
    pb::TxnRequest look;
    AddGet(look.mutable_success(), k_.Counter(id));
    AddGet(look.mutable_success(), k_.InboxLast(id));
    AddGet(look.mutable_success(), k_.InboxConsumed(id));
    AddGet(look.mutable_success(), k_.InboxClosed(id));
    pb::TxnResponse seen;
    if (Status s = c_->client().Txn(look, &seen, deadline, /*read_only=*/true); !s.ok()) return s;
    const auto& counter = seen.responses(0).response_range().kvs();
    if (counter.empty()) {
      return NoInbox(id);
    }
    if (!seen.responses(3).response_range().kvs().empty()) {
      return InboxClosed(id);
    }
    std::uint64_t last = 0, consumed = 0;
    std::int64_t last_mod = 0, consumed_mod = 0;
    if (!ReadU64(seen.responses(1).response_range(), &last, &last_mod) ||
        !ReadU64(seen.responses(2).response_range(), &consumed, &consumed_mod) || consumed > last) {
      return Status::Corruption("the inbox cursors of " + Quote(id) + " are malformed");
    }
    if (last - consumed >= limit) {
      return InboxFull(id, limit);
    }
    pb::TxnRequest txn;
    CompareCreate(&txn, k_.Counter(id), counter[0].create_revision());  // not deleted (and made again) since
    CompareMod(&txn, k_.InboxLast(id), last_mod);
    CompareMod(&txn, k_.InboxConsumed(id), consumed_mod);
    CompareVersion(&txn, k_.InboxClosed(id), 0);
    AddPut(txn.mutable_success(), k_.InboxEntry(id, last + 1), std::string(entry));
    AddPut(txn.mutable_success(), k_.InboxLast(id), U64(last + 1));
    // Sent again only while its outcome is unknown: the compares let at
    // most one copy apply, and a copy that did shows as the last key at
    // last + 1 holding this entry.
    for (int attempt = 0; attempt < 100 && Clock::now() < deadline; ++attempt) {
      pb::TxnResponse r;
      Status s = c_->client().Txn(txn, &r, deadline);
      if (s.ok()) {
        if (r.succeeded()) return last + 1;
        break;  // someone else moved the inbox: read again
      }
      if (s.code() != Status::Code::kOutcomeUnknown) return s;
      pb::RangeRequest check;
      check.set_key(k_.InboxEntry(id, last + 1));
      pb::RangeResponse got;
      if (c_->client().Range(check, &got, deadline).ok()) {
        if (!got.kvs().empty() && got.kvs(0).value() == entry) return last + 1;
        if (!got.kvs().empty()) break;  // another sender's entry took the sequence
      }
      std::this_thread::sleep_until(std::min(deadline, Clock::now() + std::chrono::milliseconds(20)));
    }
  }
  return Status::Unavailable("appending to the inbox of " + Quote(id) +
                             ": other senders kept moving it, or the deadline passed");
}

Result<InboxPage> EtcdTables::ReadInbox(std::string_view id, const InboxReadOptions& options) {
  InboxPage page;
  if (options.after == UINT64_MAX) return page;
  pb::RangeRequest req;
  req.set_key(k_.InboxEntry(id, options.after + 1));
  req.set_range_end(keys::PrefixSuccessor(k_.Inbox(id)));
  req.set_limit(static_cast<std::int64_t>(std::min<std::size_t>(options.limit, kMaxPageKeys)) + 1);
  req.set_serializable(!c_->LinearizableFor(k_.Owner(id)));
  pb::RangeResponse r;
  if (Status s = c_->client().Range(req, &r, c_->client().NewDeadline()); !s.ok()) return s;
  const std::size_t base = k_.Inbox(id).size();
  for (const pb::KeyValue& kv : r.kvs()) {
    if (kv.key().size() != base + 8) return Status::Corruption("malformed inbox key of " + Quote(id));
    if (page.entries.size() == options.limit) {
      page.more = true;
      break;
    }
    page.entries.push_back(InboxEntry{keys::GetFixed64(std::string_view(kv.key()).substr(base)), kv.value()});
  }
  if (page.entries.size() < options.limit && r.more()) page.more = true;
  return page;
}

// Pages over the entry keys, keys only; after each workflow's first key it
// goes on past the workflow's other entries.
Result<ListPage> EtcdTables::ListInboxes(const ListOptions& options) {
  const std::string table = k_.Table('i');
  const keys::KeyRange range = keys::InboxesRange(table, options);
  std::string from = range.start;
  ListPage page;
  for (int round = 0; round < 1'000'000; ++round) {
    pb::RangeRequest req;
    req.set_key(from);
    req.set_range_end(range.end);
    req.set_keys_only(true);
    req.set_limit(static_cast<std::int64_t>(std::min<std::size_t>(options.limit + 1 - page.ids.size(), 256)));
    req.set_serializable(!c_->client().options().linearizable_reads);
    pb::RangeResponse r;
    if (Status s = c_->client().Range(req, &r, c_->client().NewDeadline()); !s.ok()) return s;
    for (const pb::KeyValue& kv : r.kvs()) {
      std::optional<std::string> id = keys::DecodeInboxEntryId(kv.key(), table);
      if (!id) return Status::Corruption("malformed inbox key in runner '" + runner_ + "'");
      if (!page.ids.empty() && page.ids.back() == *id) continue;
      if (page.ids.size() == options.limit) {
        page.more = true;
        return page;
      }
      page.ids.push_back(std::move(*id));
    }
    if (!r.more() || r.kvs().empty()) break;
    from = keys::AfterInboxesOf(table, page.ids.back());
  }
  return page;
}

// Both listings: one range of keys, each decoded by `decode` (nullopt:
// damage), at most `limit` and one more to tell `more`.
template <typename Entry, typename Decode>
Status EtcdTables::ScanIndex(const keys::KeyRange& range, std::size_t limit, Decode decode, std::vector<Entry>* entries,
                             bool* more, const char* what) {
  pb::RangeRequest req;
  req.set_key(range.start);
  req.set_range_end(range.end);
  req.set_keys_only(true);
  req.set_limit(static_cast<std::int64_t>(limit) + 1);
  req.set_serializable(!c_->client().options().linearizable_reads);
  pb::RangeResponse r;
  if (Status s = c_->client().Range(req, &r, c_->client().NewDeadline()); !s.ok()) return s;
  for (const pb::KeyValue& kv : r.kvs()) {
    std::optional<Entry> e = decode(kv.key());
    if (!e) return Status::Corruption(std::string("malformed key in ") + what + " of runner '" + runner_ + "'");
    if (entries->size() == limit) {
      *more = true;
      break;
    }
    entries->push_back(std::move(*e));
  }
  return Status::OK();
}

Result<StatePage> EtcdTables::ListByState(const StateListOptions& options) {
  const std::string table = k_.Table('t');
  StatePage page;
  Status s = ScanIndex<TaggedId>(
      keys::StateRange(table, options), options.limit,
      [&](std::string_view key) { return keys::DecodeStateEntry(key, table); }, &page.entries, &page.more,
      "the state index");
  if (!s.ok()) return s;
  return page;
}

Result<DuePage> EtcdTables::ListDue(const DueListOptions& options) {
  const std::string table = k_.Table('d');
  DuePage page;
  Status s = ScanIndex<DueEntry>(
      keys::DueRange(table, options), options.limit,
      [&](std::string_view key) { return keys::DecodeDueEntry(key, table); }, &page.entries, &page.more,
      "the due-time index");
  if (!s.ok()) return s;
  return page;
}

Status EtcdTables::ImportInbox(std::string_view id, std::span<const InboxEntry> entries) {
  const std::string owner = k_.Owner(id);
  std::size_t at = 0;
  while (at < entries.size()) {
    pb::TxnRequest txn;
    CompareOwner(&txn, owner, c_->TokenFor(owner));
    std::size_t bytes = 0;
    for (; at < entries.size() && txn.success_size() < 100; ++at) {
      const std::size_t size = entries[at].bytes.size() + 64;
      if (txn.success_size() > 0 && bytes + size > kMaxRequestBytes) break;
      AddPut(txn.mutable_success(), k_.InboxEntry(id, entries[at].sequence), entries[at].bytes);
      bytes += size;
    }
    if (Status s = FencedWrite(txn, id, "importing the inbox of"); !s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace runic::internal::etcd
