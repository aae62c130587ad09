// demo and bench: the programs the tool runs. They are installed beside it
// (LIBEXECDIR/runic/) and found in the build tree when run from there.
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "commands.h"
#include "support/child_process.h"

namespace runic::cli {
namespace {

namespace fs = std::filesystem;
using tools::ChildProcess;
using tools::Clock;

// Where `name` is: $RUNIC_LIBEXEC, then ../libexec/runic beside this
// executable (installed), then the build tree's path.
std::string FindProgram(const std::string& name, const char* build_path) {
  std::vector<fs::path> tried;
  if (const char* env = std::getenv("RUNIC_LIBEXEC"); env != nullptr && *env != '\0')
    tried.push_back(fs::path(env) / name);
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) tried.push_back(self.parent_path().parent_path() / RUNIC_LIBEXEC_SUBDIR / name);
  tried.push_back(build_path);
  std::string list;
  for (const fs::path& p : tried) {
    if (::access(p.c_str(), X_OK) == 0) return p.string();
    list += (list.empty() ? "" : ", ") + p.string();
  }
  throw Failure("cannot find " + name + " (looked at " + list + ")");
}

// Runs `program args` to its end, its output prefixed; returns its exit code.
int RunToEnd(const std::string& program, const std::vector<std::string>& args, const std::string& prefix,
             std::chrono::seconds timeout) {
  auto child = ChildProcess::Start(program, args);
  if (!child) throw Failure("cannot start " + program);
  const auto deadline = Clock::now() + timeout;
  std::string line;
  while (child->ReadLine(&line, deadline)) std::printf("%s%s\n", prefix.c_str(), line.c_str());
  const int status = child->Wait(deadline);
  return WIFEXITED(status) ? WEXITSTATUS(status) : kExitFailed;
}

}  // namespace

int Demo(int orders, int kill_at) {
  const std::string service = FindProgram("order_service", RUNIC_ORDER_SERVICE_BUILD_PATH);
  char tmpl[PATH_MAX];
  const char* tmp = std::getenv("TMPDIR");
  std::snprintf(tmpl, sizeof tmpl, "%s/runic-demo-XXXXXX", tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
  if (::mkdtemp(tmpl) == nullptr) throw Failure(std::string("cannot create a directory under ") + tmpl);
  const std::string dir = tmpl;
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove{dir};

  // Which program runs: the installed one or the build tree's (FindProgram),
  // so that the install test can tell which.
  std::printf("demo: the order service %s\n", service.c_str());
  std::printf("\n== 1. run: %d orders on the disk store in %s/db (kill -9 after %d completed steps)\n", orders,
              dir.c_str(), kill_at);
  auto run = ChildProcess::Start(service, {"run", dir, std::to_string(orders)});
  if (!run) throw Failure("cannot start " + service);
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  std::string line;
  bool started = false, killed = false;
  int completed = 0, done = 0;
  while (!killed && run->ReadLine(&line, deadline)) {
    if (line.rfind("started ", 0) == 0) {
      started = true;
      std::printf("   all %d orders accepted (inputs durable)\n", orders);
    } else if (line.rfind("done ", 0) == 0) {
      ++done;
    } else if (line.rfind("completed ", 0) == 0) {
      completed = std::atoi(line.c_str() + 10);
      if (started && completed >= kill_at) {
        run->Kill();
        killed = true;
        std::printf("   %d steps completed, %d orders done: kill -9 %d\n", completed, done, run->pid());
      } else if (completed % 20 == 0) {
        std::printf("   %d steps completed, %d orders done\n", completed, done);
      }
    }
    std::fflush(stdout);
  }
  const int status = run->Wait(Clock::now() + std::chrono::seconds(10));
  if (!killed)
    throw Failure("demo: the service ended, or went quiet, before " + std::to_string(kill_at) + " steps completed (" +
                  tools::DescribeWait(status) + ")");
  std::printf("   the service died (%s): %d steps had completed; %d of %d orders were done\n",
              tools::DescribeWait(status).c_str(), completed, done, orders);

  std::printf("\n== 2. resume: a new process resumes the unfinished orders from the store\n");
  std::fflush(stdout);
  const int resumed = RunToEnd(service, {"resume", dir}, "   ", std::chrono::seconds(120));
  if (resumed != 0) std::printf("   resume exited with status %d\n", resumed);
  std::printf("\n== 3. report: the orders, the execution journal and the store\n");
  std::fflush(stdout);
  return RunToEnd(service, {"report", dir, std::to_string(orders)}, "   ", std::chrono::seconds(60)) == 0 ? kExitOk
                                                                                                          : kExitFailed;
}

int Bench(const std::vector<std::string>& args) {
  const std::string bench = FindProgram("runic_bench", RUNIC_BENCH_BUILD_PATH);
  std::vector<std::string> argv = {bench};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> raw;
  for (std::string& a : argv) raw.push_back(a.data());
  raw.push_back(nullptr);
  std::fflush(stdout);
  ::execv(bench.c_str(), raw.data());  // the benchmark's own output and exit code
  throw Failure("cannot run " + bench);
}

}  // namespace runic::cli
