// The etcd engine's runner tables: logs, snapshots, facts, workflows
// (delete, list, describe, trim, stats), ownership (claim, release) and the
// reads and writes they share. Appends are in etcd_append_combiner.cc,
// streams in etcd_iterator.cc, imports in etcd_import.cc.
#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "store/etcd/etcd_iterator.h"
#include "store/etcd/etcd_tables.h"

namespace runic::internal::etcd {

Status EtcdTables::SaveLog(std::string_view id, std::string_view log, std::int64_t updated_at_us) {
  pb::TxnRequest txn;
  const std::string owner = k_.Owner(id);
  CompareOwner(&txn, owner, c_->TokenFor(owner));
  AddPut(txn.mutable_success(), k_.Log(id), WithHeader(static_cast<std::uint64_t>(updated_at_us), log));
  return FencedWrite(txn, id, "saving the log of");
}

Result<LogRecord> EtcdTables::LoadLog(std::string_view id) {
  pb::RangeResponse r;
  if (Status s = Get(k_.Log(id), id, &r); !s.ok()) return s;
  if (r.kvs_size() == 0) return Status::NotFound("no log for " + Quote(id));
  const std::string& v = r.kvs(0).value();
  if (v.size() < 8) return Status::Corruption("the log of " + Quote(id) + " is malformed");
  LogRecord rec;
  rec.log = v.substr(8);
  rec.updated_at =
      std::chrono::system_clock::time_point(std::chrono::microseconds(static_cast<std::int64_t>(keys::GetFixed64(v))));
  return rec;
}

Status EtcdTables::SaveSnapshot(std::string_view id, std::uint64_t cursor, std::string_view bytes) {
  const std::string owner = k_.Owner(id);
  const std::optional<std::string> token = c_->TokenFor(owner);
  const std::string counter_key = k_.Counter(id);
  const Deadline deadline = c_->client().NewDeadline();
  for (int round = 0; round < kMaxRounds; ++round) {
    Result<CounterState> c = ReadCounter(id, deadline, c_->LinearizableFor(owner));
    if (!c.ok()) return c.status();
    if (cursor > c->value.cursor) {
      return Status::InvalidArgument("snapshot cursor " + std::to_string(cursor) + " is above workflow " + Quote(id) +
                                     " counter " + std::to_string(c->value.cursor));
    }
    pb::TxnRequest txn;
    CompareMod(&txn, counter_key, c->mod_revision);
    CompareOwner(&txn, owner, token);
    AddPut(txn.mutable_success(), k_.Snapshot(id), WithHeader(cursor, bytes));
    AddGet(txn.mutable_failure(), owner);
    bool succeeded = false;
    if (Status s = IdempotentWrite(txn, id, "saving the snapshot of", deadline, &succeeded); !s.ok()) return s;
    if (succeeded) return Status::OK();
    // The counter moved (or ownership changed): look again.
  }
  return Status::Unavailable("saving the snapshot of " + Quote(id) + ": the workflow kept changing");
}

Result<Snapshot> EtcdTables::LoadSnapshot(std::string_view id) {
  pb::RangeResponse r;
  if (Status s = Get(k_.Snapshot(id), id, &r); !s.ok()) return s;
  if (r.kvs_size() == 0) return Status::NotFound("no snapshot for " + Quote(id));
  const std::string& v = r.kvs(0).value();
  if (v.size() < 8) return Status::Corruption("the snapshot of " + Quote(id) + " is malformed");
  return Snapshot{keys::GetFixed64(v), v.substr(8)};
}

Status EtcdTables::SaveFact(std::string_view hash, std::string_view value) {
  pb::TxnRequest txn;
  AddPut(txn.mutable_success(), k_.Fact(hash), std::string(value));
  bool succeeded = false;
  return IdempotentWrite(txn, hash, "saving fact", c_->client().NewDeadline(), &succeeded);
}

Result<std::string> EtcdTables::LoadFact(std::string_view hash) {
  pb::RangeRequest req;
  req.set_key(k_.Fact(hash));
  req.set_serializable(!c_->client().options().linearizable_reads);
  pb::RangeResponse r;
  if (Status s = c_->client().Range(req, &r, c_->client().NewDeadline()); !s.ok()) return s;
  if (r.kvs_size() == 0 && req.serializable()) {
    // The member may lag behind the writer (a Runner resuming another's
    // workflow reads the facts its events name): ask the quorum before
    // calling a fact missing.
    req.set_serializable(false);
    if (Status s = c_->client().Range(req, &r, c_->client().NewDeadline()); !s.ok()) return s;
  }
  if (r.kvs_size() == 0) return Status::NotFound("no fact " + Quote(hash));
  return r.kvs(0).value();
}

Status EtcdTables::DeleteFact(std::string_view hash) {
  pb::TxnRequest txn;
  AddDelete(txn.mutable_success(), k_.Fact(hash));
  bool succeeded = false;
  return IdempotentWrite(txn, hash, "deleting fact", c_->client().NewDeadline(), &succeeded);
}

// With the workflow's index entries (named by its counter, which the
// delete compares) and its inbox.
Status EtcdTables::Delete(std::string_view id, const DeleteOptions& options) {
  const std::string owner = k_.Owner(id);
  const std::string counter = k_.Counter(id);
  const bool conditional = options.expected_cursor || options.expected_inbox_last;
  const Deadline deadline = c_->client().NewDeadline();
  for (int round = 0; round < kMaxRounds; ++round) {
    Result<CounterState> c = ReadCounter(id, deadline, /*linearizable=*/true);
    if (!c.ok() && (conditional || !c.status().IsCorruption())) return c.status();
    pb::TxnRequest txn;
    if (conditional) {
      if (!c->exists()) return Status::NotFound("no workflow " + Quote(id) + " to delete");
      // The inbox's last key, compared by revision: an entry appended after
      // this read fails the delete.
      std::uint64_t last = 0;
      std::int64_t last_mod = 0;
      if (Status s = ReadInboxLast(id, deadline, &last, &last_mod); !s.ok()) return s;
      if (Status s = DeleteConflict(id, options, c->value.cursor, last); !s.ok()) return s;
      CompareMod(&txn, k_.InboxLast(id), last_mod);
    }
    CompareOwner(&txn, owner, c_->TokenFor(owner));
    if (c.ok()) CompareMod(&txn, counter, c->mod_revision);
    auto* ops = txn.mutable_success();
    AddDelete(ops, k_.Log(id));
    AddDelete(ops, counter);
    AddDelete(ops, k_.Snapshot(id));
    const std::string events = k_.Events(id);
    AddDelete(ops, events, keys::PrefixSuccessor(events));
    const std::string inbox = k_.Inbox(id);
    AddDelete(ops, inbox, keys::PrefixSuccessor(inbox));
    AddDelete(ops, k_.InboxLast(id));
    AddDelete(ops, k_.InboxConsumed(id));
    AddDelete(ops, k_.InboxClosed(id));
    if (c.ok() && !c->value.state_tag.empty()) AddDelete(ops, k_.StateEntry(c->value.state_tag, id));
    if (c.ok() && c->value.due != 0) AddDelete(ops, k_.DueEntry(c->value.due, id));
    AddGet(txn.mutable_failure(), owner);
    c_->Uncache(counter);
    bool succeeded = false;
    Status s = IdempotentWrite(txn, id, "deleting", deadline, &succeeded);
    c_->Uncache(counter);
    if (!s.ok() || succeeded) return s;
  }
  return Status::Unavailable("deleting " + Quote(id) + ": the workflow kept changing");
}

Result<ListPage> EtcdTables::List(const ListOptions& options) {
  // A workflow exists when it has a counter or a log: merge both tables.
  std::set<std::string> ids;
  bool more = false;
  for (char table : {'c', 'l'}) {
    Result<ListPage> page = ListTable(table, options, /*escaped=*/true);
    if (!page.ok()) return page.status();
    ids.insert(page->ids.begin(), page->ids.end());
    more = more || page->more;
  }
  ListPage out;
  for (const std::string& id : ids) {
    if (out.ids.size() == options.limit) {
      out.more = true;
      break;
    }
    out.ids.push_back(id);
  }
  out.more = out.more || more;
  return out;
}

Result<bool> EtcdTables::Exists(std::string_view id) {
  pb::TxnRequest txn;
  AddGet(txn.mutable_success(), k_.Counter(id));
  AddGet(txn.mutable_success(), k_.Log(id));
  pb::TxnResponse r;
  if (Status s = ReadTxn(txn, id, &r); !s.ok()) return s;
  return r.responses(0).response_range().kvs_size() > 0 || r.responses(1).response_range().kvs_size() > 0;
}

Status EtcdTables::Trim(std::string_view id, std::uint64_t cursor) {
  const std::string owner = k_.Owner(id);
  const std::optional<std::string> token = c_->TokenFor(owner);
  const std::string counter_key = k_.Counter(id);
  const Deadline deadline = c_->client().NewDeadline();
  for (int round = 0; round < kMaxRounds; ++round) {
    const bool linearizable = c_->LinearizableFor(owner);
    std::int64_t revision = 0;
    Result<CounterState> c = ReadCounter(id, deadline, linearizable, &revision);
    if (!c.ok()) return c.status();
    if (!c->exists()) return Status::NotFound("no event stream for " + Quote(id));
    if (cursor > c->value.cursor) {
      return Status::InvalidArgument("trim cursor " + std::to_string(cursor) + " is above workflow " + Quote(id) +
                                     " counter " + std::to_string(c->value.cursor));
    }
    if (cursor <= c->value.trimmed) return Status::OK();
    // The batch that holds cursor + 1 but starts at or below cursor is
    // cut: its kept events move to a batch of their own at cursor + 1.
    std::optional<std::string> kept;
    if (cursor < c->value.cursor) {
      pb::RangeRequest req;
      req.set_key(k_.Event(id, BatchWindowStart(cursor + 1)));
      req.set_range_end(k_.Event(id, cursor + 1));
      req.set_revision(revision);
      req.set_serializable(!linearizable);
      pb::RangeResponse r;
      if (Status s = c_->client().Range(req, &r, deadline); !s.ok()) return s;
      std::vector<std::string_view> events;
      for (const pb::KeyValue& kv : r.kvs()) {
        const std::uint64_t first = BatchFirst(kv.key());
        if (!DecodeBatch(kv.value(), &events)) {
          return Status::Corruption("the event batch at " + std::to_string(first) + " of " + Quote(id) +
                                    " is malformed");
        }
        if (first + events.size() > cursor + 1) {
          const std::span<const std::string_view> rest(events.begin() + (cursor + 1 - first), events.end());
          kept = EncodeBatch(keys::GetFixed64(kv.value()), rest);
          break;
        }
      }
    }
    CounterValue next = c->value;
    next.trimmed = cursor;
    pb::TxnRequest txn;
    CompareMod(&txn, counter_key, c->mod_revision);
    CompareOwner(&txn, owner, token);
    AddDelete(txn.mutable_success(), k_.Events(id), k_.Event(id, cursor + 1));
    if (kept) AddPut(txn.mutable_success(), k_.Event(id, cursor + 1), std::move(*kept));
    AddPut(txn.mutable_success(), counter_key, EncodeCounter(next));
    AddGet(txn.mutable_failure(), owner);
    bool succeeded = false;
    c_->Uncache(counter_key);
    if (Status s = IdempotentWrite(txn, id, "trimming", deadline, &succeeded); !s.ok()) return s;
    if (succeeded) return Status::OK();
  }
  return Status::Unavailable("trimming " + Quote(id) + ": the workflow kept changing");
}

Status EtcdTables::Claim(std::string_view id) {
  const std::string owner = k_.Owner(id);
  const Deadline deadline = c_->client().NewDeadline();
  Status s;
  for (int attempt = 0; attempt < 2; ++attempt) {  // a second time with a new lease
    Result<std::int64_t> lease = c_->Lease(deadline);
    if (!lease.ok()) return lease.status();
    const std::string token = TokenOf(*lease);
    std::shared_lock no_release(c_->release_mu());
    s = TryClaim(id, owner, token, *lease, deadline);
    if (s.ok()) {
      c_->SetOwned(owner, token);
      // What this process wrote before, it wrote without the token; what
      // it reads from now on must be the cluster's latest.
      c_->Uncache(k_.Counter(id));
      return s;
    }
    if (s.message().find("lease not found") != std::string::npos) {
      c_->MarkLost(*lease);  // expired while renewals failed
      s = Status::Unavailable("claiming " + Quote(id) + ": this process's etcd lease expired; " + s.message());
      continue;
    }
    // A put whose outcome stayed unknown may hold the key under our lease:
    // give it up in the background, or nobody could claim it while we live.
    if (s.code() != Status::Code::kNotOwner) c_->ReleaseLater(owner, token);
    return s;
  }
  return s;
}

Status EtcdTables::Release(std::string_view id) {
  const std::string owner = k_.Owner(id);
  const std::optional<std::string> token = c_->TokenFor(owner);
  if (!token) return Status::OK();
  c_->ForgetOwned(owner);
  Status s = c_->ReleaseNow(owner, *token, c_->client().NewDeadline());
  // Not given up now: the keep-alive thread tries again, so that a live
  // process never keeps a workflow it let go of.
  if (!s.ok()) c_->ReleaseLater(owner, *token);
  return s;
}

// The counter of `id`, linearizable when asked.
Result<CounterState> EtcdTables::ReadCounter(std::string_view id, Deadline deadline, bool linearizable,
                                             std::int64_t* revision) {
  pb::RangeRequest req;
  req.set_key(k_.Counter(id));
  req.set_serializable(!linearizable);
  pb::RangeResponse r;
  if (Status s = c_->client().Range(req, &r, deadline); !s.ok()) return s;
  if (revision != nullptr) *revision = r.header().revision();
  return ParseCounter(r, id);
}

Status EtcdTables::OwnedElsewhere(std::string_view id) {
  return Status::NotOwner("workflow " + Quote(id) +
                          " is owned by another process (a live etcd lease holds it); it can be claimed once "
                          "that lease expires");
}

// Why a write of `id` was fenced off.
Status EtcdTables::NotOwner(std::string_view id) {
  if (c_->TokenFor(k_.Owner(id))) {
    return Status::NotOwner("this process no longer owns workflow " + Quote(id) +
                            " (its etcd lease expired, or another process claimed it since); nothing was written");
  }
  return OwnedElsewhere(id);
}

// Puts the owner key of `id` with `token` unless another process holds
// it: ok when it is ours now.
Status EtcdTables::TryClaim(std::string_view id, const std::string& owner, const std::string& token, std::int64_t lease,
                            Deadline deadline) {
  Status last = Status::Unavailable("claiming " + Quote(id) + ": the deadline passed");
  for (int round = 0; round < kMaxRounds && Clock::now() < deadline; ++round) {
    pb::TxnRequest txn;
    CompareOwner(&txn, owner, std::nullopt);
    AddPut(txn.mutable_success(), owner, token, lease);
    AddGet(txn.mutable_failure(), owner);
    pb::TxnResponse r;
    Status s = c_->client().Txn(txn, &r, deadline);
    if (s.code() == Status::Code::kOutcomeUnknown) {
      // Look: a linearizable read settles it.
      last = s;
      pb::TxnRequest look;
      AddGet(look.mutable_success(), owner);
      if (!c_->client().Txn(look, &r, deadline, /*read_only=*/true).ok()) continue;
    } else if (!s.ok()) {
      return s;
    } else if (r.succeeded()) {
      return Status::OK();
    }
    const auto& kvs = r.responses(0).response_range().kvs();
    if (kvs.empty()) continue;  // not applied, or released meanwhile: again
    if (kvs[0].value() == token) return Status::OK();
    return OwnedElsewhere(id);
  }
  return last;
}

// A point read of `key` (a workflow's), linearizable for owned workflows.
Status EtcdTables::Get(const std::string& key, std::string_view id, pb::RangeResponse* r) {
  pb::RangeRequest req;
  req.set_key(key);
  req.set_serializable(!c_->LinearizableFor(k_.Owner(id)));
  return c_->client().Range(req, r, c_->client().NewDeadline());
}

// Several reads of one workflow at one revision.
Status EtcdTables::ReadTxn(const pb::TxnRequest& txn, std::string_view id, pb::TxnResponse* r) {
  if (c_->LinearizableFor(k_.Owner(id))) return c_->client().Txn(txn, r, c_->client().NewDeadline(), true);
  // A serializable multi-key read: etcd has no serializable Txn flag in
  // its compare-less form other than per range.
  pb::TxnRequest local = txn;
  for (pb::RequestOp& op : *local.mutable_success()) op.mutable_request_range()->set_serializable(true);
  return c_->client().Txn(local, r, c_->client().NewDeadline(), true);
}

// An idempotent write: retried (within the deadline) when its outcome is
// unknown. `succeeded` tells whether its compares held.
Status EtcdTables::IdempotentWrite(const pb::TxnRequest& txn, std::string_view id, const char* what, Deadline deadline,
                                   bool* succeeded) {
  pb::TxnResponse r;
  Status s;
  for (int attempt = 0; attempt < 100; ++attempt) {
    s = c_->client().Txn(txn, &r, deadline);
    if (s.code() != Status::Code::kOutcomeUnknown || Clock::now() >= deadline) break;
    std::this_thread::sleep_until(std::min(deadline, Clock::now() + std::chrono::milliseconds(20)));
  }
  if (s.code() == Status::Code::kOutcomeUnknown) {
    return Status::OutcomeUnknown(std::string(what) + " " + Quote(id) + ": " + s.message());
  }
  if (!s.ok()) return s;
  *succeeded = r.succeeded();
  if (r.succeeded()) return Status::OK();
  // The failure branch reads the owner key first when there is one.
  if (r.responses_size() > 0 && r.responses(0).has_response_range()) {
    const auto& kvs = r.responses(0).response_range().kvs();
    const std::optional<std::string> token = c_->TokenFor(k_.Owner(id));
    const bool ours = token ? (!kvs.empty() && kvs[0].value() == *token) : kvs.empty();
    if (!ours) return NotOwner(id);
  } else if (txn.compare_size() > 0) {
    return NotOwner(id);  // the only compare was the fence
  }
  return Status::OK();
}

// A write whose only compare is the fence.
Status EtcdTables::FencedWrite(const pb::TxnRequest& txn, std::string_view id, const char* what) {
  bool succeeded = false;
  Status s = IdempotentWrite(txn, id, what, c_->client().NewDeadline(), &succeeded);
  if (!s.ok()) return s;
  return succeeded ? Status::OK() : NotOwner(id);
}

// Keys of table `table` as ids (escaped) or raw (facts), paged.
Result<ListPage> EtcdTables::ListTable(char table, const ListOptions& options, bool escaped) {
  const std::string base = k_.Table(table);
  std::string range = base;
  if (escaped) {
    keys::AppendEscaped(&range, options.prefix);
  } else {
    range += options.prefix;
  }
  std::string start = range;
  if (!options.start_after.empty() && options.start_after >= options.prefix) {
    start = escaped ? keys::WorkflowKey(base, options.start_after) : base + options.start_after;
    start.push_back('\0');  // just past start_after itself
  }
  pb::RangeRequest req;
  req.set_key(start);
  req.set_range_end(keys::PrefixSuccessor(range));
  req.set_keys_only(true);
  req.set_limit(static_cast<std::int64_t>(options.limit) + 1);
  req.set_serializable(!c_->client().options().linearizable_reads);
  pb::RangeResponse r;
  if (Status s = c_->client().Range(req, &r, c_->client().NewDeadline()); !s.ok()) return s;
  ListPage page;
  for (const pb::KeyValue& kv : r.kvs()) {
    if (page.ids.size() == options.limit) {
      page.more = true;
      break;
    }
    if (escaped) {
      std::optional<std::string> id = keys::DecodeId(kv.key(), base);
      if (!id) return Status::Corruption("malformed key in the tables of runner '" + runner_ + "'");
      page.ids.push_back(std::move(*id));
    } else {
      page.ids.push_back(kv.key().substr(base.size()));
    }
  }
  return page;
}

Result<WorkflowSummary> EtcdTables::Describe(std::string_view id, bool count_events) {
  pb::TxnRequest txn;
  AddGet(txn.mutable_success(), k_.Counter(id));
  AddGet(txn.mutable_success(), k_.Log(id));
  AddGet(txn.mutable_success(), k_.Snapshot(id));
  AddGet(txn.mutable_success(), k_.InboxLast(id));
  AddGet(txn.mutable_success(), k_.InboxConsumed(id));
  AddGet(txn.mutable_success(), k_.InboxClosed(id));
  pb::TxnResponse r;
  if (Status s = ReadTxn(txn, id, &r); !s.ok()) return s;
  Result<CounterState> c = ParseCounter(r.responses(0).response_range(), id);
  if (!c.ok()) return c.status();
  const auto& log = r.responses(1).response_range().kvs();
  const auto& snap = r.responses(2).response_range().kvs();
  if (!c->exists() && log.empty()) return Status::NotFound("no workflow " + Quote(id));
  WorkflowSummary sum;
  std::int64_t updated_at_us = c->value.updated_at_us;
  if (!log.empty()) {
    if (log[0].value().size() < 8) return Status::Corruption("the log of " + Quote(id) + " is malformed");
    sum.has_log = true;
    sum.log_bytes = log[0].value().size() - 8;
    updated_at_us = std::max(updated_at_us, static_cast<std::int64_t>(keys::GetFixed64(log[0].value())));
  }
  if (!snap.empty()) {
    if (snap[0].value().size() < 8) return Status::Corruption("the snapshot of " + Quote(id) + " is malformed");
    sum.has_snapshot = true;
    sum.snapshot_cursor = keys::GetFixed64(snap[0].value());
    sum.snapshot_bytes = snap[0].value().size() - 8;
  }
  sum.cursor = c->value.cursor;
  sum.trimmed = c->value.trimmed;
  sum.events = sum.cursor - sum.trimmed;
  sum.updated_at = std::chrono::system_clock::time_point(std::chrono::microseconds(updated_at_us));
  sum.state_tag = c->value.state_tag;
  sum.due = c->value.due;
  for (auto [at, field] : {std::pair{3, &sum.inbox_last}, {4, &sum.inbox_consumed}}) {
    const auto& kvs = r.responses(at).response_range().kvs();
    if (kvs.empty()) continue;
    if (kvs[0].value().size() != 8) return Status::Corruption("the inbox cursors of " + Quote(id) + " are malformed");
    *field = keys::GetFixed64(kvs[0].value());
  }
  if (sum.inbox_consumed > sum.inbox_last)
    return Status::Corruption("the inbox cursors of " + Quote(id) + " are inconsistent");
  sum.inbox_pending = sum.inbox_last - sum.inbox_consumed;
  sum.inbox_closed = !r.responses(5).response_range().kvs().empty();
  if (count_events && sum.events > 0) {
    // The events' bytes, at the revision of the reads above.
    BatchCursor cursor(shared_from_this(), std::string(id), sum.trimmed + 1, sum.cursor, r.header().revision(), true);
    std::vector<std::string_view> events;
    std::uint64_t first = 0;
    for (int page = 0; page < 10'000'000 && !cursor.done(); ++page) {
      if (Status s = cursor.Fetch(&events, &first); !s.ok()) {
        if (!s.IsCorruption()) return s;
        return Status::Corruption("workflow " + Quote(id) + " has " + std::to_string(cursor.next() - 1 - sum.trimmed) +
                                  " of its " + std::to_string(sum.events) + " events (" + s.message() + ")");
      }
      for (std::string_view e : events) sum.event_bytes += e.size();
    }
  }
  return sum;
}

Result<StoreStats> EtcdTables::Stats() {
  StoreStats stats;
  struct Sum {
    char table;
    std::uint64_t* count;
    std::uint64_t* bytes;
    std::size_t header;
  };
  std::uint64_t counters = 0, counter_bytes = 0, index_bytes = 0;
  std::int64_t revision = 0;  // all tables at one revision
  for (Sum sum : {Sum{'l', &stats.logs, &stats.log_bytes, 8}, Sum{'e', &stats.events, &stats.event_bytes, 8},
                  Sum{'s', &stats.snapshots, &stats.snapshot_bytes, 8}, Sum{'f', &stats.facts, &stats.fact_bytes, 0},
                  Sum{'c', &counters, &counter_bytes, 0}, Sum{'i', &stats.inbox_entries, &stats.inbox_bytes, 0},
                  Sum{'t', &stats.state_entries, &index_bytes, 0}, Sum{'d', &stats.due_entries, &index_bytes, 0}}) {
    const std::string base = k_.Table(sum.table);
    pb::RangeRequest req;
    req.set_range_end(keys::PrefixSuccessor(base));
    req.set_serializable(!c_->client().options().linearizable_reads);
    req.set_limit(kMaxPageKeys);
    std::string from = base;
    for (int page = 0; page < 10'000'000; ++page) {
      req.set_key(from);
      req.set_revision(revision);
      pb::RangeResponse r;
      if (Status s = c_->client().Range(req, &r, c_->client().NewDeadline()); !s.ok()) return s;
      if (revision == 0) revision = r.header().revision();
      for (const pb::KeyValue& kv : r.kvs()) {
        if (sum.table == 'e') {  // batches
          std::vector<std::string_view> events;
          if (!DecodeBatch(kv.value(), &events)) {
            return Status::Corruption("an event batch of runner '" + runner_ + "' is malformed");
          }
          *sum.count += events.size();
          for (std::string_view e : events) *sum.bytes += e.size();
          continue;
        }
        ++*sum.count;
        *sum.bytes += kv.value().size() - std::min(sum.header, kv.value().size());
        CounterValue cv;
        if (sum.table == 'c' && DecodeCounter(kv.value(), &cv) && cv.cursor > cv.trimmed) {
          ++stats.workflows_with_events;
        }
      }
      if (!r.more() || r.kvs().empty()) break;
      from = r.kvs().rbegin()->key() + std::string(1, '\0');
    }
  }
  return stats;
}

}  // namespace runic::internal::etcd
