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

struct AddReadNoise {
  const float* y;
  const float* variance;  // of the noise of y, >= 0
  const int64_t* rng;
  float* out;

  ANALOGTORCH_HD void operator()(int64_t i) const {
    uint64_t seed, step;
    decode_rng_state(rng, seed, step);
    const float z = standard_normal(seed, RandomStream::kArrayReadNoise, static_cast<uint64_t>(i), step);
    out[i] = y[i] + detmath::sqrt(variance[i]) * z;
  }
};

}  // namespace kernels
}  // namespace analogtorch
