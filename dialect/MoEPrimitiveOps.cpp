//===- MoEPrimitiveOps.cpp - Level-2 moe operations -----------------------===//
//
// Verifiers of the routing primitives, plan layouts, row movement and the
// sorted layout's ops.
// Their shapes are all derived from `[G, S, ...]` tokens, `E` experts and
// `C` slots per expert and group.
//
//===----------------------------------------------------------------------===//

#include "dialect/MoEOps.h"
#include "dialect/ShapeChecks.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::detail;

#include "dialect/MoEIndexOperandsInterface.cpp.inc"

/// `-1` (none) or `[0, count)`.
static IndexOperandRange noneOrBelow(OpOperand &operand, int64_t count,
                                     StringRef meaning) {
  return {&operand, -1, count, meaning};
}

LogicalResult TopKOp::verify() {
  ArrayRef<int64_t> input = shapeOf(getInput());
  int64_t k = getK();
  if (k > input[2])
    return emitOpError() << "k = " << k << " exceeds the " << input[2]
                         << " entries per row";
  if (failed(
          checkShape(*this, "values", getValues(), {input[0], input[1], k})) ||
      failed(checkI32Indexes(*this, "indices", input[2], "entries per row")))
    return failure();
  return checkShape(*this, "indices", getIndices(), {input[0], input[1], k});
}

LogicalResult SinkhornOp::verify() {
  if (!(getEpsilon().convertToDouble() > 0.0))
    return emitOpError() << "epsilon must be > 0, got "
                         << getEpsilon().convertToDouble();
  ArrayRef<int64_t> logits = shapeOf(getLogits());
  return checkShape(*this, "log_u", getLogU(), {logits[0], logits[1]});
}

LogicalResult KSparseOTOp::verify() {
  if (!(getLearningRate().convertToDouble() > 0.0))
    return emitOpError() << "learning_rate must be > 0, got "
                         << getLearningRate().convertToDouble();
  return checkShape(*this, "plan", getPlan(), shapeOf(getLogits()));
}

LogicalResult AssignSlotsOp::verify() {
  ArrayRef<int64_t> experts = shapeOf(getExperts());
  ArrayRef<int64_t> slots = shapeOf(getSlotToken());
  if (getPriority() && failed(checkShape(*this, "priority", getPriority(),
                                         {experts[0], experts[1]})))
    return failure();
  if (slots[0] != experts[0])
    return emitOpError() << "slot_token has " << slots[0]
                         << " groups, the choices " << experts[0];
  if (failed(checkI32Indexes(*this, "slot_token", experts[1],
                             "tokens of a group")) ||
      failed(checkI32Indexes(*this, "token_slot", slots[1] * slots[2],
                             "slots of a group")))
    return failure();
  return checkShape(*this, "token_slot", getTokenSlot(), experts);
}

LogicalResult InvertSlotsOp::verify() {
  ArrayRef<int64_t> slots = shapeOf(getSlotToken());
  ArrayRef<int64_t> tokens = shapeOf(getTokenSlot());
  if (failed(checkI32Indexes(*this, "slot_token", tokens[1],
                             "tokens of a group")) ||
      failed(checkI32Indexes(*this, "token_slot", slots[1] * slots[2],
                             "slots of a group")))
    return failure();
  return checkShape(*this, "token_slot", getTokenSlot(),
                    {slots[0], tokens[1], slots[1]});
}

LogicalResult SlotPlanOp::verify() {
  PlanType plan = getPlan().getType();
  int64_t g = plan.getGroups(), e = plan.getExperts(), c = plan.getCapacity();
  if (failed(checkShape(*this, "slot_token", getSlotToken(), {g, e, c})) ||
      failed(checkTokensMatchPlan(*this, "token_slot", getTokenSlot(), plan)))
    return failure();
  if (failed(checkShape(*this, "token_weight", getTokenWeight(),
                        shapeOf(getTokenSlot()))))
    return failure();
  return checkShape(*this, "token_valid", getTokenValid(),
                    {plan.getGroups(), plan.getTokens()});
}

