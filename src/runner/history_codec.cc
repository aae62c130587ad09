#include "runner/history_codec.h"

#include <algorithm>

#include "runner/cbor_writer.h"
#include "runner/hash.h"
#include "runner/lifecycle.h"
#include "runner/options_codec.h"

namespace runic::internal {
namespace {

constexpr const char* kOutcomes[] = {"retry", "fallback", "skip", "halt", "compensate"};
constexpr const char* kKinds[] = {"start", "input", "dispatch", "done", "fail", "wait", "signal", "control"};

// An event's head: a map of `fields` entries besides t and at, which it
// writes.
CborWriter Head(HistoryEventKind kind, std::int64_t at_us, std::size_t fields) {
  CborWriter w;
  w.Map(fields + 2).Text("t").Text(HistoryEventKindName(kind)).Text("at").Int(at_us);
  return w;
}

// Reading fields of a decoded map: a missing or mistyped field throws
// Value::exception, which the callers turn into kCorruption.
template <typename T>
T Get(const Value& map, const char* key) {
  return map.at(key).get<T>();
}
template <typename T>
T GetOr(const Value& map, const char* key, T otherwise) {
  auto it = map.find(key);
  return it == map.end() ? otherwise : it->get<T>();
}

Result<FailureOutcome> OutcomeByName(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kOutcomes); ++i) {
    if (name == kOutcomes[i]) return static_cast<FailureOutcome>(i);
  }
  return Status::Corruption("unknown failure outcome '" + std::string(name) + "'");
}

}  // namespace

// --- Events -----------------------------------------------------------------

std::string EncodeStartEvent(std::int64_t at_us, const Workflow& workflow, const WorkflowOptions& options,
                             std::string_view key) {
  CborWriter w = Head(HistoryEventKind::kStart, at_us, key.empty() ? 4 : 5);
  w.Text("w").Text(workflow.name()).Text("v").Int(workflow.version()).Text("fp").Text(workflow.fingerprint());
  w.Text("opt").Raw(EncodeValue(WorkflowOptionsToValue(options)));
  if (!key.empty()) w.Text("k").Text(key);
  return w.Take();
}

std::string EncodeInputEvent(std::int64_t at_us, std::string_view fact, std::uint64_t ordinal, std::string_view key) {
  CborWriter w = Head(HistoryEventKind::kInput, at_us, key.empty() ? 2 : 3);
  w.Text("f").Text(fact).Text("o").Uint(ordinal);
  if (!key.empty()) w.Text("k").Text(key);
  return w.Take();
}

std::string EncodeDispatchEvent(std::int64_t at_us, std::string_view runnable, std::string_view node, int attempt,
                                bool compensation) {
  CborWriter w = Head(HistoryEventKind::kDispatch, at_us, compensation ? 4 : 3);
  if (compensation) w.Text("u").Bool(true);
  return w.Text("r").Text(runnable).Text("n").Text(node).Text("a").Int(attempt).Take();
}

std::string EncodeWaitEvent(std::int64_t at_us, std::string_view runnable, std::string_view node, std::int64_t due_us,
                            std::string_view event) {
  CborWriter w = Head(HistoryEventKind::kWait, at_us, 2 + (due_us > 0) + !event.empty());
  w.Text("r").Text(runnable).Text("n").Text(node);
  if (due_us > 0) w.Text("due").Int(due_us);
  if (!event.empty()) w.Text("ev").Text(event);
  return w.Take();
}

std::string EncodeSignalEvent(std::int64_t at_us, std::uint64_t inbox_sequence, std::string_view name,
                              std::string_view fact, std::string_view key, std::string_view dropped) {
  CborWriter w = Head(HistoryEventKind::kSignal, at_us, 3 + !key.empty());
  w.Text("q").Uint(inbox_sequence).Text("n").Text(name);
  if (fact.empty()) {
    w.Text("x").Text(dropped.substr(0, kMaxRecordedError));
  } else {
    w.Text("f").Text(fact);
  }
  if (!key.empty()) w.Text("k").Text(key);
  return w.Take();
}

