// Philox4x32-10 against the Random123 known-answer vectors (kat_vectors, "philox4x32 10" rows).
#include <gtest/gtest.h>

#include "analogtorch/philox.h"

namespace analogtorch {
namespace {

struct KnownAnswer {
  uint32_t counter[4];
  uint32_t key[2];
  uint32_t expected[4];
};

constexpr KnownAnswer kKnownAnswers[] = {
    {{0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000},
     {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
    {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
     {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
    {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
     {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
};

TEST(Philox4x32, MatchesRandom123KnownAnswers) {
  for (const KnownAnswer& kat : kKnownAnswers) {
    Philox4x32Block counter{{kat.counter[0], kat.counter[1], kat.counter[2], kat.counter[3]}};
    const Philox4x32Block out = philox4x32(counter, kat.key[0], kat.key[1]);
    for (int word = 0; word < 4; ++word) {
      EXPECT_EQ(out.v[word], kat.expected[word]) << "word " << word << " of counter " << std::hex << kat.counter[0];
    }
  }
}

TEST(Philox4x32, OneCounterBitChangesAboutHalfTheOutputBits) {
  const Philox4x32Block base = philox4x32({{1, 2, 3, 4}}, 5, 6);
  for (int word = 0; word < 4; ++word) {
    for (int bit = 0; bit < 32; bit += 7) {
      Philox4x32Block counter{{1, 2, 3, 4}};
      counter.v[word] ^= 1u << bit;
      const Philox4x32Block flipped = philox4x32(counter, 5, 6);
      int changed = 0;
      for (int w = 0; w < 4; ++w) changed += __builtin_popcount(flipped.v[w] ^ base.v[w]);
      // 128 output bits, each flipping with probability 1/2: 64 +- 5.7; 30..98 is a 6-sigma band.
      EXPECT_GT(changed, 30);
      EXPECT_LT(changed, 98);
    }
  }
}

}  // namespace
}  // namespace analogtorch
