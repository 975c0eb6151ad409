#include "host/model/regularization_spec.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "checkpoint/error.h"

namespace graft {
namespace {

std::string float_text(float v) { return fmt::format("{}", v); }

std::vector<std::string> split_items(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(',', start);
    items.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return items;
}

float parse_number(const std::string& value, const std::string& item) {
  char* stop = nullptr;
  errno = 0;
  const float v = std::strtof(value.c_str(), &stop);
  if (value.empty() || *stop != '\0') throw Error("'" + item + "' is not a number");
  if (!std::isfinite(v) || errno == ERANGE) throw Error("'" + item + "' is not a finite float");
  if (v < 0.0f) throw Error("'" + item + "' is negative (a scale is >= 0)");
  return v;
}

// Adds one item ("0.001" or "NAME=0.001") to `spec`.
void add_item(ScaleSpec& spec, const std::string& item) {
  if (item.empty()) throw Error("an empty entry (two commas, or a comma at an end)");
  const std::size_t eq = item.find('=');
  if (eq == std::string::npos) {
    if (spec.every) throw Error("two numbers for every layer ('" + item + "'): give one, and NAME=VALUE for the others");
    spec.every = parse_number(item, item);
    return;
  }
  const std::string name = item.substr(0, eq);
  if (name.empty()) throw Error("'" + item + "' names no layer");
  for (const auto& [n, v] : spec.by_name) {
    if (n == name) throw Error("layer " + name + " is named twice");
  }
  spec.by_name.emplace_back(name, parse_number(item.substr(eq + 1), item));
}

float scale_for(const ScaleSpec& spec, const std::string& node) {
  for (const auto& [n, v] : spec.by_name) {
    if (n == node) return v;
  }
  return spec.every.value_or(0.0f);
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void check_names(const ScaleSpec& spec, const std::vector<std::string>& names, const std::string& flag) {
  for (const auto& [n, v] : spec.by_name) {
    bool known = false;
    for (const std::string& m : names) known = known || m == n;
    if (!known) throw Error(flag + " names no layer '" + n + "' (the layers: " + join(names) + ")");
  }
}

void check_scales(const ScaleSpec& spec, const std::string& flag, bool radius) {
  auto check = [&](float v, const std::string& what) {
    if (!std::isfinite(v) || v < 0.0f || (radius && what == "every layer" && !(v > 0.0f))) {
      throw Error(fmt::format("{} {} must be a finite number {} 0, not {}", flag, what, radius ? ">" : ">=", v));
    }
  };
  if (spec.every) check(*spec.every, "every layer");
  for (const auto& [n, v] : spec.by_name) check(v, n);
}

// The values of one field over the nodes: "none", one number when every
// node has it, else NAME=VALUE for the nodes that have one.
template <typename Get>
std::string values_text(const std::vector<NodeRegularizer>& nodes, const std::vector<std::string>& names, Get get) {
  bool all_same = !nodes.empty(), none = true;
  for (const NodeRegularizer& r : nodes) {
    all_same = all_same && get(r) == get(nodes.front());
    none = none && !(get(r) > 0.0f);
  }
  if (none) return "none";
  if (all_same) return float_text(get(nodes.front()));
  std::string out;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (get(nodes[i]) > 0.0f) out += (out.empty() ? "" : ",") + names[i] + "=" + float_text(get(nodes[i]));
  }
  return out;
}

bool biases_regularized(const std::vector<NodeRegularizer>& nodes) {
  for (const NodeRegularizer& r : nodes) {
    if (r.bias_l1 > 0 || r.bias_l2 > 0) return true;
  }
  return false;
}

std::string max_norm_text(const std::vector<NodeRegularizer>& nodes, const std::vector<std::string>& names) {
  const std::string radius = values_text(nodes, names, [](const NodeRegularizer& r) { return r.max_norm; });
  if (radius == "none") return radius;
  int axis = 1;
  for (const NodeRegularizer& r : nodes) {
    if (r.max_norm > 0) axis = r.max_norm_axis;
  }
  return radius + ",axis=" + std::to_string(axis);
}

}  // namespace

ScaleSpec parse_scale_spec(const std::string& text) {
  ScaleSpec spec;
  for (const std::string& item : split_items(text)) add_item(spec, item);
  return spec;
}

MaxNormSpec parse_max_norm_spec(const std::string& text) {
  MaxNormSpec spec;
  bool axis_given = false;
  for (const std::string& item : split_items(text)) {
    if (item.rfind("axis=", 0) == 0) {
      if (axis_given) throw Error("axis is given twice");
      const std::string a = item.substr(5);
      if (a != "0" && a != "1") throw Error("'" + item + "': the axis is 0 (columns) or 1 (rows)");
      spec.axis = a == "1" ? 1 : 0;
      axis_given = true;
      continue;
    }
    add_item(spec.radius, item);
  }
  if (spec.radius.every && !(*spec.radius.every > 0.0f)) throw Error("the max-norm radius must be > 0");
  if (!spec.radius.every && spec.radius.by_name.empty()) throw Error("no radius (e.g. 1.0, or hidden1=1.0)");
  return spec;
}

std::vector<NodeRegularizer> apply_regularization_request(
    const std::vector<NodeRegularizer>& base, const std::vector<std::string>& names,
    const RegularizationRequest& request, const std::function<std::string(const std::string&)>& name) {
  std::vector<NodeRegularizer> out = base;
  out.resize(names.size());
  for (const auto& [field, spec] : {std::pair{"l1", &request.l1}, std::pair{"l2", &request.l2}}) {
    if (!*spec) continue;
    check_names(**spec, names, name(field));
    check_scales(**spec, name(field), false);
  }
  if (request.max_norm) {
    check_names(request.max_norm->radius, names, name("max_norm"));
    check_scales(request.max_norm->radius, name("max_norm"), true);
    if (request.max_norm->axis != 0 && request.max_norm->axis != 1) {
      throw Error(fmt::format("{} axis must be 0 or 1, not {}", name("max_norm"), request.max_norm->axis));
    }
  }
  const bool biases = request.regularize_biases.value_or(biases_regularized(base));
  for (std::size_t i = 0; i < names.size(); ++i) {
    NodeRegularizer& r = out[i];
    if (request.l1) r.kernel_l1 = scale_for(*request.l1, names[i]);
    if (request.l2) r.kernel_l2 = scale_for(*request.l2, names[i]);
    if (request.l1 || request.regularize_biases) r.bias_l1 = biases ? r.kernel_l1 : 0.0f;
    if (request.l2 || request.regularize_biases) r.bias_l2 = biases ? r.kernel_l2 : 0.0f;
    if (request.max_norm) {
      r.max_norm = scale_for(request.max_norm->radius, names[i]);
      r.max_norm_axis = request.max_norm->axis;
    }
  }
  if (request.regularize_biases.value_or(false)) {
    bool any = false;
    for (const NodeRegularizer& r : out) any = any || r.kernel_l1 > 0 || r.kernel_l2 > 0;
    if (!any) throw Error(name("regularize_biases") + " needs " + name("l1") + " or " + name("l2"));
  }
  return out;
}

std::vector<RegularizationChange> regularization_changes(const std::vector<NodeRegularizer>& recorded,
                                                         const std::vector<NodeRegularizer>& wanted,
                                                         const std::vector<std::string>& names) {
  std::vector<NodeRegularizer> had = recorded;
  had.resize(names.size());
  std::vector<RegularizationChange> out;
  auto compare = [&](const char* field, auto get) {
    const std::string a = values_text(wanted, names, get), b = values_text(had, names, get);
    bool same = true;
    for (std::size_t i = 0; i < names.size(); ++i) same = same && get(wanted[i]) == get(had[i]);
    if (!same) out.push_back({field, a, b});
  };
  compare("l1", [](const NodeRegularizer& r) { return r.kernel_l1; });
  compare("l2", [](const NodeRegularizer& r) { return r.kernel_l2; });
  bool same_norm = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    same_norm = same_norm && wanted[i].max_norm == had[i].max_norm &&
                (wanted[i].max_norm == 0.0f || wanted[i].max_norm_axis == had[i].max_norm_axis);
  }
  if (!same_norm) out.push_back({"max_norm", max_norm_text(wanted, names), max_norm_text(had, names)});
  bool same_bias = true;
  for (std::size_t i = 0; i < names.size(); ++i) {
    same_bias = same_bias && wanted[i].bias_l1 == had[i].bias_l1 && wanted[i].bias_l2 == had[i].bias_l2;
  }
  if (!same_bias && out.empty()) {
    out.push_back({"regularize_biases", biases_regularized(wanted) ? "on" : "off",
                   biases_regularized(had) ? "on" : "off"});
  }
  return out;
}

