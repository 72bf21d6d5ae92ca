// conveyor's one error policy: expected failures are values, not exceptions.
//
// A `Result<T>` holds either a T or an `Error` (a stable code plus a human
// message). Libraries convert librdkafka / hiredis / OpenSSL / exit-code
// failures into an Error at their boundary; only start-up code throws.
// Modelled on std::expected (C++23), which g++ 12 lacks in C++20 mode.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace conveyor {

// Error kinds shared by every library; the message carries the detail.
enum class Errc {
  invalid_argument,  // caller passed something malformed (bad JSON, bad header)
  not_found,         // the thing asked for does not exist
  unavailable,       // a dependency (Kafka, Redis, a remote) cannot be reached now
  timeout,           // a bounded wait ran out
  conflict,          // state changed underneath (lock lost, ref moved)
  internal,          // a bug or an unexpected library failure
};

// Short stable name of an Errc, e.g. "unavailable"; used in logs and headers.
const char* errc_name(Errc code) noexcept;

// An expected failure: a code to branch on and a message for people.
// Messages never contain secrets.
struct Error {
  Errc code = Errc::internal;
  std::string message;
};

inline Error make_error(Errc code, std::string message) { return Error{code, std::move(message)}; }

// Either a value or an Error. `ok()` tells which; `value()` / `error()` access
// them (accessing the wrong one is a programming error and aborts).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}      // NOLINT: implicit by design

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Result of an operation that yields nothing but success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_{};
  bool ok_ = true;
};

}  // namespace conveyor
