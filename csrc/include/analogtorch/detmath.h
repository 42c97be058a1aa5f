// Deterministic float32 transcendentals: log, exp, pow, sin/cos of 2*pi*u.
//
// Why not logf/expf: the host libm and CUDA's libdevice round differently in the last bits, so a
// formula that calls them gives different bits on CPU and GPU. These functions use only +, -, *, /,
// sqrt and exact bit manipulation, which IEEE 754 rounds identically on both, provided the compilers
// neither contract a*b+c into an FMA nor reorder (setup.py and CMakeLists.txt pass -ffp-contract=off
// to the host compiler and --fmad=false to nvcc). Accuracy: a few ulp, far below the physics' noise.
#pragma once

#include <stdint.h>

#include "analogtorch/macros.h"

#if !defined(__CUDA_ARCH__)
#include <cmath>
#include <cstring>
#endif

namespace analogtorch {
namespace detmath {

ANALOGTORCH_HD uint32_t float_bits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  return bits;
#endif
}

ANALOGTORCH_HD float bits_float(uint32_t bits) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(bits);
#else
  float x;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
#endif
}

constexpr float kLn2Hi = 0.693145751953125f;        // ln 2, upper bits (exact product with small ints)
constexpr float kLn2Lo = 1.428606765330187045e-06f;  // ln 2 - kLn2Hi
constexpr float kLog2e = 1.442695040888963407f;

ANALOGTORCH_HD float infinity() { return bits_float(0x7f800000u); }
ANALOGTORCH_HD float quiet_nan() { return bits_float(0x7fc00000u); }
ANALOGTORCH_HD bool is_nan(float x) { return x != x; }
ANALOGTORCH_HD float fmin_(float a, float b) { return a < b ? a : b; }
ANALOGTORCH_HD float fmax_(float a, float b) { return a > b ? a : b; }
// |x| as a select (fabs(-0) = +0): a bit mask applied to a loaded value stops GCC vectorising.
ANALOGTORCH_HD float fabs_(float x) { return x > -x ? x : -x; }
ANALOGTORCH_HD float clamp(float x, float lo, float hi) { return fmin_(fmax_(x, lo), hi); }

// Correctly rounded square root (IEEE 754 requires it on both sides).
ANALOGTORCH_HD float sqrt(float x) {
#if defined(__CUDA_ARCH__)
  return __fsqrt_rn(x);
#else
  return std::sqrt(x);
#endif
}

// Round toward -inf for |x| < 2^31 (a truncating conversion: exact, and vectorisable on SSE2,
// where floor() is a library call).
ANALOGTORCH_HD float floor_small(float x) {
  const float truncated = static_cast<float>(static_cast<int32_t>(x));
  return truncated > x ? truncated - 1.0f : truncated;
}

// Nearest integer, halves rounded up, for |x| < 2^23 (exact; truncating conversion, vectorisable).
ANALOGTORCH_HD float round_half_up(float x) {
  const float shifted = x + 0.5f;
  const float truncated = static_cast<float>(static_cast<int32_t>(shifted));
  return truncated > shifted ? truncated - 1.0f : truncated;  // truncation rounds negatives up
}

// Natural logarithm. log(+-0) = -inf, log(x < 0) = NaN, log(inf) = inf.
// Branch-free, and special cases are classified from the bit pattern rather than by float
// comparisons: both keep GCC vectorising the loops that call it.
ANALOGTORCH_HD float log(float x) {
  const uint32_t raw = float_bits(x);
  const uint32_t magnitude = raw & 0x7fffffffu;
  // Subnormals are scaled into the normal range first (exact). Chosen with a bit mask, not a
  // select: GCC turned the select into a branch in some loops, which then did not vectorise.
  const uint32_t subnormal = 0u - static_cast<uint32_t>(magnitude < 0x00800000u);  // all ones or 0
  const uint32_t bits = (float_bits(x * 8388608.0f) & subnormal) | (raw & ~subnormal);  // 2^23
  // x = m * 2^e with m in [sqrt(1/2), sqrt(2)), so that s below is small.
  int e = static_cast<int>((bits >> 23) & 0xffu) - 127 - static_cast<int>(23u & subnormal);
  float m = bits_float((bits & 0x007fffffu) | 0x3f800000u);  // m in [1, 2)
  const bool high = m > 1.41421356f;
  m = high ? m * 0.5f : m;
  e = high ? e + 1 : e;
  // log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716: the odd series to s^11 is
  // exact to float precision (next term < 1e-9 relative).
  const float s = (m - 1.0f) / (m + 1.0f);
  const float s2 = s * s;
  float series = 1.0f / 11.0f;
  series = series * s2 + 1.0f / 9.0f;
  series = series * s2 + 1.0f / 7.0f;
  series = series * s2 + 1.0f / 5.0f;
  series = series * s2 + 1.0f / 3.0f;
  const float log_m = 2.0f * s + 2.0f * s * (s2 * series);
  const float ef = static_cast<float>(e);
  float result = (ef * kLn2Hi + log_m) + ef * kLn2Lo;
  result = magnitude == 0x7f800000u ? infinity() : result;  // +inf (-inf is caught below)
  result = magnitude == 0u ? -infinity() : result;
  const bool negative = (raw >> 31) != 0u && magnitude != 0u;
  return (magnitude > 0x7f800000u || negative) ? quiet_nan() : result;
}

