#include "runner/history_codec.h"

#include <algorithm>

#include "runner/cbor_writer.h"
#include "runner/hash.h"
#include "runner/options_codec.h"

namespace runic::internal {
namespace {

constexpr const char* kOutcomes[] = {"retry", "fallback", "skip", "halt"};
constexpr const char* kKinds[] = {"start", "input", "dispatch", "done", "fail"};

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

std::string EncodeDispatchEvent(std::int64_t at_us, std::string_view runnable, std::string_view node, int attempt) {
  return Head(HistoryEventKind::kDispatch, at_us, 3)
      .Text("r")
      .Text(runnable)
      .Text("n")
      .Text(node)
      .Text("a")
      .Int(attempt)
      .Take();
}

std::string EncodeDoneEvent(std::int64_t at_us, std::string_view runnable, std::string_view node,
                            std::int64_t duration_us, std::string_view fact, const std::vector<std::string>& parents,
                            std::string_view root, bool fallback) {
  const bool produced = !fact.empty();
  CborWriter w = Head(HistoryEventKind::kDone, at_us, produced ? (fallback ? 7 : 6) : 4);
  w.Text("r").Text(runnable).Text("n").Text(node).Text("us").Int(duration_us).Text("f");
  if (!produced) return w.Null().Take();
  w.Text(fact).Text("p").TextArray(parents).Text("root").Text(root);
  if (fallback) w.Text("fb").Bool(true);
  return w.Take();
}

std::string EncodeFailEvent(std::int64_t at_us, std::string_view runnable, std::string_view node, int attempt,
                            std::int64_t duration_us, const Status& error, FailureOutcome outcome,
                            std::string_view halt_message) {
  const bool halts = outcome == FailureOutcome::kHalt;
  CborWriter w = Head(HistoryEventKind::kFail, at_us, halts ? 8 : 7);
  if (halts) w.Text("h").Text(halt_message);
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
        break;
      case HistoryEventKind::kDone:
        out.runnable = Get<std::string>(e, "r");
        out.node = Get<std::string>(e, "n");
        out.duration_us = GetOr<std::int64_t>(e, "us", 0);
        if (!e.at("f").is_null()) {
          out.fact = Get<std::string>(e, "f");
          out.parents = Get<std::vector<std::string>>(e, "p");
          out.root = Get<std::string>(e, "root");
          out.fallback = GetOr<bool>(e, "fb", false);
        }
        break;
      case HistoryEventKind::kFail: {
        out.runnable = Get<std::string>(e, "r");
        out.node = Get<std::string>(e, "n");
        out.attempt = Get<int>(e, "a");
        out.duration_us = GetOr<std::int64_t>(e, "us", 0);
        const int code = Get<int>(e, "c");
        if (code < 0 || code > 255) return corrupt("status code " + std::to_string(code));
        out.error = internal::StatusWithCode(static_cast<Status::Code>(code), Get<std::string>(e, "e"));
        Result<FailureOutcome> outcome = internal::OutcomeByName(Get<std::string>(e, "o"));
        if (!outcome.ok()) return corrupt(outcome.status().message());
        out.outcome = *outcome;
        // Histories written before halt messages were recorded have none:
        // the message is made as it was then.
        out.halt_message =
            out.outcome != FailureOutcome::kHalt
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
