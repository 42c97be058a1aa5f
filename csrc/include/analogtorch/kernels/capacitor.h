// Element kernels of the 3T1C ops: cell_variation, capacitor_update, capacitor_leak and the fused
// capacitor_step_ (update + leak + recompute of the cached weight in one pass).
#pragma once

#include <stdint.h>

#include <type_traits>

#include "analogtorch/capacitor.h"
#include "analogtorch/random.h"
#include "analogtorch/unit_cell.h"

namespace analogtorch {
namespace kernels {

// The read curve's exponent as an element loop sees it: 1 and 2 known at compile time, any other
// a value. A run-time choice among them inside the loop (capacitor::power) keeps GCC from
// vectorising it; the ops choose once per launch (with_read_exponent).
enum class ReadExponent { kLinear, kSquare, kOther };

template <typename Launch>
void with_read_exponent(float exponent, Launch&& launch) {
  if (exponent == 1.0f) {
    launch(std::integral_constant<ReadExponent, ReadExponent::kLinear>{});
  } else if (exponent == 2.0f) {
    launch(std::integral_constant<ReadExponent, ReadExponent::kSquare>{});
  } else {
    launch(std::integral_constant<ReadExponent, ReadExponent::kOther>{});
  }
}

// The read curve g(V_C) = k max(V_C - V_T,cell, 0)^alpha with each cell's own threshold.
struct ReadCurve {
  float v_t_v, v_t_sigma_v, k_us_per_v2, exponent;

  static ANALOGTORCH_HD ReadCurve of(const capacitor::Params& p) {
    return {p.v_t_v, p.v_t_sigma_v, p.k_us_per_v2, p.read_exponent};
  }

  template <typename T>
  ANALOGTORCH_HD T threshold(const int8_t* variation) const {
    return static_cast<T>(v_t_v) +
           static_cast<T>(v_t_sigma_v) * static_cast<T>(capacitor::dequantize_standard_normal(variation[2]));
  }

  template <typename T>
  ANALOGTORCH_HD T conductance_us(T v_c_v, const int8_t* variation) const {
    return capacitor::read_conductance_us(v_c_v, threshold<T>(variation), static_cast<T>(k_us_per_v2),
                                          static_cast<T>(exponent));
  }

  // The same bits as conductance_us, with the exponent's kind fixed at compile time.
  template <ReadExponent kExponent, typename T>
  ANALOGTORCH_HD T conductance_us_of(T v_c_v, const int8_t* variation) const {
    const T v_t = threshold<T>(variation);
    const T overdrive = v_c_v > v_t ? v_c_v - v_t : T(0);
    if constexpr (kExponent == ReadExponent::kLinear) {
      return static_cast<T>(k_us_per_v2) * overdrive;
    } else if constexpr (kExponent == ReadExponent::kSquare) {
      return static_cast<T>(k_us_per_v2) * (overdrive * overdrive);
    } else if constexpr (std::is_same_v<T, float>) {  // capacitor::power for an exponent in (1, 2), as a select
      const float powered = detmath::pow_pos(overdrive > 0.0f ? overdrive : 1.0f, exponent);
      return k_us_per_v2 * (overdrive > 0.0f ? powered : 0.0f);
    } else {
      return static_cast<T>(k_us_per_v2) * capacitor::power(overdrive, static_cast<T>(exponent));
    }
  }
};

// The shared reference cells g_shared (ED Fig 9: 3T1C devices like the cells, with their own
// threshold, never pulsed): one per row of `stride` cells, i.e. per output of the weight matrix
// [out, in]; stride 0 means one reference for all cells.
template <typename T>
struct Reference {
  const T* v_c;             // [rows] or a single value
  const int8_t* variation;  // [rows, 3] (only the threshold is used)
  int64_t stride;

  ANALOGTORCH_HD int64_t row(int64_t cell) const { return stride > 0 ? cell / stride : 0; }

  ANALOGTORCH_HD T conductance_us(int64_t cell, const ReadCurve& curve) const {
    const int64_t r = row(cell);
    return curve.conductance_us<T>(v_c[r], variation + r * capacitor::kVariationFields);
  }

  // Its conductance at v (a re-initialised reference reads g_shared(v_init)).
  ANALOGTORCH_HD T conductance_at_us(int64_t cell, T v, const ReadCurve& curve) const {
    return curve.conductance_us<T>(v, variation + row(cell) * capacitor::kVariationFields);
  }
};

// Each shared reference's conductance (one per row of cells, or one for all): computed once per
// call, then handed to the element loops per cell (reference_per_cell), whose row index would
// otherwise be an integer division that keeps them from vectorising.
template <typename T>
struct ReferenceConductance {
  Reference<T> references;  // stride 1: element r is reference r
  T* conductance_us;        // [rows]
  ReadCurve curve;

