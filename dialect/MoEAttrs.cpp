//===- MoEAttrs.cpp - Router, score and activation attributes -------------===//
//
// Verifiers and the RouterAttrInterface of the router attributes. Their
// textual syntax lives in RouterSyntax.cpp.
//
//===----------------------------------------------------------------------===//

#include "dialect/MoEAttrs.h"
#include "dialect/Capacity.h"
#include "dialect/MoEDialect.h"
#include "dialect/SizeLimits.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

#include <charconv>
#include <cmath>

using namespace mlir;
using namespace mlir::moe;

#include "dialect/MoEEnums.cpp.inc"
#include "dialect/MoERouterInterface.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialect/MoEAttrs.cpp.inc"

void MoEDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialect/MoEAttrs.cpp.inc"
      >();
}

//===----------------------------------------------------------------------===//
// Shared checks
//===----------------------------------------------------------------------===//

/// Formats a double for a diagnostic as the shortest decimal that reads back
/// as the same value (`1.05`, `0`, `1e-05`), not the `%e` form of
/// `InFlightDiagnostic << double` (`1.050000e+00`).
static std::string formatDouble(double value) {
  char buffer[64];
  std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

/// Checks the capacity parameters shared by the capacity-limited routers.
/// `allowNone` is true where no capacity form means "no limit".
static LogicalResult
verifyCapacitySpec(function_ref<InFlightDiagnostic()> emitError,
                   FloatAttr capacityFactor, std::optional<int64_t> capacity,
                   int64_t multipleOf) {
  if (capacityFactor && capacity)
    return emitError() << "give either capacity_factor or capacity, not both";
  if (capacityFactor && !(capacityFactor.getValueAsDouble() > 0.0 &&
                          std::isfinite(capacityFactor.getValueAsDouble())))
    return emitError() << "capacity_factor must be a finite number > 0, got "
                       << formatDouble(capacityFactor.getValueAsDouble());
  if (capacity && *capacity < 1)
    return emitError() << "capacity must be >= 1, got " << *capacity;
  if (capacity && *capacity > kMaxCapacity)
    return emitError() << "capacity " << *capacity << " exceeds "
                       << kMaxCapacity
                       << ", the most slots an expert can have (slot indices "
                          "are i32)";
  if (multipleOf < 1)
    return emitError() << "multiple_of must be >= 1, got " << multipleOf;
  return success();
}

/// The slots per expert of a capacity-limited router over `numItems` routed
/// items with `k` choices each: the fixed `capacity`, or docs/routers.md §2
/// from `capacityFactor`.
static FailureOr<int64_t>
slotsFromCapacitySpec(function_ref<InFlightDiagnostic()> emitError,
                      int64_t numItems, int64_t k, int64_t numExperts,
                      FloatAttr capacityFactor, std::optional<int64_t> capacity,
                      CapacityRounding rounding, int64_t multipleOf) {
  if (capacity)
    return *capacity;
  std::optional<int64_t> assignments = checkedProduct({numItems, k});
  if (!assignments)
    return emitError() << numItems << " items with k = " << k
                       << " make more assignments than an int64 counts";
  double cf = capacityFactor.getValueAsDouble();
  CapacityError error;
  std::optional<int64_t> slots = computeCapacity(*assignments, numExperts, cf,
                                                 rounding, multipleOf, &error);
  if (slots)
    return *slots;
  double rounded =
      roundCapacity(rawCapacity(*assignments, numExperts, cf), rounding);
  std::string formula =
      (stringifyCapacityRounding(rounding) + "(" +
       std::to_string(*assignments) + " * " + formatDouble(cf) + " / " +
       std::to_string(numExperts) + ") = " + formatDouble(rounded))
          .str();
  if (error == CapacityError::BelowOne)
    return emitError() << "computed capacity is below 1: " << formula;
  InFlightDiagnostic diag = emitError() << "computed capacity " << formula;
  if (rounded <= static_cast<double>(kMaxCapacity))
    diag << ", rounded up to a multiple of " << multipleOf << ",";
  return diag << " exceeds " << kMaxCapacity
              << ", the most slots an expert can have (slot indices are i32)";
}

static LogicalResult verifyChoices(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t k, int64_t numExperts) {
  if (k > numExperts)
    return emitError() << "k = " << k << " exceeds the number of experts ("
                       << numExperts << ")";
  return success();
}

//===----------------------------------------------------------------------===//
// Scores
//===----------------------------------------------------------------------===//

LogicalResult
SinkhornScoreAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                          int64_t iterations, APFloat epsilon) {
  if (iterations < 1)
    return emitError() << "sinkhorn iterations must be >= 1, got "
                       << iterations;
  if (!(epsilon.convertToDouble() > 0.0))
    return emitError() << "sinkhorn epsilon must be > 0, got "
                       << formatDouble(epsilon.convertToDouble());
  return success();
}

