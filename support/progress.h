// Progress of a long operation (runic backup, restore, migrate; the
// benchmark) on stderr: a bar with rate and time left, redrawn in place on a
// terminal; plain lines every few seconds otherwise (logs, CI), so either way
// it tells how far along it is.
#ifndef RUNIC_SUPPORT_PROGRESS_H_
#define RUNIC_SUPPORT_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace runic::tools {

class Progress {
 public:
  // `total` items of `unit` ("workflows"); 0 when unknown (no bar, no ETA).
  // Every figure is shown with its unit, "bytes" in KiB, MiB, ... as suits.
  Progress(std::string what, std::string unit, std::uint64_t total);
  ~Progress();  // Finish(), or Abandon() while an exception unwinds

  void Set(std::uint64_t done);
  void Add(std::uint64_t n) { Set(done_ + n); }
  // The final line: how many, how long, the rate ("restore: 14.5 MiB in
  // 0.3 s (48.3 MiB/s)").
  void Finish();
  // Ends without a final line (the operation failed: its error says so).
  void Abandon();

 private:
  void Draw(bool final);
  std::string Amount(double n) const;

  const std::string what_, unit_;
  const std::uint64_t total_;
  const bool tty_;
  const int width_;
  std::uint64_t done_ = 0;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace runic::tools

#endif  // RUNIC_SUPPORT_PROGRESS_H_
