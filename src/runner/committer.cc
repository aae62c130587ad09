#include "runner/committer.h"

#include <pthread.h>

#include "runner/worker.h"

namespace runic::internal {
namespace {

// One write carries at most this many workflows and about this many bytes,
// so that one huge batch cannot hold memory or the stripe locks for long.
constexpr std::size_t kMaxWorkflowsPerWrite = 256;
constexpr std::size_t kMaxBytesPerWrite = std::size_t{4} << 20;

thread_local bool on_committer_thread = false;

}  // namespace

bool Committer::OnCommitterThread() { return on_committer_thread; }

Committer::Committer(Store* store) : store_(store), thread_([this] { Loop(); }) {}

Committer::~Committer() { Stop(); }

bool Committer::Enqueue(std::shared_ptr<Worker> worker) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (ended_) return false;  // (a worker loaded while the runner shut down)
    queue_.push_back(std::move(worker));
    wake = sleeping_;
    sleeping_ = false;
  }
  if (wake) wake_.notify_one();  // a futex call only when the thread sleeps
  return true;
}

void Committer::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void Committer::Loop() {
  on_committer_thread = true;
  pthread_setname_np(pthread_self(), "runic-commit");  // as shown by top -H, perf, gdb
  for (;;) {
    std::vector<std::shared_ptr<Worker>> batch;
    {
      std::unique_lock lock(mu_);
      while (queue_.empty() && !stopping_) {
        sleeping_ = true;
        wake_.wait(lock);
      }
      if (queue_.empty()) {  // stopping, and nothing left
        ended_ = true;
        return;
      }
      while (!queue_.empty() && batch.size() < kMaxWorkflowsPerWrite) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(std::move(batch));
  }
}

void Committer::CommitBatch(std::vector<std::shared_ptr<Worker>> workers) {
  std::vector<QueuedCommit> commits;
  commits.reserve(workers.size());
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    if (bytes >= kMaxBytesPerWrite) {  // the rest go first next time
      std::lock_guard lock(mu_);
      queue_.insert(queue_.begin(), workers.begin() + static_cast<std::ptrdiff_t>(i), workers.end());
      break;
    }
    QueuedCommit c;
    switch (workers[i]->TakeCommit(&c)) {
      case Worker::Take::kNothing:
        workers[i]->FinishCommit(nullptr);
        break;
      case Worker::Take::kAlone:
        workers[i]->CommitAlone();
        break;
      case Worker::Take::kTaken:
        for (std::string_view e : c.events) bytes += e.size();
        for (const auto& f : c.facts) bytes += f.second.size();
        c.worker = workers[i];
        commits.push_back(std::move(c));
        break;
    }
  }
  if (commits.empty()) return;

  std::vector<AppendRequest> requests(commits.size());
  for (std::size_t i = 0; i < commits.size(); ++i) {
    QueuedCommit& c = commits[i];
    AppendRequest& r = requests[i];
    r.id = c.worker->id();  // the worker outlives the call (`commits` holds it)
    r.events = std::move(c.events);
    r.options.expected_cursor = c.expected_cursor;  // each worker is its workflow's only writer
    r.options.facts = std::move(c.facts);
    r.options.state_tag = c.state_tag;
    r.options.due = c.due;
    r.options.consume_inbox_through = c.consume_inbox_through;
    r.options.close_inbox = c.close_inbox;
  }
  std::vector<Result<std::uint64_t>> written = store_->AppendMany(requests);
  for (std::size_t i = 0; i < commits.size(); ++i) commits[i].worker->FinishCommit(&written[i]);
}

}  // namespace runic::internal
