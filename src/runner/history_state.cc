// The parts of history_codec.h that add events up: snapshots, the fold of
// events into a HistoryState, and definition structures.
#include <algorithm>

#include "runner/hash.h"
#include "runner/history_codec.h"
#include "runner/options_codec.h"

namespace runic::internal {
namespace {

constexpr const char* kNodeKinds[] = {"step", "join", "rule"};

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
  if (on_failure < 0 || on_failure > static_cast<int>(OnFailure::kSkip)) {
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

void Finish(const std::string& runnable, HistoryState& state) {
  state.done.insert(runnable);
  ++state.completed;
  state.failures.erase(runnable);
  state.errors.erase(runnable);
  state.dispatched.erase(runnable);
  state.nodes.erase(runnable);
}

}  // namespace

// --- Snapshots ----------------------------------------------------------------

std::string EncodeSnapshot(const HistoryState& s) {
  Value facts = Value::array();
  for (const FactRecord& f : s.facts) facts.push_back(Value::array({f.hash, f.node, f.parents, f.root}));
  return EncodeValue(Value{{"w", s.definition},
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
      break;
    case HistoryEventKind::kDone:
      Finish(e.runnable, state);
      if (!e.fact.empty()) AddFactRecord(FactRecord{e.fact, e.node, e.parents, e.root}, state);
      break;
    case HistoryEventKind::kFail:
      state.failures[e.runnable] = e.attempt;
      state.errors[e.runnable].push_back(AttemptError(e.attempt, e.error.code(), e.error.message()));
      state.nodes[e.runnable] = e.node;
      if (e.outcome == FailureOutcome::kSkip) {
        Finish(e.runnable, state);
      } else if (e.outcome == FailureOutcome::kHalt) {
        state.halted = true;
        state.halt_error = StatusWithCode(e.error.code(), e.halt_message);
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
    shape.push_back(Value{
        {"name", n.name}, {"kind", NodeKindName(n.kind)}, {"parents", n.parents}, {"policy", PolicyValue(n.policy)}});
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
      nodes.push_back(std::move(node));
    }
  } catch (const Value::exception& x) {
    return Status::Corruption(std::string("a definition structure does not decode: ") + x.what());
  }
  return nodes;
}

}  // namespace runic::internal
