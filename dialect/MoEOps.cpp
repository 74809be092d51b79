//===- MoEOps.cpp - Level-1 moe operations --------------------------------===//

#include "dialect/MoEOps.h"
#include "dialect/ShapeChecks.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::moe;
using namespace mlir::moe::detail;

//===----------------------------------------------------------------------===//
// Shape checks shared by the verifiers
//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// GateOp
//===----------------------------------------------------------------------===//

LogicalResult GateOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput());
  ArrayRef<int64_t> w = shapeOf(getWeight());
  if (failed(checkSameElementType(*this, "router weight", getWeight(),
                                  getInput().getType().getElementType())))
    return failure();
  int64_t expectedRank = isNormalized() ? 3 : 2;
  if (static_cast<int64_t>(w.size()) != expectedRank)
    return emitOpError() << (isNormalized()
                                 ? "Soft MoE weight phi must be [d, E, p]"
                                 : "router weight must be [d, E]")
                         << ", got rank " << w.size();
  if (w[0] != x[2])
    return emitOpError() << "router weight has " << w[0]
                         << " rows but the tokens have d = " << x[2];
  int64_t logitsPerToken = isNormalized() ? w[1] * w[2] : w[1];
  return checkShape(*this, "logits", getLogits(), {x[0], x[1], logitsPerToken});
}

//===----------------------------------------------------------------------===//
// RouteOp
//===----------------------------------------------------------------------===//

LogicalResult RouteOp::verify() {
  ArrayRef<int64_t> logits = shapeOf(getLogits());
  PlanType plan = getPlan().getType();
  if (failed(checkTokensMatchPlan(*this, "logits", getLogits(), plan)))
    return failure();
  RouterAttrInterface router = getRouter();
  FailureOr<int64_t> capacity = router.computeSlotsPerExpert(
      plan.getTokens(), plan.getExperts(), [&] { return emitOpError(); });
  if (failed(capacity))
    return failure();
  if (*capacity != plan.getCapacity())
    return emitOpError() << "plan capacity " << plan.getCapacity()
                         << " differs from the router's capacity " << *capacity
                         << "; expected "
                         << PlanType::get(getContext(), plan.getGroups(),
                                          plan.getTokens(), plan.getExperts(),
                                          *capacity);
  int64_t expectedLogits =
      router.getLogitsPerToken(plan.getExperts(), plan.getCapacity());
  if (logits[2] != expectedLogits)
    return emitOpError() << "logits have " << logits[2]
                         << " entries per token but the router needs "
                         << expectedLogits << " for the plan's "
                         << plan.getExperts() << " experts";
  return success();
}

namespace {
/// Per-image routing of one-token items is token choice: rewrite it so the
/// token-choice lowering serves it.
struct PerImageOfSingleTokensIsTokenChoice : OpRewritePattern<RouteOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouteOp op,
                                PatternRewriter &rewriter) const override {
    auto perImage = dyn_cast<PerImageAttr>(op.getRouter());
    if (!perImage || perImage.getTokensPerItem() != 1)
      return failure();
    bool dropless = !perImage.getCapacityFactor() && !perImage.getCapacity();
    auto tokenChoice = TokenChoiceAttr::get(
        getContext(), perImage.getK(), perImage.getCapacityFactor(),
        perImage.getCapacity(), dropless, perImage.getRounding(),
        perImage.getMultipleOf(), Priority::position,
        SoftmaxScoreAttr::get(getContext()), /*renormalize=*/false);
    rewriter.modifyOpInPlace(op, [&] { op.setRouterAttr(tokenChoice); });
    return success();
  }
};
} // namespace

void RouteOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                          MLIRContext *context) {
  results.add<PerImageOfSingleTokensIsTokenChoice>(context);
}

//===----------------------------------------------------------------------===//
// DispatchOp
//===----------------------------------------------------------------------===//

LogicalResult DispatchOp::verify() {
  PlanType plan = getPlan().getType();
  if (failed(checkTokensMatchPlan(*this, "input", getInput(), plan)) ||
      failed(checkSameElementType(*this, "slots", getSlots(),
                                  getInput().getType().getElementType())))
    return failure();
  int64_t d = shapeOf(getInput())[2];
  return checkShape(*this, "slots", getSlots(),
                    {plan.getExperts(), plan.getSlotsPerExpert(), d});
}

