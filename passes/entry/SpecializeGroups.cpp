//===- SpecializeGroups.cpp - Entries for any number of groups -----------===//
//
// `moe-specialize-groups`: an entry whose inputs have a dynamic first
// dimension (a batch of any size) and whose plans have `groups = ?` is
// compiled for one routing group, and the runtime calls it once per group
// (docs/artifact-abi.md, "Any number of groups").
//
// That is right only if the groups are computed independently, which the
// pass proves with a dimension analysis before it changes anything. Let N be
// the first dimension of the inputs at run time. Every tensor with a dynamic
// dimension holds q * N rows in it, q a positive rational the analysis
// derives op by op (a reshape that folds 197 tokens into the rows multiplies
// q by 197); index values computed from the dynamic sizes are q * N too. The
// ops below keep rows apart: each row of a result depends only on the rows
// of its operands with the same index; the routing ops work group by group
// by definition. Any other op touching such a tensor or size is an error.
// The unit of the calls is one routing group (q of the plans; every route of
// the entry must route groups of the same size), so each value holds
// q / q_plan rows per call, which must be a whole number.
//
// Then every dynamic dimension becomes its per-call size, the ops that carry
// sizes (tensor.empty, expand_shape, slices) are rebuilt static, and the
// entry's varying arguments and results are marked `moe.per_group`, which
// moe-prepare-entry records in the signature.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/CheckedArithmetic.h"

#include <numeric>

namespace mlir::moe {
#define GEN_PASS_DEF_MOESPECIALIZEGROUPS
#include "passes/Passes.h.inc"

namespace {

/// A positive rational `num / den` in lowest terms: rows per unit of N.
struct Ratio {
  int64_t num = 1, den = 1;

  static std::optional<Ratio> of(std::optional<int64_t> num,
                                 std::optional<int64_t> den) {
    if (!num || !den || *num <= 0 || *den <= 0)
      return std::nullopt;
    int64_t g = std::gcd(*num, *den);
    return Ratio{*num / g, *den / g};
  }
  std::optional<Ratio> times(int64_t factor) const {
    return of(llvm::checkedMul(num, factor), den);
  }
  std::optional<Ratio> over(int64_t divisor) const {
    return of(num, llvm::checkedMul(den, divisor));
  }
  std::optional<Ratio> over(Ratio divisor) const {
    return of(llvm::checkedMul(num, divisor.den),
              llvm::checkedMul(den, divisor.num));
  }
  bool operator==(const Ratio &other) const {
    return num == other.num && den == other.den;
  }
  bool operator!=(const Ratio &other) const { return !(*this == other); }
  std::string str() const {
    return den == 1 ? std::to_string(num)
                    : std::to_string(num) + "/" + std::to_string(den);
  }
};

/// A tensor (or plan) whose dimension `dim` holds `rows` * N rows.
struct Varying {
  unsigned dim;
  Ratio rows;
};

/// The dynamic dimension of `type`: a tensor's one dynamic dimension, 0 for
/// a plan of `groups = ?`; none for static types. Two dynamic dimensions
/// are -1.
std::optional<int> dynamicDim(Type type) {
  if (auto plan = dyn_cast<PlanType>(type))
    return plan.hasDynamicGroups() ? std::optional<int>(0) : std::nullopt;
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor || tensor.hasStaticShape())
    return std::nullopt;
  if (tensor.getNumDynamicDims() > 1)
    return -1;
  for (auto [i, dim] : llvm::enumerate(tensor.getShape()))
    if (ShapedType::isDynamic(dim))
      return static_cast<int>(i);
  return std::nullopt;
}

/// Proves that a function computes its rows of different groups apart and
/// finds how many rows of each value one group holds.
class GroupAnalysis {
public:
  llvm::MapVector<Value, Varying> tensors;
  llvm::MapVector<Value, Ratio> sizes;
  /// The first route and the rows of its plan: the unit of the calls (1
  /// without a route).
  Operation *firstRoute = nullptr;
  Ratio unit;

  LogicalResult analyze(func::FuncOp func);

private:
  LogicalResult visitBlock(Block &block);
  LogicalResult visit(Operation *op);
  LogicalResult visitLinalg(linalg::LinalgOp op);
  LogicalResult visitMoE(Operation *op);
  LogicalResult visitSlice(OffsetSizeAndStrideOpInterface op, Value source,
                           Value result, const llvm::SmallBitVector &dropped);

