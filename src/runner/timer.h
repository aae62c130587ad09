// Runs callbacks at times of an injectable Clock (retry backoff, timeouts).
#ifndef RUNIC_SRC_RUNNER_TIMER_H_
#define RUNIC_SRC_RUNNER_TIMER_H_

#include <pthread.h>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "runic/clock.h"

namespace runic::internal {

class Timer {
 public:
  explicit Timer(std::shared_ptr<Clock> clock) : clock_(std::move(clock)), thread_([this] { Loop(); }) {}
  ~Timer() { Stop(); }

  // Runs `fn` on the timer thread at `when` (keep it short: hand work on).
  void At(Clock::time_point when, std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      due_.emplace(when, std::move(fn));
    }
    cv_.notify_all();
  }

  // Drops what is not due yet and joins the thread. Idempotent.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
      due_.clear();
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
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
      std::function<void()> fn = std::move(first->second);
      due_.erase(first);
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  const std::shared_ptr<Clock> clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::function<void()>> due_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_TIMER_H_
