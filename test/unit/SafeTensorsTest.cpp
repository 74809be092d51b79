//===- SafeTensorsTest.cpp - .safetensors reader and writer ---------------===//

#include "runtime/SafeTensors.h"

#include "runtime/Json.h"

#include "TestFiles.h"

#include <gtest/gtest.h>

#include <random>

using namespace moe;
using namespace moe::test;

namespace {

/// An 8-byte little-endian length, `header`, then `data`.
std::string makeSafeTensors(const std::string &header,
                            const std::string &data = "") {
  std::string file;
  for (int i = 0; i < 8; ++i)
    file += static_cast<char>((uint64_t(header.size()) >> (8 * i)) & 0xFF);
  return file + header + data;
}

// safetensors.numpy.save({"b.bias": np.array([1, 2, 3], '<i8'),
//                         "a.weight": np.arange(4, dtype='<f4').reshape(2, 2),
//                         "mask": np.array([True, False])},
//                        metadata={"format": "np"}), safetensors 0.8.0.
const std::string kReferenceFile = makeSafeTensors(
    R"({"__metadata__":{"format":"np"},)"
    R"("b.bias":{"dtype":"I64","shape":[3],"data_offsets":[0,24]},)"
    R"("a.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[24,40]},)"
    R"("mask":{"dtype":"BOOL","shape":[2],"data_offsets":[40,42]}}  )",
    std::string("\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00"
                "\x00\x03\x00\x00\x00\x00\x00\x00\x00"
                "\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00@\x00\x00@@"
                "\x01\x00",
                42));

/// A header with one f32 tensor "w" of `shape` at `offsets`.
std::string oneTensorHeader(const std::string &shape,
                            const std::string &offsets,
                            const std::string &dtype = "F32") {
  return R"({"w":{"dtype":")" + dtype + R"(","shape":)" + shape +
         R"(,"data_offsets":)" + offsets + "}}";
}

class SafeTensorsTest : public TempDirTest {
protected:
  /// Writes `bytes` to a file, reads it, and expects a failure whose message
  /// is one line naming the file and containing `fragment`. Returns it.
  std::string expectReadError(const std::string &bytes,
                              const std::string &fragment) {
    std::string file = path("bad.safetensors");
    writeBytes(file, bytes);
    return expectError(file, fragment);
  }

  std::string expectError(const std::string &file,
                          const std::string &fragment) {
    Expected<SafeTensorsFile> result = readSafeTensors(file);
    if (result.ok()) {
      ADD_FAILURE() << "no error, expected: " << fragment;
      return "";
    }
    const std::string &message = result.message();
    EXPECT_EQ(message.rfind("safetensors file '" + file + "': ", 0), 0u)
        << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }

  /// A file holding tensors "a" (f32 [2, 3]), "b" (i64 [4]), "c" (bool [3]).
  SafeTensorsFile loadSample() {
    std::map<std::string, HostTensor> tensors;
    tensors["a"] = patternTensor(DType::F32, {2, 3});
    tensors["b"] = patternTensor(DType::I64, {4});
    tensors["c"] = patternTensor(DType::Bool, {3});
    std::string file = path("w.safetensors");
    EXPECT_TRUE(writeSafeTensors(file, tensors).ok());
    Expected<SafeTensorsFile> read = readSafeTensors(file);
    EXPECT_TRUE(read.ok()) << read.message();
    return std::move(*read);
  }
};

TEST_F(SafeTensorsTest, RoundTripsEveryDTypeAndRank) {
  std::map<std::string, HostTensor> tensors;
  unsigned seed = 0;
  for (DType dtype : kAllDTypes)
    for (const std::vector<int64_t> &shape : roundTripShapes())
      tensors[std::string(dtypeName(dtype)) + "." + shapeString(shape)] =
          patternTensor(dtype, shape, ++seed);
  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"note", "line\n\"two\""}};
  std::string file = path("all.safetensors");
  Status written = writeSafeTensors(file, tensors, metadata);
  ASSERT_TRUE(written.ok()) << written.message();

  Expected<SafeTensorsFile> read = readSafeTensors(file);
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->path, file);
  EXPECT_EQ(read->metadata, metadata);
  ASSERT_EQ(read->tensors.size(), tensors.size());
  for (const auto &[name, tensor] : tensors) {
    SCOPED_TRACE(name);
    auto it = read->tensors.find(name);
    ASSERT_NE(it, read->tensors.end());
    EXPECT_TRUE(sameTensor(tensor, it->second));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(it->second.bytes()) %
                  HostTensor::kAlignment,
              0u);
  }
}

