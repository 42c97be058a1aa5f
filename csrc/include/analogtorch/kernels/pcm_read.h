// Element kernel of analogtorch::pcm_read, shared by the CPU loop and the CUDA grid-stride loop.
// Bytes moved per element: 4 (G_p) + 4 (nu) read, 4 (G) written = 12.
#pragma once

#include <stdint.h>

#include "analogtorch/pcm.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace kernels {

template <bool kReadNoise>
struct PcmRead {
  const float* conductance_us;  // [n] programmed conductance G_p
  const float* drift_nu;        // [n] drift exponent per device
  const int64_t* rng;           // [2] (seed, step)
  float* out_us;                // [n] conductance read at time_s
  pcm::ReadTime time;  // pcm::read_time(time_s, params), computed once per call
  float g_max_us;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    if constexpr (kReadNoise) {
      uint64_t seed, step;
      decode_rng_state(rng, seed, step);
      const float z = standard_normal(seed, RandomStream::kReadNoise, static_cast<uint64_t>(i), step);
      out_us[i] = pcm::read_us(conductance_us[i], drift_nu[i], time, g_max_us, z);
    } else {
      out_us[i] = pcm::drifted_us(conductance_us[i], drift_nu[i], time);
    }
  }
};

}  // namespace kernels
}  // namespace analogtorch
