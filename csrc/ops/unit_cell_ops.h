// Host side of the unit-cell ops (weight, its backward, transfer) for any backend.
#pragma once

#include <cmath>

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>

#include <tuple>

#include "../checks.h"
#include "../params.h"
#include "capacitor_ops.h"
#include "analogtorch/kernels/unit_cell.h"

namespace analogtorch {
namespace impl {

inline void check_floating(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, name,
              ": expected a float32 or float64 tensor, got ", t.scalar_type());
}

inline void check_like(const at::Tensor& t, const char* name, const at::Tensor& ref, const char* ref_name) {
  TORCH_CHECK(t.scalar_type() == ref.scalar_type(), name, ": expected the dtype of ", ref_name, ", got ",
              t.scalar_type(), " (", ref_name, " is ", ref.scalar_type(), ")");
  checks::same_device(t, name, ref, ref_name);
  checks::same_shape(t, name, ref, ref_name);
}

template <typename Backend>
at::Tensor unit_cell_weight(const at::Tensor& g_plus_us, const at::Tensor& g_minus_us, const at::Tensor& v_c,
                            const at::Tensor& variation, int64_t polarity, c10::ArrayRef<double> capacitor_params,
                            double gain_f, const at::Tensor& v_shared, const at::Tensor& variation_shared,
                            double scale_us_per_unit, bool check_values) {
  checks::on_device_type(g_plus_us, "g_plus_us", Backend::kDeviceType);
  check_floating(g_plus_us, "g_plus_us");
  check_like(g_minus_us, "g_minus_us", g_plus_us, "g_plus_us");
  check_like(v_c, "v_c", g_plus_us, "g_plus_us");
  checks::cell_variation(variation, g_plus_us, "g_plus_us");
  checks::polarity(polarity, "polarity");
  checks::finite_scalar(gain_f, "gain_f");
  reference_stride(v_shared, variation_shared, v_c, "v_c");  // checks the references' shapes
  checks::positive(scale_us_per_unit, "scale_us_per_unit");
  const capacitor::Params params = params::capacitor(capacitor_params);
  constexpr double kG = checks::kMaxConductanceUs;
  if (check_values) {
    checks::finite_values({{g_plus_us, "g_plus_us", -kG, kG},
                           {g_minus_us, "g_minus_us", -kG, kG},
                           {v_c, "v_c", params.v_min_v, params.v_max_v},
                           {v_shared, "v_shared", params.v_min_v, params.v_max_v}});
  }
  const typename Backend::DeviceGuard device_guard(g_plus_us.device());
  const at::Tensor g_plus = g_plus_us.contiguous(), g_minus = g_minus_us.contiguous(), v = v_c.contiguous();
  const at::Tensor var = variation.contiguous(), ref_v = v_shared.contiguous(), ref_var = variation_shared.contiguous();
  at::Tensor weight = at::empty_like(g_plus, at::MemoryFormat::Contiguous);
  AT_DISPATCH_FLOATING_TYPES(g_plus.scalar_type(), "unit_cell_weight", [&] {
    const kernels::ReadCurve curve = kernels::ReadCurve::of(params);
    const at::Tensor g_shared = reference_per_cell<Backend, scalar_t>(ref_v, ref_var, v, curve);
    kernels::with_read_exponent(params.read_exponent, [&](auto exponent) {
      const kernels::UnitCellWeight<scalar_t, decltype(exponent)::value> kernel{g_plus.const_data_ptr<scalar_t>(),
                                                                             g_minus.const_data_ptr<scalar_t>(),
                                                                             v.const_data_ptr<scalar_t>(),
                                                                             var.const_data_ptr<int8_t>(),
                                                                             g_shared.const_data_ptr<scalar_t>(),
                                                                             weight.mutable_data_ptr<scalar_t>(),
                                                                             curve,
                                                                             static_cast<int>(polarity),
                                                                             static_cast<scalar_t>(gain_f),
                                                                             static_cast<scalar_t>(scale_us_per_unit)};
      Backend::for_each(g_plus.numel(), kernel);
    });
  });
  return weight;
}

template <typename Backend>
std::tuple<at::Tensor, at::Tensor, at::Tensor> unit_cell_weight_backward(
    const at::Tensor& grad_weight, const at::Tensor& v_c, const at::Tensor& variation, int64_t polarity,
    c10::ArrayRef<double> capacitor_params, double gain_f, double scale_us_per_unit) {
  checks::on_device_type(grad_weight, "grad_weight", Backend::kDeviceType);
  check_floating(grad_weight, "grad_weight");
  check_like(v_c, "v_c", grad_weight, "grad_weight");
  checks::cell_variation(variation, grad_weight, "grad_weight");
  checks::polarity(polarity, "polarity");
  checks::finite_scalar(gain_f, "gain_f");
  checks::positive(scale_us_per_unit, "scale_us_per_unit");
  const capacitor::Params params = params::capacitor(capacitor_params);
  const typename Backend::DeviceGuard device_guard(grad_weight.device());
  const at::Tensor grad = grad_weight.contiguous(), v = v_c.contiguous(), var = variation.contiguous();
  at::Tensor grad_g_plus = at::empty_like(grad, at::MemoryFormat::Contiguous);
  at::Tensor grad_g_minus = at::empty_like(grad_g_plus);
  at::Tensor grad_v_c = at::empty_like(grad_g_plus);
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "unit_cell_weight_backward", [&] {
    const kernels::UnitCellWeightBackward<scalar_t> kernel{grad.const_data_ptr<scalar_t>(),
                                                           v.const_data_ptr<scalar_t>(),
                                                           var.const_data_ptr<int8_t>(),
                                                           grad_g_plus.mutable_data_ptr<scalar_t>(),
                                                           grad_g_minus.mutable_data_ptr<scalar_t>(),
                                                           grad_v_c.mutable_data_ptr<scalar_t>(),
                                                           kernels::ReadCurve::of(params),
                                                           static_cast<int>(polarity),
                                                           static_cast<scalar_t>(gain_f),
                                                           static_cast<scalar_t>(scale_us_per_unit)};
    Backend::for_each(grad.numel(), kernel);
  });
  return {grad_g_plus, grad_g_minus, grad_v_c};
}

