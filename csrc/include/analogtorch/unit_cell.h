// The Nature 2018 unit cell: two PCM devices and a 3T1C cell per weight (docs/physics.md section 1).
//   W_uS = F (G+ - G-) + p (g(V_C) - g_shared),   network weight w = W_uS / scale_us_per_unit
// Transfer rule (every transfer_every examples): W_t = W - p' (offset + g(0.5 V) - g_shared);
// both PCM devices are RESET and the one on W_t's side is programmed to |W_t| / F, unless
// 0 <= p' W_t <= offset (then the pair stays RESET and the capacitor carries the residual in its
// easy direction); V_C returns to its initial value and p flips.
#pragma once

#include <stdint.h>

#include "analogtorch/capacitor.h"
#include "analogtorch/macros.h"
#include "analogtorch/pcm.h"

namespace analogtorch {
namespace unit_cell {

template <typename T>
ANALOGTORCH_HD T weight_us(T g_plus_us, T g_minus_us, T g_capacitor_us, int polarity, T gain_f, T g_shared_us) {
  return gain_f * (g_plus_us - g_minus_us) + static_cast<T>(polarity) * (g_capacitor_us - g_shared_us);
}

// The PCM pair's target at a transfer, in uS of W (before division by F).
ANALOGTORCH_HD float transfer_target_us(float weight_us, float g_capacitor_init_us, float g_shared_us, int next_polarity,
                                        float offset_us) {
  return weight_us - static_cast<float>(next_polarity) * (offset_us + g_capacitor_init_us - g_shared_us);
}

// Whether a target is left to the capacitor (the pair stays RESET): 0 <= p' W_t <= offset.
ANALOGTORCH_HD bool pair_stays_reset(float target_us, int next_polarity, float offset_us) {
  const float along = static_cast<float>(next_polarity) * target_us;
  return along >= 0.0f && along <= offset_us;
}

}  // namespace unit_cell
}  // namespace analogtorch
