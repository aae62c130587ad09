// The etcd engine: the store contract on an etcd cluster (etcd_keys.h has
// the layout).
//
// Writes are etcd transactions that compare what they depend on: an append
// compares the workflow's counter (by its mod revision) and its owner key,
// and writes counter, events and facts; on a conflict it re-reads and tries
// again. An append whose outcome is unknown (a member died or the deadline
// passed after it was sent) is settled by a linearizable read of the nonce
// it wrote (Reconcile); the other writes are idempotent and simply retried.
// Appends from concurrent threads are combined into one transaction
// (AppendCombiner): each workflow keeps its own compare, so each is still
// all or nothing, and the transaction, being one, is too.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "store/database_impl.h"
#include "store/engine.h"
#include "store/etcd/etcd_client.h"
#include "store/etcd/etcd_keys.h"

namespace runic::internal {
namespace etcd {
namespace {

namespace pb = etcdserverpb;

// etcd's defaults (--max-txn-ops, --max-request-bytes) with room for keys
// and framing: what one transaction of ours may hold.
constexpr std::size_t kMaxTxnOps = 128;
constexpr std::size_t kMaxRequestBytes = (std::size_t{3} << 19) - (std::size_t{64} << 10);
// Reads page through at most about this many value bytes at a time.
constexpr std::size_t kPageBytes = std::size_t{1} << 20;
constexpr std::int64_t kMaxPageKeys = 1000;
// Conflicting rounds an append tries before it gives up (each re-reads).
constexpr int kMaxRounds = 64;

std::uint64_t RandomNonce() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   static_cast<std::uint64_t>(Clock::now().time_since_epoch().count())};
  std::uint64_t n = 0;
  while (n == 0) n = rng();  // 0 marks imported events
  return n;
}

std::string Quote(std::string_view id) { return "'" + std::string(id) + "'"; }

void AddPut(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, std::string key, std::string value,
            std::int64_t lease = 0) {
  pb::PutRequest* put = ops->Add()->mutable_request_put();
  put->set_key(std::move(key));
  put->set_value(std::move(value));
  if (lease != 0) put->set_lease(lease);
}

void AddDelete(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, std::string key, std::string end = {}) {
  pb::DeleteRangeRequest* del = ops->Add()->mutable_request_delete_range();
  del->set_key(std::move(key));
  if (!end.empty()) del->set_range_end(std::move(end));
}

void AddGet(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, std::string key) {
  ops->Add()->mutable_request_range()->set_key(std::move(key));
}

void CompareMod(pb::TxnRequest* txn, std::string key, std::int64_t mod_revision) {
  pb::Compare* c = txn->add_compare();
  c->set_result(pb::Compare::EQUAL);
  c->set_target(pb::Compare::MOD);
  c->set_key(std::move(key));
  c->set_mod_revision(mod_revision);
}

// The fence: the owner key holds `token`, or, for a workflow this process
// does not own, there is no owner key.
void CompareOwner(pb::TxnRequest* txn, std::string owner_key, const std::optional<std::string>& token) {
  pb::Compare* c = txn->add_compare();
  c->set_result(pb::Compare::EQUAL);
  c->set_key(std::move(owner_key));
  if (token) {
    c->set_target(pb::Compare::VALUE);
    c->set_value(*token);
  } else {
    c->set_target(pb::Compare::CREATE);
    c->set_create_revision(0);
  }
}

std::string TokenOf(std::int64_t lease) {
  std::string out;
  keys::PutFixed64(&out, static_cast<std::uint64_t>(lease));
  return out;
}

// A counter as read: its value and the revision that last wrote it (0:
// there is none).
struct CounterState {
  CounterValue value;
  std::int64_t mod_revision = 0;
  bool exists() const { return mod_revision != 0; }
};

Result<CounterState> ParseCounter(const pb::RangeResponse& r, std::string_view id) {
  CounterState s;
  if (r.kvs_size() == 0) return s;
  if (!DecodeCounter(r.kvs(0).value(), &s.value)) {
    return Status::Corruption("the event counter of " + Quote(id) + " is malformed");
  }
  s.mod_revision = r.kvs(0).mod_revision();
  return s;
}

}  // namespace

StoreLimits EtcdLimits() {
  StoreLimits limits = EmbeddedLimits();
  // One append is one transaction: its facts, its batch and its counter
  // within etcd's default --max-txn-ops; a batch holds at most as many
  // events (etcd_keys.h).
  static_assert(kMaxBatchEvents <= kMaxTxnOps - 1);
  limits.max_batch_events = kMaxBatchEvents;
  return limits;
}

