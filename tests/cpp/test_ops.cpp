// The ops through the dispatcher, as a C++ user calls them (analogtorch/ops.h).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "analogtorch/ops.h"

namespace analogtorch {
namespace {

TEST(Ops, ProgramThenReadFollowsTheDriftLawOnAverage) {
  const at::Tensor target = at::full({200000}, 10.0f);
  const at::Tensor rng = make_rng_state(2024);
  const auto [conductance, nu, pulses, iterations, converged] = pcm_program(target, rng, {}, /*closed_loop=*/false);
  EXPECT_NEAR(conductance.mean().item<double>(), 10.0, 0.01);
  const double t = 86400.0;
  const at::Tensor read = pcm_read(conductance, nu, rng, t, 25.0, 20.0, 250e-9, /*read_noise=*/false);
  const at::Tensor expected = conductance * at::pow(t / 20.0, -nu);
  EXPECT_TRUE(at::allclose(read, expected, 1e-5, 1e-6));
}

TEST(Ops, SameSeedSameBitsAndANewStepFreshNoise) {
  const at::Tensor target = at::linspace(0.0, 25.0, 4096);
  const auto [conductance, nu, pulses, iterations, converged] = pcm_program(target, make_rng_state(5));
  const at::Tensor a = pcm_read(conductance, nu, make_rng_state(9, 3), 3600.0);
  const at::Tensor b = pcm_read(conductance, nu, make_rng_state(9, 3), 3600.0);
  const at::Tensor c = pcm_read(conductance, nu, make_rng_state(9, 4), 3600.0);
  EXPECT_TRUE(at::equal(a, b));
  EXPECT_FALSE(at::equal(a, c));
}

TEST(Ops, BadArgumentsAreRefusedByName) {
  const at::Tensor g = at::full({8}, 5.0f);
  const at::Tensor nu = at::full({8}, 0.05f);
  const at::Tensor rng = make_rng_state(1);
  const auto message_of = [](const auto& call) -> std::string {
    try {
      call();
    } catch (const c10::Error& error) {
      return error.what_without_backtrace();
    }
    return "no error";
  };
  EXPECT_NE(message_of([&] { pcm_read(g.to(at::kDouble), nu, rng, 1.0); }).find("conductance_us: expected a float32"),
            std::string::npos);
  EXPECT_NE(message_of([&] { pcm_read(g, nu.narrow(0, 0, 4), rng, 1.0); }).find("drift_nu: expected the shape"),
            std::string::npos);
  EXPECT_NE(message_of([&] { pcm_read(g, nu, rng, -1.0); }).find("time_s: expected a finite number >= 0"),
            std::string::npos);
  EXPECT_NE(message_of([&] { pcm_read(g, nu, rng.to(at::kInt), 1.0); }).find("rng: expected an int64"),
            std::string::npos);
  const at::Tensor v_c = at::full({8}, 0.5f), variation = at::zeros({8, 3}, at::kChar);
  for (const double rescale : {0.0, -1.0, std::nan("")}) {
    EXPECT_NE(message_of([&] {
                transfer(g, g, v_c, variation, rng, 1, -1, 3.0, 2.0, 0.0, {}, {}, true, true, true, {}, {}, rescale);
              }).find("rescale: expected a finite number > 0"),
              std::string::npos);
  }
  PcmParams bad;
  bad.g_max_us = 0.0;
  EXPECT_NE(message_of([&] { pcm_program(g, rng, bad); }).find("pcm_params[g_max_us]: expected a number > 0"),
            std::string::npos);
}

std::string message_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const c10::Error& error) {
    return error.what_without_backtrace();
  }
  return "no error";
}

TEST(Ops, InPlaceOpsRefuseAliasedArgumentsAndChangeNothing) {
  const CapacitorParams cap;
  const at::Tensor rng = make_rng_state(1);
  at::Tensor v_c = at::full({8}, 0.5f), weight = at::zeros({8});
  const at::Tensor g = at::full({8}, 5.0f), delta = at::full({8}, 0.1f);
  const at::Tensor variation = cell_variation(rng, {8});
  const at::Tensor v_before = v_c.clone();
  EXPECT_NE(message_of([&] { capacitor_step_(v_c, v_c, g, g, variation, delta, rng, 1, 1e-6, 3.0, 1.0, cap); })
                .find("v_c: expected a tensor sharing no memory with weight"),
            std::string::npos);
  EXPECT_TRUE(at::equal(v_c, v_before));
  at::Tensor g_plus = at::full({8}, 5.0f);
  const at::Tensor g_before = g_plus.clone();
  EXPECT_NE(message_of([&] { pcm_pair_step_(g_plus, g_plus, weight, delta, rng, {}, 3.0, 30.0, 0.05, 15, 22.5); })
                .find("g_plus_us: expected a tensor sharing no memory with g_minus_us"),
            std::string::npos);
  EXPECT_TRUE(at::equal(g_plus, g_before));
}

TEST(Ops, RawParamsFollowTheConfigurationsCrossFieldRules) {
  const at::Tensor rng = make_rng_state(1);
  const at::Tensor v_c = at::full({8}, 0.5f), delta = at::full({8}, 0.1f);
  const at::Tensor variation = cell_variation(rng, {8});
  CapacitorParams flat;
  flat.v_t_v = 0.6;  // at or above v_init_v: a flat read curve
  EXPECT_NE(message_of([&] { capacitor_update(v_c, variation, delta, rng, 1, flat); })
                .find("capacitor_params[v_t_v]: expected < v_init_v"),
            std::string::npos);
  CapacitorParams margin;
  margin.rail_margin_v = 0.5;
  EXPECT_NE(message_of([&] { capacitor_update(v_c, variation, delta, rng, 1, margin); })
                .find("capacitor_params[rail_margin_v]: expected < (v_max_v - v_min_v) / 2"),
            std::string::npos);
  PcmParams spread;
  spread.set_step_d2d = 1.0;
  EXPECT_NE(message_of([&] { pcm_program(v_c, rng, spread); }).find("pcm_params[set_step_d2d]: expected a number in [0, 1)"),
            std::string::npos);
  PcmParams tiny;
  tiny.t_read_s = 1e-46;  // > 0, but 0 in float32
  EXPECT_NE(message_of([&] { pcm_program(v_c, rng, tiny); }).find("pcm_params[t_read_s]: expected a number > 0"),
            std::string::npos);
}

}  // namespace
}  // namespace analogtorch
