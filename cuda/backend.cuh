// The CUDA backend: element kernels run in a 64-bit grid-stride loop on the current stream.
#pragma once

// c10's narrow CUDA headers only: ATen/cuda/CUDAContext.h would pull in cuBLAS and cuSPARSE headers.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

namespace analogtorch {

template <typename ElementKernel>
__global__ void for_each_kernel(int64_t n, ElementKernel kernel) {
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    kernel(i);
  }
}

struct CudaBackend {
  static constexpr c10::DeviceType kDeviceType = c10::DeviceType::CUDA;
  using DeviceGuard = c10::cuda::CUDAGuard;

  template <typename ElementKernel>
  static void for_each(int64_t n, const ElementKernel& kernel) {
    if (n == 0) return;
    constexpr int kThreads = 256;
    int multiprocessors = 0;
    C10_CUDA_CHECK(cudaDeviceGetAttribute(&multiprocessors, cudaDevAttrMultiProcessorCount, c10::cuda::current_device()));
    const int64_t max_blocks = static_cast<int64_t>(multiprocessors) * 32;
    const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, max_blocks);
    for_each_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(n, kernel);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
};

}  // namespace analogtorch
