//===- MoETypes.cpp - The routing plan type -------------------------------===//

#include "dialect/MoETypes.h"
#include "dialect/MoEDialect.h"
#include "dialect/SizeLimits.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::moe;

/// `?` (dynamic: known at run time) or a count.
static ParseResult parseGroupCount(AsmParser &parser, int64_t &groups) {
  if (succeeded(parser.parseOptionalQuestion())) {
    groups = ShapedType::kDynamic;
    return success();
  }
  return parser.parseInteger(groups);
}

static void printGroupCount(AsmPrinter &printer, int64_t groups) {
  if (ShapedType::isDynamic(groups))
    printer << "?";
  else
    printer << groups;
}

#define GET_TYPEDEF_CLASSES
#include "dialect/MoETypes.cpp.inc"

LogicalResult PlanType::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t groups, int64_t tokens, int64_t experts,
                               int64_t capacity) {
  // A dynamic number of groups is checked as one group: the code is
  // compiled for one group and run once per group.
  if (ShapedType::isDynamic(groups))
    groups = 1;
  if (groups < 1 || tokens < 1 || experts < 1 || capacity < 1)
    return emitError() << "plan dimensions must be at least 1, got groups = "
                       << groups << ", tokens = " << tokens
                       << ", experts = " << experts
                       << ", capacity = " << capacity;
  // Token, slot and row indices of a plan's layouts are i32: every token of
  // every group (the sorted layout's flat `g * S + s`) and every slot of
  // every group (the rows of the padded layout) must have one.
  std::optional<int64_t> allTokens = checkedProduct({groups, tokens});
  if (!allTokens || *allTokens > kMaxI32Indices)
    return emitError() << "a plan of " << groups << " groups of " << tokens
                       << " tokens has more tokens than i32 token indices can "
                          "number (at most "
                       << kMaxI32Indices << ")";
  std::optional<int64_t> allSlots = checkedProduct({groups, experts, capacity});
  if (!allSlots || *allSlots > kMaxI32Indices)
    return emitError() << "a plan of " << groups << " groups, " << experts
                       << " experts and capacity " << capacity
                       << " has more slots (groups * experts * capacity) than "
                          "i32 slot indices can number (at most "
                       << kMaxI32Indices << ")";
  return success();
}

void MoEDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/MoETypes.cpp.inc"
      >();
}
