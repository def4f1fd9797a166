// Result<T>: the control-path error regime (STYLE.md convention 5).
//
// A Result holds either a value or an Error: a std::error_code plus a
// human-readable message that names the file, device or value at fault.
// The data path never uses Result; it reports through counters.
#pragma once

#include <cerrno>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace aether {

struct Error {
  std::error_code code;
  std::string message;  // e.g. "cannot read /sys/devices/system/cpu/online: No such file"

  // "message (code text)" for printing to a person.
  [[nodiscard]] std::string describe() const {
    if (!code) return message;
    return fmt::format("{} ({})", message, code.message());
  }
};

// Builds an Error from errno (or an explicit errno value) and a message.
[[nodiscard]] inline Error errno_error(std::string message, int errno_value = errno) {
  return Error{std::error_code(errno_value, std::system_category()), std::move(message)};
}

// Builds an Error for invalid input where no errno applies.
[[nodiscard]] inline Error invalid_argument(std::string message) {
  return Error{std::make_error_code(std::errc::invalid_argument), std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  [[nodiscard]] bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // Preconditions: ok() for value(), !ok() for error(). Checked by std::get.
  [[nodiscard]] T& value() & { return std::get<0>(state_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(state_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(state_)); }
  [[nodiscard]] const Error& error() const& { return std::get<1>(state_); }
  [[nodiscard]] Error&& error() && { return std::get<1>(std::move(state_)); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT

  [[nodiscard]] bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  [[nodiscard]] const Error& error() const& { return error_; }
  [[nodiscard]] Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool failed_ = false;
};

}  // namespace aether
