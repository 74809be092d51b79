//===- MemRefDescriptor.h - MLIR strided memref descriptors -----*- C++ -*-===//
//
// Compiled entry points receive each tensor as MLIR's strided memref
// descriptor (mlir/ExecutionEngine/CRunnerUtils.h, StridedMemRefType<T, R>):
//
//   struct { T *allocated; T *aligned; int64_t offset;
//            int64_t sizes[R]; int64_t strides[R]; };   // rank 0: no arrays
//
// The rank is only known at run time here, so the descriptor is built as an
// array of 3 + 2R eight-byte words, which is the same layout: on the 64-bit
// hosts the runtime supports, pointers and int64_t are both 8 bytes with
// 8-byte alignment, so the struct has no padding.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_MEMREFDESCRIPTOR_H
#define MOE_RUNTIME_MEMREFDESCRIPTOR_H

#include <cstdint>
#include <cstring>
#include <vector>

namespace moe {

static_assert(sizeof(void *) == sizeof(int64_t) &&
                  alignof(void *) == alignof(int64_t),
              "memref descriptors assume 64-bit pointers");

/// The descriptor of a dense, row-major buffer at `data` with `shape`
/// (offset 0, strides the suffix products of the shape).
class MemRefDescriptor {
public:
  MemRefDescriptor(void *data, const std::vector<int64_t> &shape)
      : words(3 + 2 * shape.size()) {
    // Both pointers are `data`: the runtime owns the allocation, so the entry
    // never needs the allocated pointer to free it.
    std::memcpy(&words[0], &data, sizeof(data));
    std::memcpy(&words[1], &data, sizeof(data));
    words[2] = 0;
    const size_t rank = shape.size();
    int64_t stride = 1;
    for (size_t i = rank; i-- > 0;) {
      words[3 + i] = shape[i];
      words[3 + rank + i] = stride;
      stride *= shape[i];
    }
  }

  /// The address to pass to the entry in its argument array.
  void *get() { return words.data(); }

private:
  std::vector<int64_t> words;
};

} // namespace moe

#endif // MOE_RUNTIME_MEMREFDESCRIPTOR_H