  const Varying *lookup(Value value) const {
    auto it = tensors.find(value);
    return it == tensors.end() ? nullptr : &it->second;
  }
  /// `value`'s rows, requiring them in dimension `dim`.
  FailureOr<Ratio> rowsAt(Operation *op, Value value, unsigned dim,
                          StringRef what);
  /// Records that `value` holds `rows` * N rows in dimension `dim`, which
  /// must be its type's dynamic dimension.
  LogicalResult record(Operation *op, Value value, unsigned dim,
                       std::optional<Ratio> rows);
  bool isTracked(Value value) const {
    return tensors.count(value) || sizes.count(value);
  }
};

LogicalResult GroupAnalysis::analyze(func::FuncOp func) {
  for (BlockArgument arg : func.getArguments()) {
    std::optional<int> dim = dynamicDim(arg.getType());
    if (!dim)
      continue;
    if (*dim != 0)
      return emitError(arg.getLoc())
             << "argument #" << arg.getArgNumber() << " of type "
             << arg.getType()
             << ": only the first dimension of an argument may be dynamic "
                "(it holds the rows of every group)";
    if (func.getArgAttr(arg.getArgNumber(), MoEDialect::kWeightAttrName))
      return emitError(arg.getLoc())
             << "weight argument #" << arg.getArgNumber()
             << " must have a static shape, got " << arg.getType();
    tensors[arg] = Varying{0, Ratio{}};
  }
  if (failed(visitBlock(func.getBody().front())))
    return failure();
  // Every result holds rows of each group, in its first dimension.
  Operation *ret = func.getBody().front().getTerminator();
  for (auto [i, result] : llvm::enumerate(ret->getOperands())) {
    const Varying *varying = lookup(result);
    if (!varying || varying->dim != 0)
      return ret->emitOpError()
             << "returns result #" << i << " of type " << result.getType()
             << ", which "
             << (varying ? "holds the groups' rows in dimension " +
                               std::to_string(varying->dim)
                         : std::string("does not vary with the groups"))
             << "; with a dynamic number of groups every result must hold "
                "the rows of each group in its first dimension";
  }
  // Every value holds a whole number of rows per group.
  for (auto &[value, varying] : tensors) {
    std::optional<Ratio> perCall = varying.rows.over(unit);
    if (!perCall || perCall->den != 1) {
      Operation *at = value.getDefiningOp()
                          ? value.getDefiningOp()
                          : value.getParentBlock()->getParentOp();
      return at->emitError()
             << "a value of type " << value.getType() << " holds "
             << (perCall ? perCall->str() : std::string("too many"))
             << " rows of dimension " << varying.dim
             << " per routing group; it must be a whole number";
    }
  }
  return success();
}

LogicalResult GroupAnalysis::visitBlock(Block &block) {
  for (Operation &op : block)
    if (failed(visit(&op)))
      return failure();
  return success();
}

FailureOr<Ratio> GroupAnalysis::rowsAt(Operation *op, Value value, unsigned dim,
                                       StringRef what) {
  const Varying *varying = lookup(value);
  if (varying && varying->dim == dim)
    return varying->rows;
  InFlightDiagnostic diag = op->emitOpError()
                            << what << " of type " << value.getType();
  if (varying)
    diag << " holds the groups' rows in dimension " << varying->dim
         << ", expected " << dim;
  else
    diag << " does not vary with the groups, but the op's other operands do";
  return failure();
}

LogicalResult GroupAnalysis::record(Operation *op, Value value, unsigned dim,
                                    std::optional<Ratio> rows) {
  if (!rows)
    return op->emitOpError() << "its result's rows per group overflow";
  std::optional<int> typeDim = dynamicDim(value.getType());
  if (!typeDim || *typeDim != static_cast<int>(dim))
    return op->emitOpError()
           << "result of type " << value.getType()
           << " must have exactly one dynamic dimension, dimension " << dim
           << ", which holds the rows of every group";
  tensors[value] = Varying{dim, *rows};
  return success();
}

LogicalResult GroupAnalysis::visit(Operation *op) {
  bool touches =
      llvm::any_of(op->getOperands(), [&](Value v) { return isTracked(v); }) ||
      llvm::any_of(op->getResultTypes(),
                   [](Type type) { return dynamicDim(type).has_value(); });
  // Nested ops see tensors of the groups only in moe.experts' region form,
  // which the analysis visits; any other region must not capture them.
  if (!isa<ExpertsOp>(op)) {
    Operation *capturing = nullptr;
    op->walk([&](Operation *nested) {
      if (nested != op &&
          (llvm::any_of(nested->getOperands(),
                        [&](Value v) { return isTracked(v); }) ||
           llvm::any_of(nested->getResultTypes(),
                        [](Type t) { return dynamicDim(t).has_value(); })))
        capturing = nested;
    });
    if (capturing)
      return capturing->emitOpError()
             << "uses a tensor or size that varies with the number of groups "
                "inside '"
             << op->getName() << "', which the group analysis does not follow";
  }
  if (!touches && !isa<ExpertsOp>(op))
    return success();
  for (Type type : op->getResultTypes())
    if (dynamicDim(type) == -1)
      return op->emitOpError() << "result of type " << type
                               << " has several dynamic dimensions; only the "
                                  "rows of the groups may be dynamic";

  if (isa<func::ReturnOp, YieldOp>(op))
    return success(); // Checked by the function and by moe.experts.
  if (auto dim = dyn_cast<tensor::DimOp>(op)) {
    const Varying *source = lookup(dim.getSource());
    std::optional<int64_t> index = dim.getConstantIndex();
    if (!index)
      return op->emitOpError()
             << "asks a dimension of a tensor that varies with the groups "
                "with a non-constant index";
    if (source && *index == source->dim)
      sizes[dim.getResult()] = source->rows;
    return success();
  }
  if (isa<arith::MulIOp, arith::DivUIOp, arith::DivSIOp>(op)) {
    Value lhs = op->getOperand(0), rhs = op->getOperand(1);
    std::optional<int64_t> rhsConstant = getConstantIntValue(rhs);
    if (isa<arith::MulIOp>(op) && !sizes.count(lhs)) {
      std::swap(lhs, rhs);
      rhsConstant = getConstantIntValue(rhs);
    }
    auto it = sizes.find(lhs);
    if (it != sizes.end() && rhsConstant && *rhsConstant > 0) {
      std::optional<Ratio> rows = isa<arith::MulIOp>(op)
                                      ? it->second.times(*rhsConstant)
                                      : it->second.over(*rhsConstant);
      if (!rows)
        return op->emitOpError() << "its result's rows per group overflow";
      sizes[op->getResult(0)] = *rows;
      return success();
    }
    return op->emitOpError()
           << "computes with a size that varies with the groups; only "
              "multiplying or dividing it by a positive constant is followed";
  }
  if (auto empty = dyn_cast<tensor::EmptyOp>(op)) {
    std::optional<int> dim = dynamicDim(empty.getType());
    auto it = sizes.find(empty.getDynamicSizes().front());
    if (it == sizes.end())
      return op->emitOpError()
             << "has a dynamic size that is not derived from the dimensions "
                "of the inputs";
    return record(op, empty.getResult(), *dim, it->second);
  }
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(op)) {
    const Varying *source = lookup(collapse.getSrc());
    for (auto [group, indices] :
         llvm::enumerate(collapse.getReassociationIndices())) {
      if (!llvm::is_contained(indices, source->dim))
        continue;
      if (indices.front() != static_cast<int64_t>(source->dim))
        return op->emitOpError()
               << "folds the rows of the groups (dimension " << source->dim
               << ") inside other dimensions, which mixes the groups; they "
                  "must be the outermost dimension of their group";
      int64_t others = 1;
      for (int64_t i : ArrayRef<int64_t>(indices).drop_front())
        others *= collapse.getSrcType().getDimSize(i);
      return record(op, collapse.getResult(), group,
                    source->rows.times(others));
    }
    return failure();
  }
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
    const Varying *source = lookup(expand.getSrc());
    ArrayRef<int64_t> shape = expand.getResultType().getShape();
    ReassociationIndices indices =
        expand.getReassociationIndices()[source->dim];
    int64_t first = indices.front(), others = 1;
    for (int64_t i : ArrayRef<int64_t>(indices).drop_front()) {
      if (ShapedType::isDynamic(shape[i]))
        return op->emitOpError()
               << "splits the rows of the groups with the dynamic part inside "
                  "(dimension "
               << i << "); it must be the outermost dimension";
      others *= shape[i];
    }
    std::optional<Ratio> rows = source->rows.over(others);
    for (Value size : expand.getOutputShape())
      if (auto it = sizes.find(size);
          it != sizes.end() && rows && it->second != *rows)
        return op->emitOpError()
               << "output shape gives " << it->second.str()
               << " * N rows, but the source's rows make " << rows->str();
    return record(op, expand.getResult(), first, rows);
  }
  if (auto extract = dyn_cast<tensor::ExtractSliceOp>(op))
    return visitSlice(extract, extract.getSource(), extract.getResult(),
                      extract.getDroppedDims());
  if (auto insert = dyn_cast<tensor::InsertSliceOp>(op)) {
    const Varying *source = lookup(insert.getSource());
    if (source) {
      // The source's rows go to the same rows of the destination.
      llvm::SmallBitVector dropped = insert.getDroppedDims();
      unsigned destDim = 0;
      for (unsigned seen = 0;; ++destDim)
        if (!dropped.test(destDim) && seen++ == source->dim)
          break;
      FailureOr<Ratio> destRows =
          rowsAt(op, insert.getDest(), destDim, "destination");
      if (failed(destRows))
        return failure();
      if (*destRows != source->rows)
        return op->emitOpError()
               << "inserts " << source->rows.str() << " * N rows into "
               << destRows->str() << " * N rows";
    }
    return visitSlice(insert, insert.getDest(), insert.getResult(),
                      llvm::SmallBitVector(insert.getDestType().getRank()));
  }
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op))
    return visitLinalg(linalgOp);
  if (auto softmax = dyn_cast<linalg::SoftmaxOp>(op)) {
    const Varying *input = lookup(softmax.getInput());
    if (!input)
      return op->emitOpError() << "input does not vary with the groups";
    if (input->dim == softmax.getDimension())
      return op->emitOpError()
             << "normalizes over the rows of the groups (dimension "
             << input->dim << "), which mixes the groups";
    if (failed(rowsAt(op, softmax.getOutput(), input->dim, "output")))
      return failure();
    return record(op, softmax.getResult()[0], input->dim, input->rows);
  }
  if (op->getDialect() == op->getContext()->getLoadedDialect<MoEDialect>())
    return visitMoE(op);
  return op->emitOpError()
         << "takes or makes a tensor or size that varies with the number of "
            "groups, and is not known to compute the groups independently; "
            "supported: linalg structured ops and softmax, tensor.empty, "
            "reshapes, slices and dim, index multiplication and division by "
            "constants, and the level-1 moe ops";
}

