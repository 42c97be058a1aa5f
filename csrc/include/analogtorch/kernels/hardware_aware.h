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
// device_stride 2), draw both drift exponents and drift both to the read time. Writes the pair's
// drifted G+ - G- and the variance of its 1/f read noise at that time (sum over both devices; 0
// without read noise): the read noise itself is drawn per output by add_read_noise. Closed loop
// programs the weight's side to |w| + g_reset over its RESET partner; open loop programs both
// devices, G+ = max(w, 0) and G- = max(-w, 0).
// Bytes per weight: 4 read, 8 written (the state of the pair never leaves registers).
struct HardwareAwareRead {
  const float* weight_us;
  const int64_t* rng;
  const float* time;  // TrainingReadTime's output
  float* mean_us;
  float* variance_us2;
  pcm::ProgrammingParams programming;
  bool closed_loop;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const pcm::ReadTime r{time[0], time[1]};
    const uint64_t plus = 2 * static_cast<uint64_t>(i), minus = plus + 1;
    const float w = weight_us[i];
    const float offset = closed_loop ? programming.g_reset_us : 0.0f;
    float mean = 0.0f, variance = 0.0f;
    for (int side = 0; side < 2; ++side) {
      const uint64_t device = side == 0 ? plus : minus;
      const float magnitude = side == 0 ? detmath::fmax_(w, 0.0f) : detmath::fmax_(-w, 0.0f);
      ProgrammedDevice d;
      if (closed_loop && magnitude <= 0.0f) {  // the zero side stays RESET
        d.conductance_us = programming.g_reset_us;
        d.drift_nu = drift_exponent_of_device(device, programming.g_reset_us, programming, seed, step);
      } else {
        d = program_device(device, magnitude + offset, programming, closed_loop, seed, step);
      }
      const float g_t = pcm::drifted_us(d.conductance_us, d.drift_nu, r);
      const float sigma =
          programming.read_noise ? pcm::read_noise_sigma_us(g_t, d.conductance_us, r, programming.g_max_us) : 0.0f;
      mean += side == 0 ? g_t : -g_t;
      variance += sigma * sigma;
    }
    mean_us[i] = mean;
    variance_us2[i] = variance;
  }
};

}  // namespace kernels
}  // namespace analogtorch