// What the engine's tables share: the client, the ownership lease, the
// counters this process last wrote.
class Cluster {
 public:
  Cluster(std::unique_ptr<Client> client, std::string root, bool read_only)
      : client_(std::move(client)), root_(std::move(root)), read_only_(read_only) {
    keepalive_ = std::thread([this] { KeepAliveLoop(); });
  }

  ~Cluster() {
    std::int64_t lease = 0;
    {
      std::lock_guard lock(mu_);
      stop_ = true;
      lease = lost_ ? 0 : lease_;
    }
    wake_.notify_all();
    keepalive_.join();
    // A clean close hands this process's workflows over at once instead of
    // after the lease's TTL.
    if (lease != 0) (void)client_->LeaseRevoke(lease, client_->NewDeadline());
  }

  Client& client() { return *client_; }
  const std::string& root() const { return root_; }
  bool read_only() const { return read_only_; }

  // --- Ownership ---------------------------------------------------------

  // The token this process holds `owner_key` with, if it claimed it.
  std::optional<std::string> TokenFor(const std::string& owner_key) {
    std::lock_guard lock(mu_);
    auto it = owned_.find(owner_key);
    if (it == owned_.end()) return std::nullopt;
    return it->second;
  }

  // The lease claims are made with; granted on first use, and again after
  // the previous one expired (claims made with it stay lost).
  Result<std::int64_t> Lease(Deadline deadline) {
    std::lock_guard grant(grant_mu_);
    {
      std::lock_guard lock(mu_);
      if (lease_ != 0 && !lost_) return lease_;
    }
    const auto ttl = std::chrono::ceil<std::chrono::seconds>(client_->options().lease_ttl);
    Result<std::int64_t> lease = client_->LeaseGrant(ttl.count(), deadline);
    if (!lease.ok()) return lease.status();
    std::lock_guard lock(mu_);
    lease_ = *lease;
    lost_ = false;
    wake_.notify_all();
    return lease_;
  }

  // Held shared by a claim from its first look at the owner key until it is
  // recorded as owned.
  std::shared_mutex& release_mu() { return release_mu_; }
  // The lease was found gone: the next claim takes a new one.
  void MarkLost(std::int64_t lease) {
    std::lock_guard lock(mu_);
    if (lease_ == lease) lost_ = true;
  }

  void SetOwned(const std::string& owner_key, const std::string& token) {
    std::lock_guard lock(mu_);
    owned_[owner_key] = token;
    std::erase_if(pending_releases_, [&](const auto& p) { return p.first == owner_key; });
  }
  void ForgetOwned(const std::string& owner_key) {
    std::lock_guard lock(mu_);
    owned_.erase(owner_key);
  }

  // Deletes `owner_key` if it still holds `token` (idempotent: a failure is
  // retried later, see ReleaseLater).
  Status ReleaseNow(const std::string& owner_key, const std::string& token, Deadline deadline) {
    pb::TxnRequest txn;
    CompareOwner(&txn, owner_key, token);
    AddDelete(txn.mutable_success(), owner_key);
    pb::TxnResponse r;
    return client_->Txn(txn, &r, deadline);
  }
  // Releases that failed, retried by the keep-alive thread.
  void ReleaseLater(const std::string& owner_key, const std::string& token) {
    std::lock_guard lock(mu_);
    if (pending_releases_.size() < 100000) pending_releases_.emplace_back(owner_key, token);
  }

  // Reads of owned workflows decide what this process writes next.
  bool LinearizableFor(const std::string& owner_key) {
    return client_->options().linearizable_reads || TokenFor(owner_key).has_value();
  }

  // --- Counters this process last wrote -------------------------------------

