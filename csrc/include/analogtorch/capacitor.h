// The 3T1C cell: capacitor voltage V_C updated by pulses, leaking between steps, read through a
// transistor as g(V_C). docs/physics.md section 1 (Ambrogio et al. 2018, Extended Data Figs 2, 9, 10).
// The shared reference g_shared is a 3T1C cell of the same kind (same laws, its own threshold), never
// pulsed. Voltages in V, conductances in uS, times in s.
#pragma once

#include <math.h>
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
  float k_us_per_v2;        // read-curve gain, uS / V^read_exponent
  float read_exponent;      // alpha of g = k (V_C - V_T)^alpha, in [1, 2]: 1 triode (linear), 2 square law
  float dv_pulse_v;         // nominal step of one up pulse at v_init
  float down_up_ratio;      // nominal down step / nominal up step (pull-down vs pull-up source)
  float step_slope_per_v;   // relative change of a step per volt of its pulling transistor's headroom
  float mismatch_sigma;     // per-cell spread of the up and down factors
  float c2c_sigma;          // per-pulse spread
  float rail_margin_v;      // hard bounds: the step falls to zero within this distance of the rail
  bool soft_bounds;         // the step shrinks linearly across the whole range instead
  float max_pulses;         // per cell per update: an integer in [1, 127], held as a float (an int bound
                            // converted in the loop let GCC jump-thread the rounding and give up vectorising)
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

// x^a for x >= 0 and a in [0, 2]. The exponents 0, 1 and 2 are exact; others go through detmath
// (float, bit-identical on every backend) or libm (float64: the gradcheck path only).
ANALOGTORCH_HD float power(float x, float a) {
  if (a == 0.0f) return 1.0f;
  if (a == 1.0f) return x;
  if (a == 2.0f) return x * x;
  return x > 0.0f ? detmath::pow_pos(x, a) : 0.0f;
}
ANALOGTORCH_HD double power(double x, double a) {
  if (a == 0.0) return 1.0;
  if (a == 1.0) return x;
  if (a == 2.0) return x * x;
  return x > 0.0 ? ::pow(x, a) : 0.0;
}

// Read curve g(V_C) = k max(V_C - V_T, 0)^alpha (the alpha-power law of a MOSFET; alpha = 1 is the
// channel conductance in the triode region, alpha = 2 the square law). Templated so that the
// differentiable unit_cell_weight op can run in float64 for gradcheck.
template <typename T>
ANALOGTORCH_HD T read_conductance_us(T v_c_v, T v_t_v, T k_us_per_v2, T exponent) {
  const T overdrive = v_c_v > v_t_v ? v_c_v - v_t_v : T(0);
  return k_us_per_v2 * power(overdrive, exponent);
}

// Slope dg/dV_C of the read curve: alpha k overdrive^(alpha - 1) above V_T, 0 at and below it.
template <typename T>
ANALOGTORCH_HD T read_slope_us_per_v(T v_c_v, T v_t_v, T k_us_per_v2, T exponent) {
  if (!(v_c_v > v_t_v)) return T(0);
  return exponent * k_us_per_v2 * power(v_c_v - v_t_v, exponent - T(1));
}

// The voltage at which the nominal read curve (threshold v_t_v) gives g_us: the periphery's inverse,
// which knows no cell's own threshold.
ANALOGTORCH_HD float voltage_for_conductance(float g_us, const Params& p) {
  const float ratio = detmath::fmax_(g_us, 0.0f) / p.k_us_per_v2;
  const float overdrive = p.read_exponent == 1.0f   ? ratio
                          : p.read_exponent == 2.0f ? detmath::sqrt(ratio)
                          : (ratio > 0.0f ? detmath::pow_pos(ratio, 1.0f / p.read_exponent) : 0.0f);
  return detmath::clamp(p.v_t_v + overdrive, p.v_min_v, p.v_max_v);
}

// How much of the nominal step a pulse moves V_C at V_C (ED Fig 10: the step depends on V_C, with
// separate up and down curves). The pulling transistor's current grows with its headroom, the
// distance to the rail it pulls toward (channel-length modulation: 1 + slope (room - room at
// v_init)), and falls to zero at that rail: linearly within rail_margin_v (hard bounds) or across
// the whole span from v_init (soft bounds).
ANALOGTORCH_HD float step_scale(float v_c_v, bool up, const Params& p) {
  const float room = up ? p.v_max_v - v_c_v : v_c_v - p.v_min_v;
  const float span = up ? p.v_max_v - p.v_init_v : p.v_init_v - p.v_min_v;
  const float headroom = detmath::fmax_(1.0f + p.step_slope_per_v * (room - span), 0.0f);
  const float edge = detmath::clamp(room / (p.soft_bounds ? span : p.rail_margin_v), 0.0f, 1.0f);
  return headroom * edge;
}

// The direction of a pulse train as an exact 0/1 weight: pick(a, b) is a going up and b going down
// (finite a and b: 1 * a + 0 * b is a). Written as a blend, not a select: GCC jump-threads a
// condition that many selects share into branches, and then cannot vectorise the loop.
struct Direction {
  float up01;

