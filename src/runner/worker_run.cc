// Worker::Run: one attempt of a runnable on a pool thread (its context,
// its deadline on the timer thread, its result applied under the lock),
// and OnTimeout, the attempt that ran past its deadline.
#include "runner/hash.h"
#include "runner/history_codec.h"
#include "runner/worker.h"

namespace runic::internal {
namespace {

// A reduce's fold over the collected values, from its initial value.
Result<Value> Fold(const Workflow::Node& node, std::vector<Value> values) {
  Value accumulator = node.initial;
  for (const Value& v : values) {
    Result<Value> next = node.reduce(std::move(accumulator), v);
    if (!next.ok()) return next.status();
    accumulator = std::move(*next);
  }
  return accumulator;
}

}  // namespace

void Worker::OnTimeout(const std::string& id, std::uint64_t generation) {
  std::unique_lock lock(mu_);
  auto it = active_.find(id);
  if (it == active_.end() || it->second.generation != generation || !it->second.running || it->second.returned) return;
  Runnable& r = it->second;
  r.stop.request_stop();
  r.running = false;
  ++r.generation;  // the attempt's late result is stale
  --running_;
  const auto limit = PolicyOf(r).timeout;
  const Status timeout =
      Status::DeadlineExceeded(std::string(r.compensation ? "the compensation of " : "") + "node '" + r.node->name +
                               "' timed out after " + std::to_string(limit.count()) + " ms");
  const std::string node = r.node->name;
  const int attempt = r.failures + 1;
  if (!dispatch_.is(Dispatch::kDetached)) OnFailure(id, r, timeout, limit);
  (void)AfterChange(lock, false);  // unlocks; a failed checkpoint halts the workflow
  Notify(ctx_.telemetry->runnable_exception, {id_, node, attempt, limit, &timeout});
}

void Worker::Run(const std::string& id, std::uint64_t generation) {
  std::unique_lock lock(mu_);
  auto it = active_.find(id);
  if (it == active_.end() || it->second.generation != generation || !it->second.running) return;
  if (!dispatch_.is(Dispatch::kOn)) {  // queued when the workflow stopped: it never started
    it->second.running = false;
    --running_;
    changed_.notify_all();
    return;
  }
  Runnable& current = it->second;
  const Workflow::Node* node = current.node;
  const int attempt = current.failures + 1;
  const bool compensation = current.compensation;
  const StepPolicy& policy = PolicyOf(current);
  std::vector<Value> inputs;
  if (compensation) {
    // The compensated node's input and the value it produced.
    const Fact& output = facts_.at(current.inputs.front());
    inputs = {facts_.at(output.parents.front()).value, output.value};
  } else if (node->kind == Workflow::NodeKind::kReduce) {
    inputs = Collected(current.inputs.front(), *node);  // every element's branch has finished
  } else {
    for (const std::string& h : current.inputs) inputs.push_back(facts_.at(h).value);
  }
  // The attempt's time counts from here: its wait in the pool queue does not
  // count against its timeout (it is reported as `queued`).
  const auto start = ctx_.clock->Now();
  const auto queued = std::chrono::duration_cast<std::chrono::nanoseconds>(start - current.dispatched_at);
  StepContext context;
  context.workflow_id = id_;
  context.node = node->name;
  context.attempt = attempt;
  const std::string key = Sha256Hex(std::string("runic step key") + '\0' + id_ + '\0' + id);
  context.idempotency_key = key;
  context.stop = current.stop.get_token();
  if (policy.timeout.count() > 0) {
    context.deadline = start + policy.timeout;
    std::weak_ptr<Worker> weak = weak_from_this();
    // Handled on the timer thread: a pool whose threads all run stuck steps
    // must still time them out.
    current.timeout_timer = ctx_.timer->At(context.deadline, [weak, id, generation] {
      if (auto self = weak.lock()) self->OnTimeout(id, generation);
    });
  }
  lock.unlock();

  RunnerTelemetry::Event started{id_, node->name, attempt, {}, nullptr};
  started.queued = queued;
  Notify(ctx_.telemetry->runnable_start, started);
  std::optional<Result<Value>> result;
  bool produces = true;
  try {
    if (compensation) {
      const Status undone = node->compensate(inputs[0], inputs[1], context);
      produces = false;
      if (undone.ok()) {
        result.emplace(Value());
      } else {
        result.emplace(undone);
      }
    } else if (node->kind == Workflow::NodeKind::kJoin) {
      result.emplace(node->join(inputs, context));
    } else if (node->kind == Workflow::NodeKind::kReduce) {
      result.emplace(Fold(*node, std::move(inputs)));
    } else if (node->kind == Workflow::NodeKind::kMap && !node->step) {
      result.emplace(std::move(inputs.front()));  // the input is the array
    } else if (node->kind == Workflow::NodeKind::kRule && !node->condition(inputs.front())) {
      produces = false;
      result.emplace(Value());
    } else {
      result.emplace(node->step(inputs.front(), context));
    }
  } catch (const std::exception& e) {
    result.emplace(Status::Unavailable(std::string("node '") + node->name + "' threw: " + e.what()));
  } catch (...) {
    result.emplace(Status::Unavailable(std::string("node '") + node->name + "' threw an exception"));
  }
  const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(ctx_.clock->Now() - start);
  // A map of something else than an array would fail again: not retried.
  bool may_retry = true;
  if (node->kind == Workflow::NodeKind::kMap && result->ok() && !(*result)->is_array()) {
    result.emplace(
        Status::InvalidArgument("map '" + node->name + "' needs an array, and got " + (*result)->type_name()));
    may_retry = false;
  }
  std::string bytes;
  if (result->ok() && produces) {
    bytes = EncodeValue(**result);
    if (ctx_.store != nullptr && bytes.size() > ctx_.store->limits().max_value_bytes) {
      result.emplace(Status::InvalidArgument("node '" + node->name + "' produced a value of " +
                                             std::to_string(bytes.size()) + " bytes, over the store's limit of " +
                                             std::to_string(ctx_.store->limits().max_value_bytes)));
    } else if (!CborNestingWithin(bytes, kMaxValueDepth)) {
      result.emplace(Status::InvalidArgument("node '" + node->name + "' produced a value nested deeper than " +
                                             std::to_string(kMaxValueDepth) + " levels"));
    }
  }

  // An attempt that timed out (or was dropped) meanwhile was reported then:
  // its late result is neither recorded nor reported again.
  auto current_attempt = [&]() -> Runnable* {
    it = active_.find(id);
    if (it == active_.end() || it->second.generation != generation || !it->second.running) return nullptr;
    return &it->second;
  };
  lock.lock();
  Runnable* r = current_attempt();
  if (r == nullptr) return;
  r->returned = true;  // a timeout firing from here on is too late
  ctx_.timer->Cancel(std::exchange(r->timeout_timer, 0));
  lock.unlock();
  const Status status = result->status();
  Notify(status.ok() ? ctx_.telemetry->runnable_stop : ctx_.telemetry->runnable_exception,
         {id_, node->name, attempt, took, status.ok() ? nullptr : &status});

  lock.lock();
  r = current_attempt();
  if (r == nullptr) return;  // dropped meanwhile (Stop)
  r->running = false;
  --running_;
  if (!dispatch_.is(Dispatch::kDetached)) {
    if (!result->ok()) {
      OnFailure(id, *r, result->status(), took, may_retry);
    } else {
      Complete(id, *r, produces ? std::optional<Value>(std::move(**result)) : std::nullopt, std::move(bytes), took,
               false);
    }
  }
  (void)AfterChange(lock, false);  // a failed checkpoint halts the workflow
}

}  // namespace runic::internal