TEST_F(SafeTensorsTest, RoundTripsNoTensorsAndUnusualNames) {
  std::string file = path("empty.safetensors");
  ASSERT_TRUE(writeSafeTensors(file, {}).ok());
  Expected<SafeTensorsFile> empty = readSafeTensors(file);
  ASSERT_TRUE(empty.ok()) << empty.message();
  EXPECT_TRUE(empty->tensors.empty());
  EXPECT_TRUE(empty->metadata.empty());

  std::map<std::string, HostTensor> tensors;
  for (const char *name : {"", "quote\"back\\slash", "tab\tnew\nline",
                           "unicode \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"})
    tensors[name] = patternTensor(DType::U8, {1});
  ASSERT_TRUE(writeSafeTensors(file, tensors).ok());
  Expected<SafeTensorsFile> read = readSafeTensors(file);
  ASSERT_TRUE(read.ok()) << read.message();
  for (const auto &[name, tensor] : tensors)
    EXPECT_EQ(read->tensors.count(name), 1u) << name;
}

TEST_F(SafeTensorsTest, WritesWhatTheReferenceImplementationWrites) {
  std::map<std::string, HostTensor> tensors;
  tensors["b.bias"] = patternTensor(DType::I64, {3});
  tensors["a.weight"] = patternTensor(DType::F32, {2, 2});
  tensors["mask"] = patternTensor(DType::Bool, {2});
  for (int i = 0; i < 3; ++i)
    tensors["b.bias"].data<int64_t>()[i] = i + 1;
  for (int i = 0; i < 4; ++i)
    tensors["a.weight"].data<float>()[i] = static_cast<float>(i);
  tensors["mask"].data<bool>()[0] = true;
  tensors["mask"].data<bool>()[1] = false;
  std::string file = path("ref.safetensors");
  ASSERT_TRUE(writeSafeTensors(file, tensors, {{"format", "np"}}).ok());
  EXPECT_EQ(readBytes(file), kReferenceFile);
}

TEST_F(SafeTensorsTest, ReadsReferenceFile) {
  writeBytes(path("ref.safetensors"), kReferenceFile);
  Expected<SafeTensorsFile> read = readSafeTensors(path("ref.safetensors"));
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->metadata.at("format"), "np");
  EXPECT_EQ(read->tensors.at("b.bias").typeString(), "i64 [3]");
  EXPECT_EQ(read->tensors.at("b.bias").data<int64_t>()[2], 3);
  EXPECT_EQ(read->tensors.at("a.weight").typeString(), "f32 [2, 2]");
  EXPECT_EQ(read->tensors.at("a.weight").data<float>()[3], 3.0f);
  EXPECT_EQ(read->tensors.at("mask").data<bool>()[0], true);
}

TEST_F(SafeTensorsTest, WriterAlignsTensorsToTheirElementSize) {
  std::map<std::string, HostTensor> tensors;
  tensors["a"] = patternTensor(DType::U8, {3});
  tensors["b"] = patternTensor(DType::F16, {3});
  tensors["c"] = patternTensor(DType::F64, {1});
  tensors["d"] = patternTensor(DType::I32, {3});
  std::string file = path("aligned.safetensors");
  ASSERT_TRUE(writeSafeTensors(file, tensors).ok());
  std::string bytes = readBytes(file);
  size_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = headerSize << 8 | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(headerSize % 8, 0u);
  Expected<JsonValue> header = parseJson(bytes.substr(8, headerSize));
  ASSERT_TRUE(header.ok()) << header.message();
  const char *order[] = {"c", "d", "b", "a"};
  uint64_t expectedBegin = 0;
  for (const char *name : order) {
    const JsonValue *entry = header->find(name);
    ASSERT_NE(entry, nullptr);
    uint64_t begin = *entry->find("data_offsets")->elements[0].asUint64();
    uint64_t end = *entry->find("data_offsets")->elements[1].asUint64();
    EXPECT_EQ(begin, expectedBegin) << name;
    EXPECT_EQ(begin % dtypeSize(tensors[name].dtype()), 0u) << name;
    expectedBegin = end;
  }
}

