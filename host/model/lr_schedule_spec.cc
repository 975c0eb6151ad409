#include "host/model/lr_schedule_spec.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <algorithm>
#include <set>
#include <vector>

#include "checkpoint/error.h"

namespace graft {
namespace {

using math::LrSchedule;
using math::LrScheduleKind;

constexpr LrScheduleKind kKinds[] = {LrScheduleKind::kConstant,   LrScheduleKind::kExponential,
                                     LrScheduleKind::kPiecewise,  LrScheduleKind::kInverseTime,
                                     LrScheduleKind::kNaturalExp, LrScheduleKind::kPolynomial,
                                     LrScheduleKind::kCosine,     LrScheduleKind::kPlateau};

// The parameters each schedule takes; a flag has no value.
struct Param {
  const char* name;
  bool flag;
  bool required;
};
std::vector<Param> params_of(LrScheduleKind kind) {
  switch (kind) {
    case LrScheduleKind::kConstant: return {};
    case LrScheduleKind::kExponential:
    case LrScheduleKind::kInverseTime:
    case LrScheduleKind::kNaturalExp:
      return {{"decay_steps", false, true}, {"decay_rate", false, true}, {"staircase", true, false}};
    case LrScheduleKind::kPolynomial:
      return {{"decay_steps", false, true}, {"end_lr", false, false}, {"power", false, false}, {"cycle", true, false}};
    case LrScheduleKind::kCosine: return {{"decay_steps", false, true}, {"alpha", false, false}};
    case LrScheduleKind::kPiecewise: return {{"boundaries", false, true}, {"values", false, true}};
    case LrScheduleKind::kPlateau:
      return {{"factor", false, false},
              {"patience", false, false},
              {"min_lr", false, false},
              {"min_delta", false, false},
              {"cooldown", false, false}};
  }
  return {};
}

[[noreturn]] void fail(const LrSchedule& s, const std::string& what) {
  throw Error(std::string("lr schedule ") + lr_schedule_name(s.kind) + ": " + what);
}

// A float32 from text: finite, the whole text consumed.
float parse_float(const LrSchedule& s, const std::string& name, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v) || !std::isfinite(static_cast<float>(v))) {
    fail(s, name + " must be a number, not '" + text + "'");
  }
  return static_cast<float>(v);
}

int64_t parse_integer(const LrSchedule& s, const std::string& name, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) fail(s, name + " must be a whole number, not '" + text + "'");
  return v;
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t at = text.find(sep, start);
    out.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
    if (at == std::string::npos) return out;
    start = at + 1;
  }
}

// The shortest text that reads back as the same float (fmt's default).
std::string float_text(float v) { return fmt::format("{}", v); }

}  // namespace

const char* lr_schedule_name(LrScheduleKind kind) {
  switch (kind) {
    case LrScheduleKind::kConstant: return "constant";
    case LrScheduleKind::kExponential: return "exponential";
    case LrScheduleKind::kPiecewise: return "piecewise";
    case LrScheduleKind::kInverseTime: return "inverse_time";
    case LrScheduleKind::kNaturalExp: return "natural_exp";
    case LrScheduleKind::kPolynomial: return "polynomial";
    case LrScheduleKind::kCosine: return "cosine";
    case LrScheduleKind::kPlateau: return "plateau";
  }
  return "unknown";
}

void validate_lr_schedule(const LrSchedule& s) {
  auto positive = [&](const char* name, float v) {
    if (!(v > 0.0f) || !std::isfinite(v)) fail(s, fmt::format("{} must be a positive number, not {}", name, v));
  };
  auto non_negative = [&](const char* name, float v) {
    if (!(v >= 0.0f) || !std::isfinite(v)) fail(s, fmt::format("{} must be a number >= 0, not {}", name, v));
  };
  switch (s.kind) {
    case LrScheduleKind::kConstant: return;
    case LrScheduleKind::kExponential:
      positive("decay_steps", s.decay_steps);
      positive("decay_rate", s.decay_rate);
      return;
    case LrScheduleKind::kInverseTime:
    case LrScheduleKind::kNaturalExp:
      positive("decay_steps", s.decay_steps);
      non_negative("decay_rate", s.decay_rate);
      return;
    case LrScheduleKind::kPolynomial:
      positive("decay_steps", s.decay_steps);
      non_negative("end_lr", s.end_lr);
      positive("power", s.power);
      return;
    case LrScheduleKind::kCosine:
      positive("decay_steps", s.decay_steps);
      if (!(s.alpha >= 0.0f && s.alpha <= 1.0f)) fail(s, fmt::format("alpha must be in [0, 1], not {}", s.alpha));
      return;
    case LrScheduleKind::kPiecewise:
      if (s.num_boundaries < 1 || s.num_boundaries > math::kMaxPiecewiseBoundaries) {
        fail(s, fmt::format("boundaries needs 1 to {} steps, not {}", math::kMaxPiecewiseBoundaries, s.num_boundaries));
      }
      for (int i = 0; i < s.num_boundaries; ++i) {
        if (s.boundaries[i] < 0 || (i > 0 && s.boundaries[i] <= s.boundaries[i - 1])) {
          fail(s, "boundaries must be increasing steps >= 0, separated by '/'");
        }
      }
      for (int i = 0; i <= s.num_boundaries; ++i) positive("values", s.values[i]);
      return;
    case LrScheduleKind::kPlateau:
      if (!(s.factor > 0.0f && s.factor < 1.0f)) fail(s, fmt::format("factor must be in (0, 1), not {}", s.factor));
      if (s.patience < 0) fail(s, fmt::format("patience must be >= 0 epochs, not {}", s.patience));
      if (s.cooldown < 0) fail(s, fmt::format("cooldown must be >= 0 epochs, not {}", s.cooldown));
      non_negative("min_lr", s.min_lr);
      non_negative("min_delta", s.min_delta);
      return;
  }
  throw Error("lr schedule: unknown kind");
}

