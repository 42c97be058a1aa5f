// Host side of the 3T1C ops for any backend: checks, allocation, launch.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/empty_like.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "../checks.h"
#include "../params.h"
#include "analogtorch/kernels/capacitor.h"

namespace analogtorch {
namespace impl {

template <typename Backend>
at::Tensor cell_variation(const at::Tensor& rng, c10::IntArrayRef shape) {
  checks::on_device_type(rng, "rng", Backend::kDeviceType);
  checks::rng_state(rng, rng, "rng");
  for (const int64_t size : shape) TORCH_CHECK(size >= 0, "shape: expected sizes >= 0, got ", shape);
  const typename Backend::DeviceGuard device_guard(rng.device());
  std::vector<int64_t> sizes(shape.begin(), shape.end());
  sizes.push_back(capacitor::kVariationFields);
  at::Tensor variation = at::empty(sizes, rng.options().dtype(at::kChar));
  const at::Tensor rng_state = rng.contiguous();
  const kernels::CellVariation kernel{rng_state.const_data_ptr<int64_t>(), variation.mutable_data_ptr<int8_t>()};
  Backend::for_each(variation.numel() / capacitor::kVariationFields, kernel);
  return variation;
}

// The shared reference cells of `cells`: v_shared of shape [] (one for all) or cells.shape[:-1] (one
// per row, i.e. per output of a weight matrix [out, in]), of cells' dtype, with int8 variation
// v_shared.shape + [3]. Returns the number of cells per reference (0: one for all).
inline int64_t reference_stride(const at::Tensor& v_shared, const at::Tensor& variation_shared, const at::Tensor& cells,
                                const char* cells_name) {
  TORCH_CHECK(v_shared.scalar_type() == cells.scalar_type(), "v_shared: expected the dtype of ", cells_name, " (",
              cells.scalar_type(), "), got ", v_shared.scalar_type());
  checks::same_device(v_shared, "v_shared", cells, cells_name);
  const bool single = v_shared.dim() == 0;
  TORCH_CHECK(single || (cells.dim() >= 1 && v_shared.sizes() == cells.sizes().slice(0, cells.dim() - 1)),
              "v_shared: expected shape [] or the rows of ", cells_name, " ",
              cells.dim() >= 1 ? cells.sizes().slice(0, cells.dim() - 1) : cells.sizes(), ", got ", v_shared.sizes());
  TORCH_CHECK(variation_shared.scalar_type() == at::kChar, "variation_shared: expected an int8 tensor, got ",
              variation_shared.scalar_type());
  checks::same_device(variation_shared, "variation_shared", cells, cells_name);
  TORCH_CHECK(variation_shared.dim() == v_shared.dim() + 1 && variation_shared.size(-1) == capacitor::kVariationFields &&
                  variation_shared.sizes().slice(0, v_shared.dim()) == v_shared.sizes(),
              "variation_shared: expected shape ", v_shared.sizes(), " + [3], got ", variation_shared.sizes());
  return single ? 0 : cells.size(-1);
}

// Each cell's shared-reference conductance ([cells.sizes()], contiguous): one kernel over the
// references, then expanded to the cells (kernels::ReferenceConductance says why).
template <typename Backend, typename T>
at::Tensor reference_per_cell(const at::Tensor& v_shared, const at::Tensor& variation_shared, const at::Tensor& cells,
                              const kernels::ReadCurve& curve) {
  const at::Tensor v = v_shared.contiguous(), var = variation_shared.contiguous();
  at::Tensor per_reference = at::empty_like(v, at::MemoryFormat::Contiguous);
  const kernels::ReferenceConductance<T> kernel{{v.const_data_ptr<T>(), var.const_data_ptr<int8_t>(), 1},
                                                per_reference.mutable_data_ptr<T>(), curve};
  Backend::for_each(v.numel(), kernel);
  const at::Tensor rows = v_shared.dim() == 0 ? per_reference : per_reference.unsqueeze(-1);
  return rows.expand(cells.sizes()).contiguous();
}

inline void check_update_args(const at::Tensor& v_c, const at::Tensor& variation, const at::Tensor& delta_w_us,
                              const at::Tensor& rng, int64_t polarity) {
  checks::float32(v_c, "v_c");
  checks::cell_variation(variation, v_c, "v_c");
  checks::cell_state(delta_w_us, "delta_w_us", v_c, "v_c");
  checks::rng_state(rng, v_c, "v_c");
  checks::polarity(polarity, "polarity");
}

// Passes 1 and 2 of an update (kernels/capacitor.h); v_out may be v_in (in place).
template <typename Backend>
void count_and_apply_pulses(const at::Tensor& v_in, at::Tensor& v_out, const at::Tensor& variation,
                            const at::Tensor& delta_w_us, const at::Tensor& rng, at::Tensor& pulses,
                            const capacitor::Params& params, int polarity) {
  const int64_t n = v_in.numel();
  const kernels::CapacitorPulseCount count{delta_w_us.const_data_ptr<float>(), rng.const_data_ptr<int64_t>(),
                                           pulses.mutable_data_ptr<int8_t>(), params, polarity};
  Backend::for_each(n, count);
  if (params.soft_bounds) {  // every pulse one at a time
    const kernels::CapacitorApplyPulses apply{v_in.const_data_ptr<float>(), variation.const_data_ptr<int8_t>(),
                                              pulses.const_data_ptr<int8_t>(), rng.const_data_ptr<int64_t>(),
                                              /*one_by_one=*/nullptr,          v_out.mutable_data_ptr<float>(),
                                              params};
    Backend::for_each(n, apply);
    return;
  }
  at::Tensor one_by_one = at::empty_like(pulses, pulses.options().dtype(at::kByte));
  const kernels::CapacitorSumPulses sum{v_in.const_data_ptr<float>(),       variation.const_data_ptr<int8_t>(),
                                        pulses.const_data_ptr<int8_t>(),    rng.const_data_ptr<int64_t>(),
                                        v_out.mutable_data_ptr<float>(),    one_by_one.mutable_data_ptr<uint8_t>(),
                                        params};
  Backend::for_each(n, sum);
  // The marked cells from V_C as the summed pass left it (v_out), in place.
  const kernels::CapacitorApplyPulses near_rail{v_out.const_data_ptr<float>(),      variation.const_data_ptr<int8_t>(),
                                                pulses.const_data_ptr<int8_t>(),    rng.const_data_ptr<int64_t>(),
                                                one_by_one.const_data_ptr<uint8_t>(), v_out.mutable_data_ptr<float>(),
                                                params};
  Backend::for_each(n, near_rail);
}

template <typename Backend>
std::tuple<at::Tensor, at::Tensor> capacitor_update(const at::Tensor& v_c, const at::Tensor& variation,
                                                    const at::Tensor& delta_w_us, const at::Tensor& rng,
                                                    int64_t polarity, c10::ArrayRef<double> capacitor_params) {
  checks::on_device_type(v_c, "v_c", Backend::kDeviceType);
  check_update_args(v_c, variation, delta_w_us, rng, polarity);
  const capacitor::Params params = params::capacitor(capacitor_params);
  checks::finite_values({{v_c, "v_c", params.v_min_v, params.v_max_v}, {delta_w_us, "delta_w_us"}});
  const typename Backend::DeviceGuard device_guard(v_c.device());
  const at::Tensor v_in = v_c.contiguous(), var = variation.contiguous(), delta = delta_w_us.contiguous();
  const at::Tensor rng_state = rng.contiguous();
  at::Tensor v_out = at::empty_like(v_in, at::MemoryFormat::Contiguous);
  at::Tensor pulses = at::empty_like(v_out, v_out.options().dtype(at::kChar));
  count_and_apply_pulses<Backend>(v_in, v_out, var, delta, rng_state, pulses, params, static_cast<int>(polarity));
  return {v_out, pulses};
}

inline void check_leak_args(const at::Tensor& v_c, double elapsed_s, double tau_s, double v_leak_v) {
  checks::float32(v_c, "v_c");
  checks::non_negative(elapsed_s, "elapsed_s");
  checks::positive(tau_s, "tau_s");
  checks::finite_scalar(v_leak_v, "v_leak_v");
}

template <typename Backend>
at::Tensor capacitor_leak(const at::Tensor& v_c, double elapsed_s, double tau_s, double v_leak_v, bool check_values) {
  checks::on_device_type(v_c, "v_c", Backend::kDeviceType);
  check_leak_args(v_c, elapsed_s, tau_s, v_leak_v);
  if (check_values) checks::finite_values(v_c, "v_c");
  const typename Backend::DeviceGuard device_guard(v_c.device());
  const at::Tensor v_in = v_c.contiguous();
  at::Tensor v_out = at::empty_like(v_in, at::MemoryFormat::Contiguous);
  const kernels::CapacitorLeak kernel{v_in.const_data_ptr<float>(), v_out.mutable_data_ptr<float>(),
                                      capacitor::leak_decay(static_cast<float>(elapsed_s), static_cast<float>(tau_s)),
                                      static_cast<float>(v_leak_v)};
  Backend::for_each(v_in.numel(), kernel);
  return v_out;
}

// In place on v_c and weight (both must be contiguous: they are the layer's own state). The shared
// reference (v_shared) is read as given: leak it over the step first (capacitor_leak).
template <typename Backend>
at::Tensor capacitor_step_(at::Tensor& v_c, at::Tensor& weight, const at::Tensor& g_plus_us,
                           const at::Tensor& g_minus_us, const at::Tensor& variation, const at::Tensor& delta_w_us,
                           const at::Tensor& rng, int64_t polarity, c10::ArrayRef<double> capacitor_params,
                           double elapsed_s, double tau_s, double v_leak_v, double gain_f, const at::Tensor& v_shared,
                           const at::Tensor& variation_shared, double scale_us_per_unit, bool check_values) {
  checks::on_device_type(v_c, "v_c", Backend::kDeviceType);
  check_update_args(v_c, variation, delta_w_us, rng, polarity);
  check_leak_args(v_c, elapsed_s, tau_s, v_leak_v);
  checks::cell_state(weight, "weight", v_c, "v_c");
  checks::cell_state(g_plus_us, "g_plus_us", v_c, "v_c");
  checks::cell_state(g_minus_us, "g_minus_us", v_c, "v_c");
  TORCH_CHECK(v_c.is_contiguous(), "v_c: expected a contiguous tensor (it is updated in place)");
  TORCH_CHECK(weight.is_contiguous(), "weight: expected a contiguous tensor (it is updated in place)");
  checks::no_overlaps({{&v_c, "v_c"}, {&weight, "weight"}},
                      {{&g_plus_us, "g_plus_us"}, {&g_minus_us, "g_minus_us"}, {&variation, "variation"},
                       {&delta_w_us, "delta_w_us"}, {&rng, "rng"}});
  checks::positive(gain_f, "gain_f");
  reference_stride(v_shared, variation_shared, v_c, "v_c");  // checks the references' shapes
  checks::positive(scale_us_per_unit, "scale_us_per_unit");
  const capacitor::Params params = params::capacitor(capacitor_params);
  // As Capacitor3T1C validates it: V_C leaks toward a voltage within its rails.
  TORCH_CHECK(v_leak_v >= capacitor_params[0] && v_leak_v <= capacitor_params[1],
              "v_leak_v: expected a voltage within the rails [", capacitor_params[0], ", ", capacitor_params[1],
              "], got ", v_leak_v);
  if (check_values) {
    checks::finite_values(
        {{v_c, "v_c", params.v_min_v, params.v_max_v},
         {v_shared, "v_shared", params.v_min_v, params.v_max_v},
         {g_plus_us, "g_plus_us", -checks::kMaxConductanceUs, checks::kMaxConductanceUs},
         {g_minus_us, "g_minus_us", -checks::kMaxConductanceUs, checks::kMaxConductanceUs},
         {delta_w_us, "delta_w_us"}});
  }
  const typename Backend::DeviceGuard device_guard(v_c.device());
  const at::Tensor g_plus = g_plus_us.contiguous(), g_minus = g_minus_us.contiguous();
  const at::Tensor var = variation.contiguous(), delta = delta_w_us.contiguous(), rng_state = rng.contiguous();
  const at::Tensor ref_v = v_shared.contiguous(), ref_var = variation_shared.contiguous();
  at::Tensor pulses = at::empty_like(v_c, v_c.options().dtype(at::kChar));
  count_and_apply_pulses<Backend>(v_c, v_c, var, delta, rng_state, pulses, params, static_cast<int>(polarity));
  const kernels::ReadCurve curve = kernels::ReadCurve::of(params);
  const at::Tensor g_shared = reference_per_cell<Backend, float>(ref_v, ref_var, v_c, curve);
  kernels::with_read_exponent(params.read_exponent, [&](auto exponent) {
    const kernels::CapacitorLeakWeight<decltype(exponent)::value> leak_and_weight{
        v_c.mutable_data_ptr<float>(),
        weight.mutable_data_ptr<float>(),
        g_plus.const_data_ptr<float>(),
        g_minus.const_data_ptr<float>(),
        var.const_data_ptr<int8_t>(),
        g_shared.const_data_ptr<float>(),
        curve,
        static_cast<int>(polarity),
        capacitor::leak_decay(static_cast<float>(elapsed_s), static_cast<float>(tau_s)),
        static_cast<float>(v_leak_v),
        static_cast<float>(gain_f),
        static_cast<float>(scale_us_per_unit)};
    Backend::for_each(v_c.numel(), leak_and_weight);
  });
  return pulses;
}

}  // namespace impl
}  // namespace analogtorch
