//===- RouterSyntax.cpp - Textual form of router and score attributes -----===//
//
// Router attributes read as keyword lists, in any order, with defaults
// omitted when printing:
//
//   #moe.token_choice<k = 2, capacity_factor = 1.05, priority = bpr>
//   #moe.expert_choice<capacity = 4, score = sinkhorn<iterations = 10>>
//
// A parameter given twice, an unknown keyword, or a parameter that does not
// apply (for example `rounding` with a fixed `capacity`) is a parse error at
// its location.
//
//===----------------------------------------------------------------------===//

#include "dialect/MoEAttrs.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <charconv>
#include <cmath>

using namespace mlir;
using namespace mlir::moe;

namespace {

/// Default values shared by the router attributes.
constexpr int64_t kDefaultMultipleOf = 4;
constexpr int64_t kDefaultIterations = 20;
constexpr double kDefaultSinkhornEpsilon = 1.0;
constexpr double kDefaultKSparseLearningRate = 1e-2;

/// Parses `<` entry (`,` entry)* `>`, where an entry is a keyword optionally
/// followed by `= value`; `onEntry` parses whatever follows the keyword.
/// With `optional`, a missing `<` means no entries.
ParseResult
parseKeywordList(AsmParser &parser, bool optional,
                 function_ref<ParseResult(StringRef, SMLoc)> onEntry) {
  if (optional) {
    if (failed(parser.parseOptionalLess()))
      return success();
  } else if (parser.parseLess()) {
    return failure();
  }
  llvm::StringSet<> seen;
  auto parseEntry = [&]() -> ParseResult {
    SMLoc loc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key))
      return failure();
    if (!seen.insert(key).second)
      return parser.emitError(loc) << "'" << key << "' is given twice";
    return onEntry(key, loc);
  };
  if (parser.parseCommaSeparatedList(parseEntry) || parser.parseGreater())
    return failure();
  return success();
}

ParseResult parseIntValue(AsmParser &parser, int64_t &value) {
  return failure(parser.parseEqual() || parser.parseInteger(value));
}

/// Accepts float literals (`1.05`, `2.5e-3`), integers (`2`), integers with
/// an exponent (`1e30`, `3E-2`: the MLIR lexer reads these as an integer and
/// a bare identifier) and their negations (which the verifiers then reject
/// with a message naming the value).
ParseResult parseFloatValue(AsmParser &parser, double &value) {
  if (parser.parseEqual())
    return failure();
  SMLoc loc = parser.getCurrentLocation();
  // Take the sign first: `parseOptionalDecimalInteger` would consume the `-`
  // of `-1.0` and then fail on the float literal.
  bool negative = succeeded(parser.parseOptionalMinus());
  APInt digits;
  OptionalParseResult intResult = parser.parseOptionalDecimalInteger(digits);
  if (!intResult.has_value()) {
    if (parser.parseFloat(value))
      return failure();
  } else {
    if (failed(*intResult))
      return failure();
    std::string text = llvm::toString(digits, 10, /*Signed=*/false);
    StringRef word;
    if (succeeded(parser.parseOptionalKeyword(&word))) {
      // `e30` is one identifier; `e-30` and `e+30` are `e`, a sign and 30.
      std::string exponent = word.str();
      if (word == "e" || word == "E") {
        if (succeeded(parser.parseOptionalMinus()))
          exponent += "-";
        else
          (void)parser.parseOptionalPlus();
        int64_t magnitude;
        if (parser.parseInteger(magnitude))
          return failure();
        exponent += std::to_string(magnitude);
      }
      text += exponent;
    }
    if (StringRef(text).getAsDouble(value) || !std::isfinite(value))
      return parser.emitError(loc)
             << "expected a number representable as a double, got '" << text
             << "'";
  }
  if (negative)
    value = -value;
  return success();
}

