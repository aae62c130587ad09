#include "runic/clock.h"

namespace runic {

Clock::~Clock() = default;

namespace {
class RealClock final : public Clock {
 public:
  time_point Now() override { return std::chrono::steady_clock::now(); }
  wall_time_point WallNow() override { return std::chrono::system_clock::now(); }
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline) override {
    cv.wait_until(lock, deadline);
  }
};
}  // namespace

std::shared_ptr<Clock> Clock::Real() {
  static const std::shared_ptr<Clock> clock = std::make_shared<RealClock>();
  return clock;
}

ManualClock::ManualClock() : ManualClock(std::chrono::system_clock::now()) {}

ManualClock::ManualClock(wall_time_point wall_start) : wall_now_(wall_start) {}

Clock::time_point ManualClock::Now() {
  std::lock_guard lock(mu_);
  return now_;
}

Clock::wall_time_point ManualClock::WallNow() {
  std::lock_guard lock(mu_);
  return wall_now_;
}

void ManualClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline) {
  {
    std::lock_guard guard(mu_);
    if (now_ >= deadline) return;
    waiters_.insert(&cv);
  }
  // Woken by Advance, by the caller's own notify, or after a short real
  // time (Advance notifies without the caller's mutex, so a wake-up could
  // slip in before this wait).
  cv.wait_for(lock, std::chrono::milliseconds(10));
  std::lock_guard guard(mu_);
  waiters_.erase(&cv);
}

void ManualClock::Advance(std::chrono::nanoseconds by) {
  std::set<std::condition_variable*> waiters;
  {
    std::lock_guard lock(mu_);
    now_ += std::chrono::duration_cast<std::chrono::steady_clock::duration>(by);
    wall_now_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(by);
    waiters = waiters_;
  }
  for (std::condition_variable* cv : waiters) cv->notify_all();
}

}  // namespace runic
