//===- Tensor.cpp - Element types and host tensors ------------------------===//

#include "runtime/Tensor.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <sys/mman.h>
#include <unistd.h>

using namespace moe;

namespace {
struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr DTypeInfo kDTypeInfos[] = {
    {DType::F16, "f16", 2},  {DType::BF16, "bf16", 2}, {DType::F32, "f32", 4},
    {DType::F64, "f64", 8},  {DType::I8, "i8", 1},     {DType::I16, "i16", 2},
    {DType::I32, "i32", 4},  {DType::I64, "i64", 8},   {DType::U8, "u8", 1},
    {DType::U16, "u16", 2},  {DType::U32, "u32", 4},   {DType::U64, "u64", 8},
    {DType::Bool, "bool", 1}};

const DTypeInfo &info(DType dtype) {
  for (const DTypeInfo &i : kDTypeInfos)
    if (i.dtype == dtype)
      return i;
  assert(false && "DType missing from kDTypeInfos");
  return kDTypeInfos[0];
}
} // namespace

std::string_view moe::dtypeName(DType dtype) { return info(dtype).name; }

std::optional<DType> moe::dtypeFromName(std::string_view name) {
  for (const DTypeInfo &i : kDTypeInfos)
    if (i.name == name)
      return i.dtype;
  return std::nullopt;
}

size_t moe::dtypeSize(DType dtype) { return info(dtype).size; }

std::string moe::shapeString(const std::vector<int64_t> &shape) {
  std::string result = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i)
      result += ", ";
    result += shape[i] < 0 ? "?" : std::to_string(shape[i]);
  }
  return result + "]";
}

Expected<size_t> moe::denseByteSize(DType dtype,
                                    const std::vector<int64_t> &shape) {
  // Keep byte counts within int64_t so they also fit file offsets.
  const uint64_t limit = std::numeric_limits<int64_t>::max();
  uint64_t bytes = dtypeSize(dtype);
  for (int64_t d : shape) {
    if (d < 0)
      return Status::failure("negative dimension in shape ",
                             moe::shapeString(shape));
    if (d != 0 && bytes > limit / static_cast<uint64_t>(d))
      return Status::failure("shape ", moe::shapeString(shape), " of ",
                             dtypeName(dtype), " is too large");
    bytes *= static_cast<uint64_t>(d);
  }
  if (bytes > std::numeric_limits<size_t>::max())
    return Status::failure("shape ", moe::shapeString(shape), " of ",
                           dtypeName(dtype), " is too large for this host");
  return static_cast<size_t>(bytes);
}

void HostTensor::AlignedFree::operator()(std::byte *p) const {
  if (mappedBytes != 0)
    ::munmap(p, mappedBytes);
  else
    ::operator delete[](p, std::align_val_t(kAlignment));
}

HostTensor::HostTensor() : HostTensor(DType::F32, {0}, 0, nullptr) {}

HostTensor::HostTensor(DType dtype, std::vector<int64_t> shape,
                       int64_t numElements,
                       std::unique_ptr<std::byte[], AlignedFree> storage)
    : elementType(dtype), dims(std::move(shape)), elementCount(numElements),
      buffer(std::move(storage)) {}

Expected<HostTensor> HostTensor::create(DType dtype,
                                        std::vector<int64_t> shape) {
  Expected<size_t> bytes = denseByteSize(dtype, shape);
  if (!bytes)
    return bytes.status();
  int64_t numElements = static_cast<int64_t>(*bytes / dtypeSize(dtype));
  std::unique_ptr<std::byte[], AlignedFree> buffer;
  auto failed = [&] {
    return Status::failure("cannot allocate ", *bytes, " bytes for ",
                           dtypeName(dtype), " ", moe::shapeString(shape));
  };
  if (*bytes >= kMapThreshold) {
    // Anonymous pages: zero-filled, page-aligned (so kAlignment-aligned).
    void *pages = ::mmap(nullptr, *bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED)
      return failed();
    buffer = std::unique_ptr<std::byte[], AlignedFree>(
        static_cast<std::byte *>(pages), AlignedFree{*bytes});
  } else if (*bytes != 0) {
    buffer.reset(new (std::align_val_t(kAlignment), std::nothrow)
                     std::byte[*bytes]);
    if (!buffer)
      return failed();
    std::memset(buffer.get(), 0, *bytes);
  }
  return HostTensor(dtype, std::move(shape), numElements, std::move(buffer));
}

Expected<HostTensor> HostTensor::clone() const {
  Expected<HostTensor> copy = create(elementType, dims);
  if (copy && byteSize() != 0)
    std::memcpy(copy->bytes(), bytes(), byteSize());
  return copy;
}

void HostTensor::discardPrefix(size_t bytes) {
  if (buffer.get_deleter().mappedBytes == 0)
    return;
  size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t whole = std::min(bytes, byteSize()) / page * page;
  if (whole != 0)
    ::madvise(buffer.get(), whole, MADV_DONTNEED);
}

std::string HostTensor::typeString() const {
  return std::string(dtypeName(elementType)) + " " + shapeString();
}

Status HostTensor::checkBoolBytes() const {
  if (elementType != DType::Bool)
    return Status::success();
  const auto *raw = reinterpret_cast<const uint8_t *>(bytes());
  for (int64_t i = 0; i < elementCount; ++i)
    if (raw[i] > 1)
      return Status::failure("bool element ", i, " has byte value ",
                             static_cast<int>(raw[i]), " (expected 0 or 1)");
  return Status::success();
}
