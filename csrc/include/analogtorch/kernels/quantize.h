// Element kernels of analogtorch::quantize (DAC/ADC with output noise) and its straight-through
// backward. docs/physics.md section 3.
#pragma once

#include <stdint.h>

#include "analogtorch/detmath.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace kernels {

// y = Q(clip(x + noise_std * bound * z, -bound, bound)), Q rounding to 2^(bits-1) - 1 levels per
// side (kRounds; bits = 0: no rounding). Noise and rounding are template choices, not run-time
// selects: with them GCC turned selects into branches under AVX-512 and the loop ran scalar.
// Bytes per element: 4 read, 4 written.
template <bool kNoise, bool kRounds>
struct Quantize {
  const float* x;
  const int64_t* rng;
  float* y;
  float bound;
  float noise_std;  // relative to bound
  float step;       // bound / (2^(bits-1) - 1), > 0 when kRounds

  ANALOGTORCH_HD void operator()(int64_t i) const {
    float value = x[i];
    if constexpr (kNoise) {
      uint64_t seed, counter_step;
      decode_rng_state(rng, seed, counter_step);
      value += noise_std * bound * standard_normal(seed, RandomStream::kPeriphery, static_cast<uint64_t>(i), counter_step);
    }
    float converted = detmath::clamp(value, -bound, bound);
    if constexpr (kRounds) converted = step * detmath::round_half_up(converted / step);
    y[i] = detmath::is_nan(value) ? value : converted;  // NaN propagates, as in torch.clamp
  }
};

// Straight-through: the gradient passes where the input lay within the converter's range.
struct QuantizeBackward {
  const float* grad_y;
  const float* x;
  float* grad_x;
  float bound;

  ANALOGTORCH_HD void operator()(int64_t i) const { grad_x[i] = detmath::fabs_(x[i]) <= bound ? grad_y[i] : 0.0f; }
};

}  // namespace kernels
}  // namespace analogtorch
