#include "runic/status.h"

namespace runic {

Status Status::Trimmed(std::uint64_t first_kept, std::string_view msg) {
  Status s(Code::kTrimmed, msg);
  s.first_kept_ = first_kept;
  return s;
}

const char* Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "NotFound";
    case Code::kConflict:
      return "Conflict";
    case Code::kInvalidArgument:
      return "InvalidArgument";
    case Code::kIOError:
      return "IOError";
    case Code::kCorruption:
      return "Corruption";
    case Code::kTrimmed:
      return "Trimmed";
    case Code::kUnavailable:
      return "Unavailable";
    case Code::kDeadlineExceeded:
      return "DeadlineExceeded";
    case Code::kOutcomeUnknown:
      return "OutcomeUnknown";
    case Code::kNotOwner:
      return "NotOwner";
    case Code::kInUse:
      return "InUse";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = CodeName(code_);
  out += ": ";
  out += message_;
  return out;
}

}  // namespace runic
