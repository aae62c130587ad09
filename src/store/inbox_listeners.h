// The in-process inbox notification of the embedded engines: the listeners
// of one runner's tables, told of each entry appended through them.
#ifndef RUNIC_SRC_STORE_INBOX_LISTENERS_H_
#define RUNIC_SRC_STORE_INBOX_LISTENERS_H_

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "runic/store.h"

namespace runic::internal {

// Thread-safe. A listener runs on the appending thread (on several at once
// when several append); removing a registration waits for its running calls,
// so it must not happen inside one.
class InboxListeners : public std::enable_shared_from_this<InboxListeners> {
 public:
  std::unique_ptr<InboxWatch> Add(InboxListener listener) {
    std::lock_guard lock(mu_);
    const std::uint64_t key = next_++;
    listeners_.emplace(key, std::make_shared<Entry>(std::move(listener)));
    return std::make_unique<Registration>(shared_from_this(), key);
  }

  void Notify(std::string_view id) {
    std::unique_lock lock(mu_);
    if (listeners_.empty()) return;
    std::vector<std::shared_ptr<Entry>> entries;
    for (const auto& [key, e] : listeners_) entries.push_back(e);
    for (const std::shared_ptr<Entry>& e : entries) {
      if (e->removed) continue;
      ++e->running;
      lock.unlock();
      e->listener(id);
      lock.lock();
      if (--e->running == 0) done_.notify_all();
    }
  }

 private:
  struct Entry {
    explicit Entry(InboxListener l) : listener(std::move(l)) {}
    InboxListener listener;
    int running = 0;
    bool removed = false;
  };

  class Registration final : public InboxWatch {
   public:
    Registration(std::shared_ptr<InboxListeners> owner, std::uint64_t key) : owner_(std::move(owner)), key_(key) {}
    ~Registration() override { owner_->Remove(key_); }

   private:
    std::shared_ptr<InboxListeners> owner_;
    std::uint64_t key_;
  };

  void Remove(std::uint64_t key) {
    std::unique_lock lock(mu_);
    auto it = listeners_.find(key);
    if (it == listeners_.end()) return;
    std::shared_ptr<Entry> e = it->second;
    listeners_.erase(it);
    e->removed = true;
    done_.wait(lock, [&] { return e->running == 0; });
  }

  std::mutex mu_;
  std::condition_variable done_;
  std::uint64_t next_ = 0;
  std::map<std::uint64_t, std::shared_ptr<Entry>> listeners_;
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_STORE_INBOX_LISTENERS_H_
