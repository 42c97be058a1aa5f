// The CUDA kernels of every op: the same element kernels as the CPU backend, launched by
// CudaBackend on the current stream.
#include <torch/library.h>

#include "../csrc/ops/register.h"
#include "backend.cuh"

TORCH_LIBRARY_IMPL(analogtorch, CUDA, m) { analogtorch::impl::register_kernels<analogtorch::CudaBackend>(m); }
