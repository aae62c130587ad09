#include "format.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace runic::cli {
namespace {

// The length of the UTF-8 sequence at s[i] (0: not well formed).
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  const std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (len == 0 || c > 0xf4 || i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return 0;
  }
  return len;
}

// C1 controls, U+0080..U+009F, encoded as C2 80..C2 9F.
bool IsC1(std::string_view s, std::size_t i) {
  return static_cast<unsigned char>(s[i]) == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0;
}

// True for well-formed UTF-8 with no control character but tab and newline.
bool IsPrintableUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = Utf8Length(s, i);
    const auto c = static_cast<unsigned char>(s[i]);
    if (len == 0 || (len == 2 && IsC1(s, i))) return false;
    if (len == 1 && ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)) return false;
    i += len;
  }
  return true;
}

}  // namespace

std::string SafeLine(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t len = Utf8Length(s, i);
    const auto c = static_cast<unsigned char>(s[i]);
    if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7f)) || (len == 2 && IsC1(s, i))) {
      out.push_back('?');
      i += std::max<std::size_t>(len, 1);
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

std::string IsoTimeMicros(std::int64_t micros) {
  if (micros <= 0) return "-";
  const std::time_t secs = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(micros % 1000000));
  return buf;
}

std::string IsoTime(std::chrono::system_clock::time_point t) {
  return IsoTimeMicros(std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}

std::string Base64(std::string_view bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kAlphabet[v & 63] : '=');
  }
  return out;
}

Json BytesJson(std::string_view bytes) {
  if (IsPrintableUtf8(bytes)) return Json{{"text", std::string(bytes)}};
  return Json{{"base64", Base64(bytes)}};
}

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

void PrintTable(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  auto clean = [](const std::string& s) { return SafeLine(s); };
  std::vector<std::size_t> width(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t c = 0; c < row.size() && c < width.size(); ++c) {
      std::string cell = clean(row[c]);
      if (c + 1 < row.size()) cell.resize(width[c], ' ');
      line += (c ? "  " : "") + cell;
    }
    std::printf("%s\n", line.c_str());
  };
  print(header);
  for (const auto& row : rows) print(row);
}

}  // namespace runic::cli
