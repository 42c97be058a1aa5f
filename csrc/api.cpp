// The C++ API (analogtorch/ops.h): calls through the dispatcher, like torch.ops.analogtorch.
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/ops/tensor.h>

#include "analogtorch/ops.h"

namespace analogtorch {
namespace {

template <typename Signature>
c10::TypedOperatorHandle<Signature> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

}  // namespace

at::Tensor make_rng_state(uint64_t seed, int64_t step, c10::Device device) {
  TORCH_CHECK(step >= 0, "step: expected an integer >= 0, got ", step);
  const std::vector<int64_t> state{static_cast<int64_t>(seed), step};
  return at::tensor(state, at::TensorOptions().dtype(at::kLong)).to(device);
}

std::tuple<at::Tensor, at::Tensor> pcm_program(const at::Tensor& target_us, const at::Tensor& rng,
                                               double g_max_us) {
  static const auto op =
      find_op<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, double)>("analogtorch::pcm_program");
  return op.call(target_us, rng, g_max_us);
}

at::Tensor pcm_read(const at::Tensor& conductance_us, const at::Tensor& drift_nu, const at::Tensor& rng,
                    double time_s, double g_max_us, double t0_s, double t_read_s, bool read_noise) {
  static const auto op = find_op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, double,
                                            double, double, double, bool)>("analogtorch::pcm_read");
  return op.call(conductance_us, drift_nu, rng, time_s, g_max_us, t0_s, t_read_s, read_noise);
}

}  // namespace analogtorch
