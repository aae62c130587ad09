// How many rounds the crash tests run and with which random kill points:
// RUNIC_CRASH_ROUNDS (default 20, 3 under the sanitizers: build with
// RUNIC_SANITIZED) and RUNIC_CRASH_SEED (default random; printed, so that a
// failing round can be run again).
#ifndef RUNIC_TESTS_CRASH_ROUNDS_H_
#define RUNIC_TESTS_CRASH_ROUNDS_H_

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>

namespace runic::test {

inline std::uint64_t CrashSeed() {
  std::uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("RUNIC_CRASH_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("seed %llu (RUNIC_CRASH_SEED)\n", static_cast<unsigned long long>(seed));
  return seed;
}

inline int CrashRounds() {
#ifdef RUNIC_SANITIZED
  int rounds = 3;
#else
  int rounds = 20;
#endif
  if (const char* s = std::getenv("RUNIC_CRASH_ROUNDS")) rounds = std::max(1, std::atoi(s));
  return rounds;
}

}  // namespace runic::test

#endif  // RUNIC_TESTS_CRASH_ROUNDS_H_
