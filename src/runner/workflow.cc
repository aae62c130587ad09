#include "runic/workflow.h"

#include <algorithm>
#include <map>
#include <set>

#include "runner/hash.h"
#include "runner/history_codec.h"

namespace runic {
namespace {

// The policy for `node`: exact name, then the longest matching prefix*,
// then "*", then the defaults.
StepPolicy Resolve(const std::vector<std::pair<std::string, StepPolicy>>& policies, const std::string& node) {
  const StepPolicy* best = nullptr;
  std::size_t best_len = 0;
  bool exact = false;
  for (const auto& [pattern, policy] : policies) {
    if (pattern == node) {
      best = &policy;
      exact = true;
    } else if (!exact && !pattern.empty() && pattern.back() == '*') {
      const std::string_view prefix(pattern.data(), pattern.size() - 1);
      if (std::string_view(node).starts_with(prefix) && (best == nullptr || prefix.size() + 1 > best_len)) {
        best = &policy;
        best_len = prefix.size() + 1;
      }
    }
  }
  return best ? *best : StepPolicy{};
}

// The stop-token forms, as context functions (empty stays empty: Build
// refuses a node without a function).
ContextStepFn WithContext(StepFn fn) {
  if (!fn) return nullptr;
  return [fn = std::move(fn)](const Value& input, const StepContext& context) { return fn(input, context.stop); };
}
ContextJoinFn WithContext(JoinFn fn) {
  if (!fn) return nullptr;
  return [fn = std::move(fn)](const std::vector<Value>& inputs, const StepContext& context) {
    return fn(inputs, context.stop);
  };
}

// A DelayUntil without its function (told apart from a fixed Delay).
constexpr std::chrono::milliseconds kNoUntilFunction = std::chrono::milliseconds::min();

}  // namespace

const Workflow::Node* Workflow::Find(std::string_view name) const {
  for (const Node& n : nodes_) {
    if (n.name == name) return &n;
  }
  return nullptr;
}

Workflow::Builder::Builder(std::string name, int version) : name_(std::move(name)), version_(version) {}

Workflow::Builder& Workflow::Builder::Step(std::string name, StepFn fn, std::string parent) {
  return Step(std::move(name), WithContext(std::move(fn)), std::move(parent));
}

Workflow::Builder& Workflow::Builder::Step(std::string name, std::nullptr_t, std::string parent) {
  return Step(std::move(name), ContextStepFn(), std::move(parent));
}

Workflow::Builder& Workflow::Builder::Step(std::string name, ContextStepFn fn, std::string parent) {
  Node n{std::move(name), NodeKind::kStep, {}, std::move(fn), nullptr, nullptr, {}};
  if (!parent.empty()) n.parents.push_back(std::move(parent));
  nodes_.push_back(std::move(n));
  return *this;
}

Workflow::Builder& Workflow::Builder::Join(std::string name, std::vector<std::string> parents, JoinFn fn) {
  return Join(std::move(name), std::move(parents), WithContext(std::move(fn)));
}

Workflow::Builder& Workflow::Builder::Join(std::string name, std::vector<std::string> parents, std::nullptr_t) {
  return Join(std::move(name), std::move(parents), ContextJoinFn());
}

Workflow::Builder& Workflow::Builder::Join(std::string name, std::vector<std::string> parents, ContextJoinFn fn) {
  nodes_.push_back(Node{std::move(name), NodeKind::kJoin, std::move(parents), nullptr, std::move(fn), nullptr, {}});
  return *this;
}

Workflow::Builder& Workflow::Builder::Rule(std::string name, ConditionFn when, StepFn then, std::string parent) {
  return Rule(std::move(name), std::move(when), WithContext(std::move(then)), std::move(parent));
}

Workflow::Builder& Workflow::Builder::Rule(std::string name, ConditionFn when, ContextStepFn then, std::string parent) {
  Node n{std::move(name), NodeKind::kRule, {}, std::move(then), nullptr, std::move(when), {}};
  if (!parent.empty()) n.parents.push_back(std::move(parent));
  nodes_.push_back(std::move(n));
  return *this;
}

Workflow::Builder& Workflow::Builder::Delay(std::string name, std::chrono::milliseconds delay, std::string parent) {
  Node n;
  n.name = std::move(name);
  n.kind = NodeKind::kDelay;
  n.delay = delay;
  if (!parent.empty()) n.parents.push_back(std::move(parent));
  nodes_.push_back(std::move(n));
  return *this;
}

Workflow::Builder& Workflow::Builder::DelayUntil(std::string name, DelayUntilFn until, std::string parent) {
  Node n;
  n.name = std::move(name);
  n.kind = NodeKind::kDelay;
  n.until = std::move(until);
  if (!n.until) n.delay = kNoUntilFunction;  // Build refuses it
  if (!parent.empty()) n.parents.push_back(std::move(parent));
  nodes_.push_back(std::move(n));
  return *this;
}

Workflow::Builder& Workflow::Builder::Await(std::string name, std::string event, std::string parent,
                                            std::chrono::milliseconds timeout) {
  Node n;
  n.name = std::move(name);
  n.kind = NodeKind::kAwait;
  n.event = std::move(event);
  n.await_timeout = timeout;
  if (!parent.empty()) n.parents.push_back(std::move(parent));
  nodes_.push_back(std::move(n));
  return *this;
}

Workflow::Builder& Workflow::Builder::Map(std::string name, std::string parent) {
  Node n;
  n.name = std::move(name);
  n.kind = NodeKind::kMap;
  if (!parent.empty()) n.parents.push_back(std::move(parent));
  nodes_.push_back(std::move(n));
  return *this;
}

Workflow::Builder& Workflow::Builder::Map(std::string name, StepFn fn, std::string parent) {
  if (!fn) return Map(std::move(name), ContextStepFn(), std::move(parent));
  return Map(std::move(name), WithContext(std::move(fn)), std::move(parent));
}

Workflow::Builder& Workflow::Builder::Map(std::string name, ContextStepFn fn, std::string parent) {
  Map(std::move(name), std::move(parent));
  nodes_.back().step = std::move(fn);
  return *this;
}

Workflow::Builder& Workflow::Builder::Reduce(std::string name, std::string map, std::string collect, Value initial,
                                             ReduceFn fn) {
  Node n;
  n.name = std::move(name);
  n.kind = NodeKind::kReduce;
  n.parents.push_back(std::move(collect));
  n.map = std::move(map);
  n.initial = std::move(initial);
  n.reduce = std::move(fn);
  nodes_.push_back(std::move(n));
  return *this;
}

Workflow::Builder& Workflow::Builder::Compensate(std::string node, CompensateFn fn, StepPolicy policy) {
  compensations_.push_back(Compensation{std::move(node), std::move(fn), std::move(policy)});
  return *this;
}

Workflow::Builder& Workflow::Builder::Policy(std::string pattern, StepPolicy policy) {
  policies_.emplace_back(std::move(pattern), std::move(policy));
  return *this;
}

Result<std::shared_ptr<const Workflow>> Workflow::Builder::Build() const {
  auto bad = [this](const std::string& what) {
    return Status::InvalidArgument("workflow '" + name_ + "' v" + std::to_string(version_) + ": " + what);
  };
  if (name_.empty()) return bad("the name is empty");
  if (name_.size() > kMaxDefinitionNameBytes || name_.find('\0') != std::string::npos) {
    return bad("the name is longer than " + std::to_string(kMaxDefinitionNameBytes) + " bytes or holds a 0x00 byte");
  }
  if (nodes_.empty()) return bad("it has no node");
  for (const auto& [pattern, policy] : policies_) {
    if (policy.max_retries < 0 || policy.base_delay.count() < 0 || policy.max_delay.count() < 0 ||
        policy.timeout.count() < 0) {
      return bad("policy '" + pattern + "' has a negative retry count or duration");
    }
  }
  std::shared_ptr<Workflow> wf(new Workflow());
  wf->name_ = name_;
  wf->version_ = version_;
  std::set<std::string> seen;
  // The map whose branch each node is in ("" outside every map): a map's
  // children are in its branch; a reduce is where its map is.
  std::map<std::string, std::string> branch;
  std::map<std::string, NodeKind> kinds;
  for (const Node& n : nodes_) {
    if (n.name.empty()) return bad("a node has an empty name");
    if (!seen.insert(n.name).second) return bad("two nodes are named '" + n.name + "'");
    for (const std::string& p : n.parents) {
      if (!seen.count(p) || p == n.name)
        return bad("node '" + n.name + "' names an unknown (or later) parent '" + p + "'");
    }
    if (n.kind == NodeKind::kJoin && n.parents.size() < 2)
      return bad("join '" + n.name + "' needs two parents or more");
    const bool has_function = n.kind == NodeKind::kJoin     ? static_cast<bool>(n.join)
                              : n.kind == NodeKind::kDelay  ? n.until || n.delay != kNoUntilFunction
                              : n.kind == NodeKind::kRule   ? n.step && n.condition
                              : n.kind == NodeKind::kAwait  ? true
                              : n.kind == NodeKind::kMap    ? true
                              : n.kind == NodeKind::kReduce ? static_cast<bool>(n.reduce)
                                                            : static_cast<bool>(n.step);
    if (!has_function) return bad("node '" + n.name + "' has no function");
    if (n.kind == NodeKind::kDelay && n.delay.count() < 0) return bad("delay '" + n.name + "' has a negative delay");
    if (n.kind == NodeKind::kAwait) {
      if (n.event.empty() || n.event.size() > kMaxSignalNameBytes) {
        return bad("await '" + n.name + "' needs an event name of 1 to " + std::to_string(kMaxSignalNameBytes) +
                   " bytes");
      }
      if (n.await_timeout.count() < 0) return bad("await '" + n.name + "' has a negative timeout");
    }
    std::string in;  // the branch n is in
    if (n.kind == NodeKind::kReduce) {
      auto m = kinds.find(n.map);
      if (m == kinds.end() || m->second != NodeKind::kMap) {
        return bad("reduce '" + n.name + "' names '" + n.map + "', which is not an earlier map");
      }
      const std::string& collect = n.parents.front();
      if (collect != n.map && branch[collect] != n.map) {
        return bad("reduce '" + n.name + "' folds '" + collect + "', which is not map '" + n.map +
                   "' or a node in its branch");
      }
      in = branch[n.map];
    } else {
      for (std::size_t i = 0; i < n.parents.size(); ++i) {
        const std::string& p = n.parents[i];
        const std::string of = kinds[p] == NodeKind::kMap ? p : branch[p];
        if (i == 0) {
          in = of;
        } else if (of != in) {
          return bad("join '" + n.name + "' has parents in different maps' branches ('" + n.parents.front() +
                     "' and '" + p + "'): it could never run");
        }
      }
    }
    branch[n.name] = in;
    kinds[n.name] = n.kind;
    Node resolved = n;
    resolved.policy = Resolve(policies_, n.name);
    if (n.kind == NodeKind::kMap && resolved.policy.fallback && !resolved.policy.fallback->is_array()) {
      return bad("map '" + n.name + "' has a fallback that is not an array");
    }
    wf->nodes_.push_back(std::move(resolved));
  }
  for (const Compensation& c : compensations_) {
    auto n = std::find_if(wf->nodes_.begin(), wf->nodes_.end(), [&](const Node& x) { return x.name == c.node; });
    if (n == wf->nodes_.end()) return bad("a compensation names an unknown node '" + c.node + "'");
    if (n->kind != NodeKind::kStep && n->kind != NodeKind::kRule) {
      return bad("a compensation of " + std::string(internal::NodeKindName(n->kind)) + " '" + c.node +
                 "': only a step or a rule (one input, one output) can be compensated");
    }
    if (n->compensate) return bad("node '" + c.node + "' has two compensations");
    if (!c.fn) return bad("the compensation of '" + c.node + "' has no function");
    if (c.policy.max_retries < 0 || c.policy.base_delay.count() < 0 || c.policy.max_delay.count() < 0 ||
        c.policy.timeout.count() < 0) {
      return bad("the compensation of '" + c.node + "' has a negative retry count or duration");
    }
    n->compensate = c.fn;
    n->compensation_policy = c.policy;
  }
  wf->fingerprint_ = internal::Sha256Hex(internal::EncodeValue(internal::DefinitionShape(wf->nodes_)));
  return std::shared_ptr<const Workflow>(std::move(wf));
}

}  // namespace runic
