// The random cursor: uniform and normal draws, independence of streams, elements and steps.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "analogtorch/random.h"

namespace analogtorch {
namespace {

constexpr int kDraws = 1000000;

TEST(Random, UniformsStayInsideTheirIntervals) {
  EXPECT_GT(uniform_open0(0u), 0.0f);
  EXPECT_LE(uniform_open0(0xffffffffu), 1.0f);
  EXPECT_EQ(uniform_closed0(0u), 0.0f);
  EXPECT_LT(uniform_closed0(0xffffffffu), 1.0f);
}

TEST(Random, NormalsHaveUnitMomentsAndGaussianTails) {
  double sum = 0, sum2 = 0, sum3 = 0, sum4 = 0;
  int beyond_2_sigma = 0;
  for (int i = 0; i < kDraws; ++i) {
    RandomCursor cursor(42, RandomStream::kReadNoise, static_cast<uint64_t>(i), 0);
    const double z = cursor.normal();
    sum += z, sum2 += z * z, sum3 += z * z * z, sum4 += z * z * z * z;
    beyond_2_sigma += std::fabs(z) > 2.0;
  }
  const double mean = sum / kDraws, var = sum2 / kDraws - mean * mean;
  // Standard errors at 1e6 draws: mean 0.001, variance 0.0014, skew 0.0024, kurtosis 0.005.
  EXPECT_NEAR(mean, 0.0, 0.005);
  EXPECT_NEAR(var, 1.0, 0.007);
  EXPECT_NEAR(sum3 / kDraws, 0.0, 0.012);
  EXPECT_NEAR(sum4 / kDraws, 3.0, 0.03);
  // P(|z| > 2) = 0.0455, standard error 0.0002.
  EXPECT_NEAR(static_cast<double>(beyond_2_sigma) / kDraws, 0.0455, 0.001);
}

TEST(Random, SuccessiveNormalsOfOneCursorAreUncorrelated) {
  double sum_xy = 0;
  for (int i = 0; i < kDraws / 4; ++i) {
    RandomCursor cursor(7, RandomStream::kProgramming, static_cast<uint64_t>(i), 3);
    const double a = cursor.normal(), b = cursor.normal(), c = cursor.normal();
    sum_xy += a * b + b * c;
  }
  EXPECT_NEAR(sum_xy / (kDraws / 2), 0.0, 0.01);  // standard error 0.0014
}

// Neighbouring elements, steps, streams and seeds must not share draws.
TEST(Random, KeysAndCountersGiveDistinctStreams) {
  const auto first_bits = [](uint64_t seed, RandomStream stream, uint64_t element, uint64_t step) {
    RandomCursor cursor(seed, stream, element, step);
    return cursor.next_bits();
  };
  const uint32_t base = first_bits(1, RandomStream::kReadNoise, 10, 20);
  EXPECT_NE(base, first_bits(2, RandomStream::kReadNoise, 10, 20));
  EXPECT_NE(base, first_bits(1, RandomStream::kProgramming, 10, 20));
  EXPECT_NE(base, first_bits(1, RandomStream::kReadNoise, 11, 20));
  EXPECT_NE(base, first_bits(1, RandomStream::kReadNoise, 10, 21));
  EXPECT_NE(base, first_bits(1, RandomStream::kReadNoise, 10 + (uint64_t{1} << 32), 20));
  EXPECT_NE(base, first_bits(1, RandomStream::kReadNoise, 10, 20 + (uint64_t{1} << 32)));
  EXPECT_EQ(base, first_bits(1, RandomStream::kReadNoise, 10, 20));
}

TEST(Random, DecodedStepWrapsAtTheCounterWidth) {
  const int64_t state[2] = {-1, static_cast<int64_t>(kMaxRandomStep) + 5};
  uint64_t seed, step;
  decode_rng_state(state, seed, step);
  EXPECT_EQ(seed, ~uint64_t{0});
  EXPECT_EQ(step, 4u);
}

}  // namespace
}  // namespace analogtorch
