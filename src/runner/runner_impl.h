// Runner::Impl: the registry of definitions and the map of running
// workers, shared by runner.cc (starts, resumes, lookups) and
// runner_inbox.cc (signals, controls and the inbox watch).
#ifndef RUNIC_SRC_RUNNER_RUNNER_IMPL_H_
#define RUNIC_SRC_RUNNER_RUNNER_IMPL_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "runic/runner.h"
#include "runner/committer.h"
#include "runner/hash.h"
#include "runner/history_codec.h"
#include "runner/thread_pool.h"
#include "runner/timer.h"
#include "runner/worker.h"

namespace runic {
namespace internal {

// kInvalidArgument for an idempotency key over kMaxIdempotencyKeyBytes.
inline Status CheckKey(std::string_view key) {
  if (key.size() <= kMaxIdempotencyKeyBytes) return Status::OK();
  return Status::InvalidArgument("an idempotency key is at most " + std::to_string(kMaxIdempotencyKeyBytes) +
                                 " bytes; this one has " + std::to_string(key.size()));
}

}  // namespace internal

using internal::Definition;
using internal::Worker;

// A worker a call holds: it is not unloaded until this lets it go
// (Worker::Pin, taken by whoever made this one).
class PinnedWorker {
 public:
  PinnedWorker() = default;
  explicit PinnedWorker(std::shared_ptr<internal::Worker> pinned) : w_(std::move(pinned)) {}
  PinnedWorker(PinnedWorker&& other) noexcept = default;
  PinnedWorker& operator=(PinnedWorker&& other) noexcept {
    reset();
    w_ = std::move(other.w_);
    return *this;
  }
  PinnedWorker(const PinnedWorker&) = delete;
  PinnedWorker& operator=(const PinnedWorker&) = delete;
  ~PinnedWorker() { reset(); }
  void reset() {
    if (w_) w_->Unpin();
    w_.reset();
  }
  internal::Worker& operator*() const { return *w_; }
  internal::Worker* operator->() const { return w_.get(); }
  const std::shared_ptr<internal::Worker>& get() const { return w_; }

 private:
  std::shared_ptr<internal::Worker> w_;
};

struct Runner::Impl {
  RunnerOptions options;
  std::shared_ptr<Clock> clock;
  std::unique_ptr<internal::ThreadPool> pool;
  std::unique_ptr<internal::Timer> timer;
  std::unique_ptr<internal::Committer> committer;  // with a store

  std::mutex mu;
  std::map<std::pair<std::string, int>, Definition> definitions;  // by (name, version)
  std::map<std::string, std::shared_ptr<Worker>, std::less<>> workers;
  // Ids being started, resumed or unloaded: taken, but not visible until
  // ready (loading_done is notified when one leaves).
  std::set<std::string, std::less<>> loading;
  std::condition_variable loading_done;
  // The background work (runner_background.cc): ids whose load by the
  // due-time poll failed (or that another runner holds), not tried again
  // before the time given; ids the poll queued a load of.
  std::map<std::string, Clock::time_point, std::less<>> poll_failures;
  std::set<std::string, std::less<>> poll_queued;
  // Where the next poll goes on reading the due-time index (none: from its
  // first entry). Only the poll touches it, one at a time.
  std::optional<DueEntry> poll_cursor;
  // The fingerprints whose structure this runner has stored.
  std::set<std::string, std::less<>> structures_stored;
  bool shut_down = false;
  std::mutex shutdown_mu;  // a second Shutdown waits for the first
  // With a store: told of every inbox entry appended (OnInbox). Reset first
  // at Shutdown, so that no listener runs on what Shutdown stops.
  std::unique_ptr<InboxWatch> inbox_watch;
  Runner* runner = nullptr;  // the Runner this is the state of

  // An entry was appended to workflow `id`'s inbox (on the appending thread
  // or the store's watch thread: quick). Its worker here records it, or, if
  // it is not loaded here, this runner tries to load it (runner_inbox.cc).
  void OnInbox(std::string_view id);
  // Checks `control` against the workflow's state (kFailedPrecondition,
  // nothing written) and appends it to its inbox (without a store: applies
  // it to the workflow loaded here).
  Status SendControl(std::string_view id, internal::Control control, std::string_view reason);

  // The background work (runner_background.cc), with a store: the poll of
  // the due-time index (loads what comes due, deletes what expired), every
  // due_poll_interval on the runner's clock, run on the pool until Shutdown.
  void StartBackground();
  void PollDue();
  // Deletes finished workflow `id` if it is still expired at `now_us`
  // (retention), not loaded here and claimed by this runner.
  void Expire(const std::string& id, std::uint64_t now_us);
  // Unloads `worker` if it is still this runner's and TryUnload agrees
  // (`at_once`: however short it has been quiet).
  void Unload(const std::shared_ptr<Worker>& worker, bool at_once = false);

