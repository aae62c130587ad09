// One 3-member etcd cluster per test process, started on first use (from
// the main thread, which outlives it: see etcd_cluster.h) and stopped at
// exit. Tests isolate themselves by database name, not by cluster.
#ifndef RUNIC_TESTS_SHARED_ETCD_CLUSTER_H_
#define RUNIC_TESTS_SHARED_ETCD_CLUSTER_H_

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "support/etcd_cluster.h"

namespace runic::test {

inline EtcdCluster& SharedEtcdCluster() {
  static std::unique_ptr<EtcdCluster> cluster = [] {
    std::string error;
    std::unique_ptr<EtcdCluster> c = EtcdCluster::Start({}, &error);
    if (c == nullptr) {
      std::cerr << "cannot start the etcd cluster for the tests: " << error << "\n";
      std::abort();
    }
    return c;
  }();
  return *cluster;
}

}  // namespace runic::test

#endif  // RUNIC_TESTS_SHARED_ETCD_CLUSTER_H_
