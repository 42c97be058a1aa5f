// Element kernels of the 3T1C ops: cell_variation, capacitor_update, capacitor_leak and the fused
// capacitor_step_ (update + leak + recompute of the cached weight in one pass).
#pragma once

#include <stdint.h>

#include "analogtorch/capacitor.h"
#include "analogtorch/random.h"
#include "analogtorch/unit_cell.h"

namespace analogtorch {
namespace kernels {

// Draws each cell's fixed variation. Bytes per cell: 3 written.
struct CellVariation {
  const int64_t* rng;  // [2] (seed, step)
  int8_t* variation;   // [n, 3] quantised standard normals: up, down, threshold

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    // One block's four words give two Box-Muller pairs: up and down from the first, the
    // threshold from the second.
    const Philox4x32Block block = random_block(seed, RandomStream::kCellVariation, static_cast<uint64_t>(i), step);
    float up, down, threshold, unused;
    box_muller(block.v[0], block.v[1], up, down);
    box_muller(block.v[2], block.v[3], threshold, unused);
    int8_t* out = variation + i * capacitor::kVariationFields;
    out[0] = capacitor::quantize_standard_normal(up);
    out[1] = capacitor::quantize_standard_normal(down);
    out[2] = capacitor::quantize_standard_normal(threshold);
  }
};

// A capacitor update runs in passes, so that the work every cell does (random rounding, leak,
// weight) vectorises and only the cells that pulse run the per-pulse loop:
//   1. CapacitorPulseCount: n = stochastic_round(p dW / dg_per_pulse), clipped (the capacitor term
//      carries the polarity p, so raising W by dW needs g to move by p dW). Its uniform is word 0
//      of the cell's first random block.
//   2. CapacitorApplyPulses: n pulses one at a time, each with its cycle-to-cycle normal drawn from
//      the cell's blocks 1, 2, ...
//   3. CapacitorLeakWeight (capacitor_step_ only): leak over the step, then the cached weight.

// Pass 1. Bytes per cell: 4 (dW) read, 1 (pulses) written.
struct CapacitorPulseCount {
  const float* delta_w_us;  // [n] requested change of W
  const int64_t* rng;       // [2]
  int8_t* pulses_out;       // [n] signed pulse counts
  capacitor::Params params;
  int polarity;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const float u =
        uniform_closed0(random_block(seed, RandomStream::kCapacitorUpdate, static_cast<uint64_t>(i), step).v[0]);
    pulses_out[i] = static_cast<int8_t>(capacitor::pulses_for(static_cast<float>(polarity) * delta_w_us[i], params, u));
  }
};

// Pass 2. Bytes per cell: 4 (V_C) + 1 (pulses) read, 4 written; + 3 (variation) where it pulses.
struct CapacitorApplyPulses {
  const float* v_c;         // [n] before the pulses (may alias v_c_out)
  const int8_t* variation;  // [n, 3]
  const int8_t* pulses;     // [n] from pass 1
  const int64_t* rng;       // [2]
  float* v_c_out;           // [n]
  capacitor::Params params;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    const int n = pulses[i];
    if (n == 0) {
      v_c_out[i] = v_c[i];
      return;
    }
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    RandomCursor noise(seed, RandomStream::kCapacitorUpdate, static_cast<uint64_t>(i), step, /*first_block=*/1);
    const capacitor::Cell cell = capacitor::decode_cell(variation + i * capacitor::kVariationFields, params);
    v_c_out[i] = capacitor::apply_pulses(v_c[i], n, cell, params, noise);
  }
};

// Bytes per cell: 4 read, 4 written.
struct CapacitorLeak {
  const float* v_c;
  float* v_c_out;
  float decay;  // exp(-elapsed / tau), computed once per call
  float v_leak_v;

  ANALOGTORCH_HD void operator()(int64_t i) const { v_c_out[i] = capacitor::leak(v_c[i], decay, v_leak_v); }
};

// Pass 3 of capacitor_step_, in place. Bytes per cell: 4 (V_C) + 4 (G+) + 4 (G-) + 3 (variation)
// read; 4 (V_C) + 4 (w) written. The whole step moves 16 + 9 + 23 = 48 bytes per cell in 3 passes.
struct CapacitorLeakWeight {
  float* v_c;                 // [n] in/out
  float* weight;              // [n] out: w = W_uS / scale
  const float* g_plus_us;     // [n]
  const float* g_minus_us;    // [n]
  const int8_t* variation;    // [n, 3]
  capacitor::Params params;
  int polarity;
  float decay;
  float v_leak_v;
  float gain_f;
  float g_shared_us;
  float scale_us_per_unit;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    const float v = capacitor::leak(v_c[i], decay, v_leak_v);
    v_c[i] = v;
    const capacitor::Cell cell = capacitor::decode_cell(variation + i * capacitor::kVariationFields, params);
    const float g = capacitor::read_conductance_us(v, cell.v_t_v, params.k_us_per_v2);
    weight[i] = unit_cell::weight_us(g_plus_us[i], g_minus_us[i], g, polarity, gain_f, g_shared_us) / scale_us_per_unit;
  }
};

}  // namespace kernels
}  // namespace analogtorch
