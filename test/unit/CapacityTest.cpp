//===- CapacityTest.cpp - Expert capacity of docs/routers.md §2 ----------------===//
//
// rawCapacity / computeCapacity against docs/routers.md §2 (worked values,
// rounding, multiple_of, the C >= 1 rule), and the capacity the router
// attributes report through RouterAttrInterface.
//
//===----------------------------------------------------------------------===//

#include "dialect/Capacity.h"
#include "dialect/MoEAttrs.h"
#include "dialect/MoEDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <string>

using namespace mlir;
using namespace mlir::moe;

namespace {

constexpr CapacityRounding kCeil = CapacityRounding::ceil;
constexpr CapacityRounding kRound = CapacityRounding::round;

//===----------------------------------------------------------------------===//
// rawCapacity
//===----------------------------------------------------------------------===//

TEST(RawCapacityTest, IsTokensTimesFactorOverExperts) {
  EXPECT_DOUBLE_EQ(rawCapacity(3152, 8, 1.05), 413.7);
  EXPECT_EQ(rawCapacity(800, 8, 4.0), 400.0);
  EXPECT_EQ(rawCapacity(9232, 8, 1.5), 1731.0);
  EXPECT_EQ(rawCapacity(196, 128, 1.0), 1.53125);
  EXPECT_EQ(rawCapacity(16, 4, 0.0), 0.0);
}

TEST(RawCapacityTest, MultipliesBeforeDividing) {
  // In this order, in double precision: 800 * 1.05 rounds to exactly 840, so
  // the raw capacity is exactly 105 (and ceil does not bump it to 106).
  EXPECT_EQ(rawCapacity(800, 8, 1.05), 800.0 * 1.05 / 8.0);
  EXPECT_EQ(rawCapacity(800, 8, 1.05), 105.0);
  EXPECT_EQ(rawCapacity(3152, 8, 1.05), 3152.0 * 1.05 / 8.0);
}

//===----------------------------------------------------------------------===//
// computeCapacity: docs/routers.md §2 worked values
//===----------------------------------------------------------------------===//

TEST(ComputeCapacityTest, WorkedValues) {
  // num_tokens = S * k for token choice.
  // (S = 1576, k = 2, E = 8, cf = 1.05): ceil(413.7) = 414 -> 416.
  EXPECT_EQ(computeCapacity(1576 * 2, 8, 1.05, kCeil, 4), 416);
  // (400, 2, 8, 1.05): ceil(105) = 105 -> 108.
  EXPECT_EQ(computeCapacity(400 * 2, 8, 1.05, kCeil, 4), 108);
  // (400, 2, 8, 4.0): 400, already a multiple of 4.
  EXPECT_EQ(computeCapacity(400 * 2, 8, 4.0, kCeil, 4), 400);
  // (4616, 2, 8, 1.5): 1731 -> 1732.
  EXPECT_EQ(computeCapacity(4616 * 2, 8, 1.5, kCeil, 4), 1732);
  // Expert choice, num_tokens = S: (196, E = 128, cf = 1.0, round,
  // multiple 1): round(1.53125) = 2.
  EXPECT_EQ(computeCapacity(196, 128, 1.0, kRound, 1), 2);
}

TEST(ComputeCapacityTest, WorkedValuesBeforeMultipleOf) {
  EXPECT_EQ(computeCapacity(1576 * 2, 8, 1.05, kCeil, 1), 414);
  EXPECT_EQ(computeCapacity(400 * 2, 8, 1.05, kCeil, 1), 105);
  EXPECT_EQ(computeCapacity(4616 * 2, 8, 1.5, kCeil, 1), 1731);
  // round and ceil agree where raw is an integer.
  EXPECT_EQ(computeCapacity(400 * 2, 8, 1.05, kRound, 1), 105);
  EXPECT_EQ(computeCapacity(4616 * 2, 8, 1.5, kRound, 4), 1732);
}

//===----------------------------------------------------------------------===//
// computeCapacity: rounding
//===----------------------------------------------------------------------===//

TEST(ComputeCapacityTest, CeilRoundsUp) {
  EXPECT_EQ(computeCapacity(16, 4, 1.1, kCeil, 1), 5);    // 4.4
  EXPECT_EQ(computeCapacity(16, 4, 1.2, kCeil, 1), 5);    // 4.8
  EXPECT_EQ(computeCapacity(16, 4, 1.0, kCeil, 1), 4);    // 4 exactly
  EXPECT_EQ(computeCapacity(196, 128, 1.0, kCeil, 1), 2); // 1.53125
  EXPECT_EQ(computeCapacity(3, 2, 1.0, kCeil, 1), 2);     // 1.5
}

TEST(ComputeCapacityTest, RoundIsToNearest) {
  EXPECT_EQ(computeCapacity(16, 4, 1.1, kRound, 1), 4); // 4.4
  EXPECT_EQ(computeCapacity(16, 4, 1.2, kRound, 1), 5); // 4.8
  EXPECT_EQ(computeCapacity(16, 4, 1.0, kRound, 1), 4); // 4 exactly
}

TEST(ComputeCapacityTest, RoundIsHalfToEven) {
  // x.5 goes to the even neighbour, not always up.
  EXPECT_EQ(computeCapacity(3, 2, 1.0, kRound, 1), 2);     // 1.5 -> 2
  EXPECT_EQ(computeCapacity(5, 2, 1.0, kRound, 1), 2);     // 2.5 -> 2
  EXPECT_EQ(computeCapacity(7, 2, 1.0, kRound, 1), 4);     // 3.5 -> 4
  EXPECT_EQ(computeCapacity(9, 2, 1.0, kRound, 1), 4);     // 4.5 -> 4
  EXPECT_EQ(computeCapacity(16, 4, 1.125, kRound, 1), 4);  // 4.5 -> 4
  EXPECT_EQ(computeCapacity(16, 4, 1.375, kRound, 1), 6);  // 5.5 -> 6
  EXPECT_EQ(computeCapacity(825, 2, 1.0, kRound, 1), 412); // 412.5 -> 412
  EXPECT_EQ(computeCapacity(827, 2, 1.0, kRound, 1), 414); // 413.5 -> 414
}

//===----------------------------------------------------------------------===//
// computeCapacity: multiple_of
//===----------------------------------------------------------------------===//

TEST(ComputeCapacityTest, MultipleOfRoundsUp) {
  EXPECT_EQ(computeCapacity(16, 4, 1.1, kCeil, 4), 8); // 5 -> 8
  EXPECT_EQ(computeCapacity(16, 4, 1.1, kCeil, 3), 6); // 5 -> 6
  EXPECT_EQ(computeCapacity(16, 4, 1.1, kCeil, 5), 5); // 5 stays
  EXPECT_EQ(computeCapacity(16, 4, 1.1, kCeil, 2), 6); // 5 -> 6
  // Applied after the rounding: round(4.4) = 4 is a multiple of 4.
  EXPECT_EQ(computeCapacity(16, 4, 1.1, kRound, 4), 4);
  // Exact multiples stay.
  EXPECT_EQ(computeCapacity(32, 4, 1.0, kCeil, 4), 8);
  EXPECT_EQ(computeCapacity(32, 4, 1.0, kCeil, 8), 8);
}

TEST(ComputeCapacityTest, MultipleOfOneDisables) {
  for (int64_t tokens = 1; tokens <= 64; ++tokens) {
    double raw = rawCapacity(tokens, 4, 1.25);
    EXPECT_EQ(computeCapacity(tokens, 4, 1.25, kCeil, 1),
              static_cast<int64_t>(std::ceil(raw)))
        << "tokens = " << tokens;
  }
}

TEST(ComputeCapacityTest, MultipleOfAboveCapacity) {
  // The smallest capacity becomes one whole multiple.
  EXPECT_EQ(computeCapacity(1, 8, 1.0, kCeil, 16), 16);
  EXPECT_EQ(computeCapacity(196, 128, 1.0, kRound, 4), 4);
}

TEST(ComputeCapacityTest, ResultIsAlwaysAMultipleAtLeastTheRounded) {
  for (int64_t multiple : {1, 2, 3, 4, 7, 8}) {
    for (int64_t tokens = 1; tokens <= 200; tokens += 7) {
      for (double cf : {0.5, 1.0, 1.05, 1.25, 2.0}) {
        std::optional<int64_t> capacity =
            computeCapacity(tokens, 8, cf, kCeil, multiple);
        ASSERT_TRUE(capacity.has_value());
        double raw = rawCapacity(tokens, 8, cf);
        EXPECT_EQ(*capacity % multiple, 0);
        EXPECT_GE(*capacity, std::ceil(raw));
        EXPECT_LT(*capacity, std::ceil(raw) + multiple);
      }
    }
  }
}

//===----------------------------------------------------------------------===//
// computeCapacity: C >= 1
//===----------------------------------------------------------------------===//

TEST(ComputeCapacityTest, BelowOneIsAnError) {
  // round(0.4) = 0 and round(0.5) = 0 (half to even).
  EXPECT_EQ(computeCapacity(16, 4, 0.1, kRound, 1), std::nullopt);
  EXPECT_EQ(computeCapacity(1, 2, 1.0, kRound, 1), std::nullopt);
  // ... even where multiple_of would have made it 4.
  EXPECT_EQ(computeCapacity(16, 4, 0.1, kRound, 4), std::nullopt);
  // round(0.75) = 1 is fine.
  EXPECT_EQ(computeCapacity(3, 4, 1.0, kRound, 1), 1);
}

TEST(ComputeCapacityTest, CeilOfAPositiveRawIsAtLeastOne) {
  EXPECT_EQ(computeCapacity(16, 4, 0.1, kCeil, 1), 1);
  EXPECT_EQ(computeCapacity(1, 1024, 0.01, kCeil, 1), 1);
  EXPECT_EQ(computeCapacity(1, 1024, 0.01, kCeil, 4), 4);
}

TEST(ComputeCapacityTest, NonPositiveOrNaNFactorIsAnError) {
  EXPECT_EQ(computeCapacity(16, 4, 0.0, kCeil, 4), std::nullopt);
  EXPECT_EQ(computeCapacity(16, 4, -1.0, kCeil, 4), std::nullopt);
  EXPECT_EQ(computeCapacity(16, 4, -1.0, kRound, 1), std::nullopt);
  EXPECT_EQ(computeCapacity(16, 4, std::numeric_limits<double>::quiet_NaN(),
                            kCeil, 4),
            std::nullopt);
}

TEST(ComputeCapacityTest, LargeValues) {
  // 2^20 tokens, top-2, 64 experts, cf 1.25: 40960 exactly.
  EXPECT_EQ(computeCapacity(int64_t(1) << 21, 64, 1.25, kCeil, 4), 40960);
  // 10^9 tokens, one expert: every token gets a slot.
  EXPECT_EQ(computeCapacity(1000000000, 1, 1.0, kCeil, 1), 1000000000);
}

TEST(ComputeCapacityTest, TooLargeIsAnErrorNotAnOverflow) {
  CapacityError error = CapacityError::BelowOne;
  // The largest capacity there is, and one past it.
  EXPECT_EQ(computeCapacity(kMaxCapacity, 1, 1.0, kCeil, 1), kMaxCapacity);
  EXPECT_EQ(computeCapacity(kMaxCapacity + 1, 1, 1.0, kCeil, 1, &error),
            std::nullopt);
  EXPECT_EQ(error, CapacityError::TooLarge);
  // A capacity factor far past int64 (converting it was undefined).
  error = CapacityError::BelowOne;
  EXPECT_EQ(computeCapacity(32, 4, 9.3e18, kCeil, 4, &error), std::nullopt);
  EXPECT_EQ(error, CapacityError::TooLarge);
  EXPECT_EQ(computeCapacity(32, 4, 1e300, kRound, 1), std::nullopt);
  EXPECT_EQ(
      computeCapacity(32, 4, std::numeric_limits<double>::infinity(), kCeil, 1),
      std::nullopt);
  // Rounding up to a huge multiple (capacity + multiple_of - 1 overflowed).
  error = CapacityError::BelowOne;
  EXPECT_EQ(computeCapacity(32, 4, 1.0, kCeil,
                            std::numeric_limits<int64_t>::max(), &error),
            std::nullopt);
  EXPECT_EQ(error, CapacityError::TooLarge);
  // ... and to the largest multiple that still fits.
  EXPECT_EQ(computeCapacity(32, 4, 1.0, kCeil, kMaxCapacity), kMaxCapacity);
  EXPECT_EQ(computeCapacity(kMaxCapacity, 1, 1.0, kCeil, 2), std::nullopt);
}

TEST(ComputeCapacityTest, BelowOneIsReported) {
  CapacityError error = CapacityError::TooLarge;
  EXPECT_EQ(computeCapacity(16, 4, 0.1, kRound, 1, &error), std::nullopt);
  EXPECT_EQ(error, CapacityError::BelowOne);
}

//===----------------------------------------------------------------------===//
// The router attributes' capacity (RouterAttrInterface)
//===----------------------------------------------------------------------===//

class RouterCapacityTest : public ::testing::Test {
protected:
  RouterCapacityTest()
      : handler(&context, [this](Diagnostic &diag) {
          messages += diag.str();
          messages += "\n";
        }) {
    context.loadDialect<MoEDialect>();
  }