template <typename EnumT>
ParseResult parseEnumValue(AsmParser &parser, StringRef key,
                           std::optional<EnumT> (*symbolize)(StringRef),
                           StringRef choices, EnumT &value) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef word;
  if (parser.parseEqual() || parser.parseKeyword(&word))
    return failure();
  std::optional<EnumT> parsed = symbolize(word);
  if (!parsed)
    return parser.emitError(loc)
           << "unknown " << key << " '" << word << "', expected " << choices;
  value = *parsed;
  return success();
}

/// Prints the shortest decimal that reads back as the same double, always
/// with a `.` so the MLIR lexer reads it as a float.
void printDouble(raw_ostream &os, double value) {
  char buffer[64];
  std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, result.ptr);
  if (text.find('.') == std::string::npos) {
    size_t exponent = text.find_first_of("eE");
    text.insert(exponent == std::string::npos ? text.size() : exponent, ".0");
  }
  os << text;
}

/// Prints the entries of a keyword list, separated by commas.
class EntryPrinter {
public:
  explicit EntryPrinter(AsmPrinter &printer) : os(printer.getStream()) {}
  raw_ostream &next() {
    if (!first)
      os << ", ";
    first = false;
    return os;
  }

private:
  raw_ostream &os;
  bool first = true;
};

FloatAttr getF64(MLIRContext *context, double value) {
  return FloatAttr::get(Float64Type::get(context), value);
}

/// The capacity parameters shared by the capacity-limited routers.
struct CapacityFields {
  FloatAttr capacityFactor;
  std::optional<int64_t> capacity;
  bool dropless = false;
  CapacityRounding rounding = CapacityRounding::ceil;
  int64_t multipleOf = kDefaultMultipleOf;
  SMLoc roundingLoc, capacityFormLoc;
  bool roundingGiven = false;

  /// Parses a capacity keyword; returns std::nullopt when `key` is not one.
  std::optional<ParseResult> parse(AsmParser &parser, StringRef key, SMLoc loc,
                                   bool allowDropless) {
    if (key == "capacity_factor") {
      double cf;
      if (parseFloatValue(parser, cf))
        return failure();
      capacityFactor = getF64(parser.getContext(), cf);
      capacityFormLoc = loc;
      return success();
    }
    if (key == "capacity") {
      int64_t fixed;
      if (parseIntValue(parser, fixed))
        return failure();
      capacity = fixed;
      capacityFormLoc = loc;
      return success();
    }
    if (key == "dropless" && allowDropless) {
      dropless = true;
      capacityFormLoc = loc;
      return success();
    }
    if (key == "rounding" || key == "multiple_of") {
      roundingGiven = true;
      roundingLoc = loc;
      if (key == "rounding")
        return parseEnumValue(parser, key, symbolizeCapacityRounding,
                              "ceil or round", rounding);
      return parseIntValue(parser, multipleOf);
    }
    return std::nullopt;
  }

  /// `rounding` and `multiple_of` only shape a capacity computed from a
  /// capacity factor.
  ParseResult checkRoundingApplies(AsmParser &parser) const {
    if (roundingGiven && !capacityFactor)
      return parser.emitError(roundingLoc)
             << "rounding and multiple_of apply only with capacity_factor";
    return success();
  }

  void print(EntryPrinter &entries) const {
    if (dropless)
      entries.next() << "dropless";
    if (capacityFactor)
      printDouble(entries.next() << "capacity_factor = ",
                  capacityFactor.getValueAsDouble());
    if (capacity)
      entries.next() << "capacity = " << *capacity;
    if (rounding != CapacityRounding::ceil)
      entries.next() << "rounding = " << stringifyCapacityRounding(rounding);
    if (multipleOf != kDefaultMultipleOf)
      entries.next() << "multiple_of = " << multipleOf;
  }
};

ParseResult emitUnknownKey(AsmParser &parser, SMLoc loc, StringRef key,
                           StringRef attrName, StringRef known) {
  return parser.emitError(loc) << "unknown " << attrName << " parameter '"
                               << key << "', expected one of " << known;
}