  static ANALOGTORCH_HD Direction of(bool up) { return {up ? 1.0f : 0.0f}; }
  ANALOGTORCH_HD float pick(float a, float b) const { return up01 * a + (1.0f - up01) * b; }
};

// step_scale with hard bounds (the same bits when !p.soft_bounds).
ANALOGTORCH_HD float step_scale_hard(float v_c_v, Direction d, const Params& p) {
  const float room = d.pick(p.v_max_v - v_c_v, v_c_v - p.v_min_v);
  const float span = d.pick(p.v_max_v - p.v_init_v, p.v_init_v - p.v_min_v);
  const float headroom = detmath::fmax_(1.0f + p.step_slope_per_v * (room - span), 0.0f);
  const float edge = detmath::clamp(room / p.rail_margin_v, 0.0f, 1.0f);
  return headroom * edge;
}

// Signed pulse count for a requested conductance change: stochastic rounding of
// request / dg_per_pulse (unbiased: E[n] = request / dg_per_pulse), clipped to +-max_pulses.
ANALOGTORCH_HD int pulses_for(float request_us, const Params& p, float u) {
  const float exact = detmath::clamp(request_us / p.dg_per_pulse_us, -p.max_pulses, p.max_pulses);
  const float whole = detmath::floor_small(exact);  // |exact| <= max_pulses
  const int n = static_cast<int>(whole) + (u < exact - whole ? 1 : 0);
  return n;
}

// Applies n signed pulses within the rails. Far from the rail it moves toward, a pulse's step varies
// with V_C only through the gentle headroom slope, so the n steps dv f s (1 + c2c z_k) sum to
// n dv f s_mid + dv f s_mid c2c sqrt(n) Z, with s_mid the step scale where the mean pulse starts,
// (n - 1) / 2 steps away (exact for a constant step, second order in the slope): the same distribution from one normal
// instead of n (the truncation of a step at 0 lies 1/c2c = 10 sigma out). Near the rail, and with
// soft bounds, the pulses are applied one at a time. The pieces are separate so that a vectorised
// pass (kernels::CapacitorSumPulses) takes the summed path with the same bits.

// The nominal step of one pulse of this cell, up or down.
ANALOGTORCH_HD float nominal_step_v(Direction d, const Cell& cell, const Params& p) {
  return p.dv_pulse_v * d.pick(cell.up, cell.down * p.down_up_ratio);
}

// Hard bounds: whether count pulses of `nominal` keep clear of the rail's margin, on a generous
// bound of the excursion (every step at 1 + 6 c2c of its mean, at the largest headroom factor).
// Counts are whole numbers held as floats (exact), so that a vectorised loop stays in one type.
ANALOGTORCH_HD bool pulses_clear_of_rail(float v_c_v, float count, Direction d, float nominal, const Params& p) {
  const float span = d.pick(p.v_max_v - p.v_init_v, p.v_init_v - p.v_min_v);
  const float widest = 1.0f + p.step_slope_per_v * detmath::fmax_(p.v_max_v - p.v_min_v - span, 0.0f);
  const float reach = count * nominal * widest * (1.0f + 6.0f * p.c2c_sigma);
  // Going up, v + reach <= v_max - margin; down, v - reach >= v_min + margin (b - a >= 0 exactly
  // when a <= b).
  return d.pick((p.v_max_v - p.rail_margin_v) - (v_c_v + reach), (v_c_v - reach) - (p.v_min_v + p.rail_margin_v)) >= 0.0f;
}

// The summed path: count pulses with one standard normal z (valid when pulses_clear_of_rail).
ANALOGTORCH_HD float summed_pulses(float v_c_v, float count, Direction d, float nominal, const Params& p, float z) {
  const float first = nominal * step_scale_hard(v_c_v, d, p);
  // The k-th pulse (k = 0 .. n-1) starts about k steps away: the mean step is at (n - 1) / 2.
  const float half_way = 0.5f * (count - 1.0f) * first;
  const float mean = nominal * step_scale_hard(d.pick(v_c_v + half_way, v_c_v - half_way), d, p);
  const float spread = mean * p.c2c_sigma * detmath::sqrt(count);
  const float total = detmath::fmax_(count * mean + spread * z, 0.0f);
  return detmath::clamp(d.pick(v_c_v + total, v_c_v - total), p.v_min_v, p.v_max_v);
}

ANALOGTORCH_HD float apply_pulses(float v_c_v, int n, const Cell& cell, const Params& p, RandomCursor& noise) {
  const bool up = n > 0;
  const int count = up ? n : -n;
  const Direction direction = Direction::of(up);
  const float nominal = nominal_step_v(direction, cell, p);
  const float pulses = static_cast<float>(count);
  if (!p.soft_bounds && count > 0 && pulses_clear_of_rail(v_c_v, pulses, direction, nominal, p)) {
    return summed_pulses(v_c_v, pulses, direction, nominal, p, noise.normal());
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
