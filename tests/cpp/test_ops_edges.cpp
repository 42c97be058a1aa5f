// Every op on the sizes that exercise the vectorised loops' tails (empty, one element, one past a
// vector width, odd sizes) and on values at the edges of the physics (G = 0 and G_max, V_C at the
// rails, huge requested changes). Run under AddressSanitizer and UndefinedBehaviorSanitizer by the
// test command, these find reads or writes outside a tensor and undefined arithmetic; the
// invariants checked here find results outside the physics.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "analogtorch/ops.h"

namespace analogtorch {
namespace {

const std::vector<int64_t> kSizes{0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 65, 1023, 4099};

bool all_finite(const at::Tensor& t) { return t.numel() == 0 || at::isfinite(t).all().item<bool>(); }

bool within(const at::Tensor& t, double low, double high) {
  return t.numel() == 0 || (t.min().item<double>() >= low && t.max().item<double>() <= high);
}

// Values from `low` to `high` with both ends present (where there is room for them).
at::Tensor spread(int64_t n, double low, double high) {
  at::Tensor t = at::rand({n}, at::TensorOptions().dtype(at::kFloat)) * (high - low) + low;
  if (n > 0) t[0] = low;
  if (n > 1) t[n - 1] = high;
  return t;
}

class EveryOp : public ::testing::TestWithParam<int64_t> {};

TEST_P(EveryOp, StaysWithinItsTensorsAndThePhysics) {
  const int64_t n = GetParam();
  at::manual_seed(n);
  const PcmParams pcm;
  const CapacitorParams cap;
  const at::Tensor rng = make_rng_state(static_cast<uint64_t>(n), 7);

  for (const bool closed_loop : {true, false}) {
    const auto [g, nu, pulses, iterations, converged] = pcm_program(spread(n, 0.0, 40.0), rng, pcm, closed_loop);
    EXPECT_TRUE(within(g, 0.0, pcm.g_max_us));
    EXPECT_TRUE(all_finite(nu));
    EXPECT_TRUE(within(pulses, 0.0, 1e9));
    EXPECT_TRUE(within(iterations, 0.0, pcm.max_iterations * (pcm.max_resets + 1)));
    for (const double time_s : {0.0, 1.0, 3.156e7, 1e15}) {
      const at::Tensor read = pcm_read(g, nu, rng, time_s, pcm.g_max_us, pcm.t0_s, pcm.t_read_s, true);
      EXPECT_TRUE(all_finite(read));
      EXPECT_EQ(read.sizes(), g.sizes());
      const auto [mean, variance] = pcm_read_moments(g, nu, time_s, pcm.g_max_us, pcm.t0_s, pcm.t_read_s);
      EXPECT_TRUE(within(mean, 0.0, pcm.g_max_us));
      EXPECT_TRUE(within(variance, 0.0, 1e9));
      EXPECT_TRUE(all_finite(add_read_noise(mean, variance, rng)));
    }
    for (const double time_max_s : {0.0, 86400.0, 3.156e7}) {
      const auto [mean, variance, time] =
          hardware_aware_read(spread(n, -40.0, 40.0), rng, pcm, closed_loop, time_max_s > 0 ? 1.0 : 0.0, time_max_s);
      EXPECT_TRUE(within(mean, -pcm.g_max_us, pcm.g_max_us));
      EXPECT_TRUE(within(variance, 0.0, 1e9));
      EXPECT_TRUE(within(time, 0.0, time_max_s * (1 + 1e-6)));
    }
  }

  const at::Tensor variation = cell_variation(rng, {n});
  EXPECT_EQ(variation.sizes(), (std::vector<int64_t>{n, 3}));
  const at::Tensor v_c = spread(n, cap.v_min_v, cap.v_max_v);
  const at::Tensor delta = spread(n, -1e6, 1e6);
  for (const int64_t polarity : {1, -1}) {
    const auto [v_out, update_pulses] = capacitor_update(v_c, variation, delta, rng, polarity, cap);
    EXPECT_TRUE(within(v_out, cap.v_min_v, cap.v_max_v));
    EXPECT_TRUE(within(update_pulses.to(at::kInt), -cap.max_pulses, cap.max_pulses));
  }
  EXPECT_TRUE(within(capacitor_leak(v_c, 1e9, cap.tau_s, cap.v_leak_v), cap.v_min_v, cap.v_max_v));

  const at::Tensor g_plus = spread(n, 0.0, pcm.g_max_us);
  const at::Tensor g_minus = spread(n, 0.0, pcm.g_max_us).flip(0).contiguous();
  at::Tensor v_step = v_c.clone();
  at::Tensor weight = at::empty({n});
  const at::Tensor step_pulses =
      capacitor_step_(v_step, weight, g_plus, g_minus, variation, delta, rng, -1, 1e-3, 3.0, 2.0, cap);
  EXPECT_TRUE(within(v_step, cap.v_min_v, cap.v_max_v));
  EXPECT_TRUE(all_finite(weight));
  EXPECT_TRUE(at::equal(weight, unit_cell_weight(g_plus, g_minus, v_step, variation, -1, 3.0, 2.0, cap)));
  EXPECT_EQ(step_pulses.numel(), n);

  at::Tensor pair_plus = g_plus.clone(), pair_minus = g_minus.clone(), pair_weight = at::empty({n});
  const auto [pair_pulses, refreshed] = pcm_pair_step_(pair_plus, pair_minus, pair_weight, delta, rng, pcm);
  EXPECT_TRUE(within(pair_plus, 0.0, pcm.g_max_us));
  EXPECT_TRUE(within(pair_minus, 0.0, pcm.g_max_us));
  EXPECT_TRUE(all_finite(pair_weight));
  EXPECT_EQ(refreshed.numel(), n);

  const auto [t_plus, t_minus, t_nu_plus, t_nu_minus, t_v_c, t_pulses, t_iterations] =
      transfer(g_plus, g_minus, v_c, variation, rng, 1, -1, 3.0, 2.0, 1e3, pcm, cap);
  EXPECT_TRUE(within(t_plus, 0.0, pcm.g_max_us));
  EXPECT_TRUE(within(t_minus, 0.0, pcm.g_max_us));
  EXPECT_TRUE(all_finite(t_nu_plus) && all_finite(t_nu_minus));
  EXPECT_TRUE(within(t_v_c, cap.v_min_v, cap.v_max_v));
  EXPECT_TRUE(within(t_pulses, 0.0, 1e9) && within(t_iterations, 0.0, 1e9));

  for (const int64_t bits : {0, 2, 8, 24}) {
    const at::Tensor y = quantize(spread(n, -1e30, 1e30), rng, bits, 2.0, 0.1);
    EXPECT_TRUE(bits == 0 ? all_finite(y) : within(y, -2.0, 2.0));
  }
}

INSTANTIATE_TEST_SUITE_P(Sizes, EveryOp, ::testing::ValuesIn(kSizes));

TEST(EveryOpStrided, NonContiguousInputsGiveTheContiguousResultOrAClearError) {
  const at::Tensor rng = make_rng_state(3);
  const at::Tensor wide = at::linspace(0.0, 20.0, 64).reshape({8, 8});
  const at::Tensor strided = wide.t();  // the same values, transposed strides
  const auto [g_strided, nu_strided, p1, i1, c1] = pcm_program(strided, rng);
  const auto [g_dense, nu_dense, p2, i2, c2] = pcm_program(strided.contiguous(), rng);
  EXPECT_TRUE(at::equal(g_strided, g_dense));
  EXPECT_TRUE(at::equal(nu_strided, nu_dense));
  const at::Tensor y_strided = quantize(strided, rng, 8, 20.0, 0.0);
  EXPECT_TRUE(at::equal(y_strided, quantize(strided.contiguous(), rng, 8, 20.0, 0.0)));
}

}  // namespace
}  // namespace analogtorch
