//===- Status.h - Error values for the runtime ------------------*- C++ -*-===//
//
// The runtime reports every failure as a value, never as an exception, so it
// can be called from C and from code built with -fno-exceptions. A failure is a
// one-line, human-readable message that names the file or tensor involved.
//
//   Expected<HostTensor> t = readNpy("x.npy");
//   if (!t)
//     return t.status();        // propagate
//   use(*t);
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_STATUS_H
#define MOE_RUNTIME_STATUS_H

#include <cassert>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace moe {

/// Success, or a failure with a message. Cheap to return on success.
class [[nodiscard]] Status {
public:
  static Status success() { return Status(); }

  /// A failure whose message is the concatenation of `parts` (anything that
  /// can be written to a std::ostream).
  template <typename... Parts> static Status failure(Parts &&...parts) {
    std::ostringstream os;
    (os << ... << std::forward<Parts>(parts));
    Status status;
    status.failed = true;
    status.text = os.str();
    return status;
  }

  bool ok() const { return !failed; }
  /// The failure message; empty on success.
  const std::string &message() const { return text; }

  /// Returns a failure whose message is `prefix` followed by this message;
  /// used to add context (a file, a tensor) while propagating.
  Status withPrefix(const std::string &prefix) const {
    return ok() ? *this : failure(prefix, text);
  }

private:
  Status() = default;
  bool failed = false;
  std::string text;
};

/// A T, or the failure Status explaining why there is none.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : storage(std::in_place_index<0>, std::move(value)) {}
  /// `status` must be a failure.
  Expected(Status status) : storage(std::in_place_index<1>, std::move(status)) {
    assert(!std::get<1>(storage).ok() && "Expected built from a success");
  }

  bool ok() const { return storage.index() == 0; }
  explicit operator bool() const { return ok(); }

  /// Success, or the failure; valid in both states.
  Status status() const {
    return ok() ? Status::success() : std::get<1>(storage);
  }
  /// The failure message; empty on success.
  const std::string &message() const {
    static const std::string empty;
    return ok() ? empty : std::get<1>(storage).message();
  }

  // Value access; only valid when ok().
  T &value() & { return checkedValue(); }
  const T &value() const & { return checkedValue(); }
  T &&value() && { return std::move(checkedValue()); }
  T &operator*() & { return checkedValue(); }
  const T &operator*() const & { return checkedValue(); }
  T &&operator*() && { return std::move(checkedValue()); }
  T *operator->() { return &checkedValue(); }
  const T *operator->() const { return &checkedValue(); }

private:
  T &checkedValue() {
    assert(ok() && "accessing the value of a failed Expected");
    return *std::get_if<0>(&storage);
  }
  const T &checkedValue() const {
    assert(ok() && "accessing the value of a failed Expected");
    return *std::get_if<0>(&storage);
  }

  std::variant<T, Status> storage;
};

/// `text` in single quotes for a message, with quotes and backslashes escaped
/// and bytes outside printable ASCII written as \n or \xNN, so the message is
/// one line of ASCII whatever a file contains.
inline std::string quote(std::string_view text) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "'";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (byte < 0x20 || byte >= 0x7f) {
      out += "\\x";
      out += hex[byte >> 4];
      out += hex[byte & 0xF];
    } else {
      out += c;
    }
  }
  return out + "'";
}

} // namespace moe

#endif // MOE_RUNTIME_STATUS_H
