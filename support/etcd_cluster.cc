#include "support/etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

extern char** environ;

namespace runic::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Start attempts when a chosen port was taken before etcd bound it.
constexpr int kStartAttempts = 3;
constexpr milliseconds kStartTimeout(20000);
constexpr auto kStopTimeout = std::chrono::seconds(5);

std::string DescribeStatus(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + ::strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string RandomAlnum(int n) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device rd;
  std::uniform_int_distribution<int> pick(0, sizeof kChars - 2);
  std::string s;
  for (int i = 0; i < n; ++i) s += kChars[pick(rd)];
  return s;
}

// Percent-encodes all but unreserved characters and '/' (for the CA path in
// the URI).
std::string UriEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// Starts `argv` with stdout and stderr appended to (or, with `truncate`,
// written to) the given files, stdin /dev/null, and an environment without
// ETCD*/ETCDCTL* variables (which etcd and etcdctl would read as flags,
// ETCDCTL_API=2 among them). -1 with *error when it cannot.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
            bool truncate, std::string* error) {
  std::vector<std::string> args = argv;
  std::vector<char*> cargv;
  for (std::string& a : args) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "ETCD", 4) != 0) envp.push_back(*e);
  }
  envp.push_back(nullptr);

  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (truncate ? O_TRUNC : O_APPEND);
  const int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out = ::open(out_path.c_str(), flags, 0644);
  const int err = out_path == err_path ? out : ::open(err_path.c_str(), flags, 0644);
  auto close_all = [&] {
    for (int fd : {in, out}) {
      if (fd >= 0) ::close(fd);
    }
    if (err != out && err >= 0) ::close(err);
  };
  if (in < 0 || out < 0 || err < 0) {
    *error = "cannot open " + out_path + " or " + err_path + ": " + std::strerror(errno);
    close_all();
    return -1;
  }
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec. The child dies
    // with this process (see the header for the thread caveat).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(125);
    if (::dup2(in, STDIN_FILENO) < 0 || ::dup2(out, STDOUT_FILENO) < 0 || ::dup2(err, STDERR_FILENO) < 0) {
      ::_exit(126);
    }
    ::execve(cargv[0], cargv.data(), envp.data());
    ::_exit(127);
  }
  if (pid < 0) *error = std::string("fork: ") + std::strerror(errno);
  close_all();
  return pid;
}

// Waits for `pid` until `deadline`, then SIGKILLs it; its wait status, or
// -1 if it had to be killed.
int WaitOrKill(pid_t pid, Clock::time_point deadline) {
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
}

// Runs a short command to its end (killed at `timeout`), its output through
// files in `dir` so that nothing can block on a full pipe.
EtcdctlResult RunCommand(const std::vector<std::string>& argv, const std::string& dir, int n, milliseconds timeout) {
  EtcdctlResult result;
  const std::string out = dir + "/cmd-" + std::to_string(n) + ".out";
  const std::string err = dir + "/cmd-" + std::to_string(n) + ".err";
  std::string error;
  pid_t pid = Spawn(argv, out, err, /*truncate=*/true, &error);
  if (pid < 0) {
    result.err = error;
    return result;
  }
  int status = WaitOrKill(pid, Clock::now() + timeout);
  result.out = ReadFile(out);
  result.err = ReadFile(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  if (status == -1) {
    result.err += "\n(killed after " + std::to_string(timeout.count()) + " ms)";
  } else if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else {
    result.err += "\n(" + DescribeStatus(status) + ")";
  }
  return result;
}

// Free TCP ports on 127.0.0.1: bound to port 0 all at once (so distinct),
// read back, released. Another process may take one before etcd binds it;
// Start retries then.
bool FreePorts(int n, std::vector<int>* ports, std::string* error) {
  std::vector<int> fds;
  ports->clear();
  bool ok = true;
  while (ok && static_cast<int>(ports->size()) < n && fds.size() < static_cast<std::size_t>(4 * n)) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      *error = std::string("cannot bind a free port: ") + std::strerror(errno);
      ok = false;
    }
    if (fd >= 0) fds.push_back(fd);
    const int port = ntohs(addr.sin_port);
    if (ok && port != 2379 && port != 2380) ports->push_back(port);  // Debian's etcd service
  }
  for (int fd : fds) ::close(fd);
  return ok && static_cast<int>(ports->size()) == n;
}

