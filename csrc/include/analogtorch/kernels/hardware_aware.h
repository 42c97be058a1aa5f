// Element kernels of analogtorch::hardware_aware_read (PHYSICS.md section 4): the weights as a
// freshly programmed PCM pair would hold them at a random time of the training window, in one pass.
#pragma once

#include <stdint.h>

#include "analogtorch/detmath.h"
#include "analogtorch/kernels/pcm_program.h"
#include "analogtorch/pcm.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace kernels {

// One element: the time of this read, log-uniform in [time_min_s, time_max_s] (element 0 of its
// own stream, keyed by the call's rng), and its drift and read-noise factors. Running it as a kernel
// keeps the draw on the device: no host synchronisation. out = {ln(t/t0), noise growth, t}.
struct TrainingReadTime {
  const int64_t* rng;
  float* out;
  float time_min_s, time_max_s;
  pcm::DriftParams read;

  ANALOGTORCH_HD void operator()(int64_t) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    float t = time_min_s;
    if (time_max_s > time_min_s) {
      RandomCursor cursor(seed, RandomStream::kTrainingTime, 0, step);
      const float log_min = detmath::log(time_min_s), log_max = detmath::log(time_max_s);
      t = detmath::exp(log_min + cursor.uniform() * (log_max - log_min));
    }
    const pcm::ReadTime r = pcm::read_time(t, read);
    out[0] = r.log_t_over_t0;
    out[1] = r.noise_growth;
    out[2] = t;
  }
};

// Per weight (in uS of G+ - G-): program the pair (devices 2i and 2i+1, as in pcm_program with
// device_stride 2), draw both drift exponents, drift both to the read time and read them with 1/f
// noise (when programming.read_noise). Closed loop programs the weight's side to |w| + g_reset over
// its RESET partner; open loop programs both devices, G+ = max(w, 0) and G- = max(-w, 0).
// Bytes per weight: 4 read, 4 written (the state of the pair never leaves registers).
struct HardwareAwareRead {
  const float* weight_us;
  const int64_t* rng;
  const float* time;  // TrainingReadTime's output
  float* out_us;
  pcm::ProgrammingParams programming;
  bool closed_loop;

  ANALOGTORCH_HD float read_device(uint64_t device, const ProgrammedDevice& d, const pcm::ReadTime& r, uint64_t seed,
                                   uint64_t step) const {
    if (!programming.read_noise) return pcm::drifted_us(d.conductance_us, d.drift_nu, r);
    const float z = standard_normal(seed, RandomStream::kReadNoise, device, step);
    return pcm::read_us(d.conductance_us, d.drift_nu, r, programming.g_max_us, z);
  }

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const pcm::ReadTime r{time[0], time[1]};
    const uint64_t plus = 2 * static_cast<uint64_t>(i), minus = plus + 1;
    const float w = weight_us[i];
    const float offset = closed_loop ? programming.g_reset_us : 0.0f;
    ProgrammedDevice devices[2];
    for (int side = 0; side < 2; ++side) {
      const uint64_t device = side == 0 ? plus : minus;
      const float magnitude = side == 0 ? detmath::fmax_(w, 0.0f) : detmath::fmax_(-w, 0.0f);
      if (closed_loop && magnitude <= 0.0f) {  // the zero side stays RESET
        devices[side].conductance_us = programming.g_reset_us;
        devices[side].drift_nu = drift_exponent_of_device(device, programming.g_reset_us, programming, seed, step);
      } else {
        devices[side] = program_device(device, magnitude + offset, programming, closed_loop, seed, step);
      }
    }
    out_us[i] = read_device(plus, devices[0], r, seed, step) - read_device(minus, devices[1], r, seed, step);
  }
};

}  // namespace kernels
}  // namespace analogtorch
