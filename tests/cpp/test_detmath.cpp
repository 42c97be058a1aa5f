// The deterministic transcendentals against the host libm, in ulps, and at their edges.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "analogtorch/detmath.h"

namespace analogtorch {
namespace {

// Distance in units in the last place between two finite floats of the same sign.
int64_t ulp_distance(float a, float b) {
  const auto key = [](float x) {
    const int32_t bits = static_cast<int32_t>(detmath::float_bits(x));
    return bits < 0 ? static_cast<int64_t>(INT32_MIN) - bits : static_cast<int64_t>(bits);
  };
  return std::llabs(key(a) - key(b));
}

// Log-spaced sweep over [lo, hi].
template <typename Check>
void sweep(double lo, double hi, int n, Check check) {
  for (int i = 0; i <= n; ++i) {
    check(static_cast<float>(lo * std::pow(hi / lo, static_cast<double>(i) / n)));
  }
}

TEST(DetMath, LogIsWithinTwoUlpsOfDoublePrecision) {
  sweep(1e-38, 3e38, 200000, [](float x) {
    const float reference = static_cast<float>(std::log(static_cast<double>(x)));
    if (std::fabs(reference) < 1e-3f) {  // near x = 1 the result is tiny: compare absolutely
      EXPECT_NEAR(detmath::log(x), reference, 1e-9f) << "x = " << x;
    } else {
      EXPECT_LE(ulp_distance(detmath::log(x), reference), 2) << "x = " << x;
    }
  });
}

TEST(DetMath, LogEdges) {
  EXPECT_EQ(detmath::log(1.0f), 0.0f);
  EXPECT_EQ(detmath::log(0.0f), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(detmath::log(-1.0f)));
  EXPECT_TRUE(std::isnan(detmath::log(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(detmath::log(std::numeric_limits<float>::infinity()), std::numeric_limits<float>::infinity());
  const float subnormal = std::numeric_limits<float>::denorm_min();
  EXPECT_NEAR(detmath::log(subnormal), std::log(static_cast<double>(subnormal)), 1e-4);
}

TEST(DetMath, ExpIsWithinTwoUlpsOfDoublePrecision) {
  for (int i = -100000; i <= 100000; ++i) {
    const float x = 87.0f * static_cast<float>(i) / 100000.0f;
    const float reference = static_cast<float>(std::exp(static_cast<double>(x)));
    EXPECT_LE(ulp_distance(detmath::exp(x), reference), 2) << "x = " << x;
  }
}

TEST(DetMath, ExpEdges) {
  EXPECT_EQ(detmath::exp(0.0f), 1.0f);
  EXPECT_EQ(detmath::exp(100.0f), std::numeric_limits<float>::infinity());
  EXPECT_EQ(detmath::exp(-200.0f), 0.0f);
  // Subnormal results survive, to within one subnormal step (they hold only a few bits).
  EXPECT_LE(ulp_distance(detmath::exp(-100.0f), static_cast<float>(std::exp(-100.0))), 1);
  EXPECT_LE(ulp_distance(detmath::exp(-90.0f), static_cast<float>(std::exp(-90.0))), 1);
  EXPECT_TRUE(std::isnan(detmath::exp(std::numeric_limits<float>::quiet_NaN())));
}

TEST(DetMath, PowOfPositiveBase) {
  sweep(1e-6, 1e6, 2000, [](float x) {
    for (float y : {-0.1f, 0.05f, 0.65f, 2.0f}) {
      const double reference = std::pow(static_cast<double>(x), static_cast<double>(y));
      EXPECT_NEAR(detmath::pow_pos(x, y) / reference, 1.0, 2e-6) << x << "^" << y;
    }
  });
  EXPECT_EQ(detmath::pow_pos(0.0f, 0.65f), 0.0f);
}

TEST(DetMath, SinCosOfAFullTurnWithin4e7Absolute) {
  for (int i = 0; i < (1 << 20); ++i) {
    const float u = static_cast<float>(i) / static_cast<float>(1 << 20);
    float s, c;
    detmath::sincos_2pi(u, s, c);
    const double angle = 2.0 * M_PI * static_cast<double>(u);
    EXPECT_NEAR(s, std::sin(angle), 4e-7) << "u = " << u;
    EXPECT_NEAR(c, std::cos(angle), 4e-7) << "u = " << u;
  }
}

}  // namespace
}  // namespace analogtorch
