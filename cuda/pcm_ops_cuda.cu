// CUDA kernels of the PCM ops (element kernels shared with the CPU backend).
#include <torch/library.h>

#include "../csrc/ops/pcm_program.h"
#include "../csrc/ops/pcm_read.h"
#include "backend.cuh"

namespace analogtorch {

TORCH_LIBRARY_IMPL(analogtorch, CUDA, m) {
  m.impl("pcm_program", &impl::pcm_program<CudaBackend>);
  m.impl("pcm_read", &impl::pcm_read<CudaBackend>);
}

}  // namespace analogtorch
