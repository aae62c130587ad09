// Worker: one running workflow instance. It owns the instance's state
// (facts, runnables, pending events), dispatches ready runnables to the pool
// within the workflow's concurrency limit, applies their results, and
// checkpoints to the store. All of it under one mutex per workflow: results
// of one workflow apply one at a time, workflows proceed in parallel.
#ifndef RUNIC_SRC_RUNNER_WORKER_H_
#define RUNIC_SRC_RUNNER_WORKER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "runic/runner.h"
#include "runner/thread_pool.h"
#include "runner/timer.h"

namespace runic::internal {

// What a Worker needs from its Runner. Outlives every Worker.
struct RunnerContext {
  Store* store = nullptr;
  std::shared_ptr<Clock> clock;
  ThreadPool* pool = nullptr;
  Timer* timer = nullptr;
  const RunnerTelemetry* telemetry = nullptr;
};

class Worker : public std::enable_shared_from_this<Worker> {
 public:
  Worker(RunnerContext ctx, std::string id, std::shared_ptr<const Workflow> workflow, WorkflowOptions options);

  // A new instance: records the started event and commits it.
  Status Start();
  // Finds a registered definition by name, version and fingerprint.
  using DefinitionLookup =
      std::function<Result<std::shared_ptr<const Workflow>>(const std::string&, int, const std::string&)>;

  // Rebuilds the state from the store (snapshot, then events) and
  // dispatches what is left.
  Status Resume(const DefinitionLookup& lookup);

  Status AddInput(Value input);
  Status Checkpoint();
  // Shutdown: stops dispatching; steps already running finish and their
  // results are recorded; queued ones do not start.
  void Drain();
  // Stop: stops dispatching, checkpoints when `persist`, then asks running
  // steps to stop and drops whatever they return.
  Status Detach(bool persist);
  // Waits (real time) until nothing runs; with `for_idle`, until nothing is
  // left to run either (or the workflow halted).
  bool Await(std::chrono::milliseconds timeout, bool for_idle);

  // Whether Resume found runnables left to run.
  bool had_work_on_resume() {
    std::lock_guard lock(mu_);
    return had_work_on_resume_;
  }

  WorkflowResults Results();
  WorkflowInfo Info();

 private:
  struct Fact {
    Value value;
    std::string node;  // "" for an input
    std::vector<std::string> parents;
    std::string root;  // the input it descends from
  };
  struct Runnable {
    const Workflow::Node* node = nullptr;
    std::vector<std::string> inputs;
    std::string root;
    int failures = 0;             // failed attempts so far
    bool running = false;
    std::uint64_t generation = 0;  // results of older attempts are stale
    std::stop_source stop;
  };

  // All below run with mu_ held.
  void AddFact(const std::string& hash, Fact fact);
  // Creates the runnables that the new fact `hash` makes ready.
  void Derive(const std::string& hash);
  // Marks ready runnables running, up to the concurrency limit; returns
  // them (id, generation) to submit once their dispatch is recorded.
  std::vector<std::pair<std::string, std::uint64_t>> DispatchReady();
  void Record(Value event);
  Status CheckpointLocked();
  Status Commit();
  void MaybeSnapshot();
  void OnFailure(const std::string& id, Runnable& r, const Status& error, std::chrono::nanoseconds took);
  void Complete(const std::string& id, Runnable& r, std::optional<Value> produced, std::chrono::nanoseconds took,
                bool fallback);
  // After any change: dispatch, checkpoint as the strategy says, notify,
  // and (with the lock released) report a workflow that became idle.
  // Returns the checkpoint's status.
  Status AfterChange(std::unique_lock<std::mutex>& lock, bool must_commit);
  bool IdleLocked() const;
  Status ApplyEvent(const Value& e, const DefinitionLookup& lookup, std::set<std::string>* dispatched);
  Value StateSnapshot() const;

  // Pool and timer entry points (take mu_).
  void Run(const std::string& id, std::uint64_t generation);
  void OnTimeout(const std::string& id, std::uint64_t generation);
  void Retry(const std::string& id);

  const RunnerContext ctx_;
  const std::string id_;
  std::shared_ptr<const Workflow> workflow_;
  const WorkflowOptions options_;

  std::mutex mu_;
  std::condition_variable changed_;
  std::unordered_map<std::string, Fact> facts_;
  std::vector<std::string> fact_order_;
  std::map<std::pair<std::string, std::string>, std::string> first_of_;  // (node, root) -> fact
  std::uint64_t inputs_ = 0;
  std::unordered_set<std::string> done_;
  std::unordered_map<std::string, Runnable> active_;  // ready, running or waiting for a retry
  std::deque<std::string> ready_;
  std::size_t running_ = 0;
  bool halted_ = false;
  Status halt_error_;
  bool stopped_ = false;   // no more dispatching
  bool detached_ = false;  // stopped by Stop: record, commit and report nothing
  std::vector<Value> pending_;              // events not yet committed
  std::vector<std::string> pending_facts_;  // their facts, saved first
  std::uint64_t cursor_ = 0;
  std::uint64_t snapshot_cursor_ = 0;
  std::uint64_t completed_ = 0, completed_since_checkpoint_ = 0, redispatched_ = 0;
  std::unordered_map<std::string, int> replay_failures_;  // during Resume
  bool was_idle_ = true;
  int reporting_ = 0;  // idle callbacks still running (outside mu_)
  bool had_work_on_resume_ = false;
};

}  // namespace runic::internal

#endif  // RUNIC_SRC_RUNNER_WORKER_H_
