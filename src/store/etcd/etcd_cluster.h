// The etcd engine's state per open database, shared by its runner tables:
// the client, the ownership lease (granted, renewed by a keep-alive thread,
// revoked at close), the workflows this process owns, and the counters it
// last wrote.
#ifndef RUNIC_SRC_STORE_ETCD_ETCD_CLUSTER_H_
#define RUNIC_SRC_STORE_ETCD_ETCD_CLUSTER_H_

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runic/result.h"
#include "runic/status.h"
#include "store/etcd/etcd_client.h"
#include "store/etcd/etcd_txn.h"

namespace runic::internal::etcd {

// What the engine's tables share: the client, the ownership lease, the
// counters this process last wrote.
class Cluster {
 public:
  Cluster(std::unique_ptr<Client> client, std::string root, bool read_only);
  ~Cluster();

  Client& client() { return *client_; }
  const std::string& root() const { return root_; }
  bool read_only() const { return read_only_; }

  // --- Ownership ---------------------------------------------------------

  std::optional<std::string> TokenFor(const std::string& owner_key);
  Result<std::int64_t> Lease(Deadline deadline);

  // Held shared by a claim from its first look at the owner key until it is
  // recorded as owned.
  std::shared_mutex& release_mu() { return release_mu_; }
  void MarkLost(std::int64_t lease);
  void SetOwned(const std::string& owner_key, const std::string& token);
  void ForgetOwned(const std::string& owner_key);
  Status ReleaseNow(const std::string& owner_key, const std::string& token, Deadline deadline);
  void ReleaseLater(const std::string& owner_key, const std::string& token);
  bool LinearizableFor(const std::string& owner_key);

  // --- Counters this process last wrote -------------------------------------

  std::optional<CounterState> Cached(const std::string& counter_key);
  void Cache(const std::string& counter_key, const CounterState& s);
  void Uncache(const std::string& counter_key);
  void UncachePrefix(const std::string& prefix);

 private:
  void KeepAliveLoop();

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

}  // namespace runic::internal::etcd

#endif  // RUNIC_SRC_STORE_ETCD_ETCD_CLUSTER_H_