//===----------------------------------------------------------------------===//
// CombineOp
//===----------------------------------------------------------------------===//

LogicalResult CombineOp::verify() {
  PlanType plan = getPlan().getType();
  if (failed(checkSameElementType(*this, "output", getOutput(),
                                  getSlots().getType().getElementType())))
    return failure();
  int64_t d = shapeOf(getSlots())[2];
  if (failed(checkShape(*this, "slots", getSlots(),
                        {plan.getExperts(), plan.getSlotsPerExpert(), d})))
    return failure();
  return checkShape(*this, "output", getOutput(),
                    {plan.getGroups(), plan.getTokens(), d});
}

//===----------------------------------------------------------------------===//
// ExpertsOp
//===----------------------------------------------------------------------===//

void ExpertsOp::build(OpBuilder &builder, OperationState &state,
                      Type resultType, Value input, Activation activation,
                      Value upWeight, Value upBias, Value downWeight,
                      Value downBias) {
  std::array<int32_t, 5> segments = {1, 0, 0, 0, 0};
  state.addOperands(input);
  for (auto [index, value] : llvm::enumerate(
           ArrayRef<Value>{upWeight, upBias, downWeight, downBias})) {
    if (!value)
      continue;
    state.addOperands(value);
    segments[index + 1] = 1;
  }
  Properties &props = state.getOrAddProperties<Properties>();
  props.operandSegmentSizes = segments;
  props.activation = ActivationAttr::get(builder.getContext(), activation);
  state.addTypes(resultType);
  (void)state.addRegion();
}

void ExpertsOp::build(OpBuilder &builder, OperationState &state,
                      Type resultType, Value input) {
  state.addOperands(input);
  state.addTypes(resultType);
  state.getOrAddProperties<Properties>().operandSegmentSizes = {1, 0, 0, 0, 0};
  Region *body = state.addRegion();
  auto inputType = cast<RankedTensorType>(input.getType());
  auto slotsType = RankedTensorType::get(inputType.getShape().drop_front(),
                                         inputType.getElementType());
  Block *block = new Block();
  body->push_back(block);
  block->addArgument(builder.getIndexType(), state.location);
  block->addArgument(slotsType, state.location);
}

int64_t ExpertsOp::getHiddenSize() { return shapeOf(getDownWeight())[1]; }

LogicalResult ExpertsOp::verify() {
  ArrayRef<int64_t> x = shapeOf(getInput());
  ArrayRef<int64_t> y = shapeOf(getResult());
  if (y.size() != 3 || y[0] != x[0] || y[1] != x[1])
    return emitOpError() << "result must be [" << x[0] << ", " << x[1]
                         << ", d_out] like the input slots, got "
                         << shapeString(y);
  if (!isMLP()) {
    if (getUpWeight() || getUpBias() || getDownWeight() || getDownBias())
      return emitOpError() << "expert weights need the named form "
                              "'mlp(<activation>)'";
    if (getBody().empty())
      return emitOpError() << "needs either 'mlp(<activation>)' weights or "
                              "a region computing one expert";
    return success();
  }
  if (!getBody().empty())
    return emitOpError() << "the named MLP form takes no region";
  if (!getUpWeight() || !getDownWeight())
    return emitOpError() << "the named MLP form needs 'up' and 'down' weights";
  Type elementType = getInput().getType().getElementType();
  for (auto [what, value] :
       {std::pair<StringRef, Value>{"up weight", getUpWeight()},
        {"up bias", getUpBias()},
        {"down weight", getDownWeight()},
        {"down bias", getDownBias()},
        {"result", getResult()}}) {
    if (value && failed(checkSameElementType(*this, what, value, elementType)))
      return failure();
  }
  int64_t numExperts = x[0];
  ArrayRef<int64_t> up = shapeOf(getUpWeight());
  ArrayRef<int64_t> down = shapeOf(getDownWeight());
  for (auto [what, shape, rank] :
       {std::tuple<StringRef, ArrayRef<int64_t>, size_t>{"up weight", up, 3},
        {"down weight", down, 3}}) {
    if (shape.size() != rank || shape[0] != numExperts)
      return emitOpError() << what << " must be [E = " << numExperts
                           << ", in, out], got " << shapeString(shape);
  }
  if (up[1] != x[2])
    return emitOpError() << "up weight has " << up[1]
                         << " rows but the slots have d = " << x[2];
  int64_t hidden = down[1];
  bool gated = *getActivation() == Activation::swiglu;
  int64_t upColumns = gated ? 2 * hidden : hidden;
  if (up[2] != upColumns)
    return emitOpError() << "hidden size mismatch: up weight has " << up[2]
                         << " columns but the down weight has " << hidden
                         << " rows"
                         << (gated ? " (swiglu needs 2 * hidden up columns)"
                                   : "");
  if (down[2] != y[2])
    return emitOpError() << "down weight has " << down[2]
                         << " columns but the result has d_out = " << y[2];
  if (getUpBias() && failed(checkShape(*this, "up bias", getUpBias(),
                                       {numExperts, upColumns})))
    return failure();
  if (getDownBias() &&
      failed(checkShape(*this, "down bias", getDownBias(), {numExperts, y[2]})))
    return failure();
  return success();
}

