//===- Json.cpp - A small strict JSON reader and string writer ------------===//

#include "runtime/Json.h"

#include <unordered_set>

using namespace moe;

const JsonValue *JsonValue::find(std::string_view key) const {
  for (const JsonMember &member : members)
    if (member.key == key)
      return &member.value;
  return nullptr;
}

std::optional<uint64_t> JsonValue::asUint64() const {
  if (kind != Kind::Number || text.empty())
    return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10)
      return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::string_view JsonValue::kindName(Kind kind) {
  switch (kind) {
  case Kind::Null:
    return "null";
  case Kind::Bool:
    return "boolean";
  case Kind::Number:
    return "number";
  case Kind::String:
    return "string";
  case Kind::Array:
    return "array";
  case Kind::Object:
    return "object";
  }
  return "unknown";
}

namespace {
/// Decodes one UTF-8 sequence at `text[pos]`; returns its length, or 0 if it
/// is malformed. Stores the code point in `codePoint`.
size_t decodeUtf8(std::string_view text, size_t pos, uint32_t &codePoint) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  unsigned char lead = byte(pos);
  size_t length;
  uint32_t minimum;
  if (lead < 0x80) {
    codePoint = lead;
    return 1;
  }
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    minimum = 0x80;
    codePoint = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    minimum = 0x800;
    codePoint = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    minimum = 0x10000;
    codePoint = lead & 0x07;
  } else {
    return 0;
  }
  if (text.size() - pos < length)
    return 0;
  for (size_t i = 1; i < length; ++i) {
    if ((byte(pos + i) & 0xC0) != 0x80)
      return 0;
    codePoint = (codePoint << 6) | (byte(pos + i) & 0x3F);
  }
  bool surrogate = codePoint >= 0xD800 && codePoint <= 0xDFFF;
  if (codePoint < minimum || codePoint > 0x10FFFF || surrogate)
    return 0;
  return length;
}

