//===- NpyTest.cpp - .npy reader and writer -------------------------------===//

#include "runtime/Npy.h"

#include "TestFiles.h"

#include <gtest/gtest.h>

using namespace moe;
using namespace moe::test;

namespace {

// np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)), NumPy 2.4.
const std::string kNumpyF32 = std::string(
    "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': "
    "(2, 3), }                                                          \n"
    "\x00\x00\x00\x00\x00\x00\x80\x3f\x00\x00\x00@\x00\x00@@\x00\x00\x80@\x00"
    "\x00\xa0@",
    152);

// numpy.lib.format.write_array(f, np.array([[1, -2], [3, 4]], '<i2'),
// version=(V, 0)) for V = 2 and 3.
std::string numpyI16(char version) {
  return std::string("\x93NUMPY", 6) + version +
         std::string("\x00t\x00\x00\x00{'descr': '<i2', 'fortran_order': "
                     "False, 'shape': (2, 2), }                              "
                     "                          \n"
                     "\x01\x00\xfe\xff\x03\x00\x04\x00",
                     129);
}

/// A .npy file with header dict `dict` (padded as NumPy does) and `data`.
std::string makeNpy(const std::string &dict, const std::string &data,
                    unsigned major = 1) {
  size_t lengthBytes = major == 1 ? 2 : 4;
  std::string header = dict;
  while ((8 + lengthBytes + header.size() + 1) % 64 != 0)
    header += ' ';
  header += '\n';
  std::string file =
      std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
  for (size_t i = 0; i < lengthBytes; ++i)
    file += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  return file + header + data;
}

std::string f32Dict(const std::string &shape) {
  return "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }";
}

class NpyTest : public TempDirTest {
protected:
  /// Writes `bytes` to a file, reads it as .npy, and expects a failure whose
  /// message is one line naming the file and containing `fragment`. Returns
  /// the message.
  std::string expectReadError(const std::string &bytes,
                              const std::string &fragment) {
    std::string file = path("bad.npy");
    writeBytes(file, bytes);
    return expectError(file, fragment);
  }

  std::string expectError(const std::string &file,
                          const std::string &fragment) {
    Expected<HostTensor> result = readNpy(file);
    if (result.ok()) {
      ADD_FAILURE() << "no error, expected: " << fragment;
      return "";
    }
    const std::string &message = result.message();
    EXPECT_EQ(message.rfind("npy file '" + file + "': ", 0), 0u) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
};

TEST_F(NpyTest, RoundTripsEveryDTypeAndRank) {
  for (DType dtype : kAllDTypes) {
    if (dtype == DType::BF16)
      continue; // NumPy has no bfloat16; see WritingBF16Fails.
    for (const std::vector<int64_t> &shape : roundTripShapes()) {
      SCOPED_TRACE(std::string(dtypeName(dtype)) + " " + shapeString(shape));
      HostTensor tensor = patternTensor(dtype, shape);
      std::string file = path("t.npy");
      ASSERT_TRUE(writeNpy(file, tensor).ok());
      Expected<HostTensor> read = readNpy(file);
      ASSERT_TRUE(read.ok()) << read.message();
      EXPECT_TRUE(sameTensor(tensor, *read));
      EXPECT_EQ(reinterpret_cast<uintptr_t>(read->bytes()) %
                    HostTensor::kAlignment,
                0u);
    }
  }
}

TEST_F(NpyTest, WritesWhatNumpySaveWrites) {
  Expected<HostTensor> tensor = HostTensor::create(DType::F32, {2, 3});
  ASSERT_TRUE(tensor.ok());
  for (int i = 0; i < 6; ++i)
    tensor->data<float>()[i] = static_cast<float>(i);
  ASSERT_TRUE(writeNpy(path("a.npy"), *tensor).ok());
  EXPECT_EQ(readBytes(path("a.npy")), kNumpyF32);
}

TEST_F(NpyTest, ReadsNumpyFilesOfEveryVersion) {
  writeBytes(path("v1.npy"), kNumpyF32);
  Expected<HostTensor> v1 = readNpy(path("v1.npy"));
  ASSERT_TRUE(v1.ok()) << v1.message();
  EXPECT_EQ(v1->typeString(), "f32 [2, 3]");
  EXPECT_EQ(v1->data<float>()[5], 5.0f);

  for (char version : {'\x02', '\x03'}) {
    writeBytes(path("v.npy"), numpyI16(version));
    Expected<HostTensor> read = readNpy(path("v.npy"));
    ASSERT_TRUE(read.ok()) << read.message();
    EXPECT_EQ(read->typeString(), "i16 [2, 2]");
    EXPECT_EQ(read->data<int16_t>()[1], -2);
  }
}

TEST_F(NpyTest, AcceptsHeaderVariantsNumpyAccepts) {
  std::string data(8, '\0');
  const char *dicts[] = {
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}",
      "{\"shape\": (2,), \"descr\": \"<f4\", \"fortran_order\": False}",
      "{ 'descr' : '<f4' ,'fortran_order':False,'shape':( 2 , ) , }",
  };
  for (const char *dict : dicts) {
    writeBytes(path("ok.npy"), makeNpy(dict, data));
    Expected<HostTensor> read = readNpy(path("ok.npy"));
    EXPECT_TRUE(read.ok()) << dict << ": " << read.message();
  }
}

TEST_F(NpyTest, WritingBF16Fails) {
  HostTensor tensor = patternTensor(DType::BF16, {2});
  Status s = writeNpy(path("b.npy"), tensor);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("NumPy has no bf16 dtype"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path("b.npy")));
}

