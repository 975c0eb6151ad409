#pragma once
// Variable initializers with the semantics of tf.layers.dense / Keras:
//   glorot_uniform  U(-l, l), l = sqrt(6 / (fan_in + fan_out))   (tf.layers.dense default)
//   he_normal       truncated normal (resampled beyond 2 stddev),
//                   stddev = sqrt(2 / fan_in) / .87962566103423978 (TF2 VarianceScaling)
//   he_uniform      U(-l, l), l = sqrt(6 / fan_in)
//   zeros           biases
//   ones            batch norm's gamma and moving variance (tf.ones_initializer)
// Sampling is deterministic: a seed always gives the same values, on every
// platform (our own uniform/normal transforms over std::mt19937_64, whose
// output sequence the standard fixes).
#include <cstdint>
#include <optional>
#include <string>

namespace graft {

enum class Initializer { kGlorotUniform, kHeNormal, kHeUniform, kZeros, kOnes };

std::string initializer_name(Initializer init);  // "glorot_uniform", ...
std::optional<Initializer> parse_initializer(const std::string& text);

// Fills out[0, n) for a variable of the given fans.
void fill_initial_values(Initializer init, int64_t fan_in, int64_t fan_out, uint64_t seed, float* out,
                         int64_t n);

}  // namespace graft
