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

/// Checks that `attr` names a tensor: a non-empty string.
static LogicalResult verifyTensorName(Operation *op, NamedAttribute attr,
                                      StringRef what) {
  auto name = dyn_cast<StringAttr>(attr.getValue());
  if (!name || name.getValue().empty())
    return op->emitError() << "'" << attr.getName().getValue() << "' on "
                           << what << " must be a non-empty string naming "
                           << "the tensor, got " << attr.getValue();
  return success();
}

/// `moe.per_group` is a unit attribute.
static LogicalResult verifyPerGroup(Operation *op, NamedAttribute attr,
                                    const std::string &what) {
  if (isa<UnitAttr>(attr.getValue()))
    return success();
  return op->emitError() << "'" << attr.getName().getValue() << "' on " << what
                         << " is a unit attribute, got " << attr.getValue();
}

LogicalResult MoEDialect::verifyRegionArgAttribute(Operation *op,
                                                   unsigned regionIndex,
                                                   unsigned argIndex,
                                                   NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kInputAttrName || name == kWeightAttrName)
    return verifyTensorName(op, attr, "argument #" + std::to_string(argIndex));
  if (name == kPerGroupAttrName)
    return verifyPerGroup(op, attr, "argument #" + std::to_string(argIndex));
  if (name == kOutputAttrName)
    return op->emitError() << "'" << name << "' names a result; on argument #"
                           << argIndex << " use '" << kInputAttrName << "' or '"
                           << kWeightAttrName << "'";
  return op->emitError() << "unknown moe argument attribute '" << name
                         << "'; expected '" << kInputAttrName << "' or '"
                         << kWeightAttrName << "'";
}

LogicalResult MoEDialect::verifyRegionResultAttribute(Operation *op,
                                                      unsigned regionIndex,
                                                      unsigned resultIndex,
                                                      NamedAttribute attr) {
  StringRef name = attr.getName().getValue();
  if (name == kOutputAttrName)
    return verifyTensorName(op, attr, "result #" + std::to_string(resultIndex));
  if (name == kPerGroupAttrName)
    return verifyPerGroup(op, attr, "result #" + std::to_string(resultIndex));
  return op->emitError() << "unknown moe result attribute '" << name
                         << "'; expected '" << kOutputAttrName << "'";
}