LogicalResult ExpertsOp::verifyRegions() {
  if (getBody().empty())
    return success();
  if (!getBody().hasOneBlock())
    return emitOpError() << "region must have one block";
  Block &block = getBody().front();
  RankedTensorType input = getInput().getType();
  auto slotsType = RankedTensorType::get(input.getShape().drop_front(),
                                         input.getElementType());
  if (block.getNumArguments() != 2 ||
      !block.getArgument(0).getType().isIndex() ||
      block.getArgument(1).getType() != slotsType)
    return emitOpError() << "region arguments must be (index, " << slotsType
                         << "): the expert index and its slots";
  auto yield = dyn_cast<YieldOp>(block.getTerminator());
  if (!yield)
    return emitOpError() << "region must end with 'moe.yield'";
  RankedTensorType result = getResult().getType();
  auto expected = RankedTensorType::get(result.getShape().drop_front(),
                                        result.getElementType());
  if (yield.getValue().getType() != expected)
    return yield.emitOpError()
           << "yields " << yield.getValue().getType()
           << " but one expert's result must be " << expected;
  return success();
}

ParseResult ExpertsOp::parse(OpAsmParser &parser, OperationState &result) {
  OpAsmParser::UnresolvedOperand input;
  SmallVector<OpAsmParser::UnresolvedOperand> operands;
  std::array<int32_t, 5> segments = {1, 0, 0, 0, 0};
  if (parser.parseOperand(input))
    return failure();
  operands.push_back(input);
  Properties &props = result.getOrAddProperties<Properties>();
  if (succeeded(parser.parseOptionalKeyword("mlp"))) {
    SMLoc loc = parser.getCurrentLocation();
    StringRef word;
    if (parser.parseLParen() || parser.parseKeyword(&word) ||
        parser.parseRParen())
      return failure();
    std::optional<Activation> activation = symbolizeActivation(word);
    if (!activation)
      return parser.emitError(loc) << "unknown activation '" << word
                                   << "', expected gelu, relu, silu or swiglu";
    props.activation = ActivationAttr::get(parser.getContext(), *activation);
    // `up %w [up_bias %b] down %w [down_bias %b]`, in this order.
    for (auto [index, keyword, optional] :
         {std::tuple<int, StringRef, bool>{1, "up", false},
          {2, "up_bias", true},
          {3, "down", false},
          {4, "down_bias", true}}) {
      if (optional ? failed(parser.parseOptionalKeyword(keyword))
                   : failed(parser.parseKeyword(keyword)))
        continue;
      OpAsmParser::UnresolvedOperand operand;
      if (parser.parseOperand(operand))
        return failure();
      operands.push_back(operand);
      segments[index] = 1;
    }
  }
  props.operandSegmentSizes = segments;
  FunctionType type;
  SMLoc typeLoc = parser.getCurrentLocation();
  if (parser.parseOptionalAttrDict(result.attributes) || parser.parseColon() ||
      parser.parseType(type))
    return failure();
  if (type.getNumResults() != 1)
    return parser.emitError(typeLoc, "expected one result type");
  if (parser.resolveOperands(operands, type.getInputs(), typeLoc,
                             result.operands))
    return failure();
  result.addTypes(type.getResults());
  Region *body = result.addRegion();
  OptionalParseResult region = parser.parseOptionalRegion(*body);
  if (region.has_value() && failed(*region))
    return failure();
  return success();
}