LogicalResult GroupAnalysis::visitSlice(OffsetSizeAndStrideOpInterface op,
                                        Value source, Value result,
                                        const llvm::SmallBitVector &dropped) {
  const Varying *varying = lookup(source);
  if (!varying)
    return op->emitOpError()
           << "slices a tensor that does not vary with the groups with a "
              "size that does";
  unsigned dim = varying->dim;
  SmallVector<OpFoldResult> offsets = op.getMixedOffsets();
  SmallVector<OpFoldResult> sizesOf = op.getMixedSizes();
  SmallVector<OpFoldResult> strides = op.getMixedStrides();
  auto size = dyn_cast<Value>(sizesOf[dim]);
  auto it = size ? sizes.find(size) : sizes.end();
  if (!isConstantIntValue(offsets[dim], 0) ||
      !isConstantIntValue(strides[dim], 1) || it == sizes.end() ||
      it->second != varying->rows)
    return op->emitOpError()
           << "must take every row of the groups (dimension " << dim
           << "): offset 0, stride 1 and the whole size there";
  for (auto [i, other] : llvm::enumerate(op->getOperands()))
    if (sizes.count(other) && other != size)
      return op->emitOpError()
             << "uses a size that varies with the groups outside their rows";
  unsigned resultDim = dim;
  for (unsigned i = 0; i < dim; ++i)
    resultDim -= dropped.test(i) ? 1 : 0;
  return record(op, result, resultDim, varying->rows);
}

