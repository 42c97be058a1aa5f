// Argument checks shared by every backend of every op: a user's mistake becomes a clear error
// naming the argument, before any kernel runs.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/aminmax.h>
#include <ATen/ops/stack.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <utility>
#include <vector>

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

// Positive scalars must stay positive in float32: at least its smallest normal number (a GPU
// kernel may flush subnormals to zero, and a step or time of 0 divides to Inf).
constexpr double kFloat32Tiny = 1.1754943508222875e-38;

inline bool positive_float32(double value) {
  return finite_float32(value) && value > 0.0 && static_cast<float>(value) >= static_cast<float>(kFloat32Tiny);
}

inline void positive(double value, const char* name) {
  TORCH_CHECK(positive_float32(value), name, ": expected a finite number > 0 (in float32 at least ", kFloat32Tiny,
              "), got ", value);
}

inline void non_negative(double value, const char* name) {
  TORCH_CHECK(finite_float32(value) && value >= 0.0, name, ": expected a finite number >= 0, got ", value);
}

inline void polarity(int64_t value, const char* name) {
  TORCH_CHECK(value == 1 || value == -1, name, ": expected +1 or -1, got ", value);
}

// NaN or Inf in data that an op writes into device state would spread silently into it: such
// ops refuse it, naming the tensor; where the physics bounds the values (a drift exponent, a
// conductance), they refuse values outside the bounds too. One read pass per tensor (min and max
// propagate NaN) and one host read for all of them: on a GPU a synchronisation, so only ops that
// write state check values (reads let NaN propagate), and those take check_values=false where the
// caller has checked already (AnalogSGD, once per step).
// Stored conductances beyond this (uS) are no device's: refused, far below float32 overflow of F (G+ - G-).
constexpr double kMaxConductanceUs = 1e9;

// Host reads made by finite_values since the library was loaded (one counter per backend
// library): what proves that a path, such as a layer's forward and backward, makes none.
inline std::atomic<int64_t>& host_reads() {
  static std::atomic<int64_t> count{0};
  return count;
}

struct NamedTensor {
  const at::Tensor& tensor;
  const char* name;
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
};

inline void finite_values(std::initializer_list<NamedTensor> named) {
  std::vector<at::Tensor> ranges;
  std::vector<const NamedTensor*> checked;
  for (const NamedTensor& entry : named) {
    if (entry.tensor.numel() == 0) continue;
    const auto [lo, hi] = at::aminmax(entry.tensor);
    ranges.push_back(at::stack({lo, hi}).to(at::kDouble));
    checked.push_back(&entry);
  }
  if (ranges.empty()) return;
  host_reads().fetch_add(1, std::memory_order_relaxed);
  const at::Tensor host = at::stack(ranges).cpu();
  const auto values = host.accessor<double, 2>();
  for (size_t i = 0; i < checked.size(); ++i) {
    const NamedTensor& entry = *checked[i];
    const double lo = values[static_cast<int64_t>(i)][0], hi = values[static_cast<int64_t>(i)][1];
    TORCH_CHECK(std::isfinite(lo) && std::isfinite(hi), entry.name,
                ": expected finite values, found NaN or Inf (range ", lo, " .. ", hi, ")");
    TORCH_CHECK(lo >= entry.low && hi <= entry.high, entry.name, ": expected values in [", entry.low, ", ",
                entry.high, "], got values in [", lo, ", ", hi, "]");
  }
}

inline void finite_values(const at::Tensor& t, const char* name) { finite_values({NamedTensor{t, name}}); }

// The fixed per-cell variation: int8 [*cells, 3].
inline void cell_variation(const at::Tensor& variation, const at::Tensor& ref, const char* ref_name) {
  TORCH_CHECK(variation.scalar_type() == at::kChar, "variation: expected an int8 tensor, got ",
              variation.scalar_type());
  same_device(variation, "variation", ref, ref_name);
  TORCH_CHECK(variation.dim() == ref.dim() + 1 && variation.size(-1) == capacitor::kVariationFields &&
                  variation.sizes().slice(0, ref.dim()) == ref.sizes(),
              "variation: expected shape ", ref.sizes(), " + [3] (the cells of ", ref_name, "), got ", variation.sizes());
}

// A tensor that an op updates in place may share no memory with another argument: the kernels
// read their inputs in passes while they write. Compares the byte ranges that the two views span
// (conservative for interleaved strided views).
inline void no_overlap(const at::Tensor& written, const char* name, const at::Tensor& other, const char* other_name) {
  if (written.numel() == 0 || other.numel() == 0 || !written.has_storage() || !other.has_storage()) return;
  if (!written.storage().is_alias_of(other.storage())) return;
  const auto span = [](const at::Tensor& t) {
    int64_t last = 0;
    for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
    const char* begin = static_cast<const char*>(t.const_data_ptr());
    return std::make_pair(begin, begin + (last + 1) * static_cast<int64_t>(t.element_size()));
  };
  const auto [a_begin, a_end] = span(written);
  const auto [b_begin, b_end] = span(other);
  TORCH_CHECK(a_end <= b_begin || b_end <= a_begin, name, ": expected a tensor sharing no memory with ", other_name,
              " (", name, " is updated in place), got tensors that overlap");
}

// Every pair of (updated, other) among the tensor arguments of an in-place op.
inline void no_overlaps(std::initializer_list<std::pair<const at::Tensor*, const char*>> written,
                        std::initializer_list<std::pair<const at::Tensor*, const char*>> others) {
  for (auto w = written.begin(); w != written.end(); ++w) {
    for (auto v = w + 1; v != written.end(); ++v) no_overlap(*w->first, w->second, *v->first, v->second);
    for (const auto& o : others) no_overlap(*w->first, w->second, *o.first, o.second);
  }
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

// Programmed devices read at a time: pcm_read, pcm_read_moments. Reads check no values (no host
// read): NaN in a device propagates to its reading.
inline void pcm_devices_args(const at::Tensor& conductance_us, const at::Tensor& drift_nu, double time_s,
                             double g_max_us, double t0_s, double t_read_s) {
  float32(conductance_us, "conductance_us");
  float32(drift_nu, "drift_nu");
  same_device(drift_nu, "drift_nu", conductance_us, "conductance_us");
  same_shape(drift_nu, "drift_nu", conductance_us, "conductance_us");
  non_negative(time_s, "time_s");
  positive(g_max_us, "g_max_us");
  positive(t0_s, "t0_s");
  positive(t_read_s, "t_read_s");
}

inline void pcm_read_args(const at::Tensor& conductance_us, const at::Tensor& drift_nu, const at::Tensor& rng,
                          double time_s, double g_max_us, double t0_s, double t_read_s) {
  rng_state(rng, conductance_us, "conductance_us");
  pcm_devices_args(conductance_us, drift_nu, time_s, g_max_us, t0_s, t_read_s);
}

}  // namespace checks
}  // namespace analogtorch
