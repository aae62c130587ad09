// Key and value layout of the etcd engine.
//
//   database root  = "runic" 0x00, u16 length, the database name
//   runner marker  = root 'R' runner name                   (ListRunners)
//   runner prefix  = root 'r' u16 length, runner name       (keys.h)
//   counter        = runner prefix 'c' escaped id           (keys.h WorkflowKey)
//   log            = runner prefix 'l' escaped id
//   snapshot       = runner prefix 's' escaped id
//   owner          = runner prefix 'o' escaped id           (lease-bound)
//   event batch    = runner prefix 'e' escaped id, u64 big-endian sequence
//                    of the batch's first event
//   fact           = runner prefix 'f' raw hash
//   inbox entry    = runner prefix 'i' escaped id, u64 big-endian sequence
//                    (this and the index entries as index_keys.h lays them out)
//   inbox last     = runner prefix 'h' escaped id   (written by appenders)
//   inbox consumed = runner prefix 'q' escaped id   (written by the owner)
//   inbox closed   = runner prefix 'x' escaped id   (written by the owner)
//   state entry    = runner prefix 't' tag 0x00 escaped id
//   due entry      = runner prefix 'd' u64 big-endian due, escaped id
//
// Values (integers u64 big-endian):
//   counter  = cursor, trimmed, updated_at (µs), nonce of the last append;
//              then, once the workflow has index entries, its due time and
//              state tag (so an append knows which entries to move)
//   log      = updated_at (µs), the log
//   snapshot = cursor, the bytes
//   batch    = nonce of the append that wrote it, u32 count, then per
//              event its u32 length and bytes
// One append's events share one key: etcd's cost per write is mostly per
// key (its index and its backend), so a batch of ten events in one key
// costs about what one event does. A batch holds at most kMaxBatchEvents
// events, so the batch holding sequence s starts at or after
// s - kMaxBatchEvents + 1: readers start there. Trim and import rewrite the
// batch they cut, so no key holds events outside (trimmed, cursor], except
// events imported and not (yet) made part of the workflow.
//   owner    = the owner's lease id
//   inbox last, consumed = a u64 sequence; closed = "1"; index entries = ""
// An inbox append compares the last and consumed keys and the closed key's
// absence, so the bound and the closing are checked in its own write; the
// owner's appends never touch the last key, so they never conflict with
// senders.
// The nonces let a client whose append timed out find out whether it was
// applied (etcd_append_combiner.cc, Reconcile).
#ifndef RUNIC_SRC_STORE_ETCD_ETCD_KEYS_H_
#define RUNIC_SRC_STORE_ETCD_ETCD_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/index_keys.h"
#include "store/keys.h"

namespace runic::internal::etcd {

inline std::string DatabaseRoot(std::string_view name) {
  std::string out("runic", 5);
  out.push_back('\0');
  out += keys::RunnerPrefix(name);  // the same u16-length framing
  return out;
}

inline std::string RunnerMarker(std::string_view root, std::string_view runner) {
  return std::string(root) + 'R' + std::string(runner);
}

// The keys of one runner's tables.
class RunnerKeys {
 public:
  RunnerKeys(std::string_view root, std::string_view runner)
      : prefix_(std::string(root) + 'r' + keys::RunnerPrefix(runner)) {}

  const std::string& prefix() const { return prefix_; }
  std::string Table(char table) const { return prefix_ + table; }
  std::string Workflow(char table, std::string_view id) const { return keys::WorkflowKey(Table(table), id); }
  std::string Counter(std::string_view id) const { return Workflow('c', id); }
  std::string Log(std::string_view id) const { return Workflow('l', id); }
  std::string Snapshot(std::string_view id) const { return Workflow('s', id); }
  std::string Owner(std::string_view id) const { return Workflow('o', id); }
  std::string Events(std::string_view id) const { return Workflow('e', id); }  // + sequence
  std::string Event(std::string_view id, std::uint64_t seq) const { return keys::EventKey(Events(id), seq); }
  std::string Fact(std::string_view hash) const { return Table('f') + std::string(hash); }
  std::string Inbox(std::string_view id) const { return Workflow('i', id); }  // + sequence
  std::string InboxEntry(std::string_view id, std::uint64_t seq) const {
    return keys::InboxEntryKey(Table('i'), id, seq);
  }
  std::string InboxLast(std::string_view id) const { return Workflow('h', id); }
  std::string InboxConsumed(std::string_view id) const { return Workflow('q', id); }
  std::string InboxClosed(std::string_view id) const { return Workflow('x', id); }
  std::string StateEntry(std::string_view tag, std::string_view id) const {
    return keys::StateEntryKey(Table('t'), tag, id);
  }
  std::string DueEntry(std::uint64_t due, std::string_view id) const { return keys::DueEntryKey(Table('d'), due, id); }

