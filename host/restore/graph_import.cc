// Over 500 lines: one walk of TensorFlow's graph from the logits back to the
// input, with a recogniser per construct it meets (dense, each activation,
// the hand-written leaky ReLU and SELU, dropout's cond) and the refusals,
// and the description built from what it met; split apart, the walk's
// invariants would be spread over files. Batch normalization's recognisers
// are in graph_batch_norm*.cc, the input transform's in
// graph_input_transform.cc.
#include "host/restore/graph_import.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <set>
#include <unordered_map>
#include <vector>

#include "checkpoint/error.h"
#include "checkpoint/meta_graph.h"
#include "host/restore/graph_batch_norm.h"
#include "host/restore/graph_input_transform.h"
#include "host/restore/graph_walk.h"
#include "meta_graph.pb.h"

namespace graft {
namespace {

using namespace graph_walk;

struct DenseLayer {
  const tf::NodeDef* matmul = nullptr;
  const tf::NodeDef* kernel = nullptr;  // the variable nodes
  const tf::NodeDef* bias = nullptr;
  int64_t fan_in = 0, units = 0;
  Tensor input;  // what the MatMul multiplies
};

std::vector<int64_t> variable_shape(const Graph& g, const tf::NodeDef& var) {
  const tf::AttrValue* s = attr(var, "shape");
  if (!s || !s->has_shape() || s->shape().unknown_rank()) g.fail("variable " + var.name() + " has no shape");
  std::vector<int64_t> dims;
  for (const auto& d : s->shape().dim()) dims.push_back(d.size());
  return dims;
}

std::string shape_text(const std::vector<int64_t>& dims) {
  return "[" + fmt::format("{}", fmt::join(dims, ", ")) + "]";
}

// What an unrecognised node on the network path stands for, searched among
// everything it is computed from: the message names the construct graft
// lacks (a convolution, batch normalization, ...) rather than just the glue
// op (Reshape, Merge) where the walk stopped.
constexpr int kDropoutRank = 4;

[[noreturn]] void refuse(const Graph& g, const tf::NodeDef& at) {
  struct Found {
    int rank;
    std::string text;
  };
  std::vector<Found> found;
  std::set<std::string> kinds;
  auto note = [&](int rank, const std::string& kind, const std::string& text) {
    if (kinds.insert(kind).second) found.push_back({rank, text});
  };
  auto scope_segment = [](const std::string& name, const std::string& prefix) -> bool {
    std::size_t start = 0;
    while (start <= name.size()) {
      const std::size_t end = std::min(name.find('/', start), name.size());
      if (name.compare(start, prefix.size(), prefix) == 0 && end - start >= prefix.size()) return true;
      start = end + 1;
    }
    return false;
  };
  std::set<const tf::NodeDef*> seen{&at};
  std::vector<const tf::NodeDef*> queue{&at};
  std::vector<std::string> placeholders;
  for (std::size_t q = 0; q < queue.size(); ++q) {
    const tf::NodeDef& n = *queue[q];
    const std::string& op = n.op();
    const std::string where = op + " (" + n.name() + ")";
    if (op == "Conv2D" || op == "Conv3D" || op == "Conv1D" || op == "DepthwiseConv2dNative" ||
        op == "Conv2DBackpropInput" || op == "MaxPool" || op == "AvgPool" || op == "MaxPool3D" || op == "AvgPool3D") {
      note(starts_with(op, "Conv") || starts_with(op, "Depthwise") ? 0 : 1, op, where);
    } else if (starts_with(op, "FusedBatchNorm")) {
      note(2, "batchnorm", where);
    } else if (scope_segment(n.name(), "batch_normalization") || scope_segment(n.name(), "BatchNorm") ||
               op == "Rsqrt") {
      note(2, "batchnorm", "batch normalization (" + n.name() + ")");
    } else if (op == "While" || op == "StatelessWhile" || op == "Enter" || op == "NextIteration" || op == "LoopCond" ||
               starts_with(op, "TensorArray") || op == "LSTMBlockCell" || op == "GRUBlockCell" || op == "BlockLSTM") {
      note(3, "rnn", "a recurrent loop: " + where);
    } else if (op == "RandomUniform" || scope_segment(n.name(), "dropout")) {
      note(kDropoutRank, "dropout", "dropout (" + n.name() + ")");
    } else if (op == "Placeholder") {
      placeholders.push_back(n.name());
      if (placeholders.size() == 2) note(5, "inputs", "two inputs (" + placeholders[0] + ", " + n.name() + ")");
    }
    for (int i = 0; i < g.data_inputs(n); ++i) {
      const tf::NodeDef* in = g.input(n, i).node;
      if (seen.insert(in).second) queue.push_back(in);
    }
  }
  if (found.empty()) found.push_back({9, at.op() + " (" + at.name() + ")"});
  std::stable_sort(found.begin(), found.end(), [](const Found& a, const Found& b) { return a.rank < b.rank; });
  // Dropout is named only when it is what stops the walk: beside a construct
  // graft lacks it may well be one graft evaluates (identity_at_inference).
  if (found[0].rank != kDropoutRank) {
    found.erase(std::remove_if(found.begin(), found.end(), [](const Found& f) { return f.rank == kDropoutRank; }),
                found.end());
  }
  std::string list = found[0].text;
  for (std::size_t i = 1; i < found.size(); ++i) list += (i + 1 == found.size() ? " and " : ", ") + found[i].text;
  g.fail("the graph's network uses " + list + ", which graft cannot evaluate yet");
}

// The dense layer whose output is t (MatMul + BiasAdd/Add of a bias
// variable), or nullopt when t is not one.
std::optional<DenseLayer> dense_layer_at(const Graph& g, Tensor t) {
  t = g.through_identity(t);
  const tf::NodeDef& add = *t.node;
  if (t.output != 0 || (add.op() != "BiasAdd" && add.op() != "Add" && add.op() != "AddV2") || g.data_inputs(add) != 2) {
    return std::nullopt;
  }
  DenseLayer d;
  const tf::NodeDef* matmul = nullptr;
  for (int order = 0; order < (add.op() == "BiasAdd" ? 1 : 2) && !matmul; ++order) {
    const Tensor value = g.through_identity(g.input(add, order));
    const tf::NodeDef* bias = g.variable(g.input(add, 1 - order));
    if (value.node->op() == "MatMul" && bias) {
      matmul = value.node;
      d.bias = bias;
    }
  }
  if (!matmul) return std::nullopt;
  for (const char* key : {"transpose_a", "transpose_b"}) {
    const tf::AttrValue* a = attr(*matmul, key);
    if (a && a->b()) g.fail(fmt::format("{} multiplies with {}, which graft cannot evaluate yet", matmul->name(), key));
  }
  if (g.data_inputs(*matmul) != 2) g.fail(matmul->name() + " (MatMul) does not have two inputs");
  d.matmul = matmul;
  d.kernel = g.variable(g.input(*matmul, 1));
  if (!d.kernel) {
    g.fail(matmul->name() + " (MatMul) does not multiply by a variable (x·W), which graft cannot evaluate yet");
  }
  d.input = g.input(*matmul, 0);
  const std::vector<int64_t> k = variable_shape(g, *d.kernel), b = variable_shape(g, *d.bias);
  if (k.size() != 2 || k[0] <= 0 || k[1] <= 0) {
    g.fail("the kernel " + d.kernel->name() + " of " + matmul->name() + " has shape " + shape_text(k));
  }
  if (b.size() != 1 || b[0] != k[1]) {
    g.fail("the bias " + d.bias->name() + " of " + add.name() + " has shape " + shape_text(b) + " but the kernel " +
           d.kernel->name() + " is " + shape_text(k));
  }
  d.fan_in = k[0];
  d.units = k[1];
  return d;
}

bool close_to(double value, double expected) { return std::fabs(value - expected) <= 1e-6 * std::fabs(expected); }

// The two inputs of a binary node in either order: {a, b} with pred(a).
template <class Pred>
std::optional<std::pair<Tensor, Tensor>> either(const Graph& g, const tf::NodeDef& n, Pred pred) {
  if (g.data_inputs(n) != 2) return std::nullopt;
  const Tensor a = g.input(n, 0), b = g.input(n, 1);
  if (pred(a)) return std::make_pair(a, b);
  if (pred(b)) return std::make_pair(b, a);
  return std::nullopt;
}

struct ActivationMatch {
  Activation activation;
  Tensor pre;  // the activation's input z
};

// scale * Select(z >= 0, z, alpha * Elu(z)), the hand-written SELU of
// "Hands-On Machine Learning"; nullopt when n is not that shape.
std::optional<ActivationMatch> handwritten_selu(const Graph& g, const tf::NodeDef& n) {
  if (n.op() != "Mul") return std::nullopt;
  const auto scaled = either(g, n, [&](Tensor t) { return scalar_constant(g, t).has_value(); });
  if (!scaled) return std::nullopt;
  const tf::NodeDef& select = *g.through_identity(scaled->second).node;
  if ((select.op() != "Select" && select.op() != "SelectV2") || g.data_inputs(select) != 3) return std::nullopt;
  const Tensor cond = g.through_identity(g.input(select, 0));
  const Tensor z = g.through_identity(g.input(select, 1));
  const tf::NodeDef& neg = *g.through_identity(g.input(select, 2)).node;
  if (cond.node->op() != "GreaterEqual" || g.data_inputs(*cond.node) != 2 ||
      !(g.through_identity(g.input(*cond.node, 0)) == z) || scalar_constant(g, g.input(*cond.node, 1)) != 0.0) {
    return std::nullopt;
  }
  if (neg.op() != "Mul") return std::nullopt;
  const auto alpha_elu = either(g, neg, [&](Tensor t) { return scalar_constant(g, t).has_value(); });
  if (!alpha_elu) return std::nullopt;
  const tf::NodeDef& elu = *g.through_identity(alpha_elu->second).node;
  if (elu.op() != "Elu" || !(g.through_identity(g.input(elu, 0)) == z)) return std::nullopt;
  const double scale = *scalar_constant(g, scaled->first), alpha = *scalar_constant(g, alpha_elu->first);
  if (!close_to(scale, kSeluScale) || !close_to(alpha, kSeluAlpha)) {
    g.fail(
        fmt::format("{} computes a SELU with scale {} and alpha {}; graft's selu has TensorFlow's constants "
                    "({} and {}) only",
                    n.name(), scale, alpha, kSeluScale, kSeluAlpha));
  }
  return ActivationMatch{{ActivationKind::kSelu, 0.2f}, z};
}

// Maximum(Mul(alpha, z), z): leaky ReLU with alpha in [0, 1).
std::optional<ActivationMatch> handwritten_leaky_relu(const Graph& g, const tf::NodeDef& n) {
  if (n.op() != "Maximum" || g.data_inputs(n) != 2) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    const tf::NodeDef& mul = *g.through_identity(g.input(n, i)).node;
    const Tensor z = g.through_identity(g.input(n, 1 - i));
    if (mul.op() != "Mul") continue;
    const auto parts = either(g, mul, [&](Tensor t) { return scalar_constant(g, t).has_value(); });
    if (!parts || !(g.through_identity(parts->second) == z)) continue;
    const double alpha = *scalar_constant(g, parts->first);
    if (!(alpha >= 0.0 && alpha < 1.0)) {
      g.fail(fmt::format("{} computes max({}·z, z), which is not a leaky ReLU (alpha must be in [0, 1))", n.name(),
                         alpha));
    }
    return ActivationMatch{{ActivationKind::kLeakyRelu, static_cast<float>(alpha)}, z};
  }
  return std::nullopt;
}

// The activation whose output is t, or nullopt when t is no activation.
std::optional<ActivationMatch> activation_at(const Graph& g, Tensor t) {
  t = g.through_identity(t);
  const tf::NodeDef& n = *t.node;
  const std::string& op = n.op();
  if (op == "Relu6" || op == "Softplus" || op == "Softsign" || op == "Crelu" || op == "Gelu") {
    g.fail("the graph's network uses " + op + " (" + n.name() + "), which graft cannot evaluate yet");
  }
  static const std::pair<const char*, ActivationKind> kUnary[] = {
      {"Relu", ActivationKind::kRelu},       {"Elu", ActivationKind::kElu},
      {"Selu", ActivationKind::kSelu},       {"Tanh", ActivationKind::kTanh},
      {"Sigmoid", ActivationKind::kSigmoid}, {"LeakyRelu", ActivationKind::kLeakyRelu}};
  for (const auto& [name, kind] : kUnary) {
    if (op != name) continue;
    if (g.data_inputs(n) != 1) g.fail(n.name() + " (" + op + ") does not have one input");
    Activation a{kind, 0.2f};
    if (kind == ActivationKind::kLeakyRelu) {
      // TensorFlow's op default is 0.2, used when the attr is absent.
      if (const tf::AttrValue* alpha = attr(n, "alpha")) a.alpha = alpha->f();
    }
    return ActivationMatch{a, g.input(n, 0)};
  }
  if (auto m = handwritten_leaky_relu(g, n)) return m;
  if (auto m = handwritten_selu(g, n)) return m;
  return std::nullopt;
}

// Whether anything `from` is computed from reads output 1 (the true branch)
// of a Switch on `pred`.
bool reads_true_branch(const Graph& g, const tf::NodeDef& from, const tf::NodeDef* pred) {
  std::set<const tf::NodeDef*> seen{&from};
  std::vector<const tf::NodeDef*> queue{&from};
  for (std::size_t q = 0; q < queue.size(); ++q) {
    for (int i = 0; i < g.data_inputs(*queue[q]); ++i) {
      const Tensor in = g.input(*queue[q], i);
      if (in.node->op() == "Switch" && in.output == 1 && g.data_inputs(*in.node) == 2 &&
          g.through_identity(g.input(*in.node, 1)).node == pred) {
        return true;
      }
      if (seen.insert(in.node).second) queue.push_back(in.node);
    }
  }
  return false;
}

// A tf.cond on a placeholder that defaults to false (tf.layers.dropout's
// `training`) whose false branch is its input unchanged: at inference the
// Merge forwards Switch output 0, so the cond is the identity. Returns that
// input, or nullopt for any other node.
std::optional<Tensor> identity_at_inference(const Graph& g, Tensor x) {
  const tf::NodeDef& merge = *x.node;
  if (merge.op() != "Merge" || x.output != 0 || g.data_inputs(merge) != 2) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    const Tensor sw = g.through_identity(g.input(merge, i));
    if (sw.node->op() != "Switch" || sw.output != 0 || g.data_inputs(*sw.node) != 2) continue;
    const tf::NodeDef* pred = g.through_identity(g.input(*sw.node, 1)).node;
    if (!false_by_default(g, g.input(*sw.node, 1))) return std::nullopt;
    // The other input must be the cond's true branch, or Merge could forward it.
    if (!reads_true_branch(g, *g.input(merge, 1 - i).node, pred)) return std::nullopt;
    return g.input(*sw.node, 0);
  }
  return std::nullopt;
}

