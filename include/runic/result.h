// Result<T>: a value of type T, or the Status that explains why there is none.
//
// Thread safety: a value type, as Status.
#ifndef RUNIC_RESULT_H_
#define RUNIC_RESULT_H_

#include <cassert>
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
  Status status() const { return ok() ? Status::OK() : std::get<1>(state_); }

  // The value. Calling these on a failed result is a programming error
  // (asserted in debug builds, std::bad_variant_access otherwise).
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> state_;
};

}  // namespace runic

#endif  // RUNIC_RESULT_H_