LogicalResult GroupAnalysis::visitLinalg(linalg::LinalgOp op) {
  // The loop over the rows of the groups: the same loop dimension indexes
  // the varying dimension of every varying operand, and no other operand.
  std::optional<unsigned> loop;
  std::optional<Ratio> rows;
  for (OpOperand &operand : op->getOpOperands()) {
    if (!isa<RankedTensorType>(operand.get().getType()))
      continue;
    const Varying *varying = lookup(operand.get());
    if (!varying)
      continue;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    auto expr = dyn_cast<AffineDimExpr>(map.getResult(varying->dim));
    if (!expr || (loop && *loop != expr.getPosition()) ||
        (rows && *rows != varying->rows))
      return op->emitOpError()
             << "indexes the rows of the groups of operand #"
             << operand.getOperandNumber()
             << " with another loop than those of its other operands";
    loop = expr.getPosition();
    rows = varying->rows;
  }
  if (!loop)
    return op->emitOpError()
           << "has a dynamic result but no operand that varies with the "
              "groups";
  if (op.getIteratorTypesArray()[*loop] != utils::IteratorType::parallel)
    return op->emitOpError() << "reduces over the rows of the groups (loop d"
                             << *loop << "), which mixes the groups";
  for (OpOperand &operand : op->getOpOperands()) {
    if (!isa<RankedTensorType>(operand.get().getType()))
      continue;
    AffineMap map = op.getMatchingIndexingMap(&operand);
    const Varying *varying = lookup(operand.get());
    unsigned uses = llvm::count_if(map.getResults(), [&](AffineExpr expr) {
      return expr.isFunctionOfDim(*loop);
    });
    if (uses != (varying ? 1u : 0u))
      return op->emitOpError()
             << "operand #" << operand.getOperandNumber() << " of type "
             << operand.get().getType()
             << (varying ? " indexes the rows of the groups more than once"
                         : " is indexed by the rows of the groups but does "
                           "not vary with them");
  }
  for (OpOperand &init : op.getDpsInitsMutable()) {
    const Varying *varying = lookup(init.get());
    if (!varying)
      return op->emitOpError()
             << "writes a result that does not vary with the groups from "
                "operands that do";
    if (op->getNumResults() &&
        failed(record(
            op, op->getResult(init.getOperandNumber() - op.getNumDpsInputs()),
            varying->dim, varying->rows)))
      return failure();
  }
  return success();
}

