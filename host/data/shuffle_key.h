#pragma once
// The per-epoch shuffle shared by every backend: the epoch's row order is the
// permutation that sorts row indices by shuffle_key(seed, epoch, index), ties
// broken by index (a stable sort). The CPU sorts with std::stable_sort, the
// GPU with thrust::stable_sort_by_key: the same batches on both.
#include <cstdint>

#include "host/math/hd.h"

namespace graft {

GRAFT_HD inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

GRAFT_HD inline uint64_t shuffle_key(uint64_t seed, uint64_t epoch, uint64_t index) {
  return splitmix64(splitmix64(splitmix64(seed) ^ epoch) ^ index);
}

}  // namespace graft
