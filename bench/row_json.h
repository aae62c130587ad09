// The benchmark's one JSON writer (nlohmann_json), for its two uses: a Row
// as one JSON object with every field (RowToJson / RowFromJson: how
// runic_bench_etcd_raw hands its rows to runic_bench), and the report's
// JSON lines (ReportLine: runic_bench --json).
#ifndef RUNIC_BENCH_ROW_JSON_H_
#define RUNIC_BENCH_ROW_JSON_H_

#include <cmath>
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

// One line of runic_bench --json: the figures rounded to 3 decimals (a
// non-finite figure as 0), the sync counters only for a sync mode, then the
// row's extra figures, the runs and --quick. Keys in this order.
inline nlohmann::ordered_json ReportLine(const Row& r, bool quick) {
  auto figure = [](double v) { return std::isfinite(v) ? std::round(v * 1000) / 1000 : 0.0; };
  nlohmann::ordered_json line = {{"engine", r.engine}, {"mode", r.mode}, {"workload", r.workload}};
  line["ops_per_s"] = figure(r.ops_per_s);
  line["events_per_s"] = figure(r.events_per_s);
  line["mean_us"] = figure(r.mean_us);
  line["p50_us"] = figure(r.p50_us);
  line["p99_us"] = figure(r.p99_us);
  line["rss_mb"] = figure(r.rss_mb);
  line["disk_mb"] = figure(r.disk_mb);
  if (r.sync_mode) {
    line["commits_per_sync"] = figure(r.commits_per_sync);
    line["commits"] = figure(r.commits);
    line["wal_syncs"] = figure(r.wal_syncs);
  }
  for (const auto& [key, value] : r.extra) line[key] = figure(value);
  line["runs"] = r.runs;
  line["quick"] = quick;
  return line;
}

}  // namespace bench

#endif  // RUNIC_BENCH_ROW_JSON_H_
