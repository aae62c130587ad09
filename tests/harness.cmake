# The etcd harness: real etcd clusters (EtcdCluster) and a fault-injecting
# TCP proxy, for the etcd engine's tests and the benchmark. Only the standard
# library, POSIX and nlohmann_json. Included from the top-level CMakeLists
# before bench/ and tests/, so that both can link it.
add_library(runic_etcd_harness STATIC ${CMAKE_CURRENT_LIST_DIR}/etcd_cluster.cc ${CMAKE_CURRENT_LIST_DIR}/tcp_proxy.cc)
target_include_directories(runic_etcd_harness PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(runic_etcd_harness PUBLIC nlohmann_json::nlohmann_json Threads::Threads)
