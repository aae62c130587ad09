// A real etcd cluster on 127.0.0.1 for the tests and the benchmark: N
// members of /usr/bin/etcd started as child processes, on free ports (never
// 2379/2380, which Debian's packaged service may hold), each with its own
// data directory under a temporary directory the cluster owns and removes.
// Optionally with TLS on the client URLs (a CA and a server certificate made
// with the openssl CLI) and with authentication (user root). Members can be
// killed, stopped, paused and restarted on the same data and ports, for the
// fault tests.
//
// Depends only on the standard library, POSIX and nlohmann_json, so that
// the benchmark can link it. One thread at a time per cluster. Members get
// PR_SET_PDEATHSIG(SIGKILL), so a crashed test leaves no etcd behind; the
// kernel ties it to the *thread* that started the member, so call Start and
// Restart from a thread that outlives the cluster (the main thread).
#ifndef RUNIC_SUPPORT_ETCD_CLUSTER_H_
#define RUNIC_SUPPORT_ETCD_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace runic::test {

struct EtcdClusterOptions {
  int members = 3;
  bool tls = false;   // https client URLs; see EtcdCluster::CaFile()
  bool auth = false;  // user root, password chosen by the harness
  // Shorter than etcd's defaults (100/1000) so that failover tests are
  // quick, long enough not to elect spuriously on a busy 2-core machine.
  int heartbeat_ms = 50;
  int election_ms = 500;
  std::string etcd = "/usr/bin/etcd";
  std::string etcdctl = "/usr/bin/etcdctl";
};

// What an etcdctl run printed, and how it ended.
struct EtcdctlResult {
  int exit_code = -1;  // -1: not started, or killed at its deadline
  std::string out;     // stdout
  std::string err;     // stderr
  bool ok() const { return exit_code == 0; }
};

// How to run etcdctl against the cluster (EtcdCluster::Etcdctl).
struct EtcdctlCall {
  // Verbatim --endpoints values; empty: every running member's endpoint,
  // with the scheme the cluster serves (https with TLS).
  std::vector<std::string> endpoints;
  bool as_root = true;                      // pass --user root:<password> when auth is on
  std::chrono::milliseconds timeout{5000};  // the process is killed after it
};

class EtcdCluster {
 public:
  // Starts the cluster and waits until every member is healthy (then sets
  // up auth if asked). Null with *error set (including the tail of the
  // failing member's log) when it cannot; a port taken between choosing it
  // and etcd binding it is retried with new ports, a bounded number of times.
  static std::unique_ptr<EtcdCluster> Start(const EtcdClusterOptions& options, std::string* error);

  // Kills every member (SIGKILL: see StopAll in the .cc) and removes the
  // temporary directory.
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }

  // "127.0.0.1:port" per member (the client port), running or not.
  std::vector<std::string> ClientEndpoints() const;
  // etcd://127.0.0.1:p1,127.0.0.1:p2,... with the engine's parameters: ca
  // (with TLS; the CA's file), user and password (with auth), then
  // `extra_params` ("timeout_ms=500&linearizable=1"), joined with '&'.
  std::string Uri(const std::string& extra_params = "") const;
  std::string CaFile() const { return ca_file_; }  // empty without TLS
  std::string User() const { return options_.auth ? "root" : ""; }
  std::string Password() const { return options_.auth ? password_ : ""; }
  const std::string& dir() const { return dir_; }
  // The member's log file (its stdout and stderr, across restarts).
  std::string LogFile(int member) const;

  // SIGKILL, and reaps it.
  void Kill(int member);
  // SIGTERM (and SIGCONT, in case it is paused), SIGKILL if it has not
  // ended within 5 s. A leader stopped just after another member takes
  // that long: it tries to hand leadership over to the member just gone.
  void Stop(int member);
  // Starts a killed or stopped member again on its data directory and
  // ports; false with *error (and the tail of its log) if it exits at once.
  // Does not wait for it to catch up: see WaitHealthy.
  bool Restart(int member, std::string* error);
  bool IsRunning(int member);
  // SIGSTOP / SIGCONT: a member that is alive but answers nothing.
  void Pause(int member);
  void Resume(int member);
  pid_t Pid(int member) const;

  // The index of the member that reports itself leader (the highest term if
  // several do, as briefly after a partition), -1 when none of the running
  // members does or none answers within a few seconds.
  int Leader();
  // Waits until every running (and not paused) member answers
  // `etcdctl endpoint health` (a read through consensus). False with
  // *error (the last answer) when `timeout` passes first.
  bool WaitHealthy(std::chrono::milliseconds timeout, std::string* error);

  // Runs etcdctl with the cluster's TLS and auth flags and `args`.
  EtcdctlResult Etcdctl(const std::vector<std::string>& args, const EtcdctlCall& call = {});

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    pid_t pid = -1;  // -1: not running (reaped)
    bool paused = false;
    int wait_status = 0;  // how it last ended
  };

  explicit EtcdCluster(const EtcdClusterOptions& options) : options_(options) {}
  bool MakeTempDir(std::string* error);
  bool MakeCertificates(std::string* error);
  bool TryStart(bool* ports_taken, std::string* error);
  bool EnableAuth(std::string* error);
  // WaitHealthy; with `ports_taken`, fails as soon as a member exits (and
  // says whether its port was taken).
  bool AwaitHealth(std::chrono::milliseconds timeout, bool as_root, bool* ports_taken, std::string* error);
  bool Launch(int member, bool existing, std::string* error);
  void StopAll();
  // Reaps the member if it has ended: true if it is still running.
  bool Reap(int member);
  std::string ClientUrl(int member) const;
  std::string PeerUrl(int member) const;
  std::string LogTail(int member) const;

  EtcdClusterOptions options_;
  std::string dir_;
  std::string token_;  // --initial-cluster-token, unique per attempt
  std::string ca_file_, cert_file_, key_file_;
  std::string password_;
  std::vector<Member> members_;
  int commands_ = 0;  // names etcdctl's output files
};

}  // namespace runic::test

#endif  // RUNIC_SUPPORT_ETCD_CLUSTER_H_
