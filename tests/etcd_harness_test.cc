// The etcd test harness on its own, before any Runic engine uses it: real
// etcd clusters (plain, TLS, auth) driven with etcdctl, failover after
// SIGKILL, and the TCP proxy's relay and response drop.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>

#include "support/etcd_cluster.h"
#include "support/tcp_proxy.h"

namespace runic::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::unique_ptr<EtcdCluster> StartOrFail(EtcdClusterOptions options) {
  std::string error;
  auto cluster = EtcdCluster::Start(options, &error);
  EXPECT_NE(cluster, nullptr) << error;
  return cluster;
}

// The value of `key` (empty if none) through `call`'s endpoints.
std::string Get(EtcdCluster& cluster, const std::string& key, EtcdctlCall call = {}) {
  EtcdctlResult r = cluster.Etcdctl({"get", key, "--print-value-only"}, call);
  EXPECT_TRUE(r.ok()) << r.out << r.err;
  return r.out.empty() ? "" : r.out.substr(0, r.out.find('\n'));
}

// Polls Leader() until it names a member other than `not_this`.
int WaitLeader(EtcdCluster& cluster, std::chrono::milliseconds timeout, int not_this = -1) {
  const auto deadline = Clock::now() + timeout;
  do {
    int leader = cluster.Leader();
    if (leader >= 0 && leader != not_this) return leader;
    std::this_thread::sleep_for(50ms);
  } while (Clock::now() < deadline);
  return -1;
}

TEST(EtcdClusterTest, ThreeMembersFailOverAndRecover) {
  auto cluster = StartOrFail({});
  ASSERT_NE(cluster, nullptr);
  ASSERT_EQ(cluster->size(), 3);
  const std::vector<std::string> endpoints = cluster->ClientEndpoints();
  EXPECT_EQ(cluster->Uri(), "etcd://" + endpoints[0] + "," + endpoints[1] + "," + endpoints[2]);
  EXPECT_EQ(cluster->Uri("timeout_ms=500"), cluster->Uri() + "?timeout_ms=500");
  for (const std::string& e : endpoints) {
    EXPECT_NE(e, "127.0.0.1:2379");
    EXPECT_NE(e, "127.0.0.1:2380");
  }

  ASSERT_TRUE(cluster->Etcdctl({"put", "k", "v1"}).ok());
  EXPECT_EQ(Get(*cluster, "k"), "v1");

  const int leader = WaitLeader(*cluster, 10s);
  ASSERT_GE(leader, 0);
  cluster->Kill(leader);
  EXPECT_FALSE(cluster->IsRunning(leader));
  const auto killed = Clock::now();
  const int next = WaitLeader(*cluster, 10s, leader);
  ASSERT_GE(next, 0) << "no new leader within 10 s";
  std::cout << "new leader after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed).count() << " ms\n";
  EtcdctlResult put = cluster->Etcdctl({"put", "k", "v2"});
  ASSERT_TRUE(put.ok()) << put.err;

  // The old leader comes back on its data and catches up.
  std::string error;
  ASSERT_TRUE(cluster->Restart(leader, &error)) << error;
  ASSERT_TRUE(cluster->WaitHealthy(10s, &error)) << error;
  EtcdctlCall only_it;
  only_it.endpoints = {"http://" + endpoints[leader]};
  EXPECT_EQ(Get(*cluster, "k", only_it), "v2");  // linearizable: through the leader, from it

  // A paused follower leaves a quorum; once resumed, the cluster is whole.
  const int follower = (WaitLeader(*cluster, 10s) + 1) % 3;
  cluster->Pause(follower);
  EXPECT_TRUE(cluster->IsRunning(follower));
  EXPECT_TRUE(cluster->Etcdctl({"put", "k", "v3"}).ok());
  cluster->Resume(follower);
  ASSERT_TRUE(cluster->WaitHealthy(10s, &error)) << error;

  // Stop (SIGTERM) and restart a member.
  cluster->Stop(follower);
  EXPECT_FALSE(cluster->IsRunning(follower));
  ASSERT_TRUE(cluster->Restart(follower, &error)) << error;
  ASSERT_TRUE(cluster->WaitHealthy(10s, &error)) << error;
  EXPECT_EQ(Get(*cluster, "k"), "v3");
}

