// A C++ user of analogtorch: program a weight matrix into PCM and watch it drift.
//
//   build/cmake/drift_demo
#include <ATen/ATen.h>

#include <cstdio>

#include "analogtorch/ops.h"

int main() {
  const at::Tensor weights = at::randn({256, 256}, at::TensorOptions().dtype(at::kFloat));
  // One device per weight sign, scaled so that the largest weight uses the whole range (25 uS).
  const double scale_us = 25.0 / weights.abs().max().item<double>();
  const at::Tensor target_us = weights.abs() * scale_us;
  const at::Tensor rng = analogtorch::make_rng_state(/*seed=*/1);
  const auto [conductance_us, drift_nu, pulses, iterations, converged] = analogtorch::pcm_program(target_us, rng);
  std::printf("closed-loop programming: %.1f pulses and %.1f verify reads per device, %.2f%% converged\n\n",
              pulses.to(at::kFloat).mean().item<double>(), iterations.to(at::kFloat).mean().item<double>(),
              100.0 * converged.to(at::kFloat).mean().item<double>());

  std::printf("%12s %16s %16s\n", "time [s]", "mean G [uS]", "weight error");
  for (const double time_s : {1.0, 60.0, 3600.0, 86400.0, 2.6e6, 3.15e7}) {
    const at::Tensor read_us = analogtorch::pcm_read(conductance_us, drift_nu, rng, time_s);
    const double error = ((read_us - target_us).norm() / target_us.norm()).item<double>();
    std::printf("%12.0f %16.4f %16.4f\n", time_s, read_us.mean().item<double>(), error);
  }
  return 0;
}