LogicalResult
KSparseOTScoreAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                           int64_t iterations, APFloat learningRate) {
  if (iterations < 1)
    return emitError() << "ksparse_ot iterations must be >= 1, got "
                       << iterations;
  if (!(learningRate.convertToDouble() > 0.0))
    return emitError() << "ksparse_ot learning_rate must be > 0, got "
                       << formatDouble(learningRate.convertToDouble());
  return success();
}

//===----------------------------------------------------------------------===//
// TokenChoiceAttr
//===----------------------------------------------------------------------===//

LogicalResult
TokenChoiceAttr::verify(function_ref<InFlightDiagnostic()> emitError, int64_t k,
                        FloatAttr capacityFactor,
                        std::optional<int64_t> capacity, bool dropless,
                        CapacityRounding rounding, int64_t multipleOf,
                        Priority priority, Attribute score, bool renormalize) {
  if (k < 1)
    return emitError() << "k must be >= 1, got " << k;
  if (failed(
          verifyCapacitySpec(emitError, capacityFactor, capacity, multipleOf)))
    return failure();
  if (dropless && (capacityFactor || capacity))
    return emitError() << "dropless routing takes no capacity_factor or "
                          "capacity";
  if (!dropless && !capacityFactor && !capacity)
    return emitError() << "token choice needs one of capacity_factor, "
                          "capacity or dropless";
  if (!isa<SoftmaxScoreAttr, SigmoidScoreAttr, SinkhornScoreAttr>(score))
    return emitError() << "token choice score must be softmax, sigmoid or "
                          "sinkhorn, got "
                       << score;
  return success();
}

int64_t TokenChoiceAttr::getLogitsPerToken(int64_t numExperts, int64_t) const {
  return numExperts;
}

FailureOr<int64_t> TokenChoiceAttr::computeSlotsPerExpert(
    int64_t tokensPerGroup, int64_t numExperts,
    function_ref<InFlightDiagnostic()> emitError) const {
  if (failed(verifyChoices(emitError, getK(), numExperts)))
    return failure();
  if (getDropless())
    return tokensPerGroup;
  return slotsFromCapacitySpec(emitError, tokensPerGroup, getK(), numExperts,
                               getCapacityFactor(), getCapacity(),
                               getRounding(), getMultipleOf());
}

bool TokenChoiceAttr::isSparse() const { return true; }

//===----------------------------------------------------------------------===//
// ExpertChoiceAttr
//===----------------------------------------------------------------------===//

LogicalResult ExpertChoiceAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, FloatAttr capacityFactor,
    std::optional<int64_t> capacity, CapacityRounding rounding,
    int64_t multipleOf, Attribute score) {
  if (failed(
          verifyCapacitySpec(emitError, capacityFactor, capacity, multipleOf)))
    return failure();
  if (!capacityFactor && !capacity)
    return emitError() << "expert choice needs capacity_factor or capacity";
  if (!isa<SoftmaxScoreAttr, SinkhornScoreAttr, KSparseOTScoreAttr>(score))
    return emitError() << "expert choice score must be softmax, sinkhorn or "
                          "ksparse_ot, got "
                       << score;
  return success();
}

int64_t ExpertChoiceAttr::getLogitsPerToken(int64_t numExperts, int64_t) const {
  return numExperts;
}

FailureOr<int64_t> ExpertChoiceAttr::computeSlotsPerExpert(
    int64_t tokensPerGroup, int64_t numExperts,
    function_ref<InFlightDiagnostic()> emitError) const {
  FailureOr<int64_t> slots = slotsFromCapacitySpec(
      emitError, tokensPerGroup, /*k=*/1, numExperts, getCapacityFactor(),
      getCapacity(), getRounding(), getMultipleOf());
  if (failed(slots))
    return failure();
  if (*slots > tokensPerGroup)
    return emitError() << "expert choice capacity " << *slots << " exceeds the "
                       << tokensPerGroup << " tokens of a group";
  return slots;
}

