// The public reader of runic/history.h, on the codec of history_codec.h.
#include "runic/history.h"

#include <charconv>

#include "runner/hash.h"
#include "runner/history_codec.h"
#include "runner/options_codec.h"

namespace runic {
namespace {

// `s` as a double-quoted DOT or Mermaid string.
std::string Quoted(std::string_view s, bool dot) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') {
      out += dot ? "\\\"" : "#quot;";
    } else if (c == '\\' && dot) {
      out += "\\\\";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// "step", "retries 2, timeout 500 ms, skip", ...
std::string NodeLabel(const NodeStructure& n) {
  std::string label = n.name + " (" + internal::NodeKindName(n.kind);
  const StepPolicy& p = n.policy;
  if (p.max_retries > 0) label += ", retries " + std::to_string(p.max_retries);
  if (p.timeout.count() > 0) label += ", timeout " + std::to_string(p.timeout.count()) + " ms";
  if (n.kind == Workflow::NodeKind::kDelay) {
    label += n.delay_until ? ", until an instant" : ", " + std::to_string(n.delay.count()) + " ms";
  } else if (n.kind == Workflow::NodeKind::kAwait) {
    label += ", event " + n.event;
    if (n.delay.count() > 0) label += " within " + std::to_string(n.delay.count()) + " ms";
  } else if (n.kind == Workflow::NodeKind::kReduce) {
    label += " of " + n.map;
  }
  if (p.fallback) {
    label += ", fallback";
  } else if (p.on_failure == OnFailure::kSkip) {
    label += ", skip";
  }
  return label + ")";
}

}  // namespace

namespace internal {

Result<LoadedHistory> LoadHistory(Store& store, std::string_view id,
                                  const std::function<void(HistoryEvent&&)>& on_event) {
  const std::string wid(id);
  auto corrupt = [&](const std::string& what) { return Status::Corruption("workflow '" + wid + "': " + what); };
  LoadedHistory out;
  HistoryState& state = out.state;
  Result<Snapshot> snap = store.LoadSnapshot(id);
  if (snap.ok()) {
    Result<HistoryState> decoded = DecodeSnapshot(snap->bytes);
    if (!decoded.ok()) return corrupt(decoded.status().message());
    state = std::move(*decoded);
    state.cursor = out.snapshot_cursor = snap->cursor;
  } else if (!snap.status().IsNotFound()) {
    return snap.status();
  }
  Result<std::unique_ptr<EventIterator>> stream = store.Stream(id, {state.cursor});
  if (stream.status().IsNotFound() && state.cursor == 0)
    return Status::NotFound("no workflow '" + wid + "' in the store");
  if (stream.status().IsTrimmed()) return corrupt("events not covered by its snapshot were trimmed");
  if (!stream.ok()) return stream.status();
  for (EventIterator& it = **stream; it.Valid(); it.Next()) {
    Result<HistoryEvent> event = DecodeHistoryEvent(it.sequence(), it.value());
    if (!event.ok()) return corrupt(event.status().message());
    if (Status s = ApplyEvent(*event, state); !s.ok()) {
      return corrupt("event " + std::to_string(it.sequence()) + ": " + s.message());
    }
    if (on_event) on_event(std::move(*event));
  }
  if (!(*stream)->status().ok()) return (*stream)->status();
  if (!state.started) return corrupt("it has no started event");
  return out;
}

Result<Value> LoadFactValue(Store& store, std::string_view id, const std::string& hash) {
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption("workflow '" + std::string(id) + "': fact " + hash + " " + what);
  };
  Result<std::string> bytes = store.LoadFact(hash);
  if (bytes.status().IsNotFound()) return corrupt("is missing from the fact table");
  if (!bytes.ok()) return bytes.status();
  Result<Value> value = DecodeValue(*bytes);
  if (!value.ok()) return corrupt("is not valid CBOR");
  return value;
}

}  // namespace internal

Result<Value> DecodeStoredValue(std::string_view bytes) { return internal::DecodeValue(bytes); }

Value WorkflowOptionsValue(const WorkflowOptions& options) { return internal::WorkflowOptionsToValue(options); }

