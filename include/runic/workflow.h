// Workflow: a named, versioned dataflow graph of C++ functions.
//
// Nodes:
//   Step  — a function from one value to one value. A root step (no parent)
//           runs once for every input given to Runner::Run; a step with a
//           parent runs once for every value its parent produces. Several
//           steps with one parent are a fan-out; a step whose parent is a
//           step is a chain.
//   Join  — a function of one value from each of several parents. It runs
//           when every parent has produced a value descending from the same
//           input (the first such value of each parent).
//   Rule  — a condition and a reaction: the reaction runs only for inputs
//           that satisfy the condition; otherwise the rule produces nothing.
//   Delay — a durable timer: it waits a fixed delay, or until an instant
//           computed from its input, then passes its input on. It holds no
//           thread while it waits and does not count against
//           max_concurrency. Its due time (wall clock, UTC) is recorded when
//           the wait starts: after a crash or a stop it waits only what is
//           left, and one that came due meanwhile fires at once, once.
//   Await — waits for an event of a given name sent to the workflow
//           (Runner::Signal), then produces {"input": its input, "signal":
//           the event's value}. Events are matched first in first out: the
//           oldest unconsumed event of a name goes to the Await of that
//           name that started waiting first; an event nobody waits for is
//           kept (buffered) for a later Await. With a timeout, an Await
//           that no event reached in time fails with kDeadlineExceeded,
//           not retried: its policy's fallback, skip or halt applies. Like
//           a delay it holds no thread and no concurrency slot.
//   Map   — takes an array (its input, or what its function returns for its
//           input) and runs the nodes below it once per element, the
//           elements in parallel up to the workflow's max_concurrency. Each
//           element is a fact of its own, its index part of its identity:
//           equal elements stay distinct. The expansion is recorded as one
//           event (the array's fact and its length); after a crash only the
//           elements whose branches had not finished run again. A value
//           that is not an array fails the map (kInvalidArgument, not
//           retried: its policy's fallback, skip or halt applies; a root
//           map without a function refuses such an input at Run).
//   Reduce — folds what one node below a map produced for each element,
//           in element order (within an element, in production order), once
//           every element's branch has finished: a skipped element adds
//           nothing, an empty array gives the initial value, and a halted
//           element halts the workflow first (Runner::Retry runs it again).
//           The fold runs as one step (its policy applies); what it returns
//           feeds the reduce's children, outside the map.
// Values are nlohmann::json. Every input and produced value is a fact with a
// SHA-256 hash over a canonical encoding of the value, the producing node
// and the parent facts' hashes (stable across builds and machines).
//
// C++ functions cannot be stored, so a Runner finds definitions by name and
// version; a fingerprint of the structure (nodes, edges, policies) guards
// against resuming a workflow with a changed graph under the same version.
//
// Thread safety: a built Workflow is immutable and may be shared by any
// number of threads and runners. Its functions are called from the Runner's
// pool threads, several at once: they must be thread-safe.
#ifndef RUNIC_WORKFLOW_H_
#define RUNIC_WORKFLOW_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runic/export.h"
#include "runic/result.h"

