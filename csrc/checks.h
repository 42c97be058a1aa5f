// Argument checks shared by every backend of every op: a user's mistake becomes a clear error
// naming the argument, before any kernel runs.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/aminmax.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <cstdint>

#include "analogtorch/capacitor.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace checks {

inline void float32(const at::Tensor& t, const char* name) {
  TORCH_CHECK(t.scalar_type() == at::kFloat, name, ": expected a float32 tensor, got ", t.scalar_type());
}

inline void same_device(const at::Tensor& t, const char* name, const at::Tensor& ref, const char* ref_name) {
  TORCH_CHECK(t.device() == ref.device(), name, ": expected a tensor on the same device as ", ref_name,
              " (", ref.device(), "), got ", t.device());
}

inline void same_shape(const at::Tensor& t, const char* name, const at::Tensor& ref, const char* ref_name) {
  TORCH_CHECK(t.sizes() == ref.sizes(), name, ": expected the shape of ", ref_name, " ", ref.sizes(),
              ", got ", t.sizes());
}

inline void on_device_type(const at::Tensor& t, const char* name, c10::DeviceType type) {
  TORCH_CHECK(t.device().type() == type, name, ": expected a ", c10::DeviceTypeName(type, true),
              " tensor, got one on ", t.device());
}

// The random state of an op: int64 tensor [2] = (seed, step), on the device of the data, so that
// CUDA kernels read it without a host synchronisation and torch.compile sees no Python int.
inline void rng_state(const at::Tensor& rng, const at::Tensor& ref, const char* ref_name) {
  TORCH_CHECK(rng.scalar_type() == at::kLong, "rng: expected an int64 tensor (seed, step), got ",
              rng.scalar_type());
  TORCH_CHECK(rng.dim() == 1 && rng.size(0) == 2, "rng: expected shape [2] (seed, step), got ", rng.sizes());
  same_device(rng, "rng", ref, ref_name);
}

// Scalars are used in float32: a finite double beyond float32's range would become inf there.
constexpr double kFloat32Max = 3.4028234663852886e38;

inline bool finite_float32(double value) { return std::isfinite(value) && std::abs(value) <= kFloat32Max; }

inline void finite_scalar(double value, const char* name) {
  TORCH_CHECK(finite_float32(value), name, ": expected a finite number (float32 range), got ", value);
}

inline void positive(double value, const char* name) {
  TORCH_CHECK(finite_float32(value) && value > 0.0, name, ": expected a finite number > 0, got ", value);
}

inline void non_negative(double value, const char* name) {
  TORCH_CHECK(finite_float32(value) && value >= 0.0, name, ": expected a finite number >= 0, got ", value);
}

inline void polarity(int64_t value, const char* name) {
  TORCH_CHECK(value == 1 || value == -1, name, ": expected +1 or -1, got ", value);
}

// NaN or Inf in data that enters the device state would spread silently: refuse it. One read pass
// (min and max propagate NaN); on CUDA it synchronises, so only user-facing inputs are checked.
inline void finite_values(const at::Tensor& t, const char* name) {
  if (t.numel() == 0) return;
  const auto [lo, hi] = at::aminmax(t);
  const double lo_value = lo.item<double>(), hi_value = hi.item<double>();
  TORCH_CHECK(std::isfinite(lo_value) && std::isfinite(hi_value), name,
              ": expected finite values, found NaN or Inf (range ", lo_value, " .. ", hi_value, ")");
}

// The fixed per-cell variation: int8 [*cells, 3].
inline void cell_variation(const at::Tensor& variation, const at::Tensor& ref, const char* ref_name) {
  TORCH_CHECK(variation.scalar_type() == at::kChar, "variation: expected an int8 tensor, got ",
              variation.scalar_type());
  same_device(variation, "variation", ref, ref_name);
  TORCH_CHECK(variation.dim() == ref.dim() + 1 && variation.size(-1) == capacitor::kVariationFields &&
                  variation.sizes().slice(0, ref.dim()) == ref.sizes(),
              "variation: expected shape ", ref.sizes(), " + [3] (the cells of ", ref_name, "), got ", variation.sizes());
}

// A float32 state tensor of the same cells as `ref`.
inline void cell_state(const at::Tensor& t, const char* name, const at::Tensor& ref, const char* ref_name) {
  float32(t, name);
  same_device(t, name, ref, ref_name);
  same_shape(t, name, ref, ref_name);
}

// Per-op validation, identical for every backend.

inline void pcm_program_args(const at::Tensor& target_us, const at::Tensor& rng) {
  float32(target_us, "target_us");
  rng_state(rng, target_us, "target_us");
  finite_values(target_us, "target_us");
}

inline void pcm_read_args(const at::Tensor& conductance_us, const at::Tensor& drift_nu, const at::Tensor& rng,
                          double time_s, double g_max_us, double t0_s, double t_read_s) {
  float32(conductance_us, "conductance_us");
  float32(drift_nu, "drift_nu");
  same_device(drift_nu, "drift_nu", conductance_us, "conductance_us");
  same_shape(drift_nu, "drift_nu", conductance_us, "conductance_us");
  rng_state(rng, conductance_us, "conductance_us");
  non_negative(time_s, "time_s");
  positive(g_max_us, "g_max_us");
  positive(t0_s, "t0_s");
  positive(t_read_s, "t_read_s");
}

}  // namespace checks
}  // namespace analogtorch
