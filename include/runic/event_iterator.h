// EventIterator: a lazy, ordered read of one workflow's events.
#ifndef RUNIC_EVENT_ITERATOR_H_
#define RUNIC_EVENT_ITERATOR_H_

#include <cstdint>
#include <string_view>

#include "runic/export.h"
#include "runic/status.h"

namespace runic {

// Yields the events of one workflow in sequence order, from just after the
// cursor given to Store::Stream up to the workflow's counter at the moment
// Stream was called (a consistent view: later appends, trims and deletes are
// not seen). Events are read in pages, so memory use does not grow with the
// length of the workflow.
//
// Usage:
//   for (; it->Valid(); it->Next()) use(it->sequence(), it->value());
//   if (!it->status().ok()) handle(it->status());
//
// Thread safety: one iterator must not be used from two threads at once;
// distinct iterators are independent.
// Lifetime: an iterator keeps its database open; it stays valid after the
// Store and Database handles it came from are released, and the database
// closes when the last iterator is destroyed.
class RUNIC_EXPORT EventIterator {
 public:
  virtual ~EventIterator();
  EventIterator(const EventIterator&) = delete;
  EventIterator& operator=(const EventIterator&) = delete;

  // True while positioned at an event. False at the end or after an error.
  virtual bool Valid() const = 0;
  // Moves to the next event. Requires Valid().
  virtual void Next() = 0;
  // The current event's sequence (from 1) and bytes. Require Valid(). The
  // value stays valid until the next call to Next() or destruction.
  virtual std::uint64_t sequence() const = 0;
  virtual std::string_view value() const = 0;
  // Ok unless reading failed (for example kCorruption); once not ok,
  // Valid() is false.
  virtual Status status() const = 0;

 protected:
  EventIterator() = default;
};

}  // namespace runic

#endif  // RUNIC_EVENT_ITERATOR_H_
