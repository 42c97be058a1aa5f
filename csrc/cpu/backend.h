// The CPU backend: element kernels run on ATen's thread pool. Each element draws its own random
// numbers from (seed, element, step), so results do not depend on the number of threads.
#pragma once

#include <ATen/Parallel.h>
#include <c10/core/Device.h>

#include <cstdint>

namespace analogtorch {

struct CpuBackend {
  static constexpr c10::DeviceType kDeviceType = c10::DeviceType::CPU;

  struct DeviceGuard {
    explicit DeviceGuard(c10::Device) {}
  };

  // Elements per task: large enough to amortise scheduling in these memory-bound loops.
  static constexpr int64_t kGrainSize = 32768;

  template <typename ElementKernel>
  static void for_each(int64_t n, const ElementKernel& kernel) {
    at::parallel_for(0, n, kGrainSize, [&kernel](int64_t begin, int64_t end) {
      // A local copy: its pointers cannot alias the outputs, so the compiler keeps them in
      // registers and can vectorise the loop (the element kernels are branch-free where they can be).
      const ElementKernel local = kernel;
      for (int64_t i = begin; i < end; ++i) local(i);
    });
  }
};

}  // namespace analogtorch