void appendUtf8(std::string &out, uint32_t codePoint) {
  if (codePoint < 0x80) {
    out += static_cast<char>(codePoint);
  } else if (codePoint < 0x800) {
    out += static_cast<char>(0xC0 | (codePoint >> 6));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  } else if (codePoint < 0x10000) {
    out += static_cast<char>(0xE0 | (codePoint >> 12));
    out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (codePoint >> 18));
    out += static_cast<char>(0x80 | ((codePoint >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((codePoint >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (codePoint & 0x3F));
  }
}

class Parser {
public:
  explicit Parser(std::string_view input) : text(input) {}

  Expected<JsonValue> parseDocument() {
    JsonValue value;
    skipWhitespace();
    if (Status s = parseValue(value, 0); !s.ok())
      return s;
    skipWhitespace();
    if (pos != text.size())
      return error("unexpected characters after the JSON value");
    return value;
  }

private:
  Status error(std::string_view what) const {
    return Status::failure("at byte ", pos, ": ", what);
  }

  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return text[pos]; }

  void skipWhitespace() {
    while (!atEnd() && (peek() == ' ' || peek() == '\t' || peek() == '\n' ||
                        peek() == '\r'))
      ++pos;
  }

  bool consumeLiteral(std::string_view literal) {
    if (text.substr(pos, literal.size()) != literal)
      return false;
    pos += literal.size();
    return true;
  }

  Status parseValue(JsonValue &value, int depth) {
    if (atEnd())
      return error("unexpected end of input, expected a value");
    switch (peek()) {
    case '{':
      return parseObject(value, depth + 1);
    case '[':
      return parseArray(value, depth + 1);
    case '"':
      value.kind = JsonValue::Kind::String;
      return parseString(value.text);
    case 't':
    case 'f':
      value.kind = JsonValue::Kind::Bool;
      value.boolean = peek() == 't';
      if (consumeLiteral(value.boolean ? "true" : "false"))
        return Status::success();
      return error("invalid literal");
    case 'n':
      value.kind = JsonValue::Kind::Null;
      if (consumeLiteral("null"))
        return Status::success();
      return error("invalid literal");
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
        return parseNumber(value);
      return error("expected a value");
    }
  }

  Status parseObject(JsonValue &value, int depth) {
    if (depth > kMaxJsonDepth)
      return error("nesting is too deep");
    value.kind = JsonValue::Kind::Object;
    ++pos; // '{'
    skipWhitespace();
    if (!atEnd() && peek() == '}') {
      ++pos;
      return Status::success();
    }
    std::unordered_set<std::string> keys;
    while (true) {
      skipWhitespace();
      if (atEnd() || peek() != '"')
        return error("expected a string key");
      size_t keyStart = pos;
      JsonMember member;
      if (Status s = parseString(member.key); !s.ok())
        return s;
      if (!keys.insert(member.key).second) {
        pos = keyStart;
        return error("duplicate key " + quote(member.key));
      }
      skipWhitespace();
      if (atEnd() || peek() != ':')
        return error("expected ':' after an object key");
      ++pos;
      skipWhitespace();
      if (Status s = parseValue(member.value, depth); !s.ok())
        return s;
      value.members.push_back(std::move(member));
      skipWhitespace();
      if (atEnd())
        return error("unexpected end of input, expected ',' or '}'");
      if (peek() == '}') {
        ++pos;
        return Status::success();
      }
      if (peek() != ',')
        return error("expected ',' or '}' in an object");
      ++pos;
    }
  }

  Status parseArray(JsonValue &value, int depth) {
    if (depth > kMaxJsonDepth)
      return error("nesting is too deep");
    value.kind = JsonValue::Kind::Array;
    ++pos; // '['
    skipWhitespace();
    if (!atEnd() && peek() == ']') {
      ++pos;
      return Status::success();
    }
    while (true) {
      skipWhitespace();
      JsonValue element;
      if (Status s = parseValue(element, depth); !s.ok())
        return s;
      value.elements.push_back(std::move(element));
      skipWhitespace();
      if (atEnd())
        return error("unexpected end of input, expected ',' or ']'");
      if (peek() == ']') {
        ++pos;
        return Status::success();
      }
      if (peek() != ',')
        return error("expected ',' or ']' in an array");
      ++pos;
    }
  }

  bool isDigit() const { return !atEnd() && peek() >= '0' && peek() <= '9'; }

  Status parseNumber(JsonValue &value) {
    size_t start = pos;
    if (peek() == '-')
      ++pos;
    if (!isDigit())
      return error("expected a digit");
    if (peek() == '0') {
      ++pos;
      if (isDigit())
        return error("leading zeros are not allowed");
    } else {
      while (isDigit())
        ++pos;
    }
    if (!atEnd() && peek() == '.') {
      ++pos;
      if (!isDigit())
        return error("expected a digit after '.'");
      while (isDigit())
        ++pos;
    }
    if (!atEnd() && (peek() == 'e' || peek() == 'E')) {
      ++pos;
      if (!atEnd() && (peek() == '+' || peek() == '-'))
        ++pos;
      if (!isDigit())
        return error("expected a digit in the exponent");
      while (isDigit())
        ++pos;
    }
    value.kind = JsonValue::Kind::Number;
    value.text = std::string(text.substr(start, pos - start));
    return Status::success();
  }

  Status parseHex4(uint32_t &result) {
    if (text.size() - pos < 4)
      return error("unexpected end of input in a \\u escape");
    result = 0;
    for (int i = 0; i < 4; ++i, ++pos) {
      char c = peek();
      uint32_t digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else
        return error("invalid hex digit in a \\u escape");
      result = result * 16 + digit;
    }
    return Status::success();
  }

  Status parseEscape(std::string &out) {
    ++pos; // '\\'
    if (atEnd())
      return error("unexpected end of input in an escape");
    char c = peek();
    ++pos;
    switch (c) {
    case '"':
    case '\\':
    case '/':
      out += c;
      return Status::success();
    case 'b':
      out += '\b';
      return Status::success();
    case 'f':
      out += '\f';
      return Status::success();
    case 'n':
      out += '\n';
      return Status::success();
    case 'r':
      out += '\r';
      return Status::success();
    case 't':
      out += '\t';
      return Status::success();
    case 'u':
      break;
    default:
      --pos;
      return error("invalid escape character");
    }
    uint32_t codePoint = 0;
    if (Status s = parseHex4(codePoint); !s.ok())
      return s;
    if (codePoint >= 0xDC00 && codePoint <= 0xDFFF)
      return error("unpaired low surrogate in a \\u escape");
    if (codePoint >= 0xD800 && codePoint <= 0xDBFF) {
      if (!consumeLiteral("\\u"))
        return error("unpaired high surrogate in a \\u escape");
      uint32_t low;
      if (Status s = parseHex4(low); !s.ok())
        return s;
      if (low < 0xDC00 || low > 0xDFFF)
        return error("invalid low surrogate in a \\u escape");
      codePoint = 0x10000 + ((codePoint - 0xD800) << 10) + (low - 0xDC00);
    }
    appendUtf8(out, codePoint);
    return Status::success();
  }

  Status parseString(std::string &out) {
    ++pos; // opening quote
    while (true) {
      if (atEnd())
        return error("unterminated string");
      unsigned char c = static_cast<unsigned char>(peek());
      if (c == '"') {
        ++pos;
        return Status::success();
      }
      if (c == '\\') {
        if (Status s = parseEscape(out); !s.ok())
          return s;
        continue;
      }
      if (c < 0x20)
        return error("unescaped control character in a string");
      uint32_t codePoint = 0;
      size_t length = decodeUtf8(text, pos, codePoint);
      if (length == 0)
        return error("invalid UTF-8 in a string");
      out.append(text.substr(pos, length));
      pos += length;
    }
  }

  std::string_view text;
  size_t pos = 0;
};
} // namespace

Expected<JsonValue> moe::parseJson(std::string_view text) {
  return Parser(text).parseDocument();
}

bool moe::isValidUtf8(std::string_view text) {
  uint32_t codePoint = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t length = decodeUtf8(text, pos, codePoint);
    if (length == 0)
      return false;
    pos += length;
  }
  return true;
}

void moe::appendJsonString(std::string &out, std::string_view text) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += hex[byte >> 4];
      out += hex[byte & 0xF];
    } else {
      out += c;
    }
  }
  out += '"';
}