bool CanConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::unique_ptr<EtcdCluster> EtcdCluster::Start(const EtcdClusterOptions& options, std::string* error) {
  if (options.members < 1) {
    *error = "an etcd cluster needs at least one member";
    return nullptr;
  }
  for (const std::string& program : {options.etcd, options.etcdctl}) {
    if (::access(program.c_str(), X_OK) != 0) {
      *error = program + " is not an executable (install Debian's etcd-server and etcd-client)";
      return nullptr;
    }
  }
  std::unique_ptr<EtcdCluster> cluster(new EtcdCluster(options));
  if (!cluster->MakeTempDir(error)) return nullptr;
  if (options.tls && !cluster->MakeCertificates(error)) return nullptr;
  if (options.auth) cluster->password_ = RandomAlnum(20);
  for (int attempt = 1;; ++attempt) {
    bool ports_taken = false;
    if (cluster->TryStart(&ports_taken, error)) break;
    cluster->StopAll();
    if (!ports_taken || attempt == kStartAttempts) return nullptr;
  }
  if (options.auth && !cluster->EnableAuth(error)) return nullptr;
  return cluster;
}

EtcdCluster::~EtcdCluster() {
  StopAll();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool EtcdCluster::MakeTempDir(std::string* error) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/runic-etcd-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    *error = "mkdtemp " + tmpl + ": " + std::strerror(errno);
    return false;
  }
  dir_ = tmpl;
  return true;
}

// A CA and a server certificate it signs, for 127.0.0.1 and localhost
// (Go's TLS checks the subjectAltName, not the CN). EC P-256 keys: quick to
// make, accepted by Go and by gRPC C++. Our own openssl config, so that the
// system's openssl.cnf cannot add or clash with extensions.
bool EtcdCluster::MakeCertificates(std::string* error) {
  const std::string cnf = dir_ + "/openssl.cnf";
  std::ofstream(cnf) << "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = runic-test\n"
                        "[ca_ext]\nbasicConstraints = critical,CA:TRUE\n"
                        "keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
                        "[server_ext]\nbasicConstraints = CA:FALSE\n"
                        "keyUsage = critical,digitalSignature,keyEncipherment\n"
                        "extendedKeyUsage = serverAuth,clientAuth\n"
                        "subjectAltName = IP:127.0.0.1,DNS:localhost\n"
                        "subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n";
  ca_file_ = dir_ + "/ca.crt";
  cert_file_ = dir_ + "/server.crt";
  key_file_ = dir_ + "/server.key";
  const std::string ca_key = dir_ + "/ca.key", csr = dir_ + "/server.csr";
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  std::vector<std::vector<std::string>> steps = {
      {"req", "-x509", "-config", cnf, "-extensions", "ca_ext", "-keyout", ca_key, "-out", ca_file_, "-days", "7",
       "-subj", "/CN=runic-test-ca"},
      {"req", "-new", "-config", cnf, "-keyout", key_file_, "-out", csr, "-subj", "/CN=localhost"},
      {"x509", "-req", "-in", csr, "-CA", ca_file_, "-CAkey", ca_key, "-set_serial",
       std::to_string(std::random_device()() | 1u), "-days", "7", "-extfile", cnf, "-extensions", "server_ext", "-out",
       cert_file_},
  };
  steps[0].insert(steps[0].begin() + 2, ec.begin(), ec.end());
  steps[1].insert(steps[1].begin() + 2, ec.begin(), ec.end());
  for (std::vector<std::string>& step : steps) {
    step.insert(step.begin(), "/usr/bin/openssl");
    EtcdctlResult r = RunCommand(step, dir_, ++commands_, milliseconds(20000));
    if (!r.ok()) {
      *error = "openssl " + step[1] + " failed: " + r.err;
      return false;
    }
  }
  return true;
}

