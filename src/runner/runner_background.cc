// The Runner's background work, with a store (SEMANTICS.md 4, "Unloading"
// and "Retention"):
//   - unloading: a quiet worker asks to be unloaded (worker_unload.cc); the
//     runner forgets it and gives its ownership up;
//   - the poll of the store's due-time index, every due_poll_interval on
//     the runner's clock: it loads the workflows not loaded here whose due
//     time comes within two intervals (their timers then fire here on
//     time), and deletes finished workflows whose retention expired (their
//     expiry is their due time while they are finished).
// A poll reads at most kPollPages pages and goes on from where it stopped
// at the next one, so that a long list of due entries is read in turn and
// none waits for ever behind others.
#include "runic/history.h"
#include "runner/runner_impl.h"

namespace runic {
namespace {

constexpr std::size_t kPollPage = 1000;
constexpr int kPollPages = 10;
// How long an id whose load failed (unregistered definition, corrupt
// history) or that another runner holds is left alone by the poll.
constexpr std::chrono::seconds kFailedLoadBackoff{60};
constexpr std::chrono::seconds kHeldElsewhereBackoff{5};

bool Finished(WorkflowState state) { return state == WorkflowState::kIdle || state == WorkflowState::kCancelled; }

}  // namespace

void Runner::Impl::Unload(const std::shared_ptr<Worker>& worker, bool at_once) {
  const std::string id = worker->id();
  {
    std::lock_guard lock(mu);
    if (shut_down) return;
    auto it = workers.find(id);
    if (it == workers.end() || it->second != worker) {
      // Not published yet (started or resumed just now; Publish looks
      // again), or stopped.
      worker->DropUnloadCheck();
      return;
    }
    if (!worker->TryUnload(at_once)) return;
    workers.erase(it);
    // Taken until its ownership is given up: a load of it here now would
    // claim what the release below then gives up.
    loading.emplace(id);
  }
  worker->ReleaseUnloaded();
  Publish(id, nullptr);
}

void Runner::Impl::StartBackground() {
  timer->At(clock->Now() + options.due_poll_interval, [this] { pool->Submit([this] { PollDue(); }); });
}

void Runner::Impl::PollDue() {
  {
    std::lock_guard lock(mu);
    if (shut_down) return;
  }
  Store& store = *options.store;
  const std::uint64_t now_us = static_cast<std::uint64_t>(internal::WallMicros(*clock));
  const Clock::time_point now = clock->Now();
  DueListOptions list;
  list.before = now_us + 2 * static_cast<std::uint64_t>(std::chrono::microseconds(options.due_poll_interval).count());
  list.limit = kPollPage;
  if (poll_cursor) {
    list.start_after_due = poll_cursor->due;
    list.start_after_id = poll_cursor->id;
  }
  std::vector<std::string> candidates;
  for (int page = 0; page < kPollPages; ++page) {
    Result<DuePage> due = store.ListDue(list);
    if (!due.ok()) break;  // the next poll reads again
    {
      std::lock_guard lock(mu);
      std::erase_if(poll_failures, [&](const auto& f) { return f.second <= now; });
      for (const DueEntry& e : due->entries) {
        if (workers.count(e.id) || loading.count(e.id) || poll_queued.count(e.id) || poll_failures.count(e.id)) {
          continue;  // loaded here (its timers fire here), or being handled
        }
        poll_queued.insert(e.id);
        candidates.push_back(e.id);
      }
    }
    if (!due->more || due->entries.empty()) {
      poll_cursor.reset();
      break;
    }
    poll_cursor = due->entries.back();
    list.start_after_due = poll_cursor->due;
    list.start_after_id = poll_cursor->id;
  }
  // Each on the pool: loads read whole histories.
  for (std::string& id : candidates) {
    pool->Submit([this, id = std::move(id), now_us] {
      {
        std::lock_guard lock(mu);
        poll_queued.erase(id);
        if (shut_down) return;
      }
      Result<WorkflowHead> head = options.store->Peek(id);
      if (!head.ok()) return;  // deleted meanwhile, or the store failed: the next poll sees
      std::optional<StateIndexEntry> tagged = ParseStateIndexTag(head->state_tag);
      if (tagged && Finished(tagged->state)) {
        // Its due time is its expiry: retention, unless turned off since.
        if (head->due > now_us) return;  // expires within the window: a later poll
        if (options.retention.count() > 0) Expire(id, now_us);
        // Kept (loaded here, inbox entries, changed, held elsewhere), or
        // retention is off: not looked at again for a while.
        std::lock_guard lock(mu);
        poll_failures[id] = clock->Now() + kFailedLoadBackoff;
        return;
      }
      Status s = runner->Resume(id);
      if (s.ok() || s.IsConflict()) return;  // loaded (here, by whoever came first)
      std::lock_guard lock(mu);
      const std::chrono::seconds backoff = s.IsNotOwner() ? kHeldElsewhereBackoff : kFailedLoadBackoff;
      poll_failures[id] = clock->Now() + backoff;
    });
  }
  timer->At(now + options.due_poll_interval, [this] { pool->Submit([this] { PollDue(); }); });
}

void Runner::Impl::Expire(const std::string& id, std::uint64_t now_us) {
  Store& store = *options.store;
  if (!Reserve(id).ok()) return;  // loaded here: deleted once unloaded
  // Claimed first: on etcd no other runner writes it meanwhile, and what is
  // read below is what its last owner wrote.
  if (store.Claim(id).ok()) {
    Result<WorkflowHead> head = store.Peek(id);
    std::optional<StateIndexEntry> tagged = head.ok() ? ParseStateIndexTag(head->state_tag) : std::nullopt;
    // Still finished and expired, and no signal or control waits to be
    // recorded; the delete is refused if an event or an inbox entry came
    // since this read.
    if (tagged && Finished(tagged->state) && head->due != 0 && head->due <= now_us &&
        head->inbox_last == head->inbox_consumed) {
      DeleteOptions expected;
      expected.expected_cursor = head->cursor;
      expected.expected_inbox_last = head->inbox_last;
      (void)store.Delete(id, expected);  // kConflict: it changed; a later poll looks again
    }
    (void)store.Release(id);
  }
  Publish(id, nullptr);
}

}  // namespace runic
