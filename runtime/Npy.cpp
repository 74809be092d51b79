//===- Npy.cpp - NumPy .npy files -----------------------------------------===//

#include "runtime/Npy.h"

#include "runtime/BinaryFile.h"
#include "runtime/OutputFile.h"

#include <cstring>

using namespace moe;

namespace {
constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
// Bound on the header dict we accept; NumPy's own reader defaults to 10000.
constexpr uint32_t kMaxHeaderSize = 1 << 20;
// numpy.save pads the header so that the data starts on this boundary.
constexpr size_t kHeaderAlignment = 64;
// numpy.save leaves room for the first dimension to grow to this many digits.
constexpr size_t kGrowthAxisMaxDigits = 21;
// NPY_MAXDIMS in NumPy 2.
constexpr size_t kMaxNumpyRank = 64;

struct DescrEntry {
  char kind; // the character after the byte order: 'f', 'i', 'u' or 'b'
  size_t size;
  DType dtype;
};

constexpr DescrEntry kDescrs[] = {
    {'f', 2, DType::F16}, {'f', 4, DType::F32}, {'f', 8, DType::F64},
    {'i', 1, DType::I8},  {'i', 2, DType::I16}, {'i', 4, DType::I32},
    {'i', 8, DType::I64}, {'u', 1, DType::U8},  {'u', 2, DType::U16},
    {'u', 4, DType::U32}, {'u', 8, DType::U64}, {'b', 1, DType::Bool}};

constexpr const char *kSupportedDescrs =
    "'<f2', '<f4', '<f8', '|i1', '<i2', '<i4', "
    "'<i8', '|u1', '<u2', '<u4', '<u8', '|b1'";

Expected<DType> dtypeFromDescr(const std::string &descr) {
  if (descr.size() == 3) {
    char order = descr[0];
    for (const DescrEntry &e : kDescrs) {
      if (descr[1] != e.kind || descr[2] != static_cast<char>('0' + e.size))
        continue;
      // A byte order is meaningless for one-byte types: NumPy writes '|'.
      if (e.size == 1 && (order == '|' || order == '<' || order == '='))
        return e.dtype;
      if (order == '<')
        return e.dtype;
      if (order == '>')
        return Status::failure("big-endian dtype ", quote(descr),
                               " is not supported (expected little-endian '<",
                               descr.substr(1), "')");
      break;
    }
  }
  return Status::failure("unsupported dtype ", quote(descr),
                         " (supported: ", kSupportedDescrs, ")");
}

std::string descrFromDType(DType dtype) {
  for (const DescrEntry &e : kDescrs)
    if (e.dtype == dtype)
      return std::string(e.size == 1 ? "|" : "<") + e.kind +
             static_cast<char>('0' + e.size);
  return "";
}

/// The header NumPy writes is the repr() of a Python dict:
///   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
/// This parses exactly that grammar: quoted keys, a quoted descr, True/False,
/// and a tuple of non-negative integers ('(3,)' and '()' included).
class HeaderParser {
public:
  explicit HeaderParser(std::string_view input) : text(input) {}

  Status parse(std::string &descr, bool &fortranOrder,
               std::vector<int64_t> &shape) {
    bool seenDescr = false, seenOrder = false, seenShape = false;
    skipSpace();
    if (!consume('{'))
      return error("expected '{'");
    while (true) {
      skipSpace();
      if (consume('}'))
        break;
      std::string key;
      if (Status s = parseString(key); !s.ok())
        return s;
      skipSpace();
      if (!consume(':'))
        return error("expected ':' after key " + quote(key));
      skipSpace();
      if (key == "descr") {
        if (seenDescr)
          return error("duplicate key 'descr'");
        seenDescr = true;
        if (peek() != '\'' && peek() != '"')
          return error("'descr' is not a string (structured dtypes are not "
                       "supported)");
        if (Status s = parseString(descr); !s.ok())
          return s;
      } else if (key == "fortran_order") {
        if (seenOrder)
          return error("duplicate key 'fortran_order'");
        seenOrder = true;
        if (consumeWord("True"))
          fortranOrder = true;
        else if (consumeWord("False"))
          fortranOrder = false;
        else
          return error("'fortran_order' must be True or False");
      } else if (key == "shape") {
        if (seenShape)
          return error("duplicate key 'shape'");
        seenShape = true;
        if (Status s = parseShape(shape); !s.ok())
          return s;
      } else {
        return error("unexpected key " + quote(key) +
                     " (expected 'descr', 'fortran_order', 'shape')");
      }
      skipSpace();
      if (consume('}'))
        break;
      if (!consume(','))
        return error("expected ',' or '}'");
    }
    skipSpace();
    if (pos != text.size())
      return error("unexpected characters after the header dict");
    if (!seenDescr || !seenOrder || !seenShape)
      return Status::failure("malformed header: missing key ",
                             !seenDescr   ? "'descr'"
                             : !seenOrder ? "'fortran_order'"
                                          : "'shape'");
    return Status::success();
  }

private:
  Status error(const std::string &what) const {
    return Status::failure("malformed header at byte ", pos, ": ", what);
  }

  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
  bool consume(char c) {
    if (peek() != c)
      return false;
    ++pos;
    return true;
  }
  bool consumeWord(std::string_view word) {
    if (text.substr(pos, word.size()) != word)
      return false;
    pos += word.size();
    return true;
  }
  void skipSpace() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')
      ++pos;
  }
  bool isDigit() const { return peek() >= '0' && peek() <= '9'; }