std::string EncodeControlEvent(std::int64_t at_us, std::uint64_t inbox_sequence, std::string_view control,
                               std::string_view reason, std::string_view refused) {
  CborWriter w = Head(HistoryEventKind::kControl, at_us, 2 + !reason.empty() + !refused.empty());
  w.Text("q").Uint(inbox_sequence).Text("c").Text(control);
  if (!reason.empty()) w.Text("why").Text(reason.substr(0, kMaxRecordedError));
  if (!refused.empty()) w.Text("x").Text(refused.substr(0, kMaxRecordedError));
  return w.Take();
}

std::string EncodeControlEntry(std::string_view control, std::string_view reason) {
  CborWriter w;
  w.Map(reason.empty() ? 2 : 3).Text("t").Text("control").Text("c").Text(control);
  if (!reason.empty()) w.Text("why").Text(reason);
  return w.Take();
}

std::string EncodeSignalEntry(std::string_view name, std::string_view value, std::string_view key) {
  CborWriter w;
  w.Map(key.empty() ? 3 : 4).Text("t").Text("signal").Text("n").Text(name).Text("v").Raw(value);
  if (!key.empty()) w.Text("k").Text(key);
  return w.Take();
}

Result<InboxMessage> DecodeInboxEntry(std::string_view bytes) {
  if (!CborNestingWithin(bytes, kMaxValueDepth + 1)) return Status::Corruption("an inbox entry nests too deeply");
  Result<Value> decoded = DecodeValue(bytes);
  if (!decoded.ok() || !decoded->is_object()) return Status::Corruption("an inbox entry is not a CBOR map");
  const Value& e = *decoded;
  InboxMessage out;
  try {
    const std::string type = Get<std::string>(e, "t");
    if (type == "control") {
      out.kind = InboxMessage::Kind::kControl;
      out.name = Get<std::string>(e, "c");
      out.reason = GetOr<std::string>(e, "why", "");
      // "cancelled" and "compensated" are recorded by the owner, never sent.
      const std::optional<Control> control = ControlByName(out.name);
      if (!control || *control == Control::kCancelled || *control == Control::kCompensated) {
        return Status::Corruption("an inbox entry of unknown control '" + out.name + "'");
      }
      if (out.reason.size() > kMaxRecordedError) return Status::Corruption("an inbox entry's reason is too long");
      return out;
    }
    if (type != "signal") return Status::Corruption("an inbox entry of unknown type '" + type + "'");
    out.name = Get<std::string>(e, "n");
    out.value = e.at("v");
    out.key = GetOr<std::string>(e, "k", "");
  } catch (const Value::exception& x) {
    return Status::Corruption(std::string("an inbox entry: a field is missing or of the wrong type (") + x.what() +
                              ")");
  }
  if (out.name.empty() || out.name.size() > kMaxSignalNameBytes) {
    return Status::Corruption("an inbox entry's signal name is empty or over " + std::to_string(kMaxSignalNameBytes) +
                              " bytes");
  }
  if (out.key.size() > kMaxIdempotencyKeyBytes) return Status::Corruption("an inbox entry's key is too long");
  return out;
}

std::string EncodeDoneEvent(std::int64_t at_us, std::string_view runnable, std::string_view node,
                            std::int64_t duration_us, std::string_view fact, const std::vector<std::string>& parents,
                            std::string_view root, bool fallback, std::uint64_t inbox_sequence,
                            std::optional<std::uint64_t> elements, bool compensation) {
  const bool produced = !fact.empty();
  const std::size_t fields = (produced ? (fallback ? 7 : 6) : 4) + (produced && inbox_sequence > 0) +
                             (produced && elements.has_value()) + compensation;
  CborWriter w = Head(HistoryEventKind::kDone, at_us, fields);
  if (compensation) w.Text("u").Bool(true);
  w.Text("r").Text(runnable).Text("n").Text(node).Text("us").Int(duration_us).Text("f");
  if (!produced) return w.Null().Take();
  w.Text(fact).Text("p").TextArray(parents).Text("root").Text(root);
  if (fallback) w.Text("fb").Bool(true);
  if (inbox_sequence > 0) w.Text("q").Uint(inbox_sequence);
  if (elements) w.Text("m").Uint(*elements);
  return w.Take();
}

