// The text form of a runner's tables that tests/data/ holds: one record per
// line, bytes in hex, so that the data is independent of any engine's file
// format.
//   workflow <id> <cursor> <trimmed>
//   snapshot <id> <cursor> <hex>
//   event <id> <sequence> <hex>
//   fact <hash> <hex>
#ifndef RUNIC_TESTS_HISTORY_DATA_H_
#define RUNIC_TESTS_HISTORY_DATA_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "runic/store.h"

namespace runic::test {

inline std::string Hex(std::string_view bytes) {
  static const char* const kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

inline Result<std::string> Unhex(std::string_view hex) {
  auto digit = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  if (hex.size() % 2 != 0) return Status::Corruption("odd hex length");
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    auto lower_hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
    if (!lower_hex(hex[i]) || !lower_hex(hex[i + 1])) return Status::Corruption("not lowercase hex");
    out += static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1]));
  }
  return out;
}

// Every workflow, snapshot, event and fact of `store`, as text.
inline Result<std::string> DumpStore(Store& store) {
  std::ostringstream out;
  ListOptions all;
  all.limit = 100000;
  Result<ListPage> ids = store.List(all);
  if (!ids.ok()) return ids.status();
  for (const std::string& id : ids->ids) {
    Result<WorkflowSummary> w = store.Describe(id);
    if (!w.ok()) return w.status();
    out << "workflow " << id << ' ' << w->cursor << ' ' << w->trimmed << '\n';
    if (w->has_snapshot) {
      Result<Snapshot> snap = store.LoadSnapshot(id);
      if (!snap.ok()) return snap.status();
      out << "snapshot " << id << ' ' << snap->cursor << ' ' << Hex(snap->bytes) << '\n';
    }
    Result<std::unique_ptr<EventIterator>> it = store.Stream(id, {w->trimmed});
    if (!it.ok()) return it.status();
    for (; (*it)->Valid(); (*it)->Next())
      out << "event " << id << ' ' << (*it)->sequence() << ' ' << Hex((*it)->value()) << '\n';
    if (!(*it)->status().ok()) return (*it)->status();
  }
  Result<ListPage> facts = store.ListFacts(all);
  if (!facts.ok()) return facts.status();
  for (const std::string& hash : facts->ids) {
    Result<std::string> value = store.LoadFact(hash);
    if (!value.ok()) return value.status();
    out << "fact " << hash << ' ' << Hex(*value) << '\n';
  }
  return out.str();
}

// Writes what DumpStore wrote into `store` (whose workflows must not exist).
inline Status LoadStore(const std::string& text, Store& store) {
  std::istringstream in(text);
  std::string kind, id;
  std::map<std::string, WorkflowImport> workflows;
  std::map<std::string, std::vector<std::pair<std::uint64_t, std::string>>> events;
  std::vector<std::string> order;
  while (in >> kind >> id) {
    std::uint64_t number = 0;
    std::string hex;
    if (kind == "workflow") {
      WorkflowImport& w = workflows[id];
      in >> w.cursor >> w.trimmed;
      w.updated_at = std::chrono::system_clock::now();
      order.push_back(id);
      continue;
    }
    if (kind == "fact") {
      in >> hex;
    } else {
      in >> number >> hex;
    }
    Result<std::string> bytes = Unhex(hex);
    if (!bytes.ok() || !in) return Status::Corruption("bad " + kind + " record of '" + id + "'");
    if (kind == "fact") {
      if (Status s = store.SaveFact(id, *bytes); !s.ok()) return s;
    } else if (kind == "snapshot") {
      workflows[id].snapshot = Snapshot{number, *bytes};
    } else if (kind == "event") {
      events[id].emplace_back(number, *bytes);
    } else {
      return Status::Corruption("unknown record '" + kind + "'");
    }
  }
  for (const std::string& wid : order) {
    const auto& list = events[wid];
    const std::size_t per_batch = store.limits().max_batch_events;
    for (std::size_t i = 0; i < list.size(); i += per_batch) {
      std::vector<std::string_view> views;
      for (std::size_t j = i; j < std::min(list.size(), i + per_batch); ++j) views.push_back(list[j].second);
      if (Status s = store.ImportEvents(wid, list[i].first, views); !s.ok()) return s;
    }
    if (Status s = store.ImportWorkflow(wid, workflows[wid]); !s.ok()) return s;
  }
  return Status::OK();
}

}  // namespace runic::test

#endif  // RUNIC_TESTS_HISTORY_DATA_H_