  /// The slots per expert of `router`, or std::nullopt after it reported an
  /// error (collected in `messages`).
  std::optional<int64_t> slots(RouterAttrInterface router, int64_t tokens,
                               int64_t experts) {
    FailureOr<int64_t> result =
        router.computeSlotsPerExpert(tokens, experts, [&] {
          return mlir::emitError(UnknownLoc::get(&context));
        });
    if (failed(result))
      return std::nullopt;
    return *result;
  }

  FloatAttr cf(double value) {
    return FloatAttr::get(Float64Type::get(&context), value);
  }

  RouterAttrInterface tokenChoice(int64_t k, FloatAttr capacityFactor,
                                  std::optional<int64_t> capacity,
                                  bool dropless,
                                  CapacityRounding rounding = kCeil,
                                  int64_t multipleOf = 4) {
    return TokenChoiceAttr::get(&context, k, capacityFactor, capacity, dropless,
                                rounding, multipleOf, Priority::position,
                                SoftmaxScoreAttr::get(&context),
                                /*renormalize=*/false);
  }

  RouterAttrInterface expertChoice(FloatAttr capacityFactor,
                                   std::optional<int64_t> capacity,
                                   CapacityRounding rounding = kCeil,
                                   int64_t multipleOf = 4) {
    return ExpertChoiceAttr::get(&context, capacityFactor, capacity, rounding,
                                 multipleOf, SoftmaxScoreAttr::get(&context));
  }

