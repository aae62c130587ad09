// Clock: where the Runner gets its time (backoff delays, timeouts, step
// durations). Injectable, so tests drive time instead of sleeping.
#ifndef RUNIC_CLOCK_H_
#define RUNIC_CLOCK_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>

#include "runic/export.h"

namespace runic {

class RUNIC_EXPORT Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;
  virtual ~Clock();
  virtual time_point Now() = 0;
  // Waits on `cv` (with `lock` held, as condition_variable::wait) until
  // `deadline` on this clock, or until `cv` is notified. May wake early.
  virtual void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline) = 0;

  // The real steady clock. Shared, thread-safe.
  static std::shared_ptr<Clock> Steady();
};

// A clock that moves only when told to. Thread-safe.
class RUNIC_EXPORT ManualClock final : public Clock {
 public:
  time_point Now() override;
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline) override;
  // Moves time forward and wakes every waiter.
  void Advance(std::chrono::nanoseconds by);

 private:
  std::mutex mu_;
  time_point now_{};
  std::set<std::condition_variable*> waiters_;
};

}  // namespace runic

#endif  // RUNIC_CLOCK_H_
