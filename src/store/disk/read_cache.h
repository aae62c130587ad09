// A sharded LRU cache of values by key, in front of the disk engine's hot
// reads (logs and facts), as Mnesia's disc_copies serve reads from RAM.
//
// Consistency is the caller's job and is simple: every write of a key, and
// every fill after a miss, happens under that key's stripe lock in the
// engine, after the engine write succeeded. So the cache never holds a value
// older than the engine's. Clear() (dropping a runner) cannot take every
// stripe, so it moves to a new epoch: a Put prepared in an older epoch, from
// a read that may predate the drop, is discarded.
#ifndef RUNIC_SRC_STORE_DISK_READ_CACHE_H_
#define RUNIC_SRC_STORE_DISK_READ_CACHE_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace runic::internal {

class ReadCache {
 public:
  using Value = std::shared_ptr<const std::string>;

  explicit ReadCache(std::size_t capacity_bytes) : shard_capacity_(capacity_bytes / kShards) {}

  bool enabled() const { return shard_capacity_ > 0; }

  // The cached value, or null.
  Value Get(std::string_view key) {
    if (!enabled()) return nullptr;
    Shard& s = ShardOf(key);
    std::lock_guard lock(s.mu);
    auto it = s.index.find(key);
    if (it == s.index.end()) {
      ++s.misses;
      return nullptr;
    }
    ++s.hits;
    s.lru.splice(s.lru.begin(), s.lru, it->second);
    return it->second->value;
  }

  // The epoch to pass to Put: read it before reading the value to cache.
  std::uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }

  void Put(std::string_view key, Value value, std::uint64_t epoch) {
    if (!enabled()) return;
    const std::size_t charge = key.size() + value->size() + kOverhead;
    Shard& s = ShardOf(key);
    std::lock_guard lock(s.mu);
    EraseLocked(s, key);
    if (epoch != epoch_.load(std::memory_order_acquire)) return;
    if (charge > shard_capacity_) return;
    s.lru.push_front(Entry{std::string(key), std::move(value), charge});
    s.index.emplace(s.lru.front().key, s.lru.begin());
    s.used += charge;
    while (s.used > shard_capacity_) EraseLocked(s, s.lru.back().key);
  }

  void Erase(std::string_view key) {
    if (!enabled()) return;
    Shard& s = ShardOf(key);
    std::lock_guard lock(s.mu);
    EraseLocked(s, key);
  }

  // Erases `key` and discards every fill prepared before this call.
  void Invalidate(std::string_view key) {
    if (!enabled()) return;
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    Erase(key);
  }

  void Clear() {
    epoch_.fetch_add(1, std::memory_order_acq_rel);
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      s.index.clear();
      s.lru.clear();
      s.used = 0;
    }
  }

  void Counts(std::uint64_t* hits, std::uint64_t* misses) {
    *hits = *misses = 0;
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mu);
      *hits += s.hits;
      *misses += s.misses;
    }
  }

 private:
  static constexpr std::size_t kShards = 16;
  static constexpr std::size_t kOverhead = 96;  // list node, index entry, control block

  struct Entry {
    std::string key;
    Value value;
    std::size_t charge;
  };
  struct Shard {
    std::mutex mu;
    std::list<Entry> lru;
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;  // views into lru keys
    std::size_t used = 0;
    std::uint64_t hits = 0, misses = 0;
  };

  Shard& ShardOf(std::string_view key) { return shards_[std::hash<std::string_view>{}(key) % kShards]; }

  static void EraseLocked(Shard& s, std::string_view key) {
    auto it = s.index.find(key);
    if (it == s.index.end()) return;
    auto node = it->second;
    s.used -= node->charge;
    s.index.erase(it);
    s.lru.erase(node);
  }

  const std::size_t shard_capacity_;
  std::atomic<std::uint64_t> epoch_{0};
  std::array<Shard, kShards> shards_;
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_STORE_DISK_READ_CACHE_H_