  Status parseString(std::string &out) {
    char quoteChar = peek();
    if (quoteChar != '\'' && quoteChar != '"')
      return error("expected a quoted string");
    ++pos;
    size_t start = pos;
    while (pos < text.size() && text[pos] != quoteChar) {
      auto c = static_cast<unsigned char>(text[pos]);
      // No escapes or non-ASCII: nothing NumPy writes here needs them.
      if (c == '\\' || c < 0x20 || c >= 0x7f)
        return error("unsupported character in a string");
      ++pos;
    }
    if (pos == text.size())
      return error("unterminated string");
    out = std::string(text.substr(start, pos - start));
    ++pos;
    return Status::success();
  }

  Status parseShape(std::vector<int64_t> &shape) {
    if (!consume('('))
      return error("'shape' must be a tuple of integers");
    shape.clear();
    bool trailingComma = false;
    while (true) {
      skipSpace();
      if (consume(')'))
        break;
      if (!isDigit())
        return error("expected a non-negative integer in 'shape'");
      int64_t dim = 0;
      while (isDigit()) {
        int digit = peek() - '0';
        if (dim > (INT64_MAX - digit) / 10)
          return error("dimension in 'shape' is too large");
        dim = dim * 10 + digit;
        ++pos;
      }
      shape.push_back(dim);
      skipSpace();
      trailingComma = consume(',');
      if (trailingComma)
        continue;
      skipSpace();
      if (!consume(')'))
        return error("expected ',' or ')' in 'shape'");
      break;
    }
    // Python reads '(3)' as the integer 3, not a tuple.
    if (shape.size() == 1 && !trailingComma)
      return error("'shape' must be a tuple of integers");
    return Status::success();
  }

  std::string_view text;
  size_t pos = 0;
};

uint32_t readLittleEndian(const unsigned char *bytes, size_t count) {
  uint32_t value = 0;
  for (size_t i = count; i-- > 0;)
    value = (value << 8) | bytes[i];
  return value;
}