std::string EncodeFailEvent(std::int64_t at_us, std::string_view runnable, std::string_view node, int attempt,
                            std::int64_t duration_us, const Status& error, FailureOutcome outcome,
                            std::string_view halt_message, std::int64_t retry_due_us, bool compensation) {
  const bool halts = outcome == FailureOutcome::kHalt || outcome == FailureOutcome::kCompensate;
  const bool due = retry_due_us > 0 && outcome == FailureOutcome::kRetry;
  CborWriter w = Head(HistoryEventKind::kFail, at_us, (halts || due ? 8 : 7) + compensation);
  if (compensation) w.Text("u").Bool(true);
  if (halts) w.Text("h").Text(halt_message);
  if (due) w.Text("due").Int(retry_due_us);
  return w.Text("r")
      .Text(runnable)
      .Text("n")
      .Text(node)
      .Text("a")
      .Int(attempt)
      .Text("us")
      .Int(duration_us)
      .Text("e")
      .Text(std::string_view(error.message()).substr(0, kMaxRecordedError))
      .Text("c")
      .Int(static_cast<int>(error.code()))
      .Text("o")
      .Text(FailureOutcomeName(outcome))
      .Take();
}

std::string AttemptError(int attempt, Status::Code code, std::string_view message) {
  constexpr std::size_t kMaxPerAttempt = 512;
  std::string out = "attempt " + std::to_string(attempt) + ": " + Status::CodeName(code) + ": ";
  out += message.substr(0, kMaxPerAttempt);
  if (message.size() > kMaxPerAttempt) out += "...";
  return out;
}

Status CancelStatus(std::string_view id, bool terminated, std::string_view reason) {
  return Status::Cancelled("workflow '" + std::string(id) + "' was " + (terminated ? "terminated" : "cancelled") +
                           (reason.empty() ? std::string() : ": " + std::string(reason)));
}

Status StatusWithCode(Status::Code code, std::string_view msg) {
  switch (code) {
    case Status::Code::kNotFound:
      return Status::NotFound(msg);
    case Status::Code::kConflict:
      return Status::Conflict(msg);
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(msg);
    case Status::Code::kIOError:
      return Status::IOError(msg);
    case Status::Code::kCorruption:
      return Status::Corruption(msg);
    case Status::Code::kDeadlineExceeded:
      return Status::DeadlineExceeded(msg);
    case Status::Code::kOutcomeUnknown:
      return Status::OutcomeUnknown(msg);
    case Status::Code::kNotOwner:
      return Status::NotOwner(msg);
    case Status::Code::kInUse:
      return Status::InUse(msg);
    case Status::Code::kFailedPrecondition:
      return Status::FailedPrecondition(msg);
    case Status::Code::kResourceExhausted:
      return Status::ResourceExhausted(msg);
    case Status::Code::kCancelled:
      return Status::Cancelled(msg);
    default:
      return Status::Unavailable(msg);
  }
}

}  // namespace runic::internal

