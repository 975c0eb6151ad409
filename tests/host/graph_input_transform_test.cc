// Scaling and standardization inside a TensorFlow 1 graph, between its
// input placeholder and the first dense layer
// (host/restore/graph_input_transform.h): recovered into the model
// description's input transform (ModelInput: raw * scale, then (x - mean) /
// stddev), checked against the graph's arithmetic done here in double; and
// the refusals of what that cannot represent.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "host/data/file_dataset.h"
#include "host/restore/graph_import.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/graph_builder.h"

namespace graft {
namespace {

using test::error_of;
using test::GraphBuilder;

ModelDescription from(const GraphBuilder& g) { return model_from_meta_graph_bytes(g.serialized(), "test.meta"); }

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const std::string& l : lines) all += l + "\n";
  return all;
}

// X (float32 [-1, 4], or uint8 with `dtype` 4) -> `transform` builds the
// first layer's input from "X" -> outputs (2 classes).
template <class Transform>
GraphBuilder input_graph(const Transform& transform, int dtype = 1) {
  GraphBuilder g;
  g.placeholder("X", {-1, 4});
  (*g.at("X").mutable_attr())["dtype"].set_type(dtype);
  g.loss(g.dense("outputs", transform(g), 4, 2));
  return g;
}

// What the imported input transform makes of raw values, per graft's
// definition (host/data/file_dataset.h apply_input_transform).
std::vector<float> transformed(const ModelInput& in, std::vector<float> raw) {
  apply_input_transform(raw, in.features, in.scale, in.mean, in.stddev);
  return raw;
}

const std::vector<float> kRaw{0.f, 17.f, 128.f, 255.f, 3.f, 99.f, 200.f, 254.f};  // two rows of 4

TEST(GraphInputTransform, DivisionBy255IsTheInputScale) {
  const ModelDescription m = from(input_graph([](GraphBuilder& g) {
    g.node("scaled", "RealDiv", {"X", g.constant("scaled/y", 255.0f)});
    return std::string("scaled");
  }));
  EXPECT_DOUBLE_EQ(m.input.scale, 1.0 / 255.0);
  EXPECT_TRUE(m.input.mean.empty());
  EXPECT_EQ(m.input.read_from, "TensorFlow graph test.meta");
  EXPECT_CONTAINS(joined(m.read),
                  "input X (float32): the graph computes X / 255 before net/outputs/MatMul: raw value "
                  "x 0.00392157");
  EXPECT_CONTAINS(joined(m.assumptions),
                  "the input X takes the raw values as the data holds them (the graph scales "
                  "them itself)");
  EXPECT_EQ(joined(m.assumptions).find("pixels scaled to [0, 1]"), std::string::npos);
  const std::vector<float> x = transformed(m.input, kRaw);
  for (std::size_t i = 0; i < kRaw.size(); ++i) EXPECT_FLOAT_EQ(x[i], kRaw[i] / 255.0f) << i;
  EXPECT_CONTAINS(m.summary(), "input: 4 features, raw value x 0.00392157 (read from the TensorFlow graph test.meta)");
}

TEST(GraphInputTransform, MultiplicationByAConstantOnEitherSide) {
  for (bool left : {true, false}) {
    const ModelDescription m = from(input_graph([&](GraphBuilder& g) {
      const std::string c = g.constant("mul/y", 1.0f / 255.0f);
      g.node("mul", "Mul", left ? std::vector<std::string>{c, "X"} : std::vector<std::string>{"X", c});
      return std::string("mul");
    }));
    // TensorFlow multiplies by float32(1/255), not 1/255.
    EXPECT_DOUBLE_EQ(m.input.scale, static_cast<double>(1.0f / 255.0f)) << left;
    EXPECT_TRUE(m.input.mean.empty());
  }
}

