#include "host/model/initializers.h"

#include <cmath>
#include <random>

#include "checkpoint/error.h"

namespace graft {

std::string initializer_name(Initializer init) {
  switch (init) {
    case Initializer::kGlorotUniform: return "glorot_uniform";
    case Initializer::kHeNormal: return "he_normal";
    case Initializer::kHeUniform: return "he_uniform";
    case Initializer::kZeros: return "zeros";
    case Initializer::kOnes: return "ones";
  }
  return "unknown";
}

std::optional<Initializer> parse_initializer(const std::string& text) {
  for (Initializer i : {Initializer::kGlorotUniform, Initializer::kHeNormal, Initializer::kHeUniform,
                        Initializer::kZeros}) {
    if (text == initializer_name(i)) return i;
  }
  if (text == "xavier_uniform") return Initializer::kGlorotUniform;
  return std::nullopt;
}

namespace {

// Uniform in [0, 1) from the top 53 bits: exact and identical everywhere.
double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Standard normal by Box-Muller (one value per call; simple and portable).
double standard_normal(std::mt19937_64& rng) {
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  const double u1 = 1.0 - uniform01(rng);  // (0, 1]: log is finite
  const double u2 = uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(kTwoPi * u2);
}

}  // namespace

void fill_initial_values(Initializer init, int64_t fan_in, int64_t fan_out, uint64_t seed, float* out,
                         int64_t n) {
  std::mt19937_64 rng(seed);
  switch (init) {
    case Initializer::kZeros:
      for (int64_t i = 0; i < n; ++i) out[i] = 0.0f;
      return;
    case Initializer::kOnes:
      for (int64_t i = 0; i < n; ++i) out[i] = 1.0f;
      return;
    case Initializer::kGlorotUniform:
    case Initializer::kHeUniform: {
      if (fan_in <= 0 || fan_out <= 0) throw Error("initializer: fans must be positive");
      const double limit = init == Initializer::kGlorotUniform
                               ? std::sqrt(6.0 / static_cast<double>(fan_in + fan_out))
                               : std::sqrt(6.0 / static_cast<double>(fan_in));
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>((2.0 * uniform01(rng) - 1.0) * limit);
      return;
    }
    case Initializer::kHeNormal: {
      if (fan_in <= 0) throw Error("initializer: fan_in must be positive");
      // The constant is the stddev of a unit normal truncated to [-2, 2]:
      // dividing by it gives the truncated samples the intended variance.
      const double stddev = std::sqrt(2.0 / static_cast<double>(fan_in)) / .87962566103423978;
      for (int64_t i = 0; i < n; ++i) {
        double z;
        do {
          z = standard_normal(rng);
        } while (std::fabs(z) > 2.0);
        out[i] = static_cast<float>(z * stddev);
      }
      return;
    }
  }
}

}  // namespace graft
