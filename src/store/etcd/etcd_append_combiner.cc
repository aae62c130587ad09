// The etcd engine's appends. Concurrent Append calls are combined into one
// transaction (the first thread in commits what is queued, the others wait);
// each workflow keeps its own compares, so each append is still all or
// nothing. A transaction whose outcome is unknown is settled by Reconcile.
#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "store/etcd/etcd_tables.h"

namespace runic::internal::etcd {

std::vector<Result<std::uint64_t>> EtcdTables::AppendMany(std::span<const AppendInput> inputs) {
  std::vector<AppendJob> jobs(inputs.size());
  std::vector<AppendJob*> ptrs;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    Prepare(&inputs[i], &jobs[i]);
    ptrs.push_back(&jobs[i]);
  }
  Commit(ptrs, c_->client().NewDeadline());
  std::vector<Result<std::uint64_t>> out;
  out.reserve(jobs.size());
  for (AppendJob& j : jobs) out.push_back(std::move(*j.result));
  return out;
}

void EtcdTables::Prepare(const AppendInput* in, AppendJob* job) {
  job->in = in;
  job->counter_key = k_.Counter(in->id);
  job->owner_key = k_.Owner(in->id);
  job->token = c_->TokenFor(job->owner_key);
  const AppendOptions& o = *in->options;
  job->extra_ops = ExtraEntries(EmbeddedLimits(), o);
  if (o.consume_inbox_through != 0) {
    // The cursors only grow while the owner (this caller) appends, so a
    // check against them now holds at the write.
    std::uint64_t last = 0;
    Status s = ReadInboxCursors(in->id, &last, &job->inbox_consumed);
    if (s.ok() && o.consume_inbox_through > last) {
      s = ConsumeAbove(in->id, o.consume_inbox_through, last);
    }
    if (!s.ok()) job->result = s;
  }
}

Result<std::uint64_t> EtcdTables::Append(const AppendInput& in) {
  AppendJob job;
  Prepare(&in, &job);
  // Group commit: the first thread in commits what is queued then (distinct
  // workflows, as many as one transaction holds); the others wait for it.
  // One combined transaction at a time: measured (bench W5, 8 writers),
  // two in flight were slower, each carrying fewer appends.
  std::unique_lock lock(combine_mu_);
  queue_.push_back(&job);
  while (!job.finished) {
    if (committing_) {
      combine_cv_.wait(lock);
      continue;
    }
    committing_ = true;
    std::vector<AppendJob*> batch;
    std::set<std::string_view> ids;
    std::size_t ops = 0, bytes = 0;
    for (auto it = queue_.begin(); it != queue_.end();) {
      AppendJob* j = *it;
      if (ids.contains(j->in->id) ||
          (!batch.empty() &&
           (batch.size() == kMaxTxnOps / 2 || ops + j->Ops() > kMaxTxnOps || bytes + j->Bytes() > kMaxRequestBytes))) {
        ++it;
        continue;
      }
      ids.insert(j->in->id);
      ops += j->Ops();
      bytes += j->Bytes();
      batch.push_back(j);
      it = queue_.erase(it);
    }
    lock.unlock();
    Commit(batch, c_->client().NewDeadline());
    lock.lock();
    committing_ = false;
    // Each job's owner returns (and frees it) once `finished` is set.
    for (AppendJob* j : batch) j->finished = true;
    combine_cv_.notify_all();
  }
  return std::move(*job.result);
}

Status EtcdTables::LoadStates(std::span<AppendJob*> jobs, Deadline deadline) {
  pb::TxnRequest txn;
  std::vector<AppendJob*> need;
  bool linearizable = c_->client().options().linearizable_reads;
  for (AppendJob* j : jobs) {
    if (j->known) continue;
    if (std::optional<CounterState> cached = c_->Cached(j->counter_key)) {
      // A cached counter that contradicts the expected cursor is re-read: a
      // conflict is reported only from the cluster's word.
      if (!j->in->options->expected_cursor || *j->in->options->expected_cursor == cached->value.cursor) {
        j->state = *cached;
        j->known = true;
        continue;
      }
      linearizable = true;
    }
    linearizable = linearizable || j->token.has_value() || j->in->options->expected_cursor.has_value();
    need.push_back(j);
    AddGet(txn.mutable_success(), j->counter_key);
  }
  if (need.empty()) return Status::OK();
  if (!linearizable) {
    for (pb::RequestOp& op : *txn.mutable_success()) op.mutable_request_range()->set_serializable(true);
  }
  pb::TxnResponse r;
  if (Status s = c_->client().Txn(txn, &r, deadline, /*read_only=*/true); !s.ok()) return s;
  for (std::size_t i = 0; i < need.size(); ++i) {
    Result<CounterState> st = ParseCounter(r.responses(static_cast<int>(i)).response_range(), need[i]->in->id);
    if (!st.ok()) {
      need[i]->result = st.status();
      continue;
    }
    need[i]->state = *st;
    need[i]->known = true;
  }
  return Status::OK();
}

