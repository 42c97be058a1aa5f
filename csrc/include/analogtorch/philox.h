// Philox4x32-10 counter-based random number generator.
// Source: Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11 (Random123).
// Verified against the Random123 known-answer vectors in tests/cpp/test_philox.cpp.
#pragma once

#include <stdint.h>

#include "analogtorch/macros.h"

namespace analogtorch {

struct Philox4x32Block {
  uint32_t v[4];
};

namespace philox_detail {
constexpr uint32_t kMul0 = 0xD2511F53u;
constexpr uint32_t kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

ANALOGTORCH_HD void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  hi = static_cast<uint32_t>(product >> 32);
  lo = static_cast<uint32_t>(product);
}
}  // namespace philox_detail

// One Philox4x32 evaluation with `rounds` rounds (10 is the standard, crush-resistant choice).
ANALOGTORCH_HD Philox4x32Block philox4x32(Philox4x32Block counter, uint32_t key0, uint32_t key1,
                                          int rounds = 10) {
  using namespace philox_detail;
  for (int round = 0; round < rounds; ++round) {
    if (round > 0) {
      key0 += kWeyl0;
      key1 += kWeyl1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, counter.v[0], hi0, lo0);
    mulhilo(kMul1, counter.v[2], hi1, lo1);
    Philox4x32Block next;
    next.v[0] = hi1 ^ counter.v[1] ^ key0;
    next.v[1] = lo1;
    next.v[2] = hi0 ^ counter.v[3] ^ key1;
    next.v[3] = lo0;
    counter = next;
  }
  return counter;
}

}  // namespace analogtorch