// The logits: what the loss reads, else what InTopK or ArgMax score; `reader` is the op that reads them.
Tensor find_logits(const Graph& g, std::string& reader) {
  const std::vector<std::vector<std::string>> tiers = {
      {"SparseSoftmaxCrossEntropyWithLogits", "SoftmaxCrossEntropyWithLogits"}, {"InTopK", "InTopKV2"}, {"ArgMax"}};
  for (const auto& ops : tiers) {
    std::vector<Tensor> logits;
    std::vector<std::string> readers;
    std::string reader_op;
    for (const tf::NodeDef* n : g.nodes_with_op(ops)) {
      if (starts_with(n->name(), "gradients")) continue;
      const Tensor t = g.through_identity(g.input(*n, 0));
      if (std::find(logits.begin(), logits.end(), t) == logits.end()) {
        logits.push_back(t);
        readers.push_back(n->name());
        reader_op = n->op();
      }
    }
    if (logits.size() == 1) {
      reader = reader_op;
      return logits[0];
    }
    if (logits.size() > 1) {
      g.fail(fmt::format("the graph has more than one head ({} and {} read different logits)", readers[0], readers[1]));
    }
  }
  g.fail("the graph has no loss, InTopK or ArgMax that names the network's logits");
}

// The variable scope of a variable node ("batch_normalization_3/moving_mean" -> "batch_normalization_3").
std::string scope_of(const tf::NodeDef& var) {
  const std::string& name = var.name();
  const auto slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(0, slash);
}

