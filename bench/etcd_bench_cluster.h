// The etcd cluster of one run of an etcd target ("etcd", "etcd-raw"): three
// members on 127.0.0.1 started by the test harness (support/etcd_cluster.h)
// with the settings the engine documents, and what the benchmark reads of
// them to show where the time goes: their CPU time (/proc) and their own
// counters (each member's /metrics: WAL fsyncs, backend commits).
//
// Each run gets a fresh cluster, as each run of the other engines gets a
// fresh directory: etcd keeps every revision until it compacts, so a
// cluster shared by the runs would grow run after run (towards its quota)
// and later runs would measure a bigger database than earlier ones.
//
// Only the standard library, POSIX and the harness: both runic_bench and
// runic_bench_etcd_raw link it.
#ifndef RUNIC_BENCH_ETCD_BENCH_CLUSTER_H_
#define RUNIC_BENCH_ETCD_BENCH_CLUSTER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace runic::test {
class EtcdCluster;
}

namespace bench {

class BenchCluster {
 public:
  // Starts the cluster and waits for a leader; throws BenchError when it
  // cannot (etcd missing, no leader within 20 s).
  BenchCluster();
  ~BenchCluster();
  BenchCluster(const BenchCluster&) = delete;
  BenchCluster& operator=(const BenchCluster&) = delete;

  // The members' client endpoints ("127.0.0.1:port"), the leader's first:
  // both the engine and the raw baseline send their calls to the first, so
  // that every run measures the same path (a follower would forward each
  // write to the leader: one more hop, in some runs and not others).
  const std::vector<std::string>& endpoints() const { return endpoints_; }

  // Cumulative figures since the cluster started (Measure reports their
  // growth over each workload):
  //   etcd_cpu_ms        CPU time of the three etcd processes, summed
  //   etcd_wal_fsyncs    WAL fsyncs, the mean over the members
  //   etcd_wal_fsync_ms  time in those fsyncs, the mean over the members
  //   etcd_backend_commits  bbolt commits, the mean over the members
  std::map<std::string, double> Probe() const;

 private:
  std::unique_ptr<runic::test::EtcdCluster> cluster_;
  std::vector<std::string> endpoints_;
};

// CPU time of this process, every thread (gRPC's included), in ms.
double ProcessCpuMs();

}  // namespace bench

#endif  // RUNIC_BENCH_ETCD_BENCH_CLUSTER_H_
