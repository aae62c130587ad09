// Key and value layout of the etcd engine.
//
//   database root  = "runic" 0x00, u16 length, the database name
//   runner marker  = root 'R' runner name                   (ListRunners)
//   runner prefix  = root 'r' u16 length, runner name       (keys.h)
//   counter        = runner prefix 'c' escaped id           (keys.h WorkflowKey)
//   log            = runner prefix 'l' escaped id
//   snapshot       = runner prefix 's' escaped id
//   owner          = runner prefix 'o' escaped id           (lease-bound)
//   event          = runner prefix 'e' escaped id, u64 big-endian sequence
//   fact           = runner prefix 'f' raw hash
//
// Values (integers u64 big-endian):
//   counter  = cursor, trimmed, updated_at (µs), nonce of the last append
//   log      = updated_at (µs), the log
//   snapshot = cursor, the bytes
//   event    = nonce of the append that wrote it, the event
//   owner    = the owner's lease id
// The nonces let a client whose append timed out find out whether it was
// applied (etcd_engine.cc, Reconcile).
#ifndef RUNIC_SRC_STORE_ETCD_ETCD_KEYS_H_
#define RUNIC_SRC_STORE_ETCD_ETCD_KEYS_H_

#include <cstdint>
#include <string>
#include <string_view>

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

 private:
  std::string prefix_;
};

struct CounterValue {
  std::uint64_t cursor = 0, trimmed = 0;
  std::int64_t updated_at_us = 0;
  std::uint64_t nonce = 0;
};

inline std::string EncodeCounter(const CounterValue& c) {
  std::string out;
  out.reserve(32);
  keys::PutFixed64(&out, c.cursor);
  keys::PutFixed64(&out, c.trimmed);
  keys::PutFixed64(&out, static_cast<std::uint64_t>(c.updated_at_us));
  keys::PutFixed64(&out, c.nonce);
  return out;
}

// False when `v` is not a counter (damage).
inline bool DecodeCounter(std::string_view v, CounterValue* c) {
  if (v.size() != 32) return false;
  c->cursor = keys::GetFixed64(v);
  c->trimmed = keys::GetFixed64(v.substr(8));
  c->updated_at_us = static_cast<std::int64_t>(keys::GetFixed64(v.substr(16)));
  c->nonce = keys::GetFixed64(v.substr(24));
  return c->trimmed <= c->cursor;
}

// A value behind a u64 header (event, log, snapshot).
inline std::string WithHeader(std::uint64_t header, std::string_view body) {
  std::string out;
  out.reserve(8 + body.size());
  keys::PutFixed64(&out, header);
  out.append(body);
  return out;
}

}  // namespace runic::internal::etcd

#endif  // RUNIC_SRC_STORE_ETCD_ETCD_KEYS_H_