namespace runic {

const char* HistoryEventKindName(HistoryEventKind kind) {
  const auto i = static_cast<std::size_t>(kind);
  return i < std::size(internal::kKinds) ? internal::kKinds[i] : "?";
}

const char* FailureOutcomeName(FailureOutcome outcome) {
  const auto i = static_cast<std::size_t>(outcome);
  return i < std::size(internal::kOutcomes) ? internal::kOutcomes[i] : "?";
}

Result<HistoryEvent> DecodeHistoryEvent(std::uint64_t sequence, std::string_view bytes) {
  using internal::Get;
  using internal::GetOr;
  auto corrupt = [sequence](const std::string& what) {
    return Status::Corruption("event " + std::to_string(sequence) + ": " + what);
  };
  Result<Value> decoded = internal::DecodeValue(bytes);
  if (!decoded.ok() || !decoded->is_object()) return corrupt("not a CBOR map");
  const Value& e = *decoded;
  HistoryEvent out;
  out.sequence = sequence;
  try {
    const std::string type = Get<std::string>(e, "t");
    const auto* kind = std::find(std::begin(internal::kKinds), std::end(internal::kKinds), type);
    if (kind == std::end(internal::kKinds)) return corrupt("unknown event type '" + type + "'");
    out.kind = static_cast<HistoryEventKind>(kind - std::begin(internal::kKinds));
    out.at_us = GetOr<std::int64_t>(e, "at", 0);
    out.idempotency_key = GetOr<std::string>(e, "k", "");
    switch (out.kind) {
      case HistoryEventKind::kStart: {
        out.definition = Get<std::string>(e, "w");
        out.version = Get<int>(e, "v");
        out.fingerprint = Get<std::string>(e, "fp");
        if (auto o = e.find("opt"); o != e.end()) {
          Result<WorkflowOptions> options = internal::WorkflowOptionsFromValue(*o);
          if (!options.ok()) return corrupt("the started event: " + options.status().message());
          out.options = *options;
        }
        break;
      }
      case HistoryEventKind::kInput:
        out.fact = Get<std::string>(e, "f");
        out.ordinal = Get<std::uint64_t>(e, "o");
        break;
      case HistoryEventKind::kDispatch:
        out.runnable = Get<std::string>(e, "r");
        out.node = Get<std::string>(e, "n");
        out.attempt = Get<int>(e, "a");
        out.compensation = GetOr<bool>(e, "u", false);
        break;
      case HistoryEventKind::kWait:
        out.runnable = Get<std::string>(e, "r");
        out.node = Get<std::string>(e, "n");
        out.due_us = GetOr<std::int64_t>(e, "due", 0);
        out.event = GetOr<std::string>(e, "ev", "");
        if (out.due_us <= 0 && out.event.empty()) return corrupt("a wait with neither a due time nor an event");
        break;
      case HistoryEventKind::kSignal:
        out.inbox_sequence = Get<std::uint64_t>(e, "q");
        out.event = Get<std::string>(e, "n");
        out.fact = GetOr<std::string>(e, "f", "");
        if (out.fact.empty()) out.dropped = Get<std::string>(e, "x");
        if (out.inbox_sequence == 0) return corrupt("a signal of inbox sequence 0");
        break;
      case HistoryEventKind::kControl:
        out.inbox_sequence = Get<std::uint64_t>(e, "q");
        out.control = Get<std::string>(e, "c");
        out.reason = GetOr<std::string>(e, "why", "");
        out.dropped = GetOr<std::string>(e, "x", "");
        if (!internal::ControlByName(out.control)) {
          return corrupt("unknown control '" + out.control + "'");
        }
        break;
      case HistoryEventKind::kDone:
        out.runnable = Get<std::string>(e, "r");
        out.node = Get<std::string>(e, "n");
        out.duration_us = GetOr<std::int64_t>(e, "us", 0);
        out.compensation = GetOr<bool>(e, "u", false);
        if (!e.at("f").is_null()) {
          out.fact = Get<std::string>(e, "f");
          out.parents = Get<std::vector<std::string>>(e, "p");
          out.root = Get<std::string>(e, "root");
          out.fallback = GetOr<bool>(e, "fb", false);
          out.inbox_sequence = GetOr<std::uint64_t>(e, "q", 0);
          if (e.contains("m")) out.elements = Get<std::uint64_t>(e, "m");
        }
        break;
      case HistoryEventKind::kFail: {
        out.runnable = Get<std::string>(e, "r");
        out.node = Get<std::string>(e, "n");
        out.attempt = Get<int>(e, "a");
        out.duration_us = GetOr<std::int64_t>(e, "us", 0);
        out.compensation = GetOr<bool>(e, "u", false);
        const int code = Get<int>(e, "c");
        if (code < 0 || code > 255) return corrupt("status code " + std::to_string(code));
        out.error = internal::StatusWithCode(static_cast<Status::Code>(code), Get<std::string>(e, "e"));
        Result<FailureOutcome> outcome = internal::OutcomeByName(Get<std::string>(e, "o"));
        if (!outcome.ok()) return corrupt(outcome.status().message());
        out.outcome = *outcome;
        if (out.outcome == FailureOutcome::kRetry) out.due_us = GetOr<std::int64_t>(e, "due", 0);
        // Histories written before halt messages were recorded have none:
        // the message is made as it was then.
        out.halt_message =
            out.outcome != FailureOutcome::kHalt && out.outcome != FailureOutcome::kCompensate
                ? std::string()
                : GetOr<std::string>(e, "h",
                                     "node '" + out.node + "' failed after " + std::to_string(out.attempt) +
                                         " attempt(s): " + out.error.message());
        break;
      }
    }
  } catch (const Value::exception& x) {
    return corrupt(std::string("a field is missing or of the wrong type (") + x.what() + ")");
  }
  return out;
}

}  // namespace runic