void EtcdTables::Commit(std::span<AppendJob*> jobs, Deadline deadline) {
  std::vector<AppendJob*> pending(jobs.begin(), jobs.end());
  for (int round = 0; round < kMaxRounds && !pending.empty(); ++round) {
    if (Clock::now() >= deadline) break;
    if (Status s = LoadStates(pending, deadline); !s.ok()) {
      for (AppendJob* j : pending) j->result = s;
      return;
    }
    std::erase_if(pending, [](AppendJob* j) { return j->result.has_value(); });
    for (AppendJob* j : pending) {
      if (j->in->options->expected_cursor && *j->in->options->expected_cursor != j->state.value.cursor) {
        j->result =
            Status::Conflict("workflow " + Quote(j->in->id) + " is at cursor " + std::to_string(j->state.value.cursor) +
                             ", not the expected " + std::to_string(*j->in->options->expected_cursor));
      }
    }
    std::erase_if(pending, [](AppendJob* j) { return j->result.has_value(); });
    // Transactions of at most kMaxTxnOps operations and kMaxRequestBytes.
    std::size_t begin = 0;
    while (begin < pending.size()) {
      std::size_t end = begin, ops = 0, bytes = 0;
      // After a conflict, one workflow per transaction: a shared one fails
      // when any of its workflows moved, which under contention can go on
      // and on, while on its own each append only waits for its workflow.
      const std::size_t max_jobs = round == 0 ? kMaxTxnOps / 2 : 1;
      while (end < pending.size() &&
             (end == begin || (end - begin < max_jobs && ops + pending[end]->Ops() <= kMaxTxnOps &&
                               bytes + pending[end]->Bytes() <= kMaxRequestBytes))) {
        ops += pending[end]->Ops();
        bytes += pending[end]->Bytes();
        ++end;
      }
      CommitChunk(std::span<AppendJob*>(pending).subspan(begin, end - begin), deadline);
      begin = end;
    }
    std::erase_if(pending, [](AppendJob* j) { return j->result.has_value(); });
  }
  for (AppendJob* j : pending) {
    j->result = Status::Unavailable("appending to " + Quote(j->in->id) +
                                    ": other writers kept moving its counter, or the deadline passed");
  }
}

void EtcdTables::CommitChunk(std::span<AppendJob*> chunk, Deadline deadline) {
  const std::uint64_t nonce = RandomNonce();
  const std::int64_t now_us = NowMicros();
  pb::TxnRequest txn;
  std::set<std::string_view> facts;  // a key may appear once per transaction
  for (AppendJob* j : chunk) {
    CompareMod(&txn, j->counter_key, j->state.mod_revision);
    CompareOwner(&txn, j->owner_key, j->token);
    j->next = j->state.value;
    auto* ops = txn.mutable_success();
    AddPut(ops, k_.Event(j->in->id, j->next.cursor + 1), EncodeBatch(nonce, j->in->events));
    for (const auto& [hash, value] : j->in->options->facts) {
      if (facts.insert(hash).second) AddPut(ops, k_.Fact(hash), std::string(value));
    }
    AddWaits(j, ops);
    j->next.cursor += j->in->events.size();
    j->next.updated_at_us = now_us;
    j->next.nonce = nonce;
    AddPut(ops, j->counter_key, EncodeCounter(j->next));
    AddGet(txn.mutable_failure(), j->counter_key);
    AddGet(txn.mutable_failure(), j->owner_key);
  }
  auto applied = [&](std::int64_t revision) {  // revision 0: not seen
    for (AppendJob* j : chunk) {
      if (revision != 0) {
        c_->Cache(j->counter_key, CounterState{j->next, revision});
      } else {
        c_->Uncache(j->counter_key);
      }
      j->result = j->next.cursor;
    }
  };
  auto unknown = [&](const Status& s) {
    for (AppendJob* j : chunk) {
      c_->Uncache(j->counter_key);
      j->result = Status::OutcomeUnknown("append to " + Quote(j->in->id) +
                                         " may or may not have been applied; read its counter (linearizably) to "
                                         "find out: " +
                                         s.message());
    }
  };
  auto retry_later = [&] {  // the jobs go round again with fresh states
    for (AppendJob* j : chunk) {
      j->known = false;
      c_->Uncache(j->counter_key);
    }
  };
  // Once an attempt's outcome is unknown, this same transaction (same
  // compares, same nonce) is all that may be sent again until it is known
  // not to apply, ever: at most one of its copies can pass the compares.
  bool sent_blind = false;
  Status last;
  for (int attempt = 0; attempt < 100 && Clock::now() < deadline; ++attempt) {
    pb::TxnResponse r;
    last = c_->client().Txn(txn, &r, deadline);
    if (last.ok() && r.succeeded()) return applied(r.header().revision());
    Outcome outcome = Outcome::kNotApplied;
    if (last.code() == Status::Code::kOutcomeUnknown || (last.ok() && sent_blind)) {
      sent_blind = sent_blind || !last.ok();
      outcome = Reconcile(chunk, nonce, deadline);
    } else if (!last.ok()) {
      if (sent_blind) break;  // an earlier copy may still apply
      for (AppendJob* j : chunk) j->result = last;
      return;
    }
    switch (outcome) {
      case Outcome::kApplied:
        return applied(0);
      case Outcome::kPending:
        std::this_thread::sleep_until(std::min(deadline, Clock::now() + std::chrono::milliseconds(20)));
        continue;
      case Outcome::kNever:
        return retry_later();
      case Outcome::kUnknown:
        return unknown(last);
      case Outcome::kNotApplied:
        break;
    }
    // The compares failed on a first attempt: learn why from the failure
    // branch.
    for (std::size_t i = 0; i < chunk.size(); ++i) {
      AppendJob* j = chunk[i];
      j->known = false;
      c_->Uncache(j->counter_key);
      if (r.responses_size() != static_cast<int>(2 * chunk.size())) continue;
      const auto& owner = r.responses(static_cast<int>(2 * i + 1)).response_range().kvs();
      const bool fenced_ok = j->token ? (!owner.empty() && owner[0].value() == *j->token) : owner.empty();
      if (!fenced_ok) {
        j->result = NotOwner(j->in->id);
        continue;
      }
      Result<CounterState> st = ParseCounter(r.responses(static_cast<int>(2 * i)).response_range(), j->in->id);
      if (!st.ok()) {
        j->result = st.status();
        continue;
      }
      j->state = *st;
      // A state that contradicts the expected cursor is re-read
      // linearizably before it is called a conflict.
      j->known = !j->in->options->expected_cursor || *j->in->options->expected_cursor == st->value.cursor;
    }
    return;
  }
  if (sent_blind) return unknown(last.ok() ? Status::OutcomeUnknown("the deadline passed") : last);
  retry_later();
}

