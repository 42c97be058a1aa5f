// Every schema of the analogtorch operator library. Backends register kernels in csrc/cpu/ and
// cuda/; fake kernels and autograd are registered from Python (analogtorch/_ops.py).
//
// Conventions: conductances in uS, voltages in V, times in s. `rng` is an int64 tensor [2] =
// (seed, step) on the device of the data; the same (seed, step) gives the same bits on every
// device and thread count. `pcm_params` and `capacitor_params` are the fields of
// analogtorch.config.PCMDevice and Capacitor3T1C in the order of csrc/params.h.
//
// Reads (pcm_read, pcm_read_moments, hardware_aware_read, add_read_noise, quantize) check no
// values: NaN in, NaN out, and no host read. Ops that write device state refuse NaN, Inf and values
// outside the physics (one host read per call) unless check_values=False: the caller has checked.
#include <torch/library.h>

TORCH_LIBRARY(analogtorch, m) {
  // PCM devices (docs/physics.md sections 1 and 2).
  m.def(
      "pcm_program(Tensor target_us, Tensor rng, float[] pcm_params, bool closed_loop, int device_stride=1, "
      "int device_offset=0) -> "
      "(Tensor conductance_us, Tensor drift_nu, Tensor pulses, Tensor iterations, Tensor converged)");
  m.def(
      "pcm_read(Tensor conductance_us, Tensor drift_nu, Tensor rng, float time_s, float g_max_us, "
      "float t0_s, float t_read_s, bool read_noise) -> Tensor");
  m.def(
      "pcm_read_moments(Tensor conductance_us, Tensor drift_nu, float time_s, float g_max_us, float t0_s, "
      "float t_read_s) -> (Tensor mean_us, Tensor variance_us2)");
  m.def(
      "hardware_aware_read(Tensor weight_us, Tensor rng, float[] pcm_params, bool closed_loop, float time_min_s, "
      "float time_max_s) -> (Tensor mean_us, Tensor variance_us2, Tensor time_s)");
  // An array read's outputs with the sum of their devices' read noise (variance from one more GEMM).
  m.def("add_read_noise(Tensor y, Tensor variance, Tensor rng) -> Tensor");
  m.def(
      "pcm_pair_step_(Tensor(a!) g_plus_us, Tensor(b!) g_minus_us, Tensor(c!) weight, Tensor delta_w_us, Tensor rng, "
      "float[] pcm_params, float gain_f, float scale_us_per_unit, float amplitude, int max_pulses, float refresh_us, "
      "bool check_values=True) -> (Tensor pulses, Tensor refreshed)");

  // The 3T1C capacitor cell (docs/physics.md section 1). v_shared / variation_shared: the shared
  // reference cells, shape [] or one per row of the cells (their shape without the last dimension).
  m.def("cell_variation(Tensor rng, int[] shape) -> Tensor");
  m.def(
      "capacitor_update(Tensor v_c, Tensor variation, Tensor delta_w_us, Tensor rng, int polarity, "
      "float[] capacitor_params) -> (Tensor v_c_out, Tensor pulses)");
  m.def("capacitor_leak(Tensor v_c, float elapsed_s, float tau_s, float v_leak_v, bool check_values=True) -> Tensor");
  m.def(
      "capacitor_step_(Tensor(a!) v_c, Tensor(b!) weight, Tensor g_plus_us, Tensor g_minus_us, Tensor variation, "
      "Tensor delta_w_us, Tensor rng, int polarity, float[] capacitor_params, float elapsed_s, float tau_s, "
      "float v_leak_v, float gain_f, Tensor v_shared, Tensor variation_shared, float scale_us_per_unit, "
      "bool check_values=True) -> Tensor pulses");

  // The unit cell: effective weight and the transfer into PCM.
  m.def(
      "unit_cell_weight(Tensor g_plus_us, Tensor g_minus_us, Tensor v_c, Tensor variation, int polarity, "
      "float[] capacitor_params, float gain_f, Tensor v_shared, Tensor variation_shared, float scale_us_per_unit, "
      "bool check_values=True) -> Tensor");
  m.def(
      "unit_cell_weight_backward(Tensor grad_weight, Tensor v_c, Tensor variation, int polarity, "
      "float[] capacitor_params, float gain_f, float scale_us_per_unit) -> "
      "(Tensor grad_g_plus_us, Tensor grad_g_minus_us, Tensor grad_v_c)");
  m.def(
      "transfer(Tensor g_plus_us, Tensor g_minus_us, Tensor v_c, Tensor variation, Tensor rng, int polarity, "
      "int next_polarity, float[] pcm_params, float[] capacitor_params, float gain_f, Tensor v_shared, "
      "Tensor variation_shared, "
      "float offset_us, float time_since_programming_s, bool closed_loop, bool read_noise, bool keep_weight=True, "
      "bool check_values=True, float rescale=1.0) -> "
      "(Tensor g_plus_us, Tensor g_minus_us, Tensor nu_plus, Tensor nu_minus, Tensor v_c, Tensor pulses, "
      "Tensor iterations)");

  // Periphery: DAC/ADC quantisation and output noise (docs/physics.md section 3).
  m.def("quantize(Tensor x, Tensor rng, int bits, float bound, float noise_std) -> Tensor");
  m.def("quantize_backward(Tensor grad_y, Tensor x, float bound) -> Tensor");

  // The host reads (device synchronisations on a GPU) that value checks made in the backend of
  // `like`'s device since it was loaded: a diagnostic, for proving a path free of them.
  m.def("host_reads(Tensor like) -> int");
}
