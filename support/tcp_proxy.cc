#include "support/tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace runic::test {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Connections relayed at once; more are closed on accept.
constexpr int kMaxConnections = 256;
// The size rule for connections that are not cleartext HTTP/2: a PING (17
// bytes), SETTINGS ack (9) or WINDOW_UPDATE (13), even two together, stay
// below it; any gRPC or test request is larger.
constexpr std::size_t kMinRequestBytes = 40;
// How often blocked loops look at stop_ (shutdown(2) wakes them sooner).
constexpr int kPollMs = 200;

// Follows the HTTP/2 frames the client sends, to tell a new call (HEADERS
// frame) from control frames. Gives up (h2() false) when the connection
// does not begin with the client preface.
class H2Scanner {
 public:
  // True if the bytes hold the header of a HEADERS frame.
  bool Feed(const char* p, std::size_t n) {
    static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    bool headers = false;
    std::size_t i = 0;
    while (i < n && h2_) {
      if (preface_seen_ < kPreface.size()) {
        if (p[i++] != kPreface[preface_seen_++]) h2_ = false;
      } else if (skip_ > 0) {
        const std::size_t k = std::min<std::size_t>(skip_, n - i);
        skip_ -= k;
        i += k;
      } else {
        header_[header_len_++] = static_cast<unsigned char>(p[i++]);
        if (header_len_ == sizeof header_) {  // 24-bit length, type, flags, stream
          skip_ = (std::size_t{header_[0]} << 16) | (std::size_t{header_[1]} << 8) | header_[2];
          if (header_[3] == 0x1) headers = true;
          header_len_ = 0;
        }
      }
    }
    return headers;
  }
  bool h2() const { return h2_; }

 private:
  bool h2_ = true;
  std::size_t preface_seen_ = 0;
  unsigned char header_[9] = {};
  std::size_t header_len_ = 0;
  std::size_t skip_ = 0;
};

bool WriteAll(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

sockaddr_in Loopback(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  return addr;
}

}  // namespace

std::unique_ptr<TcpProxy> TcpProxy::Start(const std::string& target, std::string* error) {
  std::unique_ptr<TcpProxy> proxy(new TcpProxy());
  const std::size_t colon = target.rfind(':');
  in_addr probe{};
  if (colon == std::string::npos || ::inet_pton(AF_INET, target.substr(0, colon).c_str(), &probe) != 1) {
    *error = "proxy target must be IPv4 host:port, not " + target;
    return nullptr;
  }
  proxy->target_host_ = target.substr(0, colon);
  proxy->target_port_ = std::atoi(target.c_str() + colon + 1);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback("127.0.0.1", 0);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    *error = std::string("proxy cannot listen: ") + std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return nullptr;
  }
  proxy->listen_fd_ = fd;
  proxy->port_ = ntohs(addr.sin_port);
  proxy->acceptor_ = std::thread([p = proxy.get()] { p->AcceptLoop(); });
  return proxy;
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  if (acceptor_.joinable()) acceptor_.join();
  {
    // Wakes relays blocked in poll or send; they close nothing themselves,
    // so these descriptors are still theirs.
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : connections_) {
      ::shutdown(c->client, SHUT_RDWR);
      ::shutdown(c->server, SHUT_RDWR);
    }
  }
  for (auto& c : connections_) {
    c->thread.join();
    ::close(c->client);
    ::close(c->server);
  }
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

void TcpProxy::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    ReapFinished();
    int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = Loopback(target_host_, target_port_);
    bool full;
    {
      std::lock_guard<std::mutex> lock(mu_);
      full = static_cast<int>(connections_.size()) >= kMaxConnections;
    }
    if (full || server < 0 || ::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ::close(client);  // the client sees the target's refusal as a reset
      if (server >= 0) ::close(server);
      continue;
    }
    // Small gRPC frames should pass at once, as they would without us.
    const int one = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++accepted_;
    auto c = std::make_unique<Connection>();
    c->client = client;
    c->server = server;
    Connection* raw = c.get();
    std::lock_guard<std::mutex> lock(mu_);
    connections_.push_back(std::move(c));
    raw->thread = std::thread([this, raw] { Relay(raw); });
  }
}

void TcpProxy::Relay(Connection* c) {
  H2Scanner scanner;
  bool dropping = false;
  Clock::time_point close_at;
  char buf[64 * 1024];
  while (!stop_) {
    int timeout = kPollMs;
    if (dropping) {
      auto left = std::chrono::duration_cast<milliseconds>(close_at - Clock::now()).count();
      if (left <= 0) break;  // the hold is over: close both sides
      timeout = static_cast<int>(std::min<long long>(left, kPollMs));
    }
    pollfd p[2] = {{c->client, POLLIN, 0}, {c->server, POLLIN, 0}};
    int r = ::poll(p, 2, timeout);
    if (r < 0 && errno != EINTR) break;
    if (r <= 0) continue;
    if (p[0].revents != 0) {  // client -> server
      ssize_t n = ::recv(c->client, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      const bool headers = scanner.Feed(buf, static_cast<std::size_t>(n));
      const bool request = scanner.h2() ? headers : static_cast<std::size_t>(n) >= kMinRequestBytes;
      milliseconds hold;
      if (!dropping && Fire(request, &hold)) {
        dropping = true;
        close_at = Clock::now() + hold;
      }
      if (!WriteAll(c->server, buf, static_cast<std::size_t>(n))) break;
    }
    if (p[1].revents != 0) {  // server -> client, unless dropping
      ssize_t n = ::recv(c->server, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!dropping && !WriteAll(c->client, buf, static_cast<std::size_t>(n))) break;
    }
  }
  ::shutdown(c->client, SHUT_RDWR);
  ::shutdown(c->server, SHUT_RDWR);
  c->done = true;
}

bool TcpProxy::Fire(bool request, milliseconds* hold) {
  if (!request) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (!armed_) return false;
  armed_ = false;
  *hold = hold_;
  ++fired_;
  fired_cv_.notify_all();
  return true;
}

void TcpProxy::ReapFinished() {
  std::list<std::unique_ptr<Connection>> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = connections_.begin(); it != connections_.end();) {
      auto next = std::next(it);
      if ((*it)->done) finished.splice(finished.end(), connections_, it);
      it = next;
    }
  }
  for (auto& c : finished) {
    c->thread.join();
    ::close(c->client);
    ::close(c->server);
  }
}

void TcpProxy::ArmDropResponses(milliseconds hold) {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = true;
  hold_ = hold;
  fire_target_ = fired_ + 1;
}

void TcpProxy::Disarm() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = false;
}

int TcpProxy::FiredCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fired_;
}

bool TcpProxy::WaitFired(milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return fired_cv_.wait_for(lock, timeout, [this] { return fired_ >= fire_target_; });
}

}  // namespace runic::test
