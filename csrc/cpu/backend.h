// The CPU backend: element kernels run on ATen's thread pool. Each element draws its own random
// numbers from (seed, element, step), so results do not depend on the number of threads.
#pragma once

#include <ATen/Parallel.h>
#include <c10/core/Device.h>

#include <cstdint>

namespace analogtorch {

// One thread's share of the elements. flatten: every call inside is inlined, so that the loop body
// is straight-line code that GCC can vectorise. A local copy of the kernel: its pointers cannot
// alias the outputs, so they stay in registers.
template <typename ElementKernel>
[[gnu::flatten]] void run_elements(const ElementKernel& kernel, int64_t begin, int64_t end) {
  const ElementKernel local = kernel;
  for (int64_t i = begin; i < end; ++i) local(i);
}

struct CpuBackend {
  static constexpr c10::DeviceType kDeviceType = c10::DeviceType::CPU;

  struct DeviceGuard {
    explicit DeviceGuard(c10::Device) {}
  };

  // Elements per task: large enough to amortise scheduling in these memory-bound loops.
  static constexpr int64_t kGrainSize = 32768;

  template <typename ElementKernel>
  static void for_each(int64_t n, const ElementKernel& kernel) {
    at::parallel_for(0, n, kGrainSize, [&kernel](int64_t begin, int64_t end) { run_elements(kernel, begin, end); });
  }
};

}  // namespace analogtorch
