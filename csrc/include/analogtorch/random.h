// Random draws for the element physics: a cursor over Philox4x32-10 blocks keyed by
// (seed, stream, element, step), so that every element draws its own numbers independently of
// thread count, launch geometry and device.
//
// Counter layout (128 bits):
//   word 0, 1: element index (64 bits)
//   word 2:    step, low 32 bits
//   word 3:    step bits 32..39 | block index << 8 (16 bits) | stream << 24 (8 bits)
// Key: the 64-bit seed. Each block gives 4 uint32 words: 4 uniforms or 2 normals.
#pragma once

#include <stdint.h>

#include "analogtorch/detmath.h"
#include "analogtorch/macros.h"
#include "analogtorch/philox.h"

namespace analogtorch {

// What a draw is for. Different purposes never share random numbers.
enum class RandomStream : uint32_t {
  kProgramming = 1,  // PCM programming noise (open loop) and partial-SET steps (closed loop)
  kDriftExponent = 2,  // per-device drift exponent nu, drawn at programming time
  kReadNoise = 3,  // 1/f read noise, fresh at every read
  kVerifyRead = 4,  // read noise of the verify reads during program-and-verify
  kCellVariation = 5,  // fixed per-cell 3T1C parameters (up/down mismatch, read threshold)
  kCapacitorUpdate = 6,  // stochastic rounding of pulse counts, cycle-to-cycle pulse noise
  kPeriphery = 7,  // converter and output noise
  kPcmVariation = 8,  // fixed per-device PCM parameters (partial-SET step size)
  kTrainingTime = 9,  // the time after programming of a hardware-aware training read
  kArrayReadNoise = 10,  // read noise of an array read's outputs (the sum of its devices' noise)
};

constexpr uint64_t kMaxRandomStep = (uint64_t{1} << 40) - 1;  // steps must fit 40 counter bits

// Reads the rng state tensor's data, (seed, step), as the generator uses it: the step wraps at 2^40,
// the width of its counter field. Called inside kernels so that CUDA never syncs with the host.
ANALOGTORCH_HD void decode_rng_state(const int64_t* rng, uint64_t& seed, uint64_t& step) {
  seed = static_cast<uint64_t>(rng[0]);
  step = static_cast<uint64_t>(rng[1]) & kMaxRandomStep;
}

// Uniform in (0, 1) from the top 24 bits, centred in its bin: never 0, so log(u) is finite
// (Box-Muller tails reach 5.9 sigma). Signed 24-bit conversion: exact and vectorisable.
ANALOGTORCH_HD float uniform_open0(uint32_t bits) {
  return (static_cast<float>(static_cast<int32_t>(bits >> 8)) + 0.5f) * 5.9604644775390625e-08f;
}

// Uniform in [0, 1) with 24 bits of resolution (every value exactly representable).
ANALOGTORCH_HD float uniform_closed0(uint32_t bits) {
  return static_cast<float>(static_cast<int32_t>(bits >> 8)) * 5.9604644775390625e-08f;
}

// Box-Muller: two standard normals from two 32-bit words (tails reach 5.9 sigma).
ANALOGTORCH_HD void box_muller(uint32_t bits_radius, uint32_t bits_angle, float& z0, float& z1) {
  const float radius = detmath::sqrt(-2.0f * detmath::log(uniform_open0(bits_radius)));
  float s, c;
  detmath::sincos_2pi(uniform_closed0(bits_angle), s, c);
  z0 = radius * c;
  z1 = radius * s;
}

// The first Philox block of (seed, stream, element, step): straight-line code, for kernels that
// need at most four words (or two normals) per element, so that their CPU loops vectorise.
ANALOGTORCH_HD Philox4x32Block random_block(uint64_t seed, RandomStream stream, uint64_t element, uint64_t step) {
  Philox4x32Block counter;
  counter.v[0] = static_cast<uint32_t>(element);
  counter.v[1] = static_cast<uint32_t>(element >> 32);
  counter.v[2] = static_cast<uint32_t>(step);
  counter.v[3] = (static_cast<uint32_t>(step >> 32) & 0xffu) | (static_cast<uint32_t>(stream) << 24);
  return philox4x32(counter, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// Block `index` of (seed, stream, element, step), as a RandomCursor reaches it (block 0 is
// random_block()): straight-line, for loops that skip to a later block.
ANALOGTORCH_HD Philox4x32Block random_block_at(uint64_t seed, RandomStream stream, uint64_t element, uint64_t step,
                                               uint32_t index) {
  Philox4x32Block counter;
  counter.v[0] = static_cast<uint32_t>(element);
  counter.v[1] = static_cast<uint32_t>(element >> 32);
  counter.v[2] = static_cast<uint32_t>(step);
  counter.v[3] = (static_cast<uint32_t>(step >> 32) & 0xffu) | ((index & 0xffffu) << 8) |
                 (static_cast<uint32_t>(stream) << 24);
  return philox4x32(counter, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
}

// One standard normal: the first normal a RandomCursor of the same key would give.
ANALOGTORCH_HD float standard_normal(uint64_t seed, RandomStream stream, uint64_t element, uint64_t step) {
  const Philox4x32Block block = random_block(seed, stream, element, step);
  float z0, z1;
  box_muller(block.v[0], block.v[1], z0, z1);
  return z0;
}

// Four standard normals from one Philox block (two Box-Muller pairs), for kernels that draw one
// normal per element: element i takes normal i % 4 of block i / 4, which costs a quarter of the
// Philox rounds and half of the transcendentals of a block per element.
struct FourNormals {
  float z[4];
};

ANALOGTORCH_HD FourNormals four_normals(uint64_t seed, RandomStream stream, uint64_t group, uint64_t step) {
  const Philox4x32Block block = random_block(seed, stream, group, step);
  FourNormals out;
  box_muller(block.v[0], block.v[1], out.z[0], out.z[1]);
  box_muller(block.v[2], block.v[3], out.z[2], out.z[3]);
  return out;
}

// One launch index of a kernel drawing one normal per element, four elements to a block: calls
// element(i, z) for the elements of group first_group + index (with kTail, only those below n: the
// last, partial group). Full groups are straight-line code, so that the CPU loop vectorises.
template <bool kTail, typename Element>
ANALOGTORCH_HD void for_group_of_four(const int64_t* rng, RandomStream stream, int64_t first_group, int64_t index,
                                      int64_t n, const Element& element) {
  uint64_t seed, step;
  decode_rng_state(rng, seed, step);
  const int64_t group = first_group + index;
  const FourNormals z = four_normals(seed, stream, static_cast<uint64_t>(group), step);
  for (int k = 0; k < 4; ++k) {
    const int64_t i = 4 * group + k;
    if (kTail && i >= n) break;
    element(i, z.z[k]);
  }
}

// Sequential draws for one (seed, stream, element, step). Cheap to construct; holds one block.
class RandomCursor {
 public:
  // first_block > 0 starts past blocks that a kernel already used through random_block().
  ANALOGTORCH_HD RandomCursor(uint64_t seed, RandomStream stream, uint64_t element, uint64_t step,
                              uint32_t first_block = 0)
      : key0_(static_cast<uint32_t>(seed)),
        key1_(static_cast<uint32_t>(seed >> 32)),
        element_(element),
        step_(step),
        stream_(static_cast<uint32_t>(stream)),
        block_index_(first_block) {}

  ANALOGTORCH_HD uint32_t next_bits() {
    if (used_ == 4) refill();
    return block_.v[used_++];
  }

  ANALOGTORCH_HD float uniform() { return uniform_closed0(next_bits()); }

  ANALOGTORCH_HD float normal() {
    if (has_spare_normal_) {
      has_spare_normal_ = false;
      return spare_normal_;
    }
    const uint32_t a = next_bits();
    const uint32_t b = next_bits();
    float z0;
    box_muller(a, b, z0, spare_normal_);
    has_spare_normal_ = true;
    return z0;
  }

 private:
  ANALOGTORCH_HD void refill() {
    const uint64_t seed = (static_cast<uint64_t>(key1_) << 32) | key0_;
    block_ = random_block_at(seed, static_cast<RandomStream>(stream_), element_, step_, block_index_);
    ++block_index_;
    used_ = 0;
  }

  uint32_t key0_, key1_;
  uint64_t element_, step_;
  uint32_t stream_;
  uint32_t block_index_;
  Philox4x32Block block_{};
  int used_ = 4;
  bool has_spare_normal_ = false;
  float spare_normal_ = 0.0f;
};

}  // namespace analogtorch
