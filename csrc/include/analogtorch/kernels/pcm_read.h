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

// The two moments of a device's read at one time: the drifted conductance and the variance of its
// 1/f read noise. An array read sums independent device noises, so an output's noise follows
// from these by one more matrix product (add_read_noise). The floor at 0 uS of a single read is
// left out: it moves a reset device's mean by about 0.01 uS.
// Bytes moved per element: 4 (G_p) + 4 (nu) read, 4 (mean) + 4 (variance) written = 16.
struct PcmReadMoments {
  const float* conductance_us;  // [n] programmed conductance G_p
  const float* drift_nu;        // [n] drift exponent per device
  float* mean_us;               // [n] G(t)
  float* variance_us2;          // [n] sigma_read(t)^2
  pcm::ReadTime time;
  float g_max_us;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    const float g_t = pcm::drifted_us(conductance_us[i], drift_nu[i], time);
    const float sigma = pcm::read_noise_sigma_us(g_t, conductance_us[i], time, g_max_us);
    mean_us[i] = g_t;
    variance_us2[i] = sigma * sigma;
  }
};

}  // namespace kernels
}  // namespace analogtorch
