// The etcd engine's shared state (etcd_cluster.h): the lease's life and
// the keep-alive thread that renews it and retries releases.
#include "store/etcd/etcd_cluster.h"

#include <algorithm>
#include <chrono>

namespace runic::internal::etcd {

Cluster::Cluster(std::unique_ptr<Client> client, std::string root, bool read_only)
    : client_(std::move(client)), root_(std::move(root)), read_only_(read_only) {
  keepalive_ = std::thread([this] { KeepAliveLoop(); });
}

Cluster::~Cluster() {
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

// The token this process holds `owner_key` with, if it claimed it.
std::optional<std::string> Cluster::TokenFor(const std::string& owner_key) {
  std::lock_guard lock(mu_);
  auto it = owned_.find(owner_key);
  if (it == owned_.end()) return std::nullopt;
  return it->second;
}

// The lease claims are made with; granted on first use, and again after
// the previous one expired (claims made with it stay lost).
Result<std::int64_t> Cluster::Lease(Deadline deadline) {
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

// The lease was found gone: the next claim takes a new one.
void Cluster::MarkLost(std::int64_t lease) {
  std::lock_guard lock(mu_);
  if (lease_ == lease) lost_ = true;
}

void Cluster::SetOwned(const std::string& owner_key, const std::string& token) {
  std::lock_guard lock(mu_);
  owned_[owner_key] = token;
  std::erase_if(pending_releases_, [&](const auto& p) { return p.first == owner_key; });
}

void Cluster::ForgetOwned(const std::string& owner_key) {
  std::lock_guard lock(mu_);
  owned_.erase(owner_key);
}

// Deletes `owner_key` if it still holds `token` (idempotent: a failure is
// retried later, see ReleaseLater).
Status Cluster::ReleaseNow(const std::string& owner_key, const std::string& token, Deadline deadline) {
  pb::TxnRequest txn;
  CompareOwner(&txn, owner_key, token);
  AddDelete(txn.mutable_success(), owner_key);
  pb::TxnResponse r;
  return client_->Txn(txn, &r, deadline);
}

// Releases that failed, retried by the keep-alive thread.
void Cluster::ReleaseLater(const std::string& owner_key, const std::string& token) {
  std::lock_guard lock(mu_);
  if (pending_releases_.size() < 100000) pending_releases_.emplace_back(owner_key, token);
}

// Reads of owned workflows decide what this process writes next.
bool Cluster::LinearizableFor(const std::string& owner_key) {
  return client_->options().linearizable_reads || TokenFor(owner_key).has_value();
}

std::optional<CounterState> Cluster::Cached(const std::string& counter_key) {
  std::lock_guard lock(cache_mu_);
  auto it = cache_.find(counter_key);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

void Cluster::Cache(const std::string& counter_key, const CounterState& s) {
  std::lock_guard lock(cache_mu_);
  if (cache_.size() >= 100000) cache_.clear();  // bounded; a miss costs one read
  cache_[counter_key] = s;
}

void Cluster::Uncache(const std::string& counter_key) {
  std::lock_guard lock(cache_mu_);
  cache_.erase(counter_key);
}

// After DropRunner: nothing cached under the runner survives.
void Cluster::UncachePrefix(const std::string& prefix) {
  std::lock_guard lock(cache_mu_);
  std::erase_if(cache_, [&](const auto& kv) { return kv.first.starts_with(prefix); });
}

void Cluster::KeepAliveLoop() {
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

}  // namespace runic::internal::etcd
