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
// CPU time this process has used so far (user + system, all threads), in
// microseconds.
double ProcessCpuUs();

// A count given on a command line: 1 .. 100,000,000, else BenchError.
int ParseCount(const char* s);

// Runs this benchmark binary again as a child with `args` (argv[0]
// included), reads its stdout until a line `marker` (or `deadline`), then
// kills it with SIGKILL and reaps it. True when the marker came.
bool RunChildUntilThenKill(std::vector<std::string> args, const std::string& marker,
                           std::chrono::steady_clock::time_point deadline);

// Runs the program `args[0]` (a path) with `args`, stderr inherited, and
// returns what it wrote on stdout; throws BenchError when it cannot start
// or does not exit with 0. Call it from the main thread: the child is
// killed when the thread that started it ends (PR_SET_PDEATHSIG).
std::string RunProgram(const std::vector<std::string>& args);

// The directory of this program's executable.
std::string ProgramDir();

// The file system type and device of `path`, for the report's header.
std::string DescribeFileSystem(const std::string& path);

}  // namespace bench

#endif  // RUNIC_BENCH_SYSTEM_H_