template <typename Backend>
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> transfer(
    const at::Tensor& g_plus_us, const at::Tensor& g_minus_us, const at::Tensor& v_c, const at::Tensor& variation,
    const at::Tensor& rng, int64_t polarity, int64_t next_polarity, c10::ArrayRef<double> pcm_params,
    c10::ArrayRef<double> capacitor_params, double gain_f, const at::Tensor& v_shared,
    const at::Tensor& variation_shared, double offset_us,
    double time_since_programming_s, bool closed_loop, bool read_noise, bool keep_weight, bool check_values,
    double rescale) {
  checks::on_device_type(g_plus_us, "g_plus_us", Backend::kDeviceType);
  checks::float32(g_plus_us, "g_plus_us");
  checks::cell_state(g_minus_us, "g_minus_us", g_plus_us, "g_plus_us");
  checks::cell_state(v_c, "v_c", g_plus_us, "g_plus_us");
  checks::cell_variation(variation, g_plus_us, "g_plus_us");
  checks::rng_state(rng, g_plus_us, "g_plus_us");
  checks::polarity(polarity, "polarity");
  checks::polarity(next_polarity, "next_polarity");
  checks::positive(gain_f, "gain_f");
  const int64_t stride = reference_stride(v_shared, variation_shared, v_c, "v_c");
  checks::non_negative(offset_us, "offset_us");
  checks::non_negative(time_since_programming_s, "time_since_programming_s");
  checks::positive(rescale, "rescale");
  const pcm::ProgrammingParams programming = params::programming(pcm_params);
  const capacitor::Params cap = params::capacitor(capacitor_params);
  // As UnitCell validates it: after a transfer the capacitor may carry up to twice the offset,
  // which its nominal upward swing g(v_max_v) - g(v_init_v) must allow.
  const double exponent = capacitor_params[13], k = capacitor_params[5], v_t = capacitor_params[3];
  const double swing = k * std::pow(capacitor_params[1] - v_t, exponent) - k * std::pow(capacitor_params[2] - v_t, exponent);
  TORCH_CHECK(2.0 * offset_us <= swing, "offset_us: expected <= half the capacitor's upward swing g(v_max_v) - ",
              "g(v_init_v) (", swing, " uS), got ", offset_us);
  constexpr double kG = checks::kMaxConductanceUs;
  if (check_values) {
    checks::finite_values({{g_plus_us, "g_plus_us", -kG, kG},
                           {g_minus_us, "g_minus_us", -kG, kG},
                           {v_c, "v_c", cap.v_min_v, cap.v_max_v},
                           {v_shared, "v_shared", cap.v_min_v, cap.v_max_v}});
  }
  const typename Backend::DeviceGuard device_guard(g_plus_us.device());
  const at::Tensor g_plus = g_plus_us.contiguous(), g_minus = g_minus_us.contiguous(), v = v_c.contiguous();
  const at::Tensor var = variation.contiguous(), rng_state = rng.contiguous();
  const at::Tensor ref_v = v_shared.contiguous(), ref_var = variation_shared.contiguous();
  at::Tensor g_plus_out = at::empty_like(g_plus, at::MemoryFormat::Contiguous);
  at::Tensor g_minus_out = at::empty_like(g_plus_out), nu_plus = at::empty_like(g_plus_out);
  at::Tensor nu_minus = at::empty_like(g_plus_out), v_out = at::empty_like(g_plus_out);
  at::Tensor pulses = at::empty_like(g_plus_out, g_plus_out.options().dtype(at::kInt));
  at::Tensor iterations = at::empty_like(pulses);
  const kernels::Transfer kernel{g_plus.const_data_ptr<float>(),
                                 g_minus.const_data_ptr<float>(),
                                 v.const_data_ptr<float>(),
                                 var.const_data_ptr<int8_t>(),
                                 rng_state.const_data_ptr<int64_t>(),
                                 g_plus_out.mutable_data_ptr<float>(),
                                 g_minus_out.mutable_data_ptr<float>(),
                                 nu_plus.mutable_data_ptr<float>(),
                                 nu_minus.mutable_data_ptr<float>(),
                                 v_out.mutable_data_ptr<float>(),
                                 pulses.mutable_data_ptr<int32_t>(),
                                 iterations.mutable_data_ptr<int32_t>(),
                                 programming,
                                 cap,
                                 kernels::ReadCurve::of(cap),
                                 {ref_v.const_data_ptr<float>(), ref_var.const_data_ptr<int8_t>(), stride},
                                 static_cast<float>(gain_f),
                                 static_cast<float>(offset_us),
                                 static_cast<int>(polarity),
                                 static_cast<int>(next_polarity),
                                 pcm::read_time(static_cast<float>(time_since_programming_s), programming.read),
                                 closed_loop,
                                 read_noise,
                                 keep_weight,
                                 static_cast<float>(rescale)};
  Backend::for_each(g_plus.numel(), kernel);
  return {g_plus_out, g_minus_out, nu_plus, nu_minus, v_out, pulses, iterations};
}

}  // namespace impl
}  // namespace analogtorch
