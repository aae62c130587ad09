// A Row as one JSON object, every field of it: how runic_bench_etcd_raw
// hands its rows to runic_bench (not the report's JSON lines, which main.cc
// prints).
#ifndef RUNIC_BENCH_ROW_JSON_H_
#define RUNIC_BENCH_ROW_JSON_H_

#include <string>

#include <nlohmann/json.hpp>

#include "workloads.h"

namespace bench {

inline nlohmann::json RowToJson(const Row& r) {
  return {{"engine", r.engine},
          {"mode", r.mode},
          {"workload", r.workload},
          {"ops_per_s", r.ops_per_s},
          {"events_per_s", r.events_per_s},
          {"mean_us", r.mean_us},
          {"p50_us", r.p50_us},
          {"p99_us", r.p99_us},
          {"rss_mb", r.rss_mb},
          {"disk_mb", r.disk_mb},
          {"sync_mode", r.sync_mode},
          {"commits", r.commits},
          {"wal_syncs", r.wal_syncs},
          {"commits_per_sync", r.commits_per_sync},
          {"extra", r.extra},
          {"runs", r.runs}};
}

inline Row RowFromJson(const nlohmann::json& j) {
  Row r;
  r.engine = j.at("engine").get<std::string>();
  r.mode = j.at("mode").get<std::string>();
  r.workload = j.at("workload").get<std::string>();
  r.ops_per_s = j.at("ops_per_s").get<double>();
  r.events_per_s = j.at("events_per_s").get<double>();
  r.mean_us = j.at("mean_us").get<double>();
  r.p50_us = j.at("p50_us").get<double>();
  r.p99_us = j.at("p99_us").get<double>();
  r.rss_mb = j.at("rss_mb").get<double>();
  r.disk_mb = j.at("disk_mb").get<double>();
  r.sync_mode = j.at("sync_mode").get<bool>();
  r.commits = j.at("commits").get<double>();
  r.wal_syncs = j.at("wal_syncs").get<double>();
  r.commits_per_sync = j.at("commits_per_sync").get<double>();
  r.extra = j.at("extra").get<std::map<std::string, double>>();
  r.runs = j.at("runs").get<int>();
  return r;
}

}  // namespace bench

#endif  // RUNIC_BENCH_ROW_JSON_H_
