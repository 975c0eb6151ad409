#pragma once
// Variable initializers with the semantics of tf.layers.dense / Keras:
//   glorot_uniform  U(-l, l), l = sqrt(6 / (fan_in + fan_out))   (tf.layers.dense default)
//   he_normal       truncated normal (resampled beyond 2 stddev),
//                   stddev = sqrt(2 / fan_in) / .87962566103423978 (TF2 VarianceScaling)
//   he_uniform      U(-l, l), l = sqrt(6 / fan_in)
//   zeros           biases
//   ones            batch norm's gamma and moving variance (tf.ones_initializer)
// and TF1's tf.variance_scaling_initializer (init_ops.py VarianceScaling),
// under its own name so nobody takes it for the TF2 ones:
//   variance_scaling  n = max(1, fan_in | fan_out | (fan_in + fan_out) / 2) (mode);
//                     truncated_normal: normal truncated at 2 stddev (resampled),
//                       stddev = sqrt(scale / n) / .87962566103423978;
//                     untruncated_normal: normal, stddev = sqrt(scale / n);
//                     uniform: U(-l, l), l = sqrt(3 * scale / n).
//                     TF1's defaults: scale 1, fan_in, truncated_normal. TF1's He
//                     initialization is scale 2 (variance_scaling:scale=2).
//   lecun_normal      variance_scaling with scale 1, fan_in, truncated_normal
//                     (for SELU networks)
// Sampling is deterministic: a seed always gives the same values, on every
// platform (our own uniform/normal transforms over std::mt19937_64, whose
// output sequence the standard fixes).
#include <cstdint>
#include <optional>
#include <string>

namespace graft {

enum class Initializer { kGlorotUniform, kHeNormal, kHeUniform, kZeros, kVarianceScaling, kLecunNormal, kOnes };

// variance_scaling's settings (TF1's defaults).
struct VarianceScaling {
  enum class Mode { kFanIn, kFanOut, kFanAvg };
  enum class Distribution { kTruncatedNormal, kUntruncatedNormal, kUniform };
  double scale = 1.0;
  Mode mode = Mode::kFanIn;
  Distribution distribution = Distribution::kTruncatedNormal;
};

std::string initializer_name(Initializer init);  // "glorot_uniform", ...
std::optional<Initializer> parse_initializer(const std::string& text);

// "variance_scaling[:scale=2,mode=fan_avg,distribution=uniform]" (any
// subset, TF1's defaults for the rest). Throws graft::Error naming the
// parameter and its allowed values.
VarianceScaling parse_variance_scaling(const std::string& params);
std::string variance_scaling_text(const VarianceScaling& v);  // "scale=2,mode=fan_in,distribution=truncated_normal"

// Fills out[0, n) for a variable of the given fans. `vs`: variance_scaling's
// settings (lecun_normal uses its own, the others none).
void fill_initial_values(Initializer init, int64_t fan_in, int64_t fan_out, uint64_t seed, float* out,
                         int64_t n, const VarianceScaling& vs = {});

}  // namespace graft
