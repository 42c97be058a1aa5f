// Element kernels of analogtorch::unit_cell_weight (forward and backward) and
// analogtorch::transfer.
#pragma once

#include <stdint.h>

#include "analogtorch/capacitor.h"
#include "analogtorch/kernels/capacitor.h"
#include "analogtorch/kernels/pcm_program.h"
#include "analogtorch/pcm.h"
#include "analogtorch/random.h"
#include "analogtorch/unit_cell.h"

namespace analogtorch {
namespace kernels {

// w = (F (G+ - G-) + p (g(V_C) - g_shared)) / scale. Bytes per cell: 4+4+4+3+4 read, 4 written.
template <typename T, ReadExponent kExponent>
struct UnitCellWeight {
  const T* g_plus_us;
  const T* g_minus_us;
  const T* v_c;
  const int8_t* variation;  // [n, 3]
  const T* g_shared_us;     // [n] each cell's reference conductance
  T* weight;
  ReadCurve curve;
  int polarity;
  T gain_f, scale_us_per_unit;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    const T g = curve.conductance_us_of<kExponent, T>(v_c[i], variation + i * capacitor::kVariationFields);
    weight[i] = unit_cell::weight_us(g_plus_us[i], g_minus_us[i], g, polarity, gain_f, g_shared_us[i]) / scale_us_per_unit;
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
    grad_v_c[i] = static_cast<T>(polarity) *
                  capacitor::read_slope_us_per_v(v_c[i], v_t, static_cast<T>(curve.k_us_per_v2),
                                                 static_cast<T>(curve.exponent)) *
                  per_unit;
  }
};

// The Nature 2018 transfer, fused per cell: read W (with the 1/f noise accumulated since the
// last programming, against the shared reference as it stands), compute the PCM target
// W - p' (offset + g(v_init) - g_shared(v_init)) with the cell's and the reference's own
// thresholds, RESET both devices, program the one on the target's side by program-and-verify,
// draw both devices' drift exponents, re-initialise V_C: to v_init (the paper), or (keep_weight)
// to the voltage at which the capacitor carries what the PCM target leaves out. The reference is
// re-initialised to v_init by the caller. Devices are keyed 2i (G+) and 2i+1 (G-) for their
// random numbers.
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
  capacitor::Params capacitor;
  ReadCurve curve;
  Reference<float> reference;
  float gain_f, offset_us;
  int polarity, next_polarity;
  pcm::ReadTime read_time;  // of the read of W: time since the last programming
  bool closed_loop, read_noise, keep_weight;
  // New over old weight-to-uS scale: the transfer programs rescale * W, in the layer's new mapping
  // (1: the mapping is kept, and W bit for bit).
  float rescale;

  // V_C after the transfer. keep_weight: the capacitor takes over what the PCM target leaves out,
  // p' (offset + g(v_init) - g_shared(v_init)) where a device is programmed, so that g must read
  // offset + g(v_init), and all of W where the pair stays RESET, so that g must read
  // g_shared(v_init) + p' W. The voltage comes from the nominal read curve, as the periphery knows
  // no cell's threshold: cell variation shows as error (none for a linear curve and a programmed
  // device, where the voltage is v_init + offset / k whatever the threshold).
  ANALOGTORCH_HD float v_c_after(float w_us, bool pair_reset, float g_shared_init) const {
    if (!keep_weight) return capacitor.v_init_v;
    const float g_init_nominal =
        capacitor::read_conductance_us(capacitor.v_init_v, curve.v_t_v, curve.k_us_per_v2, curve.exponent);
    const float g = pair_reset ? g_shared_init + static_cast<float>(next_polarity) * w_us : g_init_nominal + offset_us;
    return capacitor::voltage_for_conductance(g, capacitor);
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
    const int8_t* own = variation + i * capacitor::kVariationFields;
    const float g_cap = curve.conductance_us<float>(v_c[i], own);
    const float w_us = rescale * unit_cell::weight_us(read_device(plus, g_plus_us[i], seed, step),
                                                      read_device(minus, g_minus_us[i], seed, step), g_cap, polarity,
                                                      gain_f, reference.conductance_us(i, curve));
    const float g_cap_init = curve.conductance_us<float>(capacitor.v_init_v, own);
    const float g_shared_init = reference.conductance_at_us(i, capacitor.v_init_v, curve);
    const float target = unit_cell::transfer_target_us(w_us, g_cap_init, g_shared_init, next_polarity, offset_us);

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
    v_c_out[i] = v_c_after(w_us, pair_reset, g_shared_init);
    pulses_out[i] = pulses;
    iterations_out[i] = iterations;
  }
};

}  // namespace kernels
}  // namespace analogtorch
