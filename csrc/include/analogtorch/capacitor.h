// The 3T1C cell: capacitor voltage V_C updated by pulses, leaking between steps, read through a
// transistor as g(V_C). PHYSICS.md section 1 (Ambrogio et al. 2018, Extended Data Figs 2 and 7).
// Voltages in V, conductances in uS, times in s.
#pragma once

#include <stdint.h>

#include "analogtorch/detmath.h"
#include "analogtorch/macros.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace capacitor {

struct Params {
  float v_min_v, v_max_v;   // rails
  float v_init_v;           // V_C after a transfer
  float v_t_v;              // nominal read-transistor threshold
  float v_t_sigma_v;        // per-cell threshold spread
  float k_us_per_v2;        // read-curve gain
  float dv_pulse_v;         // nominal step of one pulse
  float mismatch_sigma;     // per-cell spread of the up and down factors
  float c2c_sigma;          // per-pulse spread
  float rail_margin_v;      // hard bounds: the step falls to zero within this distance of the rail
  bool soft_bounds;         // the step shrinks linearly across the whole range instead
  int max_pulses;           // per cell per update
  float dg_per_pulse_us;    // nominal conductance change of one pulse, converts requests to pulses
};

// Fixed per-cell variation, drawn once (cell_variation op) and stored as int8 standard normals
// quantised to 1/32 sigma over +-3.97 sigma: 3 bytes per cell instead of 12.
constexpr int kVariationFields = 3;  // up factor, down factor, threshold
constexpr float kVariationScale = 32.0f;

ANALOGTORCH_HD int8_t quantize_standard_normal(float z) {
  const float q = detmath::clamp(z * kVariationScale, -127.0f, 127.0f);
  return static_cast<int8_t>(q < 0.0f ? q - 0.5f : q + 0.5f);
}

ANALOGTORCH_HD float dequantize_standard_normal(int8_t q) { return static_cast<float>(q) / kVariationScale; }

struct Cell {
  float up;      // factor on the nominal up step, N(1, mismatch_sigma), >= 0
  float down;    // factor on the nominal down step
  float v_t_v;   // read-transistor threshold
};

ANALOGTORCH_HD Cell decode_cell(const int8_t* variation, const Params& p) {
  return {detmath::fmax_(1.0f + p.mismatch_sigma * dequantize_standard_normal(variation[0]), 0.0f),
          detmath::fmax_(1.0f + p.mismatch_sigma * dequantize_standard_normal(variation[1]), 0.0f),
          p.v_t_v + p.v_t_sigma_v * dequantize_standard_normal(variation[2])};
}

// Read curve g(V_C) = k max(V_C - V_T, 0)^2: small at 0.5 V, growing above it. Templated so that
// the differentiable unit_cell_weight op can run in float64 for gradcheck.
template <typename T>
ANALOGTORCH_HD T read_conductance_us(T v_c_v, T v_t_v, T k_us_per_v2) {
  const T overdrive = v_c_v > v_t_v ? v_c_v - v_t_v : T(0);
  return k_us_per_v2 * overdrive * overdrive;
}

// Slope dg/dV_C of the read curve.
template <typename T>
ANALOGTORCH_HD T read_slope_us_per_v(T v_c_v, T v_t_v, T k_us_per_v2) {
  return T(2) * k_us_per_v2 * (v_c_v > v_t_v ? v_c_v - v_t_v : T(0));
}

// How much of the nominal step a pulse moves V_C, by distance to the rail it moves toward.
ANALOGTORCH_HD float step_scale(float v_c_v, bool up, const Params& p) {
  const float room = up ? p.v_max_v - v_c_v : v_c_v - p.v_min_v;
  if (p.soft_bounds) {
    const float span = up ? p.v_max_v - p.v_init_v : p.v_init_v - p.v_min_v;
    return detmath::clamp(room / span, 0.0f, 1.0f);
  }
  return detmath::clamp(room / p.rail_margin_v, 0.0f, 1.0f);
}

// Signed pulse count for a requested conductance change: stochastic rounding of
// request / dg_per_pulse (unbiased: E[n] = request / dg_per_pulse), clipped to +-max_pulses.
ANALOGTORCH_HD int pulses_for(float request_us, const Params& p, float u) {
  const float exact = detmath::clamp(request_us / p.dg_per_pulse_us, static_cast<float>(-p.max_pulses),
                                     static_cast<float>(p.max_pulses));
  const float whole = detmath::floor_small(exact);  // |exact| <= max_pulses
  const int n = static_cast<int>(whole) + (u < exact - whole ? 1 : 0);
  return n;
}

// Applies n signed pulses within the rails. Far from the rail it moves toward, a pulse's step does
// not depend on V_C, so the n steps dv f (1 + c2c z_k) sum to n dv f + dv f c2c sqrt(n) Z: the same
// distribution from one normal instead of n (the truncation of a step at 0 lies 1/c2c = 10 sigma
// out). Near the rail, and with soft bounds, the pulses are applied one at a time.
ANALOGTORCH_HD float apply_pulses(float v_c_v, int n, const Cell& cell, const Params& p, RandomCursor& noise) {
  const bool up = n > 0;
  const int count = up ? n : -n;
  const float factor = up ? cell.up : cell.down;
  const float nominal = p.dv_pulse_v * factor;
  if (!p.soft_bounds && count > 0) {
    // A generous bound on the excursion: every step at 1 + 6 c2c of its mean.
    const float reach = static_cast<float>(count) * nominal * (1.0f + 6.0f * p.c2c_sigma);
    const bool clear = up ? v_c_v + reach <= p.v_max_v - p.rail_margin_v : v_c_v - reach >= p.v_min_v + p.rail_margin_v;
    if (clear) {
      const float spread = nominal * p.c2c_sigma * detmath::sqrt(static_cast<float>(count));
      const float total = detmath::fmax_(static_cast<float>(count) * nominal + spread * noise.normal(), 0.0f);
      return detmath::clamp(up ? v_c_v + total : v_c_v - total, p.v_min_v, p.v_max_v);
    }
  }
  for (int pulse = 0; pulse < count; ++pulse) {
    const float step = nominal * step_scale(v_c_v, up, p) * detmath::fmax_(1.0f + p.c2c_sigma * noise.normal(), 0.0f);
    v_c_v = detmath::clamp(up ? v_c_v + step : v_c_v - step, p.v_min_v, p.v_max_v);
  }
  return v_c_v;
}

// Leakage: V_C relaxes toward V_leak, V_C <- V_leak + (V_C - V_leak) exp(-dt / tau).
ANALOGTORCH_HD float leak(float v_c_v, float decay, float v_leak_v) { return v_leak_v + (v_c_v - v_leak_v) * decay; }

// exp(-elapsed / tau); no time elapsed is no decay, even for a tau that underflows float32.
ANALOGTORCH_HD float leak_decay(float elapsed_s, float tau_s) {
  return elapsed_s > 0.0f ? detmath::exp(-elapsed_s / tau_s) : 1.0f;
}

}  // namespace capacitor
}  // namespace analogtorch
