// A child process for the tools and tests that run, kill and restart a
// program (runic demo, the crash tests): started
// with fork + exec, its stdout read line by line with deadlines, killed with
// SIGKILL, waited for with a deadline.
#ifndef RUNIC_SUPPORT_CHILD_PROCESS_H_
#define RUNIC_SUPPORT_CHILD_PROCESS_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace runic::tools {

using Clock = std::chrono::steady_clock;

class ChildProcess {
 public:
  // Starts `program` with `args` (fork + exec). Its stdout comes to this
  // process through a pipe; with `pipe_stdin` its stdin is a pipe this
  // process holds (see CloseStdin), otherwise /dev/null. Its stderr is this
  // process's. Null when the process cannot be started.
  static std::unique_ptr<ChildProcess> Start(const std::string& program, const std::vector<std::string>& args,
                                             bool pipe_stdin = false) {
    std::vector<std::string> all = {program};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);

    int out[2], in[2] = {-1, -1};
    auto close_all = [&] {
      for (int fd : {out[0], out[1], in[0], in[1]}) {
        if (fd >= 0) ::close(fd);
      }
    };
    if (::pipe2(out, O_CLOEXEC) != 0) return nullptr;
    if (pipe_stdin && ::pipe2(in, O_CLOEXEC) != 0) {
      in[0] = in[1] = -1;
      close_all();
      return nullptr;
    }
    pid_t pid = ::fork();
    if (pid < 0) {
      close_all();
      return nullptr;
    }
    if (pid == 0) {
      // Only async-signal-safe calls between fork and exec.
      int stdin_fd = pipe_stdin ? in[0] : ::open("/dev/null", O_RDONLY);
      if (stdin_fd < 0 || ::dup2(stdin_fd, STDIN_FILENO) < 0 || ::dup2(out[1], STDOUT_FILENO) < 0) ::_exit(126);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    if (pipe_stdin) ::close(in[0]);
    return std::unique_ptr<ChildProcess>(new ChildProcess(pid, out[0], in[1]));
  }

  ~ChildProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    CloseStdin();
  }

  pid_t pid() const { return pid_; }

  // The next line of the child's output, without the newline. False at end
  // of output, or when `deadline` passes first (then *timed_out is set).
  bool ReadLine(std::string* line, Clock::time_point deadline, bool* timed_out = nullptr) {
    if (timed_out) *timed_out = false;
    for (;;) {
      std::size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        line->assign(buf_, 0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      if (eof_) return false;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        if (timed_out) *timed_out = true;
        return false;
      }
      pollfd p{out_fd_, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (r < 0 && errno != EINTR) return false;
      if (r <= 0) continue;
      char chunk[4096];
      ssize_t n = ::read(out_fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        eof_ = true;
        continue;
      }
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  void Kill() {
    if (pid_ > 0) ::kill(pid_, SIGKILL);
  }

  void CloseStdin() {
    if (in_fd_ >= 0) ::close(in_fd_);
    in_fd_ = -1;
  }

  // Waits for the child to end (killing it at `deadline`); its wait status.
  int Wait(Clock::time_point deadline) {
    int status = 0;
    while (pid_ > 0) {
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno != EINTR)) {
        pid_ = -1;
        break;
      }
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        break;
      }
      ::usleep(2000);
    }
    return status;
  }

 private:
  ChildProcess(pid_t pid, int out_fd, int in_fd) : pid_(pid), out_fd_(out_fd), in_fd_(in_fd) {}
  pid_t pid_;
  int out_fd_;
  int in_fd_;
  std::string buf_;
  bool eof_ = false;
};

inline std::string DescribeWait(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

}  // namespace runic::tools

#endif  // RUNIC_SUPPORT_CHILD_PROCESS_H_