bool EtcdCluster::TryStart(bool* ports_taken, std::string* error) {
  std::vector<int> ports;
  if (!FreePorts(2 * options_.members, &ports, error)) return false;
  token_ = "runic-" + std::to_string(::getpid()) + "-" + RandomAlnum(8);
  members_.assign(options_.members, Member{});
  for (int i = 0; i < options_.members; ++i) {
    members_[i].name = "m" + std::to_string(i);
    members_[i].client_port = ports[2 * i];
    members_[i].peer_port = ports[2 * i + 1];
    std::error_code ec;
    std::filesystem::remove_all(dir_ + "/" + members_[i].name, ec);  // from a failed attempt
  }
  for (int i = 0; i < options_.members; ++i) {
    if (!Launch(i, /*existing=*/false, error)) return false;
  }
  // Healthy, or a member died (a port taken meanwhile, a bad flag).
  return AwaitHealth(kStartTimeout, /*as_root=*/false, ports_taken, error);  // auth comes after
}

bool EtcdCluster::AwaitHealth(milliseconds timeout, bool as_root, bool* ports_taken, std::string* error) {
  const auto deadline = Clock::now() + timeout;
  // Each probe's etcdctl waits for a leader up to its command timeout: short
  // at first, so that a cluster electing its first leader is seen soon;
  // longer on each failure, so that a slow (loaded) machine still passes.
  EtcdctlCall call;
  call.as_root = as_root;
  call.timeout = milliseconds(2000);
  std::string last = "no answer";
  do {
    for (int i = 0; ports_taken != nullptr && i < size(); ++i) {
      if (Reap(i)) continue;
      std::string tail = LogTail(i);
      *ports_taken = tail.find("address already in use") != std::string::npos;
      *error = "etcd member " + members_[i].name + " " + DescribeStatus(members_[i].wait_status) +
               " during startup; the end of its log:\n" + tail;
      return false;
    }
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    call.timeout = std::min(call.timeout, std::max(left, milliseconds(1500)));
    EtcdctlResult r = Etcdctl({"endpoint", "health"}, call);
    if (r.ok()) return true;
    last = r.out + r.err;
    call.timeout = std::min(call.timeout + milliseconds(500), milliseconds(5000));
    std::this_thread::sleep_for(milliseconds(50));
  } while (Clock::now() < deadline);
  *error = "etcd cluster not healthy within " + std::to_string(timeout.count()) + " ms: " + last;
  if (ports_taken != nullptr) *error += "\nthe end of " + members_[0].name + "'s log:\n" + LogTail(0);
  return false;
}

// etcdctl's `auth enable` grants the root role to user root itself.
bool EtcdCluster::EnableAuth(std::string* error) {
  EtcdctlCall call;
  call.as_root = false;
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"user", "add", "root", "--new-user-password=" + password_},
        std::vector<std::string>{"auth", "enable"}}) {
    EtcdctlResult r = Etcdctl(args, call);
    if (!r.ok()) {
      *error = "etcdctl " + args[0] + " " + args[1] + ": " + r.out + r.err;
      return false;
    }
  }
  return WaitHealthy(milliseconds(10000), error);
}