TEST_F(SafeTensorsTest, AcceptsAnyHeaderOrderAndEmptyTensors) {
  std::string header =
      R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},)"
      R"("e":{"dtype":"F32","shape":[0,5],"data_offsets":[4,4]},)"
      R"("a":{"dtype":"U8","shape":[2,2],"data_offsets":[0,4]}})";
  writeBytes(path("ok.safetensors"), makeSafeTensors(header, "abcdef"));
  Expected<SafeTensorsFile> read = readSafeTensors(path("ok.safetensors"));
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_EQ(read->tensors.at("b").data<uint8_t>()[0], 'e');
  EXPECT_EQ(read->tensors.at("e").typeString(), "f32 [0, 5]");
  EXPECT_EQ(read->tensors.at("a").data<uint8_t>()[3], 'd');
}

TEST_F(SafeTensorsTest, GetTensorChecksDTypeAndShape) {
  SafeTensorsFile file = loadSample();
  Expected<const HostTensor *> a = getTensor(file, "a", DType::F32, {2, 3});
  ASSERT_TRUE(a.ok()) << a.message();
  EXPECT_EQ(*a, &file.tensors.at("a"));
  EXPECT_TRUE(getTensor(file, "a", DType::F32, {-1, 3}).ok());

  std::string where = "weight 'a' in '" + file.path + "': ";
  EXPECT_EQ(getTensor(file, "a", DType::F32, {2, 4}).message(),
            where + "expected f32 [2, 4], got f32 [2, 3]");
  EXPECT_EQ(getTensor(file, "a", DType::BF16, {2, 3}).message(),
            where + "expected bf16 [2, 3], got f32 [2, 3]");
  EXPECT_EQ(getTensor(file, "a", DType::F32, {6}).message(),
            where + "expected f32 [6], got f32 [2, 3]");
  EXPECT_EQ(getTensor(file, "a", DType::F32, {-1, 2}).message(),
            where + "expected f32 [?, 2], got f32 [2, 3]");
}

TEST_F(SafeTensorsTest, GetTensorNamesWhatTheFileHas) {
  SafeTensorsFile file = loadSample();
  EXPECT_EQ(getTensor(file, "gate.w", DType::F32, {}).message(),
            "weight 'gate.w' is missing from '" + file.path +
                "' (it has: 'a', 'b', 'c')");

  SafeTensorsFile empty;
  empty.path = "e.safetensors";
  EXPECT_EQ(getTensor(empty, "x", DType::F32, {}).message(),
            "weight 'x' is missing from 'e.safetensors' (it has: no tensors)");

  SafeTensorsFile many;
  many.path = "m.safetensors";
  for (int i = 0; i < 25; ++i)
    many.tensors[std::string(1, static_cast<char>('A' + i))] = HostTensor();
  std::string message = getTensor(many, "x", DType::F32, {}).message();
  EXPECT_NE(message.find("'S', 'T', and 5 more)"), std::string::npos)
      << message;
}

TEST_F(SafeTensorsTest, MissingFile) {
  expectError(path("missing.safetensors"), "cannot open");
}

TEST_F(SafeTensorsTest, HeaderLengthOutOfRange) {
  expectReadError("", "file is too short (0 bytes) for the 8-byte header "
                      "length");
  expectReadError(std::string("\x10\0\0\0\0\0\0", 7),
                  "file is too short (7 bytes)");
  std::string bytes = kReferenceFile;
  bytes[1] = 1; // 0x1d8 bytes
  expectReadError(bytes, "header length 472 exceeds the file size (258 bytes "
                         "after the length field)");
  bytes[5] = 1;
  expectReadError(bytes, "header length 1099511628248 exceeds the limit of "
                         "100000000 bytes");
}

