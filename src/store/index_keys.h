// The key layout of inbox entries and of the state and due-time indexes,
// shared by the disk and etcd engines (each puts its own table prefix in
// front: disk_waits.cc, etcd_keys.h). With the pieces of keys.h:
//
//   inbox entry  = table, escaped id, u64 big-endian sequence
//   state entry  = table, tag, 0x00, escaped id
//   due entry    = table, u64 big-endian due, escaped id
//
// A tag holds no 0x00 byte, so state entries sort as (tag, id) pairs do, and
// an engine's listing is one range scan: the ranges and decoders are here.
#ifndef RUNIC_SRC_STORE_INDEX_KEYS_H_
#define RUNIC_SRC_STORE_INDEX_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runic/store.h"
#include "store/keys.h"

namespace runic::internal::keys {

// A range of keys to scan: [start, end); end "" when it is unbounded.
struct KeyRange {
  std::string start, end;
};

inline std::string InboxEntryKey(std::string_view table, std::string_view id, std::uint64_t seq) {
  return EventKey(WorkflowKey(table, id), seq);
}

// The id of an inbox entry's key.
inline std::optional<std::string> DecodeInboxEntryId(std::string_view key, std::string_view table) {
  if (key.size() < table.size() + 8) return std::nullopt;
  return DecodeId(key.substr(0, key.size() - 8), table);
}

// Where a listing of the workflows with inbox entries starts and ends, and
// where it goes on after workflow `id` (past its other entries).
inline KeyRange InboxesRange(std::string_view table, const ListOptions& o) {
  std::string range(table);
  AppendEscaped(&range, o.prefix);
  KeyRange r{range, PrefixSuccessor(range)};
  if (!o.start_after.empty() && o.start_after >= o.prefix) r.start = PrefixSuccessor(WorkflowKey(table, o.start_after));
  return r;
}
inline std::string AfterInboxesOf(std::string_view table, std::string_view id) {
  return PrefixSuccessor(WorkflowKey(table, id));
}

inline std::string StateEntryKey(std::string_view table, std::string_view tag, std::string_view id) {
  std::string p(table);
  p.append(tag);
  p.push_back('\0');
  return WorkflowKey(p, id);
}

inline KeyRange StateRange(std::string_view table, const StateListOptions& o) {
  std::string range = std::string(table) + o.tag;
  if (!o.tag_is_prefix) {
    range.push_back('\0');
    AppendEscaped(&range, o.id_prefix);
  }
  KeyRange r{range, PrefixSuccessor(range)};
  if (!o.start_after_tag.empty() || !o.start_after_id.empty()) {
    std::string after = std::string(table) + o.start_after_tag;
    after.push_back('\0');
    if (!o.start_after_id.empty()) after = WorkflowKey(after, o.start_after_id) + '\0';  // just past it
    if (after > r.start) r.start = std::move(after);
  }
  return r;
}

inline std::optional<TaggedId> DecodeStateEntry(std::string_view key, std::string_view table) {
  if (!key.starts_with(table)) return std::nullopt;
  key.remove_prefix(table.size());
  const std::size_t end = key.find('\0');
  if (end == std::string_view::npos) return std::nullopt;
  std::optional<std::string> id = DecodeId(key.substr(end + 1), "");
  if (!id) return std::nullopt;
  return TaggedId{std::string(key.substr(0, end)), std::move(*id)};
}

inline std::string DueEntryKey(std::string_view table, std::uint64_t due, std::string_view id) {
  std::string p(table);
  PutFixed64(&p, due);
  return WorkflowKey(p, id);
}

// Entries due before o.before, after (start_after_due, start_after_id).
inline KeyRange DueRange(std::string_view table, const DueListOptions& o) {
  KeyRange r{std::string(table), std::string(table)};
  PutFixed64(&r.start, o.start_after_due);
  if (!o.start_after_id.empty()) r.start = WorkflowKey(r.start, o.start_after_id) + '\0';
  PutFixed64(&r.end, o.before);
  return r;
}

inline std::optional<DueEntry> DecodeDueEntry(std::string_view key, std::string_view table) {
  if (!key.starts_with(table) || key.size() <= table.size() + 8) return std::nullopt;
  std::optional<std::string> id = DecodeId(key.substr(table.size() + 8), "");
  if (!id) return std::nullopt;
  return DueEntry{GetFixed64(key.substr(table.size())), std::move(*id)};
}

}  // namespace runic::internal::keys

#endif  // RUNIC_SRC_STORE_INDEX_KEYS_H_
