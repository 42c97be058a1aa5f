// Launch helpers shared by the ops of every backend.
#pragma once

#include <cstdint>

namespace analogtorch {
namespace impl {

// Runs a kernel whose elements come in groups of four sharing one random block (four_normals in
// random.h): `full` over the n / 4 whole groups (straight-line: it vectorises on the CPU), then
// `tail`, which checks bounds, over the last n % 4 elements. Both kernels have a `first_group`
// member: the group their index 0 stands for.
template <typename Backend, typename FullKernel, typename TailKernel>
void for_each_group_of_four(int64_t n, FullKernel full, TailKernel tail) {
  const int64_t groups = n / 4;
  if (groups > 0) {
    full.first_group = 0;
    Backend::for_each(groups, full);
  }
  if (n % 4 != 0) {
    tail.first_group = groups;
    Backend::for_each(1, tail);
  }
}

}  // namespace impl
}  // namespace analogtorch