// The rate of the dropout whose cond forwards at `merge`: 1 - keep_prob, or
// the rate constant, found inside the cond's scope; nullopt when neither is.
std::optional<double> dropout_rate(const Graph& g, const tf::NodeDef& merge) {
  const std::string& name = merge.name();
  const std::string scope = name.substr(0, name.rfind('/') + 1);  // "dnn/dropout/cond/"
  for (const tf::NodeDef* c : g.nodes_with_op({"Const"})) {
    if (!starts_with(c->name(), scope)) continue;
    const std::string& n = c->name();
    const auto value = scalar_constant(g, Tensor{c, 0});
    if (!value) continue;
    if (n.size() >= 9 && n.compare(n.size() - 9, 9, "keep_prob") == 0) return 1.0 - *value;
    if (n.size() >= 5 && n.compare(n.size() - 5, 5, "/rate") == 0) return *value;
  }
  return std::nullopt;
}

// One node of the network as the walk meets it (top first).
struct Imported {
  NodeKind kind = NodeKind::kDense;
  DenseLayer dense;
  BatchNormMatch norm;
  Activation activation{ActivationKind::kIdentity, 0.2f};
  std::string dropout_name;
  std::optional<double> rate;
};

ModelDescription model_from_graph(const tf::GraphDef& graph_def, const std::string& origin) {
  const Graph g(graph_def, origin);
  std::string loss_op;
  Tensor t = find_logits(g, loss_op);
  std::vector<Imported> nodes;  // output node first
  std::set<const tf::NodeDef*> visited;
  Activation activation{ActivationKind::kIdentity, 0.2f};  // applied to what the walk meets next
  const tf::NodeDef* input = nullptr;
  std::optional<InputTransformMatch> input_transform;  // what the graph does to its input, when anything
  while (!input) {
    if (auto b = batch_norm_at(g, t)) {
      if (!visited.insert(b->output).second) g.fail("the network's layers form a cycle at " + b->output->name());
      Imported n;
      n.kind = NodeKind::kBatchNorm;
      n.norm = *b;
      n.activation = activation;
      nodes.push_back(n);
      activation = Activation{ActivationKind::kIdentity, 0.2f};
      t = b->input;
      // Batch norm after the activation: the activation sits below it.
      if (const auto a = activation_at(g, t)) {
        activation = a->activation;
        t = a->pre;
      }
      continue;
    }
    const std::optional<DenseLayer> d = dense_layer_at(g, t);
    if (!d) {
      const tf::NodeDef& at = *g.through_identity(t).node;
      if (at.op() == "MatMul" && g.data_inputs(at) == 2) {
        if (const tf::NodeDef* kernel = g.variable(g.input(at, 1))) {
          g.fail(fmt::format("{} (MatMul) multiplies by {} and adds no bias (tf.contrib.layers.fully_connected "
                             "with a normalizer_fn has none): graft's dense layers have a bias, so it cannot "
                             "evaluate the layer yet",
                             at.name(), kernel->name()));
        }
      }
      refuse(g, at);
    }
    if (!visited.insert(d->matmul).second) g.fail("the network's layers form a cycle at " + d->matmul->name());
    Imported dense;
    dense.dense = *d;
    dense.activation = activation;
    nodes.push_back(dense);
    Tensor x = g.through_identity(d->input);
    for (std::size_t steps = 0; steps <= g.size(); ++steps) {
      const std::optional<Tensor> forwarded = identity_at_inference(g, x);
      if (!forwarded) break;
      Imported drop;
      drop.kind = NodeKind::kDropout;
      const std::string& merge = x.node->name();
      drop.dropout_name = merge.size() > 11 && merge.compare(merge.size() - 11, 11, "/cond/Merge") == 0
                              ? merge.substr(0, merge.size() - 11)
                              : merge;
      drop.rate = dropout_rate(g, *x.node);
      nodes.push_back(drop);
      x = g.through_identity(*forwarded);
    }
    if (x.node->op() == "Placeholder") {
      input = x.node;
    } else if (auto transform = input_transform_at(g, x, d->fan_in)) {
      input = transform->placeholder;
      input_transform = std::move(transform);
    } else if (const auto a = activation_at(g, x)) {
      activation = a->activation;
      t = a->pre;
    } else {
      activation = Activation{ActivationKind::kIdentity, 0.2f};  // a linear hidden layer
      t = x;
    }
  }
  if (nodes.back().kind != NodeKind::kDense) g.fail("the network does not start with a dense layer");
  std::reverse(nodes.begin(), nodes.end());

  ModelDescription m;
  m.source = "TensorFlow graph " + origin;
  m.input.features = nodes.front().dense.fan_in;
  // An empty shape is what some TF1 versions wrote for a placeholder of unspecified shape.
  if (const tf::AttrValue* s = attr(*input, "shape");
      s && s->has_shape() && !s->shape().unknown_rank() && s->shape().dim_size() > 0) {
    const auto& dims = s->shape().dim();
    // Flattened inside the graph (tf.reshape(X, [-1, 784]) of [None, 28, 28]): the features in row-major order.
    int64_t per_row = 1;
    for (int i = 1; i < dims.size(); ++i) per_row = dims[i].size() > 0 && per_row > 0 ? per_row * dims[i].size() : -1;
    const bool flattened = input_transform && input_transform->flattened && dims.size() > 2 &&
                           (per_row == m.input.features || per_row < 0);
    if (!flattened && (dims.size() != 2 || (dims[1].size() > 0 && dims[1].size() != m.input.features))) {
      std::vector<int64_t> shape;
      for (const auto& d : dims) shape.push_back(d.size());
      g.fail(fmt::format("the input {} has shape {} but {} takes {} features", input->name(), shape_text(shape),
                         nodes.front().dense.matmul->name(), m.input.features));
    }
  }
  int64_t width = m.input.features;
  std::vector<std::string> read_notes, dropped;
  for (const Imported& imported : nodes) {
    ModelNode n;
    n.kind = imported.kind;
    n.activation = imported.activation;
    if (imported.kind == NodeKind::kDense) {
      const DenseLayer& d = imported.dense;
      if (d.fan_in != width) {
        g.fail(fmt::format("{} takes {} inputs but the layer before it has {} units", d.matmul->name(), d.fan_in,
                           width));
      }
      const std::string& kernel = d.kernel->name();
      const auto slash = kernel.rfind('/');
      n.name = slash == std::string::npos ? kernel : kernel.substr(0, slash);
      n.units = d.units;
      n.variables = {{"kernel", kernel}, {"bias", d.bias->name()}};
      width = d.units;
    } else if (imported.kind == NodeKind::kBatchNorm) {
      const BatchNormMatch& b = imported.norm;
      n.name = scope_of(*b.moving_mean);
      n.units = width;
      n.variables = {{"moving_mean", b.moving_mean->name()}, {"moving_variance", b.moving_variance->name()}};
      if (b.gamma) n.variables["gamma"] = b.gamma->name();
      if (b.beta) n.variables["beta"] = b.beta->name();
      n.batch_norm.scale = b.gamma != nullptr;
      n.batch_norm.center = b.beta != nullptr;
      n.batch_norm.epsilon = static_cast<float>(b.epsilon);
      for (const tf::NodeDef* v : {b.gamma, b.beta, b.moving_mean, b.moving_variance}) {
        if (!v) continue;
        const std::vector<int64_t> shape = variable_shape(g, *v);
        if (shape != std::vector<int64_t>{width}) {
          g.fail(fmt::format("the batch normalization at {} normalises {} features but {} has shape {}",
                             b.output->name(), width, v->name(), shape_text(shape)));
        }
      }
      const bool before = n.activation.kind != ActivationKind::kIdentity;
      const bool after = !before && !m.nodes.empty() && m.nodes.back().activation.kind != ActivationKind::kIdentity;
      std::string note = fmt::format("{} ({}): {}batch norm {}, epsilon {:.6g} read from the graph", n.name,
                                     b.cond.empty() ? b.output->name() : b.cond,
                                     b.fused_op.empty() ? "" : "fused (" + b.fused_op + ") ",
                                     before  ? "before the activation (" + activation_name(n.activation) + ")"
                                     : after ? "after the activation"
                                             : "with no activation after it",
                                     static_cast<float>(b.epsilon));
      if (!b.gamma || !b.beta) {
        note += fmt::format(", {} (no {} in the graph)",
                            !b.gamma && !b.beta ? "scale and center off"
                            : !b.gamma          ? "scale off"
                                                : "center off",
                            !b.gamma && !b.beta ? "gamma or beta" : !b.gamma ? "gamma" : "beta");
      }
      if (b.momentum) {
        n.batch_norm.momentum = *b.momentum;
        note += fmt::format(", momentum {:.6g} ({})", *b.momentum, b.momentum_source);
        read_notes.push_back(note);
      } else {
        read_notes.push_back(note);
        // tf.contrib.layers.batch_norm names its scope LAYER/BatchNorm and decays by 0.999.
        const std::string& scope = n.name;
        const std::string last = scope.substr(scope.rfind('/') == std::string::npos ? 0 : scope.rfind('/') + 1);
        if (starts_with(last, "BatchNorm")) {
          n.batch_norm.momentum = 0.999;
          m.assumptions.push_back(n.name + ": momentum 0.999 (tf.contrib.layers.batch_norm's default decay; the "
                                           "graph has no moving-average update for it)");
        } else {
          m.assumptions.push_back(n.name + ": momentum 0.99 (tf.layers' default; the graph has no moving-average "
                                           "update for it)");
        }
      }
    } else {
      n.name = imported.dropout_name;
      n.units = width;
      if (imported.rate && *imported.rate >= 0.0 && *imported.rate < 1.0) {
        n.rate = static_cast<float>(*imported.rate);
        read_notes.push_back(fmt::format("{}: dropout rate {:.6g} read from the graph, off in evaluation", n.name,
                                         *imported.rate));
      } else {
        n.rate = 0.0f;
        m.assumptions.push_back(n.name + ": dropout whose rate the graph does not show (evaluation does not use it; "
                                         "recorded as 0)");
      }
      dropped.push_back(imported.dropout_name + "/cond/Merge");
    }
    for (const ModelNode& before : m.nodes) {
      if (before.name == n.name && n.kind == NodeKind::kDense) {
        n.name = n.variables.at("kernel");  // two kernels in one scope: name nodes by the kernel
      }
    }
    m.nodes.push_back(n);
  }
  m.output.classes = m.nodes.back().units;
  for (int64_t i = 0; i < m.output.classes; ++i) m.output.labels.push_back(static_cast<int>(i));
  if (loss_op != "SparseSoftmaxCrossEntropyWithLogits") {
    m.assumptions.push_back("loss: sparse softmax cross-entropy (the graph's logits feed " + loss_op +
                            ", not that loss)");
  }
  for (const std::string& merge : dropped) {
    m.assumptions.push_back(merge +
                            " forwards its input unchanged: its tf.cond takes the false branch while the "
                            "training placeholder keeps its default (false)");
  }
  const bool scaled = input_transform && input_transform->scales;
  if (scaled) {
    // The graph's own scaling/standardization: the placeholder takes the raw values.
    const ModelInput& t = input_transform->input;
    m.input.scale = t.scale;
    m.input.mean = t.mean;
    m.input.stddev = t.stddev;
    m.input.read_from = m.source;
    read_notes.push_back(fmt::format("input {} ({}): the graph computes {} before {}: raw value x {:.6g}{}",
                                     input->name(), input_transform->placeholder_type, input_transform->expression,
                                     nodes.front().dense.matmul->name(), t.scale,
                                     t.mean.empty() ? "" : ", then standardized per feature"));
  } else if (input_transform) {
    read_notes.push_back(fmt::format("input {} ({}): the graph computes {} before {}, which does not scale it",
                                     input->name(), input_transform->placeholder_type, input_transform->expression,
                                     nodes.front().dense.matmul->name()));
  }
  m.read = read_notes;
  m.assumptions.push_back("output i stands for label i (the graph does not record which class each output is)");
  if (scaled) {
    m.assumptions.push_back(fmt::format("the input {} takes the raw values as the data holds them (the graph "
                                        "scales them itself)",
                                        input->name()));
  } else {
    m.assumptions.push_back(
        fmt::format("the input {} takes pixels scaled to [0, 1] (the graph does not say how)", input->name()));
  }
  m.validate();
  return m;
}

}  // namespace

ModelDescription model_from_meta_graph_bytes(std::string_view bytes, const std::string& origin) {
  tf::MetaGraphDef meta;
  if (bytes.size() > kMaxMetaGraphBytes) {
    throw Error(origin + ": the graph is " + std::to_string(bytes.size()) + " bytes, more than graft reads (" +
                std::to_string(kMaxMetaGraphBytes) + ")");
  }
  if (!meta.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw Error(origin + ": not a TensorFlow MetaGraphDef (truncated or corrupt)");
  }
  if (meta.graph_def().node_size() == 0) throw Error(origin + ": the MetaGraphDef holds no graph nodes");
  return model_from_graph(meta.graph_def(), origin);
}

std::optional<ModelDescription> model_from_meta_graph(const std::string& prefix) {
  const std::string path = meta_graph_path(prefix);
  const std::optional<std::string> bytes = read_meta_graph_file(path);
  if (!bytes) return std::nullopt;
  return model_from_meta_graph_bytes(*bytes, path);
}

}  // namespace graft
