#include "event_json.h"

namespace runic::cli {
namespace {

// The CBOR item in `bytes`, or a discarded value (also for bytes nested
// too deeply to decode safely).
Json DecodeCbor(std::string_view bytes) {
  Result<Value> value = DecodeStoredValue(bytes);
  return value.ok() ? std::move(*value) : Json(Json::value_t::discarded);
}

Json FactValue(Store& store, const std::string& hash) {
  Result<std::string> bytes = store.LoadFact(hash);
  if (!bytes.ok()) return Json{{"missing", bytes.status().ToString()}};
  Json value = DecodeCbor(*bytes);
  return value.is_discarded() ? BytesJson(*bytes) : value;
}

}  // namespace

Json EventJson(std::uint64_t sequence, std::string_view bytes, Store& store) {
  Json out{{"seq", sequence}};
  Result<HistoryEvent> decoded = DecodeHistoryEvent(sequence, bytes);
  if (!decoded.ok()) {
    out["base64"] = Base64(bytes);
    out["error"] = decoded.status().ToString();
    return out;
  }
  const HistoryEvent& e = *decoded;
  out["type"] = HistoryEventKindName(e.kind);
  if (e.at_us != 0) out["time"] = IsoTimeMicros(e.at_us);
  switch (e.kind) {
    case HistoryEventKind::kStart:
      out["workflow"] = e.definition;
      out["version"] = e.version;
      out["fingerprint"] = e.fingerprint;
      if (e.options) out["options"] = WorkflowOptionsValue(*e.options);
      break;
    case HistoryEventKind::kInput:
      out["ordinal"] = e.ordinal;
      break;
    case HistoryEventKind::kDispatch:
    case HistoryEventKind::kDone:
    case HistoryEventKind::kFail:
      out["step"] = e.node;
      out["runnable"] = e.runnable;
      if (e.kind != HistoryEventKind::kDone) out["attempt"] = e.attempt;
      if (e.kind != HistoryEventKind::kDispatch) out["duration_us"] = e.duration_us;
      if (e.compensation) out["compensation"] = true;  // the node's compensation, not the node
      break;
    case HistoryEventKind::kWait:
      out["step"] = e.node;
      out["runnable"] = e.runnable;
      if (!e.event.empty()) out["event"] = e.event;
      break;
    case HistoryEventKind::kControl:
      out["control"] = e.control;
      if (e.inbox_sequence != 0) out["inbox_sequence"] = e.inbox_sequence;
      if (!e.reason.empty()) out["reason"] = e.reason;
      if (!e.dropped.empty()) out["refused"] = e.dropped;
      break;
    case HistoryEventKind::kSignal:
      out["signal"] = e.event;
      out["inbox_sequence"] = e.inbox_sequence;
      if (!e.dropped.empty()) out["dropped"] = e.dropped;
      break;
  }
  if (e.kind == HistoryEventKind::kDone && e.inbox_sequence != 0) out["inbox_sequence"] = e.inbox_sequence;
  if (e.due_us != 0) out["due"] = IsoTimeMicros(e.due_us);
  if (!e.idempotency_key.empty()) out["idempotency_key"] = e.idempotency_key;
  if (e.kind == HistoryEventKind::kDone && !e.fact.empty()) {
    out["parents"] = e.parents;
    if (e.fallback) out["fallback"] = true;
    if (e.elements) out["elements"] = *e.elements;
  }
  if (e.kind == HistoryEventKind::kFail) {
    out["error"] = e.error.message();
    out["code"] = Status::CodeName(e.error.code());
    out["outcome"] = FailureOutcomeName(e.outcome);
    if (e.outcome == FailureOutcome::kHalt) out["halt"] = e.halt_message;
  }
  if (e.kind == HistoryEventKind::kInput || e.kind == HistoryEventKind::kDone ||
      (e.kind == HistoryEventKind::kSignal && !e.fact.empty())) {
    out["fact"] = e.fact.empty() ? Json() : Json(e.fact);
    if (!e.fact.empty()) out["value"] = FactValue(store, e.fact);
  }
  return out;
}

Json SnapshotJson(std::string_view bytes) {
  Json state = DecodeCbor(bytes);
  if (state.is_discarded()) return BytesJson(bytes);
  // A Runner's snapshot (definition, fingerprint, halt state): its halting
  // error's code by name, as in fail events.
  if (state.is_object() && state.contains("fp") && state.contains("halted") && state.contains("code") &&
      state.at("code").is_number_unsigned() && state.at("code").get<std::uint64_t>() <= 255) {
    state["code"] = Status::CodeName(static_cast<Status::Code>(state["code"].get<std::uint64_t>()));
  }
  return state;
}

Json HistoryJson(const WorkflowHistory& h) {
  Json waiting = Json::array();
  for (const PendingRunnable& p : h.waiting_for) {
    Json runnable{{"runnable", p.runnable}, {"step", p.node}, {"failed_attempts", p.failed_attempts}};
    if (p.due_us != 0) runnable["due"] = IsoTimeMicros(p.due_us);
    if (!p.event.empty()) runnable["awaits"] = p.event;
    waiting.push_back(std::move(runnable));
  }
  Json out{{"state", WorkflowStateName(h.state)},
           {"definition", h.definition.name + "@" + std::to_string(h.definition.version)},
           {"fingerprint", h.definition.fingerprint},
           {"completed", h.completed},
           {"waiting_for", waiting},
           {"idempotency_keys", h.idempotency_keys}};
  if (h.state == WorkflowState::kHalted) out["halt_reason"] = h.halt_error.ToString();
  if (h.state == WorkflowState::kCancelled || h.state == WorkflowState::kCancelling) {
    out["cancel_reason"] = h.halt_error.ToString();
  }
  if (!h.signals.empty()) {
    Json signals = Json::array();
    for (const BufferedSignal& g : h.signals)
      signals.push_back(Json{{"name", g.name}, {"inbox_sequence", g.inbox_sequence}});
    out["buffered_signals"] = signals;
  }
  if (h.due_us != 0) out["due"] = IsoTimeMicros(h.due_us);
  return out;
}

}  // namespace runic::cli
