// Host side of analogtorch::pcm_program for any backend: checks, allocation, launch.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>

#include <tuple>

#include "../checks.h"
#include "analogtorch/kernels/pcm_program.h"

namespace analogtorch {
namespace impl {

template <typename Backend>
std::tuple<at::Tensor, at::Tensor> pcm_program(const at::Tensor& target_us, const at::Tensor& rng,
                                               double g_max_us) {
  checks::pcm_program_args(target_us, rng, g_max_us);
  checks::on_device_type(target_us, "target_us", Backend::kDeviceType);
  const typename Backend::DeviceGuard device_guard(target_us.device());
  const at::Tensor target = target_us.contiguous();
  const at::Tensor rng_state = rng.contiguous();
  at::Tensor conductance = at::empty_like(target, at::MemoryFormat::Contiguous);
  at::Tensor nu = at::empty_like(target, at::MemoryFormat::Contiguous);
  const kernels::PcmProgram kernel{target.const_data_ptr<float>(), rng_state.const_data_ptr<int64_t>(),
                                   conductance.mutable_data_ptr<float>(), nu.mutable_data_ptr<float>(),
                                   static_cast<float>(g_max_us)};
  Backend::for_each(target.numel(), kernel);
  return {conductance, nu};
}

}  // namespace impl
}  // namespace analogtorch