void ExpertsOp::print(OpAsmPrinter &printer) {
  printer << ' ' << getInput();
  if (isMLP()) {
    printer << " mlp(" << stringifyActivation(*getActivation()) << ") up "
            << getUpWeight();
    if (getUpBias())
      printer << " up_bias " << getUpBias();
    printer << " down " << getDownWeight();
    if (getDownBias())
      printer << " down_bias " << getDownBias();
  }
  printer.printOptionalAttrDict((*this)->getAttrs(),
                                {"activation", "operandSegmentSizes"});
  printer << " : ";
  printer.printFunctionalType(getOperation());
  if (!getBody().empty()) {
    printer << ' ';
    printer.printRegion(getBody(), /*printEntryBlockArgs=*/true,
                        /*printBlockTerminators=*/true);
  }
}

//===----------------------------------------------------------------------===//
// RouteStatsOp
//===----------------------------------------------------------------------===//

LogicalResult RouteStatsOp::verify() {
  PlanType plan = getPlan().getType();
  if (failed(checkTokensMatchPlan(*this, "logits", getLogits(), plan)))
    return failure();
  if (shapeOf(getLogits())[2] != plan.getExperts())
    return emitOpError() << "logits have " << shapeOf(getLogits())[2]
                         << " entries per token but the plan has "
                         << plan.getExperts()
                         << " experts (statistics are for sparse routers)";
  int64_t groups = plan.getGroups();
  if (failed(checkShape(*this, "importance_loss", getImportanceLoss(),
                        {groups})) ||
      failed(checkShape(*this, "expert_load", getExpertLoad(),
                        {groups, plan.getExperts()})) ||
      failed(checkShape(*this, "dropped_assignments", getDroppedAssignments(),
                        {groups})) ||
      failed(checkShape(*this, "dropped_tokens", getDroppedTokens(), {groups})))
    return failure();
  if (getInvalidTokens() &&
      failed(checkShape(*this, "invalid_tokens", getInvalidTokens(), {groups})))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// PlanSlotsOp
//===----------------------------------------------------------------------===//

LogicalResult PlanSlotsOp::verify() {
  PlanType plan = getPlan().getType();
  SmallVector<int64_t> table = {plan.getGroups(), plan.getExperts(),
                                plan.getCapacity()};
  if (failed(checkShape(*this, "slot_token", getSlotToken(), table)) ||
      failed(checkShape(*this, "slot_weight", getSlotWeight(), table)))
    return failure();
  return success();
}

//===----------------------------------------------------------------------===//
// Router attribute in the assembly of moe.route
//===----------------------------------------------------------------------===//

/// Parses the router of `moe.route`, written without its `#moe.` prefix:
/// `token_choice<k = 2, ...>`. (A full `#moe.token_choice<...>` followed by
/// the op's `: type` would read the type as the attribute's own.)
static ParseResult parseRouter(OpAsmParser &parser,
                               RouterAttrInterface &router) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef name;
  if (parser.parseKeyword(&name))
    return failure();
  Attribute attr;
  if (name == TokenChoiceAttr::getMnemonic())
    attr = TokenChoiceAttr::parse(parser, Type());
  else if (name == ExpertChoiceAttr::getMnemonic())
    attr = ExpertChoiceAttr::parse(parser, Type());
  else if (name == SoftAttr::getMnemonic())
    attr = SoftAttr::parse(parser, Type());
  else if (name == PerImageAttr::getMnemonic())
    attr = PerImageAttr::parse(parser, Type());
  else
    return parser.emitError(loc)
           << "unknown router '" << name
           << "'; expected token_choice, expert_choice, soft or per_image";
  if (!attr)
    return failure();
  router = cast<RouterAttrInterface>(attr);
  return success();
}

static void printRouter(OpAsmPrinter &printer, Operation *,
                        RouterAttrInterface router) {
  llvm::TypeSwitch<Attribute, void>(router)
      .Case<TokenChoiceAttr, ExpertChoiceAttr, SoftAttr, PerImageAttr>(
          [&](auto attr) {
            printer << attr.getMnemonic();
            attr.print(printer);
          });
}

#define GET_OP_CLASSES
#include "dialect/MoEOps.cpp.inc"
