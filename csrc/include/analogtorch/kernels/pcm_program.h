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

struct OpenLoopDevice {
  float conductance_us;
  float drift_nu;
  float log_relative;  // ln(max(G_p / G_max, 1e-7)), which the read-noise law needs too
};

// Open-loop programming of one device: one shot with the programming-noise law, and its drift
// exponent. Both normals come from one Box-Muller pair (programming noise, then drift). The two
// devices of a pair, 2k and 2k+1, share one Philox block keyed by k: words 0 and 1 for the even
// device, 2 and 3 for the odd one, so that a kernel programming both (HardwareAwareRead) computes
// one block per weight, with the same bits as programming each device alone.
ANALOGTORCH_HD OpenLoopDevice open_loop_device_from_bits(uint32_t bits_radius, uint32_t bits_angle, float target_us,
                                                         const pcm::ProgrammingParams& p) {
  float z_programming, z_drift;
  box_muller(bits_radius, bits_angle, z_programming, z_drift);
  const float target = detmath::clamp(target_us, 0.0f, p.g_max_us);
  OpenLoopDevice out;
  out.conductance_us = pcm::program_open_loop_us(target, p.g_max_us, z_programming);
  out.log_relative = pcm::log_relative_conductance(out.conductance_us, p.g_max_us);
  out.drift_nu = pcm::drift_exponent_from_log(out.log_relative, z_drift);
  return out;
}

ANALOGTORCH_HD Philox4x32Block open_loop_pair_block(uint64_t pair, uint64_t seed, uint64_t step) {
  return random_block(seed, RandomStream::kProgramming, pair, step);
}

ANALOGTORCH_HD OpenLoopDevice program_open_loop_device(uint64_t device, float target_us, const pcm::ProgrammingParams& p,
                                                       uint64_t seed, uint64_t step) {
  const Philox4x32Block block = open_loop_pair_block(device >> 1, seed, step);
  const bool odd = (device & 1u) != 0;  // a select, not a branch: the loop stays vectorised
  return open_loop_device_from_bits(odd ? block.v[2] : block.v[0], odd ? block.v[3] : block.v[1], target_us, p);
}

// The drift exponent of a closed-loop programmed device (its own stream: the programming cursor
// has used the kProgramming blocks).
ANALOGTORCH_HD float drift_exponent_of_device(uint64_t device, float g_us, const pcm::ProgrammingParams& p, uint64_t seed,
                                              uint64_t step) {
  return pcm::drift_exponent(g_us, p.g_max_us, standard_normal(seed, RandomStream::kDriftExponent, device, step));
}

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
    out.conductance_us = out.result.conductance_us;
    out.drift_nu = drift_exponent_of_device(device, out.conductance_us, p, seed, step);
  } else {
    const OpenLoopDevice d = program_open_loop_device(device, target_us, p, seed, step);
    const bool within = detmath::fabs_(d.conductance_us - detmath::clamp(target_us, 0.0f, p.g_max_us)) <= p.tolerance_us;
    out.result = pcm::ProgrammingResult{d.conductance_us, 1, 0, within};
    out.conductance_us = d.conductance_us;
    out.drift_nu = d.drift_nu;
  }
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
  int64_t device_stride;  // element i is device i * stride + offset: the two devices of unit cell
  int64_t device_offset;  // i are 2i (G+) and 2i+1 (G-), as in the transfer kernel

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const uint64_t device = static_cast<uint64_t>(i * device_stride + device_offset);
    if constexpr (kClosedLoop) {
      const ProgrammedDevice programmed = program_device(device, target_us[i], params, true, seed, step);
      conductance_us[i] = programmed.conductance_us;
      drift_nu[i] = programmed.drift_nu;
      pulses[i] = programmed.result.pulses;
      iterations[i] = programmed.result.iterations;
      converged[i] = programmed.result.converged;
    } else {  // straight-line, so that the CPU loop vectorises
      const float target = target_us[i];
      const OpenLoopDevice d = program_open_loop_device(device, target, params, seed, step);
      conductance_us[i] = d.conductance_us;
      drift_nu[i] = d.drift_nu;
      pulses[i] = 1;
      iterations[i] = 0;
      converged[i] = detmath::fabs_(d.conductance_us - detmath::clamp(target, 0.0f, params.g_max_us)) <= params.tolerance_us;
    }
  }
};

}  // namespace kernels
}  // namespace analogtorch
