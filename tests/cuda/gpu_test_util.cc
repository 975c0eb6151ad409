#include "tests/cuda/gpu_test_util.h"

#include "tests/common/small_net.h"

namespace graft::test {

std::vector<float> random_floats(std::size_t n, float lo, float hi, uint32_t seed) {
  return uniform_floats(n, lo, hi, seed);
}

std::vector<int32_t> random_labels(std::size_t n, int32_t classes, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, classes - 1);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace graft::test
