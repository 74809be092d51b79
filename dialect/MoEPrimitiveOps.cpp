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

LogicalResult GatherRowsOp::verify() {
  ArrayRef<int64_t> input = shapeOf(getInput());
  ArrayRef<int64_t> table = shapeOf(getSlotToken());
  if (table[0] != input[0])
    return emitOpError() << "slot_token has " << table[0]
                         << " groups, the input " << input[0];
  if (failed(checkI32Indexes(*this, "slot_token", input[1],
                             "tokens of a group")) ||
      failed(checkSameElementType(*this, "slots", getSlots(),
                                  getInput().getType().getElementType())))
    return failure();
  return checkShape(*this, "slots", getSlots(),
                    {table[1], table[0] * table[2], input[2]});
}

LogicalResult CombineRowsOp::verify() {
  ArrayRef<int64_t> slots = shapeOf(getSlots());
  ArrayRef<int64_t> assignments = shapeOf(getTokenSlot());
  if (failed(checkShape(*this, "token_weight", getTokenWeight(), assignments)))
    return failure();
  if (slots[1] % assignments[0] != 0)
    return emitOpError() << "slots have " << slots[1]
                         << " rows per expert, not a multiple of the "
                         << assignments[0] << " groups";
  if (failed(checkI32Indexes(*this, "token_slot",
                             slots[0] * (slots[1] / assignments[0]),
                             "slots of a group")))
    return failure();
  if (failed(checkSameElementType(*this, "output", getOutput(),
                                  getSlots().getType().getElementType())))
    return failure();
  return checkShape(*this, "output", getOutput(),
                    {assignments[0], assignments[1], slots[2]});
}

//===----------------------------------------------------------------------===//
// The sorted layout
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

LogicalResult GatherTokensOp::verify() {
  ArrayRef<int64_t> input = shapeOf(getInput());
  if (failed(
          checkI32Indexes(*this, "row_token", input[0] * input[1], "tokens")) ||
      failed(checkSameElementType(*this, "rows", getRows(),
                                  getInput().getType().getElementType())))
    return failure();
  return checkShape(*this, "rows", getRows(),
                    {shapeOf(getRowToken())[0], shapeOf(getInput())[2]});
}

LogicalResult GroupedMatmulOp::verify() {
  ArrayRef<int64_t> input = shapeOf(getInput());
  ArrayRef<int64_t> weight = shapeOf(getWeight());
  if (weight[1] != input[1])
    return emitOpError() << "weight has " << weight[1]
                         << " rows but the input is " << input[1] << " wide";
  if (getBias() &&
      failed(checkShape(*this, "bias", getBias(), {weight[0], weight[2]})))
    return failure();
  if (failed(checkShape(*this, "expert_offsets", getExpertOffsets(),
                        {weight[0] + 1})) ||
      failed(checkI32Indexes(*this, "expert_offsets", input[0] + 1,
                             "row offsets")))
    return failure();
  int64_t width = weight[2];
  if (getActivation() == Activation::swiglu) {
    if (width % 2 != 0)
      return emitOpError() << "swiglu needs an even weight width, got "
                           << width;
    width /= 2;
  }
  if (failed(checkSameElementType(*this, "output", getOutput(),
                                  getInput().getType().getElementType())))
    return failure();
  return checkShape(*this, "output", getOutput(), {input[0], width});
}

LogicalResult CombineTokensOp::verify() {
  ArrayRef<int64_t> assignments = shapeOf(getTokenRow());
  if (failed(
          checkShape(*this, "token_weight", getTokenWeight(), assignments)) ||
      failed(
          checkI32Indexes(*this, "token_row", shapeOf(getRows())[0], "rows")))
    return failure();
  if (failed(checkSameElementType(*this, "output", getOutput(),
                                  getRows().getType().getElementType())))
    return failure();
  return checkShape(*this, "output", getOutput(),
                    {assignments[0], assignments[1], shapeOf(getRows())[1]});
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

SmallVector<IndexOperandRange> GatherRowsOp::getIndexOperandRanges() {
  return {noneOrBelow(getSlotTokenMutable(), shapeOf(getInput())[1],
                      "a token of the group")};
}

SmallVector<IndexOperandRange> CombineRowsOp::getIndexOperandRanges() {
  ArrayRef<int64_t> slots = shapeOf(getSlots());
  int64_t groups = shapeOf(getTokenSlot())[0];
  return {noneOrBelow(getTokenSlotMutable(), slots[0] * (slots[1] / groups),
                      "a slot of the group")};
}

SmallVector<IndexOperandRange> SortSlotsOp::getIndexOperandRanges() {
  ArrayRef<int64_t> table = shapeOf(getSlotToken());
  return {noneOrBelow(getSlotTokenMutable(), shapeOf(getTokenSlot())[1],
                      "a token of the group"),
          noneOrBelow(getTokenSlotMutable(), table[1] * table[2],
                      "a slot of the group")};
}

SmallVector<IndexOperandRange> GatherTokensOp::getIndexOperandRanges() {
  ArrayRef<int64_t> input = shapeOf(getInput());
  return {noneOrBelow(getRowTokenMutable(), input[0] * input[1], "a token")};
}

SmallVector<IndexOperandRange> GroupedMatmulOp::getIndexOperandRanges() {
  return {{&getExpertOffsetsMutable(), 0, shapeOf(getInput())[0] + 1,
           "a row offset"}};
}

SmallVector<IndexOperandRange> CombineTokensOp::getIndexOperandRanges() {
  return {noneOrBelow(getTokenRowMutable(), shapeOf(getRows())[0], "a row")};
}
