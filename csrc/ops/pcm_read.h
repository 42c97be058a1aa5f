// Host side of analogtorch::pcm_read for any backend: checks, allocation, launch.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>

#include "../checks.h"
#include "analogtorch/kernels/pcm_read.h"

namespace analogtorch {
namespace impl {

template <typename Backend>
at::Tensor pcm_read(const at::Tensor& conductance_us, const at::Tensor& drift_nu, const at::Tensor& rng,
                    double time_s, double g_max_us, double t0_s, double t_read_s, bool read_noise) {
  checks::pcm_read_args(conductance_us, drift_nu, rng, time_s, g_max_us, t0_s, t_read_s);
  checks::on_device_type(conductance_us, "conductance_us", Backend::kDeviceType);
  const typename Backend::DeviceGuard device_guard(conductance_us.device());
  const at::Tensor conductance = conductance_us.contiguous();
  const at::Tensor nu = drift_nu.contiguous();
  const at::Tensor rng_state = rng.contiguous();
  at::Tensor out = at::empty_like(conductance, at::MemoryFormat::Contiguous);
  const kernels::PcmRead kernel{
      conductance.const_data_ptr<float>(),
      nu.const_data_ptr<float>(),
      rng_state.const_data_ptr<int64_t>(),
      out.mutable_data_ptr<float>(),
      {static_cast<float>(g_max_us), static_cast<float>(t0_s), static_cast<float>(t_read_s)},
      static_cast<float>(time_s),
      read_noise};
  Backend::for_each(conductance.numel(), kernel);
  return out;
}

}  // namespace impl
}  // namespace analogtorch