// (X - mean) / stddev with per-feature Const vectors (tf.subtract,
// tf.divide), after the book's X / 255: scale 1/255, then standardization.
TEST(GraphInputTransform, StandardizationWithConstVectors) {
  const std::vector<float> mean{0.1f, 0.2f, 0.3f, 0.4f}, stddev{0.5f, 0.25f, 2.0f, 1.0f};
  for (bool content : {false, true}) {
    const ModelDescription m = from(input_graph([&](GraphBuilder& g) {
      g.node("scaled", "RealDiv", {"X", g.constant("c255", 255.0f)});
      const std::string mu = content ? g.constant_content("mean", mean, {4}) : g.constant("mean", mean, {1, 4});
      const std::string sd = content ? g.constant_content("std", stddev, {4}) : g.constant("std", stddev, {4});
      g.node("centered", "Sub", {"scaled", mu});
      g.node("standardized", "RealDiv", {"centered", sd});
      return std::string("standardized");
    }));
    EXPECT_DOUBLE_EQ(m.input.scale, 1.0 / 255.0);
    ASSERT_EQ(m.input.mean.size(), 4u);
    EXPECT_EQ(m.input.mean, mean);
    EXPECT_EQ(m.input.stddev, stddev);
    EXPECT_CONTAINS(joined(m.read),
                    "the graph computes ((X / 255) - mean) / std before net/outputs/MatMul: raw value x "
                    "0.00392157, then standardized per feature");
    // What the network reads, as the graph computes it (in double here).
    const std::vector<float> x = transformed(m.input, kRaw);
    for (std::size_t i = 0; i < kRaw.size(); ++i) {
      EXPECT_NEAR(x[i], (kRaw[i] / 255.0 - mean[i % 4]) / stddev[i % 4], 1e-6) << i;
    }
  }
}

// x * c + d and d + x * c (a shift after a per-feature scale): the
// standardization stands for them exactly.
TEST(GraphInputTransform, ScalesAndShiftsInAnyOrder) {
  const ModelDescription m = from(input_graph([](GraphBuilder& g) {
    g.node("a", "Mul", {"X", g.constant("c", {2.0f, 4.0f, 0.5f, 1.0f}, {4})});
    g.node("b", "AddV2", {g.constant("d", -1.0f), "a"});
    g.node("c2", "Mul", {"b", g.constant("e", 3.0f)});
    return std::string("c2");
  }));
  EXPECT_DOUBLE_EQ(m.input.scale, 1.0);
  const std::vector<float> x = transformed(m.input, kRaw);
  const double c[4] = {2.0, 4.0, 0.5, 1.0};
  for (std::size_t i = 0; i < kRaw.size(); ++i) EXPECT_NEAR(x[i], (kRaw[i] * c[i % 4] - 1.0) * 3.0, 2e-4) << i;
}

TEST(GraphInputTransform, CastFromUint8) {
  {  // tf.cast(X, tf.float32) / 255.
    const ModelDescription m = from(input_graph(
        [](GraphBuilder& g) {
          tf::NodeDef& cast = g.node("Cast", "Cast", {"X"});
          (*cast.mutable_attr())["SrcT"].set_type(4);
          (*cast.mutable_attr())["DstT"].set_type(1);
          g.node("truediv", "RealDiv", {"Cast", g.constant("truediv/y", 255.0f)});
          return std::string("truediv");
        },
        4));
    EXPECT_DOUBLE_EQ(m.input.scale, 1.0 / 255.0);
    EXPECT_CONTAINS(joined(m.read), "input X (uint8): the graph computes cast(X, float32) / 255");
  }
  {  // The cast alone: the network reads the bytes, 0-255.
    const ModelDescription m = from(input_graph(
        [](GraphBuilder& g) {
          tf::NodeDef& cast = g.node("Cast", "Cast", {"X"});
          (*cast.mutable_attr())["SrcT"].set_type(4);
          (*cast.mutable_attr())["DstT"].set_type(1);
          return std::string("Cast");
        },
        4));
    EXPECT_DOUBLE_EQ(m.input.scale, 1.0);
    EXPECT_EQ(m.input.read_from, "TensorFlow graph test.meta");
    EXPECT_EQ(transformed(m.input, kRaw), kRaw);
  }
}

