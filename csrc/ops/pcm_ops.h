// Host side of the PCM ops for any backend: checks, allocation, launch.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty_like.h>

#include <cmath>
#include <tuple>
#include <utility>
#include <type_traits>

#include "../checks.h"
#include "../params.h"
#include "launch.h"
#include "analogtorch/kernels/pcm_pair.h"
#include "analogtorch/kernels/pcm_program.h"
#include "analogtorch/kernels/hardware_aware.h"
#include "analogtorch/kernels/pcm_read.h"
#include "analogtorch/kernels/read_noise.h"

namespace analogtorch {
namespace impl {

template <typename Backend>
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> pcm_program(const at::Tensor& target_us,
                                                                                   const at::Tensor& rng,
                                                                                   c10::ArrayRef<double> pcm_params,
                                                                                   bool closed_loop,
                                                                                   int64_t device_stride,
                                                                                   int64_t device_offset) {
  checks::on_device_type(target_us, "target_us", Backend::kDeviceType);
  checks::pcm_program_args(target_us, rng);
  const pcm::ProgrammingParams params = params::programming(pcm_params);
  TORCH_CHECK(device_stride >= 1, "device_stride: expected an integer >= 1, got ", device_stride);
  TORCH_CHECK(device_offset >= 0, "device_offset: expected an integer >= 0, got ", device_offset);
  const typename Backend::DeviceGuard device_guard(target_us.device());
  const at::Tensor target = target_us.contiguous();
  const at::Tensor rng_state = rng.contiguous();
  at::Tensor conductance = at::empty_like(target, at::MemoryFormat::Contiguous);
  at::Tensor nu = at::empty_like(conductance);
  at::Tensor pulses = at::empty_like(conductance, conductance.options().dtype(at::kInt));
  at::Tensor iterations = at::empty_like(pulses);
  at::Tensor converged = at::empty_like(conductance, conductance.options().dtype(at::kBool));
  const auto launch = [&](auto closed) {
    const kernels::PcmProgram<decltype(closed)::value> kernel{target.const_data_ptr<float>(),
                                                              rng_state.const_data_ptr<int64_t>(),
                                                              conductance.mutable_data_ptr<float>(),
                                                              nu.mutable_data_ptr<float>(),
                                                              pulses.mutable_data_ptr<int32_t>(),
                                                              iterations.mutable_data_ptr<int32_t>(),
                                                              converged.mutable_data_ptr<bool>(),
                                                              params,
                                                              device_stride,
                                                              device_offset};
    Backend::for_each(target.numel(), kernel);
  };
  closed_loop ? launch(std::true_type{}) : launch(std::false_type{});
  return {conductance, nu, pulses, iterations, converged};
}

template <typename Backend>
at::Tensor pcm_read(const at::Tensor& conductance_us, const at::Tensor& drift_nu, const at::Tensor& rng,
                    double time_s, double g_max_us, double t0_s, double t_read_s, bool read_noise) {
  checks::on_device_type(conductance_us, "conductance_us", Backend::kDeviceType);
  checks::pcm_read_args(conductance_us, drift_nu, rng, time_s, g_max_us, t0_s, t_read_s);
  const typename Backend::DeviceGuard device_guard(conductance_us.device());
  const at::Tensor conductance = conductance_us.contiguous();
  const at::Tensor nu = drift_nu.contiguous();
  const at::Tensor rng_state = rng.contiguous();
  at::Tensor out = at::empty_like(conductance, at::MemoryFormat::Contiguous);
  const auto launch = [&](auto noise) {
    const kernels::PcmRead<decltype(noise)::value> kernel{
        conductance.const_data_ptr<float>(),
        nu.const_data_ptr<float>(),
        rng_state.const_data_ptr<int64_t>(),
        out.mutable_data_ptr<float>(),
        pcm::read_time(static_cast<float>(time_s), {static_cast<float>(g_max_us), static_cast<float>(t0_s),
                                                     static_cast<float>(t_read_s)}),
        static_cast<float>(g_max_us)};
    Backend::for_each(conductance.numel(), kernel);
  };
  read_noise ? launch(std::true_type{}) : launch(std::false_type{});
  return out;
}

// The drifted conductance and the read-noise variance of each device at one time (no draw).
template <typename Backend>
std::tuple<at::Tensor, at::Tensor> pcm_read_moments(const at::Tensor& conductance_us, const at::Tensor& drift_nu,
                                                    double time_s, double g_max_us, double t0_s, double t_read_s) {
  checks::on_device_type(conductance_us, "conductance_us", Backend::kDeviceType);
  checks::pcm_devices_args(conductance_us, drift_nu, time_s, g_max_us, t0_s, t_read_s);
  const typename Backend::DeviceGuard device_guard(conductance_us.device());
  const at::Tensor conductance = conductance_us.contiguous();
  const at::Tensor nu = drift_nu.contiguous();
  at::Tensor mean = at::empty_like(conductance, at::MemoryFormat::Contiguous);
  at::Tensor variance = at::empty_like(mean);
  const kernels::PcmReadMoments kernel{
      conductance.const_data_ptr<float>(), nu.const_data_ptr<float>(), mean.mutable_data_ptr<float>(),
      variance.mutable_data_ptr<float>(),
      pcm::read_time(static_cast<float>(time_s), {static_cast<float>(g_max_us), static_cast<float>(t0_s),
                                                   static_cast<float>(t_read_s)}),
      static_cast<float>(g_max_us)};
  Backend::for_each(conductance.numel(), kernel);
  return {mean, variance};
}

// y + N(0, variance), one draw per element (kernels/read_noise.h).
template <typename Backend>
at::Tensor add_read_noise(const at::Tensor& y, const at::Tensor& variance, const at::Tensor& rng) {
  checks::on_device_type(y, "y", Backend::kDeviceType);
  checks::float32(y, "y");
  checks::float32(variance, "variance");
  checks::same_device(variance, "variance", y, "y");
  checks::same_shape(variance, "variance", y, "y");
  checks::rng_state(rng, y, "y");
  // A read: no value checks (no host read). NaN or Inf in y or variance propagates (a negative
  // variance has no standard deviation: NaN).
  const typename Backend::DeviceGuard device_guard(y.device());
  const at::Tensor mean = y.contiguous(), var = variance.contiguous(), rng_state = rng.contiguous();
  at::Tensor out = at::empty_like(mean, at::MemoryFormat::Contiguous);
  const auto kernel = [&](auto tail) {
    return kernels::AddReadNoise<decltype(tail)::value>{mean.const_data_ptr<float>(), var.const_data_ptr<float>(),
                                                        rng_state.const_data_ptr<int64_t>(), out.mutable_data_ptr<float>(),
                                                        mean.numel(), 0};
  };
  for_each_group_of_four<Backend>(mean.numel(), kernel(std::false_type{}), kernel(std::true_type{}));
  return out;
}

// Fused program + drift + read of weight pairs at a random time of [time_min_s, time_max_s]
// (kernels/hardware_aware.h). Returns the drifted G+ - G- (uS), the variance of its read noise
// (uS^2) and the time drawn ([1], seconds).
template <typename Backend>
std::tuple<at::Tensor, at::Tensor, at::Tensor> hardware_aware_read(const at::Tensor& weight_us, const at::Tensor& rng,
                                                       c10::ArrayRef<double> pcm_params, bool closed_loop,
                                                       double time_min_s, double time_max_s) {
  checks::on_device_type(weight_us, "weight_us", Backend::kDeviceType);
  checks::float32(weight_us, "weight_us");
  checks::rng_state(rng, weight_us, "weight_us");
  checks::non_negative(time_min_s, "time_min_s");
  checks::non_negative(time_max_s, "time_max_s");
  TORCH_CHECK(time_max_s >= time_min_s, "time_max_s: expected >= time_min_s (", time_min_s, "), got ", time_max_s);
  TORCH_CHECK(time_min_s > 0.0 || time_max_s == 0.0,
              "time_min_s: expected > 0 for a time window (log-uniform), got 0 with time_max_s ", time_max_s);
  const pcm::ProgrammingParams programming = params::programming(pcm_params);
  // A read (the layer's training forward): no value checks (no host read); a weight that is NaN or
  // +-Inf reads as itself with that variance (kernels/hardware_aware.h).
  const typename Backend::DeviceGuard device_guard(weight_us.device());
  const at::Tensor weight = weight_us.contiguous(), rng_state = rng.contiguous();
  at::Tensor time = at::empty({3}, weight.options());
  const kernels::TrainingReadTime draw{rng_state.const_data_ptr<int64_t>(), time.mutable_data_ptr<float>(),
                                       static_cast<float>(time_min_s), static_cast<float>(time_max_s),
                                       programming.read};
  Backend::for_each(1, draw);
  at::Tensor mean = at::empty_like(weight, at::MemoryFormat::Contiguous);
  at::Tensor variance = at::empty_like(mean);
  // The read time as the kernel finds it: a value on the CPU (reading CPU memory does not
  // synchronise), the drawn tensor's memory on a GPU.
  const auto read_time = [&] {
    if constexpr (Backend::kDeviceType == c10::DeviceType::CPU) {
      const float* host = time.const_data_ptr<float>();
      return kernels::ReadTimeValue{pcm::ReadTime{host[0], host[1]}};
    } else {
      return kernels::ReadTimeInMemory{time.const_data_ptr<float>()};
    }
  }();
  const auto launch = [&](auto closed) {
    const kernels::HardwareAwareRead<decltype(closed)::value, std::decay_t<decltype(read_time)>> kernel{
        weight.const_data_ptr<float>(), rng_state.const_data_ptr<int64_t>(), read_time,
        mean.mutable_data_ptr<float>(), variance.mutable_data_ptr<float>(), programming,
        programming.read_noise ? 1.0f : 0.0f};
    Backend::for_each(weight.numel(), kernel);
  };
  closed_loop ? launch(std::true_type{}) : launch(std::false_type{});
  return {mean, variance, time.narrow(0, 2, 1).clone()};
}

// In place on the pair and the cached weight (all contiguous: they are the layer's own state).
template <typename Backend>
std::tuple<at::Tensor, at::Tensor> pcm_pair_step_(at::Tensor& g_plus_us, at::Tensor& g_minus_us, at::Tensor& weight,
                                                  const at::Tensor& delta_w_us, const at::Tensor& rng,
                                                  c10::ArrayRef<double> pcm_params, double gain_f,
                                                  double scale_us_per_unit, double amplitude, int64_t max_pulses,
                                                  double refresh_us, bool check_values) {
  checks::on_device_type(g_plus_us, "g_plus_us", Backend::kDeviceType);
  checks::float32(g_plus_us, "g_plus_us");
  checks::cell_state(g_minus_us, "g_minus_us", g_plus_us, "g_plus_us");
  checks::cell_state(weight, "weight", g_plus_us, "g_plus_us");
  checks::cell_state(delta_w_us, "delta_w_us", g_plus_us, "g_plus_us");
  checks::rng_state(rng, g_plus_us, "g_plus_us");
  for (const auto& [tensor, name] : {std::pair<const at::Tensor&, const char*>{g_plus_us, "g_plus_us"},
                                     {g_minus_us, "g_minus_us"}, {weight, "weight"}}) {
    TORCH_CHECK(tensor.is_contiguous(), name, ": expected a contiguous tensor (it is updated in place)");
  }
  checks::no_overlaps({{&g_plus_us, "g_plus_us"}, {&g_minus_us, "g_minus_us"}, {&weight, "weight"}},
                      {{&delta_w_us, "delta_w_us"}, {&rng, "rng"}});
  checks::positive(gain_f, "gain_f");
  checks::positive(scale_us_per_unit, "scale_us_per_unit");
  TORCH_CHECK(std::isfinite(amplitude) && amplitude > 0.0 && amplitude <= 1.0,
              "amplitude: expected a number in (0, 1], got ", amplitude);
  TORCH_CHECK(max_pulses >= 1 && max_pulses <= 127, "max_pulses: expected an integer in [1, 127], got ", max_pulses);
  checks::positive(refresh_us, "refresh_us");
  const pcm::ProgrammingParams params = params::programming(pcm_params);
  if (check_values) {
    checks::finite_values({{g_plus_us, "g_plus_us", 0.0, params.g_max_us},
                           {g_minus_us, "g_minus_us", 0.0, params.g_max_us},
                           {delta_w_us, "delta_w_us"}});
  }
  const typename Backend::DeviceGuard device_guard(g_plus_us.device());
  const at::Tensor delta = delta_w_us.contiguous(), rng_state = rng.contiguous();
  at::Tensor pulses = at::empty_like(g_plus_us, g_plus_us.options().dtype(at::kChar));
  at::Tensor refreshed = at::empty_like(pulses);
  const kernels::PcmPairStep kernel{g_plus_us.mutable_data_ptr<float>(),
                                    g_minus_us.mutable_data_ptr<float>(),
                                    weight.mutable_data_ptr<float>(),
                                    delta.const_data_ptr<float>(),
                                    rng_state.const_data_ptr<int64_t>(),
                                    pulses.mutable_data_ptr<int8_t>(),
                                    refreshed.mutable_data_ptr<int8_t>(),
                                    params,
                                    static_cast<float>(gain_f),
                                    static_cast<float>(scale_us_per_unit),
                                    static_cast<float>(amplitude),
                                    static_cast<int>(max_pulses),
                                    static_cast<float>(refresh_us)};
  Backend::for_each(g_plus_us.numel(), kernel);
  return {pulses, refreshed};
}

}  // namespace impl
}  // namespace analogtorch
