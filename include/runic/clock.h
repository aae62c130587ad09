// Clock: where the Runner gets its time. Steady time measures durations
// (backoff delays, timeouts, step durations); wall time (UTC) is what is
// stored (event times, and due times, which must mean the same after a
// restart and on another host). Injectable, so tests drive both instead of
// sleeping.
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
  using wall_time_point = std::chrono::system_clock::time_point;
  virtual ~Clock();
  // Steady time: never goes back; for durations only.
  virtual time_point Now() = 0;
  // Wall time, UTC: for what is stored. May jump (NTP, an operator).
  virtual wall_time_point WallNow() = 0;
  // Waits on `cv` (with `lock` held, as condition_variable::wait) until
  // `deadline` on this clock, or until `cv` is notified. May wake early.
  virtual void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline) = 0;

  // The real clocks: std::chrono::steady_clock and system_clock. Shared,
  // thread-safe.
  static std::shared_ptr<Clock> Real();
};

// A clock that moves only when told to: steady and wall time together.
// Thread-safe.
class RUNIC_EXPORT ManualClock final : public Clock {
 public:
  // Wall time starts at the real wall time of construction; steady time at
  // the steady clock's epoch.
  ManualClock();
  // Wall time starts at `wall_start` (a crash helper given the instant of
  // the run it resumes, a test pinning the times it stores).
  explicit ManualClock(wall_time_point wall_start);

  time_point Now() override;
  wall_time_point WallNow() override;
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline) override;
  // Moves both times forward and wakes every waiter.
  void Advance(std::chrono::nanoseconds by);

 private:
  std::mutex mu_;
  time_point now_{};
  wall_time_point wall_now_;
  std::set<std::condition_variable*> waiters_;
};

}  // namespace runic

#endif  // RUNIC_CLOCK_H_
