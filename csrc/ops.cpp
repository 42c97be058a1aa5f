// Every schema of the analogtorch operator library. Backends register kernels in csrc/cpu/ and
// cuda/; fake kernels and autograd are registered from Python (analogtorch/_ops.py).
//
// Conventions: conductances in uS, times in s. `rng` is an int64 tensor [2] = (seed, step) on the
// device of the data; the same (seed, step) gives the same bits on every device and thread count.
#include <torch/library.h>

TORCH_LIBRARY(analogtorch, m) {
  // PCM inference (PHYSICS.md section 2).
  m.def(
      "pcm_program(Tensor target_us, Tensor rng, float g_max_us) -> (Tensor conductance_us, Tensor drift_nu)");
  m.def(
      "pcm_read(Tensor conductance_us, Tensor drift_nu, Tensor rng, float time_s, float g_max_us, "
      "float t0_s, float t_read_s, bool read_noise) -> Tensor");
}