LrSchedule parse_lr_schedule(const std::string& text) {
  const std::size_t colon = text.find(':');
  const std::string name = text.substr(0, colon);
  LrSchedule s;
  bool known = false;
  for (LrScheduleKind k : kKinds) {
    if (name == lr_schedule_name(k)) {
      s.kind = k;
      known = true;
    }
  }
  if (!known) {
    throw Error("unknown lr schedule '" + name +
                "' (constant, exponential, piecewise, inverse_time, natural_exp, polynomial, cosine, plateau)");
  }
  const std::vector<Param> allowed = params_of(s.kind);
  std::set<std::string> seen;
  int value_count = 0;  // piecewise: rates given
  if (colon != std::string::npos) {
    for (const std::string& item : split(text.substr(colon + 1), ',')) {
      const std::size_t eq = item.find('=');
      const std::string key = item.substr(0, eq);
      const Param* param = nullptr;
      for (const Param& p : allowed) {
        if (key == p.name) param = &p;
      }
      if (!param) {
        std::string names;
        for (const Param& p : allowed) names += std::string(names.empty() ? "" : ", ") + p.name;
        fail(s, "no parameter '" + key + "'" + (names.empty() ? " (it takes none)" : " (it takes " + names + ")"));
      }
      if (!seen.insert(key).second) fail(s, key + " is given twice");
      if (param->flag) {
        if (eq != std::string::npos) fail(s, key + " is a flag and takes no value");
        (key == "staircase" ? s.staircase : s.cycle) = true;
        continue;
      }
      if (eq == std::string::npos) fail(s, key + " needs a value (" + key + "=...)");
      const std::string value = item.substr(eq + 1);
      if (key == "decay_steps") {
        s.decay_steps = parse_float(s, key, value);
      } else if (key == "decay_rate") {
        s.decay_rate = parse_float(s, key, value);
      } else if (key == "end_lr") {
        s.end_lr = parse_float(s, key, value);
      } else if (key == "power") {
        s.power = parse_float(s, key, value);
      } else if (key == "alpha") {
        s.alpha = parse_float(s, key, value);
      } else if (key == "factor") {
        s.factor = parse_float(s, key, value);
      } else if (key == "min_lr") {
        s.min_lr = parse_float(s, key, value);
      } else if (key == "min_delta") {
        s.min_delta = parse_float(s, key, value);
      } else if (key == "patience" || key == "cooldown") {
        const int64_t v = parse_integer(s, key, value);
        if (v < 0 || v > 1000000) fail(s, key + " must be a number of epochs >= 0, not " + value);
        (key == "patience" ? s.patience : s.cooldown) = static_cast<int>(v);
      } else if (key == "boundaries") {
        const std::vector<std::string> steps = split(value, '/');
        if (steps.size() > static_cast<std::size_t>(math::kMaxPiecewiseBoundaries)) {
          fail(s, fmt::format("boundaries takes at most {} steps", math::kMaxPiecewiseBoundaries));
        }
        s.num_boundaries = static_cast<int>(steps.size());
        for (std::size_t i = 0; i < steps.size(); ++i) s.boundaries[i] = parse_integer(s, key, steps[i]);
      } else if (key == "values") {
        const std::vector<std::string> values = split(value, '/');
        if (values.size() > static_cast<std::size_t>(math::kMaxPiecewiseBoundaries + 1)) {
          fail(s, fmt::format("values takes at most {} rates", math::kMaxPiecewiseBoundaries + 1));
        }
        for (std::size_t i = 0; i < values.size(); ++i) s.values[i] = parse_float(s, key, values[i]);
        value_count = static_cast<int>(values.size());  // checked against the boundaries below
      }
    }
  }
  for (const Param& p : allowed) {
    if (p.required && !seen.count(p.name)) fail(s, std::string(p.name) + " is required");
  }
  if (s.kind == LrScheduleKind::kPiecewise) {
    if (value_count != s.num_boundaries + 1) {
      fail(s, fmt::format("values needs one rate more than boundaries ({} boundaries, {} values)", s.num_boundaries,
                          value_count));
    }
  }
  validate_lr_schedule(s);
  return s;
}

