// The model table: TF names and shapes, slots per optimizer, frozen
// variables, validation errors; initializers' ranges, statistics and
// determinism.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "checkpoint/error.h"
#include "host/model/model_spec.h"
#include "host/model/parameters.h"

namespace graft {
namespace {

const Activation kRelu{ActivationKind::kRelu};

TEST(ModelSpec, DefaultNamesAndShapes) {
  const ModelSpec spec = make_mlp_spec(784, {300, 50}, 10, kRelu);
  ASSERT_EQ(spec.layers.size(), 3u);
  EXPECT_EQ(spec.layers[0].name, "hidden1");
  EXPECT_EQ(spec.layers[1].name, "hidden2");
  EXPECT_EQ(spec.layers[2].name, "outputs");
  EXPECT_EQ(spec.layers[2].activation.kind, ActivationKind::kIdentity);
  EXPECT_EQ(spec.layers[1].activation.kind, ActivationKind::kRelu);
  EXPECT_EQ(spec.inputs(), 784);
  EXPECT_EQ(spec.outputs(), 10);
  EXPECT_EQ(spec.describe(), "784-300-50-10 (relu)");
  const auto shapes = spec.backend_shapes();
  EXPECT_EQ(shapes[1].fan_in, 300);
  EXPECT_EQ(shapes[1].fan_out, 50);
}

TEST(ModelSpec, ParameterTableFollowsTensorFlow) {
  ModelSpec spec = make_mlp_spec(4, {3}, 2, kRelu);
  const auto table = parameter_table(spec, OptimizerKind::kAdam);
  ASSERT_EQ(table.size(), 4u);
  EXPECT_EQ(table[0].name, "hidden1/kernel");
  EXPECT_EQ(table[0].shape, (Shape{4, 3}));
  EXPECT_EQ(table[0].index, 0);
  EXPECT_EQ(table[0].initializer, Initializer::kGlorotUniform);
  EXPECT_EQ(table[1].name, "hidden1/bias");
  EXPECT_EQ(table[1].shape, (Shape{3}));
  EXPECT_EQ(table[1].initializer, Initializer::kZeros);
  EXPECT_EQ(table[3].name, "outputs/bias");
  EXPECT_EQ(table[3].index, 3);
  EXPECT_EQ(table[0].slot_names, (std::vector<std::string>{"hidden1/kernel/Adam", "hidden1/kernel/Adam_1"}));
  EXPECT_EQ(table[2].elements(), 6);
  EXPECT_EQ(find_parameter(table, "outputs/kernel"), &table[2]);
  EXPECT_EQ(find_parameter(table, "outputs"), nullptr);

  // Frozen variables have no slots (TF var_list semantics).
  spec.layers[0].kernel_trainable = false;
  const auto frozen = parameter_table(spec, OptimizerKind::kMomentum);
  EXPECT_FALSE(frozen[0].trainable);
  EXPECT_TRUE(frozen[0].slot_names.empty());
  EXPECT_EQ(frozen[1].slot_names, std::vector<std::string>{"hidden1/bias/Momentum"});
  EXPECT_TRUE(parameter_table(spec, OptimizerKind::kSgd)[1].slot_names.empty());
}

TEST(ModelSpec, ValidationErrors) {
  ModelSpec spec = make_mlp_spec(4, {3, 3}, 2, kRelu);
  spec.layers[1].fan_in = 5;
  EXPECT_THROW(spec.validate(), Error);
  spec = make_mlp_spec(4, {3, 3}, 2, kRelu);
  spec.layers[1].name = "hidden1";
  EXPECT_THROW(spec.validate(), Error);
  EXPECT_THROW(make_mlp_spec(4, {0}, 2, kRelu), Error);
  EXPECT_THROW(ModelSpec{}.validate(), Error);
}

struct Stats {
  double min = 1e9, max = -1e9, mean = 0, stddev = 0;
};
Stats stats(const std::vector<float>& v) {
  Stats s;
  for (float x : v) {
    s.min = std::min<double>(s.min, x);
    s.max = std::max<double>(s.max, x);
    s.mean += x;
  }
  s.mean /= static_cast<double>(v.size());
  for (float x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = std::sqrt(s.stddev / static_cast<double>(v.size()));
  return s;
}

ParameterSpec kernel(Initializer init, int64_t fan_in, int64_t fan_out, const std::string& name = "k/kernel") {
  ParameterSpec p;
  p.name = name;
  p.shape = {fan_in, fan_out};
  p.initializer = init;
  p.fan_in = fan_in;
  p.fan_out = fan_out;
  return p;
}

TEST(Initializers, RangesAndMoments) {
  // 200 000 samples: the moment checks have > 10 sigma of slack.
  const int64_t fan_in = 500, fan_out = 400;
  const double glorot = std::sqrt(6.0 / (fan_in + fan_out));
  Stats s = stats(initial_values(kernel(Initializer::kGlorotUniform, fan_in, fan_out), 1));
  // (1 + 1e-6): the limit itself rounded to float.
  EXPECT_GE(s.min, -glorot * (1 + 1e-6));
  EXPECT_LE(s.max, glorot * (1 + 1e-6));
  EXPECT_GT(s.max, 0.99 * glorot);
  EXPECT_NEAR(s.mean, 0.0, 0.01 * glorot);
  EXPECT_NEAR(s.stddev, glorot / std::sqrt(3.0), 0.01 * glorot);

  const double he_u = std::sqrt(6.0 / fan_in);
  s = stats(initial_values(kernel(Initializer::kHeUniform, fan_in, fan_out), 2));
  EXPECT_GE(s.min, -he_u * (1 + 1e-6));
  EXPECT_LE(s.max, he_u * (1 + 1e-6));
  EXPECT_NEAR(s.stddev, he_u / std::sqrt(3.0), 0.01 * he_u);

  // he_normal: truncated at 2 stddev of the underlying normal, overall
  // variance 2 / fan_in.
  const double sigma = std::sqrt(2.0 / fan_in) / .87962566103423978;
  s = stats(initial_values(kernel(Initializer::kHeNormal, fan_in, fan_out), 3));
  EXPECT_GE(s.min, -2 * sigma * (1 + 1e-6));
  EXPECT_LE(s.max, 2 * sigma * (1 + 1e-6));
  EXPECT_GT(s.max, 1.95 * sigma);
  EXPECT_NEAR(s.stddev, std::sqrt(2.0 / fan_in), 0.01 * std::sqrt(2.0 / fan_in));
  EXPECT_NEAR(s.mean, 0.0, 0.01 * sigma);

  for (float v : initial_values(kernel(Initializer::kZeros, 3, 4), 4)) EXPECT_EQ(v, 0.0f);
}

TEST(Initializers, SeededPerVariable) {
  const auto a = initial_values(kernel(Initializer::kGlorotUniform, 10, 10, "hidden1/kernel"), 7);
  EXPECT_EQ(a, initial_values(kernel(Initializer::kGlorotUniform, 10, 10, "hidden1/kernel"), 7));
  EXPECT_NE(a, initial_values(kernel(Initializer::kGlorotUniform, 10, 10, "hidden1/kernel"), 8));
  EXPECT_NE(a, initial_values(kernel(Initializer::kGlorotUniform, 10, 10, "hidden2/kernel"), 7));
  EXPECT_EQ(parse_initializer("he_normal"), Initializer::kHeNormal);
  EXPECT_EQ(initializer_name(Initializer::kHeUniform), "he_uniform");
  EXPECT_FALSE(parse_initializer("orthogonal"));
}

TEST(Parameters, InitializeAndSnapshot) {
  const ModelSpec spec = make_mlp_spec(6, {5}, 3, kRelu);
  OptimizerConfig opt;
  opt.kind = OptimizerKind::kRmsProp;
  auto table = parameter_table(spec, opt.kind);
  auto backend = make_cpu_backend(1);
  backend->build(spec.backend_shapes(), opt, 8);
  initialize_parameters(*backend, table, 5);
  std::vector<float> w(30);
  backend->read_param(0, w.data());
  EXPECT_EQ(w, initial_values(table[0], 5));

  TrainingState state = capture_state(*backend, table, 2);
  EXPECT_EQ(state.slots[0][0], std::vector<float>(30, 1.0f));  // RMSProp ms starts at 1
  EXPECT_EQ(state.slots[0][1], std::vector<float>(30, 0.0f));
  state.params[0][3] = 42.0f;
  state.slots[1][1][2] = -1.0f;
  state.scalars.step = 17;
  restore_state(*backend, state);
  backend->read_param(0, w.data());
  EXPECT_EQ(w[3], 42.0f);
  std::vector<float> mom(5);
  backend->read_slot(1, 1, mom.data());
  EXPECT_EQ(mom[2], -1.0f);
  EXPECT_EQ(backend->read_scalars().step, 17);

  EXPECT_THROW(write_parameter(*backend, table[1], std::vector<float>(4), "test"), Error);
  table[0].trainable = false;
  apply_trainable(*backend, table);
  EXPECT_FALSE(backend->trainable(0));
  EXPECT_TRUE(backend->trainable(1));
}

}  // namespace
}  // namespace graft
