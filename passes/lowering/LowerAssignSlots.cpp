//===- LowerAssignSlots.cpp - Slot assignment as prefix sums --------------===//
//
// `moe.assign_slots` fills `C` slots per expert in rounds (every token's r-th
// choice before anyone's (r+1)-th), tokens in priority order within a round.
// Sequentially: a token takes its expert's next free slot, or is dropped when
// there is none. The same tables come out of a parallel formulation (vmoe
// computes positions with a cumsum):
//
// - the order of tokens in a round is a permutation: rank[s] by priority (a
//   pairwise count, as before), order[rank[s]] = s;
// - in round r, the position of a token among its expert's choosers is an
//   exclusive prefix sum, over the tokens in order, of one-hot(choice): with
//   `before[e]` the slots filled by earlier rounds, the token's slot is
//   `before[e] + position`, kept iff it is below C. Positions only grow along
//   the order, so the first C - before[e] choosers are exactly the tokens the
//   sequential algorithm keeps, in the same slots;
// - the prefix sums are Hillis-Steele scans (log2 S passes, each parallel
//   over tokens and experts), integer and exact; one scan serves every
//   round (the rounds stacked like groups);
// - each token finds its slot by its rank (a gather), and each slot its token
//   by a binary search of the round's prefix sums (a gather): no scatter, so
//   every step is parallel over its outputs.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"
#include "passes/common/TensorBuilders.h"
#include "passes/lowering/LoweringPatterns.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::moe {
namespace {

Value i32Eq(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
}

Value i32Lt(OpBuilder &b, Location loc, Value x, Value y) {
  return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, x, y);
}

/// A parallel `linalg.generic` over every element of `shape`, computing each
/// from its coordinates: the building block of every step here.
Value parallelTensor(
    OpBuilder &b, Location loc, ArrayRef<int64_t> shape, Type elementType,
    function_ref<Value(OpBuilder &, Location, ValueRange)> fn) {
  return generateTensor(b, loc, shape, elementType, fn);
}

/// The inclusive prefix sums of `x` ([G, S, E] i32) along S: Hillis-Steele,
/// `x[i] += x[i - 2^j]` for j = 0, 1, ... while 2^j < S, each pass parallel.
Value inclusiveScan(OpBuilder &b, Location loc, Value x) {
  auto type = cast<RankedTensorType>(x.getType());
  int64_t s = type.getDimSize(1);
  for (int64_t step = 1; step < s; step *= 2) {
    Value previous = x;
    x = parallelTensor(
        b, loc, type.getShape(), b.getI32Type(),
        [&](OpBuilder &nb, Location l, ValueRange at) -> Value {
          Value here = tensor::ExtractOp::create(nb, l, previous, at);
          Value stepValue = indexConstant(nb, l, step);
          Value reaches = arith::CmpIOp::create(
              nb, l, arith::CmpIPredicate::uge, at[1], stepValue);
          Value back = arith::SubIOp::create(
              nb, l, arith::SelectOp::create(nb, l, reaches, at[1], stepValue),
              stepValue);
          Value earlier = tensor::ExtractOp::create(
              nb, l, previous, ValueRange{at[0], back, at[2]});
          Value add = arith::SelectOp::create(nb, l, reaches, earlier,
                                              i32Constant(nb, l, 0));
          return arith::AddIOp::create(nb, l, here, add);
        });
  }
  return x;
}