bool ExpertChoiceAttr::isSparse() const { return true; }

//===----------------------------------------------------------------------===//
// SoftAttr
//===----------------------------------------------------------------------===//

LogicalResult SoftAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               std::optional<int64_t> slotsPerExpert,
                               FloatAttr capacityFactor) {
  if (slotsPerExpert.has_value() == static_cast<bool>(capacityFactor))
    return emitError() << "soft needs exactly one of slots_per_expert and "
                          "capacity_factor";
  if (slotsPerExpert && *slotsPerExpert < 1)
    return emitError() << "slots_per_expert must be >= 1, got "
                       << *slotsPerExpert;
  if (slotsPerExpert && *slotsPerExpert > kMaxCapacity)
    return emitError() << "slots_per_expert " << *slotsPerExpert << " exceeds "
                       << kMaxCapacity
                       << ", the most slots an expert can have (slot indices "
                          "are i32)";
  return verifyCapacitySpec(emitError, capacityFactor, std::nullopt,
                            /*multipleOf=*/1);
}

int64_t SoftAttr::getLogitsPerToken(int64_t numExperts,
                                    int64_t slotsPerExpert) const {
  return numExperts * slotsPerExpert;
}

FailureOr<int64_t> SoftAttr::computeSlotsPerExpert(
    int64_t tokensPerGroup, int64_t numExperts,
    function_ref<InFlightDiagnostic()> emitError) const {
  if (getSlotsPerExpert())
    return *getSlotsPerExpert();
  // docs/routers.md §4.5: p = round(S * cf / E), multiple 1.
  return slotsFromCapacitySpec(emitError, tokensPerGroup, /*k=*/1, numExperts,
                               getCapacityFactor(), std::nullopt,
                               CapacityRounding::round, /*multipleOf=*/1);
}

bool SoftAttr::isSparse() const { return false; }

//===----------------------------------------------------------------------===//
// PerImageAttr
//===----------------------------------------------------------------------===//

LogicalResult PerImageAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                   int64_t tokensPerItem, int64_t k,
                                   Pooling pooling, FloatAttr capacityFactor,
                                   std::optional<int64_t> capacity,
                                   CapacityRounding rounding,
                                   int64_t multipleOf) {
  if (tokensPerItem < 1)
    return emitError() << "tokens_per_item must be >= 1, got " << tokensPerItem;
  if (k < 1)
    return emitError() << "k must be >= 1, got " << k;
  return verifyCapacitySpec(emitError, capacityFactor, capacity, multipleOf);
}

int64_t PerImageAttr::getLogitsPerToken(int64_t numExperts, int64_t) const {
  return numExperts;
}

FailureOr<int64_t> PerImageAttr::computeSlotsPerExpert(
    int64_t tokensPerGroup, int64_t numExperts,
    function_ref<InFlightDiagnostic()> emitError) const {
  int64_t tokensPerItem = getTokensPerItem();
  if (tokensPerGroup % tokensPerItem != 0)
    return emitError() << "tokens_per_item = " << tokensPerItem
                       << " does not divide the " << tokensPerGroup
                       << " tokens of a group";
  if (failed(verifyChoices(emitError, getK(), numExperts)))
    return failure();
  int64_t items = tokensPerGroup / tokensPerItem;
  if (!getCapacityFactor() && !getCapacity())
    return tokensPerGroup;
  FailureOr<int64_t> itemSlots = slotsFromCapacitySpec(
      emitError, items, getK(), numExperts, getCapacityFactor(), getCapacity(),
      getRounding(), getMultipleOf());
  if (failed(itemSlots))
    return failure();
  std::optional<int64_t> tokenSlots =
      checkedProduct({*itemSlots, tokensPerItem});
  if (!tokenSlots || *tokenSlots > kMaxCapacity)
    return emitError() << *itemSlots << " item slots of " << tokensPerItem
                       << " tokens exceed " << kMaxCapacity
                       << " token slots per expert (slot indices are i32)";
  return *tokenSlots;
}

bool PerImageAttr::isSparse() const { return true; }
