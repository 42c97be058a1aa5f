// The CPU kernels of every op.
#include <torch/library.h>

#include "../ops/register.h"
#include "backend.h"

TORCH_LIBRARY_IMPL(analogtorch, CPU, m) { analogtorch::impl::register_kernels<analogtorch::CpuBackend>(m); }
