// Element kernels of analogtorch::quantize (DAC/ADC with output noise) and its straight-through
// backward. docs/physics.md section 3.
#pragma once

#include <stdint.h>

#include "analogtorch/detmath.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace kernels {

// The converter's reading of `value` (noise already added): clip to +-bound, then round to
// 2^(bits-1) - 1 levels per side (kRounds; bits = 0: no rounding). NaN propagates, as in torch.clamp.
template <bool kRounds>
ANALOGTORCH_HD float convert(float value, float bound, float step) {
  float converted = detmath::clamp(value, -bound, bound);
  if constexpr (kRounds) converted = step * detmath::round_half_up(converted / step);
  return detmath::is_nan(value) ? value : converted;
}

// y = Q(clip(x, -bound, bound)), no noise. Rounding is a template choice, not a run-time select:
// with selects GCC turned them into branches under AVX-512 and the loop ran scalar.
// Bytes per element: 4 read, 4 written.
template <bool kRounds>
struct Quantize {
  const float* x;
  float* y;
  float bound;
  float step;  // bound / (2^(bits-1) - 1), > 0 when kRounds

  ANALOGTORCH_HD void operator()(int64_t i) const { y[i] = convert<kRounds>(x[i], bound, step); }
};

// y = Q(clip(x + noise_std * bound * z, -bound, bound)): output noise, one normal per element from
// a block shared by a group of four (launched as AddReadNoise is: the whole groups, then the tail).
template <bool kRounds, bool kTail>
struct NoisyQuantize {
  const float* x;
  const int64_t* rng;
  float* y;
  float bound;
  float noise_std;  // relative to bound
  float step;
  int64_t n;            // elements
  int64_t first_group;  // the group that index 0 of this launch stands for

  ANALOGTORCH_HD void operator()(int64_t index) const {
    for_group_of_four<kTail>(rng, RandomStream::kPeriphery, first_group, index, n, [this](int64_t i, float z) {
      y[i] = convert<kRounds>(x[i] + noise_std * bound * z, bound, step);
    });
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
