#include "host/model/regularization.h"

#include "host/model/parameter_layout.h"

#include <fmt/format.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "checkpoint/error.h"

namespace graft {
namespace {

std::string float_text(float v) { return fmt::format("{}", v); }

void check_scale(float v, const char* field, const std::string& where) {
  if (!(v >= 0.0f) || !std::isfinite(v)) {
    throw Error(fmt::format("{}: {} must be a finite number >= 0, not {}", where, field, v));
  }
}

}  // namespace

bool NodeRegularizer::operator==(const NodeRegularizer& o) const {
  return kernel_l1 == o.kernel_l1 && kernel_l2 == o.kernel_l2 && bias_l1 == o.bias_l1 && bias_l2 == o.bias_l2 &&
         max_norm == o.max_norm && (max_norm == 0.0f || max_norm_axis == o.max_norm_axis);
}

void validate_node_regularizer(const NodeRegularizer& r, const std::string& where) {
  check_scale(r.kernel_l1, "kernel_l1", where);
  check_scale(r.kernel_l2, "kernel_l2", where);
  check_scale(r.bias_l1, "bias_l1", where);
  check_scale(r.bias_l2, "bias_l2", where);
  check_scale(r.max_norm, "max_norm", where);  // 0 is "none"; a set one is > 0
  if (r.max_norm_axis != 0 && r.max_norm_axis != 1) {
    throw Error(fmt::format("{}: max_norm_axis must be 0 or 1, not {}", where, r.max_norm_axis));
  }
}

std::vector<ParamRegularizer> param_regularizers(const ParameterLayout& layout,
                                                 const std::vector<NodeRegularizer>& nodes) {
  if (static_cast<int>(nodes.size()) > layout.num_nodes()) {
    throw Error(fmt::format("regularizers for {} nodes, but the model has {}", nodes.size(), layout.num_nodes()));
  }
  std::vector<ParamRegularizer> out(static_cast<std::size_t>(layout.size()));
  for (std::size_t n = 0; n < nodes.size(); ++n) {
    const NodeRegularizer& r = nodes[n];
    validate_node_regularizer(r, fmt::format("node {}", n));
    const int k = layout.kernel(static_cast<int>(n)), b = layout.bias(static_cast<int>(n));
    if (k >= 0) {
      ParamRegularizer& p = out[static_cast<std::size_t>(k)];
      p.l1 = r.kernel_l1;
      p.l2 = r.kernel_l2;
      p.max_norm = r.max_norm;
      p.max_norm_axis = r.max_norm_axis;
    }
    if (b >= 0) {
      out[static_cast<std::size_t>(b)].l1 = r.bias_l1;
      out[static_cast<std::size_t>(b)].l2 = r.bias_l2;
    }
  }
  return out;
}

bool any_regularizer(const std::vector<ParamRegularizer>& params) {
  for (const ParamRegularizer& p : params) {
    if (p.any()) return true;
  }
  return false;
}

std::string node_regularizer_text(const NodeRegularizer& r) {
  std::string text;
  auto add = [&text](const char* key, const std::string& value) {
    text += (text.empty() ? "" : ",") + std::string(key) + "=" + value;
  };
  if (r.kernel_l1 > 0) add("kernel_l1", float_text(r.kernel_l1));
  if (r.kernel_l2 > 0) add("kernel_l2", float_text(r.kernel_l2));
  if (r.bias_l1 > 0) add("bias_l1", float_text(r.bias_l1));
  if (r.bias_l2 > 0) add("bias_l2", float_text(r.bias_l2));
  if (r.max_norm > 0) {
    add("max_norm", float_text(r.max_norm));
    add("max_norm_axis", std::to_string(r.max_norm_axis));
  }
  return text;
}

NodeRegularizer parse_node_regularizer(const std::string& text) {
  NodeRegularizer r;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    start = end + 1;
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) throw Error("regularizer '" + text + "': '" + item + "' is not KEY=VALUE");
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    char* stop = nullptr;
    errno = 0;
    const float v = std::strtof(value.c_str(), &stop);
    if (value.empty() || *stop != '\0' || errno == ERANGE) {
      throw Error("regularizer '" + text + "': " + key + " is not a number: '" + value + "'");
    }
    if (key == "kernel_l1") r.kernel_l1 = v;
    else if (key == "kernel_l2") r.kernel_l2 = v;
    else if (key == "bias_l1") r.bias_l1 = v;
    else if (key == "bias_l2") r.bias_l2 = v;
    else if (key == "max_norm") r.max_norm = v;
    else if (key == "max_norm_axis" && (value == "0" || value == "1")) r.max_norm_axis = value == "1" ? 1 : 0;
    else throw Error("regularizer '" + text + "': unknown setting '" + item + "'");
  }
  validate_node_regularizer(r, "regularizer '" + text + "'");
  return r;
}

}  // namespace graft
