// Progress of a long operation (runic backup, restore, migrate; the
// benchmark) on stderr: a bar with rate and time left, redrawn in place on a
// terminal; plain lines every few seconds otherwise (logs, CI), so either way
// it tells how far along it is.
#ifndef RUNIC_TOOLS_PROGRESS_H_
#define RUNIC_TOOLS_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace runic::tools {

class Progress {
 public:
  // `total` items of `unit` ("workflows"); 0 when unknown (no bar, no ETA).
  Progress(std::string what, std::string unit, std::uint64_t total);
  ~Progress();  // Finish(), or Abandon() while an exception unwinds

  void Set(std::uint64_t done);
  void Add(std::uint64_t n) { Set(done_ + n); }
  // The final line: how many, how long, the rate.
  void Finish();
  // Ends without a final line (the operation failed: its error says so).
  void Abandon();

 private:
  void Draw(bool final);

  const std::string what_, unit_;
  const std::uint64_t total_;
  const bool tty_;
  const int width_;
  std::uint64_t done_ = 0;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace runic::tools

#endif  // RUNIC_TOOLS_PROGRESS_H_