// The settings the engine relies on, explicit even where they are etcd's
// defaults, so that the tests and the benchmark run what the documentation
// tells operators to run.
bool EtcdCluster::Launch(int member, bool existing, std::string* error) {
  Member& m = members_[member];
  std::string initial_cluster;
  for (int i = 0; i < size(); ++i) {
    initial_cluster += (i ? "," : "") + members_[i].name + "=" + PeerUrl(i);
  }
  std::vector<std::string> argv = {
      options_.etcd,
      "--name=" + m.name,
      "--data-dir=" + dir_ + "/" + m.name,
      "--listen-client-urls=" + ClientUrl(member),
      "--advertise-client-urls=" + ClientUrl(member),
      "--listen-peer-urls=" + PeerUrl(member),  // peers stay plain http
      "--initial-advertise-peer-urls=" + PeerUrl(member),
      "--initial-cluster=" + initial_cluster,
      "--initial-cluster-token=" + token_,
      std::string("--initial-cluster-state=") + (existing ? "existing" : "new"),
      "--heartbeat-interval=" + std::to_string(options_.heartbeat_ms),
      "--election-timeout=" + std::to_string(options_.election_ms),
      // Pre-vote (off by default in 3.4): a member resumed after SIGSTOP or
      // a partition does not depose a healthy leader by bumping the term.
      "--pre-vote=true",
      // etcd's defaults: 128 operations and 1.5 MiB per request; limits()
      // of the engine are derived from these.
      "--max-txn-ops=128",
      "--max-request-bytes=1572864",
      // 1 GiB backend quota: small enough that a test could reach it, ample
      // for the benchmark. Beyond it etcd raises NOSPACE and refuses writes.
      "--quota-backend-bytes=1073741824",
      // Keep the last 1000 revisions. In revision mode etcd 3.4 compacts
      // every 5 minutes, so a test never sees it unless it compacts itself;
      // the benchmark's long runs do, which exercises stream's restart at a
      // compacted revision.
      "--auto-compaction-mode=revision",
      "--auto-compaction-retention=1000",
      // Fewer entries between raft snapshots than the default 100000: a
      // restarted member catches up from a snapshot sooner.
      "--snapshot-count=10000",
      // 3.4's default logger (capnslog) is deprecated and warns so.
      "--logger=zap",
      "--log-outputs=stderr",
  };
  if (options_.tls) {
    argv.push_back("--cert-file=" + cert_file_);
    argv.push_back("--key-file=" + key_file_);
  }
  const std::string log = LogFile(member);
  std::ofstream(log, std::ios::app) << "=== runic harness: " << (existing ? "restart" : "start") << " " << m.name
                                    << " (client " << m.client_port << ", peer " << m.peer_port << ")\n";
  m.pid = Spawn(argv, log, log, /*truncate=*/false, error);
  m.paused = false;
  return m.pid > 0;
}

// SIGKILL: the data is removed next, so a graceful stop buys nothing, and
// it can cost seconds: a leader sent SIGTERM first hands leadership over to
// a member it still believes alive, and waits about 5 s when that member
// has just stopped too (as when all are stopped at once or in a row).
void EtcdCluster::StopAll() {
  for (int i = 0; i < size(); ++i) Kill(i);
}

bool EtcdCluster::Reap(int member) {
  Member& m = members_[member];
  if (m.pid <= 0) return false;
  int status = 0;
  if (::waitpid(m.pid, &status, WNOHANG) == m.pid) {
    m.wait_status = status;
    m.pid = -1;
    m.paused = false;
    return false;
  }
  return true;
}

std::vector<std::string> EtcdCluster::ClientEndpoints() const {
  std::vector<std::string> out;
  for (const Member& m : members_) out.push_back("127.0.0.1:" + std::to_string(m.client_port));
  return out;
}

std::string EtcdCluster::Uri(const std::string& extra_params) const {
  std::string uri = "etcd://";
  std::vector<std::string> endpoints = ClientEndpoints();
  for (std::size_t i = 0; i < endpoints.size(); ++i) uri += (i ? "," : "") + endpoints[i];
  // A ca parameter means TLS: the engine has no separate switch.
  std::vector<std::string> params;
  if (options_.tls) params.push_back("ca=" + UriEscape(ca_file_));
  if (options_.auth) {
    params.push_back("user=root");
    params.push_back("password=" + password_);  // alphanumeric: nothing to escape
  }
  if (!extra_params.empty()) params.push_back(extra_params);
  for (std::size_t i = 0; i < params.size(); ++i) uri += (i ? "&" : "?") + params[i];
  return uri;
}

std::string EtcdCluster::LogFile(int member) const { return dir_ + "/" + members_[member].name + ".log"; }

std::string EtcdCluster::ClientUrl(int member) const {
  return std::string(options_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(members_[member].client_port);
}

std::string EtcdCluster::PeerUrl(int member) const {
  return "http://127.0.0.1:" + std::to_string(members_[member].peer_port);
}

std::string EtcdCluster::LogTail(int member) const {
  std::string log = ReadFile(LogFile(member));
  constexpr std::size_t kTail = 4000;
  if (log.size() > kTail) log = "..." + log.substr(log.size() - kTail);
  return log;
}

void EtcdCluster::Kill(int member) {
  Member& m = members_[member];
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGKILL);
  ::waitpid(m.pid, &m.wait_status, 0);
  m.pid = -1;
  m.paused = false;
}