/// Parses `score = softmax | sigmoid | sinkhorn<...> | ksparse_ot<...>`.
ParseResult parseScore(AsmParser &parser, Attribute &score) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef word;
  if (parser.parseEqual() || parser.parseKeyword(&word))
    return failure();
  MLIRContext *context = parser.getContext();
  if (word == "softmax")
    score = SoftmaxScoreAttr::get(context);
  else if (word == "sigmoid")
    score = SigmoidScoreAttr::get(context);
  else if (word == "sinkhorn")
    score = SinkhornScoreAttr::parse(parser, Type());
  else if (word == "ksparse_ot")
    score = KSparseOTScoreAttr::parse(parser, Type());
  else
    return parser.emitError(loc)
           << "unknown score '" << word
           << "', expected softmax, sigmoid, sinkhorn or ksparse_ot";
  return success(static_cast<bool>(score));
}

/// Prints a score without its dialect prefix, as `parseScore` reads it.
void printScore(AsmPrinter &printer, Attribute score) {
  llvm::TypeSwitch<Attribute, void>(score)
      .Case([&](SoftmaxScoreAttr) { printer << "softmax"; })
      .Case([&](SigmoidScoreAttr) { printer << "sigmoid"; })
      .Case([&](SinkhornScoreAttr attr) {
        printer << "sinkhorn";
        attr.print(printer);
      })
      .Case([&](KSparseOTScoreAttr attr) {
        printer << "ksparse_ot";
        attr.print(printer);
      })
      .Default([&](Attribute attr) { printer << attr; });
}

/// Prints `<iterations = .., name = ..>`, each only when not the default.
void printIterativeScore(AsmPrinter &printer, int64_t iterations,
                         StringRef valueName, double value,
                         double defaultValue) {
  if (iterations == kDefaultIterations && value == defaultValue)
    return;
  printer << "<";
  EntryPrinter entries(printer);
  if (iterations != kDefaultIterations)
    entries.next() << "iterations = " << iterations;
  if (value != defaultValue)
    printDouble(entries.next() << valueName << " = ", value);
  printer << ">";
}

/// Parses the optional `<iterations = .., name = ..>` of an iterative score.
ParseResult parseIterativeScore(AsmParser &parser, StringRef attrName,
                                StringRef valueName, int64_t &iterations,
                                double &value) {
  return parseKeywordList(
      parser, /*optional=*/true, [&](StringRef key, SMLoc loc) {
        if (key == "iterations")
          return parseIntValue(parser, iterations);
        if (key == valueName)
          return parseFloatValue(parser, value);
        return emitUnknownKey(parser, loc, key, attrName,
                              ("iterations, " + valueName).str());
      });
}

} // namespace

//===----------------------------------------------------------------------===//
// Scores
//===----------------------------------------------------------------------===//

Attribute SinkhornScoreAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  int64_t iterations = kDefaultIterations;
  double epsilon = kDefaultSinkhornEpsilon;
  if (parseIterativeScore(parser, "sinkhorn", "epsilon", iterations, epsilon))
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    iterations, APFloat(epsilon));
}

void SinkhornScoreAttr::print(AsmPrinter &printer) const {
  printIterativeScore(printer, getIterations(), "epsilon", getEpsilonValue(),
                      kDefaultSinkhornEpsilon);
}

Attribute KSparseOTScoreAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  int64_t iterations = kDefaultIterations;
  double learningRate = kDefaultKSparseLearningRate;
  if (parseIterativeScore(parser, "ksparse_ot", "learning_rate", iterations,
                          learningRate))
    return {};
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    iterations, APFloat(learningRate));
}

void KSparseOTScoreAttr::print(AsmPrinter &printer) const {
  printIterativeScore(printer, getIterations(), "learning_rate",
                      getLearningRateValue(), kDefaultKSparseLearningRate);
}