TEST_F(SafeTensorsTest, MalformedJson) {
  const std::pair<std::string, const char *> cases[] = {
      {"", "header does not start with '{'"},
      {" {}", "header does not start with '{'"},
      {"[]", "header does not start with '{'"},
      {"{", "malformed JSON header at byte 1: expected a string key"},
      {R"({"w":})", "malformed JSON header at byte 5: expected a value"},
      {R"({"w":{},})", "expected a string key"},
      {R"({"w":{}} x)", "unexpected characters after the JSON value"},
      {R"({'w':{}})", "expected a string key"},
      {"{\"w\x01\":{}}", "unescaped control character"},
      {"{\"\xff\":{}}", "invalid UTF-8"},
      {R"({"w":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}})",
       "leading zeros"},
      {R"({"w":{}, "w":{}})", "duplicate key 'w'"},
      {std::string("{}\0", 3), "unexpected characters after the JSON value"},
  };
  for (const auto &[header, fragment] : cases) {
    SCOPED_TRACE(header);
    expectReadError(makeSafeTensors(header), fragment);
  }
}

TEST_F(SafeTensorsTest, MalformedEntries) {
  const std::pair<std::string, const char *> cases[] = {
      {R"({"w":[]})", "tensor 'w': entry must be an object, got array"},
      {R"({"w":{"dtype":"F32","shape":[1]}})",
       "tensor 'w': missing key 'data_offsets'"},
      {R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "missing key 'dtype'"},
      {R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "missing key 'shape'"},
      {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})",
       "tensor 'w': unexpected key 'x'"},
      {R"({"w":{"dtype":4,"shape":[1],"data_offsets":[0,4]}})",
       "'dtype' must be a string, got number"},
      {oneTensorHeader("[1]", "[0,4]", "F8_E4M3"),
       "tensor 'w': unsupported dtype 'F8_E4M3' (supported: F16 BF16 F32 F64 "
       "I8 I16 I32 I64 U8 U16 U32 U64 BOOL)"},
      {oneTensorHeader("[1]", "[0,4]", "f32"), "unsupported dtype 'f32'"},
      {oneTensorHeader("1", "[0,4]"), "'shape' must be an array of integers"},
      {oneTensorHeader("[-1]", "[0,4]"),
       "'shape' must hold non-negative integers, got -1"},
      {oneTensorHeader("[1.0]", "[0,4]"), "got 1.0"},
      {oneTensorHeader("[\"1\"]", "[0,4]"), "got string"},
      {oneTensorHeader("[18446744073709551616]", "[0,4]"),
       "got 18446744073709551616"},
      {oneTensorHeader("[4294967296,4294967296]", "[0,4]"), "is too large"},
      {oneTensorHeader("[1]", "[0]"), "'data_offsets' must be [begin, end]"},
      {oneTensorHeader("[1]", "[0,4,8]"), "'data_offsets' must be"},
      {oneTensorHeader("[1]", "{}"), "'data_offsets' must be"},
      {oneTensorHeader("[1]", "[4,0]"),
       "'data_offsets' [4, 0] ends before it begins"},
      {oneTensorHeader("[1]", "[0,8]"),
       "'data_offsets' [0, 8] extend past the 4-byte data section"},
      {oneTensorHeader("[2]", "[0,4]"),
       "'data_offsets' [0, 4] span 4 bytes, expected 8 for f32 [2]"},
      {R"({"__metadata__":[]})", "'__metadata__' must be an object, got array"},
      {R"({"__metadata__":{"a":1}})",
       "'__metadata__' value 'a' must be a string, got number"},
  };
  for (const auto &[header, fragment] : cases) {
    SCOPED_TRACE(header);
    expectReadError(makeSafeTensors(header, std::string(4, '\0')), fragment);
  }
}