LogicalResult GroupAnalysis::visitMoE(Operation *op) {
  auto groupRows = [&](Value value, StringRef what) {
    return rowsAt(op, value, 0, what);
  };
  auto same = [&](Ratio a, Ratio b, StringRef what) -> LogicalResult {
    if (a == b)
      return success();
    return op->emitOpError() << what << " holds " << b.str()
                             << " * N groups, the other operands " << a.str();
  };
  for (Value operand : op->getOperands())
    if (lookup(operand) == nullptr && dynamicDim(operand.getType()))
      return op->emitOpError() << "operand of type " << operand.getType()
                               << " is not derived from the inputs";
  if (auto gate = dyn_cast<GateOp>(op)) {
    FailureOr<Ratio> rows = groupRows(gate.getInput(), "input");
    if (failed(rows))
      return failure();
    return record(op, gate.getLogits(), 0, *rows);
  }
  if (auto route = dyn_cast<RouteOp>(op)) {
    FailureOr<Ratio> rows = groupRows(route.getLogits(), "logits");
    if (failed(rows))
      return failure();
    if (!firstRoute) {
      firstRoute = op;
      unit = *rows;
    } else if (*rows != unit) {
      InFlightDiagnostic diag =
          op->emitOpError()
          << "routes " << rows->str() << " * N groups, but an earlier route "
          << unit.str()
          << " * N; every route of an entry with a dynamic number of groups "
             "must route groups of the same tokens";
      diag.attachNote(firstRoute->getLoc()) << "the earlier route";
      return diag;
    }
    return record(op, route.getPlan(), 0, *rows);
  }
  if (auto dispatch = dyn_cast<DispatchOp>(op)) {
    FailureOr<Ratio> rows = groupRows(dispatch.getInput(), "input");
    FailureOr<Ratio> plan = groupRows(dispatch.getPlan(), "plan");
    if (failed(rows) || failed(plan) || failed(same(*rows, *plan, "plan")))
      return failure();
    return record(op, dispatch.getSlots(), 1,
                  plan->times(dispatch.getPlan().getType().getCapacity()));
  }
  if (auto experts = dyn_cast<ExpertsOp>(op)) {
    FailureOr<Ratio> rows = rowsAt(op, experts.getInput(), 1, "slots");
    if (failed(rows))
      return failure();
    for (Value weight : op->getOperands().drop_front())
      if (lookup(weight))
        return op->emitOpError() << "expert weights must not vary with the "
                                    "groups";
    if (!experts.getBody().empty()) {
      Block &body = experts.getBody().front();
      tensors[body.getArgument(1)] = Varying{0, *rows};
      if (failed(visitBlock(body)))
        return failure();
      Operation *yield = body.getTerminator();
      FailureOr<Ratio> yielded =
          rowsAt(yield, yield->getOperand(0), 0, "yielded value");
      if (failed(yielded) || failed(same(*rows, *yielded, "yielded value")))
        return failure();
    }
    return record(op, experts.getResult(), 1, *rows);
  }
  if (auto combine = dyn_cast<CombineOp>(op)) {
    FailureOr<Ratio> slots = rowsAt(op, combine.getSlots(), 1, "slots");
    FailureOr<Ratio> plan = groupRows(combine.getPlan(), "plan");
    if (failed(slots) || failed(plan))
      return failure();
    std::optional<Ratio> planSlots =
        plan->times(combine.getPlan().getType().getCapacity());
    if (!planSlots || failed(same(*planSlots, *slots, "slots")))
      return failure();
    return record(op, combine.getOutput(), 0, *plan);
  }
  if (isa<RouteStatsOp, PlanSlotsOp>(op)) {
    Value plan = isa<RouteStatsOp>(op) ? cast<RouteStatsOp>(op).getPlan()
                                       : cast<PlanSlotsOp>(op).getPlan();
    FailureOr<Ratio> rows = groupRows(plan, "plan");
    if (failed(rows))
      return failure();
    for (Value operand : op->getOperands()) {
      FailureOr<Ratio> operandRows = groupRows(operand, "operand");
      if (failed(operandRows) || failed(same(*rows, *operandRows, "operand")))
        return failure();
    }
    for (Value result : op->getResults())
      if (failed(record(op, result, 0, *rows)))
        return failure();
    return success();
  }
  return op->emitOpError()
         << "is a level-2 op; a dynamic number of groups is supported at "
            "level 1 (moe.gate, route, dispatch, experts, combine, "
            "route_stats, plan_slots)";
}

