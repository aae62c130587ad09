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
//
// The engine's parts: etcd_txn (transaction helpers), etcd_cluster (the
// shared client, lease and ownership), etcd_tables (a runner's tables),
// etcd_append_combiner (appends), etcd_iterator (streams), etcd_import.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/engine.h"
#include "store/etcd/etcd_client.h"
#include "store/etcd/etcd_cluster.h"
#include "store/etcd/etcd_keys.h"
#include "store/etcd/etcd_tables.h"
#include "store/etcd/etcd_txn.h"

namespace runic::internal {
namespace etcd {

StoreLimits EtcdLimits() {
  StoreLimits limits = EmbeddedLimits();
  // One append is one transaction: its facts, its batch and its counter
  // within etcd's default --max-txn-ops; a batch holds at most as many
  // events (etcd_keys.h).
  static_assert(kMaxBatchEvents <= kMaxTxnOps - 1);
  limits.max_batch_events = kMaxBatchEvents;
  return limits;
}

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
