//===- FuzzIR.cpp - libFuzzer target: the moe parser and verifier ---------===//
//
// Parses the input as MLIR in a context with the moe dialect and the upstream
// dialects its IR uses (func, arith, tensor), which verifies it; diagnostics
// are swallowed. Crashes, hangs, sanitizer reports and leaks are findings, and
// so is IR that verifies but does not survive a round trip (what
// `moe-opt --verify-roundtrip` checks): its custom and its generic printed
// forms must both parse, verify and print the same generic form again.
//
// A fresh context per input keeps inputs independent (no uniqued attributes
// or types accumulate across a campaign).
//
//===----------------------------------------------------------------------===//

#include "FuzzCheck.h"

#include "dialect/MoEDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "llvm/Support/raw_ostream.h"

#include <string>

using namespace mlir;
using namespace ::moe::fuzz;

namespace {
std::string print(Operation *op, OpPrintingFlags flags) {
  std::string text;
  llvm::raw_string_ostream os(text);
  op->print(os, flags);
  return text;
}

OwningOpRef<ModuleOp> parse(const std::string &text, MLIRContext &context) {
  return parseSourceString<ModuleOp>(text, &context);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const DialectRegistry registry = [] {
    DialectRegistry r;
    r.insert<mlir::moe::MoEDialect, func::FuncDialect, arith::ArithDialect,
             tensor::TensorDialect>();
    return r;
  }();
  MLIRContext context(registry, MLIRContext::Threading::DISABLED);
  ScopedDiagnosticHandler swallow(&context,
                                  [](Diagnostic &) { return success(); });

  // The MLIR lexer reads the terminating NUL that MemoryBuffer guarantees.
  std::string source(reinterpret_cast<const char *>(data), size);
  OwningOpRef<ModuleOp> module = parse(source, context);
  if (!module)
    return 0;

  OpPrintingFlags generic;
  generic.printGenericOpForm();
  std::string genericText = print(*module, generic);
  std::string customText = print(*module, OpPrintingFlags());
  for (const std::string *text : {&genericText, &customText}) {
    OwningOpRef<ModuleOp> reparsed = parse(*text, context);
    check(bool(reparsed), "printed IR does not parse and verify", *text);
    check(print(*reparsed, generic) == genericText,
          "printed IR parses to different IR", *text);
  }
  return 0;
}
