// Element kernel of analogtorch::pcm_program, shared by the CPU loop and the CUDA grid-stride loop.
// Bytes moved per device: 4 (target) read; 4 (G_p) + 4 (nu) + 4 (pulses) + 4 (iterations)
// + 1 (converged) written = 21.
#pragma once

#include <stdint.h>

#include "analogtorch/pcm.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace kernels {

struct ProgrammedDevice {
  float conductance_us;
  float drift_nu;
  pcm::ProgrammingResult result;
};

// Programs one PCM device (open or closed loop) and draws its drift exponent. `device` keys the
// device's own random numbers: its fixed step size and the draws of this programming (step).
ANALOGTORCH_HD ProgrammedDevice program_device(uint64_t device, float target_us, const pcm::ProgrammingParams& p,
                                               bool closed_loop, uint64_t seed, uint64_t step) {
  ProgrammedDevice out;
  if (closed_loop) {
    RandomCursor programming(seed, RandomStream::kProgramming, device, step);
    RandomCursor verify(seed, RandomStream::kVerifyRead, device, step);
    const float device_step =
        pcm::device_set_step_us(p, standard_normal(seed, RandomStream::kPcmVariation, device, 0));
    out.result = pcm::program_closed_loop(target_us, device_step, p, programming, verify);
  } else {
    const float target = detmath::clamp(target_us, 0.0f, p.g_max_us);
    const float z = standard_normal(seed, RandomStream::kProgramming, device, step);
    const float g = pcm::program_open_loop_us(target, p.g_max_us, z);
    const bool within = detmath::fabs_(g - target) <= p.tolerance_us;
    out.result = pcm::ProgrammingResult{g, 1, 0, within};
  }
  out.conductance_us = out.result.conductance_us;
  const float z_nu = standard_normal(seed, RandomStream::kDriftExponent, device, step);
  out.drift_nu = pcm::drift_exponent(out.conductance_us, p.g_max_us, z_nu);
  return out;
}

template <bool kClosedLoop>
struct PcmProgram {
  const float* target_us;  // [n] target conductance
  const int64_t* rng;      // [2] (seed, step)
  float* conductance_us;   // [n] programmed conductance G_p (as read at t0)
  float* drift_nu;         // [n] drift exponent drawn for the device
  int32_t* pulses;         // [n] programming pulses applied
  int32_t* iterations;     // [n] verify reads (0 in open loop)
  bool* converged;         // [n] within tolerance (closed loop: by the last verify read)
  pcm::ProgrammingParams params;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const ProgrammedDevice device = program_device(static_cast<uint64_t>(i), target_us[i], params, kClosedLoop, seed, step);
    conductance_us[i] = device.conductance_us;
    drift_nu[i] = device.drift_nu;
    pulses[i] = device.result.pulses;
    iterations[i] = device.result.iterations;
    converged[i] = device.result.converged;
  }
};

}  // namespace kernels
}  // namespace analogtorch
