//===- MoEDialect.cpp - The moe dialect -----------------------------------===//

#include "dialect/MoEDialect.h"
#include "dialect/MoEOps.h"

using namespace mlir;
using namespace mlir::moe;

#include "dialect/MoEDialect.cpp.inc"

void MoEDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/MoEOps.cpp.inc"
      >();
  registerAttributes();
  registerTypes();
}