namespace runic {

using Value = nlohmann::json;

// How deeply a value's arrays and objects may nest. An input nested deeper is
// refused (kInvalidArgument), a step's result nested deeper fails its
// attempt, and stored bytes nested deeper are refused as corrupt: decoding
// recurses once per level, and bytes from a store must never exhaust a
// thread's stack.
inline constexpr std::size_t kMaxValueDepth = 512;

// The longest definition name (bytes; without a 0x00 byte): with its state
// and version it names the workflow's entry in the store's state index.
inline constexpr std::size_t kMaxDefinitionNameBytes = 200;

// The longest event name of an Await or a Runner::Signal (bytes, not empty).
inline constexpr std::size_t kMaxSignalNameBytes = 256;

// A step's function. Return a value, or a non-ok Status to fail the attempt
// (its message is recorded). `stop` is requested when the attempt times out
// or the runner shuts down: cooperative steps return early. A step that
// ignores it keeps its pool thread until it returns; its late result is
// discarded. An exception thrown by a step fails the attempt like a Status.
using StepFn = std::function<Result<Value>(const Value& input, std::stop_token stop)>;
// A join's function: one value per parent, in the order the parents were named.
using JoinFn = std::function<Result<Value>(const std::vector<Value>& inputs, std::stop_token stop)>;
// A rule's condition. Must be a pure function of its input.
using ConditionFn = std::function<bool(const Value& input)>;
// When a DelayUntil node's wait ends, computed from its input when the wait
// starts (under the workflow's lock: quick and pure, like a condition). An
// error (or an exception) fails the node, not retried (a pure function would
// fail again): its policy's fallback, skip or halt applies. An instant in
// the past fires at once.
using DelayUntilFn = std::function<Result<std::chrono::system_clock::time_point>(const Value& input)>;
// A reduce's fold: the accumulator so far (the initial value first) and one
// element's value; returns the next accumulator, or a non-ok Status to fail
// the attempt. Called on a pool thread, once per collected value per attempt.
using ReduceFn = std::function<Result<Value>(Value accumulator, const Value& value)>;

// What a step, join or rule reaction may learn of the attempt it runs (the
// ContextStepFn and ContextJoinFn forms). The views are valid during the
// call only: copy what outlives it.
struct StepContext {
  std::string_view workflow_id;
  std::string_view node;
  // 1 for the first attempt; counts every attempt, across resumes.
  int attempt = 1;
  // The same for every attempt of this runnable (this node on these input
  // facts in this workflow), across retries and resumes after a crash, and
  // different for every other runnable: 64 hex digits. A step whose
  // completion was not persisted runs again after a crash: pass this key to
  // the services it calls so that they apply its side effects once.
  std::string_view idempotency_key;
  // Requested when the attempt times out or the runner shuts down.
  std::stop_token stop;
  // When the attempt times out, on the Runner's clock (Clock::Now, steady
  // time); time_point::max() when its policy has no timeout. Counted from the
  // moment the attempt started running, not from its wait in the queue.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};
// The step and join functions that take the context. A Builder takes either
// form; a generic lambda (`auto` parameters) fits both: name the types.
using ContextStepFn = std::function<Result<Value>(const Value& input, const StepContext& context)>;
using ContextJoinFn = std::function<Result<Value>(const std::vector<Value>& inputs, const StepContext& context)>;
// A compensation: undoes what a completed node did, given the node's input
// and the value it produced (a saga's step back). Return OK once undone, or
// an error to fail the attempt (its compensation policy applies). Called on
// a pool thread; the context's idempotency key is the compensation's own,
// the same across its attempts and resumes.
using CompensateFn = std::function<Status(const Value& input, const Value& output, const StepContext& context)>;

enum class Backoff { kNone, kLinear, kExponential };
enum class OnFailure {
  kHalt,  // the workflow stops dispatching; it is halted (Runner::Lookup)
  kSkip,  // the node produces nothing; what depends on it never runs
  // Like kHalt, after the compensations of the completed nodes ran (see
  // Builder::Compensate): the workflow is cancelling while they run, then
  // halted with the node's error; Retry is refused (its effects were
  // undone), Cancel ends it.
  kCompensate,
};

// What happens when a node's function fails. Defaults: no retry, halt.
struct StepPolicy {
  int max_retries = 0;  // attempts = 1 + max_retries
  Backoff backoff = Backoff::kNone;
  // Delay before retry n (1-based): none 0; linear base*n; exponential
  // base*2^(n-1); never above max_delay.
  std::chrono::milliseconds base_delay{100};
  std::chrono::milliseconds max_delay{std::chrono::seconds(30)};
  // Per attempt; 0 = no timeout. A timed-out attempt counts as a failure.
  std::chrono::milliseconds timeout{0};
  OnFailure on_failure = OnFailure::kHalt;
  // When set, a node whose attempts are exhausted produces this value
  // instead of failing (on_failure is then not used).
  // (Initialised so that designated initialisers that omit it compile
  // clean under -Wextra's -Wmissing-field-initializers.)
  std::optional<Value> fallback = std::nullopt;
};

class RUNIC_EXPORT Workflow {
 public:
  class Builder;
  enum class NodeKind { kStep, kJoin, kRule, kDelay, kAwait, kMap, kReduce };
  struct Node {
    std::string name;
    NodeKind kind;
    // Empty: fed by the workflow's inputs. kReduce: the one node whose
    // values it folds.
    std::vector<std::string> parents;
    ContextStepFn step;     // kStep, a rule's reaction, a map's (may be empty: the input is the array)
    ContextJoinFn join;     // kJoin
    ConditionFn condition;  // kRule
    StepPolicy policy;      // resolved from the builder's policies
    // kDelay: the fixed delay, or (when set) the function of its input that
    // gives the instant its wait ends.
    std::chrono::milliseconds delay{0};
    DelayUntilFn until = nullptr;
    // kAwait: the event's name, and how long it waits for one (0: no limit).
    std::string event = {};
    std::chrono::milliseconds await_timeout{0};
    // kReduce: the map whose elements it folds, the initial accumulator and
    // the fold.
    std::string map = {};
    Value initial = {};
    ReduceFn reduce = nullptr;
    // Builder::Compensate: its compensation (empty: none) and the policy of
    // that compensation's attempts.
    CompensateFn compensate = nullptr;
    StepPolicy compensation_policy = {};
  };

