// A TCP proxy on 127.0.0.1 between a client and one etcd member, for the
// fault tests: it forwards bytes both ways, and on request drops the
// response to one request while the server still gets (and applies) it,
// which makes the client's outcome unknown (an "ambiguous commit").
//
// One thread accepts; one thread per connection relays both directions with
// poll(2). A connection ends when either side closes it (no half-close).
#ifndef RUNIC_SUPPORT_TCP_PROXY_H_
#define RUNIC_SUPPORT_TCP_PROXY_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace runic::test {

class TcpProxy {
 public:
  // Listens on 127.0.0.1:<free port> and forwards every connection to
  // `target` ("127.0.0.1:port"; connected to when a client connects). Null
  // with *error when it cannot listen.
  static std::unique_ptr<TcpProxy> Start(const std::string& target, std::string* error);
  // Closes every connection and joins every thread.
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int Port() const { return port_; }
  std::string Endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  // Arms the drop, which fires once, on the first connection where, after
  // this call, the client sends a request:
  //   - on cleartext HTTP/2 (the connection began with the client preface,
  //     as gRPC without TLS does): a chunk that holds a HEADERS frame, i.e.
  //     a new call; the PING, SETTINGS and WINDOW_UPDATE frames an idle
  //     gRPC channel sends, and DATA on streams already open (lease
  //     keep-alives), do not fire it;
  //   - on anything else (a plain echo, TLS): a chunk of at least 40 bytes,
  //     larger than those control frames in the clear. Inside TLS a record
  //     holding a PING is already about 40 bytes, so arm only on cleartext
  //     gRPC channels.
  // That chunk and what the client sends after it are forwarded; from then
  // on what the server sends on that connection is discarded, and after
  // `hold` the proxy closes the connection on both sides. Other and later
  // connections are relayed normally. Re-arming replaces an unfired arm.
  void ArmDropResponses(std::chrono::milliseconds hold);
  void Disarm();
  // Times the drop has fired since the proxy started.
  int FiredCount() const;
  // True once the drop armed last has fired; false if `timeout` passes.
  bool WaitFired(std::chrono::milliseconds timeout);
  // Connections accepted so far.
  int Accepted() const { return accepted_.load(); }

 private:
  struct Connection {
    int client = -1;
    int server = -1;
    std::thread thread;
    std::atomic<bool> done{false};
  };

  TcpProxy() = default;
  void AcceptLoop();
  void Relay(Connection* c);
  // Whether the chunk just read from the client fires the armed drop (and
  // disarms it); the hold when it does.
  bool Fire(bool request, std::chrono::milliseconds* hold);
  void ReapFinished();

  int listen_fd_ = -1;
  int port_ = 0;
  std::string target_host_;
  int target_port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable fired_cv_;
  std::list<std::unique_ptr<Connection>> connections_;  // guarded by mu_
  bool armed_ = false;                                  // guarded by mu_
  std::chrono::milliseconds hold_{0};                   // guarded by mu_
  int fired_ = 0;                                       // guarded by mu_
  int fire_target_ = 1;                                 // fired_ once the last arm fired; guarded by mu_
};

}  // namespace runic::test

#endif  // RUNIC_SUPPORT_TCP_PROXY_H_
