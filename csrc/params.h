// Decoding and validation of the parameter lists that ops take (`float[] pcm_params`,
// `float[] capacitor_params`). The order is the order of the fields of analogtorch.config's
// PCMDevice and Capacitor3T1C named in analogtorch/_ops.py (PCM_PARAM_FIELDS, CAPACITOR_PARAM_FIELDS).
#pragma once

#include <c10/util/ArrayRef.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <limits>

#include "analogtorch/capacitor.h"
#include "analogtorch/pcm.h"

namespace analogtorch {
namespace params {

class Reader {
 public:
  Reader(c10::ArrayRef<double> values, const char* list_name, size_t expected) : values_(values), list_(list_name) {
    TORCH_CHECK(values.size() == expected, list_name, ": expected ", expected, " values, got ", values.size());
  }

  double at(size_t index, const char* field) const {
    const double value = values_[index];
    TORCH_CHECK(std::isfinite(value) && std::abs(value) <= 3.4028234663852886e38, list_, "[", field,
                "]: expected a finite number (float32 range), got ", value);
    return value;
  }
  // Positive fields stay positive in float32: at least its smallest normal number (kernels may
  // flush subnormals to zero, and a step of 0 divides to Inf).
  double positive(size_t index, const char* field) const {
    const double value = at(index, field);
    TORCH_CHECK(value > 0.0 && static_cast<float>(value) >= std::numeric_limits<float>::min(), list_, "[", field,
                "]: expected a number > 0 (in float32 at least ", std::numeric_limits<float>::min(), "), got ", value);
    return value;
  }
  double non_negative(size_t index, const char* field) const {
    const double value = at(index, field);
    TORCH_CHECK(value >= 0.0, list_, "[", field, "]: expected a number >= 0, got ", value);
    return value;
  }
  int integer(size_t index, const char* field, int lo, int hi) const {
    const double value = at(index, field);
    TORCH_CHECK(value == std::floor(value) && value >= lo && value <= hi, list_, "[", field, "]: expected an integer in [",
                lo, ", ", hi, "], got ", value);
    return static_cast<int>(value);
  }
  const char* list() const { return list_; }

