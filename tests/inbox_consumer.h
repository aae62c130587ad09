// The consumer of the inbox crash tests (inbox_crash_test.cc and its helper
// process): what a Runner does with its inbox, through the store contract
// alone. Each step reads a few pending entries and records them as events
// ("got:" and the entry's bytes) in the same append that consumes them, so
// a kill at any instant leaves each entry either pending or recorded, never
// both and never neither.
#ifndef RUNIC_TESTS_INBOX_CONSUMER_H_
#define RUNIC_TESTS_INBOX_CONSUMER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "runic/store.h"

namespace runic::test {

constexpr const char* kInboxRunner = "inbox";
constexpr const char* kStopEntry = "stop";

// One step on workflow `id`, whose cursor the caller tracks in *cursor
// (Describe it before the first step). Reads at most `max_entries`; puts
// the bytes it recorded in *recorded. kConflict when another writer moved
// the workflow (the caller reads the cursor again).
inline Status ConsumeStep(Store& store, const std::string& id, std::size_t max_entries, std::uint64_t* cursor,
                          std::vector<std::string>* recorded) {
  recorded->clear();
  Result<InboxPage> page = store.ReadInbox(id, {0, max_entries});
  if (!page.ok()) return page.status();
  if (page->entries.empty()) return Status::OK();
  std::vector<std::string> events;
  for (const InboxEntry& e : page->entries) events.push_back("got:" + e.bytes);
  AppendOptions o;
  o.expected_cursor = *cursor;
  o.consume_inbox_through = page->entries.back().sequence;
  Result<std::uint64_t> written = store.Append(id, events, o);
  if (!written.ok()) return written.status();
  *cursor = *written;
  for (const InboxEntry& e : page->entries) recorded->push_back(e.bytes);
  return Status::OK();
}

}  // namespace runic::test

#endif  // RUNIC_TESTS_INBOX_CONSUMER_H_