struct LowerAssignSlots : OpRewritePattern<AssignSlotsOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AssignSlotsOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    auto choicesType = op.getExperts().getType();
    auto tableType = op.getSlotToken().getType();
    int64_t g = choicesType.getDimSize(0), s = choicesType.getDimSize(1),
            k = choicesType.getDimSize(2);
    int64_t e = tableType.getDimSize(1), c = tableType.getDimSize(2);
    Type i32 = rewriter.getI32Type();
    Value choices = op.getExperts();

    // The order of tokens within a round: order[g, i] is the token of rank
    // i, rank[g, s] the rank of token s. Position order by default; with
    // priorities, rank[g, s] = #{t : p[t] ranks before p[s]} and order its
    // inverse permutation (one write per token).
    Value rank, order;
    if (Value priority = op.getPriority()) {
      Value zero =
          filledTensor(rewriter, loc, {g, s}, rewriter.getI32IntegerAttr(0));
      SmallVector<utils::IteratorType> iterators(2,
                                                 utils::IteratorType::parallel);
      iterators.push_back(utils::IteratorType::reduction);
      rank = linalg::GenericOp::create(
                 rewriter, loc, zero.getType(), ValueRange{priority, priority},
                 zero,
                 SmallVector<AffineMap>{loopMap(rewriter, 3, {0, 1}),
                                        loopMap(rewriter, 3, {0, 2}),
                                        loopMap(rewriter, 3, {0, 1})},
                 iterators,
                 [](OpBuilder &b, Location nloc, ValueRange args) {
                   Value self =
                       toI32(b, nloc, linalg::IndexOp::create(b, nloc, 1));
                   Value other =
                       toI32(b, nloc, linalg::IndexOp::create(b, nloc, 2));
                   Value before =
                       ranksBefore(b, nloc, args[1], other, args[0], self);
                   Value one =
                       arith::ExtUIOp::create(b, nloc, b.getI32Type(), before);
                   linalg::YieldOp::create(
                       b, nloc,
                       Value(arith::AddIOp::create(b, nloc, args[2], one)));
                 })
                 .getResult(0);
      Value empty = emptyTensor(rewriter, loc, {g, s}, i32);
      // (rank is a permutation: every token writes its own element.)
      order =
          markDisjointIterations(
              forRange(
                  rewriter, loc, g, empty,
                  [&](OpBuilder &b, Location nloc, Value gi, ValueRange it) {
                    return SmallVector<Value>{
                        markDisjointIterations(
                            forRange(b, nloc, s, it[0],
                                     [&](OpBuilder &nb, Location l, Value si,
                                         ValueRange inner) {
                                       Value r = tensor::ExtractOp::create(
                                           nb, l, rank, ValueRange{gi, si});
                                       Value updated = tensor::InsertOp::create(
                                           nb, l, toI32(nb, l, si), inner[0],
                                           ValueRange{gi, toIndex(nb, l, r)});
                                       return SmallVector<Value>{updated};
                                     }))
                            .getResult(0)};
                  }))
              .getResult(0);
    }
    auto tokenAt = [&](OpBuilder &b, Location l, Value gi, Value i) -> Value {
      return order ? toIndex(b, l,
                             tensor::ExtractOp::create(b, l, order,
                                                       ValueRange{gi, i}))
                   : i;
    };
    auto rankOf = [&](OpBuilder &b, Location l, Value gi, Value si) -> Value {
      return rank ? toIndex(b, l,
                            tensor::ExtractOp::create(b, l, rank,
                                                      ValueRange{gi, si}))
                  : si;
    };

    // The inclusive prefix sums of every round's choosers in order, the
    // rounds stacked as groups ([k * G, S, E], round r's group g at r * G +
    // g): one scan for all rounds, which depend on each other only through
    // the slots filled before them.
    Value oneHot = parallelTensor(
        rewriter, loc, {k * g, s, e}, i32,
        [&](OpBuilder &b, Location l, ValueRange at) -> Value {
          Value groups = indexConstant(b, l, g);
          Value round = arith::DivUIOp::create(b, l, at[0], groups);
          Value gi = arith::RemUIOp::create(b, l, at[0], groups);
          Value x = tensor::ExtractOp::create(
              b, l, choices, ValueRange{gi, tokenAt(b, l, gi, at[1]), round});
          return arith::ExtUIOp::create(b, l, b.getI32Type(),
                                        i32Eq(b, l, x, toI32(b, l, at[2])));
        });
    Value scan = inclusiveScan(rewriter, loc, oneHot);
    // The row of `scan` holding round r of group `gi`.
    auto scanRow = [&](OpBuilder &b, Location l, int64_t r, Value gi) {
      return arith::AddIOp::create(b, l, indexConstant(b, l, r * g), gi);
    };

    // Round by round: the experts' slots filled before it.
    Value before =
        filledTensor(rewriter, loc, {g, e}, rewriter.getI32IntegerAttr(0));
    SmallVector<Value> filledBefore;
    SmallVector<Value> tokenSlotRounds;
    for (int64_t r = 0; r < k; ++r) {
      // The token's slot: before[e] + its exclusive position (at its rank
      // i), if below C.
      Value roundBefore = before;
      Value tokenSlot = parallelTensor(
          rewriter, loc, {g, s}, i32,
          [&](OpBuilder &b, Location l, ValueRange at) -> Value {
            Value i = rankOf(b, l, at[0], at[1]);
            Value x = tensor::ExtractOp::create(
                b, l, choices,
                ValueRange{at[0], at[1], indexConstant(b, l, r)});
            Value none = isNone(b, l, x);
            Value expert = clampedIndex(b, l, x);
            Value inclusive = tensor::ExtractOp::create(
                b, l, scan, ValueRange{scanRow(b, l, r, at[0]), i, expert});
            Value filled = tensor::ExtractOp::create(b, l, roundBefore,
                                                     ValueRange{at[0], expert});
            Value slot = arith::SubIOp::create(
                b, l, arith::AddIOp::create(b, l, filled, inclusive),
                i32Constant(b, l, 1));
            Value full = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge,
                                               slot, i32Constant(b, l, c));
            Value flat = arith::AddIOp::create(
                b, l,
                arith::MulIOp::create(b, l, toI32(b, l, expert),
                                      i32Constant(b, l, c)),
                slot);
            return arith::SelectOp::create(
                b, l, arith::OrIOp::create(b, l, none, full),
                i32Constant(b, l, -1), flat);
          });
      // before[e] += choosers, up to C.
      Value after =
          parallelTensor(rewriter, loc, {g, e}, i32,
                         [&](OpBuilder &b, Location l, ValueRange at) -> Value {
                           Value total = tensor::ExtractOp::create(
                               b, l, scan,
                               ValueRange{scanRow(b, l, r, at[0]),
                                          indexConstant(b, l, s - 1), at[1]});
                           Value filled =
                               tensor::ExtractOp::create(b, l, roundBefore, at);
                           return arith::MinSIOp::create(
                               b, l, arith::AddIOp::create(b, l, filled, total),
                               i32Constant(b, l, c));
                         });
      filledBefore.push_back(before);
      tokenSlotRounds.push_back(tokenSlot);
      before = after;
    }
    Value filledAfter = before;

    // token_slot[g, s, r] from the rounds.
    Value tokenSlot = parallelTensor(
        rewriter, loc, choicesType.getShape(), i32,
        [&](OpBuilder &b, Location l, ValueRange at) -> Value {
          Value result = i32Constant(b, l, -1);
          for (int64_t r = 0; r < k; ++r) {
            Value here = tensor::ExtractOp::create(b, l, tokenSlotRounds[r],
                                                   ValueRange{at[0], at[1]});
            Value isRound = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::eq, at[2], indexConstant(b, l, r));
            result = arith::SelectOp::create(b, l, isRound, here, result);
          }
          return result;
        });

    // slot_token[g, e, c]: the round that filled slot c of expert e, and
    // in it the chooser whose inclusive count is c - before + 1 (the first
    // rank where the prefix sum reaches it: a binary search).
    int64_t steps = 1;
    while ((int64_t{1} << steps) < s + 1)
      ++steps;
    Value table = parallelTensor(
        rewriter, loc, tableType.getShape(), i32,
        [&](OpBuilder &b, Location l, ValueRange at) -> Value {
          Value slot = toI32(b, l, at[2]);
          Value result = i32Constant(b, l, -1);
          for (int64_t r = 0; r < k; ++r) {
            Value from = tensor::ExtractOp::create(b, l, filledBefore[r],
                                                   ValueRange{at[0], at[1]});
            Value to =
                r + 1 < k
                    ? Value(tensor::ExtractOp::create(b, l, filledBefore[r + 1],
                                                      ValueRange{at[0], at[1]}))
                    : Value(tensor::ExtractOp::create(
                          b, l, filledAfter, ValueRange{at[0], at[1]}));
            Value inRound = arith::AndIOp::create(
                b, l,
                arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, slot,
                                      from),
                i32Lt(b, l, slot, to));
            Value target = arith::AddIOp::create(
                b, l, arith::SubIOp::create(b, l, slot, from),
                i32Constant(b, l, 1));
            // Smallest i with scan[i] >= target, over [lo, hi).
            auto search = forRange(
                b, l, steps,
                ValueRange{indexConstant(b, l, 0), indexConstant(b, l, s)},
                [&](OpBuilder &sb, Location sl, Value,
                    ValueRange bounds) -> SmallVector<Value> {
                  Value lo = bounds[0], hi = bounds[1];
                  Value open = arith::CmpIOp::create(
                      sb, sl, arith::CmpIPredicate::ult, lo, hi);
                  Value mid = arith::DivUIOp::create(
                      sb, sl, arith::AddIOp::create(sb, sl, lo, hi),
                      indexConstant(sb, sl, 2));
                  Value probe = arith::SelectOp::create(
                      sb, sl, open, mid, indexConstant(sb, sl, 0));
                  Value count = tensor::ExtractOp::create(
                      sb, sl, scan,
                      ValueRange{scanRow(sb, sl, r, at[0]), probe, at[1]});
                  Value enough = arith::CmpIOp::create(
                      sb, sl, arith::CmpIPredicate::sge, count, target);
                  Value nextLo = arith::SelectOp::create(
                      sb, sl, enough, lo,
                      arith::AddIOp::create(sb, sl, mid,
                                            indexConstant(sb, sl, 1)));
                  Value nextHi =
                      arith::SelectOp::create(sb, sl, enough, mid, hi);
                  return {arith::SelectOp::create(sb, sl, open, nextLo, lo),
                          arith::SelectOp::create(sb, sl, open, nextHi, hi)};
                });
            Value found = search.getResult(0);
            Value inRange = arith::CmpIOp::create(
                b, l, arith::CmpIPredicate::ult, found, indexConstant(b, l, s));
            Value safe = arith::SelectOp::create(b, l, inRange, found,
                                                 indexConstant(b, l, 0));
            Value token = toI32(b, l, tokenAt(b, l, at[0], safe));
            result = arith::SelectOp::create(
                b, l, arith::AndIOp::create(b, l, inRound, inRange), token,
                result);
          }
          return result;
        });
    rewriter.replaceOp(op, {table, tokenSlot});
    return success();
  }
};

} // namespace

void populateLowerAssignSlotsPatterns(RewritePatternSet &patterns) {
  patterns.add<LowerAssignSlots>(patterns.getContext());
}

} // namespace mlir::moe
