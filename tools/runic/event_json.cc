#include "event_json.h"

namespace runic::cli {
namespace {

// The CBOR item in `bytes`, or a discarded value.
Json DecodeCbor(std::string_view bytes) {
  return Json::from_cbor(bytes.begin(), bytes.end(), /*strict=*/true, /*allow_exceptions=*/false);
}

Json FactValue(Store& store, const std::string& hash) {
  Result<std::string> bytes = store.LoadFact(hash);
  if (!bytes.ok()) return Json{{"missing", bytes.status().ToString()}};
  Json value = DecodeCbor(*bytes);
  return value.is_discarded() ? BytesJson(*bytes) : value;
}

// A Status code as the Runner records it (its number) by name:
// "Unavailable", not 7. A number no Status::Code has stays a number.
Json CodeJson(const Json& code) {
  if (!code.is_number_unsigned() || code.get<std::uint64_t>() > 255) return code;
  const char* name = Status::CodeName(static_cast<Status::Code>(code.get<std::uint64_t>()));
  return std::string_view(name) == "Unknown" ? code : Json(name);
}

// Copies e[key] to out[name] when present.
void Copy(const Json& e, const char* key, Json& out, const char* name) {
  if (auto it = e.find(key); it != e.end()) out[name] = *it;
}

}  // namespace

Json EventJson(std::uint64_t sequence, std::string_view bytes, Store& store) {
  Json out{{"seq", sequence}};
  const Json e = DecodeCbor(bytes);
  if (e.is_discarded() || !e.is_object() || !e.contains("t") || !e.at("t").is_string()) {
    out["base64"] = Base64(bytes);
    return out;
  }
  const std::string type = e.at("t").get<std::string>();
  out["type"] = type;
  if (auto at = e.find("at"); at != e.end() && at->is_number_integer()) {
    out["time"] = IsoTimeMicros(at->get<std::int64_t>());
  }
  Copy(e, "n", out, "step");
  Copy(e, "r", out, "runnable");
  Copy(e, "a", out, "attempt");
  Copy(e, "us", out, "duration_us");
  if (type == "start") {
    Copy(e, "w", out, "workflow");
    Copy(e, "v", out, "version");
    Copy(e, "fp", out, "fingerprint");
    Copy(e, "opt", out, "options");
    Copy(e, "k", out, "idempotency_key");
  } else if (type == "input") {
    Copy(e, "o", out, "ordinal");
    Copy(e, "k", out, "idempotency_key");
  } else if (type == "done") {
    Copy(e, "p", out, "parents");
    Copy(e, "fb", out, "fallback");
  } else if (type == "fail") {
    Copy(e, "e", out, "error");
    if (auto c = e.find("c"); c != e.end()) out["code"] = CodeJson(*c);
    Copy(e, "o", out, "outcome");
    Copy(e, "h", out, "halt");
  }
  if (auto f = e.find("f"); f != e.end()) {
    out["fact"] = *f;
    if (f->is_string()) out["value"] = FactValue(store, f->get<std::string>());
  }
  return out;
}

Json SnapshotJson(std::string_view bytes) {
  Json state = DecodeCbor(bytes);
  if (state.is_discarded()) return BytesJson(bytes);
  // A Runner's snapshot (definition, fingerprint, halt state): its halting
  // error's code by name, as in fail events.
  if (state.is_object() && state.contains("fp") && state.contains("halted") && state.contains("code")) {
    state["code"] = CodeJson(state["code"]);
  }
  return state;
}

}  // namespace runic::cli