 private:
  c10::ArrayRef<double> values_;
  const char* list_;
};

constexpr size_t kPcmParamCount = 14;

inline pcm::ProgrammingParams programming(c10::ArrayRef<double> values) {
  const Reader r(values, "pcm_params", kPcmParamCount);
  pcm::ProgrammingParams p;
  p.g_max_us = static_cast<float>(r.positive(0, "g_max_us"));
  p.g_reset_us = static_cast<float>(r.non_negative(1, "g_reset_us"));
  p.target_clip_us = static_cast<float>(r.positive(2, "target_clip_us"));
  p.set_step_us = static_cast<float>(r.positive(3, "set_step_us"));
  p.set_step_c2c = static_cast<float>(r.non_negative(4, "set_step_c2c"));
  p.set_step_d2d = static_cast<float>(r.non_negative(5, "set_step_d2d"));
  p.tolerance_us = static_cast<float>(r.positive(6, "verify_tolerance_us"));
  // Bounded so that one device's draws stay within the counter's 65,536 blocks and the time is finite.
  p.max_iterations = r.integer(7, "max_iterations", 1, 1000);
  p.max_resets = r.integer(8, "max_resets", 0, 50);
  p.approach_fraction = static_cast<float>(r.positive(9, "approach_fraction"));
  p.verify_delay_s = static_cast<float>(r.non_negative(10, "verify_delay_s"));
  p.read.g_max_us = p.g_max_us;
  p.read.t0_s = static_cast<float>(r.positive(11, "t0_s"));
  p.read.t_read_s = static_cast<float>(r.positive(12, "t_read_s"));
  p.read_noise = r.integer(13, "read_noise", 0, 1) == 1;
  p.verify_time = pcm::read_time(p.verify_delay_s, p.read);
  // Compared as given (double), as the Python configuration validates them: float32 rounding may
  // make a valid g_reset_us < target_clip_us equal, which the physics tolerates.
  TORCH_CHECK(values[1] < values[2] && values[2] <= values[0],
              "pcm_params: expected g_reset_us < target_clip_us <= g_max_us, got ", values[1], ", ", values[2], ", ",
              values[0]);
  TORCH_CHECK(p.approach_fraction <= 1.0f, "pcm_params[approach_fraction]: expected a number in (0, 1], got ",
              p.approach_fraction);
  // As PCMDevice validates it: a spread of 1 or more makes a device's step size 0 or negative.
  TORCH_CHECK(p.set_step_d2d < 1.0f, "pcm_params[set_step_d2d]: expected a number in [0, 1) (in float32), got ",
              values[5]);
  return p;
}

constexpr size_t kCapacitorParamCount = 16;

inline capacitor::Params capacitor(c10::ArrayRef<double> values) {
  const Reader r(values, "capacitor_params", kCapacitorParamCount);
  capacitor::Params p;
  p.v_min_v = static_cast<float>(r.at(0, "v_min_v"));
  p.v_max_v = static_cast<float>(r.at(1, "v_max_v"));
  p.v_init_v = static_cast<float>(r.at(2, "v_init_v"));
  p.v_t_v = static_cast<float>(r.at(3, "v_t_v"));
  p.v_t_sigma_v = static_cast<float>(r.non_negative(4, "v_t_sigma_v"));
  p.k_us_per_v2 = static_cast<float>(r.positive(5, "k_us_per_v2"));
  p.dv_pulse_v = static_cast<float>(r.positive(6, "dv_pulse_v"));
  p.mismatch_sigma = static_cast<float>(r.non_negative(7, "mismatch_sigma"));
  p.c2c_sigma = static_cast<float>(r.non_negative(8, "c2c_sigma"));
  p.rail_margin_v = static_cast<float>(r.positive(9, "rail_margin_v"));
  p.soft_bounds = r.integer(10, "soft_bounds", 0, 1) == 1;
  p.max_pulses = static_cast<float>(r.integer(11, "max_pulses", 1, 127));
  p.read_exponent = static_cast<float>(r.at(13, "read_exponent"));
  TORCH_CHECK(p.read_exponent >= 1.0f && p.read_exponent <= 2.0f,
              "capacitor_params[read_exponent]: expected a number in [1, 2], got ", values[13]);
  p.down_up_ratio = static_cast<float>(r.positive(14, "down_up_ratio"));
  p.step_slope_per_v = static_cast<float>(r.non_negative(15, "step_slope_per_v"));
  TORCH_CHECK(p.v_min_v < p.v_init_v && p.v_init_v < p.v_max_v,
              "capacitor_params: expected v_min_v < v_init_v < v_max_v, got ", p.v_min_v, ", ", p.v_init_v, ", ",
              p.v_max_v);
  // The cross-field rules of Capacitor3T1C, compared as given (double) as Python compares them.
  const double v_min = values[0], v_max = values[1], v_init = values[2], v_t = values[3];
  const double span = v_max - v_min;
  TORCH_CHECK(v_t < v_init, "capacitor_params[v_t_v]: expected < v_init_v (", v_init, "), got ", v_t,
              " (the read curve would be flat at v_init_v)");
  TORCH_CHECK(values[6] < span, "capacitor_params[dv_pulse_v]: expected < v_max_v - v_min_v (", span, "), got ",
              values[6]);
  TORCH_CHECK(values[9] < span / 2.0, "capacitor_params[rail_margin_v]: expected < (v_max_v - v_min_v) / 2 (",
              span / 2.0, "), got ", values[9]);
  const double g_top = values[5] * std::pow(v_max - v_t, values[13]);
  TORCH_CHECK(std::isfinite(g_top) && g_top <= 3.4028234663852886e38,
              "capacitor_params[k_us_per_v2]: expected g(v_max_v) = k_us_per_v2 (v_max_v - v_t_v)^read_exponent within "
              "float32's range, got ", g_top);
  // Last: a flat read curve (v_t_v >= v_init_v) makes it 0, and the message above says why.
  p.dg_per_pulse_us = static_cast<float>(r.positive(12, "dg_per_pulse_us"));
  return p;
}

}  // namespace params
}  // namespace analogtorch
