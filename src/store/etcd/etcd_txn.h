// The etcd engine's transaction helpers: its limits per transaction, the
// operations and compares its transactions are built of, and the counter
// as read.
#ifndef RUNIC_SRC_STORE_ETCD_ETCD_TXN_H_
#define RUNIC_SRC_STORE_ETCD_ETCD_TXN_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "etcd_rpc.pb.h"
#include "runic/result.h"
#include "store/etcd/etcd_keys.h"

namespace runic::internal::etcd {

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

// A nonce for an append's transaction (never 0).
std::uint64_t RandomNonce();
// `id` in quotes, for messages.
std::string Quote(std::string_view id);

// Operations added to a transaction's branch.
void AddPut(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, std::string key, std::string value,
            std::int64_t lease = 0);
void AddDelete(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, std::string key, std::string end = {});
void AddGet(google::protobuf::RepeatedPtrField<pb::RequestOp>* ops, std::string key);

// Compares (CompareOwner: the fence, see etcd_txn.cc).
void CompareMod(pb::TxnRequest* txn, std::string key, std::int64_t mod_revision);
void CompareOwner(pb::TxnRequest* txn, std::string owner_key, const std::optional<std::string>& token);
// The owner key's value for a claim made with `lease`.
std::string TokenOf(std::int64_t lease);

// A counter as read: its value and the revision that last wrote it (0:
// there is none).
struct CounterState {
  CounterValue value;
  std::int64_t mod_revision = 0;
  bool exists() const { return mod_revision != 0; }
};

// The counter of `id` from a read of its key.
Result<CounterState> ParseCounter(const pb::RangeResponse& r, std::string_view id);

}  // namespace runic::internal::etcd

#endif  // RUNIC_SRC_STORE_ETCD_ETCD_TXN_H_
