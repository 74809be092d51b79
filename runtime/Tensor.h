//===- Tensor.h - Element types and host tensors ----------------*- C++ -*-===//
//
// DType names the element types the runtime moves between files, compiled
// code and applications. HostTensor is a dense, row-major (C order) tensor in
// host memory that owns a 64-byte aligned buffer, so compiled code may use
// aligned vector loads on it.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_TENSOR_H
#define MOE_RUNTIME_TENSOR_H

#include "runtime/Status.h"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error                                                                         \
    "the runtime assumes a little-endian host (file formats are little-endian)"
#endif

namespace moe {

/// Element types. f16 and bf16 have no C++ type; access them as uint16_t bits.
enum class DType : uint8_t {
  F16,
  BF16,
  F32,
  F64,
  I8,
  I16,
  I32,
  I64,
  U8,
  U16,
  U32,
  U64,
  Bool, // one byte per element, 0 or 1
};

/// Every DType, in declaration order (for iteration in tools and tests).
inline constexpr DType kAllDTypes[] = {
    DType::F16, DType::BF16, DType::F32, DType::F64, DType::I8,
    DType::I16, DType::I32,  DType::I64, DType::U8,  DType::U16,
    DType::U32, DType::U64,  DType::Bool};

/// The short name used in messages and on command lines: "f32", "bf16",
/// "i64", "u8", "bool".
std::string_view dtypeName(DType dtype);
/// The DType named `name` (as printed by dtypeName), if any.
std::optional<DType> dtypeFromName(std::string_view name);
/// Bytes per element.
size_t dtypeSize(DType dtype);

/// The C++ type that stores one element of each DType (uint16_t bits for f16
/// and bf16). Used by HostTensor::data<T>() to check accesses.
template <typename T> bool isStorageTypeOf(DType dtype);

static_assert(sizeof(bool) == 1, "DType::Bool stores one byte per element");

/// "[8, 768, 3072]"; "[]" for a scalar. Negative dimensions print as "?".
std::string shapeString(const std::vector<int64_t> &shape);

/// The number of bytes a dense tensor of `dtype` and `shape` occupies, or a
/// failure if a dimension is negative or the size overflows.
Expected<size_t> denseByteSize(DType dtype, const std::vector<int64_t> &shape);

/// A dense, row-major tensor in host memory. Move-only: copying weights must be
/// explicit (clone()).
class HostTensor {
public:
  /// An empty f32 tensor of shape [0].
  HostTensor();

  /// A zero-filled tensor; fails on a negative dimension, a size overflow or an
  /// allocation failure.
  static Expected<HostTensor> create(DType dtype, std::vector<int64_t> shape);

  HostTensor(HostTensor &&) noexcept = default;
  HostTensor &operator=(HostTensor &&) noexcept = default;
  HostTensor(const HostTensor &) = delete;
  HostTensor &operator=(const HostTensor &) = delete;

  /// A deep copy; fails only if allocation fails.
  Expected<HostTensor> clone() const;

  DType dtype() const { return elementType; }
  const std::vector<int64_t> &shape() const { return dims; }
  size_t rank() const { return dims.size(); }
  int64_t dim(size_t i) const {
    assert(i < dims.size() && "dimension index out of range");
    return dims[i];
  }
  int64_t numElements() const { return elementCount; }
  size_t byteSize() const { return elementCount * dtypeSize(elementType); }

  /// "[8, 768, 3072]".
  std::string shapeString() const { return moe::shapeString(dims); }
  /// "f32 [8, 768, 3072]": the form used in error messages.
  std::string typeString() const;

  /// The raw bytes, byteSize() of them, aligned to kAlignment. Null when the
  /// tensor has no elements.
  std::byte *bytes() { return buffer.get(); }
  const std::byte *bytes() const { return buffer.get(); }

  /// Typed access; T must be the storage type of dtype() (isStorageTypeOf).
  template <typename T> T *data() {
    assert(isStorageTypeOf<T>(elementType) && "data<T>() with the wrong type");
    return reinterpret_cast<T *>(buffer.get());
  }
  template <typename T> const T *data() const {
    assert(isStorageTypeOf<T>(elementType) && "data<T>() with the wrong type");
    return reinterpret_cast<const T *>(buffer.get());
  }

  static constexpr size_t kAlignment = 64;
  /// Buffers of at least this size are mapped pages of their own: they are
  /// zero without being touched, and freeing one returns its memory to the
  /// system at once (a heap block in the middle of the heap would stay
  /// resident), which keeps peak memory low when weights are packed.
  static constexpr size_t kMapThreshold = size_t(1) << 20;

  /// Promises that the first `bytes` bytes will not be read again: where
  /// the buffer is mapped pages, the whole pages among them go back to the
  /// system at once (reading them afterwards gives zeros). For consuming a
  /// large tensor piece by piece (packStrips) without holding it whole to
  /// the end.
  void discardPrefix(size_t bytes);

  /// Fails if this is a bool tensor holding a byte other than 0 or 1: files can
  /// contain such bytes, and reading one as a C++ bool is undefined behaviour.
  Status checkBoolBytes() const;

private:
  /// Frees a buffer of create(): mapped pages (`mappedBytes` of them) or an
  /// aligned heap block.
  struct AlignedFree {
    size_t mappedBytes; // 0 (value-initialized): a heap block
    void operator()(std::byte *p) const;
  };

  HostTensor(DType dtype, std::vector<int64_t> shape, int64_t numElements,
             std::unique_ptr<std::byte[], AlignedFree> storage);

  DType elementType;
  std::vector<int64_t> dims;
  int64_t elementCount;
  std::unique_ptr<std::byte[], AlignedFree> buffer;
};

//===----------------------------------------------------------------------===//
// Implementation details
//===----------------------------------------------------------------------===//

template <typename T> bool isStorageTypeOf(DType dtype) {
  switch (dtype) {
  case DType::F16:
  case DType::BF16:
  case DType::U16:
    return std::is_same_v<T, uint16_t>;
  case DType::F32:
    return std::is_same_v<T, float>;
  case DType::F64:
    return std::is_same_v<T, double>;
  case DType::I8:
    return std::is_same_v<T, int8_t>;
  case DType::I16:
    return std::is_same_v<T, int16_t>;
  case DType::I32:
    return std::is_same_v<T, int32_t>;
  case DType::I64:
    return std::is_same_v<T, int64_t>;
  case DType::U8:
    return std::is_same_v<T, uint8_t>;
  case DType::U32:
    return std::is_same_v<T, uint32_t>;
  case DType::U64:
    return std::is_same_v<T, uint64_t>;
  case DType::Bool:
    return std::is_same_v<T, bool>;
  }
  return false;
}

} // namespace moe

#endif // MOE_RUNTIME_TENSOR_H
