// What the benchmark asks of the operating system: temporary directories,
// bytes on disk, and the peak RSS of this process.
#ifndef RUNIC_BENCH_SYSTEM_H_
#define RUNIC_BENCH_SYSTEM_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace bench {

// Creates a fresh directory "<parent>/runic-bench-XXXXXX".
std::string MakeTempDir(const std::string& parent);
// Removes a directory tree; errors are ignored.
void RemoveTree(const std::string& path);
// Total bytes of the regular files under `path` (0 when missing).
std::uint64_t DirBytes(const std::string& path);

// Returns freed heap to the kernel, then resets the kernel's peak-RSS mark
// (VmHWM) of this process to the current RSS. Returns false when the kernel does not allow it.
bool ResetPeakRss();
// VmHWM of this process, in MiB.
double PeakRssMb();

// A count given on a command line: 1 .. 100,000,000, else BenchError.
int ParseCount(const char* s);

// Runs this benchmark binary again as a child with `args` (argv[0]
// included), reads its stdout until a line `marker` (or `deadline`), then
// kills it with SIGKILL and reaps it. True when the marker came.
bool RunChildUntilThenKill(std::vector<std::string> args, const std::string& marker,
                           std::chrono::steady_clock::time_point deadline);

// The file system type and device of `path`, for the report's header.
std::string DescribeFileSystem(const std::string& path);

}  // namespace bench

#endif  // RUNIC_BENCH_SYSTEM_H_