//===----------------------------------------------------------------------===//
// TokenChoiceAttr
//===----------------------------------------------------------------------===//

Attribute TokenChoiceAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  MLIRContext *context = parser.getContext();
  std::optional<int64_t> k;
  CapacityFields cap;
  Priority priority = Priority::position;
  Attribute score = SoftmaxScoreAttr::get(context);
  bool renormalize = false;
  auto onEntry = [&](StringRef key, SMLoc keyLoc) -> ParseResult {
    if (std::optional<ParseResult> result =
            cap.parse(parser, key, keyLoc, /*allowDropless=*/true))
      return *result;
    if (key == "k") {
      int64_t value;
      if (parseIntValue(parser, value))
        return failure();
      k = value;
      return success();
    }
    if (key == "priority")
      return parseEnumValue(parser, key, symbolizePriority, "position or bpr",
                            priority);
    if (key == "score")
      return parseScore(parser, score);
    if (key == "renormalize") {
      renormalize = true;
      return success();
    }
    return emitUnknownKey(parser, keyLoc, key, "token_choice",
                          "k, capacity_factor, capacity, dropless, rounding, "
                          "multiple_of, priority, score, renormalize");
  };
  if (parseKeywordList(parser, /*optional=*/false, onEntry) ||
      cap.checkRoundingApplies(parser))
    return {};
  if (!k) {
    parser.emitError(loc) << "token_choice needs 'k = <experts per token>'";
    return {};
  }
  return getChecked([&] { return parser.emitError(loc); }, context, *k,
                    cap.capacityFactor, cap.capacity, cap.dropless,
                    cap.rounding, cap.multipleOf, priority, score, renormalize);
}

void TokenChoiceAttr::print(AsmPrinter &printer) const {
  printer << "<";
  EntryPrinter entries(printer);
  entries.next() << "k = " << getK();
  CapacityFields{getCapacityFactor(), getCapacity(), getDropless(),
                 getRounding(), getMultipleOf()}
      .print(entries);
  if (getPriority() != Priority::position)
    entries.next() << "priority = " << stringifyPriority(getPriority());
  if (!isa<SoftmaxScoreAttr>(getScore())) {
    entries.next() << "score = ";
    printScore(printer, getScore());
  }
  if (getRenormalize())
    entries.next() << "renormalize";
  printer << ">";
}

//===----------------------------------------------------------------------===//
// ExpertChoiceAttr
//===----------------------------------------------------------------------===//

Attribute ExpertChoiceAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  MLIRContext *context = parser.getContext();
  CapacityFields cap;
  Attribute score = SoftmaxScoreAttr::get(context);
  auto onEntry = [&](StringRef key, SMLoc keyLoc) -> ParseResult {
    if (std::optional<ParseResult> result =
            cap.parse(parser, key, keyLoc, /*allowDropless=*/false))
      return *result;
    if (key == "score")
      return parseScore(parser, score);
    return emitUnknownKey(parser, keyLoc, key, "expert_choice",
                          "capacity_factor, capacity, rounding, multiple_of, "
                          "score");
  };
  if (parseKeywordList(parser, /*optional=*/false, onEntry) ||
      cap.checkRoundingApplies(parser))
    return {};
  return getChecked([&] { return parser.emitError(loc); }, context,
                    cap.capacityFactor, cap.capacity, cap.rounding,
                    cap.multipleOf, score);
}

void ExpertChoiceAttr::print(AsmPrinter &printer) const {
  printer << "<";
  EntryPrinter entries(printer);
  CapacityFields{getCapacityFactor(), getCapacity(), /*dropless=*/false,
                 getRounding(), getMultipleOf()}
      .print(entries);
  if (!isa<SoftmaxScoreAttr>(getScore())) {
    entries.next() << "score = ";
    printScore(printer, getScore());
  }
  printer << ">";
}

