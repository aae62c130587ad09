#include "etcd_bench_cluster.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/etcd_cluster.h"
#include "target.h"

namespace bench {
namespace {

int PortOf(const std::string& endpoint) {
  const std::size_t colon = endpoint.rfind(':');
  return colon == std::string::npos ? 0 : std::atoi(endpoint.c_str() + colon + 1);
}

// GET http://127.0.0.1:port/metrics (etcd serves it on its client port);
// empty on any failure.
std::string FetchMetrics(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buf[65536];
      for (;;) {
        const ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  close(fd);
  return out;
}

// The value of an unlabelled Prometheus metric in `text` (0 when absent).
double Metric(const std::string& text, const std::string& name) {
  const std::string key = "\n" + name + " ";
  const std::size_t at = text.find(key);
  if (at == std::string::npos) return 0;
  return std::strtod(text.c_str() + at + key.size(), nullptr);
}

// utime + stime of a process, in ms (0 when it is gone).
double ProcessCpuMsOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(stat.substr(paren + 2));
  std::string field;
  double utime = 0, stime = 0;
  // After "pid (comm) ", fields start at 3 (state); utime is 14, stime 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::strtod(field.c_str(), nullptr);
    if (i == 15) stime = std::strtod(field.c_str(), nullptr);
  }
  return (utime + stime) * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace

BenchCluster::BenchCluster() {
  std::string error;
  cluster_ = runic::test::EtcdCluster::Start({}, &error);
  if (!cluster_)
    throw BenchError("cannot start the 3-member etcd cluster (is etcd installed? scripts/setup installs it): " + error);
  int leader = -1;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((leader = cluster_->Leader()) < 0) {
    if (std::chrono::steady_clock::now() > give_up) throw BenchError("the etcd cluster elected no leader within 20 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const std::vector<std::string> all = cluster_->ClientEndpoints();
  endpoints_.push_back(all[static_cast<std::size_t>(leader)]);
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (static_cast<int>(i) != leader) endpoints_.push_back(all[i]);
  }
}

BenchCluster::~BenchCluster() = default;

std::map<std::string, double> BenchCluster::Probe() const {
  double cpu = 0, fsyncs = 0, fsync_s = 0, backend = 0;
  const int n = cluster_->size();
  for (int i = 0; i < n; ++i) {
    cpu += ProcessCpuMsOf(cluster_->Pid(i));
    const std::string text = FetchMetrics(PortOf(cluster_->ClientEndpoints()[static_cast<std::size_t>(i)]));
    fsyncs += Metric(text, "etcd_disk_wal_fsync_duration_seconds_count");
    fsync_s += Metric(text, "etcd_disk_wal_fsync_duration_seconds_sum");
    backend += Metric(text, "etcd_disk_backend_commit_duration_seconds_count");
  }
  return {{"etcd_cpu_ms", cpu},
          {"etcd_wal_fsyncs", fsyncs / n},
          {"etcd_wal_fsync_ms", fsync_s * 1000 / n},
          {"etcd_backend_commits", backend / n}};
}

double ProcessCpuMs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1000 + static_cast<double>(t.tv_usec) / 1000;
  };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

}  // namespace bench
