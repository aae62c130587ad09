// Result<T>: a value of type T, or the Status that explains why there is none.
//
// Thread safety: a value type, as Status.
#ifndef RUNIC_RESULT_H_
#define RUNIC_RESULT_H_

#include <type_traits>
#include <utility>
#include <variant>

#include "runic/status.h"

namespace runic {

template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<T, Status>, "use Status directly");

 public:
  // A successful result holding `value`.
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  // A failed result. `status` must not be ok(); an ok status is turned into
  // InvalidArgument so the mistake can never pass as a success.
  Result(Status status)  // NOLINT
      : state_(std::in_place_index<1>, status.ok()
                                           ? Status::InvalidArgument("Result built from an OK status without a value")
                                           : std::move(status)) {}

  bool ok() const { return state_.index() == 0; }
  // OK when a value is held.
  Status status() const { return ok() ? Status::OK() : *std::get_if<1>(&state_); }

  // The value. Calling these (or *, ->) on a failed result is a programming
  // error, not an error value: check ok() first. It aborts the process in
  // every build mode, after writing "runic: Result::value() called on a
  // failed result: <status>" to stderr; it never throws.
  T& value() & { return *Checked(); }
  const T& value() const& { return *Checked(); }
  T&& value() && { return std::move(*Checked()); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  T* Checked() {
    if (!ok()) internal::DieOnFailedResultAccess(*std::get_if<1>(&state_));
    return std::get_if<0>(&state_);
  }
  const T* Checked() const {
    if (!ok()) internal::DieOnFailedResultAccess(*std::get_if<1>(&state_));
    return std::get_if<0>(&state_);
  }

  std::variant<T, Status> state_;
};

}  // namespace runic

#endif  // RUNIC_RESULT_H_
