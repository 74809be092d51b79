//===- PackedWeights.cpp - Weights passed in the microkernel's layout -----===//
//
// See PackedWeights.h. A strip copy reads
//
//   extract_slice(... extract_slice(%w, expert), column block, k block ...,
//                 [k0, n0] [Kc, Nr])
//
// of a weight argument %w. Composing the chain of slices gives the strip's
// offsets and sizes in %w itself; when the column offset is provably a
// multiple of Nr, the strip is the slice [..., n0 / Nr, k0, 0] [..., 1, Kc,
// Nr] of the packed weight, read in place. A weight any other use of which
// needs the logical layout stays as it is.
//
//===----------------------------------------------------------------------===//

#include "passes/cpu/PackedWeights.h"
#include "passes/entry/EntryFunction.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/Support/JSON.h"

#include <numeric>

namespace mlir::moe {

namespace {

int64_t multiplyDivisors(int64_t a, int64_t b) {
  if (a != 0 && std::abs(b) > INT64_MAX / std::abs(a))
    return 1;
  return a * b;
}

int64_t knownDivisor(Value value, unsigned depth = 0);

/// A number that divides `ofr` (0: it is zero, which every number divides).
int64_t knownDivisor(OpFoldResult ofr, unsigned depth = 0) {
  if (std::optional<int64_t> constant = getConstantIntValue(ofr))
    return std::abs(*constant);
  return knownDivisor(cast<Value>(ofr), depth);
}

/// A number that divides `expr` given what divides its operands.
int64_t knownDivisor(AffineExpr expr, ValueRange dims, ValueRange symbols,
                     unsigned depth) {
  if (auto constant = dyn_cast<AffineConstantExpr>(expr))
    return std::abs(constant.getValue());
  if (auto dim = dyn_cast<AffineDimExpr>(expr))
    return knownDivisor(dims[dim.getPosition()], depth + 1);
  if (auto symbol = dyn_cast<AffineSymbolExpr>(expr))
    return knownDivisor(symbols[symbol.getPosition()], depth + 1);
  auto binary = cast<AffineBinaryOpExpr>(expr);
  int64_t lhs = knownDivisor(binary.getLHS(), dims, symbols, depth);
  int64_t rhs = knownDivisor(binary.getRHS(), dims, symbols, depth);
  switch (expr.getKind()) {
  case AffineExprKind::Add:
    return std::gcd(lhs, rhs);
  case AffineExprKind::Mul:
    return multiplyDivisors(lhs, rhs);
  default:
    return 1;
  }
}

/// A number that divides the index `value`, from constants, sums, products
/// and the induction variables of `scf.for` / `scf.forall` loops (their
/// lower bound and step); 1 when nothing is known. Only a proof: it may
/// return less than the largest divisor, never a wrong one.
int64_t knownDivisor(Value value, unsigned depth) {
  if (depth > 16)
    return 1;
  if (std::optional<int64_t> constant = getConstantIntValue(value))
    return std::abs(*constant);
  if (auto arg = dyn_cast<BlockArgument>(value)) {
    Operation *owner = arg.getOwner()->getParentOp();
    if (auto loop = dyn_cast_or_null<scf::ForOp>(owner);
        loop && arg == loop.getInductionVar())
      return std::gcd(knownDivisor(loop.getLowerBound(), depth + 1),
                      knownDivisor(loop.getStep(), depth + 1));
    if (auto forall = dyn_cast_or_null<scf::ForallOp>(owner)) {
      for (auto [i, iv] : llvm::enumerate(forall.getInductionVars())) {
        if (iv != arg)
          continue;
        return std::gcd(knownDivisor(forall.getMixedLowerBound()[i], depth + 1),
                        knownDivisor(forall.getMixedStep()[i], depth + 1));
      }
    }
    return 1;
  }
  Operation *op = value.getDefiningOp();
  if (auto apply = dyn_cast<affine::AffineApplyOp>(op)) {
    AffineMap map = apply.getAffineMap();
    return knownDivisor(map.getResult(0), apply.getDimOperands(),
                        apply.getSymbolOperands(), depth);
  }
  if (auto add = dyn_cast<arith::AddIOp>(op))
    return std::gcd(knownDivisor(add.getLhs(), depth + 1),
                    knownDivisor(add.getRhs(), depth + 1));
  if (auto mul = dyn_cast<arith::MulIOp>(op))
    return multiplyDivisors(knownDivisor(mul.getLhs(), depth + 1),
                            knownDivisor(mul.getRhs(), depth + 1));
  return 1;
}

/// The slices from a block argument down to `value`, outermost first, or
/// nothing when `value` is not such a chain of unit-stride slices.
std::optional<std::pair<BlockArgument, SmallVector<tensor::ExtractSliceOp>>>
sliceChain(Value value) {
  SmallVector<tensor::ExtractSliceOp> chain;
  while (auto slice = value.getDefiningOp<tensor::ExtractSliceOp>()) {
    if (!slice.hasUnitStride())
      return std::nullopt;
    chain.push_back(slice);
    value = slice.getSource();
  }
  auto arg = dyn_cast<BlockArgument>(value);
  if (!arg)
    return std::nullopt;
  std::reverse(chain.begin(), chain.end());
  return std::make_pair(arg, std::move(chain));
}

/// Where a strip lies in its weight: per dimension of the weight, the
/// offset terms (summed) and the size.
struct StripPlace {
  SmallVector<SmallVector<OpFoldResult>> offsetTerms;
  SmallVector<OpFoldResult> sizes;
};

/// The place of the strip `copy` reads in `weight` (of `type`), if it is a
/// `K x columns` slice whose column offset is a multiple of `columns`.
std::optional<StripPlace> stripPlace(linalg::CopyOp copy, BlockArgument weight,
                                     RankedTensorType type, int64_t columns) {
  auto chain = sliceChain(copy.getInputs()[0]);
  if (!chain || chain->first != weight || chain->second.empty())
    return std::nullopt;
  int64_t rank = type.getRank();
  Builder b(copy.getContext());
  StripPlace place;
  place.offsetTerms.resize(rank);
  for (int64_t dim : type.getShape())
    place.sizes.push_back(b.getIndexAttr(dim));
  SmallVector<int64_t> visible = llvm::to_vector(llvm::seq<int64_t>(0, rank));
  for (tensor::ExtractSliceOp slice : chain->second) {
    SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
    SmallVector<OpFoldResult> sizes = slice.getMixedSizes();
    llvm::SmallBitVector dropped = slice.getDroppedDims();
    SmallVector<int64_t> kept;
    for (auto [i, dim] : llvm::enumerate(visible)) {
      place.offsetTerms[dim].push_back(offsets[i]);
      place.sizes[dim] = sizes[i];
      if (!dropped.test(i))
        kept.push_back(dim);
    }
    visible = std::move(kept);
  }
  if (visible != SmallVector<int64_t>{rank - 2, rank - 1})
    return std::nullopt;
  std::optional<int64_t> width = getConstantIntValue(place.sizes[rank - 1]);
  if (!width || *width != columns)
    return std::nullopt;
  int64_t divisor = 0;
  for (OpFoldResult term : place.offsetTerms[rank - 1])
    divisor = std::gcd(divisor, knownDivisor(term));
  if (divisor % columns != 0)
    return std::nullopt;
  return place;
}

/// The slice of the packed `weight` (logical `type`) that holds the strip at
/// `place`, built before `copy`, of the copy's type.
Value packedStrip(RewriterBase &rewriter, linalg::CopyOp copy,
                  BlockArgument weight, RankedTensorType type,
                  const StripPlace &place, int64_t columns) {
  Location loc = copy.getLoc();
  rewriter.setInsertionPoint(copy);
  MLIRContext *context = copy.getContext();
  AffineExpr d0, d1;
  bindDims(context, d0, d1);
  auto sum = [&](ArrayRef<OpFoldResult> terms) {
    OpFoldResult total = rewriter.getIndexAttr(0);
    for (OpFoldResult term : terms)
      total = affine::makeComposedFoldedAffineApply(rewriter, loc, d0 + d1,
                                                    {total, term});
    return total;
  };
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets, sizes;
  for (int64_t dim = 0; dim < rank - 2; ++dim) {
    offsets.push_back(sum(place.offsetTerms[dim]));
    sizes.push_back(rewriter.getIndexAttr(1));
  }
  offsets.push_back(affine::makeComposedFoldedAffineApply(
      rewriter, loc, d0.floorDiv(columns), {sum(place.offsetTerms[rank - 1])}));
  offsets.push_back(sum(place.offsetTerms[rank - 2]));
  offsets.push_back(rewriter.getIndexAttr(0));
  sizes.push_back(rewriter.getIndexAttr(1));
  sizes.push_back(place.sizes[rank - 2]);
  sizes.push_back(rewriter.getIndexAttr(columns));
  SmallVector<OpFoldResult> strides(rank + 1, rewriter.getIndexAttr(1));
  auto packedType = cast<RankedTensorType>(weight.getType());
  RankedTensorType stripType =
      tensor::ExtractSliceOp::inferCanonicalRankReducedResultType(2, packedType,
                                                                  sizes);
  Value strip = tensor::ExtractSliceOp::create(rewriter, loc, stripType, weight,
                                               offsets, sizes, strides);
  Type copyType = copy.getResult(0).getType();
  if (strip.getType() != copyType)
    strip = tensor::CastOp::create(rewriter, loc, copyType, strip);
  return strip;
}

/// The uses of `weight`, through unit-stride slices: the slices (parents
/// first) and the strip copies among `strips` that read them. Fails if any
/// other op uses it.
LogicalResult collectStripUses(BlockArgument weight,
                               const llvm::SmallPtrSetImpl<Operation *> &strips,
                               SmallVectorImpl<tensor::ExtractSliceOp> &slices,
                               SmallVectorImpl<linalg::CopyOp> &copies) {
  SmallVector<Value> worklist = {weight};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      if (auto slice = dyn_cast<tensor::ExtractSliceOp>(user);
          slice && slice.hasUnitStride()) {
        slices.push_back(slice);
        worklist.push_back(slice.getResult());
        continue;
      }
      auto copy = dyn_cast<linalg::CopyOp>(user);
      if (copy && strips.contains(copy) && use.getOperandNumber() == 0) {
        copies.push_back(copy);
        continue;
      }
      return failure();
    }
  }
  return success();
}

