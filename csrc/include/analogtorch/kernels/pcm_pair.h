// Element kernel of analogtorch::pcm_pair_step_: in-situ training directly on a PCM pair (the
// Nature 2018 paper's foil, after Burr et al. 2015). A positive weight change is partial-SET
// pulses on G+, a negative one on G- (PCM is only SET gradually; RESET is abrupt); steps shrink as
// G nears G_max, vary from cycle to cycle and from device to device. When either device passes the
// refresh threshold, both are RESET and their difference is re-programmed onto one of them.
// Bytes per cell: 4+4 (G+, G-) + 4 (dW) read; 4+4 (G+, G-) + 4 (w) + 1 + 1 (pulses, refreshed) written = 26.
#pragma once

#include <stdint.h>

#include "analogtorch/kernels/pcm_program.h"
#include "analogtorch/pcm.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace kernels {

struct PcmPairStep {
  float* g_plus_us;         // [n] in/out
  float* g_minus_us;        // [n] in/out
  float* weight;            // [n] out: w = F (G+ - G-) / scale
  const float* delta_w_us;  // [n] requested change of W
  const int64_t* rng;       // [2]
  int8_t* pulses_out;       // [n] signed training pulses applied
  int8_t* refreshed_out;    // [n] 1 where the pair was refreshed
  pcm::ProgrammingParams programming;
  float gain_f, scale_us_per_unit;
  float amplitude;          // relative amplitude of a training pulse (of a full partial-SET)
  int max_pulses;
  float refresh_us;         // refresh when either device exceeds this

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const uint64_t plus = 2 * static_cast<uint64_t>(i), minus = plus + 1;
    RandomCursor cursor(seed, RandomStream::kCapacitorUpdate, static_cast<uint64_t>(i), step);
    // Pulses from the nominal step of a training pulse at G = 0 (the controller does not know G).
    const float per_pulse_us = gain_f * amplitude * programming.set_step_us;
    const float request = detmath::clamp(delta_w_us[i] / per_pulse_us, static_cast<float>(-max_pulses),
                                         static_cast<float>(max_pulses));
    const float whole = detmath::floor_small(request);  // |request| <= max_pulses
    const int n = static_cast<int>(whole) + (cursor.uniform() < request - whole ? 1 : 0);
    const bool up = n > 0;
    const uint64_t device = up ? plus : minus;
    float g = up ? g_plus_us[i] : g_minus_us[i];
    const float device_step =
        pcm::device_set_step_us(programming, standard_normal(seed, RandomStream::kPcmVariation, device, 0));
    const int count = up ? n : -n;
    for (int pulse = 0; pulse < count; ++pulse) g = pcm::partial_set_us(g, amplitude, device_step, programming, cursor.normal());
    float g_plus = up ? g : g_plus_us[i];
    float g_minus = up ? g_minus_us[i] : (count > 0 ? g : g_minus_us[i]);
    bool refreshed = false;
    if (g_plus > refresh_us || g_minus > refresh_us) {
      // RESET both, then program the difference (plus the RESET partner's g_reset) onto one device.
      const float difference = g_plus - g_minus;
      const uint64_t target_device = difference > 0.0f ? plus : minus;
      RandomCursor pulses(seed, RandomStream::kProgramming, target_device, step);
      RandomCursor verify(seed, RandomStream::kVerifyRead, target_device, step);
      const float target_step =
          pcm::device_set_step_us(programming, standard_normal(seed, RandomStream::kPcmVariation, target_device, 0));
      const float programmed =
          pcm::program_closed_loop(detmath::fabs_(difference) + programming.g_reset_us, target_step, programming, pulses,
                                   verify)
              .conductance_us;
      g_plus = difference > 0.0f ? programmed : programming.g_reset_us;
      g_minus = difference > 0.0f ? programming.g_reset_us : programmed;
      refreshed = true;
    }
    g_plus_us[i] = g_plus;
    g_minus_us[i] = g_minus;
    weight[i] = gain_f * (g_plus - g_minus) / scale_us_per_unit;
    pulses_out[i] = static_cast<int8_t>(n);
    refreshed_out[i] = refreshed ? 1 : 0;
  }
};

}  // namespace kernels
}  // namespace analogtorch