// Exponential. Underflows to 0 below -103.97, overflows to inf above 88.72. Branch-free.
ANALOGTORCH_HD float exp(float x) {
  const float xc = clamp(x, -103.972076f, 88.7228394f);
  // x = k ln2 + r with |r| <= ln2 / 2; exp(r) by its Taylor series to r^8 (error < 1e-9 relative).
  // k = round(x / ln2): adding and subtracting 1.5 * 2^23 rounds to the nearest integer in float
  // arithmetic, with no comparison (a select here made GCC duplicate the body and stop vectorising).
  const float k = (xc * kLog2e + 12582912.0f) - 12582912.0f;
  const int ki = static_cast<int>(k);
  const float r = (xc - k * kLn2Hi) - k * kLn2Lo;
  float p = 1.0f / 40320.0f;
  p = p * r + 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // Scale by 2^k as 2^a 2^b with a in [-126, 127] and b in [-24, 1], both normal powers of two, so
  // that results near the subnormal range and at the top of the range are not lost.
  const int a = ki < -126 ? -126 : (ki > 127 ? 127 : ki);
  const int b = ki - a;
  float result = (p * bits_float(static_cast<uint32_t>(a + 127) << 23)) * bits_float(static_cast<uint32_t>(b + 127) << 23);
  result = x > 88.7228394f ? infinity() : result;
  result = x < -103.972076f ? 0.0f : result;
  return is_nan(x) ? x : result;
}

// x^y for x >= 0 and y > 0 (0^y = 0 follows from log(0) = -inf and exp(-inf) = 0).
ANALOGTORCH_HD float pow_pos(float x, float y) { return exp(y * log(x)); }

// sin(2 pi u) and cos(2 pi u) for u in [0, 1).
ANALOGTORCH_HD void sincos_2pi(float u, float& sin_out, float& cos_out) {
  // Reduce to a quarter turn: u = q/4 + t with |t| <= 1/8; the reduction is exact in float.
  const float q = static_cast<float>(static_cast<int>(u * 4.0f + 0.5f));
  const float t = u - 0.25f * q;
  const int quadrant = static_cast<int>(q) & 3;
  const float a = t * 6.28318530717958648f;  // |a| <= pi / 4
  const float a2 = a * a;
  // Taylor series: to a^11 for sin, a^12 for cos (truncation < 1e-10).
  float sp = -1.0f / 39916800.0f;
  sp = sp * a2 + 1.0f / 362880.0f;
  sp = sp * a2 - 1.0f / 5040.0f;
  sp = sp * a2 + 1.0f / 120.0f;
  sp = sp * a2 - 1.0f / 6.0f;
  const float sin_a = a + a * (a2 * sp);
  float cp = 1.0f / 479001600.0f;
  cp = cp * a2 - 1.0f / 3628800.0f;
  cp = cp * a2 + 1.0f / 40320.0f;
  cp = cp * a2 - 1.0f / 720.0f;
  cp = cp * a2 + 1.0f / 24.0f;
  cp = cp * a2 - 0.5f;
  const float cos_a = 1.0f + a2 * cp;
  // Rotate by the quadrant (selects rather than a switch, so that loops vectorise).
  const bool odd = (quadrant & 1) != 0;
  const float sin_base = odd ? cos_a : sin_a;
  const float cos_base = odd ? sin_a : cos_a;
  sin_out = (quadrant >= 2) ? -sin_base : sin_base;
  cos_out = (quadrant == 1 || quadrant == 2) ? -cos_base : cos_base;
}

}  // namespace detmath
}  // namespace analogtorch
