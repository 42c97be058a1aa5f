// C++ API of analogtorch: typed wrappers that call the registered ops through the dispatcher, so
// that C++ users get the same kernels (CPU or CUDA, by the tensors' device) as Python users.
// Each function documents its op in csrc/ops.cpp and analogtorch/_ops.py.
//
// Conventions: conductances in uS, voltages in V, times in s; `rng` is an int64 tensor [2] =
// (seed, step) on the device of the data (make one with make_rng_state). `pcm_params` and
// `capacitor_params` list the fields of PcmParams and CapacitorParams below, in order.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <tuple>
#include <vector>

namespace analogtorch {

// The device parameters, with the defaults of analogtorch.config (docs/physics.md gives their sources).
struct PcmParams {
  double g_max_us = 25.0, g_reset_us = 0.1, target_clip_us = 20.0;
  double set_step_us = 2.0, set_step_c2c = 0.5, set_step_d2d = 0.2;
  double verify_tolerance_us = 0.5;
  int max_iterations = 20, max_resets = 2;
  double approach_fraction = 0.5, verify_delay_s = 1e-6, t0_s = 20.0, t_read_s = 250e-9;
  bool read_noise = true;
  std::vector<double> list() const;
};

struct CapacitorParams {
  double v_min_v = 0.0, v_max_v = 1.0, v_init_v = 0.5, v_t_v = 0.3, v_t_sigma_v = 0.02, k_us_per_v2 = 50.0;
  double dv_pulse_v = 0.001, mismatch_sigma = 0.1, c2c_sigma = 0.1, rail_margin_v = 0.05;
  bool soft_bounds = false;
  int max_pulses = 15;
  double read_exponent = 1.0, down_up_ratio = 1.0, step_slope_per_v = 0.1;
  double v_leak_v = 0.8, tau_s = 1.0;  // leakage (not part of list())
  double g_shared_us() const;       // read curve at v_init_v, nominal threshold
  double dg_per_pulse_us() const;   // read-curve slope at v_init_v times dv_pulse_v
  std::vector<double> list() const;
};

// An rng state (seed, step) on `device`. The same state gives the same bits on every device.
at::Tensor make_rng_state(uint64_t seed, int64_t step = 0, c10::Device device = c10::Device(c10::kCPU));

// Programs PCM devices; returns (conductance_us, drift_nu, pulses, iterations, converged).
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> pcm_program(
    const at::Tensor& target_us, const at::Tensor& rng, const PcmParams& params = {}, bool closed_loop = true,
    int64_t device_stride = 1, int64_t device_offset = 0);

// Reads PCM devices time_s seconds after programming: drift, then fresh 1/f read noise.
at::Tensor pcm_read(const at::Tensor& conductance_us, const at::Tensor& drift_nu, const at::Tensor& rng,
                    double time_s, double g_max_us = 25.0, double t0_s = 20.0, double t_read_s = 250e-9,
                    bool read_noise = true);

// The drifted conductance and the variance of its 1/f read noise at time_s (no draw); returns
// (mean_us, variance_us2).
std::tuple<at::Tensor, at::Tensor> pcm_read_moments(const at::Tensor& conductance_us, const at::Tensor& drift_nu,
                                                    double time_s, double g_max_us = 25.0, double t0_s = 20.0,
                                                    double t_read_s = 250e-9);

// Weights (uS of G+ - G-) as freshly programmed pairs read at a time drawn log-uniformly from
// [time_min_s, time_max_s]; returns (drifted G+ - G-, its read-noise variance, the time drawn [1]).
std::tuple<at::Tensor, at::Tensor, at::Tensor> hardware_aware_read(const at::Tensor& weight_us, const at::Tensor& rng,
                                                                   const PcmParams& params = {},
                                                                   bool closed_loop = true, double time_min_s = 1.0,
                                                                   double time_max_s = 86400.0);

// y + N(0, variance) per element: the read noise of an array read's outputs, whose variance is
// sum_j sigma_ij^2 x_j^2 (one matrix product of the devices' variances with x^2).
at::Tensor add_read_noise(const at::Tensor& y, const at::Tensor& variance, const at::Tensor& rng);

// Each 3T1C cell's fixed variation, int8 [*shape, 3].
at::Tensor cell_variation(const at::Tensor& rng, at::IntArrayRef shape);

// Pulses for a requested change of W; returns (v_c, pulses).
std::tuple<at::Tensor, at::Tensor> capacitor_update(const at::Tensor& v_c, const at::Tensor& variation,
                                                    const at::Tensor& delta_w_us, const at::Tensor& rng,
                                                    int64_t polarity, const CapacitorParams& params = {});

// One in-situ training step of 2PCM + 3T1C cells, in place: pulses for delta_w_us, leakage over
// elapsed_s, then `weight` recomputed (in network units). Returns the pulses applied.
// v_shared / variation_shared: the shared reference cells, shape [] or one per row of the cells
// (leak them first with capacitor_leak); undefined: one nominal reference at v_init_v.
at::Tensor capacitor_step_(at::Tensor& v_c, at::Tensor& weight, const at::Tensor& g_plus_us,
                           const at::Tensor& g_minus_us, const at::Tensor& variation, const at::Tensor& delta_w_us,
                           const at::Tensor& rng, int64_t polarity, double elapsed_s, double gain_f = 3.0,
                           double scale_us_per_unit = 1.0, const CapacitorParams& params = {},
                           const at::Tensor& v_shared = {}, const at::Tensor& variation_shared = {});

// One in-situ training step of bare PCM pairs, in place: partial-SET pulses for delta_w_us, a
// refresh of pairs whose device passed refresh_us, then `weight` recomputed. Returns
// (pulses, refreshed).
std::tuple<at::Tensor, at::Tensor> pcm_pair_step_(at::Tensor& g_plus_us, at::Tensor& g_minus_us, at::Tensor& weight,
                                                  const at::Tensor& delta_w_us, const at::Tensor& rng,
                                                  const PcmParams& pcm = {}, double gain_f = 3.0,
                                                  double scale_us_per_unit = 1.0, double amplitude = 0.05,
                                                  int64_t max_pulses = 15, double refresh_us = 20.0);

// Leakage toward v_leak_v over elapsed_s.
at::Tensor capacitor_leak(const at::Tensor& v_c, double elapsed_s, double tau_s = 1.0, double v_leak_v = 0.8);

// w = (F (G+ - G-) + p (g(V_C) - g_shared)) / scale.
at::Tensor unit_cell_weight(const at::Tensor& g_plus_us, const at::Tensor& g_minus_us, const at::Tensor& v_c,
                            const at::Tensor& variation, int64_t polarity, double gain_f = 3.0,
                            double scale_us_per_unit = 1.0, const CapacitorParams& params = {},
                            const at::Tensor& v_shared = {}, const at::Tensor& variation_shared = {});

// The Nature 2018 transfer (re-initialise the reference to v_init_v afterwards), programming rescale * W
// (a new weight-to-uS mapping; 1 keeps it); returns (g_plus, g_minus, nu_plus, nu_minus, v_c, pulses, iterations).
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> transfer(
    const at::Tensor& g_plus_us, const at::Tensor& g_minus_us, const at::Tensor& v_c, const at::Tensor& variation,
    const at::Tensor& rng, int64_t polarity, int64_t next_polarity, double gain_f = 3.0, double offset_us = 2.0,
    double time_since_programming_s = 0.0, const PcmParams& pcm = {}, const CapacitorParams& capacitor = {},
    bool closed_loop = true, bool read_noise = true, bool keep_weight = true, const at::Tensor& v_shared = {},
    const at::Tensor& variation_shared = {}, double rescale = 1.0);

// A DAC/ADC: y = Q(clip(x + noise_std * bound * N(0,1), -bound, bound)).
at::Tensor quantize(const at::Tensor& x, const at::Tensor& rng, int64_t bits = 8, double bound = 1.0,
                    double noise_std = 0.0);

}  // namespace analogtorch
