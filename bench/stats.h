// Latency samples and the summaries the benchmark reports: mean, p50, p99,
// and the median of several runs.
#ifndef RUNIC_BENCH_STATS_H_
#define RUNIC_BENCH_STATS_H_

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;

inline double MicrosSince(Clock::time_point start) {
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count();
}

// The value at fraction q (0..1) of sorted samples, nearest rank.
inline double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  std::size_t rank = static_cast<std::size_t>(q * static_cast<double>(sorted.size()) + 0.5);
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// The median of values (the mean of the middle two for an even count).
inline double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Per-operation latencies in microseconds, from one or more threads.
struct Latencies {
  std::vector<double> us;

  void Add(double micros) { us.push_back(micros); }
  void Merge(const Latencies& other) { us.insert(us.end(), other.us.begin(), other.us.end()); }
};

struct Summary {
  double mean_us = 0, p50_us = 0, p99_us = 0;
};

inline Summary Summarize(Latencies lat) {
  Summary s;
  if (lat.us.empty()) return s;
  std::sort(lat.us.begin(), lat.us.end());
  double sum = 0;
  for (double x : lat.us) sum += x;
  s.mean_us = sum / static_cast<double>(lat.us.size());
  s.p50_us = Percentile(lat.us, 0.50);
  s.p99_us = Percentile(lat.us, 0.99);
  return s;
}

}  // namespace bench

#endif  // RUNIC_BENCH_STATS_H_
