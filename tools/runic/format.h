// Output helpers: times, bytes that may not be text, JSON and tables. Every
// string a store returns goes through these, so that no stored byte reaches
// the terminal raw.
#ifndef RUNIC_TOOLS_RUNIC_FORMAT_H_
#define RUNIC_TOOLS_RUNIC_FORMAT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace runic::cli {

using Json = nlohmann::json;

// "2026-11-28T15:50:01.123456Z"; "-" for the epoch (time unknown).
std::string IsoTime(std::chrono::system_clock::time_point t);
std::string IsoTimeMicros(std::int64_t micros_since_epoch);

std::string Base64(std::string_view bytes);

// Stored bytes as JSON: {"text": ...} when they are UTF-8 without control
// characters (other than tab and newline), else {"base64": ...}.
Json BytesJson(std::string_view bytes);

// `s` safe for a terminal: control characters (C0, DEL, C1) and bytes that
// are not UTF-8 become '?'.
std::string SafeLine(std::string_view s);

// One line of JSON; invalid UTF-8 is replaced, control characters escaped.
std::string Dump(const Json& j);

// Prints rows under a header, each column as wide as its widest cell;
// cells are sanitised (control characters shown as '?').
void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

}  // namespace runic::cli

#endif  // RUNIC_TOOLS_RUNIC_FORMAT_H_
