// C++ API of analogtorch: typed wrappers that call the registered ops through the dispatcher, so
// that C++ users get the same kernels (CPU or CUDA, by the tensors' device) as Python users.
//
// Conventions: conductances in uS, times in s; `rng` is an int64 tensor [2] = (seed, step) on the
// device of the data (make one with make_rng_state).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <tuple>

namespace analogtorch {

// An rng state (seed, step) on `device`. The same state gives the same bits on every device.
at::Tensor make_rng_state(uint64_t seed, int64_t step = 0, c10::Device device = c10::Device(c10::kCPU));

// Programs PCM devices open loop (PHYSICS.md section 2).
//   target_us: float32 [*] target conductances, clipped to [0, g_max_us].
// Returns (conductance_us, drift_nu), both float32 [*]: G_p as read at t0 and the drift exponent.
std::tuple<at::Tensor, at::Tensor> pcm_program(const at::Tensor& target_us, const at::Tensor& rng,
                                               double g_max_us = 25.0);

// Reads PCM devices time_s seconds after programming: drift, then fresh 1/f read noise.
//   conductance_us, drift_nu: float32 [*], same shape. Returns float32 [*] in uS.
at::Tensor pcm_read(const at::Tensor& conductance_us, const at::Tensor& drift_nu, const at::Tensor& rng,
                    double time_s, double g_max_us = 25.0, double t0_s = 20.0, double t_read_s = 250e-9,
                    bool read_noise = true);

}  // namespace analogtorch
