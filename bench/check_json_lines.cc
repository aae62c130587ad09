// Reads JSON lines on stdin (runic_bench --json) and fails unless every
// non-empty line is a JSON object with the benchmark's required keys.
//   runic_bench --quick --json | check_json_lines
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

int main() {
  static const char* const kRequired[] = {"engine",  "mode",   "workload", "ops_per_s", "events_per_s",
                                          "mean_us", "p50_us", "p99_us",   "rss_mb",    "disk_mb"};
  int passed = 0, failed = 0, lineno = 0;
  std::string line;
  while (std::getline(std::cin, line)) {
    ++lineno;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string problem;
    try {
      const nlohmann::json j = nlohmann::json::parse(line);
      if (!j.is_object()) {
        problem = "not a JSON object";
      } else {
        for (const char* key : kRequired) {
          if (!j.contains(key)) problem += std::string(problem.empty() ? "missing " : ", ") + key;
        }
        // The Runner workloads (R1..R3) report workflows and steps too.
        const bool runner =
            j.contains("workload") && j["workload"].is_string() && j["workload"].get<std::string>().rfind("R", 0) == 0;
        for (const char* key : {"workflows_per_s", "steps_per_s"}) {
          if (runner && !j.contains(key)) problem += std::string(problem.empty() ? "missing " : ", ") + key;
        }
      }
    } catch (const nlohmann::json::exception& e) {
      problem = e.what();
    }
    if (problem.empty()) {
      ++passed;
    } else {
      ++failed;
      std::cerr << "line " << lineno << ": " << problem << "\n";
    }
  }
  std::cout << "json-lines: " << passed << " passed, " << failed << " failed\n";
  return failed == 0 && passed > 0 ? 0 : 1;
}
