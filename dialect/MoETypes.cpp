//===- MoETypes.cpp - The routing plan type -------------------------------===//

#include "dialect/MoETypes.h"
#include "dialect/MoEDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::moe;

#define GET_TYPEDEF_CLASSES
#include "dialect/MoETypes.cpp.inc"

LogicalResult PlanType::verify(function_ref<InFlightDiagnostic()> emitError,
                               int64_t groups, int64_t tokens, int64_t experts,
                               int64_t capacity) {
  if (groups < 1 || tokens < 1 || experts < 1 || capacity < 1)
    return emitError() << "plan dimensions must be at least 1, got groups = "
                       << groups << ", tokens = " << tokens
                       << ", experts = " << experts
                       << ", capacity = " << capacity;
  return success();
}

void MoEDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "dialect/MoETypes.cpp.inc"
      >();
}
