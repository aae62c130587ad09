// Committer: the checkpoints of many workflows in one store write.
//
// A Worker whose cycle needs a checkpoint queues itself here instead of
// writing on the pool thread that finished the step. One thread takes every
// queued worker, writes their pending events and facts with one
// Store::AppendMany (on disk: one WriteBatch, one WAL write) and hands each
// worker its result. Under load the batches grow by themselves, like a group
// commit: the more workflows wait, the more share one write.
//
// The runnables a cycle made ready start only once that write succeeded (see
// Worker::FinishCommit), so no step ever runs on a fact that is not durable.
#ifndef RUNIC_SRC_RUNNER_COMMITTER_H_
#define RUNIC_SRC_RUNNER_COMMITTER_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "runic/store.h"

namespace runic::internal {

class Worker;

// One worker's pending checkpoint, as one append. The views point into the
// worker's state, which keeps them valid until it is told the result.
struct QueuedCommit {
  std::shared_ptr<Worker> worker;
  std::vector<std::string_view> events;
  std::vector<std::pair<std::string_view, std::string_view>> facts;  // hash, value
  std::uint64_t expected_cursor = 0;
  std::optional<std::string_view> state_tag;  // when it changes (a view of the worker's)
  std::optional<std::uint64_t> due;           // when it changes
  std::uint64_t consume_inbox_through = 0;    // the inbox entries the events record
  bool close_inbox = false;                   // entering cancelled
};

class Committer {
 public:
  explicit Committer(Store* store);
  ~Committer();  // Stop()
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // Queues a worker with pending events. Thread-safe; may be called with the
  // worker's lock held (the committer never takes a worker's lock while
  // holding its own). False once the committer has stopped (its thread has
  // drained the queue and ended): nothing queued, nothing will be written
  // for the worker here.
  bool Enqueue(std::shared_ptr<Worker> worker);

  // Whether the caller runs on a committer's thread, where nothing may wait
  // for a commit (it would wait for itself) and user callbacks must not run.
  static bool OnCommitterThread();

  // Writes what is queued, then ends the thread. Workers must not enqueue
  // after it (the Runner stops them first).
  void Stop();

 private:
  void Loop();
  void CommitBatch(std::vector<std::shared_ptr<Worker>> workers);

  Store* const store_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Worker>> queue_;
  bool sleeping_ = false;
  bool stopping_ = false;
  bool ended_ = false;  // the thread drained the queue after Stop and ended
  std::thread thread_;
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_COMMITTER_H_