std::string lr_schedule_text(const LrSchedule& s) {
  std::string out = lr_schedule_name(s.kind);
  std::vector<std::string> items;
  switch (s.kind) {
    case LrScheduleKind::kConstant: break;
    case LrScheduleKind::kExponential:
    case LrScheduleKind::kInverseTime:
    case LrScheduleKind::kNaturalExp:
      items = {"decay_steps=" + float_text(s.decay_steps), "decay_rate=" + float_text(s.decay_rate)};
      if (s.staircase) items.push_back("staircase");
      break;
    case LrScheduleKind::kPolynomial:
      items = {"decay_steps=" + float_text(s.decay_steps), "end_lr=" + float_text(s.end_lr),
               "power=" + float_text(s.power)};
      if (s.cycle) items.push_back("cycle");
      break;
    case LrScheduleKind::kCosine:
      items = {"decay_steps=" + float_text(s.decay_steps), "alpha=" + float_text(s.alpha)};
      break;
    case LrScheduleKind::kPiecewise: {
      std::string b, v;
      for (int i = 0; i < s.num_boundaries; ++i) b += (i ? "/" : "") + std::to_string(s.boundaries[i]);
      for (int i = 0; i <= s.num_boundaries; ++i) v += (i ? "/" : "") + float_text(s.values[i]);
      items = {"boundaries=" + b, "values=" + v};
      break;
    }
    case LrScheduleKind::kPlateau:
      items = {"factor=" + float_text(s.factor), "patience=" + std::to_string(s.patience),
               "min_lr=" + float_text(s.min_lr), "min_delta=" + float_text(s.min_delta),
               "cooldown=" + std::to_string(s.cooldown)};
      break;
  }
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? "," : ":") + items[i];
  return out;
}

bool same_lr_schedule(const LrSchedule& a, const LrSchedule& b) { return lr_schedule_text(a) == lr_schedule_text(b); }

std::string lr_schedule_help() {
  return "constant (the default)\n"
         "exponential:decay_steps=N,decay_rate=R[,staircase]   lr * R^(step/N)   (tf.train.exponential_decay)\n"
         "inverse_time:decay_steps=N,decay_rate=R[,staircase]  lr / (1 + R*step/N)   (tf.train.inverse_time_decay)\n"
         "natural_exp:decay_steps=N,decay_rate=R[,staircase]   lr * exp(-R*step/N)   (tf.train.natural_exp_decay)\n"
         "polynomial:decay_steps=N[,end_lr=0.0001][,power=1][,cycle]   (lr-end_lr)*(1-step/N)^power+end_lr  "
         "(tf.train.polynomial_decay)\n"
         "cosine:decay_steps=N[,alpha=0]   lr*((1-alpha)*(1+cos(pi*min(step,N)/N))/2+alpha)   (tf.train.cosine_decay)\n"
         "piecewise:boundaries=S1/S2/...,values=R0/R1/R2/...   R0 up to step S1, R1 up to S2, ... (the values are the "
         "rate; --lr is not used)   (tf.train.piecewise_constant)\n"
         "plateau[:factor=0.1][,patience=10][,min_lr=0][,min_delta=0.0001][,cooldown=0]   lr *= factor after "
         "`patience` epochs without a validation loss below best - min_delta   (keras ReduceLROnPlateau)\n"
         "staircase: floor(step/N). step: the global step before the update (0 for the first).";
}

float plateau_step(const LrSchedule& s, PlateauState& state, double validation_loss, float lr) {
  if (state.cooldown_left > 0) {
    state.cooldown_left -= 1;
    state.wait = 0;
  }
  if (validation_loss < state.best - static_cast<double>(s.min_delta)) {
    state.best = validation_loss;
    state.wait = 0;
    return lr;
  }
  if (state.cooldown_left > 0) return lr;
  state.wait += 1;
  if (state.wait < s.patience) return lr;
  if (!(lr > s.min_lr)) return lr;
  const double reduced = std::max(static_cast<double>(lr) * static_cast<double>(s.factor), static_cast<double>(s.min_lr));
  state.cooldown_left = s.cooldown;
  state.wait = 0;
  return static_cast<float>(reduced);
}

}  // namespace graft