  std::optional<CounterState> Cached(const std::string& counter_key) {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(counter_key);
    if (it == cache_.end()) return std::nullopt;
    return it->second;
  }
  void Cache(const std::string& counter_key, const CounterState& s) {
    std::lock_guard lock(cache_mu_);
    if (cache_.size() >= 100000) cache_.clear();  // bounded; a miss costs one read
    cache_[counter_key] = s;
  }
  void Uncache(const std::string& counter_key) {
    std::lock_guard lock(cache_mu_);
    cache_.erase(counter_key);
  }
  // After DropRunner: nothing cached under the runner survives.
  void UncachePrefix(const std::string& prefix) {
    std::lock_guard lock(cache_mu_);
    std::erase_if(cache_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
  }

 private:
  void KeepAliveLoop() {
    constexpr std::size_t kReleasesPerTick = 16;  // the renewal comes first
    std::unique_lock lock(mu_);
    Clock::time_point renewed = Clock::now();
    while (!stop_) {
      const auto period = client_->options().lease_ttl / 3;
      wake_.wait_for(lock, period, [&] { return stop_; });
      if (stop_ || lease_ == 0 || lost_) {
        renewed = Clock::now();
        continue;
      }
      const std::int64_t lease = lease_;
      std::vector<std::pair<std::string, std::string>> releases;
      const std::size_t n = std::min(kReleasesPerTick, pending_releases_.size());
      releases.assign(pending_releases_.begin(), pending_releases_.begin() + static_cast<std::ptrdiff_t>(n));
      pending_releases_.erase(pending_releases_.begin(), pending_releases_.begin() + static_cast<std::ptrdiff_t>(n));
      lock.unlock();
      Result<std::int64_t> ttl = client_->LeaseKeepAlive(lease, Clock::now() + period);
      if (ttl.ok() && *ttl > 0) renewed = Clock::now();
      for (std::size_t i = 0; i < releases.size(); ++i) {
        const auto& [key, token] = releases[i];
        // Exclusive: no claim of this process is between its check and its
        // put meanwhile (a claim may find the key still ours and keep it).
        std::unique_lock no_claims(release_mu_);
        if (TokenFor(key) == token) continue;  // claimed again since
        if (!ReleaseNow(key, token, Clock::now() + period).ok()) {
          std::lock_guard again(mu_);
          pending_releases_.insert(pending_releases_.end(), releases.begin() + static_cast<std::ptrdiff_t>(i),
                                   releases.end());
          break;
        }
      }
      lock.lock();
      // An expired lease took its owner keys with it: every fenced write
      // made with it fails from now on, which is the point. Unrenewed for a
      // whole TTL, it may have expired: claims take a new one.
      if (lease_ == lease && ((ttl.ok() && *ttl <= 0) || Clock::now() - renewed > client_->options().lease_ttl)) {
        lost_ = true;
      }
    }
  }

  const std::unique_ptr<Client> client_;
  const std::string root_;
  const bool read_only_;

  std::mutex grant_mu_;           // one lease grant at a time
  std::shared_mutex release_mu_;  // claims (shared) vs background releases
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::int64_t lease_ = 0;
  bool lost_ = false;
  std::unordered_map<std::string, std::string> owned_;                 // owner key -> token
  std::vector<std::pair<std::string, std::string>> pending_releases_;  // (owner key, token)
  std::thread keepalive_;

  std::mutex cache_mu_;
  std::unordered_map<std::string, CounterState> cache_;
};

namespace {

// One append on its way into a transaction.
struct AppendJob {
  const RunnerTables::AppendInput* in = nullptr;
  std::string counter_key, owner_key;
  std::optional<std::string> token;
  CounterState state;  // what the transaction compares against
  bool known = false;  // `state` is worth trying
  std::optional<Result<std::uint64_t>> result;
  bool finished = false;  // for the combiner: set under its lock, after the result

  std::size_t Ops() const { return 2 + in->facts.size(); }  // counter, batch, facts
  std::size_t Bytes() const {
    std::size_t n = counter_key.size() * 3 + 96;
    for (std::string_view e : in->events) n += e.size() + 4;
    for (const auto& [hash, value] : in->facts) n += hash.size() + value.size() + counter_key.size() + 16;
    return n;
  }
};

}  // namespace

class EtcdTables final : public RunnerTables, public std::enable_shared_from_this<EtcdTables> {
 public:
  EtcdTables(std::shared_ptr<Cluster> cluster, std::string_view runner)
      : c_(std::move(cluster)), k_(c_->root(), runner), runner_(runner) {}

  const RunnerKeys& keys() const { return k_; }
  Cluster& cluster() { return *c_; }

  // --- Logs -------------------------------------------------------------

  Status SaveLog(std::string_view id, std::string_view log, std::int64_t updated_at_us) override {
    pb::TxnRequest txn;
    const std::string owner = k_.Owner(id);
    CompareOwner(&txn, owner, c_->TokenFor(owner));
    AddPut(txn.mutable_success(), k_.Log(id), WithHeader(static_cast<std::uint64_t>(updated_at_us), log));
    return FencedWrite(txn, id, "saving the log of");
  }

  Result<LogRecord> LoadLog(std::string_view id) override {
    pb::RangeResponse r;
    if (Status s = Get(k_.Log(id), id, &r); !s.ok()) return s;
    if (r.kvs_size() == 0) return Status::NotFound("no log for " + Quote(id));
    const std::string& v = r.kvs(0).value();
    if (v.size() < 8) return Status::Corruption("the log of " + Quote(id) + " is malformed");
    LogRecord rec;
    rec.log = v.substr(8);
    rec.updated_at = std::chrono::system_clock::time_point(
        std::chrono::microseconds(static_cast<std::int64_t>(keys::GetFixed64(v))));
    return rec;
  }

  // --- Appends -----------------------------------------------------------