  const std::string& name() const { return name_; }
  int version() const { return version_; }
  // Hex SHA-256 of the structure: nodes, kinds, edges and policies.
  const std::string& fingerprint() const { return fingerprint_; }
  // In declaration order (parents before children).
  const std::vector<Node>& nodes() const { return nodes_; }
  // The node of that name, or null.
  const Node* Find(std::string_view name) const;

 private:
  friend class Builder;
  Workflow() = default;
  std::string name_;
  int version_ = 0;
  std::string fingerprint_;
  std::vector<Node> nodes_;
};

// Builds a Workflow. Nodes must be declared after their parents (so the
// graph has no cycle). Build() reports the first mistake as
// kInvalidArgument: an empty or duplicate name, an unknown parent, a join
// with fewer than two parents, a missing function, a negative delay, an
// Await's empty or oversized event name (kMaxSignalNameBytes) or negative
// timeout, a bad policy, a reduce naming no map or folding a node that is
// not below its map (the map itself, or a node whose every path up reaches
// the map before any other map), a join of parents in different maps'
// branches (it could never run), a compensation of an unknown node or of a
// node that is not a step or a rule (a join's, a map's: refused).
class RUNIC_EXPORT Workflow::Builder {
 public:
  Builder(std::string name, int version);

  // A root step (parent empty: fed by inputs) or a step of `parent`. Each
  // node takes its function in either form, with the stop token or with the
  // whole StepContext. (nullptr: no function; Build refuses it.)
  Builder& Step(std::string name, StepFn fn, std::string parent = {});
  Builder& Step(std::string name, ContextStepFn fn, std::string parent = {});
  Builder& Step(std::string name, std::nullptr_t, std::string parent = {});
  Builder& Join(std::string name, std::vector<std::string> parents, JoinFn fn);
  Builder& Join(std::string name, std::vector<std::string> parents, ContextJoinFn fn);
  Builder& Join(std::string name, std::vector<std::string> parents, std::nullptr_t);
  // A rule fed by `parent` (empty: by inputs).
  Builder& Rule(std::string name, ConditionFn when, StepFn then, std::string parent = {});
  Builder& Rule(std::string name, ConditionFn when, ContextStepFn then, std::string parent = {});
  // A durable timer fed by `parent` (empty: by inputs) that passes each
  // input on `delay` after its wait started (0: at once, still recorded).
  Builder& Delay(std::string name, std::chrono::milliseconds delay, std::string parent = {});
  // The same, waiting until the instant `until` gives for the input.
  Builder& DelayUntil(std::string name, DelayUntilFn until, std::string parent = {});
  // Waits for an event named `event` (see Await above) for at most
  // `timeout` (0: no limit), once for each value `parent` produces.
  Builder& Await(std::string name, std::string event, std::string parent = {},
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  // A map over each value `parent` produces (empty: over the inputs): the
  // value itself is the array, or (with `fn`) what fn returns for it.
  Builder& Map(std::string name, std::string parent = {});
  Builder& Map(std::string name, StepFn fn, std::string parent = {});
  Builder& Map(std::string name, ContextStepFn fn, std::string parent = {});
  // A reduce of map `map`: folds with `fn` the values `collect` produced
  // for each element (`collect` is the map itself or a node below it),
  // starting from `initial`.
  Builder& Reduce(std::string name, std::string map, std::string collect, Value initial, ReduceFn fn);
  // Gives step or rule `node` (declared before) a compensation. On Cancel
  // (not Terminate), and on a halt whose node's policy says kCompensate,
  // the compensations of every value the workflow's nodes produced run one
  // at a time in reverse completion order, each once (a compensation that
  // completed never runs again; one cut by a crash runs again), while the
  // workflow is cancelling; then it is cancelled (or halted). `policy`: the
  // compensation's retries, backoff and timeout; once they are exhausted,
  // on_failure kSkip goes on with the next compensation, anything else
  // halts the workflow naming both errors (Retry or Cancel then runs that
  // compensation again with fresh attempts and goes on; Terminate ends it
  // without the rest). A value produced as a fallback is compensated too.
  Builder& Compensate(std::string node, CompensateFn fn, StepPolicy policy = {});

  // The policy of the nodes `pattern` names: an exact node name, a prefix
  // ending in '*' ("charge-*"), or "*" for the default. The most specific
  // match wins: exact, then the longest prefix, then "*".
  Builder& Policy(std::string pattern, StepPolicy policy);

  Result<std::shared_ptr<const Workflow>> Build() const;

 private:
  std::string name_;
  int version_;
  std::vector<Workflow::Node> nodes_;
  std::vector<std::pair<std::string, StepPolicy>> policies_;
  struct Compensation {
    std::string node;
    CompensateFn fn;
    StepPolicy policy;
  };
  std::vector<Compensation> compensations_;
};

}  // namespace runic

#endif  // RUNIC_WORKFLOW_H_
