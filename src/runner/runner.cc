// Runner: the registry of definitions and the map of running workers.
#include "runic/runner.h"

#include "runic/history.h"

#include <set>
#include <thread>

#include "runner/hash.h"
#include "runner/history_codec.h"
#include "runner/runner_impl.h"

namespace runic {

const char* WorkflowStateName(WorkflowState state) {
  switch (state) {
    case WorkflowState::kRunning:
      return "running";
    case WorkflowState::kIdle:
      return "idle";
    case WorkflowState::kHalted:
      return "halted";
    case WorkflowState::kWaiting:
      return "waiting";
    case WorkflowState::kPaused:
      return "paused";
    case WorkflowState::kCancelling:
      return "cancelling";
    case WorkflowState::kCancelled:
      return "cancelled";
  }
  return "?";
}

namespace {

// Why `options` cannot make a runner ("" when they can).
std::string OptionsRefusal(const RunnerOptions& options) {
  using std::chrono::milliseconds;
  if (options.name.empty()) return "a runner needs a name";
  if (options.unload_after < milliseconds(0)) return "unload_after is negative";
  if (options.due_poll_interval < milliseconds(1)) return "due_poll_interval is under 1 ms";
  if (options.retention < milliseconds(0)) return "retention is negative";
  return {};
}

}  // namespace

Result<std::unique_ptr<Runner>> Runner::Create(RunnerOptions options) {
  if (std::string refused = OptionsRefusal(options); !refused.empty()) return Status::InvalidArgument(refused);
  auto impl = std::make_unique<Impl>();
  const std::size_t threads =
      options.threads != 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  impl->clock = options.clock ? options.clock : Clock::Real();
  impl->options = std::move(options);
  impl->pool = std::make_unique<internal::ThreadPool>(threads);
  impl->timer = std::make_unique<internal::Timer>(impl->clock);
  if (impl->options.store != nullptr) impl->committer = std::make_unique<internal::Committer>(impl->options.store);
  Impl* state = impl.get();
  std::unique_ptr<Runner> runner(new Runner(std::move(impl)));
  state->runner = runner.get();
  if (state->options.store != nullptr) {
    Result<std::unique_ptr<InboxWatch>> watch =
        state->options.store->WatchInboxes([state](std::string_view id) { state->OnInbox(id); });
    if (!watch.ok()) return watch.status().Annotate("runner '" + state->options.name + "': watching the inboxes");
    state->inbox_watch = std::move(*watch);
    state->StartBackground();
  }
  return runner;
}

Runner::Runner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Runner::~Runner() { Shutdown(); }

namespace {

// Registers `workflow`, replacing its defaults when `defaults` is given;
// returns the defaults it has then.
Result<WorkflowOptions> RegisterLocked(std::map<std::pair<std::string, int>, Definition>& definitions,
                                       std::shared_ptr<const Workflow> workflow,
                                       const std::optional<WorkflowOptions>& defaults) {
  if (!workflow) return Status::InvalidArgument("no workflow");
  auto [it, added] = definitions.try_emplace(std::make_pair(workflow->name(), workflow->version()),
                                             Definition{workflow, defaults.value_or(WorkflowOptions{})});
  if (!added && it->second.workflow->fingerprint() != workflow->fingerprint()) {
    return Status::Conflict("another definition of '" + workflow->name() + "' v" + std::to_string(workflow->version()) +
                            " is registered; give a changed graph a new version");
  }
  if (defaults) it->second.defaults = *defaults;
  return it->second.defaults;
}

}  // namespace

Status Runner::Register(std::shared_ptr<const Workflow> workflow) {
  std::lock_guard lock(impl_->mu);
  return RegisterLocked(impl_->definitions, std::move(workflow), std::nullopt).status();
}

Status Runner::Register(std::shared_ptr<const Workflow> workflow, const WorkflowOptions& defaults) {
  std::lock_guard lock(impl_->mu);
  return RegisterLocked(impl_->definitions, std::move(workflow), defaults).status();
}

Status Runner::StartWorkflow(std::string_view id, std::shared_ptr<const Workflow> workflow,
                             std::optional<WorkflowOptions> options) {
  return StartWorkflow(id, std::move(workflow), std::move(options), StartOptions{});
}

Status Runner::StartWorkflow(std::string_view id, std::shared_ptr<const Workflow> workflow,
                             std::optional<WorkflowOptions> options, const StartOptions& start) {
  Result<WorkflowOptions> defaults = [&] {
    std::lock_guard lock(impl_->mu);
    return RegisterLocked(impl_->definitions, workflow, std::nullopt);
  }();
  if (!defaults.ok()) return defaults.status();
  const WorkflowOptions run_with = options.value_or(*defaults);
  Status s;
  if (id.empty()) return Status::InvalidArgument("a workflow id is empty");
  if (s = internal::CheckKey(start.idempotency_key); !s.ok()) return s;
  // An id that exists: the start is acknowledged when it repeats the key the
  // workflow was started with, or when asked to and the definition matches.
  auto existing_matches = [&](Worker& w) {
    if (!start.idempotency_key.empty() && w.HasKey(start.idempotency_key)) return true;
    return start.if_exists == IfExists::kReturnExisting && w.definition_name() == workflow->name();
  };
  auto refuse = [&](Worker& w, const std::string& where) {
    return Status::Conflict("workflow '" + std::string(id) + "' already exists " + where + ", started as '" +
                            w.definition_name() + "'; resume it instead, or start it with IfExists::kReturnExisting");
  };
  // (A load of it under way here, by the due-time poll or a signal, is
  // waited for: the loaded workflow is then compared.)
  for (int attempt = 0;; ++attempt) {
    impl_->AwaitLoadOf(id);
    if (std::shared_ptr<Worker> running = impl_->Find(id)) {
      if (existing_matches(*running)) return Status::OK();
      return refuse(*running, "in runner '" + impl_->options.name + "'");
    }
    s = impl_->Reserve(id);
    if (s.IsConflict() && attempt < 3) continue;  // another load began meanwhile
    if (!s.ok()) return s;
    break;
  }
  auto worker = std::make_shared<Worker>(impl_->Context(), std::string(id), workflow, run_with);
  // The worker claims the workflow first (kNotOwner: another runner holds
  // it; nothing is written). The started event is appended only to a
  // workflow with no events, so an id already in the store fails here and
  // nothing is written.
  s = worker->Start(start.input, start.idempotency_key, impl_->StructureToStore(*workflow));
  if (s.ok()) impl_->StructureStored(*workflow);
  if (!s.ok()) (void)worker->Detach(/*persist=*/false);  // gives up what it claimed
  impl_->Publish(id, s.ok() ? worker : nullptr);
  if (!s.IsConflict()) return s;
  if (start.idempotency_key.empty() && start.if_exists == IfExists::kFail) {
    return Status::Conflict("workflow '" + std::string(id) + "' already exists in the store; resume it instead");
  }
  // In the store only: load it (with the options it was started with) to see whether it is the one asked for.
  if (s = Resume(id); !s.ok()) {
    if (s.IsNotOwner() || s.IsUnavailable()) return s;
    return Status::Conflict("workflow '" + std::string(id) +
                            "' already exists in the store and cannot be loaded here to compare: " + s.ToString());
  }
  std::shared_ptr<Worker> resumed = impl_->Find(id);
  if (resumed && existing_matches(*resumed)) return Status::OK();
  Status refused = resumed ? refuse(*resumed, "in the store") : s;
  (void)Stop(id, /*persist=*/true);
  return refused;
}

Status Runner::Run(std::string_view id, Value input) { return Run(id, std::move(input), {}); }

Status Runner::Run(std::string_view id, Value input, std::string_view idempotency_key) {
  if (Status s = internal::CheckKey(idempotency_key); !s.ok()) return s;
  return impl_->WithWorker(id, [&](Worker& w) { return w.AddInput(input, idempotency_key); });
}

Result<WorkflowResults> Runner::GetResults(std::string_view id) {
  if (std::shared_ptr<Worker> w = impl_->Find(id)) return w->Results();
  if (impl_->options.store == nullptr) return impl_->NotRunning(id);
  Result<WorkflowHistory> history = ReadHistory(*impl_->options.store, id);
  if (!history.ok()) return history.status();
  return std::move(history->results);
}

Status Runner::Checkpoint(std::string_view id) {
  std::shared_ptr<Worker> w = impl_->Find(id);
  if (!w) return impl_->InStore(id);  // unloaded: everything is written
  return w->Checkpoint();
}

Status Runner::Stop(std::string_view id, bool persist) {
  std::shared_ptr<Worker> w = impl_->Find(id);
  if (!w) return impl_->InStore(id);  // unloaded already
  // Detach while still listed, so that no Resume of the same id can start
  // while this worker may still write.
  Status s = w->Detach(persist);
  impl_->Forget(w);
  // A signal or control that came while it stopped was not recorded: the
  // load it asks for records it (Stop is not a cancel).
  if (Store* store = impl_->options.store) {
    Result<WorkflowHead> head = store->Peek(id);
    if (head.ok() && head->inbox_last > head->inbox_consumed) impl_->OnInbox(id);
  }
  return s;
}

Status Runner::Resume(std::string_view id, std::optional<WorkflowOptions> options) {
  return impl_->Load(id, std::move(options)).status();
}

Result<std::shared_ptr<Worker>> Runner::Impl::Load(std::string_view id, std::optional<WorkflowOptions> options,
                                                   bool pin) {
  if (this->options.store == nullptr) {
    return Status::InvalidArgument("runner '" + this->options.name + "' has no store");
  }
  Status s = Reserve(id);
  if (!s.ok()) return s;
  auto worker = std::make_shared<Worker>(Context(), std::string(id), nullptr, options);
  // With the structure to store when this runner has not (histories of
  // older releases have none): the workflow's next write stores it.
  std::shared_ptr<const Workflow> with_structure;  // the definition whose structure it writes
  s = worker->Resume([&](const std::string& name, int version, const std::string& fp) -> Result<Definition> {
    Result<Definition> found = Lookup(name, version, fp);
    if (found.ok()) found->structure = StructureToStore(*found->workflow);
    if (found.ok() && !found->structure.empty()) with_structure = found->workflow;
    return found;
  });
  // A workflow with work left writes (its dispatches) and the structure with
  // them: the next resumes of its definition need not carry it again. (One
  // with nothing to run may never write; the next one tries again.)
  if (s.ok() && with_structure && worker->had_work_on_resume()) StructureStored(*with_structure);
  // Whatever it dispatched is dropped, and what it claimed given up.
  if (!s.ok()) {
    (void)worker->Detach(/*persist=*/false);
    Publish(id, nullptr);
    return s.Annotate("workflow '" + std::string(id) + "'");
  }
  if (pin) worker->Pin();
  Publish(id, worker);
  return worker;
}

std::vector<std::string> Runner::ListWorkflows() {
  std::lock_guard lock(impl_->mu);
  std::vector<std::string> ids;
  for (const auto& [id, w] : impl_->workers) ids.push_back(id);
  return ids;
}

Result<StoredWorkflowPage> Runner::ListStoredWorkflows(const StoredWorkflowQuery& query) {
  Store* store = impl_->options.store;
  if (store == nullptr) return Status::FailedPrecondition("this runner has no store to list");
  if (query.limit == 0 || query.limit > 100000) return Status::InvalidArgument("list limit must be 1 to 100000");
  StateListOptions o;
  const bool exact = query.state && !query.definition.empty() && query.version != 0;
  if (exact) {
    o.tag = StateIndexTag(*query.state, query.definition, query.version);
    o.id_prefix = query.prefix;
  } else {
    o.tag_is_prefix = true;
    o.tag = query.state ? StateIndexPrefix(*query.state) : std::string();
  }
  // `next` is the last entry read: its tag, 0x00, its id.
  if (const std::size_t cut = query.start_after.find('\0'); cut != std::string::npos) {
    o.start_after_tag = query.start_after.substr(0, cut);
    o.start_after_id = query.start_after.substr(cut + 1);
  } else if (!query.start_after.empty()) {
    return Status::InvalidArgument("start_after is not the `next` of a page");
  }
  o.limit = query.limit;
  StoredWorkflowPage out;
  auto next = [&] { return o.start_after_tag + '\0' + o.start_after_id; };
  for (int round = 0; round < 100000; ++round) {
    Result<StatePage> page = store->ListByState(o);
    if (!page.ok()) return page.status();
    std::size_t used = 0;
    for (const TaggedId& e : page->entries) {
      ++used;
      o.start_after_tag = e.tag;
      o.start_after_id = e.id;
      std::optional<StateIndexEntry> parsed = ParseStateIndexTag(e.tag);
      if (!parsed || (!query.definition.empty() && parsed->definition != query.definition) ||
          (query.version != 0 && parsed->version != query.version) || !e.id.starts_with(query.prefix)) {
        continue;  // not a Runner's tag, or filtered out
      }
      out.workflows.push_back(StoredWorkflow{e.id, parsed->state, parsed->definition, parsed->version});
      if (out.workflows.size() == query.limit) {
        if (used < page->entries.size() || page->more) out.next = next();
        return out;
      }
    }
    if (!page->more) return out;
  }
  out.next = next();
  return out;
}

Result<WorkflowInfo> Runner::Lookup(std::string_view id) {
  if (std::shared_ptr<Worker> w = impl_->Find(id)) return w->Info();
  return impl_->StoredInfo(id);
}

Status Runner::AwaitIdle(std::string_view id, std::chrono::milliseconds timeout) {
  using Steady = std::chrono::steady_clock;
  const Steady::time_point deadline = Steady::now() + timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(0),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now()));
  };
  // Bounded by the deadline: each round waits on the worker, or polls the
  // store while another runner holds the workflow.
  for (int round = 0; round == 0 || left() > std::chrono::milliseconds(0); ++round) {
    std::shared_ptr<Worker> w = impl_->Find(id);
    PinnedWorker loaded_here;  // held while it is awaited
    if (!w) {
      Result<WorkflowInfo> stored = impl_->StoredInfo(id);
      if (!stored.ok()) return stored.status();
      const WorkflowState state = stored->state;
      if (state == WorkflowState::kIdle || state == WorkflowState::kHalted || state == WorkflowState::kCancelled) {
        return Status::OK();
      }
      // It has work: load it here to run it, unless another runner has it.
      Result<PinnedWorker> loaded = impl_->FindOrLoad(id);
      if (!loaded.ok()) {
        if (!loaded.status().IsNotOwner()) return loaded.status();
        std::this_thread::sleep_for(std::min(left(), std::chrono::milliseconds(20)));
        continue;
      }
      loaded_here = std::move(*loaded);
      w = loaded_here.get();
    }
    switch (w->Await(left(), /*for_idle=*/true)) {
      case Worker::Awaited::kDone:
        return Status::OK();
      case Worker::Awaited::kUnloaded:
        continue;  // finished and unloaded, or unloaded to wait: the store says which
      case Worker::Awaited::kTimedOut:
        break;
    }
    break;
  }
  return Status::DeadlineExceeded("workflow '" + std::string(id) + "' still running after " +
                                  std::to_string(timeout.count()) + " ms");
}

void Runner::Shutdown() {
  std::lock_guard once(impl_->shutdown_mu);
  std::vector<std::shared_ptr<Worker>> workers;
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->shut_down) return;
    impl_->shut_down = true;
    for (auto& [id, w] : impl_->workers) workers.push_back(w);
  }
  impl_->loading_done.notify_all();  // calls waiting for a load give up
  impl_->inbox_watch.reset();        // waits for a listener call under way
  for (auto& w : workers) w->Drain();
  impl_->timer->Stop();  // no retry or timeout fires any more
  // Steps finish (or honour their stop token); their results are recorded.
  for (auto& w : workers) {
    while (w->Await(std::chrono::milliseconds(1000), /*for_idle=*/false) == Worker::Awaited::kTimedOut) {
    }
  }
  for (auto& w : workers) (void)w->Checkpoint();  // waits for what the committer has queued
  if (impl_->committer) impl_->committer->Stop();
  // Everything is written: other runners may take the workflows over.
  for (auto& w : workers) w->GiveUpOwnership();
  impl_->pool->Stop();
}

}  // namespace runic
