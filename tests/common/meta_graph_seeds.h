#pragma once
// Small hand-built TensorFlow 1 graphs with the batch-norm and input forms
// graft imports (tests/common/graph_forms.h), as .meta bytes: the fuzz seeds
// that tools/fuzz/seed_meta_graph.cc writes at fuzz time (never stored;
// tests/reliability checks each imports with its batch norm) and the graph
// importer's damaged-input corpus (tests/host/graph_import_test.cc).
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/common/graph_builder.h"
#include "tests/common/graph_forms.h"

namespace graft::test {

// X [-1, 6] -> `input` -> hidden1 (5) -> `norm` -> ReLU -> outputs (3).
inline GraphBuilder seed_graph(const std::function<std::string(GraphBuilder&)>& input,
                               const std::function<std::string(GraphBuilder&, const std::string&)>& norm) {
  GraphBuilder g;
  g.placeholder("X", {-1, 6});
  g.node("net/hidden1/Relu", "Relu", {norm(g, g.dense("hidden1", input(g), 6, 5))});
  g.loss(g.dense("outputs", "net/hidden1/Relu", 5, 3));
  return g;
}

// name -> serialized MetaGraphDef.
inline std::vector<std::pair<std::string, std::string>> meta_graph_seeds() {
  const auto plain = [](GraphBuilder&) { return std::string("X"); };
  std::vector<std::pair<std::string, std::string>> seeds;
  {  // tf.layers/Keras fused=True under a training placeholder.
    FusedBatchNormForm f;
    seeds.emplace_back("fused_v3_cond.meta", seed_graph(plain, [&](GraphBuilder& g, const std::string& x) {
                                               return fused_batch_norm(g, x, "batch_normalization", 5, f);
                                             }).serialized());
  }
  {  // tf.contrib's fused default with updates_collections=None, no gamma.
    FusedBatchNormForm f;
    f.op = "FusedBatchNorm";
    f.scale = false;
    f.momentum = FusedMomentum::kDecay;
    f.contrib_forced_updates = true;
    f.contrib_reshape_back = true;
    seeds.emplace_back("fused_contrib_forced.meta", seed_graph(plain, [&](GraphBuilder& g, const std::string& x) {
                                                      return fused_batch_norm(g, x, "hidden1/BatchNorm", 5, f);
                                                    }).serialized());
  }
  seeds.emplace_back("contrib_cond.meta", seed_graph(plain, [](GraphBuilder& g, const std::string& x) {
                                            return contrib_batch_norm(g, x, "hidden1/BatchNorm", 5,
                                                                      ContribBatchNormForm{});
                                          }).serialized());
  {  // uint8 input cast and standardized, then a fused V3 in NCHW by ExpandDims, averaging itself.
    FusedBatchNormForm f;
    f.format = "NCHW";
    f.expand_dims = true;
    f.momentum = FusedMomentum::kAvgFactor;
    const auto input = [](GraphBuilder& g) {
      (*g.at("X").mutable_attr())["dtype"].set_type(4);
      tf::NodeDef& cast = g.node("Cast", "Cast", {"X"});
      (*cast.mutable_attr())["SrcT"].set_type(4);
      (*cast.mutable_attr())["DstT"].set_type(1);
      g.node("scaled", "Mul", {g.constant("inv255", 1.0f / 255.0f), "Cast"});
      g.node("centered", "Sub", {"scaled", g.constant("mean", {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f}, {6})});
      g.node("standardized", "RealDiv",
             {"centered", g.constant_content("stddev", {0.5f, 0.4f, 0.3f, 0.2f, 0.25f, 0.35f}, {1, 6})});
      return std::string("standardized");
    };
    seeds.emplace_back("input_standardized_fused_nchw.meta",
                       seed_graph(input, [&](GraphBuilder& g, const std::string& x) {
                         return fused_batch_norm(g, x, "batch_normalization", 5, f);
                       }).serialized());
  }
  return seeds;
}

}  // namespace graft::test
