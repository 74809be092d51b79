//===- Json.h - A small strict JSON reader and string writer ----*- C++ -*-===//
//
// Enough JSON for file headers (safetensors) without a third-party library.
// The parser accepts exactly RFC 8259: no comments, no trailing commas, no
// NaN, strings must be valid UTF-8, and it additionally rejects duplicate keys
// in an object and nesting deeper than kMaxJsonDepth (so a hostile header
// cannot exhaust the stack).
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_JSON_H
#define MOE_RUNTIME_JSON_H

#include "runtime/Status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

struct JsonMember;

/// A parsed JSON value.
struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Kind kind = Kind::Null;
  bool boolean = false;
  /// String: the decoded UTF-8 text. Number: the literal exactly as written.
  std::string text;
  std::vector<JsonValue> elements;
  /// Object members in document order; keys are unique.
  std::vector<JsonMember> members;

  /// The member named `key` of an object, or null.
  const JsonValue *find(std::string_view key) const;
  /// The value of a Number written as a plain non-negative integer (no sign,
  /// fraction or exponent) that fits in 64 bits.
  std::optional<uint64_t> asUint64() const;

  /// "null", "boolean", "number", "string", "array", "object".
  static std::string_view kindName(Kind kind);
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

inline constexpr int kMaxJsonDepth = 64;

/// Parses a complete JSON document; `text` may have whitespace around the
/// value and nothing else. Failures read "at byte 17: expected ':' after an
/// object key".
Expected<JsonValue> parseJson(std::string_view text);

/// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates).
bool isValidUtf8(std::string_view text);

/// Appends `text` (valid UTF-8) to `out` as a quoted JSON string literal.
void appendJsonString(std::string &out, std::string_view text);

} // namespace moe

#endif // MOE_RUNTIME_JSON_H
