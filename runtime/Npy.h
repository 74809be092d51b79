//===- Npy.h - NumPy .npy files ---------------------------------*- C++ -*-===//
//
// Reads and writes single arrays in the NumPy format
// (numpy.org/doc/stable/reference/generated/numpy.lib.format.html), versions
// 1.0, 2.0 and 3.0, little-endian, C order: the format of test inputs and
// reference outputs.
//
// Supported element types and their descr: f16 '<f2', f32 '<f4', f64 '<f8',
// i8 '|i1', i16 '<i2', i32 '<i4', i64 '<i8', u8 '|u1', u16 '<u2', u32 '<u4',
// u64 '<u8', bool '|b1'. NumPy has no bfloat16, so bf16 tensors cannot be
// written (convert them, or use .safetensors).
//
// The reader is strict: the header must be the dict NumPy writes (exactly the
// keys 'descr', 'fortran_order' and 'shape'), and the file must end exactly
// where the data does; trailing bytes are an error, since they mean the header
// and the data disagree.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_NPY_H
#define MOE_RUNTIME_NPY_H

#include "runtime/Status.h"
#include "runtime/Tensor.h"

#include <string>

namespace moe {

/// Reads the array in the .npy file at `path`. Every failure is one line that
/// starts with "npy file '<path>': ".
Expected<HostTensor> readNpy(const std::string &path);

/// Writes `tensor` to `path` as .npy version 1.0, with the same bytes
/// numpy.save writes. Fails for bf16 and for ranks above NumPy's 64.
Status writeNpy(const std::string &path, const HostTensor &tensor);

} // namespace moe

#endif // MOE_RUNTIME_NPY_H
