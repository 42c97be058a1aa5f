// The ops through the dispatcher, as a C++ user calls them (analogtorch/ops.h).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

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
  PcmParams bad;
  bad.g_max_us = 0.0;
  EXPECT_NE(message_of([&] { pcm_program(g, rng, bad); }).find("pcm_params[g_max_us]: expected a number > 0"),
            std::string::npos);
}

}  // namespace
}  // namespace analogtorch
