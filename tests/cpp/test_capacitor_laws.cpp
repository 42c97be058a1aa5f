// The 3T1C laws (capacitor.h), the unit-cell rule (unit_cell.h) and closed-loop programming
// (pcm.h) at their edges and in their trends.
#include <gtest/gtest.h>

#include <cmath>

#include "analogtorch/capacitor.h"
#include "analogtorch/pcm.h"
#include "analogtorch/unit_cell.h"

namespace analogtorch {
namespace {

capacitor::Params default_capacitor() {
  capacitor::Params p;
  p.v_min_v = 0.0f, p.v_max_v = 1.0f, p.v_init_v = 0.5f, p.v_t_v = 0.3f, p.v_t_sigma_v = 0.02f;
  p.k_us_per_v2 = 22.0f, p.dv_pulse_v = 0.004f, p.mismatch_sigma = 0.1f, p.c2c_sigma = 0.1f;
  p.rail_margin_v = 0.05f, p.soft_bounds = false, p.max_pulses = 15;
  p.dg_per_pulse_us = 2.0f * 22.0f * 0.2f * 0.004f;
  p.read_exponent = 2.0f, p.down_up_ratio = 1.0f, p.step_slope_per_v = 0.0f;  // the former square-law cell
  return p;
}

const capacitor::Cell kNominalCell{1.0f, 1.0f, 0.3f};

TEST(CapacitorLaws, ReadCurveIsZeroBelowThresholdAndQuadraticAbove) {
  EXPECT_EQ(capacitor::read_conductance_us(0.2f, 0.3f, 22.0f, 2.0f), 0.0f);
  EXPECT_EQ(capacitor::read_conductance_us(0.3f, 0.3f, 22.0f, 2.0f), 0.0f);
  EXPECT_NEAR(capacitor::read_conductance_us(0.5f, 0.3f, 22.0f, 2.0f), 0.88f, 1e-5f);
  EXPECT_NEAR(capacitor::read_conductance_us(1.0f, 0.3f, 22.0f, 2.0f), 10.78f, 1e-4f);
  float previous = 0.0f;
  for (float v = 0.31f; v <= 1.0f; v += 0.01f) {
    const float g = capacitor::read_conductance_us(v, 0.3f, 22.0f, 2.0f);
    EXPECT_GT(g, previous);
    previous = g;
  }
  EXPECT_NEAR(capacitor::read_slope_us_per_v(0.5f, 0.3f, 22.0f, 2.0f), 8.8f, 1e-5f);
  EXPECT_EQ(capacitor::read_slope_us_per_v(0.1f, 0.3f, 22.0f, 2.0f), 0.0f);
}

TEST(CapacitorLaws, LinearAndAlphaPowerReadCurves) {
  // alpha = 1 (triode): g = k (V - V_T), a constant slope k above threshold.
  EXPECT_EQ(capacitor::read_conductance_us(0.2f, 0.3f, 50.0f, 1.0f), 0.0f);
  EXPECT_NEAR(capacitor::read_conductance_us(0.5f, 0.3f, 50.0f, 1.0f), 10.0f, 1e-5f);
  EXPECT_NEAR(capacitor::read_conductance_us(0.95f, 0.3f, 50.0f, 1.0f), 32.5f, 1e-4f);
  EXPECT_EQ(capacitor::read_slope_us_per_v(0.5f, 0.3f, 50.0f, 1.0f), 50.0f);
  EXPECT_EQ(capacitor::read_slope_us_per_v(0.9f, 0.3f, 50.0f, 1.0f), 50.0f);
  EXPECT_EQ(capacitor::read_slope_us_per_v(0.3f, 0.3f, 50.0f, 1.0f), 0.0f);
  // alpha = 1.5 lies between, with slope 1.5 k overdrive^0.5.
  EXPECT_NEAR(capacitor::read_conductance_us(0.7f, 0.3f, 10.0f, 1.5f), 10.0f * std::pow(0.4f, 1.5f), 1e-5f);
  EXPECT_NEAR(capacitor::read_slope_us_per_v(0.7f, 0.3f, 10.0f, 1.5f), 15.0f * std::sqrt(0.4f), 1e-5f);
  // float64 (the gradcheck path) agrees.
  EXPECT_NEAR(capacitor::read_conductance_us(0.7, 0.3, 10.0, 1.5), 10.0 * std::pow(0.4, 1.5), 1e-12);
}

TEST(CapacitorLaws, NominalInverseOfTheReadCurve) {
  capacitor::Params p = default_capacitor();
  for (const float exponent : {1.0f, 1.3f, 2.0f}) {
    p.read_exponent = exponent;
    for (float v = 0.35f; v < 0.95f; v += 0.05f) {
      const float g = capacitor::read_conductance_us(v, p.v_t_v, p.k_us_per_v2, exponent);
      EXPECT_NEAR(capacitor::voltage_for_conductance(g, p), v, 1e-4f) << exponent;
    }
    EXPECT_EQ(capacitor::voltage_for_conductance(-1.0f, p), p.v_t_v);   // no negative conductance
    EXPECT_EQ(capacitor::voltage_for_conductance(1e6f, p), p.v_max_v);  // clamped to the rail
  }
}

TEST(CapacitorLaws, StepCurvesFollowTheHeadroomOfTheirPullingTransistor) {
  capacitor::Params p = default_capacitor();
  p.step_slope_per_v = 0.1f;
  // At v_init both steps are nominal; the up step shrinks as V_C rises, the down step as it falls.
  EXPECT_EQ(capacitor::step_scale(0.5f, true, p), 1.0f);
  EXPECT_EQ(capacitor::step_scale(0.5f, false, p), 1.0f);
  EXPECT_NEAR(capacitor::step_scale(0.9f, true, p), 1.0f - 0.1f * 0.4f, 1e-6f);
  EXPECT_NEAR(capacitor::step_scale(0.9f, false, p), 1.0f + 0.1f * 0.4f, 1e-6f);
  EXPECT_NEAR(capacitor::step_scale(0.1f, false, p), 1.0f - 0.1f * 0.4f, 1e-6f);
  EXPECT_NEAR(capacitor::step_scale(0.975f, true, p), (1.0f - 0.1f * 0.475f) * 0.5f, 1e-5f);
  EXPECT_EQ(capacitor::step_scale(1.0f, true, p), 0.0f);
}

TEST(CapacitorLaws, DownUpRatioScalesOnlyTheDownStep) {
  capacitor::Params p = default_capacitor();
  p.c2c_sigma = 0.0f, p.down_up_ratio = 0.8f;
  RandomCursor noise(1, RandomStream::kCapacitorUpdate, 0, 0);
  EXPECT_NEAR(capacitor::apply_pulses(0.5f, 10, kNominalCell, p, noise) - 0.5f, 0.04f, 1e-6f);
  EXPECT_NEAR(0.5f - capacitor::apply_pulses(0.5f, -10, kNominalCell, p, noise), 0.032f, 1e-6f);
}

TEST(CapacitorLaws, SummedPulsesMatchOneAtATimeWithASlope) {
  // The summed path evaluates the step at the middle of the excursion; without noise it matches
  // the pulse-by-pulse sum to second order in the slope.
  capacitor::Params p = default_capacitor();
  p.c2c_sigma = 0.0f, p.step_slope_per_v = 0.3f, p.dv_pulse_v = 0.004f;
  RandomCursor noise(1, RandomStream::kCapacitorUpdate, 0, 0);
  for (const int n : {1, 7, 15, -1, -7, -15}) {
    const float summed = capacitor::apply_pulses(0.6f, n, kNominalCell, p, noise);
    float v = 0.6f;
    for (int k = 0; k < (n > 0 ? n : -n); ++k) {
      v += (n > 0 ? 1.0f : -1.0f) * p.dv_pulse_v * capacitor::step_scale(v, n > 0, p);
    }
    EXPECT_NEAR(summed, v, 5e-6f) << n;  // 0.1% of one step: float rounding and second order
  }
}

TEST(CapacitorLaws, HardBoundsStepIsFlatAndVanishesOnlyAtTheRail) {
  const capacitor::Params p = default_capacitor();
  EXPECT_EQ(capacitor::step_scale(0.5f, true, p), 1.0f);
  EXPECT_EQ(capacitor::step_scale(0.94f, true, p), 1.0f);
  EXPECT_NEAR(capacitor::step_scale(0.975f, true, p), 0.5f, 1e-5f);
  EXPECT_EQ(capacitor::step_scale(1.0f, true, p), 0.0f);
  EXPECT_EQ(capacitor::step_scale(0.0f, false, p), 0.0f);
  EXPECT_EQ(capacitor::step_scale(1.0f, false, p), 1.0f);  // far from the rail it moves toward
}

TEST(CapacitorLaws, SoftBoundsStepShrinksAcrossTheRange) {
  capacitor::Params p = default_capacitor();
  p.soft_bounds = true;
  EXPECT_EQ(capacitor::step_scale(0.5f, true, p), 1.0f);
  EXPECT_NEAR(capacitor::step_scale(0.75f, true, p), 0.5f, 1e-6f);
  EXPECT_NEAR(capacitor::step_scale(0.25f, false, p), 0.5f, 1e-6f);
  EXPECT_EQ(capacitor::step_scale(1.0f, true, p), 0.0f);
}

TEST(CapacitorLaws, PulseCountsRoundStochasticallyAndClip) {
  const capacitor::Params p = default_capacitor();
  EXPECT_EQ(capacitor::pulses_for(0.0f, p, 0.0f), 0);
  EXPECT_EQ(capacitor::pulses_for(0.0f, p, 0.999f), 0);
  const float two_and_a_half = 2.5f * p.dg_per_pulse_us;
  EXPECT_EQ(capacitor::pulses_for(two_and_a_half, p, 0.2f), 3);
  EXPECT_EQ(capacitor::pulses_for(two_and_a_half, p, 0.7f), 2);
  EXPECT_EQ(capacitor::pulses_for(-two_and_a_half, p, 0.2f), -2);
  EXPECT_EQ(capacitor::pulses_for(-two_and_a_half, p, 0.7f), -3);
  EXPECT_EQ(capacitor::pulses_for(1e30f, p, 0.5f), 15);
  EXPECT_EQ(capacitor::pulses_for(-1e30f, p, 0.5f), -15);
}

TEST(CapacitorLaws, PulsesStayWithinTheRails) {
  const capacitor::Params p = default_capacitor();
  RandomCursor noise(1, RandomStream::kCapacitorUpdate, 0, 0);
  float v = 0.5f;
  for (int step = 0; step < 1000; ++step) v = capacitor::apply_pulses(v, 15, kNominalCell, p, noise);
  EXPECT_LE(v, 1.0f);
  EXPECT_GT(v, 0.95f);
  for (int step = 0; step < 1000; ++step) v = capacitor::apply_pulses(v, -15, kNominalCell, p, noise);
  EXPECT_GE(v, 0.0f);
  EXPECT_LT(v, 0.05f);
  EXPECT_EQ(capacitor::apply_pulses(0.42f, 0, kNominalCell, p, noise), 0.42f);  // zero pulses: untouched
}

TEST(CapacitorLaws, MismatchFactorsScaleTheSteps) {
  capacitor::Params p = default_capacitor();
  p.c2c_sigma = 0.0f;
  RandomCursor noise(1, RandomStream::kCapacitorUpdate, 0, 0);
  const capacitor::Cell strong_up{1.2f, 0.8f, 0.3f};
  EXPECT_NEAR(capacitor::apply_pulses(0.5f, 1, strong_up, p, noise) - 0.5f, 0.0048f, 1e-6f);
  EXPECT_NEAR(0.5f - capacitor::apply_pulses(0.5f, -1, strong_up, p, noise), 0.0032f, 1e-6f);
}

TEST(CapacitorLaws, VariationQuantisationRoundTrips) {
  EXPECT_EQ(capacitor::quantize_standard_normal(0.0f), 0);
  EXPECT_EQ(capacitor::quantize_standard_normal(100.0f), 127);
  EXPECT_EQ(capacitor::quantize_standard_normal(-100.0f), -127);
  for (float z = -3.9f; z < 3.9f; z += 0.013f) {
    EXPECT_NEAR(capacitor::dequantize_standard_normal(capacitor::quantize_standard_normal(z)), z, 0.5f / 32.0f + 1e-6f);
  }
}

TEST(CapacitorLaws, LeakRelaxesTowardVLeak) {
  EXPECT_EQ(capacitor::leak(0.5f, capacitor::leak_decay(0.0f, 1.0f), 0.8f), 0.5f);
  EXPECT_NEAR(capacitor::leak(0.5f, capacitor::leak_decay(1.0f, 1.0f), 0.8f), 0.8f - 0.3f * std::exp(-1.0f), 1e-6f);
  EXPECT_EQ(capacitor::leak(0.5f, capacitor::leak_decay(1e6f, 1.0f), 0.8f), 0.8f);
  EXPECT_NEAR(capacitor::leak(0.9f, capacitor::leak_decay(0.5f, 1.0f), 0.8f), 0.8f + 0.1f * std::exp(-0.5f), 1e-6f);
}

TEST(UnitCellRule, WeightAndTransferTarget) {
  EXPECT_FLOAT_EQ(unit_cell::weight_us(10.0f, 4.0f, 2.0f, 1, 3.0f, 0.88f), 18.0f + 1.12f);
  EXPECT_FLOAT_EQ(unit_cell::weight_us(10.0f, 4.0f, 2.0f, -1, 3.0f, 0.88f), 18.0f - 1.12f);
  // W_t = W - p' (offset + g(0.5) - g_shared)
  EXPECT_FLOAT_EQ(unit_cell::transfer_target_us(10.0f, 0.9f, 0.88f, 1, 2.0f), 10.0f - 2.02f);
  EXPECT_FLOAT_EQ(unit_cell::transfer_target_us(10.0f, 0.9f, 0.88f, -1, 2.0f), 10.0f + 2.02f);
  EXPECT_TRUE(unit_cell::pair_stays_reset(1.0f, 1, 2.0f));
  EXPECT_TRUE(unit_cell::pair_stays_reset(0.0f, 1, 2.0f));
  EXPECT_FALSE(unit_cell::pair_stays_reset(-1.0f, 1, 2.0f));
  EXPECT_FALSE(unit_cell::pair_stays_reset(2.5f, 1, 2.0f));
  EXPECT_TRUE(unit_cell::pair_stays_reset(-1.0f, -1, 2.0f));
  EXPECT_FALSE(unit_cell::pair_stays_reset(1.0f, -1, 2.0f));
}

pcm::ProgrammingParams default_programming() {
  pcm::ProgrammingParams p;
  p.g_max_us = 25.0f, p.g_reset_us = 0.1f, p.target_clip_us = 20.0f;
  p.set_step_us = 2.0f, p.set_step_c2c = 0.5f, p.set_step_d2d = 0.2f, p.tolerance_us = 0.5f;
  p.max_iterations = 20, p.max_resets = 2, p.approach_fraction = 0.5f, p.verify_delay_s = 1e-6f;
  p.read = {25.0f, 20.0f, 250e-9f};
  p.verify_time = pcm::read_time(p.verify_delay_s, p.read);
  p.read_noise = true;
  return p;
}

TEST(ClosedLoop, PartialSetStepsShrinkTowardGMaxAndNeverExceedIt) {
  const pcm::ProgrammingParams p = default_programming();
  EXPECT_NEAR(pcm::partial_set_us(0.0f, 1.0f, 2.0f, p, 0.0f), 2.0f, 1e-6f);
  EXPECT_NEAR(pcm::partial_set_us(12.5f, 1.0f, 2.0f, p, 0.0f), 13.5f, 1e-6f);
  EXPECT_EQ(pcm::partial_set_us(25.0f, 1.0f, 2.0f, p, 0.0f), 25.0f);
  EXPECT_EQ(pcm::partial_set_us(24.9f, 1.0f, 2.0f, p, 100.0f), 25.0f);
  EXPECT_EQ(pcm::partial_set_us(5.0f, 1.0f, 2.0f, p, -100.0f), 5.0f);  // a SET pulse never lowers G
}

TEST(ClosedLoop, ConvergesWithinToleranceAndCountsItsWork) {
  pcm::ProgrammingParams p = default_programming();
  p.read_noise = false;
  int converged = 0;
  for (uint64_t device = 0; device < 2000; ++device) {
    RandomCursor pulses(3, RandomStream::kProgramming, device, 0), verify(3, RandomStream::kVerifyRead, device, 0);
    const float target = 0.5f + static_cast<float>(device % 24) * 0.5f;  // 0.5 .. 12 uS
    const pcm::ProgrammingResult r = pcm::program_closed_loop(target, 2.0f, p, pulses, verify);
    EXPECT_GE(r.iterations, 1);
    EXPECT_LE(r.iterations, (p.max_resets + 1) * p.max_iterations);
    EXPECT_LE(r.pulses, r.iterations);
    if (r.converged) {
      ++converged;
      EXPECT_LE(std::fabs(r.conductance_us - target), p.tolerance_us);  // exact verify reads
    }
  }
  EXPECT_GE(converged, 1980);  // >= 99%
}

TEST(ClosedLoop, TargetsAreClippedAndResetStateIsAcceptedWhenClose) {
  pcm::ProgrammingParams p = default_programming();
  p.read_noise = false;
  RandomCursor pulses(4, RandomStream::kProgramming, 0, 0), verify(4, RandomStream::kVerifyRead, 0, 0);
  const pcm::ProgrammingResult near_reset = pcm::program_closed_loop(0.3f, 2.0f, p, pulses, verify);
  EXPECT_TRUE(near_reset.converged);
  EXPECT_EQ(near_reset.pulses, 0);
  EXPECT_EQ(near_reset.conductance_us, p.g_reset_us);
  const pcm::ProgrammingResult huge = pcm::program_closed_loop(1e9f, 2.0f, p, pulses, verify);
  EXPECT_LE(huge.conductance_us, p.g_max_us);
}

}  // namespace
}  // namespace analogtorch
