// Output of the helper programs that tests start and kill (runner crash and
// takeover helpers): whole lines with write(2), so that a line the test read
// was written before the process was killed, with nothing buffered behind.
#ifndef RUNIC_TESTS_HELPER_OUTPUT_H_
#define RUNIC_TESTS_HELPER_OUTPUT_H_

#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "runic/status.h"

namespace runic::test {

inline bool WriteAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// One line on stdout.
inline void Say(const std::string& line) { WriteAll(STDOUT_FILENO, line + "\n"); }

// "<program>: <what>: <status>" on stderr; returns exit code 1.
inline int Fail(std::string_view program, const std::string& what, const Status& s) {
  WriteAll(STDERR_FILENO, std::string(program) + ": " + what + ": " + s.ToString() + "\n");
  return 1;
}

}  // namespace runic::test

#endif  // RUNIC_TESTS_HELPER_OUTPUT_H_