LogicalResult SoftPlanOp::verify() {
  PlanType plan = getPlan().getType();
  SmallVector<int64_t> expected = {plan.getGroups(), plan.getTokens(),
                                   plan.getExperts() * plan.getCapacity()};
  if (failed(checkShape(*this, "dispatch weights", getDispatch(), expected)))
    return failure();
  if (failed(checkShape(*this, "combine weights", getCombine(), expected)))
    return failure();
  return checkShape(*this, "token_valid", getTokenValid(),
                    {plan.getGroups(), plan.getTokens()});
}

//===----------------------------------------------------------------------===//
// The sorted layout's row tables
//===----------------------------------------------------------------------===//

LogicalResult SortSlotsOp::verify() {
  ArrayRef<int64_t> table = shapeOf(getSlotToken());
  ArrayRef<int64_t> assignments = shapeOf(getTokenSlot());
  if (table[0] != assignments[0])
    return emitOpError() << "slot_token has " << table[0]
                         << " groups, token_slot " << assignments[0];
  int64_t fillable = std::min(assignments[0] * assignments[1] * assignments[2],
                              table[0] * table[1] * table[2]);
  int64_t rows = shapeOf(getRowToken())[0];
  if (failed(checkI32Indexes(*this, "row_token",
                             assignments[0] * assignments[1], "tokens")) ||
      failed(checkI32Indexes(*this, "expert_offsets", rows + 1, "row offsets")))
    return failure();
  if (rows < fillable)
    return emitOpError() << "row_token has " << rows << " rows, fewer than the "
                         << fillable << " slots the plan can fill";
  if (failed(checkShape(*this, "expert_offsets", getExpertOffsets(),
                        {table[1] + 1})))
    return failure();
  return checkShape(*this, "token_row", getTokenRow(), assignments);
}

//===----------------------------------------------------------------------===//
// The expert data path (tiled ops may have dynamic sizes: a `?` matches)
//===----------------------------------------------------------------------===//

/// Checks that `value`'s shape matches `expected` where both are static.
static LogicalResult checkShapeAllowingDynamic(Operation *op, StringRef what,
                                               Value value,
                                               ArrayRef<int64_t> expected) {
  ArrayRef<int64_t> shape = cast<ShapedType>(value.getType()).getShape();
  bool matches = shape.size() == expected.size();
  for (size_t i = 0; matches && i < shape.size(); ++i)
    matches = ShapedType::isDynamic(shape[i]) ||
              ShapedType::isDynamic(expected[i]) || shape[i] == expected[i];
  if (matches)
    return success();
  return op->emitOpError() << what << " must have shape "
                           << shapeString(expected) << ", got "
                           << shapeString(shape);
}

LogicalResult GatherRowsOp::verify() {
  ArrayRef<int64_t> input = getInput().getType().getShape();
  ArrayRef<int64_t> index = getIndex().getType().getShape();
  if (failed(checkSameElementType(*this, "init", getInit(),
                                  getInput().getType().getElementType())) ||
      failed(checkShapeAllowingDynamic(*this, "init", getInit(),
                                       {index[0], input[1]})))
    return failure();
  if (ShapedType::isDynamic(input[0]))
    return success();
  return checkI32Indexes(*this, "index", input[0], "rows of the input");
}

LogicalResult GroupedMatmulOp::verify() {
  ArrayRef<int64_t> input = getInput().getType().getShape();
  ArrayRef<int64_t> weight = getWeight().getType().getShape();
  ArrayRef<int64_t> init = getInit().getType().getShape();
  Type elementType = getInput().getType().getElementType();
  if (failed(checkSameElementType(*this, "weight", getWeight(), elementType)) ||
      failed(checkSameElementType(*this, "init", getInit(), elementType)))
    return failure();
  if (!ShapedType::isDynamic(weight[1]) && !ShapedType::isDynamic(input[1]) &&
      weight[1] != input[1])
    return emitOpError() << "weight has " << weight[1]
                         << " rows but the input is " << input[1] << " wide";
  int64_t experts = weight[0];
  if (failed(checkShapeAllowingDynamic(
          *this, "offsets", getOffsets(),
          {ShapedType::isDynamic(experts) ? experts : experts + 1})))
    return failure();
  int64_t rows = init[0];
  if (Value gather = getGather()) {
    if (failed(checkShapeAllowingDynamic(*this, "gather", gather, {rows})))
      return failure();
    if (!ShapedType::isDynamic(input[0]) &&
        failed(checkI32Indexes(*this, "gather", input[0], "rows of the input")))
      return failure();
  } else if (failed(checkShapeAllowingDynamic(*this, "input", getInput(),
                                              {rows, input[1]}))) {
    return failure();
  }
  if (Value bias = getBias())
    if (failed(checkSameElementType(*this, "bias", bias, elementType)) ||
        failed(checkShapeAllowingDynamic(*this, "bias", bias,
                                         {experts, weight[2]})))
      return failure();
  if (Value scale = getScale())
    if (failed(checkShapeAllowingDynamic(*this, "scale", scale, {rows})))
      return failure();
  int64_t width = weight[2];
  if (getActivation() == Activation::swiglu && !ShapedType::isDynamic(width)) {
    if (width % 2 != 0)
      return emitOpError() << "swiglu needs an even weight width, got "
                           << width;
    width /= 2;
  }
  if (!ShapedType::isDynamic(rows) &&
      failed(checkI32Indexes(*this, "offsets", rows + 1, "row offsets")))
    return failure();
  return checkShapeAllowingDynamic(*this, "init", getInit(), {rows, width});
}