  MLIRContext context;
  std::string messages;
  ScopedDiagnosticHandler handler;
};

TEST_F(RouterCapacityTest, TokenChoiceWorkedValues) {
  EXPECT_EQ(slots(tokenChoice(2, cf(1.05), std::nullopt, false), 1576, 8), 416);
  EXPECT_EQ(slots(tokenChoice(2, cf(1.05), std::nullopt, false), 400, 8), 108);
  EXPECT_EQ(slots(tokenChoice(2, cf(4.0), std::nullopt, false), 400, 8), 400);
  EXPECT_EQ(slots(tokenChoice(2, cf(1.5), std::nullopt, false), 4616, 8), 1732);
  EXPECT_TRUE(messages.empty()) << messages;
}

TEST_F(RouterCapacityTest, ExpertChoiceWorkedValue) {
  EXPECT_EQ(slots(expertChoice(cf(1.0), std::nullopt, kRound, 1), 196, 128), 2);
  // Expert choice counts S tokens, not S * k: ceil(1568 / 32) = 49 -> 52.
  EXPECT_EQ(slots(expertChoice(cf(1.0), std::nullopt), 1568, 32), 52);
  EXPECT_TRUE(messages.empty()) << messages;
}

TEST_F(RouterCapacityTest, FixedCapacityAndDropless) {
  // A fixed capacity is used as given, not rounded to a multiple.
  EXPECT_EQ(slots(tokenChoice(1, nullptr, 3, false), 16, 4), 3);
  EXPECT_EQ(slots(expertChoice(nullptr, 3), 16, 4), 3);
  // Dropless: C = S.
  EXPECT_EQ(slots(tokenChoice(2, nullptr, std::nullopt, true), 16, 4), 16);
  EXPECT_TRUE(messages.empty()) << messages;
}

TEST_F(RouterCapacityTest, SoftAndPerImage) {
  EXPECT_EQ(slots(SoftAttr::get(&context, 3, nullptr), 196, 128), 3);
  // The capacity-factor form: p = round(S * cf / E), multiple 1.
  // round(196 * 1.3 / 128) = round(1.990625) = 2; round(196 * 0.98 / 128) =
  // round(1.500625) = 2; round(200 * 1.0 / 80) = round(2.5) = 2 (half to
  // even); round(196 * 0.3 / 128) = 0 is an error.
  EXPECT_EQ(slots(SoftAttr::get(&context, std::nullopt, cf(1.3)), 196, 128), 2);
  EXPECT_EQ(slots(SoftAttr::get(&context, std::nullopt, cf(0.98)), 196, 128),
            2);
  EXPECT_EQ(slots(SoftAttr::get(&context, std::nullopt, cf(1.0)), 200, 80), 2);
  EXPECT_TRUE(messages.empty()) << messages;
  EXPECT_EQ(slots(SoftAttr::get(&context, std::nullopt, cf(0.3)), 196, 128),
            std::nullopt);
  EXPECT_NE(messages.find("computed capacity is below 1: round(196 * 0.3 / "
                          "128) = 0"),
            std::string::npos)
      << messages;
  messages.clear();
  // Per image: capacity in items of 4 tokens; 4 items, k = 2, E = 4,
  // cf = 1.25, round, multiple 1: round(2.5) = 2 items = 8 tokens.
  auto perImage = [&](FloatAttr capacityFactor,
                      std::optional<int64_t> capacity) {
    return PerImageAttr::get(&context, 4, 2, Pooling::mean, capacityFactor,
                             capacity, kRound, 1);
  };
  EXPECT_EQ(slots(perImage(cf(1.25), std::nullopt), 16, 4), 8);
  EXPECT_EQ(slots(perImage(nullptr, 3), 16, 4), 12);
  EXPECT_EQ(slots(perImage(nullptr, std::nullopt), 16, 4), 16);
  EXPECT_TRUE(messages.empty()) << messages;
}

TEST_F(RouterCapacityTest, Errors) {
  EXPECT_EQ(slots(expertChoice(cf(0.1), std::nullopt, kRound, 1), 16, 4),
            std::nullopt);
  EXPECT_NE(messages.find("computed capacity is below 1: round(16 * 0.1 / 4) "
                          "= 0"),
            std::string::npos)
      << messages;
  messages.clear();
  EXPECT_EQ(slots(tokenChoice(5, nullptr, std::nullopt, true), 16, 4),
            std::nullopt);
  EXPECT_NE(messages.find("k = 5 exceeds the number of experts (4)"),
            std::string::npos)
      << messages;
  messages.clear();
  EXPECT_EQ(slots(expertChoice(nullptr, 17), 16, 4), std::nullopt);
  EXPECT_NE(messages.find("expert choice capacity 17 exceeds the 16 tokens"),
            std::string::npos)
      << messages;
}

} // namespace
