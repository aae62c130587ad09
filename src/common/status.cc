#include "runic/status.h"

#include <cstdio>
#include <cstdlib>

namespace runic {

namespace internal {

// Out of line, so that every Result<T>::value() shares one small, cold call
// and the message is the same whatever T is. It allocates nothing (the
// process may be out of memory): hence no ToString().
void DieOnFailedResultAccess(const Status& status) {
  std::fprintf(stderr, "runic: Result::value() called on a failed result: %s: %s\n", Status::CodeName(status.code()),
               status.message().c_str());
  std::abort();
}

}  // namespace internal

Status Status::Trimmed(std::uint64_t first_kept, std::string_view msg) {
  Status s(Code::kTrimmed, msg);
  s.first_kept_ = first_kept;
  return s;
}

Status Status::Annotate(std::string_view context) const {
  if (ok()) return *this;
  Status s = *this;
  s.message_ = std::string(context) + ": " + message_;
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
    case Code::kFailedPrecondition:
      return "FailedPrecondition";
    case Code::kResourceExhausted:
      return "ResourceExhausted";
    case Code::kCancelled:
      return "Cancelled";
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