TEST(EtcdClusterTest, TlsServesHttpsWithTheCa) {
  auto cluster = StartOrFail({.tls = true});
  ASSERT_NE(cluster, nullptr);
  ASSERT_TRUE(std::filesystem::exists(cluster->CaFile()));
  EXPECT_NE(cluster->Uri().find("?ca=" + cluster->CaFile()), std::string::npos) << cluster->Uri();

  // Etcdctl passes https:// endpoints and --cacert.
  EtcdctlResult put = cluster->Etcdctl({"put", "secure", "yes"});
  ASSERT_TRUE(put.ok()) << put.err;
  EXPECT_EQ(Get(*cluster, "secure"), "yes");

  // Plain http to a TLS port gets nothing.
  EtcdctlCall plain;
  plain.endpoints = {"http://" + cluster->ClientEndpoints()[0]};
  plain.timeout = 3000ms;
  EXPECT_FALSE(cluster->Etcdctl({"get", "secure"}, plain).ok());
}

TEST(EtcdClusterTest, AuthRefusesAnonymousAndAcceptsRoot) {
  auto cluster = StartOrFail({.members = 1, .auth = true});
  ASSERT_NE(cluster, nullptr);
  EXPECT_EQ(cluster->User(), "root");
  ASSERT_FALSE(cluster->Password().empty());
  EXPECT_EQ(cluster->Uri(), "etcd://" + cluster->ClientEndpoints()[0] + "?user=root&password=" + cluster->Password());

  EtcdctlCall anonymous;
  anonymous.as_root = false;
  EtcdctlResult refused = cluster->Etcdctl({"put", "k", "v"}, anonymous);
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.err.find("user name is empty"), std::string::npos) << refused.err;
  EtcdctlResult put = cluster->Etcdctl({"put", "k", "v"});
  ASSERT_TRUE(put.ok()) << put.err;
  EXPECT_EQ(Get(*cluster, "k"), "v");
}

