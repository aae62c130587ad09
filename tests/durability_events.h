// Self-verifying event and log bytes shared by the durability test and its
// helper process (append_helper). Every value names the workflow and the
// sequence (or cursor) it was written for, carries a deterministic payload
// derived from them, and ends with a checksum of everything before it, so
// that a value read back from the wrong key, a torn value or a flipped byte
// is always detected.
//
// Layout: "<kind>|<workflow>|<number>|<payload length>|" payload "|" hash
// where the payload is binary (any byte, NUL included) and hash is the
// FNV-1a 64 of all preceding bytes as 16 lowercase hex digits.
#ifndef RUNIC_TESTS_DURABILITY_EVENTS_H_
#define RUNIC_TESTS_DURABILITY_EVENTS_H_

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace runic::test {

inline std::uint64_t Fnv1a64(std::string_view bytes) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

inline std::uint64_t SplitMix64(std::uint64_t* state) {
  std::uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The id of workflow `i` of helper thread `t`. One in four ids holds a NUL
// and a '/' byte so that binary ids take part as well.
inline std::string DurabilityWorkflowId(int t, int i) {
  std::string id = "wf-" + std::to_string(t) + "-" + std::to_string(i);
  if (i % 4 == 3) id += std::string("/\0x", 3);
  return id;
}

// The workflows of the full-disk test (one id holds a NUL byte).
inline std::string FullDiskWorkflowId(int i) {
  if (i == 2) return std::string("full-\0c", 7);
  return std::string("full-") + static_cast<char>('a' + i);
}

// The value kind 'E' (event, number = sequence) or 'L' (log, number =
// cursor) for `workflow`, with a payload of `payload_bytes` (default: 8 to
// 520 bytes, chosen from the key).
inline std::string MakeDurableValue(char kind, std::string_view workflow, std::uint64_t number,
                                    std::size_t payload_bytes = SIZE_MAX) {
  std::uint64_t state = Fnv1a64(workflow) ^ (number * 0x2545f4914f6cdd1dull) ^ static_cast<unsigned char>(kind);
  const std::size_t natural = 8 + SplitMix64(&state) % 513;
  if (payload_bytes == SIZE_MAX) payload_bytes = natural;
  std::string out;
  out.reserve(workflow.size() + payload_bytes + 64);
  out.push_back(kind);
  out.push_back('|');
  out.append(workflow);
  out.push_back('|');
  out.append(std::to_string(number));
  out.push_back('|');
  out.append(std::to_string(payload_bytes));
  out.push_back('|');
  for (std::size_t i = 0; i < payload_bytes; i += 8) {
    std::uint64_t r = SplitMix64(&state);
    for (std::size_t b = 0; b < 8 && i + b < payload_bytes; ++b) out.push_back(static_cast<char>(r >> (8 * b)));
  }
  out.push_back('|');
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(Fnv1a64(out)));
  out.append(hex, 16);
  return out;
}

inline std::string MakeEvent(std::string_view workflow, std::uint64_t sequence) {
  return MakeDurableValue('E', workflow, sequence);
}

// `id` with every byte outside printable ASCII (and '\\' and ' ') written
// as \xNN, so that it fits on one line of the helper's output.
inline std::string EscapeId(std::string_view id) {
  std::string out;
  for (unsigned char c : id) {
    if (c > ' ' && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out.append(buf, 4);
    }
  }
  return out;
}

// A parsed value. Decoding checks the framing and the checksum only.
struct DurableValue {
  char kind = 0;
  std::string workflow;
  std::uint64_t number = 0;
  std::size_t payload_bytes = 0;
};

// False (with the reason in *why) unless `v` is well framed and its checksum
// matches.
inline bool DecodeDurableValue(std::string_view v, DurableValue* out, std::string* why) {
  if (v.size() < 2 + 16 + 1 || v[1] != '|') {
    *why = "too short or unframed (" + std::to_string(v.size()) + " bytes)";
    return false;
  }
  std::string_view body = v.substr(0, v.size() - 16);
  std::string_view hash = v.substr(v.size() - 16);
  char want[17];
  std::snprintf(want, sizeof want, "%016llx", static_cast<unsigned long long>(Fnv1a64(body)));
  if (hash != std::string_view(want, 16)) {
    *why = "checksum mismatch";
    return false;
  }
  out->kind = v[0];
  // The workflow id may hold '|'-free binary bytes; ids used here never hold
  // '|', so the fields are split at the first '|' after it.
  std::size_t p1 = 2;
  std::size_t p2 = v.find('|', p1);
  std::size_t p3 = p2 == std::string_view::npos ? p2 : v.find('|', p2 + 1);
  std::size_t p4 = p3 == std::string_view::npos ? p3 : v.find('|', p3 + 1);
  if (p4 == std::string_view::npos) {
    *why = "missing fields";
    return false;
  }
  out->workflow.assign(v.substr(p1, p2 - p1));
  auto num = v.substr(p2 + 1, p3 - p2 - 1);
  auto len = v.substr(p3 + 1, p4 - p3 - 1);
  if (std::from_chars(num.data(), num.data() + num.size(), out->number).ec != std::errc() ||
      std::from_chars(len.data(), len.data() + len.size(), out->payload_bytes).ec != std::errc()) {
    *why = "bad number fields";
    return false;
  }
  if (p4 + 1 + out->payload_bytes + 1 + 16 != v.size()) {
    *why = "payload length does not match the value size";
    return false;
  }
  return true;
}

// True when `v` is exactly the value written for (kind, workflow, number);
// otherwise false with a reason.
inline bool VerifyDurableValue(std::string_view v, char kind, std::string_view workflow, std::uint64_t number,
                               std::string* why) {
  DurableValue d;
  if (!DecodeDurableValue(v, &d, why)) return false;
  if (d.kind != kind || d.workflow != workflow || d.number != number) {
    *why = std::string("value is for ") + d.kind + " #" + std::to_string(d.number) + " of another key";
    return false;
  }
  if (v != MakeDurableValue(kind, workflow, number, d.payload_bytes)) {
    *why = "payload differs from the one written";
    return false;
  }
  return true;
}

}  // namespace runic::test

#endif  // RUNIC_TESTS_DURABILITY_EVENTS_H_
