// A gRPC client for an etcd cluster: one channel per member, fail-over
// across them, a deadline on every call, TLS and user/password auth.
//
// It knows etcd, not Runic: the engine (etcd_tables.cc,
// etcd_append_combiner.cc) decides what a failed write means. What this
// class guarantees is the classification:
//   - ok: the call was applied (writes) or answered (reads);
//   - kOutcomeUnknown from a write: it may have been applied (sent, then the
//     member died, the leader changed, or the deadline passed);
//   - any other error: nothing was applied.
#ifndef RUNIC_SRC_STORE_ETCD_ETCD_CLIENT_H_
#define RUNIC_SRC_STORE_ETCD_ETCD_CLIENT_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "etcd_rpc.grpc.pb.h"
#include "runic/options.h"
#include "runic/result.h"
#include "runic/status.h"

namespace runic::internal::etcd {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// A read at a revision etcd has compacted fails with a status this is true
// of (the reader can start over at a newer revision).
inline constexpr std::string_view kCompacted = "revision compacted: ";
bool IsCompacted(const Status& s);

// A watch stream on one member: responses until it ends or is cancelled.
class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Blocks for the next response; false once the stream has ended
  // (cancelled, or the member went away).
  virtual bool Read(etcdserverpb::WatchResponse* response) = 0;
  // Ends the stream from any thread: a blocked Read returns false.
  virtual void Cancel() = 0;
};

class Client {
 public:
  // Connects to the members and checks that one answers within the call
  // timeout (kUnavailable naming the endpoints otherwise). Authenticates
  // when options.user is set. kInvalidArgument for bad endpoints or
  // unreadable TLS files.
  static Result<std::unique_ptr<Client>> Connect(const std::vector<std::string>& nodes, const EtcdOptions& options);
  ~Client();

  const EtcdOptions& options() const { return options_; }
  // Now plus the call timeout.
  Deadline NewDeadline() const { return Clock::now() + options_.call_timeout; }

  // A read: retried on other members until `deadline`.
  Status Range(const etcdserverpb::RangeRequest& req, etcdserverpb::RangeResponse* resp, Deadline deadline);
  // A transaction. With `read_only` (ranges only) it is retried like a
  // read, linearizable unless its ranges ask to be serializable. Otherwise
  // it is sent until one member accepted it; see the class comment for the
  // outcomes.
  Status Txn(const etcdserverpb::TxnRequest& req, etcdserverpb::TxnResponse* resp, Deadline deadline,
             bool read_only = false);

  // Leases (seconds, as etcd counts them).
  Result<std::int64_t> LeaseGrant(std::int64_t ttl_seconds, Deadline deadline);
  // The lease's remaining TTL after the renewal; <= 0 when it had expired.
  Result<std::int64_t> LeaseKeepAlive(std::int64_t lease, Deadline deadline);
  Status LeaseRevoke(std::int64_t lease, Deadline deadline);

  // Opens a watch (`create`) on the first member that accepts it before
  // `deadline`, and returns once etcd confirmed it (the confirmation's
  // header, with the revision it watches from, in *created).
  Result<std::unique_ptr<WatchStream>> Watch(const etcdserverpb::WatchCreateRequest& create,
                                             etcdserverpb::WatchResponse* created, Deadline deadline);

  // The status of the first member that answers (database size, leader).
  Status MemberStatus(etcdserverpb::StatusResponse* resp, Deadline deadline);

  // Acknowledged writes since Connect.
  std::uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }

 private:
  struct Member;
  enum class Kind { kRead, kWrite };

  explicit Client(EtcdOptions options);
  // Runs `call` on members until it succeeds, fails for good or `deadline`
  // passes. `call` gets a stub index and a context with the auth token and
  // a per-attempt deadline.
  template <typename Call>
  Status Invoke(const char* what, Kind kind, Deadline deadline, Call&& call);
  Status Authenticate(Deadline deadline);
  std::string Token() const;

  const EtcdOptions options_;
  std::vector<std::unique_ptr<Member>> members_;
  std::atomic<std::size_t> current_{0};  // the member calls go to first
  mutable std::shared_mutex token_mu_;
  std::string token_;   // guarded by token_mu_
  std::mutex auth_mu_;  // one re-authentication at a time
  std::atomic<std::uint64_t> commits_{0};
};

}  // namespace runic::internal::etcd

#endif  // RUNIC_SRC_STORE_ETCD_ETCD_CLIENT_H_