  ANALOGTORCH_HD void operator()(int64_t r) const { conductance_us[r] = references.conductance_us(r, curve); }
};

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
//      the cell's blocks 1, 2, ...; with hard bounds, CapacitorSumPulses (vectorised) and then
//      CapacitorApplyPulses for the cells it marked near a rail only, the same bits.
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

// Pass 2: n pulses one at a time (soft bounds: every cell that pulses; hard bounds: only the cells
// CapacitorSumPulses marked in `one_by_one`, from V_C as it left them).
// Bytes per cell: 4 (V_C) + 1 (pulses) read, 4 written; + 3 (variation) where it pulses.
struct CapacitorApplyPulses {
  const float* v_c;           // [n] before the pulses (may alias v_c_out)
  const int8_t* variation;    // [n, 3]
  const int8_t* pulses;       // [n] from pass 1
  const int64_t* rng;         // [2]
  const uint8_t* one_by_one;  // [n] 1: this cell's pulses go one at a time; null: every cell's
  float* v_c_out;             // [n]
  capacitor::Params params;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    const int n = pulses[i];
    if (n == 0 || (one_by_one != nullptr && !one_by_one[i])) {
      if (v_c_out != v_c) v_c_out[i] = v_c[i];
      return;
    }
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    RandomCursor noise(seed, RandomStream::kCapacitorUpdate, static_cast<uint64_t>(i), step, /*first_block=*/1);
    const capacitor::Cell cell = capacitor::decode_cell(variation + i * capacitor::kVariationFields, params);
    v_c_out[i] = capacitor::apply_pulses(v_c[i], n, cell, params, noise);
  }
};

// Pass 2 with hard bounds, vectorised (the same bits as CapacitorApplyPulses for every cell): a cell
// whose pulses keep clear of the rail takes their sum with one normal (the first normal of its
// block 1, as RandomCursor would give it); a cell with no pulse keeps V_C; the others keep V_C and
// are marked for CapacitorApplyPulses. Bytes per cell: 4 (V_C) + 1 (pulses) + 3 (variation) read, 4 + 1 written.
struct CapacitorSumPulses {
  const float* v_c;         // [n] before the pulses (may alias v_c_out)
  const int8_t* variation;  // [n, 3]
  const int8_t* pulses;     // [n] from pass 1
  const int64_t* rng;       // [2]
  float* v_c_out;           // [n]
  uint8_t* one_by_one;      // [n] 1: near a rail, CapacitorApplyPulses takes its pulses one at a time
  capacitor::Params params;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const float n = static_cast<float>(pulses[i]);  // whole numbers as floats: one type in the vector loop
    const float v = v_c[i];
    const capacitor::Direction direction = capacitor::Direction::of(n > 0.0f);
    const float count = direction.pick(n, -n);
    const capacitor::Cell cell = capacitor::decode_cell(variation + i * capacitor::kVariationFields, params);
    const float nominal = capacitor::nominal_step_v(direction, cell, params);
    const Philox4x32Block block =
        random_block_at(seed, RandomStream::kCapacitorUpdate, static_cast<uint64_t>(i), step, /*index=*/1);
    float z, unused;
    box_muller(block.v[0], block.v[1], z, unused);
    const bool clear = capacitor::pulses_clear_of_rail(v, count, direction, nominal, params);
    const float summed = capacitor::summed_pulses(v, count > 0.0f ? count : 1.0f, direction, nominal, params, z);
    v_c_out[i] = count > 0.0f && clear ? summed : v;
    one_by_one[i] = count > 0.0f && !clear ? 1 : 0;
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
// + 4 (the reference's conductance) read; 4 (V_C) + 4 (w) written. The whole step moves
// 16 + 9 + 27 = 52 bytes per cell in 3 passes.
template <ReadExponent kExponent>
struct CapacitorLeakWeight {
  float* v_c;                    // [n] in/out
  float* weight;                 // [n] out: w = W_uS / scale
  const float* g_plus_us;        // [n]
  const float* g_minus_us;       // [n]
  const int8_t* variation;       // [n, 3]
  const float* g_shared_us;      // [n] each cell's reference, already leaked over the step
  ReadCurve curve;
  int polarity;
  float decay;
  float v_leak_v;
  float gain_f;
  float scale_us_per_unit;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    const float v = capacitor::leak(v_c[i], decay, v_leak_v);
    v_c[i] = v;
    const float g = curve.conductance_us_of<kExponent, float>(v, variation + i * capacitor::kVariationFields);
    weight[i] = unit_cell::weight_us(g_plus_us[i], g_minus_us[i], g, polarity, gain_f, g_shared_us[i]) / scale_us_per_unit;
  }
};

}  // namespace kernels
}  // namespace analogtorch