  Result<std::uint64_t> Append(std::string_view id, std::span<const std::string_view> events,
                               std::optional<std::uint64_t> expected_cursor, FactList facts) override;
  std::vector<Result<std::uint64_t>> AppendMany(std::span<const AppendInput> inputs) override {
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

  void Prepare(const AppendInput* in, AppendJob* job) {
    job->in = in;
    job->counter_key = k_.Counter(in->id);
    job->owner_key = k_.Owner(in->id);
    job->token = c_->TokenFor(job->owner_key);
  }

  // Commits `jobs` (distinct ids), each all or nothing, setting every result.
  void Commit(std::span<AppendJob*> jobs, Deadline deadline);

  // --- Streams and snapshots ------------------------------------------------

  Result<std::unique_ptr<EventIterator>> Stream(std::string_view id, std::uint64_t after,
                                                std::shared_ptr<const void> database) override;

  Status SaveSnapshot(std::string_view id, std::uint64_t cursor, std::string_view bytes) override {
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

  Result<Snapshot> LoadSnapshot(std::string_view id) override {
    pb::RangeResponse r;
    if (Status s = Get(k_.Snapshot(id), id, &r); !s.ok()) return s;
    if (r.kvs_size() == 0) return Status::NotFound("no snapshot for " + Quote(id));
    const std::string& v = r.kvs(0).value();
    if (v.size() < 8) return Status::Corruption("the snapshot of " + Quote(id) + " is malformed");
    return Snapshot{keys::GetFixed64(v), v.substr(8)};
  }

  // --- Facts --------------------------------------------------------------

  Status SaveFact(std::string_view hash, std::string_view value) override {
    pb::TxnRequest txn;
    AddPut(txn.mutable_success(), k_.Fact(hash), std::string(value));
    bool succeeded = false;
    return IdempotentWrite(txn, hash, "saving fact", c_->client().NewDeadline(), &succeeded);
  }

  Result<std::string> LoadFact(std::string_view hash) override {
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

  Status DeleteFact(std::string_view hash) override {
    pb::TxnRequest txn;
    AddDelete(txn.mutable_success(), k_.Fact(hash));
    bool succeeded = false;
    return IdempotentWrite(txn, hash, "deleting fact", c_->client().NewDeadline(), &succeeded);
  }

  // --- Workflows ------------------------------------------------------------

  Status Delete(std::string_view id) override {
    const std::string owner = k_.Owner(id);
    pb::TxnRequest txn;
    CompareOwner(&txn, owner, c_->TokenFor(owner));
    auto* ops = txn.mutable_success();
    AddDelete(ops, k_.Log(id));
    AddDelete(ops, k_.Counter(id));
    AddDelete(ops, k_.Snapshot(id));
    const std::string events = k_.Events(id);
    AddDelete(ops, events, keys::PrefixSuccessor(events));
    c_->Uncache(k_.Counter(id));
    Status s = FencedWrite(txn, id, "deleting");
    c_->Uncache(k_.Counter(id));
    return s;
  }

  Result<ListPage> List(const ListOptions& options) override {
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

  Result<bool> Exists(std::string_view id) override {
    pb::TxnRequest txn;
    AddGet(txn.mutable_success(), k_.Counter(id));
    AddGet(txn.mutable_success(), k_.Log(id));
    pb::TxnResponse r;
    if (Status s = ReadTxn(txn, id, &r); !s.ok()) return s;
    return r.responses(0).response_range().kvs_size() > 0 || r.responses(1).response_range().kvs_size() > 0;
  }

  Result<WorkflowSummary> Describe(std::string_view id) override;

  Status Trim(std::string_view id, std::uint64_t cursor) override {
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

  Result<StoreStats> Stats() override;

  Result<ListPage> ListFacts(const ListOptions& options) override { return ListTable('f', options, false); }

  Status ImportEvents(std::string_view id, std::uint64_t first_sequence,
                      std::span<const std::string_view> events) override {
    const std::string owner = k_.Owner(id);
    pb::TxnRequest txn;
    CompareOwner(&txn, owner, c_->TokenFor(owner));
    AddPut(txn.mutable_success(), k_.Event(id, first_sequence), EncodeBatch(0, events));
    return FencedWrite(txn, id, "importing events of");
  }

  Status ImportWorkflow(std::string_view id, const WorkflowImport& w) override;

  // --- Ownership ------------------------------------------------------------

  Status Claim(std::string_view id) override {
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

  Status Release(std::string_view id) override {
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

  // --- Reads shared by the iterator -----------------------------------------

  // The counter of `id`, linearizable when asked.
  Result<CounterState> ReadCounter(std::string_view id, Deadline deadline, bool linearizable,
                                   std::int64_t* revision = nullptr) {
    pb::RangeRequest req;
    req.set_key(k_.Counter(id));
    req.set_serializable(!linearizable);
    pb::RangeResponse r;
    if (Status s = c_->client().Range(req, &r, deadline); !s.ok()) return s;
    if (revision != nullptr) *revision = r.header().revision();
    return ParseCounter(r, id);
  }

 private:
  static Status OwnedElsewhere(std::string_view id) {
    return Status::NotOwner("workflow " + Quote(id) +
                            " is owned by another process (a live etcd lease holds it); it can be claimed once "
                            "that lease expires");
  }
  // Why a write of `id` was fenced off.
  Status NotOwner(std::string_view id) {
    if (c_->TokenFor(k_.Owner(id))) {
      return Status::NotOwner("this process no longer owns workflow " + Quote(id) +
                              " (its etcd lease expired, or another process claimed it since); nothing was written");
    }
    return OwnedElsewhere(id);
  }

  // Puts the owner key of `id` with `token` unless another process holds
  // it: ok when it is ours now.
  Status TryClaim(std::string_view id, const std::string& owner, const std::string& token, std::int64_t lease,
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
  Status Get(const std::string& key, std::string_view id, pb::RangeResponse* r) {
    pb::RangeRequest req;
    req.set_key(key);
    req.set_serializable(!c_->LinearizableFor(k_.Owner(id)));
    return c_->client().Range(req, r, c_->client().NewDeadline());
  }

  // Several reads of one workflow at one revision.
  Status ReadTxn(const pb::TxnRequest& txn, std::string_view id, pb::TxnResponse* r) {
    if (c_->LinearizableFor(k_.Owner(id))) return c_->client().Txn(txn, r, c_->client().NewDeadline(), true);
    // A serializable multi-key read: etcd has no serializable Txn flag in
    // its compare-less form other than per range.
    pb::TxnRequest local = txn;
    for (pb::RequestOp& op : *local.mutable_success()) op.mutable_request_range()->set_serializable(true);
    return c_->client().Txn(local, r, c_->client().NewDeadline(), true);
  }

  // An idempotent write: retried (within the deadline) when its outcome is
  // unknown. `succeeded` tells whether its compares held.
  Status IdempotentWrite(const pb::TxnRequest& txn, std::string_view id, const char* what, Deadline deadline,
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
  Status FencedWrite(const pb::TxnRequest& txn, std::string_view id, const char* what) {
    bool succeeded = false;
    Status s = IdempotentWrite(txn, id, what, c_->client().NewDeadline(), &succeeded);
    if (!s.ok()) return s;
    return succeeded ? Status::OK() : NotOwner(id);
  }

  // Keys of table `table` as ids (escaped) or raw (facts), paged.
  Result<ListPage> ListTable(char table, const ListOptions& options, bool escaped) {
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

  // Fills the counter states of jobs that have none worth trying.
  Status LoadStates(std::span<AppendJob*> jobs, Deadline deadline);
  enum class Outcome {
    kApplied,     // the transaction was applied
    kNotApplied,  // its compares failed on a first attempt
    kPending,     // not applied yet; it may still be, so only it may be resent
    kNever,       // not applied, and it never will be: build a new one
    kUnknown,     // cannot tell
  };
  Outcome Reconcile(std::span<AppendJob*> jobs, std::uint64_t nonce, Deadline deadline);
  void CommitChunk(std::span<AppendJob*> chunk, Deadline deadline);

  const std::shared_ptr<Cluster> c_;
  const RunnerKeys k_;
  const std::string runner_;

  // Concurrent Append calls, combined into shared transactions.
  std::mutex combine_mu_;
  std::condition_variable combine_cv_;
  std::deque<AppendJob*> queue_;
  bool committing_ = false;
};

// --- Appends -------------------------------------------------------------------

Result<std::uint64_t> EtcdTables::Append(std::string_view id, std::span<const std::string_view> events,
                                         std::optional<std::uint64_t> expected_cursor, FactList facts) {
  const AppendInput in{id, events, expected_cursor, facts};
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
      if (!j->in->expected_cursor || *j->in->expected_cursor == cached->value.cursor) {
        j->state = *cached;
        j->known = true;
        continue;
      }
      linearizable = true;
    }
    linearizable = linearizable || j->token.has_value() || j->in->expected_cursor.has_value();
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
      if (j->in->expected_cursor && *j->in->expected_cursor != j->state.value.cursor) {
        j->result =
            Status::Conflict("workflow " + Quote(j->in->id) + " is at cursor " + std::to_string(j->state.value.cursor) +
                             ", not the expected " + std::to_string(*j->in->expected_cursor));
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
    CounterValue next = j->state.value;
    auto* ops = txn.mutable_success();
    AddPut(ops, k_.Event(j->in->id, next.cursor + 1), EncodeBatch(nonce, j->in->events));
    for (const auto& [hash, value] : j->in->facts) {
      if (facts.insert(hash).second) AddPut(ops, k_.Fact(hash), std::string(value));
    }
    next.cursor += j->in->events.size();
    next.updated_at_us = now_us;
    next.nonce = nonce;
    AddPut(ops, j->counter_key, EncodeCounter(next));
    AddGet(txn.mutable_failure(), j->counter_key);
    AddGet(txn.mutable_failure(), j->owner_key);
  }
  auto applied = [&](std::int64_t revision) {  // revision 0: not seen
    for (AppendJob* j : chunk) {
      CounterState next{j->state.value, revision};
      next.value.cursor += j->in->events.size();
      next.value.updated_at_us = now_us;
      next.value.nonce = nonce;
      if (revision != 0) {
        c_->Cache(j->counter_key, next);
      } else {
        c_->Uncache(j->counter_key);
      }
      j->result = next.value.cursor;
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
      j->known = !j->in->expected_cursor || *j->in->expected_cursor == st->value.cursor;
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

// --- Streams --------------------------------------------------------------------

// Walks the event batches of one workflow at one revision and yields each
// sequence from `next` to `last` once, in order (where batches overlap,
// which only imports make, the batch with the lower key wins). A sequence
// that no batch holds is damage: kCorruption, never a shorter stream.
class BatchCursor {
 public:
  BatchCursor(std::shared_ptr<EtcdTables> tables, std::string id, std::uint64_t next, std::uint64_t last,
              std::int64_t revision, bool linearizable)
      : tables_(std::move(tables)),
        id_(std::move(id)),
        next_(next),
        last_(last),
        scan_from_(BatchWindowStart(next)),
        revision_(revision),
        linearizable_(linearizable) {}

  bool done() const { return next_ > last_; }
  std::uint64_t next() const { return next_; }
  const std::string& id() const { return id_; }
  void set_revision(std::int64_t revision) { revision_ = revision; }

  // The next events (at least one unless done()), as views valid until the
  // next call; `first` is the sequence of the first. On an error nothing
  // moves, so a caller may retry (at another revision: IsCompacted).
  Status Fetch(std::vector<std::string_view>* out, std::uint64_t* first) {
    out->clear();
    values_.clear();
    *first = next_;
    Client& client = tables_->cluster().client();
    const Deadline deadline = client.NewDeadline();
    std::uint64_t next = next_, scan_from = scan_from_;
    for (int page = 0; page < 100000 && out->empty() && next <= last_; ++page) {
      pb::RangeRequest req;
      req.set_key(tables_->keys().Event(id_, scan_from));
      req.set_range_end(tables_->keys().Event(id_, last_ + 1));
      req.set_limit(limit_);
      req.set_revision(revision_);
      req.set_serializable(!linearizable_);
      pb::RangeResponse r;
      if (Status s = client.Range(req, &r, deadline); !s.ok()) return s;
      std::size_t biggest = 1;
      for (pb::KeyValue& kv : *r.mutable_kvs()) {
        const std::uint64_t batch_first = BatchFirst(kv.key());
        biggest = std::max(biggest, kv.value().size());
        values_.push_back(std::move(*kv.mutable_value()));
        if (!DecodeBatch(values_.back(), &events_)) {
          return Status::Corruption("the event batch at " + std::to_string(batch_first) + " of '" + id_ +
                                    "' is malformed");
        }
        for (std::size_t i = 0; i < events_.size(); ++i) {
          const std::uint64_t seq = batch_first + i;
          if (seq < next) continue;
          if (seq > last_) break;
          if (seq != next) return Missing(next);
          out->push_back(events_[i]);
          ++next;
        }
        scan_from = batch_first + 1;
      }
      limit_ = std::clamp<std::int64_t>(static_cast<std::int64_t>(kPageBytes / biggest), 1, kMaxPageKeys);
      if (!r.more() && next <= last_ && out->empty()) return Missing(next);
      if (!r.more()) break;
    }
    if (out->empty() && next <= last_) return Missing(next);
    next_ = next;
    scan_from_ = scan_from;
    return Status::OK();
  }

 private:
  Status Missing(std::uint64_t seq) const {
    return Status::Corruption("event " + std::to_string(seq) + " of '" + id_ + "' is missing (counter " +
                              std::to_string(last_) + ")");
  }

  const std::shared_ptr<EtcdTables> tables_;  // a dropped runner's outlive its iterators
  const std::string id_;
  std::uint64_t next_;
  const std::uint64_t last_;
  std::uint64_t scan_from_;  // the batch key to read from
  std::int64_t revision_;
  const bool linearizable_;
  std::int64_t limit_ = 16;
  std::deque<std::string> values_;  // stable addresses for the views
  std::vector<std::string_view> events_;
};

// Pages through the events at one revision, so the stream is the workflow
// as it was when it opened, whatever is written meanwhile. If etcd compacts
// that revision away, the iterator moves to a newer one: events at or below
// the counter it saw never change, unless trimmed or deleted, which it
// reports.
class EtcdEventIterator final : public EventIterator {
 public:
  EtcdEventIterator(std::shared_ptr<const void> database, std::shared_ptr<EtcdTables> tables, std::string id,
                    std::uint64_t after, std::uint64_t last, std::int64_t revision, bool linearizable)
      : database_(std::move(database)),
        tables_(tables),
        cursor_(std::move(tables), std::move(id), after + 1, last, revision, linearizable),
        last_(last),
        linearizable_(linearizable) {
    NextPage();
  }

 private:
  void NextPage() override {
    if (cursor_.done()) return SetPage(cursor_.next(), nullptr, 0);
    const Deadline deadline = tables_->cluster().client().NewDeadline();
    std::uint64_t first = 0;
    Status s;
    for (int attempt = 0; attempt < 5; ++attempt) {
      s = cursor_.Fetch(&views_, &first);
      if (!IsCompacted(s)) break;
      if (Status moved = MoveRevision(deadline); !moved.ok()) return Fail(moved);
    }
    if (!s.ok()) return Fail(s);
    SetPage(first, views_.data(), views_.size());
  }

  // The pinned revision was compacted: go on at the newest one, if the
  // events not yet read are still what they were.
  Status MoveRevision(Deadline deadline) {
    std::int64_t revision = 0;
    Result<CounterState> c = tables_->ReadCounter(cursor_.id(), deadline, linearizable_, &revision);
    if (!c.ok()) return c.status();
    if (!c->exists() || c->value.cursor < last_) {
      return Status::Unavailable("workflow '" + cursor_.id() + "' was deleted while it was streamed");
    }
    if (Status t = CheckNotTrimmed(cursor_.id(), cursor_.next() - 1, c->value.trimmed); !t.ok()) return t;
    cursor_.set_revision(revision);
    return Status::OK();
  }

  const std::shared_ptr<const void> database_;  // keeps the engine open
  const std::shared_ptr<EtcdTables> tables_;
  BatchCursor cursor_;
  const std::uint64_t last_;
  const bool linearizable_;
  std::vector<std::string_view> views_;
};

Result<std::unique_ptr<EventIterator>> EtcdTables::Stream(std::string_view id, std::uint64_t after,
                                                          std::shared_ptr<const void> database) {
  const bool linearizable = c_->LinearizableFor(k_.Owner(id));
  std::int64_t revision = 0;
  Result<CounterState> c = ReadCounter(id, c_->client().NewDeadline(), linearizable, &revision);
  if (!c.ok()) return c.status();
  if (!c->exists()) return Status::NotFound("no event stream for " + Quote(id));
  if (Status s = CheckNotTrimmed(id, after, c->value.trimmed); !s.ok()) return s;
  if (after >= c->value.cursor) return EmptyIterator();
  auto it = std::make_unique<EtcdEventIterator>(std::move(database), shared_from_this(), std::string(id), after,
                                                c->value.cursor, revision, linearizable);
  if (!it->status().ok()) return it->status();
  return std::unique_ptr<EventIterator>(std::move(it));
}

// --- Describe, stats, import ----------------------------------------------------------

Result<WorkflowSummary> EtcdTables::Describe(std::string_view id) {
  pb::TxnRequest txn;
  AddGet(txn.mutable_success(), k_.Counter(id));
  AddGet(txn.mutable_success(), k_.Log(id));
  AddGet(txn.mutable_success(), k_.Snapshot(id));
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
  if (sum.events > 0) {
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
  std::uint64_t counters = 0, counter_bytes = 0;
  std::int64_t revision = 0;  // all tables at one revision
  for (Sum sum : {Sum{'l', &stats.logs, &stats.log_bytes, 8}, Sum{'e', &stats.events, &stats.event_bytes, 8},
                  Sum{'s', &stats.snapshots, &stats.snapshot_bytes, 8}, Sum{'f', &stats.facts, &stats.fact_bytes, 0},
                  Sum{'c', &counters, &counter_bytes, 0}}) {
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
  if (fixes.size() > kMaxTxnOps - 8 || fix_bytes > kMaxRequestBytes / 4) {
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
  pb::TxnRequest txn;
  CompareOwner(&txn, owner, c_->TokenFor(owner));
  auto* ops = txn.mutable_success();
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
    AddPut(ops, k_.Counter(id), EncodeCounter({w.cursor, w.trimmed, ToMicros(w.updated_at), 0}));
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

// --- The engine ---------------------------------------------------------------------

class EtcdEngine final : public Engine {
 public:
  EtcdEngine(std::shared_ptr<Cluster> cluster, std::string name) : c_(std::move(cluster)), name_(std::move(name)) {}

  StoreLimits Limits() const override { return EtcdLimits(); }

  Result<std::shared_ptr<RunnerTables>> OpenRunner(std::string_view runner) override {
    std::lock_guard lock(mu_);
    auto it = runners_.find(std::string(runner));
    if (it != runners_.end()) return std::shared_ptr<RunnerTables>(it->second);
    if (!c_->read_only()) {
      pb::TxnRequest txn;
      AddPut(txn.mutable_success(), RunnerMarker(c_->root(), runner), "");
      pb::TxnResponse r;
      Status s = c_->client().Txn(txn, &r, c_->client().NewDeadline());
      if (s.code() == Status::Code::kOutcomeUnknown) s = c_->client().Txn(txn, &r, c_->client().NewDeadline());
      if (!s.ok()) return s;
    }
    auto tables = std::make_shared<EtcdTables>(c_, runner);
    runners_.emplace(std::string(runner), tables);
    return std::shared_ptr<RunnerTables>(tables);
  }

  Result<std::vector<std::string>> ListRunners() override {
    const std::string base = c_->root() + 'R';
    pb::RangeRequest req;
    req.set_key(base);
    req.set_range_end(keys::PrefixSuccessor(base));
    req.set_keys_only(true);
    req.set_serializable(!c_->client().options().linearizable_reads);
    pb::RangeResponse r;
    if (Status s = c_->client().Range(req, &r, c_->client().NewDeadline()); !s.ok()) return s;
    std::vector<std::string> out;
    for (const pb::KeyValue& kv : r.kvs()) out.push_back(kv.key().substr(base.size()));
    return out;
  }

  Status DropRunner(std::string_view runner) override {
    const RunnerKeys k(c_->root(), runner);
    pb::TxnRequest txn;
    AddDelete(txn.mutable_success(), k.prefix(), keys::PrefixSuccessor(k.prefix()));
    AddDelete(txn.mutable_success(), RunnerMarker(c_->root(), runner));
    pb::TxnResponse r;
    Status s;
    const Deadline deadline = c_->client().NewDeadline();
    for (int attempt = 0; attempt < 100; ++attempt) {
      s = c_->client().Txn(txn, &r, deadline);  // idempotent
      if (s.code() != Status::Code::kOutcomeUnknown || Clock::now() >= deadline) break;
    }
    c_->UncachePrefix(k.prefix());
    std::lock_guard lock(mu_);
    runners_.erase(std::string(runner));  // the next OpenRunner registers it again
    return s;
  }

  Result<DatabaseStats> Stats() override {
    DatabaseStats stats;
    stats.engine = "etcd";
    stats.dir = name_;  // the database's name in the cluster
    pb::StatusResponse st;
    if (Status s = c_->client().MemberStatus(&st, c_->client().NewDeadline()); !s.ok()) return s;
    stats.disk_bytes = static_cast<std::uint64_t>(st.dbsize());
    stats.commits = c_->client().commits();
    stats.sync = true;  // etcd fsyncs its WAL on a quorum before it answers
    return stats;
  }

 private:
  const std::shared_ptr<Cluster> c_;
  const std::string name_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<EtcdTables>> runners_;
};

}  // namespace etcd

Result<std::unique_ptr<Engine>> OpenEtcdEngine(const DatabaseOptions& options) {
  Result<std::unique_ptr<etcd::Client>> client = etcd::Client::Connect(options.nodes, options.etcd);
  if (!client.ok()) return client.status();
  auto cluster =
      std::make_shared<etcd::Cluster>(std::move(*client), etcd::DatabaseRoot(options.dir), options.read_only);
  auto engine = std::make_unique<etcd::EtcdEngine>(std::move(cluster), options.dir);
  if (!options.create_if_missing || options.read_only) {
    // A database on etcd exists once a runner's tables were opened in it.
    Result<std::vector<std::string>> runners = engine->ListRunners();
    if (!runners.ok()) return runners.status();
    if (runners->empty()) {
      return Status::NotFound("no database '" + options.dir + "' on the etcd cluster" +
                              (options.read_only ? "" : " (create_if_missing is false)"));
    }
  }
  return std::unique_ptr<Engine>(std::move(engine));
}

}  // namespace runic::internal