Expected<HostTensor> readNpyImpl(const std::string &path) {
  Expected<InputFile> file = InputFile::open(path);
  if (!file)
    return file.status();

  unsigned char preamble[kMagicSize + 2];
  if (file->size() < sizeof(preamble))
    return Status::failure("file is too short (", file->size(),
                           " bytes) to be .npy");
  if (Status s = file->read(preamble, sizeof(preamble)); !s.ok())
    return s;
  if (std::memcmp(preamble, kMagic, kMagicSize) != 0)
    return Status::failure(
        "bad magic: expected '\\x93NUMPY', got ",
        quote(
            std::string_view(reinterpret_cast<char *>(preamble), kMagicSize)));
  unsigned major = preamble[kMagicSize], minor = preamble[kMagicSize + 1];
  if ((major < 1 || major > 3) || minor != 0)
    return Status::failure("unsupported format version ", major, ".", minor,
                           " (supported: 1.0, 2.0, 3.0)");

  size_t lengthBytes = major == 1 ? 2 : 4;
  unsigned char lengthField[4];
  if (Status s = file->read(lengthField, lengthBytes); !s.ok())
    return Status::failure("truncated header length: ", s.message());
  uint32_t headerSize = readLittleEndian(lengthField, lengthBytes);
  if (headerSize > kMaxHeaderSize)
    return Status::failure("header length ", headerSize,
                           " exceeds the limit of ", kMaxHeaderSize, " bytes");
  if (headerSize > file->remaining())
    return Status::failure("truncated header: its length field says ",
                           headerSize, " bytes, the file has ",
                           file->remaining(), " after it");
  std::string header(headerSize, '\0');
  if (Status s = file->read(header.data(), headerSize); !s.ok())
    return s;

  std::string descr;
  bool fortranOrder = false;
  std::vector<int64_t> shape;
  if (Status s = HeaderParser(header).parse(descr, fortranOrder, shape);
      !s.ok())
    return s;
  Expected<DType> dtype = dtypeFromDescr(descr);
  if (!dtype)
    return dtype.status();
  Expected<size_t> dataSize = denseByteSize(*dtype, shape);
  if (!dataSize)
    return dataSize.status();
  // numpy.save sets fortran_order only when the layout differs from C order.
  if (fortranOrder)
    return Status::failure("Fortran-order arrays are not supported (save "
                           "numpy.ascontiguousarray(a) instead)");

  uint64_t dataOffset = file->size() - file->remaining();
  std::string expectation =
      std::string(dtypeName(*dtype)) + " " + shapeString(shape) + " needs " +
      std::to_string(*dataSize) + " bytes of data after the " +
      std::to_string(dataOffset) + "-byte header, the file has " +
      std::to_string(file->remaining());
  if (file->remaining() < *dataSize)
    return Status::failure("data is truncated: ", expectation);
  if (file->remaining() > *dataSize)
    return Status::failure("unexpected bytes after the data: ", expectation);

  Expected<HostTensor> tensor = HostTensor::create(*dtype, std::move(shape));
  if (!tensor)
    return tensor.status();
  if (Status s = file->read(tensor->bytes(), *dataSize); !s.ok())
    return s;
  if (Status s = tensor->checkBoolBytes(); !s.ok())
    return s;
  return tensor;
}

Status writeNpyImpl(const std::string &path, const HostTensor &tensor) {
  std::string descr = descrFromDType(tensor.dtype());
  if (descr.empty())
    return Status::failure("NumPy has no ", dtypeName(tensor.dtype()),
                           " dtype; convert the tensor or use .safetensors");

  if (tensor.rank() > kMaxNumpyRank)
    return Status::failure("rank ", tensor.rank(), " exceeds NumPy's limit of ",
                           kMaxNumpyRank, " dimensions");

  // Byte for byte what numpy.save writes, including the spare spaces it
  // reserves for growing the first dimension in place.
  const auto &shape = tensor.shape();
  std::string dict =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i)
    dict += std::to_string(shape[i]) + (shape.size() == 1 ? "," : "") +
            (i + 1 < shape.size() ? ", " : "");
  dict += "), }";
  if (!shape.empty())
    dict.append(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');

  // Spaces and a newline end the header so that the data starts aligned.
  size_t unpadded = kMagicSize + 2 + 2 + dict.size() + 1;
  size_t padding = kHeaderAlignment - unpadded % kHeaderAlignment;
  std::string header = dict + std::string(padding, ' ') + "\n";

  // Version 1.0: a 2-byte header length, enough for any rank NumPy allows.
  std::string preamble(kMagic, kMagicSize);
  preamble += '\x01';
  preamble += '\0';
  preamble += static_cast<char>(header.size() & 0xFF);
  preamble += static_cast<char>(header.size() >> 8);

  Expected<OutputFile> file = OutputFile::create(path);
  if (!file)
    return file.status();
  if (Status s = file->write(preamble.data(), preamble.size()); !s.ok())
    return s;
  if (Status s = file->write(header.data(), header.size()); !s.ok())
    return s;
  if (Status s = file->write(tensor.bytes(), tensor.byteSize()); !s.ok())
    return s;
  return file->close();
}
} // namespace

Expected<HostTensor> moe::readNpy(const std::string &path) {
  Expected<HostTensor> tensor = readNpyImpl(path);
  if (!tensor)
    return tensor.status().withPrefix("npy file " + quote(path) + ": ");
  return tensor;
}

Status moe::writeNpy(const std::string &path, const HostTensor &tensor) {
  return writeNpyImpl(path, tensor)
      .withPrefix("npy file " + quote(path) + ": ");
}