// Settles a transaction whose outcome was unknown. Its nonce is in each
// counter it wrote or, if a later append moved a counter, in the header of
// the batch it wrote at the old cursor + 1: found anywhere, it applied (all
// of it: one transaction).
// A counter still at the revision it compares against means it has not
// applied yet, but may still (it can be in flight in Raft): only this same
// transaction may be sent again. A counter moved by someone else means it
// never will.
EtcdTables::Outcome EtcdTables::Reconcile(std::span<AppendJob*> jobs, std::uint64_t nonce, Deadline deadline) {
  pb::TxnRequest look;
  for (AppendJob* j : jobs) {
    AddGet(look.mutable_success(), j->counter_key);
    AddGet(look.mutable_success(), k_.Event(j->in->id, j->state.value.cursor + 1));
  }
  for (int attempt = 0; attempt < 1000 && Clock::now() < deadline; ++attempt) {
    pb::TxnResponse r;
    if (Status s = c_->client().Txn(look, &r, deadline, /*read_only=*/true); !s.ok()) continue;
    bool never = false, all_pending = true, any_pending = false;
    for (std::size_t i = 0; i < jobs.size(); ++i) {
      const CounterState& before = jobs[i]->state;
      const auto& counter = r.responses(static_cast<int>(2 * i)).response_range().kvs();
      const auto& event = r.responses(static_cast<int>(2 * i + 1)).response_range().kvs();
      CounterValue now;
      const bool has_counter = !counter.empty() && DecodeCounter(counter[0].value(), &now);
      if (has_counter && now.nonce == nonce) return Outcome::kApplied;
      if (!event.empty() && event[0].value().size() >= 8 && keys::GetFixed64(event[0].value()) == nonce) {
        return Outcome::kApplied;
      }
      const std::int64_t mod = counter.empty() ? 0 : counter[0].mod_revision();
      if (mod == before.mod_revision) {  // not yet
        any_pending = true;
        continue;
      }
      all_pending = false;
      // Moved, by a write that left the next event someone else's, or no
      // append at all (a trim): this transaction's compare fails for good.
      if (!event.empty() || (has_counter && now.cursor <= before.value.cursor)) never = true;
    }
    // A counter not moved means it has not applied; another moved means it
    // never can (its compare there fails for good).
    if (never || (any_pending && !all_pending)) return Outcome::kNever;
    return all_pending ? Outcome::kPending : Outcome::kUnknown;
  }
  return Outcome::kUnknown;
}

}  // namespace runic::internal::etcd
