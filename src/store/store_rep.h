// What the public Store handle's files share (store.cc, store_waits.cc): its
// state, and the argument checks and telemetry every call goes through.
#ifndef RUNIC_SRC_STORE_STORE_REP_H_
#define RUNIC_SRC_STORE_STORE_REP_H_

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

#include "runic/store.h"
#include "runic/telemetry.h"
#include "store/database_impl.h"
#include "store/engine.h"

namespace runic {

struct Store::Rep {
  std::shared_ptr<DatabaseImpl> db;
  std::shared_ptr<internal::RunnerTables> tables;
  std::string runner;
  StoreTelemetry telemetry;
  bool has_telemetry = false;
};

namespace internal {

inline constexpr std::size_t kMaxListLimit = 100000;

inline void Call(const std::function<void(const StoreOpEvent&)>& fn, const StoreOpEvent& event) {
  if (!fn) return;
  try {
    fn(event);
  } catch (...) {
    // Telemetry must never change what the store does.
  }
}

inline Status CheckSize(const char* what, std::string_view v, std::size_t max) {
  if (v.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  if (v.size() > max) {
    return Status::InvalidArgument(std::string(what) + " is " + std::to_string(v.size()) + " bytes; the limit is " +
                                   std::to_string(max));
  }
  return Status::OK();
}

// A state tag: 1 .. max_state_tag_bytes, no 0x00 byte (the indexes' keys
// end a tag with one).
inline Status CheckStateTag(const StoreLimits& lim, std::string_view tag) {
  if (Status s = CheckSize("state tag", tag, lim.max_state_tag_bytes); !s.ok()) return s;
  if (tag.find('\0') != std::string_view::npos) return Status::InvalidArgument("state tag holds a 0x00 byte");
  return Status::OK();
}

// A page size of a listing: 1 .. kMaxListLimit.
inline Status CheckLimit(std::size_t limit) {
  if (limit == 0 || limit > kMaxListLimit) {
    return Status::InvalidArgument("list limit must be 1 to " + std::to_string(kMaxListLimit));
  }
  return Status::OK();
}

// List, ListFacts and ListInboxes page alike.
inline Status CheckListOptions(const StoreLimits& lim, const ListOptions& options) {
  if (Status s = CheckLimit(options.limit); !s.ok()) return s;
  if (options.prefix.size() > lim.max_id_bytes || options.start_after.size() > lim.max_id_bytes) {
    return Status::InvalidArgument("list prefix or start_after is longer than the id limit");
  }
  return Status::OK();
}

template <typename T>
std::uint64_t BytesOf(const Result<T>& r) {
  if (!r.ok()) return 0;
  if constexpr (std::is_same_v<T, LogRecord>) return r->log.size();
  if constexpr (std::is_same_v<T, Snapshot>) return r->bytes.size();
  if constexpr (std::is_same_v<T, std::string>) return r->size();
  return 0;
}

// Runs `body`, turning an exception (out of memory, say) into a status:
// none crosses the public API.
template <typename Body>
auto Guarded(StoreOp op, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string(StoreOpName(op)) + " failed: " + e.what());
  } catch (...) {
    return Status::Unavailable(std::string(StoreOpName(op)) + " failed: unknown exception");
  }
}

// Runs `body` with telemetry around it. `in_bytes` counts what is written.
template <typename Body>
auto Instrumented(Store::Rep& rep, StoreOp op, std::string_view id, std::uint64_t in_bytes, Body&& body)
    -> decltype(body()) {
  if (!rep.has_telemetry) return Guarded(op, body);
  StoreOpEvent event{op, rep.runner, id, std::chrono::nanoseconds(0), in_bytes, nullptr};
  Call(rep.telemetry.on_start, event);
  const auto start = std::chrono::steady_clock::now();
  auto result = Guarded(op, body);
  event.duration = std::chrono::steady_clock::now() - start;
  Status status;
  if constexpr (std::is_same_v<decltype(result), Status>) {
    status = result;
  } else {
    status = result.status();
    event.bytes += BytesOf(result);
  }
  event.status = &status;
  Call(status.ok() || status.IsNotFound() ? rep.telemetry.on_stop : rep.telemetry.on_exception, event);
  return result;
}

}  // namespace internal
}  // namespace runic

#endif  // RUNIC_SRC_STORE_STORE_REP_H_