TEST_F(NpyTest, RankIsLimitedToNumpys) {
  HostTensor rank64 = patternTensor(DType::U8, std::vector<int64_t>(64, 1));
  ASSERT_TRUE(writeNpy(path("r.npy"), rank64).ok());
  Expected<HostTensor> read = readNpy(path("r.npy"));
  ASSERT_TRUE(read.ok()) << read.message();
  EXPECT_TRUE(sameTensor(rank64, *read));

  Status s = writeNpy(path("r.npy"),
                      patternTensor(DType::U8, std::vector<int64_t>(65, 1)));
  EXPECT_NE(s.message().find("rank 65 exceeds NumPy's limit of 64 dimensions"),
            std::string::npos)
      << s.message();
}

TEST_F(NpyTest, WriteToMissingDirectoryFails) {
  Status s = writeNpy(path("no/such/dir/a.npy"), patternTensor(DType::F32, {}));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot create"), std::string::npos);
}

TEST_F(NpyTest, MissingFile) {
  expectError(path("missing.npy"), "cannot open");
}

TEST_F(NpyTest, DirectoryIsNotAFile) {
  expectError(dir.string(), "not a regular file");
}

TEST_F(NpyTest, BadMagic) {
  std::string bytes = kNumpyF32;
  bytes[1] = 'X';
  expectReadError(bytes, "bad magic: expected '\\x93NUMPY', got '\\x93XUMPY'");
  expectReadError("PK\x03\x04 not numpy", "bad magic");
  expectReadError("", "file is too short (0 bytes)");
}

TEST_F(NpyTest, UnsupportedVersion) {
  std::string bytes = kNumpyF32;
  bytes[6] = 4;
  expectReadError(bytes, "unsupported format version 4.0 (supported: 1.0, "
                         "2.0, 3.0)");
  bytes[6] = 0;
  expectReadError(bytes, "unsupported format version 0.0");
  bytes[6] = 1;
  bytes[7] = 1;
  expectReadError(bytes, "unsupported format version 1.1");
}

TEST_F(NpyTest, MalformedHeaderDict) {
  const std::pair<const char *, const char *> cases[] = {
      {"", "expected '{'"},
      {"['descr', '<f4']", "expected '{'"},
      {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'"},
      {"{'descr': '<f4', 'shape': (2,)}", "missing key 'fortran_order'"},
      {"{'fortran_order': False, 'shape': (2,)}", "missing key 'descr'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
       "unexpected key 'x'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
       "'shape': (2,)}",
       "duplicate key 'descr'"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}",
       "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2)}",
       "'shape' must be a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}",
       "'shape' must be a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}",
       "expected a non-negative integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}",
       "expected a non-negative integer"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3}",
       "expected ',' or ')'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': "
       "(99999999999999999999,)}",
       "dimension in 'shape' is too large"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}",
       "'fortran_order' must be True or False"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}",
       "structured dtypes are not supported"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
       "unexpected characters after the header dict"},
      {"{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2,)}",
       "unsupported character in a string"},
      {"{'descr': '<f4", "unsupported character in a string"},
      {"{'descr' '<f4'}", "expected ':' after key 'descr'"},
  };
  for (const auto &[dict, fragment] : cases) {
    SCOPED_TRACE(dict);
    std::string message =
        expectReadError(makeNpy(dict, std::string(8, '\0')), fragment);
    EXPECT_NE(message.find("malformed header"), std::string::npos);
  }
  expectReadError(std::string("\x93NUMPY\x01\x00\x05\x00{'abc", 15),
                  "malformed header at byte 5: unterminated string");
}

