// Registers every op's kernel for one backend. Included once per backend (csrc/cpu/, cuda/), so the
// list of ops lives in one place.
#pragma once

#include <torch/library.h>

#include "capacitor_ops.h"
#include "converter_ops.h"
#include "pcm_ops.h"
#include "unit_cell_ops.h"

namespace analogtorch {
namespace impl {

template <typename Backend>
int64_t host_reads(const at::Tensor& like) {
  checks::on_device_type(like, "like", Backend::kDeviceType);
  return checks::host_reads().load(std::memory_order_relaxed);
}

template <typename Backend>
void register_kernels(torch::Library& m) {
  m.impl("pcm_program", &pcm_program<Backend>);
  m.impl("pcm_read", &pcm_read<Backend>);
  m.impl("pcm_read_moments", &pcm_read_moments<Backend>);
  m.impl("hardware_aware_read", &hardware_aware_read<Backend>);
  m.impl("add_read_noise", &add_read_noise<Backend>);
  m.impl("pcm_pair_step_", &pcm_pair_step_<Backend>);
  m.impl("cell_variation", &cell_variation<Backend>);
  m.impl("capacitor_update", &capacitor_update<Backend>);
  m.impl("capacitor_leak", &capacitor_leak<Backend>);
  m.impl("capacitor_step_", &capacitor_step_<Backend>);
  m.impl("unit_cell_weight", &unit_cell_weight<Backend>);
  m.impl("unit_cell_weight_backward", &unit_cell_weight_backward<Backend>);
  m.impl("transfer", &transfer<Backend>);
  m.impl("quantize", &quantize<Backend>);
  m.impl("quantize_backward", &quantize_backward<Backend>);
  m.impl("host_reads", &host_reads<Backend>);
}

}  // namespace impl
}  // namespace analogtorch
