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

// One cell's pulses for a requested weight change (the capacitor term carries the polarity p, so
// raising W by dW needs g to move by p dW). Draw order: the stochastic rounding, then one normal
// per pulse.
ANALOGTORCH_HD float update_cell(float v_c, float delta_w_us, int polarity, const capacitor::Cell& cell,
                                 const capacitor::Params& p, RandomCursor& cursor, int& pulses) {
  pulses = capacitor::pulses_for(static_cast<float>(polarity) * delta_w_us, p, cursor.uniform());
  return capacitor::apply_pulses(v_c, pulses, cell, p, cursor);
}

// Bytes per cell: 4 (V_C) + 3 (variation) + 4 (dW) read; 4 (V_C) + 1 (pulses) written = 16.
struct CapacitorUpdate {
  const float* v_c;           // [n] capacitor voltage
  const int8_t* variation;    // [n, 3]
  const float* delta_w_us;    // [n] requested change of W
  const int64_t* rng;         // [2]
  float* v_c_out;             // [n]
  int8_t* pulses_out;         // [n] signed pulses applied
  capacitor::Params params;
  int polarity;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    RandomCursor cursor(seed, RandomStream::kCapacitorUpdate, static_cast<uint64_t>(i), step);
    const capacitor::Cell cell = capacitor::decode_cell(variation + i * capacitor::kVariationFields, params);
    int pulses;
    v_c_out[i] = update_cell(v_c[i], delta_w_us[i], polarity, cell, params, cursor, pulses);
    pulses_out[i] = static_cast<int8_t>(pulses);
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

// The training step of a 2PCM+3T1C array, in place: pulses, leak, and the cached network weight.
// Bytes per cell: 4 (V_C) + 4 (G+) + 4 (G-) + 3 (variation) + 4 (dW) read;
// 4 (V_C) + 4 (w) + 1 (pulses) written = 28.
struct CapacitorStep {
  float* v_c;                 // [n] in/out
  float* weight;              // [n] out: w = W_uS / scale
  const float* g_plus_us;     // [n]
  const float* g_minus_us;    // [n]
  const int8_t* variation;    // [n, 3]
  const float* delta_w_us;    // [n]
  const int64_t* rng;         // [2]
  int8_t* pulses_out;         // [n]
  capacitor::Params params;
  int polarity;
  float decay;
  float v_leak_v;
  float gain_f;
  float g_shared_us;
  float scale_us_per_unit;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    RandomCursor cursor(seed, RandomStream::kCapacitorUpdate, static_cast<uint64_t>(i), step);
    const capacitor::Cell cell = capacitor::decode_cell(variation + i * capacitor::kVariationFields, params);
    int pulses;
    float v = update_cell(v_c[i], delta_w_us[i], polarity, cell, params, cursor, pulses);
    v = capacitor::leak(v, decay, v_leak_v);
    v_c[i] = v;
    pulses_out[i] = static_cast<int8_t>(pulses);
    const float g = capacitor::read_conductance_us(v, cell.v_t_v, params.k_us_per_v2);
    weight[i] = unit_cell::weight_us(g_plus_us[i], g_minus_us[i], g, polarity, gain_f, g_shared_us) / scale_us_per_unit;
  }
};

}  // namespace kernels
}  // namespace analogtorch
