// The etcd engine's tables of one runner. Their code is in etcd_tables.cc
// (logs, snapshots, facts, workflows, ownership), etcd_append_combiner.cc
// (appends), etcd_iterator.cc (streams) and etcd_import.cc (imports).
#ifndef RUNIC_SRC_STORE_ETCD_ETCD_TABLES_H_
#define RUNIC_SRC_STORE_ETCD_ETCD_TABLES_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "etcd_rpc.pb.h"
#include "store/engine.h"
#include "store/etcd/etcd_client.h"
#include "store/etcd/etcd_cluster.h"
#include "store/etcd/etcd_keys.h"
#include "store/etcd/etcd_txn.h"

namespace runic::internal::etcd {

// One append on its way into a transaction.
struct AppendJob {
  const RunnerTables::AppendInput* in = nullptr;
  std::string counter_key, owner_key;
  std::optional<std::string> token;
  CounterState state;                // what the transaction compares against
  bool known = false;                // `state` is worth trying
  CounterValue next;                 // the counter it writes (CommitChunk)
  std::size_t extra_ops = 0;         // index and inbox writes (ExtraEntries)
  std::uint64_t inbox_consumed = 0;  // read by Prepare when it consumes
  std::optional<Result<std::uint64_t>> result;
  bool finished = false;  // for the combiner: set under its lock, after the result

  // Counter, batch, facts, index and inbox writes.
  std::size_t Ops() const { return 2 + in->options->facts.size() + extra_ops; }
  std::size_t Bytes() const {
    std::size_t n = counter_key.size() * (3 + extra_ops) + 96 + extra_ops * 600;  // a tag is at most 256 bytes
    for (std::string_view e : in->events) n += e.size() + 4;
    for (const auto& [hash, value] : in->options->facts) n += hash.size() + value.size() + counter_key.size() + 16;
    return n;
  }
};

class EtcdTables final : public RunnerTables, public std::enable_shared_from_this<EtcdTables> {
 public:
  EtcdTables(std::shared_ptr<Cluster> cluster, std::string_view runner)
      : c_(std::move(cluster)), k_(c_->root(), runner), runner_(runner) {}

  const RunnerKeys& keys() const { return k_; }
  Cluster& cluster() { return *c_; }

  // --- Logs -------------------------------------------------------------

  Status SaveLog(std::string_view id, std::string_view log, std::int64_t updated_at_us) override;
  Result<LogRecord> LoadLog(std::string_view id) override;

  // --- Appends -----------------------------------------------------------

  Result<std::uint64_t> Append(const AppendInput& in) override;
  std::vector<Result<std::uint64_t>> AppendMany(std::span<const AppendInput> inputs) override;
  void Prepare(const AppendInput* in, AppendJob* job);

  // Commits `jobs` (distinct ids), each all or nothing, setting every result.
  void Commit(std::span<AppendJob*> jobs, Deadline deadline);

  // --- Streams and snapshots ------------------------------------------------

  Result<std::unique_ptr<EventIterator>> Stream(std::string_view id, std::uint64_t after,
                                                std::shared_ptr<const void> database) override;

  Status SaveSnapshot(std::string_view id, std::uint64_t cursor, std::string_view bytes) override;
  Result<Snapshot> LoadSnapshot(std::string_view id) override;

  // --- Facts --------------------------------------------------------------

  Status SaveFact(std::string_view hash, std::string_view value) override;
  Result<std::string> LoadFact(std::string_view hash) override;
  Status DeleteFact(std::string_view hash) override;

  // --- Workflows ------------------------------------------------------------

  Status Delete(std::string_view id, const DeleteOptions& options) override;
  Result<ListPage> List(const ListOptions& options) override;
  Result<bool> Exists(std::string_view id) override;

  Result<WorkflowSummary> Describe(std::string_view id, bool count_events) override;

  Status Trim(std::string_view id, std::uint64_t cursor) override;

  Result<StoreStats> Stats() override;

  Result<ListPage> ListFacts(const ListOptions& options) override { return ListTable('f', options, false); }

  Status ImportEvents(std::string_view id, std::uint64_t first_sequence,
                      std::span<const std::string_view> events) override;

  Status ImportWorkflow(std::string_view id, const WorkflowImport& w) override;
  Status ImportInbox(std::string_view id, std::span<const InboxEntry> entries) override;

  // --- Inboxes and indexes (etcd_waits.cc) ------------------------------------

  Result<std::uint64_t> AppendInbox(std::string_view id, std::string_view entry) override;
  Result<InboxPage> ReadInbox(std::string_view id, const InboxReadOptions& options) override;
  Result<ListPage> ListInboxes(const ListOptions& options) override;
  Result<std::unique_ptr<InboxWatch>> WatchInboxes(InboxListener listener) override;
  Result<StatePage> ListByState(const StateListOptions& options) override;
  Result<DuePage> ListDue(const DueListOptions& options) override;

  // --- Ownership ------------------------------------------------------------

  Status Claim(std::string_view id) override;
  Status Release(std::string_view id) override;

  // --- Reads shared by the iterator -----------------------------------------

  Result<CounterState> ReadCounter(std::string_view id, Deadline deadline, bool linearizable,
                                   std::int64_t* revision = nullptr);

 private:
  static Status OwnedElsewhere(std::string_view id);
  Status NotOwner(std::string_view id);
  Status TryClaim(std::string_view id, const std::string& owner, const std::string& token, std::int64_t lease,
                  Deadline deadline);
  Status Get(const std::string& key, std::string_view id, pb::RangeResponse* r);
  Status ReadTxn(const pb::TxnRequest& txn, std::string_view id, pb::TxnResponse* r);
  Status IdempotentWrite(const pb::TxnRequest& txn, std::string_view id, const char* what, Deadline deadline,
                         bool* succeeded);
  Status FencedWrite(const pb::TxnRequest& txn, std::string_view id, const char* what);
  Result<ListPage> ListTable(char table, const ListOptions& options, bool escaped);

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
  // The index and inbox writes of job `j`'s append (sets j->next's tag and
  // due time).
  void AddWaits(AppendJob* j, google::protobuf::RepeatedPtrField<pb::RequestOp>* ops);
  template <typename Entry, typename Decode>
  Status ScanIndex(const keys::KeyRange& range, std::size_t limit, Decode decode, std::vector<Entry>* entries,
                   bool* more, const char* what);
  // Reads the inbox cursors a consuming append needs (Prepare).
  Status ReadInboxCursors(std::string_view id, std::uint64_t* last, std::uint64_t* consumed);
  // The inbox's last sequence and its key's mod revision (0, 0: none), for a
  // conditional Delete.
  Status ReadInboxLast(std::string_view id, Deadline deadline, std::uint64_t* last, std::int64_t* mod);

  const std::shared_ptr<Cluster> c_;
  const RunnerKeys k_;
  const std::string runner_;

  // Concurrent Append calls, combined into shared transactions.
  std::mutex combine_mu_;
  std::condition_variable combine_cv_;
  std::deque<AppendJob*> queue_;
  bool committing_ = false;
};

}  // namespace runic::internal::etcd

#endif  // RUNIC_SRC_STORE_ETCD_ETCD_TABLES_H_
