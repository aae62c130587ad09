// Runs callbacks at times of an injectable Clock (due times, timeouts, the
// runner's polls of the due-time index, unload checks).
#ifndef RUNIC_SRC_RUNNER_TIMER_H_
#define RUNIC_SRC_RUNNER_TIMER_H_

#include <pthread.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "runic/clock.h"

namespace runic::internal {

// Thread safety: every method may be called from any thread, the
// callbacks too (they run without the timer's lock).
class Timer {
 public:
  // Identifies a scheduled callback for Cancel; 0 is never one.
  using Id = std::uint64_t;

  explicit Timer(std::shared_ptr<Clock> clock) : clock_(std::move(clock)), thread_([this] { Loop(); }) {}
  ~Timer() { Stop(); }

  // Runs `fn` on the timer thread at `when` (keep it short: hand work on).
  // Returns 0 once stopped (fn never runs).
  Id At(Clock::time_point when, std::function<void()> fn) {
    Id id = 0;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return 0;
      id = ++last_id_;
      by_id_.emplace(id, due_.emplace(when, Entry{id, std::move(fn)}));
    }
    cv_.notify_all();
    return id;
  }

  // Drops the callback `id` if it has not started; a no-op for 0, for one
  // that ran or runs now, and after Stop. Frees its memory at once: a
  // workflow unloaded with a timer a year away leaves nothing here.
  void Cancel(Id id) {
    if (id == 0) return;
    std::lock_guard lock(mu_);
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    due_.erase(it->second);
    by_id_.erase(it);
  }

  // Callbacks scheduled and not yet run (tests, and the runner's figures).
  std::size_t size() {
    std::lock_guard lock(mu_);
    return due_.size();
  }

  // Drops what is not due yet and joins the thread. Idempotent.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      due_.clear();
      by_id_.clear();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Entry {
    Id id;
    std::function<void()> fn;
  };
  using Queue = std::multimap<Clock::time_point, Entry>;

  void Loop() {
    pthread_setname_np(pthread_self(), "runic-timer");
    std::unique_lock lock(mu_);
    while (!stopping_) {
      if (due_.empty()) {
        cv_.wait(lock);
        continue;
      }
      auto first = due_.begin();
      if (clock_->Now() < first->first) {
        clock_->WaitUntil(lock, cv_, first->first);
        continue;
      }
      std::function<void()> fn = std::move(first->second.fn);
      by_id_.erase(first->second.id);
      due_.erase(first);
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const std::shared_ptr<Clock> clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  Queue due_;
  std::unordered_map<Id, Queue::iterator> by_id_;
  Id last_id_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_TIMER_H_