TEST_F(SafeTensorsTest, DataRangesMustTileTheDataSection) {
  auto twoTensors = [](const char *a, const char *b) {
    return std::string(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":)") +
           a + R"(},"b":{"dtype":"U8","shape":[4],"data_offsets":)" + b + "}}";
  };
  expectReadError(
      makeSafeTensors(twoTensors("[0,4]", "[2,6]"), std::string(8, '\0')),
      "tensor 'b' bytes [2, 6) overlap tensor 'a' bytes [0, 4)");
  expectReadError(
      makeSafeTensors(twoTensors("[0,4]", "[0,4]"), std::string(4, '\0')),
      "overlap tensor");
  expectReadError(
      makeSafeTensors(twoTensors("[0,4]", "[6,10]"), std::string(10, '\0')),
      "data section bytes [4, 6) belong to no tensor");
  expectReadError(
      makeSafeTensors(twoTensors("[4,8]", "[8,12]"), std::string(12, '\0')),
      "data section bytes [0, 4) belong to no tensor");
  expectReadError(
      makeSafeTensors(twoTensors("[0,4]", "[4,8]"), std::string(9, '\0')),
      "data section bytes [8, 9) belong to no tensor");
  expectReadError(makeSafeTensors("{}", "x"),
                  "data section bytes [0, 1) belong to no tensor");
  expectReadError(
      makeSafeTensors(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
                      R"("e":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}})",
                      std::string(4, '\0')),
      "tensor 'e' bytes [2, 2) overlap tensor 'a' bytes [0, 4)");
}

TEST_F(SafeTensorsTest, BoolBytesMustBeZeroOrOne) {
  expectReadError(makeSafeTensors(oneTensorHeader("[2]", "[0,2]", "BOOL"),
                                  std::string("\x01\x07", 2)),
                  "tensor 'w': bool element 1 has byte value 7");
}

TEST_F(SafeTensorsTest, WriterRejectsUnrepresentableNames) {
  std::map<std::string, HostTensor> tensors;
  tensors["__metadata__"] = patternTensor(DType::F32, {1});
  Status s = writeSafeTensors(path("x.safetensors"), tensors);
  EXPECT_NE(s.message().find("a tensor cannot be named '__metadata__'"),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(std::filesystem::exists(path("x.safetensors")));

  tensors.clear();
  tensors["bad\xff"] = patternTensor(DType::F32, {1});
  s = writeSafeTensors(path("x.safetensors"), tensors);
  EXPECT_NE(s.message().find("tensor name 'bad\\xff' is not valid UTF-8"),
            std::string::npos)
      << s.message();

  s = writeSafeTensors(path("x.safetensors"), {}, {{"k", "\xc0\xaf"}});
  EXPECT_NE(s.message().find("metadata entry 'k' is not valid UTF-8"),
            std::string::npos)
      << s.message();
  EXPECT_FALSE(std::filesystem::exists(path("x.safetensors")));
}

TEST_F(SafeTensorsTest, TruncationAtEveryLengthIsAnError) {
  for (size_t length = 0; length < kReferenceFile.size(); ++length) {
    SCOPED_TRACE(length);
    std::string file = path("cut.safetensors");
    writeBytes(file, kReferenceFile.substr(0, length));
    Expected<SafeTensorsFile> read = readSafeTensors(file);
    ASSERT_FALSE(read.ok());
    EXPECT_NE(read.message().find(file), std::string::npos);
  }
}

TEST_F(SafeTensorsTest, CorruptBytesNeverCrash) {
  // Any result is acceptable as long as the reader neither crashes nor returns
  // tensors inconsistent with the file (run under ASan to see).
  std::string file = path("corrupt.safetensors");
  auto check = [&](const std::string &bytes) {
    writeBytes(file, bytes);
    Expected<SafeTensorsFile> read = readSafeTensors(file);
    if (!read.ok()) {
      EXPECT_EQ(read.message().find('\n'), std::string::npos);
      return;
    }
    size_t total = 0;
    for (const auto &named : read->tensors)
      total += named.second.byteSize();
    EXPECT_EQ(total, 42u);
  };
  for (size_t i = 0; i < kReferenceFile.size() - 42; ++i)
    for (char value : {'\0', '\xff', '\x80', '9', '"', '[', ']', '{', '}', ','})
      check(kReferenceFile.substr(0, i) + value + kReferenceFile.substr(i + 1));

  std::mt19937 random(1234);
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = kReferenceFile;
    int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e)
      bytes[random() % (bytes.size() - 42)] = static_cast<char>(random());
    check(bytes);
  }
}

} // namespace