Result<std::vector<NodeStructure>> LoadDefinitionStructure(Store& store, std::string_view fingerprint) {
  Result<std::string> bytes = store.LoadFact(fingerprint);
  if (bytes.status().IsNotFound()) {
    return Status::NotFound("no structure of definition " + std::string(fingerprint) + " is stored");
  }
  if (!bytes.ok()) return bytes.status();
  auto corrupt = [&](const std::string& what) {
    return Status::Corruption("the structure of definition " + std::string(fingerprint) + ": " + what);
  };
  if (internal::Sha256Hex(*bytes) != fingerprint) return corrupt("its bytes do not hash to its fingerprint");
  Result<Value> shape = internal::DecodeValue(*bytes);
  if (!shape.ok()) return corrupt("not valid CBOR");
  Result<std::vector<NodeStructure>> nodes = internal::NodesFromShape(*shape);
  if (!nodes.ok()) return corrupt(nodes.status().message());
  return nodes;
}

Result<WorkflowHistory> ReadHistory(Store& store, std::string_view id, const HistoryReadOptions& options) {
  WorkflowHistory out;
  out.id = std::string(id);
  Result<internal::LoadedHistory> loaded = internal::LoadHistory(store, id, [&](HistoryEvent&& e) {
    if (options.events) out.events.push_back(std::move(e));
  });
  if (!loaded.ok()) return loaded.status();
  const internal::HistoryState& state = loaded->state;
  out.snapshot_cursor = loaded->snapshot_cursor;
  out.definition = StoredDefinition{state.definition, state.version, state.fingerprint, std::nullopt};
  if (options.structure) {
    Result<std::vector<NodeStructure>> nodes = LoadDefinitionStructure(store, state.fingerprint);
    if (nodes.ok()) {
      out.definition.nodes = std::move(*nodes);
    } else if (!nodes.status().IsNotFound()) {
      return nodes.status();
    }
  }
  out.options = state.options;
  out.halt_error = state.halt_error;
  std::set<std::string> pending = state.dispatched;
  for (const auto& [runnable, failures] : state.failures) pending.insert(runnable);
  for (const auto& [runnable, due] : state.due) pending.insert(runnable);
  std::map<std::string, std::string> awaiting(state.awaits.begin(), state.awaits.end());
  for (const auto& [runnable, event] : state.awaits) pending.insert(runnable);
  bool all_waiting = true;
  for (const std::string& runnable : pending) {
    auto node = state.nodes.find(runnable);
    auto failures = state.failures.find(runnable);
    auto due = state.due.find(runnable);
    PendingRunnable p{runnable, node == state.nodes.end() ? "" : node->second,
                      failures == state.failures.end() ? 0 : failures->second, due == state.due.end() ? 0 : due->second,
                      ""};
    if (auto a = awaiting.find(runnable); a != awaiting.end()) p.event = a->second;
    all_waiting = all_waiting && (p.due_us > 0 || !p.event.empty());
    if (p.due_us > 0 && (out.due_us == 0 || p.due_us < out.due_us)) out.due_us = p.due_us;
    out.waiting_for.push_back(std::move(p));
  }
  out.state = state.cancelled           ? WorkflowState::kCancelled
              : state.cancelling        ? WorkflowState::kCancelling
              : state.halted            ? WorkflowState::kHalted
              : state.paused            ? WorkflowState::kPaused
              : out.waiting_for.empty() ? WorkflowState::kIdle
              : all_waiting             ? WorkflowState::kWaiting
                                        : WorkflowState::kRunning;
  if (state.cancelling && !state.halt_after.ok()) {
    out.halt_error = state.halt_after;  // a halt's compensations under way
  } else if (state.cancelled || state.cancelling) {
    out.halt_error = internal::CancelStatus(id, state.terminated, state.cancel_reason);
  }
  out.idempotency_keys.assign(state.keys.begin(), state.keys.end());
  for (const internal::HistoryState::Signal& g : state.signals) {
    BufferedSignal signal{g.sequence, g.name, g.key, Value()};
    if (options.values) {
      Result<Value> value = internal::LoadFactValue(store, id, g.fact);
      if (!value.ok()) return value.status();
      signal.value = std::move(*value);
    }
    out.signals.push_back(std::move(signal));
  }
  out.facts = state.facts.size();
  out.completed = state.completed;
  out.cursor = state.cursor;
  if (options.values) {
    for (const internal::FactRecord& f : state.facts) {
      Result<Value> value = internal::LoadFactValue(store, id, f.hash);
      if (!value.ok()) return value.status();
      if (f.node.empty()) {
        out.inputs.push_back(std::move(*value));
      } else {
        out.results[f.node].push_back(std::move(*value));
      }
    }
  }
  return out;
}

