// berth/base: the one error type and Result<T>.
//
// Promise: every fallible library call returns Result<T>; an Error carries a
// code (for callers to branch on), and a one-line message that says what
// failed, on which object, and why. Exceptions never cross a library boundary.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace berth {

enum class Errc {
  invalid_argument,  // caller passed something malformed (bad flag, bad reference)
  invalid_input,     // untrusted input (tar, JSON, HTTP) is malformed or hostile
  not_found,
  already_exists,
  io,                // a system call failed; errno is kept
  digest_mismatch,
  size_mismatch,
  unsupported,
  permission,
  busy,              // locked / in use
  limit,             // a size or count limit was exceeded
  network,
  unauthorized,
  denied,
  timeout,
  internal,
};

const char* errc_name(Errc c);

struct Error {
  Errc code = Errc::internal;
  std::string message;
  int sys_errno = 0;

  Error() = default;
  Error(Errc c, std::string m, int e = 0) : code(c), message(std::move(m)), sys_errno(e) {}

  // The message, with strerror appended when a system call is the cause.
  std::string str() const;
  // Prefix context: "loading image foo: " + message.
  Error& wrap(std::string_view context);
};

// An Error from the current errno: "open /x: No such file or directory".
Error sys_error(std::string_view what, int err = errno);
inline Error make_error(Errc c, std::string m) { return Error(c, std::move(m)); }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::in_place_index<0>, std::move(v)) {}
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T value_or(T fallback) const& { return ok() ? std::get<0>(v_) : std::move(fallback); }
  T value_or(T fallback) && { return ok() ? std::get<0>(std::move(v_)) : std::move(fallback); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return err_; }
  Error&& error() && { return std::move(err_); }

 private:
  Error err_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace berth

// Propagate an error: TRY(expr) for Status, TRY_ASSIGN(var, expr) for Result<T>.
#define BERTH_CONCAT_(a, b) a##b
#define BERTH_CONCAT(a, b) BERTH_CONCAT_(a, b)
#define TRY(expr)                                            \
  do {                                                       \
    auto&& berth_try_r_ = (expr);                            \
    if (!berth_try_r_.ok()) return std::move(berth_try_r_).error(); \
  } while (0)
#define TRY_ASSIGN_IMPL(tmp, lhs, expr)                      \
  auto tmp = (expr);                                         \
  if (!tmp.ok()) return std::move(tmp).error();              \
  lhs = std::move(tmp).value()
#define TRY_ASSIGN(lhs, expr) TRY_ASSIGN_IMPL(BERTH_CONCAT(berth_try_, __LINE__), lhs, expr)
