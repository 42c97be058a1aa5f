// The CPU kernels of every op, and the choice of instruction set their element loops run with.
#include <c10/util/Exception.h>
#include <torch/library.h>

#include <cstdlib>
#include <string>

#include "../ops/register.h"
#include "backend.h"

namespace analogtorch {

namespace {

CpuCapability widest_supported() {
#if ANALOGTORCH_CPU_DISPATCH
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return CpuCapability::kAvx512;
  if (__builtin_cpu_supports("x86-64-v3")) return CpuCapability::kAvx2;
#endif
  return CpuCapability::kDefault;
}

CpuCapability decide_capability() {
  const CpuCapability widest = widest_supported();
  const char* requested = std::getenv("ANALOGTORCH_CPU_CAPABILITY");
  if (requested == nullptr || *requested == '\0') return widest;
  const std::string name(requested);
  CpuCapability chosen;
  if (name == "default") {
    chosen = CpuCapability::kDefault;
  } else if (name == "avx2") {
    chosen = CpuCapability::kAvx2;
  } else if (name == "avx512") {
    chosen = CpuCapability::kAvx512;
  } else {
    TORCH_CHECK(false, "ANALOGTORCH_CPU_CAPABILITY: expected default, avx2 or avx512, got '", name, "'");
  }
  TORCH_CHECK(static_cast<int>(chosen) <= static_cast<int>(widest), "ANALOGTORCH_CPU_CAPABILITY: this CPU supports at most ",
              cpu_capability_name(widest), ", got '", name, "'");
  return chosen;
}

}  // namespace

const char* cpu_capability_name(CpuCapability capability) {
  switch (capability) {
    case CpuCapability::kAvx512: return "avx512";
    case CpuCapability::kAvx2: return "avx2";
    case CpuCapability::kDefault: break;
  }
  return "default";
}

CpuCapability cpu_capability() {
  static const CpuCapability capability = decide_capability();
  return capability;
}

}  // namespace analogtorch

TORCH_LIBRARY_IMPL(analogtorch, CPU, m) { analogtorch::impl::register_kernels<analogtorch::CpuBackend>(m); }