 private:
  std::string prefix_;
};

struct CounterValue {
  std::uint64_t cursor = 0, trimmed = 0;
  std::int64_t updated_at_us = 0;
  std::uint64_t nonce = 0;
  std::uint64_t due = 0;  // the workflow's due entry (0: none)
  std::string state_tag;  // its state entry ("": none)
};

inline std::string EncodeCounter(const CounterValue& c) {
  std::string out;
  out.reserve(32);
  keys::PutFixed64(&out, c.cursor);
  keys::PutFixed64(&out, c.trimmed);
  keys::PutFixed64(&out, static_cast<std::uint64_t>(c.updated_at_us));
  keys::PutFixed64(&out, c.nonce);
  if (c.due == 0 && c.state_tag.empty()) return out;
  keys::PutFixed64(&out, c.due);
  out.append(c.state_tag);
  return out;
}

// False when `v` is not a counter (damage).
inline bool DecodeCounter(std::string_view v, CounterValue* c) {
  if (v.size() != 32 && v.size() < 40) return false;
  c->cursor = keys::GetFixed64(v);
  c->trimmed = keys::GetFixed64(v.substr(8));
  c->updated_at_us = static_cast<std::int64_t>(keys::GetFixed64(v.substr(16)));
  c->nonce = keys::GetFixed64(v.substr(24));
  c->due = v.size() >= 40 ? keys::GetFixed64(v.substr(32)) : 0;
  c->state_tag = v.size() > 40 ? std::string(v.substr(40)) : std::string();
  return c->trimmed <= c->cursor && c->state_tag.find('\0') == std::string::npos;
}

inline constexpr std::uint64_t kMaxBatchEvents = 127;

// The first sequence a key of the batch holding `seq` can have.
inline std::uint64_t BatchWindowStart(std::uint64_t seq) {
  return seq > kMaxBatchEvents ? seq - kMaxBatchEvents + 1 : 1;
}

template <typename Events>
std::string EncodeBatch(std::uint64_t nonce, const Events& events) {
  std::size_t size = 12;
  for (std::string_view e : events) size += 4 + e.size();
  std::string out;
  out.reserve(size);
  keys::PutFixed64(&out, nonce);
  auto put32 = [&](std::size_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
  };
  put32(std::size(events));
  for (std::string_view e : events) {
    put32(e.size());
    out.append(e);
  }
  return out;
}

// The events of a batch value, as views into it; false when malformed.
inline bool DecodeBatch(std::string_view v, std::vector<std::string_view>* events) {
  events->clear();
  auto get32 = [&](std::size_t at) {
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<unsigned char>(v[at + i]);
    return n;
  };
  if (v.size() < 12) return false;
  const std::uint32_t count = get32(8);
  if (count == 0 || count > kMaxBatchEvents) return false;
  std::size_t at = 12;
  for (std::uint32_t i = 0; i < count; ++i) {
    if (v.size() - at < 4) return false;
    const std::uint32_t len = get32(at);
    at += 4;
    if (v.size() - at < len) return false;
    events->push_back(v.substr(at, len));
    at += len;
  }
  return at == v.size();
}

// The first sequence of a batch key (its last 8 bytes).
inline std::uint64_t BatchFirst(std::string_view key) { return keys::GetFixed64(key.substr(key.size() - 8)); }

// A value behind a u64 header (log, snapshot).
inline std::string WithHeader(std::uint64_t header, std::string_view body) {
  std::string out;
  out.reserve(8 + body.size());
  keys::PutFixed64(&out, header);
  out.append(body);
  return out;
}

}  // namespace runic::internal::etcd

#endif  // RUNIC_SRC_STORE_ETCD_ETCD_KEYS_H_