//===----------------------------------------------------------------------===//
// SoftAttr
//===----------------------------------------------------------------------===//

Attribute SoftAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  std::optional<int64_t> slotsPerExpert;
  FloatAttr capacityFactor;
  auto onEntry = [&](StringRef key, SMLoc keyLoc) -> ParseResult {
    if (key == "slots_per_expert") {
      int64_t value;
      if (parseIntValue(parser, value))
        return failure();
      slotsPerExpert = value;
      return success();
    }
    if (key == "capacity_factor") {
      double cf;
      if (parseFloatValue(parser, cf))
        return failure();
      capacityFactor = getF64(parser.getContext(), cf);
      return success();
    }
    return emitUnknownKey(parser, keyLoc, key, "soft",
                          "slots_per_expert, capacity_factor");
  };
  if (parseKeywordList(parser, /*optional=*/false, onEntry))
    return {};
  if (!slotsPerExpert && !capacityFactor) {
    parser.emitError(loc)
        << "soft needs 'slots_per_expert = <p>' or 'capacity_factor = <cf>'";
    return {};
  }
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    slotsPerExpert, capacityFactor);
}

void SoftAttr::print(AsmPrinter &printer) const {
  if (getSlotsPerExpert()) {
    printer << "<slots_per_expert = " << *getSlotsPerExpert() << ">";
    return;
  }
  printDouble(printer.getStream() << "<capacity_factor = ",
              getCapacityFactor().getValueAsDouble());
  printer << ">";
}

//===----------------------------------------------------------------------===//
// PerImageAttr
//===----------------------------------------------------------------------===//

Attribute PerImageAttr::parse(AsmParser &parser, Type) {
  SMLoc loc = parser.getCurrentLocation();
  std::optional<int64_t> tokensPerItem, k;
  Pooling pooling = Pooling::cls;
  bool poolingGiven = false;
  CapacityFields cap;
  auto onEntry = [&](StringRef key, SMLoc keyLoc) -> ParseResult {
    if (std::optional<ParseResult> result =
            cap.parse(parser, key, keyLoc, /*allowDropless=*/true))
      return *result;
    if (key == "tokens_per_item" || key == "k") {
      int64_t value;
      if (parseIntValue(parser, value))
        return failure();
      (key == "k" ? k : tokensPerItem) = value;
      return success();
    }
    if (key == "pooling") {
      poolingGiven = true;
      return parseEnumValue(parser, key, symbolizePooling, "cls or mean",
                            pooling);
    }
    return emitUnknownKey(parser, keyLoc, key, "per_image",
                          "tokens_per_item, k, pooling, capacity_factor, "
                          "capacity, dropless, rounding, multiple_of");
  };
  if (parseKeywordList(parser, /*optional=*/false, onEntry) ||
      cap.checkRoundingApplies(parser))
    return {};
  if (!tokensPerItem || !k || !poolingGiven) {
    parser.emitError(loc) << "per_image needs tokens_per_item, k and pooling";
    return {};
  }
  if (cap.dropless && (cap.capacityFactor || cap.capacity)) {
    parser.emitError(cap.capacityFormLoc)
        << "dropless routing takes no capacity_factor or capacity";
    return {};
  }
  return getChecked([&] { return parser.emitError(loc); }, parser.getContext(),
                    *tokensPerItem, *k, pooling, cap.capacityFactor,
                    cap.capacity, cap.rounding, cap.multipleOf);
}

void PerImageAttr::print(AsmPrinter &printer) const {
  printer << "<";
  EntryPrinter entries(printer);
  entries.next() << "tokens_per_item = " << getTokensPerItem();
  entries.next() << "k = " << getK();
  entries.next() << "pooling = " << stringifyPooling(getPooling());
  CapacityFields{getCapacityFactor(), getCapacity(), /*dropless=*/false,
                 getRounding(), getMultipleOf()}
      .print(entries);
  printer << ">";
}
