//===- DataPath.h - What users of the expert data path share ---*- C++ -*-===//
//
// The expert data path (moe.gather_rows, moe.grouped_matmul,
// moe.scatter_add_rows) reads rows through i32 indices where -1 means none.
// Its decomposition and the targets that lower its ops themselves (the CPU's
// packing of gathered rows) read such an index the same way.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_DIALECT_DATAPATH_H
#define MOE_DIALECT_DATAPATH_H

#include "mlir/IR/Builders.h"

#include <optional>
#include <utility>

namespace mlir::moe {

/// An i32 row index: whether it is -1 (none), and the row to read as an
/// `index` (0 for none, whose values the caller replaces).
std::pair<Value, Value> rowToRead(OpBuilder &b, Location loc, Value index);

/// The uniform group size `C` when `offsets` is the constant
/// `[0, C, 2C, ..., E * C]` (the padded layout), else nullopt.
std::optional<int64_t> uniformGroupSize(Value offsets);

} // namespace mlir::moe

#endif // MOE_DIALECT_DATAPATH_H
