//===- SafeTensors.h - .safetensors weight files ----------------*- C++ -*-===//
//
// Reads and writes the safetensors format (github.com/huggingface/safetensors):
//
//   [8 bytes]  N, little-endian uint64
//   [N bytes]  JSON header, optionally padded with spaces:
//              {"w1": {"dtype": "F32", "shape": [8, 768], "data_offsets": [0,
//               24576]}, ..., "__metadata__": {"key": "value"}}
//   [rest]     the data section; data_offsets are relative to its start
//
// readSafeTensors validates the whole header before it allocates anything:
// the JSON is strict (Json.h), every dtype is supported, every shape is
// consistent with its byte range, and the byte ranges tile the data section
// exactly (no overlaps, no holes, no trailing bytes), as the format requires.
// Supported dtypes: F16 BF16 F32 F64 I8 I16 I32 I64 U8 U16 U32 U64 BOOL.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_RUNTIME_SAFETENSORS_H
#define MOE_RUNTIME_SAFETENSORS_H

#include "runtime/Status.h"
#include "runtime/Tensor.h"

#include <map>
#include <string>
#include <vector>

namespace moe {

/// The contents of a .safetensors file, fully loaded into host memory.
struct SafeTensorsFile {
  /// The path it was read from, for messages.
  std::string path;
  std::map<std::string, HostTensor> tensors;
  /// The "__metadata__" string map (empty if the file has none).
  std::map<std::string, std::string> metadata;
};

/// Reads every tensor of the file at `path`. Every failure is one line that
/// starts with "safetensors file '<path>': ".
Expected<SafeTensorsFile> readSafeTensors(const std::string &path);

/// Writes `tensors` and `metadata` to `path`. Tensors are laid out by
/// decreasing element size, then by name, so each starts aligned to its
/// element size; the header is padded to a multiple of 8 bytes.
Status
writeSafeTensors(const std::string &path,
                 const std::map<std::string, HostTensor> &tensors,
                 const std::map<std::string, std::string> &metadata = {});

/// The tensor `name` of `file`, checked against the dtype and shape the caller
/// expects; an expected dimension of -1 matches any size. Failures read:
///   weight 'experts.w1' in 'w.safetensors': expected f32 [8, 768, 3072], got
///   f32 [8, 768, 3000]
///   weight 'gate.w' is missing from 'w.safetensors' (it has: 'a', 'b')
Expected<const HostTensor *>
getTensor(const SafeTensorsFile &file, const std::string &name,
          DType expectedDType, const std::vector<int64_t> &expectedShape);

} // namespace moe

#endif // MOE_RUNTIME_SAFETENSORS_H