TEST_F(NpyTest, FortranOrder) {
  expectReadError(
      makeNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
              std::string(24, '\0')),
      "Fortran-order arrays are not supported");
}

TEST_F(NpyTest, BigEndianDType) {
  expectReadError(
      makeNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
              std::string(8, '\0')),
      "big-endian dtype '>f4' is not supported (expected little-endian "
      "'<f4')");
}

TEST_F(NpyTest, UnsupportedDType) {
  for (const char *descr :
       {"<c8", "|O", "<U3", "|V2", "<f16", "<m8", "|f4", "f4", "<b2"}) {
    SCOPED_TRACE(descr);
    expectReadError(makeNpy(std::string("{'descr': '") + descr +
                                "', 'fortran_order': False, 'shape': (1,), }",
                            std::string(16, '\0')),
                    std::string("unsupported dtype '") + descr + "'");
  }
}

TEST_F(NpyTest, OneByteTypesAcceptAnyByteOrderMark) {
  for (const char *descr : {"|u1", "<u1", "=u1", "|i1", "|b1"}) {
    writeBytes(path("ok.npy"),
               makeNpy(std::string("{'descr': '") + descr +
                           "', 'fortran_order': False, 'shape': (2,), }",
                       std::string(2, '\0')));
    EXPECT_TRUE(readNpy(path("ok.npy")).ok()) << descr;
  }
}

TEST_F(NpyTest, DataSizeMustMatchShape) {
  expectReadError(makeNpy(f32Dict("(2, 3)"), std::string(20, '\0')),
                  "data is truncated: f32 [2, 3] needs 24 bytes of data after "
                  "the 128-byte header, the file has 20");
  expectReadError(makeNpy(f32Dict("(2, 3)"), std::string(28, '\0')),
                  "unexpected bytes after the data: f32 [2, 3] needs 24 bytes "
                  "of data after the 128-byte header, the file has 28");
  expectReadError(makeNpy(f32Dict("(0, 3)"), std::string(1, '\0')),
                  "unexpected bytes after the data");
}

TEST_F(NpyTest, HugeShapeFailsBeforeAllocating) {
  expectReadError(makeNpy(f32Dict("(4611686018427387904, 4)"), ""),
                  "is too large");
  expectReadError(makeNpy(f32Dict("(1048576, 1048576)"), ""),
                  "data is truncated: f32 [1048576, 1048576] needs "
                  "4398046511104 bytes");
}

TEST_F(NpyTest, HeaderLengthBeyondFile) {
  std::string bytes = kNumpyF32;
  bytes[8] = '\xff';
  expectReadError(bytes, "truncated header: its length field says 255 bytes");
  std::string v2 = numpyI16('\x02');
  v2[10] = '\x01'; // 4-byte length 0x010074
  expectReadError(v2, "truncated header");
  v2[11] = '\x7f';
  expectReadError(v2, "exceeds the limit");
}

TEST_F(NpyTest, BoolBytesMustBeZeroOrOne) {
  expectReadError(
      makeNpy("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
              std::string("\x01\x00\x02", 3)),
      "bool element 2 has byte value 2 (expected 0 or 1)");
}

TEST_F(NpyTest, TruncationAtEveryLengthIsAnError) {
  std::string full =
      makeNpy("{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }",
              std::string(24, '\x05'));
  for (std::string bytes : {full, numpyI16('\x02')}) {
    for (size_t length = 0; length < bytes.size(); ++length) {
      SCOPED_TRACE(length);
      std::string file = path("cut.npy");
      writeBytes(file, bytes.substr(0, length));
      Expected<HostTensor> read = readNpy(file);
      ASSERT_FALSE(read.ok());
      EXPECT_NE(read.message().find(file), std::string::npos);
    }
  }
}

TEST_F(NpyTest, CorruptHeaderBytesNeverCrash) {
  // Any result is acceptable as long as the reader neither crashes nor returns
  // a tensor whose buffer disagrees with its shape (run under ASan to see).
  std::string file = path("corrupt.npy");
  size_t headerEnd = kNumpyF32.size() - 24;
  for (size_t i = 0; i < headerEnd; ++i) {
    for (char value : {'\0', '\xff', '9', '(', ')', ',', '\'', '}', ' '}) {
      std::string bytes = kNumpyF32;
      bytes[i] = value;
      writeBytes(file, bytes);
      Expected<HostTensor> read = readNpy(file);
      if (read.ok())
        EXPECT_EQ(read->byteSize(), 24u) << "byte " << i;
      else
        EXPECT_EQ(read.message().find('\n'), std::string::npos);
    }
  }
}

} // namespace
