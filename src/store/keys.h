// Key encoding shared by the engines (the disk engine's layout below; the
// etcd engine builds its keys from the same pieces).
//
//   runner prefix  = u16 big-endian length, then the runner name
//   workflow key   = runner prefix, then the escaped id
//   event key      = workflow key, then the u64 big-endian sequence
//   fact key       = runner prefix, then the raw hash
//
// The runner name is length-prefixed, so runners "a" and "ab" never share a
// key range. The id is escaped (0x00 -> 0x00 0xFF) and terminated by
// 0x00 0x01: no escaped id is a prefix of another, ids may hold any byte
// (separators included), and byte order of ids is kept, so `list` with an id
// prefix is a range scan. Big-endian sequences sort numerically.
#ifndef RUNIC_SRC_STORE_KEYS_H_
#define RUNIC_SRC_STORE_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace runic::internal::keys {

inline void PutFixed64(std::string* out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

inline std::uint64_t GetFixed64(std::string_view in) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[i]);
  return v;
}

inline std::string RunnerPrefix(std::string_view runner) {
  std::string out;
  out.push_back(static_cast<char>((runner.size() >> 8) & 0xff));
  out.push_back(static_cast<char>(runner.size() & 0xff));
  out.append(runner);
  return out;
}

// Appends the escaped id without its terminator: the key prefix of every id
// that starts with `id`.
inline void AppendEscaped(std::string* out, std::string_view id) {
  for (char c : id) {
    out->push_back(c);
    if (c == '\0') out->push_back('\xff');
  }
}

inline std::string WorkflowKey(std::string_view runner_prefix, std::string_view id) {
  std::string out;
  out.reserve(runner_prefix.size() + id.size() + 2 + 8);
  out.append(runner_prefix);
  AppendEscaped(&out, id);
  out.push_back('\0');
  out.push_back('\x01');
  return out;
}

inline std::string EventKey(std::string_view workflow_key, std::uint64_t seq) {
  std::string out;
  out.reserve(workflow_key.size() + 8);
  out.append(workflow_key);
  PutFixed64(&out, seq);
  return out;
}

// The id of a workflow key, or nullopt when `key` is not one of `prefix`.
inline std::optional<std::string> DecodeId(std::string_view key, std::string_view runner_prefix) {
  if (!key.starts_with(runner_prefix)) return std::nullopt;
  key.remove_prefix(runner_prefix.size());
  std::string id;
  for (std::size_t i = 0; i < key.size(); ++i) {
    if (key[i] != '\0') {
      id.push_back(key[i]);
      continue;
    }
    if (i + 1 >= key.size()) return std::nullopt;
    if (key[i + 1] == '\x01') return i + 2 == key.size() ? std::optional<std::string>(id) : std::nullopt;
    if (key[i + 1] != '\xff') return std::nullopt;
    id.push_back('\0');
    ++i;
  }
  return std::nullopt;
}

// The smallest key greater than every key that starts with `prefix`, or ""
// when there is none (prefix of all 0xff).
inline std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char last = static_cast<unsigned char>(prefix.back());
    if (last != 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

}  // namespace runic::internal::keys

#endif  // RUNIC_SRC_STORE_KEYS_H_
