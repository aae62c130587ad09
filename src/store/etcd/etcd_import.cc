// The etcd engine's imports (Store::ImportEvents, Store::ImportWorkflow).
#include <algorithm>
#include <map>
#include <optional>

#include "store/etcd/etcd_tables.h"

namespace runic::internal::etcd {

Status EtcdTables::ImportEvents(std::string_view id, std::uint64_t first_sequence,
                                std::span<const std::string_view> events) {
  const std::string owner = k_.Owner(id);
  pb::TxnRequest txn;
  CompareOwner(&txn, owner, c_->TokenFor(owner));
  AddPut(txn.mutable_success(), k_.Event(id, first_sequence), EncodeBatch(0, events));
  return FencedWrite(txn, id, "importing events of");
}

Status EtcdTables::ImportWorkflow(std::string_view id, const WorkflowImport& w) {
  const std::string owner = k_.Owner(id);
  const std::string events = k_.Events(id);
  // (trimmed, cursor] must all be there (read linearizably: this decides).
  // Batches cut by either end are rewritten to hold only what is kept, and
  // batches that earlier imports overlapped are reduced to what no lower
  // batch holds, so that no key keeps an event outside the range.
  std::map<std::string, std::optional<std::string>> fixes;  // key -> batch, or nullopt: delete
  if (w.cursor > w.trimmed) {
    std::uint64_t expected = w.trimmed + 1;
    pb::RangeRequest req;
    req.set_range_end(k_.Event(id, w.cursor + 1));
    req.set_limit(kMaxPageKeys);
    std::string from = k_.Event(id, BatchWindowStart(w.trimmed + 1));
    std::vector<std::string_view> batch;
    for (int page = 0; page < 10'000'000; ++page) {
      req.set_key(from);
      pb::RangeResponse r;
      if (Status s = c_->client().Range(req, &r, c_->client().NewDeadline()); !s.ok()) return s;
      for (const pb::KeyValue& kv : r.kvs()) {
        const std::uint64_t first = BatchFirst(kv.key());
        if (!DecodeBatch(kv.value(), &batch)) {
          return Status::Corruption("the event batch at " + std::to_string(first) + " of " + Quote(id) +
                                    " is malformed");
        }
        const std::uint64_t last = first + batch.size() - 1;
        if (last < expected || expected > w.cursor) {
          // Below the range (the lower delete takes it) or all held by
          // lower batches.
          if (first > w.trimmed && !fixes.contains(kv.key())) fixes[kv.key()] = std::nullopt;
          continue;
        }
        if (first > expected) break;  // a gap
        const std::uint64_t end = std::min(last, w.cursor);
        if (first != expected || end != last) {
          const auto from_it = batch.begin() + (expected - first);
          const std::span<const std::string_view> kept(from_it, from_it + (end - expected + 1));
          if (first > w.trimmed) fixes[kv.key()] = std::nullopt;
          fixes[k_.Event(id, expected)] = EncodeBatch(keys::GetFixed64(kv.value()), kept);
        }
        expected = end + 1;
      }
      if (!r.more() || r.kvs().empty()) break;
      from = r.kvs().rbegin()->key() + std::string(1, '\0');
    }
    if (expected <= w.cursor) {
      return Status::InvalidArgument("import of " + Quote(id) + ": event " + std::to_string(expected) +
                                     " is missing; events " + std::to_string(w.trimmed + 1) + " to " +
                                     std::to_string(w.cursor) + " must be imported first");
    }
  }
  // Fixes beyond what the final transaction holds go first, in transactions
  // of their own: the rewritten batches before the deletes of what they
  // replace, so that every event in the range stays readable throughout.
  std::size_t fix_bytes = 0;
  for (const auto& [key, batch] : fixes) fix_bytes += key.size() + (batch ? batch->size() : 0);
  if (fixes.size() > kMaxTxnOps - 20 || fix_bytes > kMaxRequestBytes / 4) {
    for (bool puts : {true, false}) {
      pb::TxnRequest fix;
      std::size_t bytes = 0;
      auto flush = [&]() -> Status {
        if (fix.success_size() == 0) return Status::OK();
        CompareOwner(&fix, owner, c_->TokenFor(owner));
        Status st = FencedWrite(fix, id, "importing");
        fix.Clear();
        bytes = 0;
        return st;
      };
      for (auto it = fixes.begin(); it != fixes.end();) {
        if (it->second.has_value() != puts) {
          ++it;
          continue;
        }
        const std::size_t size = it->first.size() + (it->second ? it->second->size() : 0);
        if (fix.success_size() == 100 || (fix.success_size() > 0 && bytes + size > kMaxRequestBytes)) {
          if (Status st = flush(); !st.ok()) return st;
        }
        bytes += size;
        if (puts) {
          AddPut(fix.mutable_success(), it->first, std::move(*it->second));
        } else {
          AddDelete(fix.mutable_success(), it->first);
        }
        it = fixes.erase(it);
      }
      if (Status st = flush(); !st.ok()) return st;
    }
  }
  // The old index entries go; the inbox keeps the imported entries in
  // (consumed, last], which must all be there.
  Result<CounterState> old = ReadCounter(id, c_->client().NewDeadline(), /*linearizable=*/true);
  if (!old.ok()) return old.status();
  if (w.inbox_last > w.inbox_consumed) {
    pb::RangeRequest req;
    req.set_key(k_.InboxEntry(id, w.inbox_consumed + 1));
    req.set_range_end(k_.InboxEntry(id, w.inbox_last + 1));
    req.set_count_only(true);
    pb::RangeResponse r;
    if (Status s = c_->client().Range(req, &r, c_->client().NewDeadline()); !s.ok()) return s;
    if (static_cast<std::uint64_t>(r.count()) != w.inbox_last - w.inbox_consumed) {
      return Status::InvalidArgument("import of " + Quote(id) + ": inbox entries " +
                                     std::to_string(w.inbox_consumed + 1) + " to " + std::to_string(w.inbox_last) +
                                     " must be imported first (" + std::to_string(r.count()) + " are)");
    }
  }
  pb::TxnRequest txn;
  CompareOwner(&txn, owner, c_->TokenFor(owner));
  auto* ops = txn.mutable_success();
  if (!old->value.state_tag.empty()) AddDelete(ops, k_.StateEntry(old->value.state_tag, id));
  if (old->value.due != 0) AddDelete(ops, k_.DueEntry(old->value.due, id));
  AddDelete(ops, k_.Inbox(id), k_.InboxEntry(id, w.inbox_consumed + 1));
  AddDelete(ops, k_.InboxEntry(id, w.inbox_last + 1), keys::PrefixSuccessor(k_.Inbox(id)));
  for (const auto& [key, value] :
       {std::pair{k_.InboxLast(id), w.inbox_last}, {k_.InboxConsumed(id), w.inbox_consumed}}) {
    if (value == 0) {
      AddDelete(ops, key);
    } else {
      std::string v;
      keys::PutFixed64(&v, value);
      AddPut(ops, key, v);
    }
  }
  if (w.inbox_closed) {
    AddPut(ops, k_.InboxClosed(id), "1");
  } else {
    AddDelete(ops, k_.InboxClosed(id));
  }
  if (!w.state_tag.empty()) AddPut(ops, k_.StateEntry(w.state_tag, id), "");
  if (w.due != 0) AddPut(ops, k_.DueEntry(w.due, id), "");
  AddDelete(ops, events, k_.Event(id, w.trimmed + 1));
  AddDelete(ops, k_.Event(id, w.cursor + 1), keys::PrefixSuccessor(events));
  for (auto& [key, batch] : fixes) {
    if (batch) {
      AddPut(ops, key, std::move(*batch));
    } else {
      AddDelete(ops, key);
    }
  }
  if (w.cursor > 0) {
    AddPut(ops, k_.Counter(id), EncodeCounter({w.cursor, w.trimmed, ToMicros(w.updated_at), 0, w.due, w.state_tag}));
  } else {
    AddDelete(ops, k_.Counter(id));
  }
  if (w.log) {
    AddPut(ops, k_.Log(id), WithHeader(static_cast<std::uint64_t>(ToMicros(w.log->updated_at)), w.log->log));
  } else {
    AddDelete(ops, k_.Log(id));
  }
  if (w.snapshot) {
    AddPut(ops, k_.Snapshot(id), WithHeader(w.snapshot->cursor, w.snapshot->bytes));
  } else {
    AddDelete(ops, k_.Snapshot(id));
  }
  c_->Uncache(k_.Counter(id));
  return FencedWrite(txn, id, "importing");
}

}  // namespace runic::internal::etcd
