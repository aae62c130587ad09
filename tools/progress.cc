#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>

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

}  // namespace

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
  char status[160];
  if (final) {
    std::snprintf(status, sizeof status, "%s: %llu %s in %.1f s (%.0f/s)", what_.c_str(),
                  static_cast<unsigned long long>(done_), unit_.c_str(), secs, rate);
  } else if (total_ > 0) {
    const double left = rate > 0 ? static_cast<double>(total_ - std::min(done_, total_)) / rate : 0;
    std::snprintf(status, sizeof status, "%s: %llu/%llu %s, %.0f/s, %s left", what_.c_str(),
                  static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_), unit_.c_str(), rate,
                  Duration(left).c_str());
  } else {
    std::snprintf(status, sizeof status, "%s: %llu %s, %.0f/s", what_.c_str(), static_cast<unsigned long long>(done_),
                  unit_.c_str(), rate);
  }
  if (!tty_) {
    std::fprintf(stderr, "%s\n", status);
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
