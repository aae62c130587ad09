#include "support/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>

namespace runic::tools {
namespace {

constexpr auto kTerminalRedraw = std::chrono::milliseconds(100);
constexpr auto kLineEvery = std::chrono::seconds(5);

int TerminalWidth() {
  winsize ws{};
  return ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
}

std::string Duration(double secs) {
  char buf[32];
  const long s = static_cast<long>(secs + 0.5);
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  }
  return buf;
}

// "14.5 KiB": a byte count in the unit that suits it.
std::string Bytes(double bytes) {
  static const char* const kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  for (; bytes >= 1024 && unit < 4; ++unit) bytes /= 1024;
  char buf[48];
  std::snprintf(buf, sizeof buf, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
  return buf;
}

}  // namespace

// "1234 workflows", or for bytes "14.5 KiB": every figure with its unit.
std::string Progress::Amount(double n) const {
  if (unit_ == "bytes") return Bytes(n);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f ", n);
  return buf + unit_;
}

Progress::Progress(std::string what, std::string unit, std::uint64_t total)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      total_(total),
      tty_(::isatty(STDERR_FILENO) == 1),
      width_(tty_ ? TerminalWidth() : 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (std::uncaught_exceptions() > 0) {
    Abandon();
  } else {
    Finish();
  }
}

void Progress::Abandon() {
  if (finished_) return;
  finished_ = true;
  if (tty_) std::fprintf(stderr, "\r%s\r", std::string(static_cast<std::size_t>(std::max(0, width_ - 1)), ' ').c_str());
}

void Progress::Set(std::uint64_t done) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ >= (tty_ ? std::chrono::duration_cast<std::chrono::milliseconds>(kTerminalRedraw)
                                : std::chrono::duration_cast<std::chrono::milliseconds>(kLineEvery))) {
    last_draw_ = now;
    Draw(false);
  }
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  Draw(true);
}

void Progress::Draw(bool final) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? static_cast<double>(done_) / secs : 0;
  const double done = static_cast<double>(done_);
  std::string status = what_ + ": ";
  if (final) {
    char secs_text[32];
    std::snprintf(secs_text, sizeof secs_text, "%.1f s", secs);
    status += Amount(done) + " in " + secs_text + " (" + Amount(rate) + "/s)";
  } else if (total_ > 0) {
    const double left = rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate : 0;
    const std::string of_total = unit_ == "bytes" ? Amount(done) + " of " + Amount(static_cast<double>(total_))
                                                  : std::to_string(done_) + "/" + std::to_string(total_) + " " + unit_;
    status += of_total + ", " + Amount(rate) + "/s, " + Duration(left) + " left";
  } else {
    status += Amount(done) + ", " + Amount(rate) + "/s";
  }
  if (!tty_) {
    std::fprintf(stderr, "%s\n", status.c_str());
    return;
  }
  std::string line = status;
  const int bar = width_ - static_cast<int>(line.size()) - 4;
  if (!final && total_ > 0 && bar >= 10) {
    const int filled = static_cast<int>(static_cast<double>(bar) * static_cast<double>(std::min(done_, total_)) /
                                        static_cast<double>(total_));
    line = "[" + std::string(static_cast<std::size_t>(filled), '#') +
           std::string(static_cast<std::size_t>(bar - filled), '.') + "] " + line;
  }
  line.resize(static_cast<std::size_t>(std::max(0, width_ - 1)), ' ');
  std::fprintf(stderr, "\r%s%s", line.c_str(), final ? "\n" : "");
  std::fflush(stderr);
}

}  // namespace runic::tools