LogicalResult ScatterAddRowsOp::verify() {
  ArrayRef<int64_t> rows = getRows().getType().getShape();
  ArrayRef<int64_t> assignments = getTokenRow().getType().getShape();
  if (failed(checkSameElementType(*this, "init", getInit(),
                                  getRows().getType().getElementType())) ||
      failed(checkShapeAllowingDynamic(*this, "token_weight", getTokenWeight(),
                                       assignments)) ||
      failed(checkShapeAllowingDynamic(
          *this, "init", getInit(), {assignments[0], assignments[1], rows[1]})))
    return failure();
  if (ShapedType::isDynamic(rows[0]))
    return success();
  return checkI32Indexes(*this, "token_row", rows[0], "rows");
}

//===----------------------------------------------------------------------===//
// Index operands (MoEIndexOperandsInterface)
//===----------------------------------------------------------------------===//

SmallVector<IndexOperandRange> AssignSlotsOp::getIndexOperandRanges() {
  return {noneOrBelow(getExpertsMutable(), shapeOf(getSlotToken())[1],
                      "an expert")};
}

SmallVector<IndexOperandRange> InvertSlotsOp::getIndexOperandRanges() {
  return {noneOrBelow(getSlotTokenMutable(), shapeOf(getTokenSlot())[1],
                      "a token of the group")};
}

SmallVector<IndexOperandRange> SortSlotsOp::getIndexOperandRanges() {
  ArrayRef<int64_t> table = shapeOf(getSlotToken());
  return {noneOrBelow(getSlotTokenMutable(), shapeOf(getTokenSlot())[1],
                      "a token of the group"),
          noneOrBelow(getTokenSlotMutable(), table[1] * table[2],
                      "a slot of the group")};
}

/// `-1` or `[0, dim)` when `dim` is static; nothing to say for a dynamic
/// one (a tile: the untiled op's operand was checked).
static void addNoneOrBelow(SmallVector<IndexOperandRange> &ranges,
                           OpOperand &operand, int64_t dim, StringRef meaning) {
  if (!ShapedType::isDynamic(dim))
    ranges.push_back(noneOrBelow(operand, dim, meaning));
}

SmallVector<IndexOperandRange> GatherRowsOp::getIndexOperandRanges() {
  SmallVector<IndexOperandRange> ranges;
  addNoneOrBelow(ranges, getIndexMutable(), getInput().getType().getDimSize(0),
                 "a row of the input");
  return ranges;
}

SmallVector<IndexOperandRange> GroupedMatmulOp::getIndexOperandRanges() {
  SmallVector<IndexOperandRange> ranges;
  int64_t rows = getInit().getType().getDimSize(0);
  if (!ShapedType::isDynamic(rows))
    ranges.push_back({&getOffsetsMutable(), 0, rows + 1, "a row offset"});
  if (getGather())
    addNoneOrBelow(ranges, getGatherMutable()[0],
                   getInput().getType().getDimSize(0), "a row of the input");
  return ranges;
}

SmallVector<IndexOperandRange> ScatterAddRowsOp::getIndexOperandRanges() {
  SmallVector<IndexOperandRange> ranges;
  addNoneOrBelow(ranges, getTokenRowMutable(),
                 getRows().getType().getDimSize(0), "a row");
  return ranges;
}
