// Host side of the converter ops (DAC/ADC quantisation with output noise) for any backend.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>

#include <cstdint>
#include <type_traits>

#include "../checks.h"
#include "launch.h"
#include "analogtorch/kernels/quantize.h"

namespace analogtorch {
namespace impl {

template <typename Backend>
at::Tensor quantize(const at::Tensor& x, const at::Tensor& rng, int64_t bits, double bound, double noise_std) {
  checks::on_device_type(x, "x", Backend::kDeviceType);
  checks::float32(x, "x");
  checks::rng_state(rng, x, "x");
  TORCH_CHECK(bits == 0 || (bits >= 2 && bits <= 24),
              "bits: expected 0 (no rounding) or an integer in [2, 24], got ", bits);
  checks::positive(bound, "bound");
  checks::non_negative(noise_std, "noise_std");
  // A read: no value checks (no host read). A converter saturates (+-Inf reads as +-bound); NaN
  // has no reading and propagates (kernels/quantize.h).
  const typename Backend::DeviceGuard device_guard(x.device());
  const at::Tensor input = x.contiguous(), rng_state = rng.contiguous();
  at::Tensor y = at::empty_like(input, at::MemoryFormat::Contiguous);
  // A signed converter of `bits` bits has 2^(bits-1) - 1 levels on each side of zero.
  const float step =
      bits == 0 ? 0.0f : static_cast<float>(bound / static_cast<double>((int64_t{1} << (bits - 1)) - 1));
  const float* in = input.const_data_ptr<float>();
  float* out = y.mutable_data_ptr<float>();
  const auto launch = [&](auto rounds) {
    constexpr bool kRounds = decltype(rounds)::value;
    if (noise_std > 0.0) {
      const auto kernel = [&](auto tail) {
        return kernels::NoisyQuantize<kRounds, decltype(tail)::value>{
            in, rng_state.const_data_ptr<int64_t>(), out, static_cast<float>(bound), static_cast<float>(noise_std),
            step, input.numel(), 0};
      };
      for_each_group_of_four<Backend>(input.numel(), kernel(std::false_type{}), kernel(std::true_type{}));
    } else {
      Backend::for_each(input.numel(), kernels::Quantize<kRounds>{in, out, static_cast<float>(bound), step});
    }
  };
  step > 0.0f ? launch(std::true_type{}) : launch(std::false_type{});
  return y;
}

template <typename Backend>
at::Tensor quantize_backward(const at::Tensor& grad_y, const at::Tensor& x, double bound) {
  checks::on_device_type(grad_y, "grad_y", Backend::kDeviceType);
  checks::float32(grad_y, "grad_y");
  checks::cell_state(x, "x", grad_y, "grad_y");
  checks::positive(bound, "bound");
  const typename Backend::DeviceGuard device_guard(grad_y.device());
  const at::Tensor grad = grad_y.contiguous(), input = x.contiguous();
  at::Tensor grad_x = at::empty_like(grad, at::MemoryFormat::Contiguous);
  const kernels::QuantizeBackward kernel{grad.const_data_ptr<float>(), input.const_data_ptr<float>(),
                                         grad_x.mutable_data_ptr<float>(), static_cast<float>(bound)};
  Backend::for_each(grad.numel(), kernel);
  return grad_x;
}

}  // namespace impl
}  // namespace analogtorch
