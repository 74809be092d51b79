//===- SafeTensors.cpp - .safetensors weight files ------------------------===//

#include "runtime/SafeTensors.h"

#include "runtime/BinaryFile.h"
#include "runtime/Json.h"
#include "runtime/OutputFile.h"

#include <algorithm>

using namespace moe;

namespace {
// The reference implementation rejects larger headers too.
constexpr uint64_t kMaxHeaderSize = 100'000'000;
constexpr char kMetadataKey[] = "__metadata__";
// getTensor lists at most this many of the names a file does have.
constexpr size_t kMaxListedNames = 20;

struct DTypeName {
  DType dtype;
  const char *name;
};

constexpr DTypeName kDTypeNames[] = {
    {DType::F16, "F16"},  {DType::BF16, "BF16"}, {DType::F32, "F32"},
    {DType::F64, "F64"},  {DType::I8, "I8"},     {DType::I16, "I16"},
    {DType::I32, "I32"},  {DType::I64, "I64"},   {DType::U8, "U8"},
    {DType::U16, "U16"},  {DType::U32, "U32"},   {DType::U64, "U64"},
    {DType::Bool, "BOOL"}};

const char *safeTensorsName(DType dtype) {
  for (const DTypeName &entry : kDTypeNames)
    if (entry.dtype == dtype)
      return entry.name;
  return "";
}

Expected<DType> dtypeFromSafeTensorsName(const std::string &name) {
  for (const DTypeName &entry : kDTypeNames)
    if (name == entry.name)
      return entry.dtype;
  std::string supported;
  for (const DTypeName &entry : kDTypeNames)
    supported += std::string(supported.empty() ? "" : " ") + entry.name;
  return Status::failure("unsupported dtype ", quote(name),
                         " (supported: ", supported, ")");
}

/// One tensor's header entry, validated.
struct Entry {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;
};

Status parseShape(const JsonValue &value, std::vector<int64_t> &shape) {
  if (value.kind != JsonValue::Kind::Array)
    return Status::failure("'shape' must be an array of integers, got ",
                           JsonValue::kindName(value.kind));
  for (const JsonValue &dim : value.elements) {
    std::optional<uint64_t> d = dim.asUint64();
    if (!d || *d > static_cast<uint64_t>(INT64_MAX))
      return Status::failure("'shape' must hold non-negative integers, got ",
                             dim.kind == JsonValue::Kind::Number
                                 ? dim.text
                                 : JsonValue::kindName(dim.kind));
    shape.push_back(static_cast<int64_t>(*d));
  }
  return Status::success();
}

Status parseOffsets(const JsonValue &value, uint64_t &begin, uint64_t &end) {
  std::optional<uint64_t> b, e;
  if (value.kind == JsonValue::Kind::Array && value.elements.size() == 2) {
    b = value.elements[0].asUint64();
    e = value.elements[1].asUint64();
  }
  if (!b || !e)
    return Status::failure(
        "'data_offsets' must be [begin, end] with non-negative integers");
  if (*b > *e)
    return Status::failure("'data_offsets' [", *b, ", ", *e,
                           "] ends before it begins");
  begin = *b;
  end = *e;
  return Status::success();
}

Status parseEntry(const JsonMember &member, uint64_t dataSize, Entry &entry) {
  const JsonValue &value = member.value;
  if (value.kind != JsonValue::Kind::Object)
    return Status::failure("entry must be an object, got ",
                           JsonValue::kindName(value.kind));
  for (const JsonMember &field : value.members)
    if (field.key != "dtype" && field.key != "shape" &&
        field.key != "data_offsets")
      return Status::failure("unexpected key ", quote(field.key),
                             " (expected 'dtype', 'shape', 'data_offsets')");
  const JsonValue *dtype = value.find("dtype");
  const JsonValue *shape = value.find("shape");
  const JsonValue *offsets = value.find("data_offsets");
  if (!dtype || !shape || !offsets)
    return Status::failure("missing key ", !dtype   ? "'dtype'"
                                           : !shape ? "'shape'"
                                                    : "'data_offsets'");
  if (dtype->kind != JsonValue::Kind::String)
    return Status::failure("'dtype' must be a string, got ",
                           JsonValue::kindName(dtype->kind));
  Expected<DType> parsedDType = dtypeFromSafeTensorsName(dtype->text);
  if (!parsedDType)
    return parsedDType.status();
  entry.name = member.key;
  entry.dtype = *parsedDType;
  if (Status s = parseShape(*shape, entry.shape); !s.ok())
    return s;
  if (Status s = parseOffsets(*offsets, entry.begin, entry.end); !s.ok())
    return s;
  Expected<size_t> bytes = denseByteSize(entry.dtype, entry.shape);
  if (!bytes)
    return bytes.status();
  if (entry.end > dataSize)
    return Status::failure("'data_offsets' [", entry.begin, ", ", entry.end,
                           "] extend past the ", dataSize,
                           "-byte data section");
  if (entry.end - entry.begin != *bytes)
    return Status::failure(
        "'data_offsets' [", entry.begin, ", ", entry.end, "] span ",
        entry.end - entry.begin, " bytes, expected ", *bytes, " for ",
        dtypeName(entry.dtype), " ", shapeString(entry.shape));
  return Status::success();
}

Status parseMetadata(const JsonValue &value,
                     std::map<std::string, std::string> &metadata) {
  if (value.kind != JsonValue::Kind::Object)
    return Status::failure("'__metadata__' must be an object, got ",
                           JsonValue::kindName(value.kind));
  for (const JsonMember &member : value.members) {
    if (member.value.kind != JsonValue::Kind::String)
      return Status::failure("'__metadata__' value ", quote(member.key),
                             " must be a string, got ",
                             JsonValue::kindName(member.value.kind));
    metadata[member.key] = member.value.text;
  }
  return Status::success();
}

/// Checks that the entries' byte ranges tile [0, dataSize) exactly; sorts
/// `entries` by offset.
Status checkLayout(std::vector<Entry> &entries, uint64_t dataSize) {
  std::sort(entries.begin(), entries.end(), [](const Entry &a, const Entry &b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  const Entry *last = nullptr; // the entry that ends at `covered`
  for (const Entry &entry : entries) {
    if (entry.begin < covered)
      return Status::failure("tensor ", quote(entry.name), " bytes [",
                             entry.begin, ", ", entry.end, ") overlap tensor ",
                             quote(last->name), " bytes [", last->begin, ", ",
                             last->end, ")");
    if (entry.begin > covered)
      return Status::failure("data section bytes [", covered, ", ", entry.begin,
                             ") belong to no tensor");
    if (entry.end > covered || !last) {
      covered = entry.end;
      last = &entry;
    }
  }
  if (covered != dataSize)
    return Status::failure("data section bytes [", covered, ", ", dataSize,
                           ") belong to no tensor");
  return Status::success();
}

Expected<SafeTensorsFile> readSafeTensorsImpl(const std::string &path) {
  Expected<InputFile> file = InputFile::open(path);
  if (!file)
    return file.status();
  if (file->size() < 8)
    return Status::failure("file is too short (", file->size(),
                           " bytes) for the 8-byte header length");
  unsigned char lengthField[8];
  if (Status s = file->read(lengthField, 8); !s.ok())
    return s;
  uint64_t headerSize = 0;
  for (int i = 7; i >= 0; --i)
    headerSize = (headerSize << 8) | lengthField[i];
  if (headerSize > kMaxHeaderSize)
    return Status::failure("header length ", headerSize,
                           " exceeds the limit of ", kMaxHeaderSize, " bytes");
  if (headerSize > file->remaining())
    return Status::failure("header length ", headerSize,
                           " exceeds the file size (", file->remaining(),
                           " bytes after the length field)");
  std::string header(headerSize, '\0');
  if (Status s = file->read(header.data(), headerSize); !s.ok())
    return s;
  uint64_t dataSize = file->remaining();

  if (header.empty() || header[0] != '{')
    return Status::failure("header does not start with '{'");
  Expected<JsonValue> json = parseJson(header);
  if (!json)
    return json.status().withPrefix("malformed JSON header ");
  if (json->kind != JsonValue::Kind::Object)
    return Status::failure("header is not a JSON object");

  SafeTensorsFile result;
  result.path = path;
  std::vector<Entry> entries;
  for (const JsonMember &member : json->members) {
    if (member.key == kMetadataKey) {
      if (Status s = parseMetadata(member.value, result.metadata); !s.ok())
        return s;
      continue;
    }
    Entry entry;
    if (Status s = parseEntry(member, dataSize, entry); !s.ok())
      return s.withPrefix("tensor " + quote(member.key) + ": ");
    entries.push_back(std::move(entry));
  }
  if (Status s = checkLayout(entries, dataSize); !s.ok())
    return s;

  // The ranges tile the data section, so reading in offset order is one
  // sequential pass and the allocations total the file's data size.
  for (Entry &entry : entries) {
    Expected<HostTensor> tensor = HostTensor::create(entry.dtype, entry.shape);
    if (!tensor)
      return tensor.status().withPrefix("tensor " + quote(entry.name) + ": ");
    Status s = file->read(tensor->bytes(), entry.end - entry.begin);
    if (s.ok())
      s = tensor->checkBoolBytes();
    if (!s.ok())
      return s.withPrefix("tensor " + quote(entry.name) + ": ");
    result.tensors.emplace(std::move(entry.name), std::move(*tensor));
  }
  return result;
}

Status writeSafeTensorsImpl(const std::map<std::string, HostTensor> &tensors,
                            const std::map<std::string, std::string> &metadata,
                            OutputFile &file) {
  for (const auto &[key, value] : metadata)
    if (!isValidUtf8(key) || !isValidUtf8(value))
      return Status::failure("metadata entry ", quote(key),
                             " is not valid UTF-8");
  std::vector<const std::pair<const std::string, HostTensor> *> order;
  for (const auto &named : tensors) {
    if (named.first == kMetadataKey)
      return Status::failure("a tensor cannot be named '__metadata__'");
    if (!isValidUtf8(named.first))
      return Status::failure("tensor name ", quote(named.first),
                             " is not valid UTF-8");
    order.push_back(&named);
  }
  // std::map iterates by name, so a stable sort keeps names in order.
  std::stable_sort(order.begin(), order.end(), [](auto *a, auto *b) {
    return dtypeSize(a->second.dtype()) > dtypeSize(b->second.dtype());
  });

  std::string header = "{";
  if (!metadata.empty()) {
    appendJsonString(header, kMetadataKey);
    header += ":{";
    for (const auto &[key, value] : metadata) {
      if (header.back() != '{')
        header += ',';
      appendJsonString(header, key);
      header += ':';
      appendJsonString(header, value);
    }
    header += '}';
  }
  uint64_t offset = 0;
  for (const auto *named : order) {
    const HostTensor &tensor = named->second;
    if (header.size() > 1)
      header += ',';
    appendJsonString(header, named->first);
    header += ":{\"dtype\":\"";
    header += safeTensorsName(tensor.dtype());
    header += "\",\"shape\":[";
    for (size_t i = 0; i < tensor.rank(); ++i)
      header += (i ? "," : "") + std::to_string(tensor.dim(i));
    header += "],\"data_offsets\":[" + std::to_string(offset) + ",";
    offset += tensor.byteSize();
    header += std::to_string(offset) + "]}";
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');

  unsigned char lengthField[8];
  for (int i = 0; i < 8; ++i)
    lengthField[i] = static_cast<unsigned char>(header.size() >> (8 * i));
  if (Status s = file.write(lengthField, 8); !s.ok())
    return s;
  if (Status s = file.write(header.data(), header.size()); !s.ok())
    return s;
  for (const auto *named : order)
    if (Status s = file.write(named->second.bytes(), named->second.byteSize());
        !s.ok())
      return s;
  return file.close();
}
} // namespace

Expected<SafeTensorsFile> moe::readSafeTensors(const std::string &path) {
  Expected<SafeTensorsFile> file = readSafeTensorsImpl(path);
  if (!file)
    return file.status().withPrefix("safetensors file " + quote(path) + ": ");
  return file;
}

Status
moe::writeSafeTensors(const std::string &path,
                      const std::map<std::string, HostTensor> &tensors,
                      const std::map<std::string, std::string> &metadata) {
  Expected<OutputFile> file = OutputFile::create(path);
  Status s =
      file ? writeSafeTensorsImpl(tensors, metadata, *file) : file.status();
  return s.withPrefix("safetensors file " + quote(path) + ": ");
}

Expected<const HostTensor *>
moe::getTensor(const SafeTensorsFile &file, const std::string &name,
               DType expectedDType, const std::vector<int64_t> &expectedShape) {
  auto it = file.tensors.find(name);
  if (it == file.tensors.end()) {
    std::string names;
    size_t listed = 0;
    for (const auto &named : file.tensors) {
      if (listed == kMaxListedNames)
        break;
      names += (listed++ ? ", " : "") + quote(named.first);
    }
    if (file.tensors.size() > listed)
      names +=
          ", and " + std::to_string(file.tensors.size() - listed) + " more";
    return Status::failure(
        "weight ", quote(name), " is missing from ", quote(file.path),
        " (it has: ", names.empty() ? "no tensors" : names, ")");
  }
  const HostTensor &tensor = it->second;
  bool matches =
      tensor.dtype() == expectedDType && tensor.rank() == expectedShape.size();
  for (size_t i = 0; matches && i < expectedShape.size(); ++i)
    matches = expectedShape[i] == -1 || expectedShape[i] == tensor.dim(i);
  if (!matches)
    return Status::failure("weight ", quote(name), " in ", quote(file.path),
                           ": expected ", dtypeName(expectedDType), " ",
                           shapeString(expectedShape), ", got ",
                           tensor.typeString());
  return &tensor;
}