// X [None, 2, 2] flattened by tf.reshape(X, [-1, 4]): the features in row-major
// order; the reshape alone says nothing about the scale.
TEST(GraphInputTransform, AReshapeToTheFeaturesFlattensTheInput) {
  for (bool divided : {false, true}) {
    GraphBuilder g;
    g.placeholder("X", {-1, 2, 2});
    g.node("flat", "Reshape", {"X", g.int_constant("flat/shape", {-1, 4})});
    std::string x = "flat";
    if (divided) {
      g.node("scaled", "RealDiv", {"flat", g.constant("c255", 255.0f)});
      x = "scaled";
    }
    g.loss(g.dense("outputs", x, 4, 2));
    const ModelDescription m = from(g);
    EXPECT_EQ(m.input.features, 4);
    if (divided) {
      EXPECT_DOUBLE_EQ(m.input.scale, 1.0 / 255.0);
      EXPECT_EQ(m.input.read_from, "TensorFlow graph test.meta");
      EXPECT_CONTAINS(joined(m.read), "the graph computes reshape(X, [-1, 4]) / 255 before net/outputs/MatMul");
    } else {
      EXPECT_TRUE(m.input.read_from.empty());
      EXPECT_CONTAINS(joined(m.read),
                      "input X (float32): the graph computes reshape(X, [-1, 4]) before "
                      "net/outputs/MatMul, which does not scale it");
      EXPECT_CONTAINS(joined(m.assumptions), "the input X takes pixels scaled to [0, 1]");
    }
  }
  GraphBuilder wrong;
  wrong.placeholder("X", {-1, 8});
  wrong.node("flat", "Reshape", {"X", wrong.int_constant("flat/shape", {-1, 4, 2})});
  wrong.loss(wrong.dense("outputs", "flat", 4, 2));
  EXPECT_CONTAINS(error_of([&] { from(wrong); }),
                  "the input X is transformed by Reshape (flat) before the first dense layer: it reshapes to "
                  "something other than [-1, 4]");
}

TEST(GraphInputTransform, WithoutOneTheInputIsAssumedScaledToUnits) {
  GraphBuilder g;
  g.placeholder("X", {-1, 4});
  g.loss(g.dense("outputs", "X", 4, 2));
  const ModelDescription m = from(g);
  EXPECT_TRUE(m.input.read_from.empty());
  EXPECT_CONTAINS(joined(m.assumptions), "the input X takes pixels scaled to [0, 1] (the graph does not say how)");
}

TEST(GraphInputTransform, WhatItCannotRepresentIsRefusedByNode) {
  struct Case {
    const char* what;
    std::function<std::string(GraphBuilder&)> build;
    const char* message;
  };
  const std::vector<Case> cases{
      {"nonlinear",
       [](GraphBuilder& g) {
         g.node("root", "Sqrt", {"X"});
         return std::string("root");
       },
       "test.meta: the input X is transformed by Sqrt (root) before the first dense layer: it is not a linear map of "
       "each feature"},
      {"c / X",
       [](GraphBuilder& g) {
         g.node("inv", "RealDiv", {g.constant("one", 1.0f), "X"});
         return std::string("inv");
       },
       "the input X is transformed by RealDiv (inv) before the first dense layer: it divides a constant by the input"},
      {"c - X",
       [](GraphBuilder& g) {
         g.node("flip", "Sub", {g.constant("one", 1.0f), "X"});
         return std::string("flip");
       },
       "the input X is transformed by Sub (flip) before the first dense layer: it flips the input's sign"},
      {"X * X",
       [](GraphBuilder& g) {
         g.node("sq", "Mul", {"X", "X"});
         return std::string("sq");
       },
       "the input X is transformed by Mul (sq) before the first dense layer: neither operand is a constant"},
      {"wrong shape",
       [](GraphBuilder& g) {
         g.node("shift", "Sub", {"X", g.constant("m", {1.f, 2.f, 3.f}, {3})});
         return std::string("shift");
       },
       "its constant m has shape [3], not one value or one per feature (4)"},
      {"negative stddev",
       [](GraphBuilder& g) {
         g.node("shift", "Sub", {"X", g.constant("m", 0.5f)});
         g.node("std", "RealDiv", {"shift", g.constant("s", {1.f, -2.f, 1.f, 1.f}, {4})});
         return std::string("std");
       },
       "the input X is transformed as (X - 0.5) / s before the first dense layer, which makes feature 1 x * -0.5 + "
       "0.25"},
      {"division by zero",
       [](GraphBuilder& g) {
         g.node("d", "RealDiv", {"X", g.constant("zero", 0.0f)});
         return std::string("d");
       },
       "the input X is transformed by RealDiv (d) before the first dense layer: it divides by 0"},
  };
  for (const Case& c : cases) {
    EXPECT_CONTAINS(error_of([&] { from(input_graph(c.build)); }), std::string(c.message)) << c.what;
  }
}

}  // namespace
}  // namespace graft
