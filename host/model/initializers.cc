#include "host/model/initializers.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
    case Initializer::kVarianceScaling: return "variance_scaling";
    case Initializer::kLecunNormal: return "lecun_normal";
  }
  return "unknown";
}

std::optional<Initializer> parse_initializer(const std::string& text) {
  for (Initializer i : {Initializer::kGlorotUniform, Initializer::kHeNormal, Initializer::kHeUniform,
                        Initializer::kZeros, Initializer::kVarianceScaling, Initializer::kLecunNormal}) {
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

const char* mode_name(VarianceScaling::Mode m) {
  switch (m) {
    case VarianceScaling::Mode::kFanIn: return "fan_in";
    case VarianceScaling::Mode::kFanOut: return "fan_out";
    case VarianceScaling::Mode::kFanAvg: return "fan_avg";
  }
  return "";
}

const char* distribution_name(VarianceScaling::Distribution d) {
  switch (d) {
    case VarianceScaling::Distribution::kTruncatedNormal: return "truncated_normal";
    case VarianceScaling::Distribution::kUntruncatedNormal: return "untruncated_normal";
    case VarianceScaling::Distribution::kUniform: return "uniform";
  }
  return "";
}

}  // namespace

VarianceScaling parse_variance_scaling(const std::string& params) {
  VarianceScaling v;
  std::size_t start = 0;
  while (!params.empty()) {
    const std::size_t comma = params.find(',', start);
    const std::string item = params.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const std::size_t eq = item.find('=');
    const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "scale") {
      char* end = nullptr;
      v.scale = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || !std::isfinite(v.scale) || !(v.scale > 0.0)) {
        throw Error("variance_scaling: scale must be a positive number, not '" + value + "'");
      }
    } else if (key == "mode") {
      bool ok = false;
      for (auto m : {VarianceScaling::Mode::kFanIn, VarianceScaling::Mode::kFanOut, VarianceScaling::Mode::kFanAvg}) {
        if (value == mode_name(m)) v.mode = m, ok = true;
      }
      if (!ok) throw Error("variance_scaling: mode must be fan_in, fan_out or fan_avg, not '" + value + "'");
    } else if (key == "distribution") {
      bool ok = false;
      for (auto d : {VarianceScaling::Distribution::kTruncatedNormal, VarianceScaling::Distribution::kUntruncatedNormal,
                     VarianceScaling::Distribution::kUniform}) {
        if (value == distribution_name(d)) v.distribution = d, ok = true;
      }
      if (value == "normal") v.distribution = VarianceScaling::Distribution::kTruncatedNormal, ok = true;  // TF1's old name
      if (!ok) {
        throw Error("variance_scaling: distribution must be truncated_normal, untruncated_normal or uniform, not '" +
                    value + "'");
      }
    } else {
      throw Error("variance_scaling: no parameter '" + key + "' (it takes scale, mode, distribution)");
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return v;
}

std::string variance_scaling_text(const VarianceScaling& v) {
  char scale[32];
  std::snprintf(scale, sizeof scale, "%.17g", v.scale);
  return std::string("scale=") + scale + ",mode=" + mode_name(v.mode) + ",distribution=" + distribution_name(v.distribution);
}

void fill_initial_values(Initializer init, int64_t fan_in, int64_t fan_out, uint64_t seed, float* out,
                         int64_t n, const VarianceScaling& vs) {
  std::mt19937_64 rng(seed);
  switch (init) {
    case Initializer::kVarianceScaling:
    case Initializer::kLecunNormal: {
      if (fan_in <= 0 || fan_out <= 0) throw Error("initializer: fans must be positive");
      const VarianceScaling v = init == Initializer::kLecunNormal ? VarianceScaling{} : vs;
      const double fan = v.mode == VarianceScaling::Mode::kFanIn    ? static_cast<double>(fan_in)
                         : v.mode == VarianceScaling::Mode::kFanOut ? static_cast<double>(fan_out)
                                                                    : static_cast<double>(fan_in + fan_out) / 2.0;
      const double scale = v.scale / std::max(1.0, fan);
      switch (v.distribution) {
        case VarianceScaling::Distribution::kTruncatedNormal: {
          const double stddev = std::sqrt(scale) / .87962566103423978;
          for (int64_t i = 0; i < n; ++i) {
            double z;
            do {
              z = standard_normal(rng);
            } while (std::fabs(z) > 2.0);
            out[i] = static_cast<float>(z * stddev);
          }
          return;
        }
        case VarianceScaling::Distribution::kUntruncatedNormal: {
          const double stddev = std::sqrt(scale);
          for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(standard_normal(rng) * stddev);
          return;
        }
        case VarianceScaling::Distribution::kUniform: {
          const double limit = std::sqrt(3.0 * scale);
          for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>((2.0 * uniform01(rng) - 1.0) * limit);
          return;
        }
      }
      return;
    }
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
