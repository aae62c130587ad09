// Status: the outcome of an operation. Errors are values in Runic: no
// exception crosses the public API. A Status is cheap to copy when ok().
// Misusing a value is not an error value but a programming error: reading
// the value of a failed Result<T> aborts the process (see result.h).
//
// Thread safety: a Status is a value; distinct objects may be used from
// distinct threads without synchronisation, like std::string.
#ifndef RUNIC_STATUS_H_
#define RUNIC_STATUS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "runic/export.h"

namespace runic {

class [[nodiscard]] RUNIC_EXPORT Status {
 public:
  enum class Code : std::uint8_t {
    kOk = 0,
    kNotFound = 1,             // the id, hash or runner has no such record
    kConflict = 2,             // an expected cursor did not match; nothing written
    kInvalidArgument = 3,      // bad input or options; nothing written
    kIOError = 4,              // the file system failed (full disk, bad path, ...); a
                               // write that fails so was not acknowledged, but, as in any
                               // database, may still be found after a restart if its log
                               // record reached the disk: retry with an expected cursor
    kCorruption = 5,           // stored bytes fail their checks; never returned as data
    kTrimmed = 6,              // the events asked for were trimmed; see first_kept_sequence()
    kUnavailable = 7,          // the engine cannot serve now (no quorum, closed); nothing written
    kDeadlineExceeded = 8,     // the call's deadline passed before it started writing
    kOutcomeUnknown = 9,       // a write may or may not have been applied
    kNotOwner = 10,            // the caller lost ownership of the workflow (fencing)
    kInUse = 11,               // the database is held by another process
    kFailedPrecondition = 12,  // the workflow is not in a state that allows this (a
                               // halted workflow takes no input); nothing written
    kResourceExhausted = 13,   // a per-workflow bound was reached; nothing written
    kCancelled = 14,           // the workflow was cancelled or terminated (the reason)
  };

  // An ok status.
  Status() = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg) { return Status(Code::kNotFound, msg); }
  static Status Conflict(std::string_view msg) { return Status(Code::kConflict, msg); }
  static Status InvalidArgument(std::string_view msg) { return Status(Code::kInvalidArgument, msg); }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status Unavailable(std::string_view msg) { return Status(Code::kUnavailable, msg); }
  static Status DeadlineExceeded(std::string_view msg) { return Status(Code::kDeadlineExceeded, msg); }
  static Status OutcomeUnknown(std::string_view msg) { return Status(Code::kOutcomeUnknown, msg); }
  static Status NotOwner(std::string_view msg) { return Status(Code::kNotOwner, msg); }
  static Status InUse(std::string_view msg) { return Status(Code::kInUse, msg); }
  static Status FailedPrecondition(std::string_view msg) { return Status(Code::kFailedPrecondition, msg); }
  static Status ResourceExhausted(std::string_view msg) { return Status(Code::kResourceExhausted, msg); }
  static Status Cancelled(std::string_view msg) { return Status(Code::kCancelled, msg); }
  // `first_kept` is the lowest sequence still stored for the workflow.
  static Status Trimmed(std::uint64_t first_kept, std::string_view msg);

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // One predicate per code: IsXxx() is code() == Code::kXxx.
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsConflict() const { return code_ == Code::kConflict; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsIOError() const { return code_ == Code::kIOError; }
  bool IsCorruption() const { return code_ == Code::kCorruption; }
  bool IsTrimmed() const { return code_ == Code::kTrimmed; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  bool IsDeadlineExceeded() const { return code_ == Code::kDeadlineExceeded; }
  bool IsOutcomeUnknown() const { return code_ == Code::kOutcomeUnknown; }
  bool IsNotOwner() const { return code_ == Code::kNotOwner; }
  bool IsInUse() const { return code_ == Code::kInUse; }
  bool IsFailedPrecondition() const { return code_ == Code::kFailedPrecondition; }
  bool IsResourceExhausted() const { return code_ == Code::kResourceExhausted; }
  bool IsCancelled() const { return code_ == Code::kCancelled; }

  // The human-readable detail, without the code's name. Empty when ok().
  const std::string& message() const { return message_; }
  // For kTrimmed: the first sequence still stored. 0 for every other code.
  std::uint64_t first_kept_sequence() const { return first_kept_; }

  // "OK", or "<code name>: <message>".
  std::string ToString() const;

  // This status with "<context>: " before its message: the same code (and
  // first kept sequence). OK stays OK.
  Status Annotate(std::string_view context) const;

  // The stable name of a code, e.g. "NotFound".
  static const char* CodeName(Code code);

 private:
  Status(Code code, std::string_view msg) : code_(code), message_(msg) {}

  Code code_ = Code::kOk;
  std::uint64_t first_kept_ = 0;
  std::string message_;
};

namespace internal {
// Writes "runic: Result::value() called on a failed result: <status>" to
// stderr and aborts the process, in every build mode. Result<T> calls it when
// its value is read without one; not for other use.
[[noreturn]] RUNIC_EXPORT void DieOnFailedResultAccess(const Status& status);
}  // namespace internal

}  // namespace runic

#endif  // RUNIC_STATUS_H_
