// PCM device laws for inference: programming noise, drift, 1/f read noise.
// Source: Joshi et al., Nat. Commun. 11, 2473 (2020); Nandakumar et al., ICECS 2019.
// All conductances in microsiemens (uS), times in seconds (s).
#pragma once

#include "analogtorch/detmath.h"
#include "analogtorch/macros.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace pcm {

struct DriftParams {
  float g_max_us;   // conductance range of one device
  float t0_s;       // time of the first read after programming; drift is measured from it
  float t_read_s;   // duration of one read, sets the low-frequency cut-off of 1/f noise
};

// Programming noise: sigma_p(x) = max(0.26348 + 1.9650 x - 1.1731 x^2, 0) * (G_max / 25) uS,
// x = G_T / G_max (Joshi 2020, Methods).
ANALOGTORCH_HD float programming_sigma_us(float g_target_us, float g_max_us) {
  const float x = g_target_us / g_max_us;
  const float poly = 0.26348f + 1.9650f * x - 1.1731f * (x * x);
  return detmath::fmax_(poly, 0.0f) * (g_max_us / 25.0f);
}

// Open-loop programming: G_p = max(G_T + sigma_p * z, 0), clipped to G_max.
ANALOGTORCH_HD float program_open_loop_us(float g_target_us, float g_max_us, float z) {
  const float g = g_target_us + programming_sigma_us(g_target_us, g_max_us) * z;
  return detmath::clamp(g, 0.0f, g_max_us);
}

// ln x, x = G_p / G_max floored at 1e-7: the drift-exponent and read-noise laws both depend on it,
// and a kernel that needs both computes it once (a NaN or negative ratio becomes the floor).
ANALOGTORCH_HD float log_relative_conductance(float g_programmed_us, float g_max_us) {
  return detmath::log(detmath::fmax_(g_programmed_us / g_max_us, 1e-7f));
}

// Drift exponent of one device: nu = |N(mu_nu(x), sigma_nu(x))| (Joshi 2020), from ln x.
ANALOGTORCH_HD float drift_exponent_from_log(float ln_x, float z) {
  const float mu = detmath::clamp(-0.0155f * ln_x + 0.0244f, 0.049f, 0.1f);
  const float sigma = detmath::clamp(-0.0125f * ln_x - 0.0059f, 0.008f, 0.045f);
  return detmath::fabs_(mu + sigma * z);
}

ANALOGTORCH_HD float drift_exponent(float g_programmed_us, float g_max_us, float z) {
  return drift_exponent_from_log(log_relative_conductance(g_programmed_us, g_max_us), z);
}

// The time-dependent factors of a read at time t, the same for every device: computed once per
// op call (keeping loop-invariant transcendentals out of the element loops lets them vectorise).
struct ReadTime {
  float log_t_over_t0;  // ln(t / t0), 0 for t <= t0 (G_p is the conductance read at t0)
  float noise_growth;   // sqrt(ln((t + t_r) / (2 t_r))), 0 for t <= t_r (no 1/f noise accumulated yet)
};

ANALOGTORCH_HD ReadTime read_time(float t_s, const DriftParams& p) {
  // Beyond 1e30 s (1e22 years) the laws mean nothing; the cap keeps (t + t_r) / (2 t_r) finite.
  t_s = detmath::fmin_(t_s, 1e30f);
  ReadTime r;
  r.log_t_over_t0 = t_s > p.t0_s ? detmath::log(t_s / p.t0_s) : 0.0f;
  r.noise_growth = detmath::sqrt(detmath::fmax_(detmath::log((t_s + p.t_read_s) / (2.0f * p.t_read_s)), 0.0f));
  return r;
}

// Drift: G(t) = G_p (t / t0)^-nu = G_p exp(-nu ln(t / t0)); exactly G_p for t <= t0.
ANALOGTORCH_HD float drifted_us(float g_programmed_us, float nu, const ReadTime& r) {
  return g_programmed_us * detmath::exp(-nu * r.log_t_over_t0);
}

// Standard deviation of the 1/f read noise at time t:
// |G(t)| Q_s sqrt(ln((t + t_r) / (2 t_r))), Q_s = min(0.0088 / max(x_p^0.65, 1e-3), 0.2),
// x_p = G_p / G_max. The logarithm is negative for t < t_r: it is clamped at 0 (read_time).
ANALOGTORCH_HD float read_noise_sigma_us(float g_t_us, float g_programmed_us, const ReadTime& r, float g_max_us) {
  // x_p < 0 (invalid input) gives NaN from the power, which the max turns into 1e-3: Q_s = 0.2.
  const float x_p = g_programmed_us / g_max_us;
  const float q_s = detmath::fmin_(0.0088f / detmath::fmax_(detmath::pow_pos(x_p, 0.65f), 1e-3f), 0.2f);
  return detmath::fabs_(g_t_us) * q_s * r.noise_growth;
}

// The same from ln x (log_relative_conductance), bit for bit: below its floor x^0.65 < 3e-5 is
// under the 1e-3 floor of Q_s either way, and a NaN or negative x reaches that floor in both.
ANALOGTORCH_HD float read_noise_sigma_from_log_us(float g_t_us, float ln_x, const ReadTime& r) {
  const float q_s = detmath::fmin_(0.0088f / detmath::fmax_(detmath::exp(0.65f * ln_x), 1e-3f), 0.2f);
  return detmath::fabs_(g_t_us) * q_s * r.noise_growth;
}

