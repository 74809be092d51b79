//===- JsonTest.cpp - The strict JSON reader ------------------------------===//

#include "runtime/Json.h"

#include <gtest/gtest.h>

using namespace moe;

namespace {

TEST(JsonTest, ParsesValuesAndKeepsMemberOrder) {
  Expected<JsonValue> doc = parseJson(
      R"( {"b": [1, -2.5e3, true, false, null], "a": {"x": "y"}, "c": {}} )");
  ASSERT_TRUE(doc.ok()) << doc.message();
  ASSERT_EQ(doc->kind, JsonValue::Kind::Object);
  ASSERT_EQ(doc->members.size(), 3u);
  EXPECT_EQ(doc->members[0].key, "b");
  EXPECT_EQ(doc->members[1].key, "a");
  const JsonValue *b = doc->find("b");
  ASSERT_NE(b, nullptr);
  ASSERT_EQ(b->elements.size(), 5u);
  EXPECT_EQ(b->elements[0].asUint64(), 1u);
  EXPECT_EQ(b->elements[1].text, "-2.5e3");
  EXPECT_EQ(b->elements[2].kind, JsonValue::Kind::Bool);
  EXPECT_TRUE(b->elements[2].boolean);
  EXPECT_FALSE(b->elements[3].boolean);
  EXPECT_EQ(b->elements[4].kind, JsonValue::Kind::Null);
  EXPECT_EQ(doc->find("a")->find("x")->text, "y");
  EXPECT_EQ(doc->find("missing"), nullptr);
}

TEST(JsonTest, AsUint64AcceptsOnlyPlainIntegers) {
  auto number = [](const std::string &text) {
    Expected<JsonValue> value = parseJson(text);
    EXPECT_TRUE(value.ok()) << text;
    return value->asUint64();
  };
  EXPECT_EQ(number("0"), 0u);
  EXPECT_EQ(number("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(number("18446744073709551616").has_value());
  EXPECT_FALSE(number("-1").has_value());
  EXPECT_FALSE(number("1.0").has_value());
  EXPECT_FALSE(number("1e3").has_value());
  EXPECT_FALSE(parseJson("\"1\"")->asUint64().has_value());
}

TEST(JsonTest, DecodesStringEscapes) {
  Expected<JsonValue> value = parseJson(
      R"("q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9\u20ac\ud83d\ude00 raw é")");
  ASSERT_TRUE(value.ok()) << value.message();
  EXPECT_EQ(value->text, "q\" b\\ s/ \b\f\n\r\t A\xc3\xa9\xe2\x82\xac"
                         "\xf0\x9f\x98\x80 raw \xc3\xa9");
}

TEST(JsonTest, RejectsWhatRfc8259Rejects) {
  const std::pair<std::string, const char *> cases[] = {
      {"", "at byte 0: unexpected end of input"},
      {"  ", "at byte 2: unexpected end of input"},
      {"{", "expected a string key"},
      {"[1,]", "expected a value"},
      {"{\"a\":1,}", "expected a string key"},
      {"{\"a\" 1}", "expected ':'"},
      {"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
      {"[1 2]", "expected ',' or ']'"},
      {"01", "leading zeros"},
      {"1.", "expected a digit after '.'"},
      {".5", "expected a value"},
      {"-", "expected a digit"},
      {"+1", "expected a value"},
      {"1e", "expected a digit in the exponent"},
      {"NaN", "expected a value"},
      {"'a'", "expected a value"},
      {"truee", "unexpected characters after the JSON value"},
      {"nul", "invalid literal"},
      {"{} {}", "unexpected characters"},
      {"/*c*/{}", "expected a value"},
      {"\"abc", "unterminated string"},
      {"\"\\x\"", "invalid escape character"},
      {"\"\\u12xy\"", "invalid hex digit"},
      {"\"\\u12", "unexpected end of input in a \\u escape"},
      {"\"\\ud800\"", "unpaired high surrogate"},
      {"\"\\ud800\\u0041\"", "invalid low surrogate"},
      {"\"\\udc00\"", "unpaired low surrogate"},
      {"\"a\nb\"", "unescaped control character"},
      {"\"\xc0\xaf\"", "invalid UTF-8"},         // overlong '/'
      {"\"\xed\xa0\x80\"", "invalid UTF-8"},     // encoded surrogate
      {"\"\xf4\x90\x80\x80\"", "invalid UTF-8"}, // beyond U+10FFFF
      {"\"\xe2\x82\"", "invalid UTF-8"},         // cut short
      {"\"\x80\"", "invalid UTF-8"},             // stray continuation
      {"{\"a\":1,\"a\":2}", "at byte 7: duplicate key 'a'"},
  };
  for (const auto &[text, fragment] : cases) {
    Expected<JsonValue> value = parseJson(text);
    ASSERT_FALSE(value.ok()) << text;
    EXPECT_NE(value.message().find(fragment), std::string::npos)
        << text << ": " << value.message();
  }
}

TEST(JsonTest, LimitsNesting) {
  std::string deepest =
      std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(parseJson(deepest).ok());
  std::string tooDeep = "[" + deepest + "]";
  EXPECT_NE(parseJson(tooDeep).message().find("nesting is too deep"),
            std::string::npos);
  // Far past the limit: fails fast instead of overflowing the stack.
  EXPECT_FALSE(parseJson(std::string(1 << 20, '[')).ok());
}

TEST(JsonTest, StringsRoundTrip) {
  for (std::string text :
       {std::string(""), std::string("plain"),
        std::string("q\"b\\\n\t\x01\x1f/"),
        std::string("\xc3\xa9\xf0\x9f\x98\x80"), std::string("nul\0byte", 8)}) {
    std::string json;
    appendJsonString(json, text);
    Expected<JsonValue> parsed = parseJson(json);
    ASSERT_TRUE(parsed.ok()) << json << ": " << parsed.message();
    EXPECT_EQ(parsed->text, text);
  }
  std::string json;
  appendJsonString(json, "a\"\n\x01");
  EXPECT_EQ(json, R"("a\"\u000a\u0001")");
}

TEST(JsonTest, ValidatesUtf8) {
  EXPECT_TRUE(isValidUtf8(""));
  EXPECT_TRUE(isValidUtf8("ascii \xc3\xa9 \xf4\x8f\xbf\xbf"));
  EXPECT_FALSE(isValidUtf8("\xff"));
  EXPECT_FALSE(isValidUtf8("\xc3"));
  EXPECT_FALSE(isValidUtf8("\xe0\x80\x80"));
}

} // namespace
