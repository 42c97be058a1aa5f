// Element kernels of analogtorch::unit_cell_weight (forward and backward) and
// analogtorch::transfer.
#pragma once

#include <stdint.h>

#include "analogtorch/capacitor.h"
#include "analogtorch/kernels/pcm_program.h"
#include "analogtorch/pcm.h"
#include "analogtorch/random.h"
#include "analogtorch/unit_cell.h"

namespace analogtorch {
namespace kernels {

struct ReadCurve {
  float v_t_v, v_t_sigma_v, k_us_per_v2;

  template <typename T>
  ANALOGTORCH_HD T threshold(const int8_t* variation) const {
    return static_cast<T>(v_t_v) +
           static_cast<T>(v_t_sigma_v) * static_cast<T>(capacitor::dequantize_standard_normal(variation[2]));
  }
};

// w = (F (G+ - G-) + p (g(V_C) - g_shared)) / scale. Bytes per cell: 4+4+4+3 read, 4 written.
template <typename T>
struct UnitCellWeight {
  const T* g_plus_us;
  const T* g_minus_us;
  const T* v_c;
  const int8_t* variation;  // [n, 3]
  T* weight;
  ReadCurve curve;
  int polarity;
  T gain_f, g_shared_us, scale_us_per_unit;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    const T v_t = curve.threshold<T>(variation + i * capacitor::kVariationFields);
    const T g = capacitor::read_conductance_us(v_c[i], v_t, static_cast<T>(curve.k_us_per_v2));
    weight[i] = unit_cell::weight_us(g_plus_us[i], g_minus_us[i], g, polarity, gain_f, g_shared_us) / scale_us_per_unit;
  }
};

// Gradients of w with respect to G+, G- and V_C.
template <typename T>
struct UnitCellWeightBackward {
  const T* grad_weight;
  const T* v_c;
  const int8_t* variation;
  T* grad_g_plus;
  T* grad_g_minus;
  T* grad_v_c;
  ReadCurve curve;
  int polarity;
  T gain_f, scale_us_per_unit;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    const T v_t = curve.threshold<T>(variation + i * capacitor::kVariationFields);
    const T per_unit = grad_weight[i] / scale_us_per_unit;
    grad_g_plus[i] = gain_f * per_unit;
    grad_g_minus[i] = -gain_f * per_unit;
    grad_v_c[i] = static_cast<T>(polarity) * capacitor::read_slope_us_per_v(v_c[i], v_t, static_cast<T>(curve.k_us_per_v2)) *
                  per_unit;
  }
};

// The Nature 2018 transfer, fused per cell: read W (with the 1/f noise accumulated since the
// last programming), compute the PCM target, RESET both devices, program the one on the target's
// side by program-and-verify, draw both devices' drift exponents, re-initialise V_C: to v_init, or
// (keep_weight) to the voltage at which the capacitor carries what the PCM target leaves out.
// Devices are keyed 2i (G+) and 2i+1 (G-) for their random numbers.
// Bytes per cell: 4+4+4+3 read; 4+4+4+4+4 (G+, G-, nu+, nu-, V_C) + 4+4 (pulses, iterations) written.
struct Transfer {
  const float* g_plus_us;
  const float* g_minus_us;
  const float* v_c;
  const int8_t* variation;
  const int64_t* rng;
  float* g_plus_out;
  float* g_minus_out;
  float* nu_plus_out;
  float* nu_minus_out;
  float* v_c_out;
  int32_t* pulses_out;
  int32_t* iterations_out;
  pcm::ProgrammingParams programming;
  ReadCurve curve;
  float v_init_v, v_min_v, v_max_v;
  float gain_f, g_shared_us, offset_us;
  int polarity, next_polarity;
  pcm::ReadTime read_time;  // of the read of W: time since the last programming
  bool closed_loop, read_noise, keep_weight;

  // V_C after the transfer. keep_weight: the capacitor takes over what the PCM target leaves out,
  // p' (offset + g(v_init) - g_shared) where a device is programmed and all of W where the pair stays
  // RESET, so that the transfer keeps W (up to programming error). The voltage comes from the
  // nominal read curve, as the periphery knows no cell's threshold: cell variation shows as error.
  ANALOGTORCH_HD float v_c_after(float w_us, bool pair_reset) const {
    if (!keep_weight) return v_init_v;
    const float g_init = capacitor::read_conductance_us(v_init_v, curve.v_t_v, curve.k_us_per_v2);
    const float carried = pair_reset ? static_cast<float>(next_polarity) * w_us : offset_us + g_init - g_shared_us;
    const float g = detmath::fmax_(g_shared_us + carried, 0.0f);
    return detmath::clamp(curve.v_t_v + detmath::sqrt(g / curve.k_us_per_v2), v_min_v, v_max_v);
  }

  ANALOGTORCH_HD float read_device(uint64_t device, float g_us, uint64_t seed, uint64_t step) const {
    if (!read_noise) return g_us;
    RandomCursor cursor(seed, RandomStream::kReadNoise, device, step);
    const float sigma = pcm::read_noise_sigma_us(g_us, g_us, read_time, programming.g_max_us);
    return detmath::fmax_(g_us + sigma * cursor.normal(), 0.0f);
  }

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const uint64_t plus = 2 * static_cast<uint64_t>(i), minus = plus + 1;
    const float v_t = curve.threshold<float>(variation + i * capacitor::kVariationFields);
    const float g_cap = capacitor::read_conductance_us(v_c[i], v_t, curve.k_us_per_v2);
    const float w_us = unit_cell::weight_us(read_device(plus, g_plus_us[i], seed, step),
                                            read_device(minus, g_minus_us[i], seed, step), g_cap, polarity, gain_f,
                                            g_shared_us);
    const float g_cap_init = capacitor::read_conductance_us(v_init_v, v_t, curve.k_us_per_v2);
    const float target = unit_cell::transfer_target_us(w_us, g_cap_init, g_shared_us, next_polarity, offset_us);

    // The partner device stays RESET and still conducts g_reset: the programmed device's target
    // includes it, so that F (G+ - G-) = W_t.
    float targets[2] = {0.0f, 0.0f};  // G+, G- (RESET unless programmed)
    const bool pair_reset = unit_cell::pair_stays_reset(target, next_polarity, offset_us);
    if (!pair_reset) {
      targets[target > 0.0f ? 0 : 1] = detmath::fabs_(target) / gain_f + programming.g_reset_us;
    }
    int32_t pulses = 0, iterations = 0;
    float g_out[2], nu_out[2];
    for (int side = 0; side < 2; ++side) {
      const uint64_t device = side == 0 ? plus : minus;
      if (targets[side] > 0.0f) {
        const ProgrammedDevice programmed = program_device(device, targets[side], programming, closed_loop, seed, step);
        g_out[side] = programmed.conductance_us;
        nu_out[side] = programmed.drift_nu;
        pulses += programmed.result.pulses;
        iterations += programmed.result.iterations;
      } else {
        g_out[side] = programming.g_reset_us;
        RandomCursor exponent(seed, RandomStream::kDriftExponent, device, step);
        nu_out[side] = pcm::drift_exponent(g_out[side], programming.g_max_us, exponent.normal());
      }
    }
    g_plus_out[i] = g_out[0];
    g_minus_out[i] = g_out[1];
    nu_plus_out[i] = nu_out[0];
    nu_minus_out[i] = nu_out[1];
    v_c_out[i] = v_c_after(w_us, pair_reset);
    pulses_out[i] = pulses;
    iterations_out[i] = iterations;
  }
};

}  // namespace kernels
}  // namespace analogtorch
