// The parts of history_codec.h that add events up: snapshots, the fold of
// events into a HistoryState, and definition structures.
#include <algorithm>

#include "runner/hash.h"
#include "runner/history_codec.h"
#include "runner/lifecycle.h"
#include "runner/options_codec.h"

namespace runic::internal {
namespace {

constexpr const char* kNodeKinds[] = {"step", "join", "rule", "delay", "await", "map", "reduce"};

Value PolicyValue(const StepPolicy& p) {
  return Value{{"retries", p.max_retries},
               {"backoff", static_cast<int>(p.backoff)},
               {"base_ms", p.base_delay.count()},
               {"max_ms", p.max_delay.count()},
               {"timeout_ms", p.timeout.count()},
               {"on_failure", static_cast<int>(p.on_failure)},
               {"fallback", p.fallback ? Value::array({*p.fallback}) : Value::array()}};
}

// Throws Value::exception on a field that is missing or of the wrong type.
StepPolicy PolicyFromValue(const Value& v) {
  StepPolicy p;
  p.max_retries = v.at("retries").get<int>();
  const int backoff = v.at("backoff").get<int>();
  const int on_failure = v.at("on_failure").get<int>();
  if (backoff < 0 || backoff > static_cast<int>(Backoff::kExponential)) {
    throw Value::other_error::create(501, "unknown backoff " + std::to_string(backoff), nullptr);
  }
  if (on_failure < 0 || on_failure > static_cast<int>(OnFailure::kCompensate)) {
    throw Value::other_error::create(501, "unknown on_failure " + std::to_string(on_failure), nullptr);
  }
  p.backoff = static_cast<Backoff>(backoff);
  p.base_delay = std::chrono::milliseconds(v.at("base_ms").get<std::int64_t>());
  p.max_delay = std::chrono::milliseconds(v.at("max_ms").get<std::int64_t>());
  p.timeout = std::chrono::milliseconds(v.at("timeout_ms").get<std::int64_t>());
  p.on_failure = static_cast<OnFailure>(on_failure);
  const Value& fallback = v.at("fallback");
  if (!fallback.is_array() || fallback.size() > 1) {
    throw Value::other_error::create(501, "a fallback is an array of at most one value", nullptr);
  }
  if (!fallback.empty()) p.fallback = fallback.at(0);
  return p;
}

void StopAwaiting(const std::string& runnable, HistoryState& state) {
  std::erase_if(state.awaits, [&](const auto& a) { return a.first == runnable; });
}

void Finish(const std::string& runnable, HistoryState& state) {
  StopAwaiting(runnable, state);
  state.done.insert(runnable);
  ++state.completed;
  state.failures.erase(runnable);
  state.errors.erase(runnable);
  state.dispatched.erase(runnable);
  state.nodes.erase(runnable);
  state.due.erase(runnable);
}

void ApplyControl(const HistoryEvent& e, HistoryState& state) {
  std::optional<Control> control = ControlByName(e.control);
  if (!control) return;  // DecodeHistoryEvent refuses unknown controls
  switch (*control) {
    case Control::kPause:
      state.paused = true;
      break;
    case Control::kUnpause:
      state.paused = false;
      break;
    case Control::kCancel:
    case Control::kTerminate:
      state.paused = false;
      state.cancelling = true;
      state.terminated = *control == Control::kTerminate;
      state.cancel_reason = e.reason;
      state.compensating = !state.terminated;  // a terminate has none
      state.halt_after = Status::OK();
      // Nothing runs on; a compensation that halted runs with fresh attempts.
      state.failures.clear();
      state.errors.clear();
      break;
    case Control::kCancelled:
      state.cancelling = false;
      state.cancelled = true;
      state.compensating = false;
      break;
    case Control::kCompensated:
      state.cancelling = false;
      state.compensating = false;
      state.compensated = true;
      state.halted = true;
      state.halt_error = state.halt_after;
      break;
    case Control::kRetry:
      // The failed nodes run again with fresh attempts (or, when a
      // compensation halted, the compensations go on).
      state.cancelling = state.compensating;
      state.halted = false;
      state.halt_error = Status::OK();
      for (const auto& [runnable, failures] : state.failures) state.due.erase(runnable);
      state.failures.clear();
      state.errors.clear();
      break;
  }
}

}  // namespace

// --- Snapshots ----------------------------------------------------------------

std::string EncodeSnapshot(const HistoryState& s) {
  Value facts = Value::array();
  for (const FactRecord& f : s.facts) facts.push_back(Value::array({f.hash, f.node, f.parents, f.root}));
  Value signals = Value::array();
  for (const HistoryState::Signal& g : s.signals) signals.push_back(Value::array({g.sequence, g.name, g.fact, g.key}));
  return EncodeValue(
      Value{{"w", s.definition},
            {"v", s.version},
            {"fp", s.fingerprint},
            {"inputs", s.inputs},
            {"facts", facts},
            {"done", s.done},
            {"failures", s.failures},
            {"errors", s.errors},
            {"keys", s.keys},
            {"options", s.options ? WorkflowOptionsToValue(*s.options) : Value()},
            {"dispatched", s.dispatched},
            {"nodes", s.nodes},
            {"due", s.due},
            {"awaits", s.awaits},
            {"signals", signals},
            {"inbox", s.inbox_through},
            {"paused", s.paused},
            {"cancelling", s.cancelling},
            {"cancelled", s.cancelled},
            {"cancel_reason", s.cancel_reason},
            {"terminated", s.terminated},
            {"compensating", s.compensating},
            {"compensated", s.compensated},
            {"halt_after", Value::array({static_cast<int>(s.halt_after.code()), s.halt_after.message()})},
            {"completed", s.completed},
            {"halted", s.halted},
            {"error", s.halt_error.message()},
            {"code", static_cast<int>(s.halt_error.code())}});
}

Result<HistoryState> DecodeSnapshot(std::string_view bytes) {
  Result<Value> decoded = DecodeValue(bytes);
  if (!decoded.ok() || !decoded->is_object()) return Status::Corruption("its snapshot is not a CBOR map");
  const Value& v = *decoded;
  HistoryState s;
  try {
    s.started = true;
    s.definition = v.at("w").get<std::string>();
    s.version = v.at("v").get<int>();
    s.fingerprint = v.at("fp").get<std::string>();
    s.inputs = v.at("inputs").get<std::uint64_t>();
    for (const Value& f : v.at("facts")) {
      AddFactRecord(FactRecord{f.at(0).get<std::string>(), f.at(1).get<std::string>(),
                               f.at(2).get<std::vector<std::string>>(), f.at(3).get<std::string>()},
                    s);
    }
    for (const Value& id : v.at("done")) s.done.insert(id.get<std::string>());
    s.failures = v.at("failures").get<std::map<std::string, int>>();
    // Snapshots of older releases lack the fields below (but "dispatched").
    if (auto e = v.find("errors"); e != v.end()) s.errors = e->get<std::map<std::string, std::vector<std::string>>>();
    if (auto k = v.find("keys"); k != v.end()) {
      for (const Value& key : *k) s.keys.insert(key.get<std::string>());
    }
    if (auto o = v.find("options"); o != v.end() && !o->is_null()) {
      Result<WorkflowOptions> options = WorkflowOptionsFromValue(*o);
      if (!options.ok()) return Status::Corruption("its snapshot: " + options.status().message());
      s.options = *options;
    }
    for (const Value& id : v.at("dispatched")) s.dispatched.insert(id.get<std::string>());
    if (auto n = v.find("nodes"); n != v.end()) s.nodes = n->get<std::map<std::string, std::string>>();
    if (auto d = v.find("due"); d != v.end()) s.due = d->get<std::map<std::string, std::int64_t>>();
    if (auto a = v.find("awaits"); a != v.end()) s.awaits = a->get<std::vector<std::pair<std::string, std::string>>>();
    if (auto g = v.find("signals"); g != v.end()) {
      for (const Value& x : *g) {
        s.signals.push_back(HistoryState::Signal{x.at(0).get<std::uint64_t>(), x.at(1).get<std::string>(),
                                                 x.at(2).get<std::string>(), x.at(3).get<std::string>()});
      }
    }
    if (auto i = v.find("inbox"); i != v.end()) s.inbox_through = i->get<std::uint64_t>();
    if (auto c = v.find("cancelling"); c != v.end()) {
      s.paused = v.at("paused").get<bool>();
      s.cancelling = c->get<bool>();
      s.cancelled = v.at("cancelled").get<bool>();
      s.cancel_reason = v.at("cancel_reason").get<std::string>();
      s.terminated = v.at("terminated").get<bool>();
    }
    if (auto c = v.find("compensating"); c != v.end()) {  // (older snapshots: none)
      s.compensating = c->get<bool>();
      s.compensated = v.at("compensated").get<bool>();
      const Value& after = v.at("halt_after");
      const int code = after.at(0).get<int>();
      if (code < 0 || code > 255) return Status::Corruption("its snapshot: status code " + std::to_string(code));
      s.halt_after = StatusWithCode(static_cast<Status::Code>(code), after.at(1).get<std::string>());
    }
    s.completed = v.at("completed").get<std::uint64_t>();
    s.halted = v.at("halted").get<bool>();
    if (s.halted) {
      const int code = v.at("code").get<int>();
      if (code < 0 || code > 255) return Status::Corruption("its snapshot: status code " + std::to_string(code));
      s.halt_error = StatusWithCode(static_cast<Status::Code>(code), v.at("error").get<std::string>());
    }
  } catch (const Value::exception& x) {
    return Status::Corruption(std::string("its snapshot does not decode: ") + x.what());
  }
  return s;
}

// --- The fold -------------------------------------------------------------------

bool AddFactRecord(FactRecord fact, HistoryState& state) {
  if (!state.fact_hashes.insert(fact.hash).second) return false;
  state.facts.push_back(std::move(fact));
  return true;
}

Status ApplyEvent(const HistoryEvent& e, HistoryState& state) {
  if (e.kind == HistoryEventKind::kStart) {
    if (state.started) return Status::Corruption("a second started event");
    state.started = true;
    state.definition = e.definition;
    state.version = e.version;
    state.fingerprint = e.fingerprint;
    state.options = e.options;
    if (!e.idempotency_key.empty()) state.keys.insert(e.idempotency_key);
    return Status::OK();
  }
  if (!state.started) return Status::Corruption("an event comes before the started event");
  switch (e.kind) {
    case HistoryEventKind::kStart:
      break;
    case HistoryEventKind::kInput:
      AddFactRecord(FactRecord{e.fact, "", {std::to_string(e.ordinal)}, e.fact}, state);
      state.inputs = std::max(state.inputs, e.ordinal + 1);
      if (!e.idempotency_key.empty()) state.keys.insert(e.idempotency_key);
      break;
    case HistoryEventKind::kDispatch:
      state.dispatched.insert(e.runnable);
      state.nodes[e.runnable] = e.node;
      state.due.erase(e.runnable);  // a retry's backoff ended
      break;
    case HistoryEventKind::kWait:
      state.nodes[e.runnable] = e.node;
      if (e.due_us > 0) state.due[e.runnable] = e.due_us;
      if (!e.event.empty()) state.awaits.emplace_back(e.runnable, e.event);
      break;
    case HistoryEventKind::kSignal:
      state.inbox_through = std::max(state.inbox_through, e.inbox_sequence);
      if (!e.idempotency_key.empty()) state.keys.insert(e.idempotency_key);
      if (!e.fact.empty()) {
        state.signals.push_back(HistoryState::Signal{e.inbox_sequence, e.event, e.fact, e.idempotency_key});
      }
      break;
    case HistoryEventKind::kControl:
      state.inbox_through = std::max(state.inbox_through, e.inbox_sequence);
      if (e.dropped.empty()) ApplyControl(e, state);
      break;
    case HistoryEventKind::kDone:
      Finish(e.runnable, state);
      if (e.inbox_sequence > 0) {
        std::erase_if(state.signals, [&](const HistoryState::Signal& g) { return g.sequence == e.inbox_sequence; });
      }
      if (!e.fact.empty()) AddFactRecord(FactRecord{e.fact, e.node, e.parents, e.root}, state);
      break;
    case HistoryEventKind::kFail:
      state.failures[e.runnable] = e.attempt;
      state.errors[e.runnable].push_back(AttemptError(e.attempt, e.error.code(), e.error.message()));
      state.nodes[e.runnable] = e.node;
      if (e.outcome == FailureOutcome::kRetry && e.due_us > 0) state.due[e.runnable] = e.due_us;
      if (e.outcome != FailureOutcome::kRetry) {  // it waits no longer (an await timed out)
        StopAwaiting(e.runnable, state);
        state.due.erase(e.runnable);
      }
      if (e.outcome == FailureOutcome::kSkip) {
        Finish(e.runnable, state);
      } else if (e.outcome == FailureOutcome::kHalt) {
        state.halted = true;
        state.halt_error = StatusWithCode(e.error.code(), e.halt_message);
        // Compensating no more, until a retry or a cancel (unless a
        // terminate ended the compensations: its cancel goes on).
        if (e.compensation && state.compensating) state.cancelling = false;
      } else if (e.outcome == FailureOutcome::kCompensate) {
        state.cancelling = true;
        state.compensating = true;
        state.halt_after = StatusWithCode(e.error.code(), e.halt_message);
      }
      break;
  }
  state.cursor = e.sequence;
  return Status::OK();
}

// --- Definition structures --------------------------------------------------------

const char* NodeKindName(Workflow::NodeKind kind) {
  const auto i = static_cast<std::size_t>(kind);
  return i < std::size(kNodeKinds) ? kNodeKinds[i] : "?";
}

Value DefinitionShape(const std::vector<Workflow::Node>& nodes) {
  Value shape = Value::array();
  for (const Workflow::Node& n : nodes) {
    Value node{
        {"name", n.name}, {"kind", NodeKindName(n.kind)}, {"parents", n.parents}, {"policy", PolicyValue(n.policy)}};
    // Only the kinds that have them carry these (the other nodes' shapes,
    // and so the fingerprints of existing definitions, stay as they were).
    if (n.kind == Workflow::NodeKind::kDelay) {
      if (n.until) {
        node["until"] = true;
      } else {
        node["delay_ms"] = n.delay.count();
      }
    } else if (n.kind == Workflow::NodeKind::kAwait) {
      node["event"] = n.event;
      node["timeout_ms"] = n.await_timeout.count();
    } else if (n.kind == Workflow::NodeKind::kMap) {
      node["of_input"] = !n.step;  // no function: the input is the array
    } else if (n.kind == Workflow::NodeKind::kReduce) {
      node["map"] = n.map;
      node["initial"] = n.initial;
    }
    if (n.compensate) node["compensation"] = PolicyValue(n.compensation_policy);
    shape.push_back(std::move(node));
  }
  return shape;
}

Result<std::vector<NodeStructure>> NodesFromShape(const Value& shape) {
  if (!shape.is_array()) return Status::Corruption("a definition structure is not an array");
  std::vector<NodeStructure> nodes;
  try {
    for (const Value& n : shape) {
      NodeStructure node;
      node.name = n.at("name").get<std::string>();
      const std::string kind = n.at("kind").get<std::string>();
      const auto* k = std::find(std::begin(kNodeKinds), std::end(kNodeKinds), kind);
      if (k == std::end(kNodeKinds)) return Status::Corruption("unknown node kind '" + kind + "'");
      node.kind = static_cast<Workflow::NodeKind>(k - std::begin(kNodeKinds));
      node.parents = n.at("parents").get<std::vector<std::string>>();
      node.policy = PolicyFromValue(n.at("policy"));
      if (node.kind == Workflow::NodeKind::kDelay) {
        node.delay_until = n.contains("until");
        if (!node.delay_until) node.delay = std::chrono::milliseconds(n.at("delay_ms").get<std::int64_t>());
      } else if (node.kind == Workflow::NodeKind::kAwait) {
        node.event = n.at("event").get<std::string>();
        node.delay = std::chrono::milliseconds(n.at("timeout_ms").get<std::int64_t>());
      } else if (node.kind == Workflow::NodeKind::kReduce) {
        node.map = n.at("map").get<std::string>();
        node.initial = n.at("initial");
      }
      if (auto c = n.find("compensation"); c != n.end()) node.compensation = PolicyFromValue(*c);
      nodes.push_back(std::move(node));
    }
  } catch (const Value::exception& x) {
    return Status::Corruption(std::string("a definition structure does not decode: ") + x.what());
  }
  return nodes;
}

}  // namespace runic::internal
