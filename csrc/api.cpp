// The C++ API (analogtorch/ops.h): calls through the dispatcher, like torch.ops.analogtorch.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/full.h>
#include <ATen/ops/tensor.h>
#include <ATen/ops/zeros.h>

#include <utility>

#include "analogtorch/capacitor.h"
#include "analogtorch/ops.h"

namespace analogtorch {
namespace {

template <typename Signature>
c10::TypedOperatorHandle<Signature> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

using Tensor = at::Tensor;
using ParamList = c10::ArrayRef<double>;

}  // namespace

std::vector<double> PcmParams::list() const {
  return {g_max_us,     g_reset_us,     target_clip_us,    set_step_us,       set_step_c2c,
          set_step_d2d, verify_tolerance_us, static_cast<double>(max_iterations), static_cast<double>(max_resets),
          approach_fraction, verify_delay_s, t0_s, t_read_s, read_noise ? 1.0 : 0.0};
}

double CapacitorParams::g_shared_us() const {
  return capacitor::read_conductance_us(v_init_v, v_t_v, k_us_per_v2, read_exponent);
}

double CapacitorParams::dg_per_pulse_us() const {
  return capacitor::read_slope_us_per_v(v_init_v, v_t_v, k_us_per_v2, read_exponent) * dv_pulse_v;
}

std::vector<double> CapacitorParams::list() const {
  return {v_min_v,        v_max_v,   v_init_v,      v_t_v,          v_t_sigma_v,
          k_us_per_v2,    dv_pulse_v, mismatch_sigma, c2c_sigma,     rail_margin_v,
          soft_bounds ? 1.0 : 0.0, static_cast<double>(max_pulses), dg_per_pulse_us(), read_exponent,
          down_up_ratio,  step_slope_per_v};
}

namespace {

// The shared reference given, or one nominal reference cell at v_init_v for all cells.
std::pair<Tensor, Tensor> reference_or_nominal(const Tensor& v_shared, const Tensor& variation_shared,
                                               const Tensor& cells, const CapacitorParams& params) {
  if (v_shared.defined()) return {v_shared, variation_shared};
  return {at::full({}, params.v_init_v, cells.options()),
          at::zeros({capacitor::kVariationFields}, cells.options().dtype(at::kChar))};
}

}  // namespace

Tensor make_rng_state(uint64_t seed, int64_t step, c10::Device device) {
  TORCH_CHECK(step >= 0, "step: expected an integer >= 0, got ", step);
  const std::vector<int64_t> state{static_cast<int64_t>(seed), step};
  return at::tensor(state, at::TensorOptions().dtype(at::kLong)).to(device);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor> pcm_program(const Tensor& target_us, const Tensor& rng,
                                                               const PcmParams& params, bool closed_loop,
                                                               int64_t device_stride, int64_t device_offset) {
  static const auto op = find_op<std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor>(
      const Tensor&, const Tensor&, ParamList, bool, int64_t, int64_t)>("analogtorch::pcm_program");
  return op.call(target_us, rng, params.list(), closed_loop, device_stride, device_offset);
}

Tensor pcm_read(const Tensor& conductance_us, const Tensor& drift_nu, const Tensor& rng, double time_s,
                double g_max_us, double t0_s, double t_read_s, bool read_noise) {
  static const auto op = find_op<Tensor(const Tensor&, const Tensor&, const Tensor&, double, double, double, double,
                                        bool)>("analogtorch::pcm_read");
  return op.call(conductance_us, drift_nu, rng, time_s, g_max_us, t0_s, t_read_s, read_noise);
}

std::tuple<Tensor, Tensor> pcm_read_moments(const Tensor& conductance_us, const Tensor& drift_nu, double time_s,
                                            double g_max_us, double t0_s, double t_read_s) {
  static const auto op = find_op<std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, double, double, double,
                                                            double)>("analogtorch::pcm_read_moments");
  return op.call(conductance_us, drift_nu, time_s, g_max_us, t0_s, t_read_s);
}

std::tuple<Tensor, Tensor, Tensor> hardware_aware_read(const Tensor& weight_us, const Tensor& rng,
                                                       const PcmParams& params, bool closed_loop, double time_min_s,
                                                       double time_max_s) {
  static const auto op = find_op<std::tuple<Tensor, Tensor, Tensor>(const Tensor&, const Tensor&, ParamList, bool,
                                                                    double, double)>(
      "analogtorch::hardware_aware_read");
  return op.call(weight_us, rng, params.list(), closed_loop, time_min_s, time_max_s);
}

Tensor add_read_noise(const Tensor& y, const Tensor& variance, const Tensor& rng) {
  static const auto op = find_op<Tensor(const Tensor&, const Tensor&, const Tensor&)>("analogtorch::add_read_noise");
  return op.call(y, variance, rng);
}

Tensor cell_variation(const Tensor& rng, at::IntArrayRef shape) {
  static const auto op = find_op<Tensor(const Tensor&, at::IntArrayRef)>("analogtorch::cell_variation");
  return op.call(rng, shape);
}

std::tuple<Tensor, Tensor> capacitor_update(const Tensor& v_c, const Tensor& variation, const Tensor& delta_w_us,
                                            const Tensor& rng, int64_t polarity, const CapacitorParams& params) {
  static const auto op = find_op<std::tuple<Tensor, Tensor>(const Tensor&, const Tensor&, const Tensor&,
                                                            const Tensor&, int64_t, ParamList)>(
      "analogtorch::capacitor_update");
  return op.call(v_c, variation, delta_w_us, rng, polarity, params.list());
}

Tensor capacitor_leak(const Tensor& v_c, double elapsed_s, double tau_s, double v_leak_v) {
  static const auto op = find_op<Tensor(const Tensor&, double, double, double, bool)>("analogtorch::capacitor_leak");
  return op.call(v_c, elapsed_s, tau_s, v_leak_v, /*check_values=*/true);
}

Tensor capacitor_step_(Tensor& v_c, Tensor& weight, const Tensor& g_plus_us, const Tensor& g_minus_us,
                       const Tensor& variation, const Tensor& delta_w_us, const Tensor& rng, int64_t polarity,
                       double elapsed_s, double gain_f, double scale_us_per_unit, const CapacitorParams& params,
                       const Tensor& v_shared, const Tensor& variation_shared) {
  static const auto op =
      find_op<Tensor(Tensor&, Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                     int64_t, ParamList, double, double, double, double, const Tensor&, const Tensor&, double, bool)>(
          "analogtorch::capacitor_step_");
  const auto [ref_v, ref_var] = reference_or_nominal(v_shared, variation_shared, v_c, params);
  return op.call(v_c, weight, g_plus_us, g_minus_us, variation, delta_w_us, rng, polarity, params.list(), elapsed_s,
                 params.tau_s, params.v_leak_v, gain_f, ref_v, ref_var, scale_us_per_unit, /*check_values=*/true);
}

std::tuple<Tensor, Tensor> pcm_pair_step_(Tensor& g_plus_us, Tensor& g_minus_us, Tensor& weight,
                                          const Tensor& delta_w_us, const Tensor& rng, const PcmParams& pcm,
                                          double gain_f, double scale_us_per_unit, double amplitude,
                                          int64_t max_pulses, double refresh_us) {
  static const auto op = find_op<std::tuple<Tensor, Tensor>(Tensor&, Tensor&, Tensor&, const Tensor&, const Tensor&,
                                                            ParamList, double, double, double, int64_t, double, bool)>(
      "analogtorch::pcm_pair_step_");
  return op.call(g_plus_us, g_minus_us, weight, delta_w_us, rng, pcm.list(), gain_f, scale_us_per_unit, amplitude,
                 max_pulses, refresh_us, /*check_values=*/true);
}

Tensor unit_cell_weight(const Tensor& g_plus_us, const Tensor& g_minus_us, const Tensor& v_c,
                        const Tensor& variation, int64_t polarity, double gain_f, double scale_us_per_unit,
                        const CapacitorParams& params, const Tensor& v_shared, const Tensor& variation_shared) {
  static const auto op =
      find_op<Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int64_t, ParamList, double,
                     const Tensor&, const Tensor&, double, bool)>("analogtorch::unit_cell_weight");
  const auto [ref_v, ref_var] = reference_or_nominal(v_shared, variation_shared, v_c, params);
  return op.call(g_plus_us, g_minus_us, v_c, variation, polarity, params.list(), gain_f, ref_v, ref_var,
                 scale_us_per_unit, /*check_values=*/true);
}

