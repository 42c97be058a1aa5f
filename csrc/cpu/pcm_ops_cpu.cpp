// CPU kernels of the PCM ops.
#include <torch/library.h>

#include "../ops/pcm_program.h"
#include "../ops/pcm_read.h"
#include "backend.h"

namespace analogtorch {

TORCH_LIBRARY_IMPL(analogtorch, CPU, m) {
  m.impl("pcm_program", &impl::pcm_program<CpuBackend>);
  m.impl("pcm_read", &impl::pcm_read<CpuBackend>);
}

}  // namespace analogtorch