  // Runner::Resume: the worker it loaded and published (which may be
  // unloaded again by the time the caller looks at it, unless `pin`).
  Result<std::shared_ptr<Worker>> Load(std::string_view id, std::optional<WorkflowOptions> options, bool pin = false);
  // The worker of `id`, loaded from the store (as Resume) when it is not
  // loaded here (then *loaded_here is set), pinned: not unloaded until the
  // caller lets it go. Waits for a load or unload of it under way.
  // kNotFound (not in the store, or not here without a store), kNotOwner
  // (another runner holds it) and Resume's other errors.
  Result<PinnedWorker> FindOrLoad(std::string_view id, bool* loaded_here = nullptr);
  // Calls `call` on the worker of `id` (loaded on demand and pinned while
  // `call` runs), again on a new load when the worker it reached was out of
  // date (Worker::ClaimLocked: another runner wrote the workflow meanwhile).
  template <typename Call>
  Status WithWorker(std::string_view id, const Call& call) {
    Status s;
    for (int attempt = 0; attempt < 3; ++attempt) {
      Result<PinnedWorker> w = FindOrLoad(id);
      if (!w.ok()) return w.status();
      s = call(**w);
      if (s.ok() || !(*w)->unloaded()) return s;
      Forget(w->get());
    }
    return s;
  }
  // Drops `worker` from the map if it is still there (one found out of
  // date: it has given its ownership up already).
  void Forget(const std::shared_ptr<Worker>& worker) {
    {
      std::lock_guard lock(mu);
      auto it = workers.find(worker->id());
      if (it != workers.end() && it->second == worker) workers.erase(it);
    }
    loading_done.notify_all();
  }
  // What the store's history of `id` says, for a workflow not loaded here.
  Result<WorkflowInfo> StoredInfo(std::string_view id);
  // kNotFound unless the store has workflow `id`.
  Status InStore(std::string_view id);

  // Waits (at most 30 s) while a load or an unload of `id` is under way
  // here. Takes mu.
  void AwaitLoadOf(std::string_view id) {
    std::unique_lock lock(mu);
    loading_done.wait_for(lock, std::chrono::seconds(30), [&] { return shut_down || !loading.count(id); });
  }

  // Reserves `id` for a worker being built. kConflict when it is taken.
  Status Reserve(std::string_view id) {
    std::lock_guard lock(mu);
    if (shut_down) return Status::Unavailable("runner '" + options.name + "' is shut down");
    if (workers.count(id) || loading.count(id)) {
      return Status::Conflict("workflow '" + std::string(id) + "' is already running in runner '" + options.name + "'");
    }
    loading.emplace(id);
    return Status::OK();
  }

  // Publishes a worker built for a reserved id (or just frees the id).
  // A worker loaded while the runner shut down is stopped instead (Shutdown
  // did not see it).
  void Publish(std::string_view id, std::shared_ptr<Worker> worker) {
    bool late = false;
    {
      std::lock_guard lock(mu);
      loading.erase(loading.find(id));
      late = shut_down;
      if (worker && !late) workers.emplace(std::string(id), worker);
    }
    loading_done.notify_all();
    if (worker && late) {
      // Not written: the committer may be stopping. What it dispatched
      // runs again at the next resume.
      (void)worker->Detach(/*persist=*/false);
      return;
    }
    // An unload check that came before it was published was dropped.
    if (worker) worker->NoteQuiet();
  }

  internal::RunnerContext Context() {
    internal::RunnerContext ctx;
    ctx.store = options.store;
    ctx.unload_after = options.unload_after;
    ctx.keep_loaded_within_us = 2 * std::chrono::microseconds(options.due_poll_interval).count();
    ctx.retention_us = std::chrono::microseconds(options.retention).count();
    ctx.request_unload = [this](std::shared_ptr<Worker> worker) {
      pool->Submit([this, worker = std::move(worker)] { Unload(worker); });
    };
    ctx.clock = clock;
    ctx.pool = pool.get();
    ctx.timer = timer.get();
    ctx.telemetry = &options.telemetry;
    ctx.committer = committer.get();
    ctx.on_complete = &options.on_complete;
    return ctx;
  }

  std::shared_ptr<Worker> Find(std::string_view id) {
    std::lock_guard lock(mu);
    auto it = workers.find(id);
    return it == workers.end() ? nullptr : it->second;
  }

  Status NotRunning(std::string_view id) {
    return Status::NotFound("workflow '" + std::string(id) + "' is not running in runner '" + options.name + "'");
  }

  // The structure of `workflow` to store with the next write of one of its
  // workflows (as the fact named by its fingerprint: runic/history.h), or
  // "" once this runner has stored it. A structure over the store's value
  // limit is never stored (nothing can draw it; the workflow runs all the
  // same).
  std::string StructureToStore(const Workflow& workflow) {
    if (options.store == nullptr) return {};
    {
      std::lock_guard lock(mu);
      if (structures_stored.count(workflow.fingerprint())) return {};
    }
    std::string bytes = internal::EncodeValue(internal::DefinitionShape(workflow.nodes()));
    return bytes.size() <= options.store->limits().max_value_bytes ? bytes : std::string();
  }
  void StructureStored(const Workflow& workflow) {
    std::lock_guard lock(mu);
    structures_stored.insert(workflow.fingerprint());
  }

  Result<Definition> Lookup(const std::string& name, int version, const std::string& fingerprint) {
    std::lock_guard lock(mu);
    auto it = definitions.find({name, version});
    if (it == definitions.end()) {
      std::string versions;
      for (const auto& [key, wf] : definitions) {
        if (key.first == name) versions += (versions.empty() ? " v" : ", v") + std::to_string(key.second);
      }
      if (versions.empty()) return Status::NotFound("no definition of workflow '" + name + "' is registered");
      return Status::InvalidArgument("the workflow was started with '" + name + "' v" + std::to_string(version) +
                                     "; registered:" + versions);
    }
    const std::string& now = it->second.workflow->fingerprint();
    if (now != fingerprint) {
      return Status::InvalidArgument("definition '" + name + "' v" + std::to_string(version) +
                                     " changed since the workflow started (fingerprint " + fingerprint.substr(0, 12) +
                                     " then, " + now.substr(0, 12) + " now): give a changed graph a new version");
    }
    return it->second;
  }
};

}  // namespace runic

#endif  // RUNIC_SRC_RUNNER_RUNNER_IMPL_H_