/// The indices of the entry's weight arguments, from its recorded signature.
SmallVector<unsigned> weightArguments(const llvm::json::Object &signature) {
  SmallVector<unsigned> weights;
  if (const llvm::json::Array *args = signature.getArray("args"))
    for (auto [i, arg] : llvm::enumerate(*args))
      if (const llvm::json::Object *object = arg.getAsObject())
        if (object->getString("role") == "weight")
          weights.push_back(i);
  return weights;
}

} // namespace

RankedTensorType packedWeightType(RankedTensorType type, int64_t columns) {
  SmallVector<int64_t> shape(type.getShape().drop_back(2));
  int64_t k = type.getDimSize(type.getRank() - 2);
  int64_t n = type.getDimSize(type.getRank() - 1);
  shape.append(
      {static_cast<int64_t>(llvm::divideCeil(n, columns)), k, columns});
  return RankedTensorType::get(shape, type.getElementType());
}

SmallVector<linalg::CopyOp> packWeightStrips(RewriterBase &rewriter,
                                             ModuleOp module,
                                             ArrayRef<linalg::CopyOp> strips,
                                             int64_t columns) {
  func::FuncOp entry = module ? preparedEntry(module) : nullptr;
  auto signatureText =
      module ? module->getAttrOfType<StringAttr>(kSignatureAttrName) : nullptr;
  if (!entry || !signatureText || entry.isExternal() || columns <= 0)
    return llvm::to_vector(strips);
  llvm::Expected<llvm::json::Value> signature =
      llvm::json::parse(signatureText.getValue());
  llvm::json::Object *object = signature ? signature->getAsObject() : nullptr;
  llvm::json::Array *args = object ? object->getArray("args") : nullptr;
  if (!args) {
    if (!signature)
      llvm::consumeError(signature.takeError());
    return llvm::to_vector(strips);
  }

  llvm::SmallPtrSet<Operation *, 16> pending;
  for (linalg::CopyOp copy : strips)
    pending.insert(copy);
  bool packedAny = false;
  for (unsigned index : weightArguments(*object)) {
    if (index >= entry.getNumArguments() || index >= args->size())
      continue;
    BlockArgument weight = entry.getArgument(index);
    auto type = dyn_cast<RankedTensorType>(weight.getType());
    if (!type || type.getRank() < 2 || !type.hasStaticShape())
      continue;
    SmallVector<tensor::ExtractSliceOp> slices;
    SmallVector<linalg::CopyOp> copies;
    if (failed(collectStripUses(weight, pending, slices, copies)) ||
        copies.empty())
      continue;
    SmallVector<StripPlace> places;
    for (linalg::CopyOp copy : copies) {
      std::optional<StripPlace> place = stripPlace(copy, weight, type, columns);
      if (!place)
        break;
      places.push_back(std::move(*place));
    }
    if (places.size() != copies.size())
      continue;

    // The argument takes the packed type; each strip becomes a slice of it
    // and the logical slices die.
    weight.setType(packedWeightType(type, columns));
    for (auto [copy, place] : llvm::zip(copies, places)) {
      Value strip = packedStrip(rewriter, copy, weight, type, place, columns);
      rewriter.replaceOp(copy, strip);
      pending.erase(copy);
    }
    for (tensor::ExtractSliceOp slice : llvm::reverse(slices))
      rewriter.eraseOp(slice);
    if (llvm::json::Object *arg = (*args)[index].getAsObject())
      (*arg)["strips"] = columns;
    packedAny = true;
  }
  if (packedAny) {
    entry.setType(FunctionType::get(module.getContext(),
                                    entry.getBody().getArgumentTypes(),
                                    entry.getResultTypes()));
    std::string text;
    llvm::raw_string_ostream os(text);
    os << llvm::json::Value(std::move(*object));
    module->setAttr(kSignatureAttrName,
                    StringAttr::get(module.getContext(), text));
  }
  SmallVector<linalg::CopyOp> unpacked;
  for (linalg::CopyOp copy : strips)
    if (pending.contains(copy))
      unpacked.push_back(copy);
  return unpacked;
}

} // namespace mlir::moe
