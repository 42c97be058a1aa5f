// Element kernels of analogtorch::hardware_aware_read (docs/physics.md section 4): the weights as a
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

// Where HardwareAwareRead finds the read time. On a GPU, TrainingReadTime's output in device memory
// (no host synchronisation); on the CPU, a value, which lets the element loop vectorise.
struct ReadTimeInMemory {
  const float* time;
  ANALOGTORCH_HD pcm::ReadTime get() const { return {time[0], time[1]}; }
};

struct ReadTimeValue {
  pcm::ReadTime time;
  ANALOGTORCH_HD pcm::ReadTime get() const { return time; }
};

// Per weight (in uS of G+ - G-): program the pair (devices 2i and 2i+1, as in pcm_program with
// device_stride 2), draw both drift exponents and drift both to the read time. Writes the pair's
// drifted G+ - G- and the variance of its 1/f read noise at that time (sum over both devices; 0
// without read noise): the read noise itself is drawn per output by add_read_noise. Closed loop
// programs the weight's side to |w| + g_reset over its RESET partner; open loop programs both
// devices, G+ = max(w, 0) and G- = max(-w, 0).
// Bytes per weight: 4 read, 8 written (the state of the pair never leaves registers). Open loop: one
// Philox block per weight (both devices' programming noise and drift exponents).
template <bool kClosedLoop, typename ReadTimeSource>
struct HardwareAwareRead {
  const float* weight_us;
  const int64_t* rng;
  ReadTimeSource read_time;
  float* mean_us;
  float* variance_us2;
  pcm::ProgrammingParams programming;
  float read_noise_weight;  // 1 with read noise (programming.read_noise), 0 without

  // One device's drifted conductance at the read time; its read-noise variance is added to `variance`.
  ANALOGTORCH_HD float drifted(float g_p, float nu, float log_relative, const pcm::ReadTime& r, float& variance) const {
    const float g_t = pcm::drifted_us(g_p, nu, r);
    // Computed either way and weighted: a condition would keep the loop from vectorising.
    const float sigma = pcm::read_noise_sigma_from_log_us(g_t, log_relative, r);
    variance += read_noise_weight * (sigma * sigma);
    return g_t;
  }

  // A closed-loop device programmed to `magnitude` over RESET (the zero side stays RESET).
  ANALOGTORCH_HD float closed_loop_device(uint64_t device, float magnitude, const pcm::ReadTime& r, uint64_t seed,
                                          uint64_t step, float& variance) const {
    float g_p, nu;
    if (magnitude <= 0.0f) {
      g_p = programming.g_reset_us;
      nu = drift_exponent_of_device(device, g_p, programming, seed, step);
    } else {
      const ProgrammedDevice d = program_device(device, magnitude + programming.g_reset_us, programming, true, seed, step);
      g_p = d.conductance_us;
      nu = d.drift_nu;
    }
    return drifted(g_p, nu, pcm::log_relative_conductance(g_p, programming.g_max_us), r, variance);
  }

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const pcm::ReadTime r = read_time.get();
    const uint64_t plus = 2 * static_cast<uint64_t>(i), minus = plus + 1;
    const float w = weight_us[i];
    const float magnitude_plus = detmath::fmax_(w, 0.0f), magnitude_minus = detmath::fmax_(-w, 0.0f);
    float variance = 0.0f, g_plus, g_minus;
    if constexpr (kClosedLoop) {
      g_plus = closed_loop_device(plus, magnitude_plus, r, seed, step, variance);
      g_minus = closed_loop_device(minus, magnitude_minus, r, seed, step, variance);
    } else {  // straight-line, so that the CPU loop vectorises; one Philox block for the pair
      const Philox4x32Block block = open_loop_pair_block(static_cast<uint64_t>(i), seed, step);
      const OpenLoopDevice p = open_loop_device_from_bits(block.v[0], block.v[1], magnitude_plus, programming);
      const OpenLoopDevice m = open_loop_device_from_bits(block.v[2], block.v[3], magnitude_minus, programming);
      g_plus = drifted(p.conductance_us, p.drift_nu, p.log_relative, r, variance);
      g_minus = drifted(m.conductance_us, m.drift_nu, m.log_relative, r, variance);
    }
    // A NaN or infinite weight has no programming: it reads as itself, with variance |w| (NaN or
    // Inf), so that it propagates instead of becoming a plausible (clipped) conductance.
    const bool finite = w - w == 0.0f;
    mean_us[i] = finite ? g_plus - g_minus : w;
    variance_us2[i] = finite ? variance : detmath::fabs_(w);
  }
};

}  // namespace kernels
}  // namespace analogtorch
