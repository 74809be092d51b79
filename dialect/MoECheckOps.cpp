//===- MoECheckOps.cpp - Run-time checks of compiled entries --------------===//

#include "dialect/MoEOps.h"

using namespace mlir;
using namespace mlir::moe;

LogicalResult CheckOp::verify() {
  if (getValues().size() > kMaxValues)
    return emitOpError() << "takes at most " << kMaxValues << " values, got "
                         << getValues().size();
  // Every placeholder `{<digits>}` must name a value; other braces are text.
  StringRef message = getMessage();
  for (size_t open = message.find('{'); open != StringRef::npos;
       open = message.find('{', open + 1)) {
    size_t close = message.find('}', open);
    unsigned index;
    if (close == StringRef::npos ||
        message.slice(open + 1, close).getAsInteger(10, index))
      continue;
    if (index >= getValues().size())
      return emitOpError() << "message refers to {" << index << "} but the "
                           << "check has " << getValues().size() << " values";
  }
  return success();
}