std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor> transfer(
    const Tensor& g_plus_us, const Tensor& g_minus_us, const Tensor& v_c, const Tensor& variation, const Tensor& rng,
    int64_t polarity, int64_t next_polarity, double gain_f, double offset_us, double time_since_programming_s,
    const PcmParams& pcm, const CapacitorParams& capacitor, bool closed_loop, bool read_noise, bool keep_weight,
    const Tensor& v_shared, const Tensor& variation_shared, double rescale) {
  static const auto op = find_op<std::tuple<Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor>(
      const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, int64_t, int64_t, ParamList,
      ParamList, double, const Tensor&, const Tensor&, double, double, bool, bool, bool, bool, double)>(
      "analogtorch::transfer");
  const auto [ref_v, ref_var] = reference_or_nominal(v_shared, variation_shared, v_c, capacitor);
  return op.call(g_plus_us, g_minus_us, v_c, variation, rng, polarity, next_polarity, pcm.list(), capacitor.list(),
                 gain_f, ref_v, ref_var, offset_us, time_since_programming_s, closed_loop, read_noise, keep_weight,
                 /*check_values=*/true, rescale);
}

Tensor quantize(const Tensor& x, const Tensor& rng, int64_t bits, double bound, double noise_std) {
  static const auto op =
      find_op<Tensor(const Tensor&, const Tensor&, int64_t, double, double)>("analogtorch::quantize");
  return op.call(x, rng, bits, bound, noise_std);
}

}  // namespace analogtorch
