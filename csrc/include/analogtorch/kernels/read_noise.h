// Element kernel of analogtorch::add_read_noise: the read noise of an array read's outputs.
// Each device's 1/f read noise is Gaussian and independent of every other device's and read's, so
// output y_i = sum_j G_ij x_j carries exactly N(0, sum_j sigma_ij^2 x_j^2): one matrix product of
// the variances with x^2 (done by ATen) and one normal draw per output here, instead of one draw
// per device per read. Bytes per element: 8 read, 4 written.
#pragma once

#include <stdint.h>

#include "analogtorch/detmath.h"
#include "analogtorch/random.h"

namespace analogtorch {
namespace kernels {

// Groups of four outputs share one Philox block (four_normals): a launch covers the n / 4 full
// groups (kTail false, straight-line, vectorised on the CPU) and then the last n % 4 elements
// (kTail true, first_group n / 4, bounds-checked).
template <bool kTail>
struct AddReadNoise {
  const float* y;
  const float* variance;  // of the noise of y, >= 0
  const int64_t* rng;
  float* out;
  int64_t n;            // elements
  int64_t first_group;  // the group that index 0 of this launch stands for

  ANALOGTORCH_HD void operator()(int64_t index) const {
    for_group_of_four<kTail>(rng, RandomStream::kArrayReadNoise, first_group, index, n, [this](int64_t i, float z) {
      out[i] = y[i] + detmath::sqrt(variance[i]) * z;
    });
  }
};

}  // namespace kernels
}  // namespace analogtorch
