// The CPU backend: element kernels run on ATen's thread pool. Each element draws its own random
// numbers from (seed, element, step), so results do not depend on the number of threads.
//
// Each element loop is compiled three times on x86-64 (baseline SSE2, AVX2 and AVX-512, as
// x86-64-v1/v3/v4) and the widest the CPU supports runs, as ATen does with CPU_CAPABILITY. The
// results are bit-identical: the kernels use only IEEE-rounded operations and selects, and FMA
// contraction is off (-ffp-contract=off), so wider vectors change the speed, never a bit.
// ANALOGTORCH_CPU_CAPABILITY=default|avx2|avx512 chooses one (tests compare them).
#pragma once

#include <ATen/Parallel.h>
#include <c10/core/Device.h>

#include <cstdint>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ANALOGTORCH_CPU_DISPATCH 1
#else
#define ANALOGTORCH_CPU_DISPATCH 0
#endif

namespace analogtorch {

enum class CpuCapability { kDefault = 0, kAvx2 = 1, kAvx512 = 2 };

// The capability the element loops use: ANALOGTORCH_CPU_CAPABILITY if set (an error if the CPU
// lacks it), else the widest the CPU and OS support. Decided once per process.
CpuCapability cpu_capability();
const char* cpu_capability_name(CpuCapability capability);

// One thread's share of the elements. flatten: every call inside is inlined, so that the loop body
// is straight-line code that GCC can vectorise. A local copy of the kernel: its pointers cannot
// alias the outputs, so they stay in registers.
template <typename ElementKernel>
[[gnu::flatten]] void run_elements(const ElementKernel& kernel, int64_t begin, int64_t end) {
  const ElementKernel local = kernel;
  for (int64_t i = begin; i < end; ++i) local(i);
}

#if ANALOGTORCH_CPU_DISPATCH
template <typename ElementKernel>
[[gnu::flatten, gnu::target("arch=x86-64-v3")]] void run_elements_avx2(const ElementKernel& kernel, int64_t begin,
                                                                      int64_t end) {
  const ElementKernel local = kernel;
  for (int64_t i = begin; i < end; ++i) local(i);
}

template <typename ElementKernel>
[[gnu::flatten, gnu::target("arch=x86-64-v4,prefer-vector-width=512")]] void run_elements_avx512(
    const ElementKernel& kernel, int64_t begin, int64_t end) {
  const ElementKernel local = kernel;
  for (int64_t i = begin; i < end; ++i) local(i);
}
#endif

struct CpuBackend {
  static constexpr c10::DeviceType kDeviceType = c10::DeviceType::CPU;

  struct DeviceGuard {
    explicit DeviceGuard(c10::Device) {}
  };

  // Elements per task: large enough to amortise scheduling in these memory-bound loops.
  static constexpr int64_t kGrainSize = 32768;

  template <typename ElementKernel>
  static void for_each(int64_t n, const ElementKernel& kernel) {
    void (*run)(const ElementKernel&, int64_t, int64_t) = &run_elements<ElementKernel>;
#if ANALOGTORCH_CPU_DISPATCH
    switch (cpu_capability()) {
      case CpuCapability::kAvx512: run = &run_elements_avx512<ElementKernel>; break;
      case CpuCapability::kAvx2: run = &run_elements_avx2<ElementKernel>; break;
      case CpuCapability::kDefault: break;
    }
#endif
    at::parallel_for(0, n, kGrainSize, [&kernel, run](int64_t begin, int64_t end) { run(kernel, begin, end); });
  }
};

}  // namespace analogtorch