std::string regularization_summary(const std::vector<NodeRegularizer>& nodes, const std::vector<std::string>& names) {
  std::string out;
  const char* on = biases_regularized(nodes) ? " (kernels and biases)" : " (kernels)";
  const std::string l1 = values_text(nodes, names, [](const NodeRegularizer& r) { return r.kernel_l1; });
  const std::string l2 = values_text(nodes, names, [](const NodeRegularizer& r) { return r.kernel_l2; });
  const std::string norm = max_norm_text(nodes, names);
  if (l1 != "none") out += "l1 " + l1 + on;
  if (l2 != "none") out += (out.empty() ? "" : ", ") + ("l2 " + l2 + on);
  if (norm != "none") out += (out.empty() ? "" : ", ") + ("max-norm " + norm);
  return out;
}

std::string regularization_help() {
  return "TF1's definitions, recorded in the checkpoint (--resume continues them, eval needs nothing):\n"
         "  --l1 S    tf.contrib.layers.l1_regularizer(S) on the kernels: S * sum(|w|) added to the loss\n"
         "  --l2 S    tf.contrib.layers.l2_regularizer(S): S * sum(w^2) / 2 (Keras's l2(λ) is λ * sum(w^2),\n"
         "            without the /2: Keras l2(λ) = --l2 2λ)\n"
         "  S: one scale for every kernel (0.001), per layer (hidden1=0.001,hidden2=0.0005; the others\n"
         "  none), or both (0.001,outputs=0). The penalty is part of the reported training loss (as TF adds\n"
         "  tf.losses.get_regularization_loss()); validation and test losses are the cross-entropy alone.";
}

}  // namespace graft
