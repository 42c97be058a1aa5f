// Element kernel of analogtorch::pcm_program, shared by the CPU loop and the CUDA grid-stride loop.
// Bytes moved per element (open loop): 4 (target) read, 4 (G_p) + 4 (nu) written = 12.
#pragma once

#include <stdint.h>

#include "analogtorch/pcm.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace kernels {

struct PcmProgram {
  const float* target_us;  // [n] target conductance, clipped to [0, g_max_us]
  const int64_t* rng;      // [2] (seed, step)
  float* conductance_us;   // [n] programmed conductance G_p
  float* drift_nu;         // [n] drift exponent drawn for the device
  float g_max_us;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const uint64_t element = static_cast<uint64_t>(i);
    RandomCursor programming(seed, RandomStream::kProgramming, element, step);
    RandomCursor exponent(seed, RandomStream::kDriftExponent, element, step);
    const float target = detmath::clamp(target_us[i], 0.0f, g_max_us);
    const float g = pcm::program_open_loop_us(target, g_max_us, programming.normal());
    conductance_us[i] = g;
    drift_nu[i] = pcm::drift_exponent(g, g_max_us, exponent.normal());
  }
};

}  // namespace kernels
}  // namespace analogtorch