// One read at time t: drift, then fresh read noise (standard normal z), floored at 0. NaN (from a
// NaN conductance or exponent) propagates: the floor would make it a plausible 0.
ANALOGTORCH_HD float read_us(float g_programmed_us, float nu, const ReadTime& r, float g_max_us, float z) {
  const float g_t = drifted_us(g_programmed_us, nu, r);
  const float read = g_t + read_noise_sigma_us(g_t, g_programmed_us, r, g_max_us) * z;
  return detmath::is_nan(read) ? read : detmath::fmax_(read, 0.0f);
}

// ---------------------------------------------------------------------------------------------
// Closed-loop programming (program-and-verify), docs/physics.md section 1, after Ambrogio et al. 2018.
// ---------------------------------------------------------------------------------------------

struct ProgrammingParams {
  float g_max_us;            // device range
  float g_reset_us;          // conductance after RESET
  float target_clip_us;      // targets are clipped here: control degrades near G_max
  float set_step_us;         // dG0: mean partial-SET step from RESET
  float set_step_c2c;        // cycle-to-cycle spread of a step, relative to its mean
  float set_step_d2d;        // device-to-device spread of dG0, relative
  float tolerance_us;        // verify tolerance
  int max_iterations;        // verify reads per attempt
  int max_resets;            // RESET-and-retry attempts after an overshoot
  float approach_fraction;   // the controller aims each pulse at this fraction of the remaining error
  float verify_delay_s;      // pulse-to-verify delay: sets the verify read's 1/f noise
  DriftParams read;          // read-noise law of the verify reads
  ReadTime verify_time;      // read_time(verify_delay_s, read), computed once
  bool read_noise;           // false: verify reads are exact
};

struct ProgrammingResult {
  float conductance_us;
  int pulses;      // partial-SET pulses applied (RESETs not counted)
  int iterations;  // verify reads
  bool converged;  // the last verify read was within tolerance
};

// The partial-SET step scale of one device, fixed for its lifetime: dG0 (1 + d2d z), floored at
// 5% of dG0 so that no device is unprogrammable.
ANALOGTORCH_HD float device_set_step_us(const ProgrammingParams& p, float z) {
  return p.set_step_us * detmath::fmax_(1.0f + p.set_step_d2d * z, 0.05f);
}

// One partial-SET pulse of relative amplitude a in (0, 1]: mean dG = a dG0_dev (1 - G / G_max),
// spread c2c of the mean, never negative (a SET pulse does not lower G).
ANALOGTORCH_HD float partial_set_us(float g_us, float amplitude, float device_step_us, const ProgrammingParams& p,
                                    float z) {
  const float mean = amplitude * device_step_us * detmath::fmax_(1.0f - g_us / p.g_max_us, 0.0f);
  const float step = mean * detmath::fmax_(1.0f + p.set_step_c2c * z, 0.0f);
  return detmath::fmin_(g_us + step, p.g_max_us);
}

// Program-and-verify from RESET. Each iteration reads G (with the verify read's noise); within
// tolerance it stops; below the target it applies one partial-SET pulse whose amplitude the
// controller chooses from the nominal step (it does not know the device's own); above the target
// (overshoot) it RESETs and starts again, at most max_resets times.
// Draws: `pulses` for the steps, `verify` for the reads.
ANALOGTORCH_HD ProgrammingResult program_closed_loop(float target_us, float device_step_us, const ProgrammingParams& p,
                                                     RandomCursor& pulses, RandomCursor& verify) {
  const float target = detmath::clamp(target_us, 0.0f, p.target_clip_us);
  ProgrammingResult result{p.g_reset_us, 0, 0, false};
  for (int attempt = 0; attempt <= p.max_resets; ++attempt) {
    float g = p.g_reset_us;  // RESET
    bool overshoot = false;
    for (int iteration = 0; iteration < p.max_iterations; ++iteration) {
      const float read =
          p.read_noise ? g + read_noise_sigma_us(g, g, p.verify_time, p.g_max_us) * verify.normal() : g;
      ++result.iterations;
      const float error = target - read;
      if (detmath::fabs_(error) <= p.tolerance_us) {
        result.conductance_us = g;
        result.converged = true;
        return result;
      }
      if (error < 0.0f) {
        overshoot = true;
        break;
      }
      if (iteration + 1 == p.max_iterations) break;  // a last pulse could not be verified
      const float nominal_full_step = p.set_step_us * detmath::fmax_(1.0f - read / p.g_max_us, 1e-3f);
      const float amplitude = detmath::fmin_(p.approach_fraction * error / nominal_full_step, 1.0f);
      g = partial_set_us(g, amplitude, device_step_us, p, pulses.normal());
      ++result.pulses;
    }
    result.conductance_us = g;
    if (!overshoot) break;  // out of iterations below the target: a RESET would not help
  }
  return result;
}

}  // namespace pcm
}  // namespace analogtorch