Result<std::string> RenderGraph(const StoredDefinition& definition, GraphFormat format) {
  if (!definition.nodes) {
    return Status::FailedPrecondition("no structure of " + definition.name + " v" + std::to_string(definition.version) +
                                      " is stored: a Runner stores it when it starts or resumes one of its workflows");
  }
  const std::vector<NodeStructure>& nodes = *definition.nodes;
  const bool dot = format == GraphFormat::kDot;
  // Nodes are n0, n1, ... by declaration order: names may hold any byte.
  std::map<std::string, std::string> ids;
  for (std::size_t i = 0; i < nodes.size(); ++i) ids[nodes[i].name] = "n" + std::to_string(i);
  const std::string title = definition.name + " v" + std::to_string(definition.version);
  std::string out =
      dot ? "digraph " + Quoted(title, dot) + " {\n  rankdir=LR;\n  inputs [shape=ellipse, label=\"inputs\"];\n"
          : "flowchart LR\n  inputs([inputs])\n";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const NodeStructure& n = nodes[i];
    const char* shape = n.kind == Workflow::NodeKind::kJoin   ? "diamond"
                        : n.kind == Workflow::NodeKind::kRule ? "hexagon"
                                                              : "box";
    if (dot) {
      out += "  n" + std::to_string(i) + " [shape=" + shape + ", label=" + Quoted(NodeLabel(n), dot) + "];\n";
    } else {
      const bool join = n.kind == Workflow::NodeKind::kJoin, rule = n.kind == Workflow::NodeKind::kRule;
      out += "  n" + std::to_string(i) +
             (join   ? "{"
              : rule ? "{{"
                     : "[") +
             Quoted(NodeLabel(n), dot) +
             (join   ? "}"
              : rule ? "}}"
                     : "]") +
             "\n";
    }
  }
  const std::string arrow = dot ? " -> " : " --> ";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const std::string to = "n" + std::to_string(i);
    if (nodes[i].parents.empty()) out += "  inputs" + arrow + to + (dot ? ";\n" : "\n");
    for (const std::string& p : nodes[i].parents) {
      auto from = ids.find(p);
      if (from != ids.end()) out += "  " + from->second + arrow + to + (dot ? ";\n" : "\n");
    }
  }
  if (dot) out += "}\n";
  return out;
}

std::string StateIndexPrefix(WorkflowState state) { return std::string(WorkflowStateName(state)) + "/"; }

std::string StateIndexTag(WorkflowState state, std::string_view definition, int version) {
  return StateIndexPrefix(state) + std::string(definition) + "@" + std::to_string(version);
}

std::optional<StateIndexEntry> ParseStateIndexTag(std::string_view tag) {
  const std::size_t slash = tag.find('/');
  const std::size_t at = tag.rfind('@');
  if (slash == std::string_view::npos || at == std::string_view::npos || at <= slash + 1 || at + 1 == tag.size()) {
    return std::nullopt;
  }
  StateIndexEntry e;
  bool known = false;
  for (WorkflowState s :
       {WorkflowState::kRunning, WorkflowState::kIdle, WorkflowState::kHalted, WorkflowState::kWaiting,
        WorkflowState::kPaused, WorkflowState::kCancelling, WorkflowState::kCancelled}) {
    if (tag.substr(0, slash) == WorkflowStateName(s)) {
      e.state = s;
      known = true;
    }
  }
  if (!known) return std::nullopt;
  e.definition = std::string(tag.substr(slash + 1, at - slash - 1));
  const std::string_view digits = tag.substr(at + 1);
  int version = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), version);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  e.version = version;
  return e;
}

}  // namespace runic