// A TCP echo server on 127.0.0.1 (one thread per connection is not needed:
// the test talks to it over one connection at a time).
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 8);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~EchoServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string Endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  std::size_t received() const { return received_.load(); }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      char buf[4096];
      while (!stop_) {
        pollfd q{c, POLLIN, 0};
        if (::poll(&q, 1, 100) <= 0) continue;
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        received_ += static_cast<std::size_t>(n);
        ::send(c, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> received_{0};
  std::thread thread_;
};

int Connect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads exactly `n` bytes within `timeout`; what came (less on timeout or
// end of stream, *eof then set).
std::string ReadN(int fd, std::size_t n, std::chrono::milliseconds timeout, bool* eof = nullptr) {
  std::string out;
  if (eof) *eof = false;
  const auto deadline = Clock::now() + timeout;
  while (out.size() < n && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[4096];
    ssize_t r = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
    if (r <= 0) {
      if (eof) *eof = true;
      break;
    }
    out.append(buf, static_cast<std::size_t>(r));
  }
  return out;
}

TEST(TcpProxyTest, RelaysAndDropsOneResponse) {
  EchoServer echo;
  std::string error;
  auto proxy = TcpProxy::Start(echo.Endpoint(), &error);
  ASSERT_NE(proxy, nullptr) << error;
  EXPECT_EQ(proxy->Endpoint(), "127.0.0.1:" + std::to_string(proxy->Port()));

  int fd = Connect(proxy->Port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::send(fd, "hello", 5, 0), 5);
  EXPECT_EQ(ReadN(fd, 5, 2s), "hello");

  proxy->ArmDropResponses(300ms);
  // Below the 40-byte rule: relayed both ways, the drop stays armed.
  ASSERT_EQ(::send(fd, "tiny", 4, 0), 4);
  EXPECT_EQ(ReadN(fd, 4, 2s), "tiny");
  EXPECT_EQ(proxy->FiredCount(), 0);

  const std::string request(100, 'r');
  const std::size_t before = echo.received();
  const auto sent = Clock::now();
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  ASSERT_TRUE(proxy->WaitFired(2s));
  bool eof = false;
  EXPECT_EQ(ReadN(fd, request.size(), 3s, &eof), "") << "the response should be dropped";
  EXPECT_TRUE(eof) << "the proxy should close the connection after the hold";
  EXPECT_GE(Clock::now() - sent, 250ms);
  EXPECT_EQ(echo.received(), before + request.size()) << "the request should reach the server";
  ::close(fd);

  // Fired once: a new connection relays everything.
  fd = Connect(proxy->Port());
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  EXPECT_EQ(ReadN(fd, request.size(), 2s), request);
  ::close(fd);
  EXPECT_EQ(proxy->FiredCount(), 1);
  EXPECT_EQ(proxy->Accepted(), 2);
}

// An HTTP/2 frame: 24-bit length, type, flags, stream id, payload.
std::string Frame(std::uint8_t type, std::uint32_t stream, std::size_t length) {
  std::string f = {static_cast<char>(length >> 16),
                   static_cast<char>(length >> 8),
                   static_cast<char>(length),
                   static_cast<char>(type),
                   0,
                   static_cast<char>(stream >> 24),
                   static_cast<char>(stream >> 16),
                   static_cast<char>(stream >> 8),
                   static_cast<char>(stream)};
  return f + std::string(length, '\0');
}

// On cleartext HTTP/2 only a HEADERS frame (a new call) fires the drop,
// however large the control frames before it.
TEST(TcpProxyTest, FiresOnAnHttp2RequestNotOnControlFrames) {
  EchoServer echo;
  std::string error;
  auto proxy = TcpProxy::Start(echo.Endpoint(), &error);
  ASSERT_NE(proxy, nullptr) << error;
  int fd = Connect(proxy->Port());
  ASSERT_GE(fd, 0);
  auto send_echoed = [&](const std::string& bytes) {
    ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    EXPECT_EQ(ReadN(fd, bytes.size(), 2s).size(), bytes.size());
  };
  proxy->ArmDropResponses(200ms);
  // Preface, SETTINGS with 8 entries and WINDOW_UPDATE: 95 bytes at once.
  send_echoed("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + Frame(0x4, 0, 48) + Frame(0x8, 0, 4));
  send_echoed(Frame(0x6, 0, 8) + Frame(0x6, 0, 8) + Frame(0x4, 0, 0));  // PINGs, SETTINGS ack
  // A DATA frame split across chunks, then a large one on an open stream.
  const std::string data = Frame(0x0, 1, 60);
  send_echoed(data.substr(0, 5));
  send_echoed(data.substr(5));
  send_echoed(Frame(0x0, 1, 500));
  EXPECT_EQ(proxy->FiredCount(), 0);

  const std::string call = Frame(0x1, 3, 20) + Frame(0x0, 3, 30);  // HEADERS + DATA
  ASSERT_EQ(::send(fd, call.data(), call.size(), 0), static_cast<ssize_t>(call.size()));
  ASSERT_TRUE(proxy->WaitFired(2s));
  bool eof = false;
  EXPECT_EQ(ReadN(fd, call.size(), 2s, &eof), "");
  EXPECT_TRUE(eof);
  ::close(fd);
}

// The ambiguous commit, with etcdctl as the client: the put is applied, its
// response never arrives, and the client fails although the write happened.
TEST(TcpProxyTest, DropsTheResponseToAnEtcdPutThatApplies) {
  auto cluster = StartOrFail({.members = 1});
  ASSERT_NE(cluster, nullptr);
  std::string error;
  auto proxy = TcpProxy::Start(cluster->ClientEndpoints()[0], &error);
  ASSERT_NE(proxy, nullptr) << error;
  EtcdctlCall via_proxy;
  via_proxy.endpoints = {proxy->Endpoint()};

  ASSERT_TRUE(cluster->Etcdctl({"put", "k", "before"}, via_proxy).ok());
  EXPECT_EQ(Get(*cluster, "k", via_proxy), "before");

  proxy->ArmDropResponses(500ms);
  EtcdctlResult put = cluster->Etcdctl({"put", "k", "ambiguous"}, via_proxy);
  EXPECT_FALSE(put.ok()) << "etcdctl should not see the response: " << put.out;
  EXPECT_TRUE(proxy->WaitFired(1s));
  EXPECT_EQ(Get(*cluster, "k"), "ambiguous") << "the put should have applied";

  EXPECT_TRUE(cluster->Etcdctl({"put", "k", "after"}, via_proxy).ok());
  EXPECT_EQ(Get(*cluster, "k", via_proxy), "after");
  EXPECT_EQ(proxy->FiredCount(), 1);
}

}  // namespace
}  // namespace runic::test