/// `type` with its dynamic dimension (or plan groups) set to `rows`.
Type withRows(Type type, int64_t rows) {
  if (auto plan = dyn_cast<PlanType>(type))
    return PlanType::get(plan.getContext(), rows, plan.getTokens(),
                         plan.getExperts(), plan.getCapacity());
  auto tensor = cast<RankedTensorType>(type);
  SmallVector<int64_t> shape(tensor.getShape());
  for (int64_t &dim : shape)
    if (ShapedType::isDynamic(dim))
      dim = rows;
  return tensor.clone(shape);
}

/// The per-call size of a size value, as an attribute.
OpFoldResult staticSize(OpBuilder &b, OpFoldResult size,
                        const llvm::MapVector<Value, int64_t> &perCall) {
  if (auto value = dyn_cast<Value>(size))
    if (auto it = perCall.find(value); it != perCall.end())
      return b.getIndexAttr(it->second);
  return size;
}

struct MoESpecializeGroupsPass
    : impl::MoESpecializeGroupsBase<MoESpecializeGroupsPass> {
  using MoESpecializeGroupsBase::MoESpecializeGroupsBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (groupsPerCall < 1 || groupsPerCall > (1 << 20)) {
      func.emitError() << "groups-per-call must be from 1 to 1048576, got "
                       << groupsPerCall;
      return signalPassFailure();
    }
    if (func.isExternal() || llvm::none_of(func.getArgumentTypes(), [](Type t) {
          return dynamicDim(t).has_value();
        }))
      return;
    GroupAnalysis analysis;
    if (failed(analysis.analyze(func)))
      return signalPassFailure();

    auto perCall = [&](Ratio rows) {
      // Whole, checked by analyze.
      return rows.over(analysis.unit)->num * groupsPerCall;
    };
    // New types first, then the ops that carry sizes, rebuilt static.
    for (auto &[value, varying] : analysis.tensors)
      value.setType(withRows(value.getType(), perCall(varying.rows)));
    llvm::MapVector<Value, int64_t> sizes;
    for (auto &[value, rows] : analysis.sizes)
      sizes[value] = perCall(rows);

    IRRewriter rewriter(&getContext());
    SmallVector<Operation *> carrying;
    func.walk([&](Operation *op) {
      if (isa<tensor::EmptyOp, tensor::ExpandShapeOp, tensor::ExtractSliceOp,
              tensor::InsertSliceOp>(op) &&
          analysis.tensors.count(op->getResult(0)))
        carrying.push_back(op);
    });
    for (Operation *op : carrying) {
      rewriter.setInsertionPoint(op);
      Location loc = op->getLoc();
      auto type = cast<RankedTensorType>(op->getResult(0).getType());
      Value replacement;
      if (isa<tensor::EmptyOp>(op)) {
        replacement = tensor::EmptyOp::create(rewriter, loc, type.getShape(),
                                              type.getElementType());
      } else if (auto expand = dyn_cast<tensor::ExpandShapeOp>(op)) {
        replacement =
            tensor::ExpandShapeOp::create(rewriter, loc, type, expand.getSrc(),
                                          expand.getReassociationIndices());
      } else {
        auto sliced = cast<OffsetSizeAndStrideOpInterface>(op);
        SmallVector<OpFoldResult> staticSizes;
        for (OpFoldResult size : sliced.getMixedSizes())
          staticSizes.push_back(staticSize(rewriter, size, sizes));
        if (auto extract = dyn_cast<tensor::ExtractSliceOp>(op))
          replacement = tensor::ExtractSliceOp::create(
              rewriter, loc, type, extract.getSource(),
              extract.getMixedOffsets(), staticSizes,
              extract.getMixedStrides());
        else {
          auto insert = cast<tensor::InsertSliceOp>(op);
          replacement = tensor::InsertSliceOp::create(
              rewriter, loc, insert.getSource(), insert.getDest(),
              insert.getMixedOffsets(), staticSizes, insert.getMixedStrides());
        }
      }
      rewriter.replaceOp(op, replacement);
    }
    // The sizes are constants now; their computations go.
    SmallVector<Operation *> sizeOps;
    for (auto &[value, rows] : sizes)
      sizeOps.push_back(value.getDefiningOp());
    for (auto &[value, rows] : sizes) {
      // A size used other than by the computation of sizes (which goes).
      if (llvm::all_of(value.getUsers(), [&](Operation *user) {
            return llvm::is_contained(sizeOps, user);
          }))
        continue;
      rewriter.setInsertionPointAfterValue(value);
      Value constant =
          arith::ConstantIndexOp::create(rewriter, value.getLoc(), rows);
      rewriter.replaceAllUsesWith(value, constant);
    }
    for (bool erased = true; erased;) {
      erased = false;
      for (Operation *&op : sizeOps)
        if (op && op->use_empty()) {
          rewriter.eraseOp(op);
          op = nullptr;
          erased = true;
        }
    }

    // The signature, with the varying arguments and results marked.
    Operation *ret = func.getBody().front().getTerminator();
    func.setType(FunctionType::get(&getContext(),
                                   func.getBody().getArgumentTypes(),
                                   ret->getOperandTypes()));
    UnitAttr unit = UnitAttr::get(&getContext());
    for (BlockArgument arg : func.getArguments())
      if (analysis.tensors.count(arg))
        func.setArgAttr(arg.getArgNumber(), MoEDialect::kPerGroupAttrName,
                        unit);
    for (unsigned i = 0, e = func.getNumResults(); i < e; ++i)
      func.setResultAttr(i, MoEDialect::kPerGroupAttrName, unit);
    func->setAttr(
        MoEDialect::kGroupsPerCallAttrName,
        IntegerAttr::get(IntegerType::get(&getContext(), 64), groupsPerCall));
  }
};

} // namespace
} // namespace mlir::moe