void EtcdCluster::Stop(int member) {
  Member& m = members_[member];
  if (m.pid <= 0) return;
  ::kill(m.pid, SIGTERM);
  ::kill(m.pid, SIGCONT);  // a stopped process would not act on SIGTERM
  m.wait_status = WaitOrKill(m.pid, Clock::now() + kStopTimeout);
  m.pid = -1;
  m.paused = false;
}

bool EtcdCluster::Restart(int member, std::string* error) {
  if (Reap(member)) {
    *error = "etcd member " + members_[member].name + " is running";
    return false;
  }
  if (!Launch(member, /*existing=*/true, error)) return false;
  // Up once its client port accepts connections; a port taken meanwhile or
  // a damaged data directory makes it exit first.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (!Reap(member)) {
      *error = "etcd member " + members_[member].name + " " + DescribeStatus(members_[member].wait_status) +
               " on restart; the end of its log:\n" + LogTail(member);
      return false;
    }
    if (CanConnect(members_[member].client_port)) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  *error =
      "etcd member " + members_[member].name + " did not listen within 10 s; the end of its log:\n" + LogTail(member);
  return false;
}

bool EtcdCluster::IsRunning(int member) { return Reap(member); }

void EtcdCluster::Pause(int member) {
  if (!Reap(member)) return;
  ::kill(members_[member].pid, SIGSTOP);
  members_[member].paused = true;
}

void EtcdCluster::Resume(int member) {
  if (!Reap(member)) return;
  ::kill(members_[member].pid, SIGCONT);
  members_[member].paused = false;
}

pid_t EtcdCluster::Pid(int member) const { return members_[member].pid; }

int EtcdCluster::Leader() {
  EtcdctlResult r = Etcdctl({"endpoint", "status", "-w", "json"});
  // Members that fail to answer are reported on stderr; the others still
  // come as one JSON array on stdout.
  nlohmann::json statuses = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  if (!statuses.is_array()) return -1;
  int leader = -1;
  std::uint64_t leader_term = 0;
  for (const nlohmann::json& s : statuses) {
    const std::string endpoint = s.value("Endpoint", "");
    const nlohmann::json& status = s.contains("Status") ? s["Status"] : nlohmann::json();
    if (!status.is_object() || !status.contains("header")) continue;
    const std::uint64_t id = status["header"].value("member_id", std::uint64_t{0});
    const std::uint64_t term = status.value("raftTerm", std::uint64_t{0});
    if (id == 0 || status.value("leader", std::uint64_t{0}) != id || term < leader_term) continue;
    for (int i = 0; i < size(); ++i) {
      if (ClientUrl(i) == endpoint) {
        leader = i;
        leader_term = term;
      }
    }
  }
  return leader;
}

bool EtcdCluster::WaitHealthy(milliseconds timeout, std::string* error) {
  return AwaitHealth(timeout, /*as_root=*/true, /*ports_taken=*/nullptr, error);
}

EtcdctlResult EtcdCluster::Etcdctl(const std::vector<std::string>& args, const EtcdctlCall& call) {
  std::vector<std::string> endpoints = call.endpoints;
  if (endpoints.empty()) {
    for (int i = 0; i < size(); ++i) {
      if (Reap(i) && !members_[i].paused) endpoints.push_back(ClientUrl(i));
    }
  }
  if (endpoints.empty()) {
    EtcdctlResult none;
    none.err = "no etcd member is running";
    return none;
  }
  std::string joined;
  for (std::size_t i = 0; i < endpoints.size(); ++i) joined += (i ? "," : "") + endpoints[i];
  // etcdctl's own timeouts end it before we have to kill it: dial 1 s, the
  // command the rest less a margin.
  const auto command = std::max(milliseconds(500), call.timeout - milliseconds(1500));
  std::vector<std::string> argv = {options_.etcdctl, "--endpoints=" + joined, "--dial-timeout=1s",
                                   "--command-timeout=" + std::to_string(command.count()) + "ms"};
  if (options_.tls) argv.push_back("--cacert=" + ca_file_);
  if (options_.auth && call.as_root) argv.push_back("--user=root:" + password_);
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, dir_, ++commands_, call.timeout);
}

}  // namespace runic::test
