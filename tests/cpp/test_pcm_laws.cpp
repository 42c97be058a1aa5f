// The PCM inference laws (docs/physics.md section 2) at their edges and in their trends.
#include <gtest/gtest.h>

#include <cmath>

#include "analogtorch/pcm.h"

namespace analogtorch {
namespace {

constexpr float kGMax = 25.0f;
const pcm::DriftParams kParams{kGMax, 20.0f, 250e-9f};

float drifted(float g, float nu, float t) { return pcm::drifted_us(g, nu, pcm::read_time(t, kParams)); }
float sigma_at(float g_t, float g_p, float t) {
  return pcm::read_noise_sigma_us(g_t, g_p, pcm::read_time(t, kParams), kGMax);
}
float read_at(float g_p, float nu, float t, float z) { return pcm::read_us(g_p, nu, pcm::read_time(t, kParams), kGMax, z); }

TEST(PcmLaws, ProgrammingSigmaAtTheEndsOfTheRange) {
  EXPECT_NEAR(pcm::programming_sigma_us(0.0f, kGMax), 0.26348f, 1e-6f);
  EXPECT_NEAR(pcm::programming_sigma_us(kGMax, kGMax), 0.26348f + 1.9650f - 1.1731f, 1e-5f);
  // The law scales with the range: a 50 uS device is twice as noisy at the same fraction.
  EXPECT_NEAR(pcm::programming_sigma_us(25.0f, 50.0f), 2.0f * pcm::programming_sigma_us(12.5f, 25.0f), 1e-5f);
}

TEST(PcmLaws, OpenLoopProgrammingStaysInRange) {
  EXPECT_EQ(pcm::program_open_loop_us(0.0f, kGMax, -10.0f), 0.0f);
  EXPECT_EQ(pcm::program_open_loop_us(kGMax, kGMax, 10.0f), kGMax);
  EXPECT_EQ(pcm::program_open_loop_us(10.0f, kGMax, 0.0f), 10.0f);
}

TEST(PcmLaws, DriftExponentFollowsTheClampedMeanAndSpread) {
  // x = 1: mu = 0.0244 clamps up to 0.049; sigma = -0.0059 clamps up to 0.008.
  EXPECT_NEAR(pcm::drift_exponent(kGMax, kGMax, 0.0f), 0.049f, 1e-7f);
  EXPECT_NEAR(pcm::drift_exponent(kGMax, kGMax, 1.0f), 0.057f, 1e-6f);
  // G = 0: x clamps to 1e-7, mu = 0.274 clamps down to 0.1, sigma = 0.196 clamps down to 0.045.
  EXPECT_NEAR(pcm::drift_exponent(0.0f, kGMax, 0.0f), 0.1f, 1e-7f);
  EXPECT_NEAR(pcm::drift_exponent(0.0f, kGMax, -1.0f), 0.055f, 1e-6f);
  // Folded at zero: nu is never negative.
  EXPECT_GE(pcm::drift_exponent(kGMax, kGMax, -100.0f), 0.0f);
}

TEST(PcmLaws, DriftIsTheIdentityUpToT0AndThenAPowerLaw) {
  EXPECT_EQ(drifted(10.0f, 0.05f, 0.0f), 10.0f);
  EXPECT_EQ(drifted(10.0f, 0.05f, 20.0f), 10.0f);
  EXPECT_NEAR(drifted(10.0f, 0.05f, 2000.0f), 10.0 * std::pow(100.0, -0.05), 1e-5);
  EXPECT_EQ(drifted(0.0f, 0.1f, 1e8f), 0.0f);
  float previous = 10.0f;
  for (float t = 30.0f; t < 1e9f; t *= 3.0f) {
    const float g = drifted(10.0f, 0.05f, t);
    EXPECT_LT(g, previous) << "t = " << t;
    previous = g;
  }
}

TEST(PcmLaws, ReadNoiseGrowsWithTheLogOfTimeAndVanishesBeforeOneReadTime) {
  EXPECT_EQ(sigma_at(10.0f, 10.0f, 0.0f), 0.0f);
  EXPECT_EQ(sigma_at(10.0f, 10.0f, 250e-9f), 0.0f);
  const float x = 10.0f / kGMax;
  const double q_s = std::min(0.0088 / std::pow(x, 0.65), 0.2);
  EXPECT_NEAR(sigma_at(10.0f, 10.0f, 3600.0f),
              10.0 * q_s * std::sqrt(std::log((3600.0 + 250e-9) / 500e-9)), 1e-5);
  float previous = 0.0f;
  for (float t = 1e-6f; t < 1e9f; t *= 10.0f) {
    const float sigma = sigma_at(10.0f, 10.0f, t);
    EXPECT_GT(sigma, previous) << "t = " << t;
    previous = sigma;
  }
  // Q_s saturates at 0.2 for tiny conductances.
  EXPECT_NEAR(sigma_at(1e-6f, 1e-6f, 3600.0f),
              1e-6 * 0.2 * std::sqrt(std::log((3600.0 + 250e-9) / 500e-9)), 1e-12);
}

TEST(PcmLaws, ReadsAreNeverNegative) {
  EXPECT_EQ(read_at(0.0f, 0.1f, 1e6f, 5.0f), 0.0f);
  EXPECT_EQ(read_at(1.0f, 0.1f, 1e6f, -1000.0f), 0.0f);
  EXPECT_EQ(read_at(12.0f, 0.05f, 20.0f, 0.0f), 12.0f);
}

}  // namespace
}  // namespace analogtorch
