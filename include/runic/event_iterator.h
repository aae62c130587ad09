// EventIterator: a lazy, ordered read of one workflow's events.
#ifndef RUNIC_EVENT_ITERATOR_H_
#define RUNIC_EVENT_ITERATOR_H_

#include <cstdint>
#include <string_view>
#include <utility>

#include "runic/export.h"
#include "runic/status.h"

namespace runic {

// Yields the events of one workflow in sequence order, from just after the
// cursor given to Store::Stream up to the workflow's counter at the moment
// Stream was called (a consistent view: later appends, trims and deletes are
// not seen). Events are read lazily: on disk one at a time, in memory a page
// of 64 at a time (plus a pointer per 64 events of the view), so a stream of
// millions of events needs no more than a few hundred KiB.
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
  bool Valid() const { return pos_ < size_; }
  // Moves to the next event. Requires Valid().
  void Next() {
    if (++pos_ == size_) NextPage();
  }
  // The current event's sequence (from 1) and bytes. Require Valid(). The
  // value stays valid until the next call to Next() or destruction.
  std::uint64_t sequence() const { return first_ + pos_; }
  std::string_view value() const { return values_[pos_]; }
  // Ok unless reading failed (for example kCorruption); once not ok,
  // Valid() is false.
  Status status() const { return status_; }

 protected:
  EventIterator() = default;

  // For engines. Events are handed out a page at a time so that the loop
  // above runs without a virtual call per event. SetPage positions the
  // iterator on `count` events with sequences first, first + 1, ...; the
  // views must stay valid until the next NextPage() or destruction. A count
  // of 0 is the end.
  void SetPage(std::uint64_t first, const std::string_view* values, std::size_t count) {
    first_ = first;
    values_ = values;
    size_ = count;
    pos_ = 0;
  }
  // Ends the iteration with an error.
  void Fail(Status status) {
    status_ = std::move(status);
    size_ = pos_ = 0;
  }

 private:
  // Called by Next() when the current page is used up: SetPage() the next
  // page, an empty page at the end, or Fail().
  virtual void NextPage() = 0;

  std::uint64_t first_ = 0;
  const std::string_view* values_ = nullptr;
  std::size_t size_ = 0;
  std::size_t pos_ = 0;
  Status status_;
};

}  // namespace runic

#endif  // RUNIC_EVENT_ITERATOR_H_
