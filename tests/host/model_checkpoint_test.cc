// Saving and resuming: exactly the model variables, TF1 slot names, beta
// powers and an int64 global_step, in sorted key order; an exact round trip;
// resuming the TF-written Adam fixture; errors naming the tensor.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "checkpoint/state_file.h"
#include "host/data/dataset.h"
#include "host/train/model_checkpoint.h"
#include "host/model/parameters.h"
#include "tests/common/fixtures.h"

namespace graft {
namespace {

const Activation kRelu{ActivationKind::kRelu};

struct Model {
  ModelSpec spec;
  OptimizerConfig opt;
  std::vector<ParameterSpec> table;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<DeviceDataset> data;
};

Model make_model(OptimizerKind kind, const std::vector<int64_t>& hidden = {3}, int64_t inputs = 4,
                 int64_t outputs = 2) {
  Model m;
  m.spec = make_mlp_spec(inputs, hidden, outputs, kRelu);
  m.opt.kind = kind;
  m.opt.learning_rate = 0.05f;
  m.table = parameter_table(m.spec, kind);
  m.backend = make_cpu_backend(1);
  m.backend->build(m.spec.backend_shapes(), m.opt, 16);
  apply_trainable(*m.backend, m.table);
  initialize_parameters(*m.backend, m.table, 3);
  std::mt19937 rng(1);
  std::vector<float> x(16 * inputs);
  std::vector<int32_t> y(16);
  for (float& v : x) v = static_cast<float>(rng() % 100) / 100.0f;
  for (int32_t& v : y) v = static_cast<int32_t>(rng() % outputs);
  m.data = m.backend->upload(x.data(), y.data(), 16, inputs);
  return m;
}

TEST(ModelCheckpoint, SavesExactlyTheVariablesWithTensorFlowNames) {
  test::TempDir dir;
  Model m = make_model(OptimizerKind::kAdam);
  m.backend->train_step(*m.data, 0, 16, 0);
  m.backend->train_step(*m.data, 0, 8, 0);
  const std::string prefix = (dir / "run/model.ckpt").string();  // run/ is created
  save_checkpoint(prefix, *m.backend, m.table, m.opt);

  const std::vector<std::string> expected = {
      "beta1_power",         "beta2_power",         "global_step",           "hidden1/bias",
      "hidden1/bias/Adam",   "hidden1/bias/Adam_1", "hidden1/kernel",        "hidden1/kernel/Adam",
      "hidden1/kernel/Adam_1", "outputs/bias",      "outputs/bias/Adam",     "outputs/bias/Adam_1",
      "outputs/kernel",      "outputs/kernel/Adam", "outputs/kernel/Adam_1"};
  EXPECT_EQ(checkpoint_keys(m.table, m.opt), expected);
  const BundleReader reader = BundleReader::open(prefix);
  std::vector<std::string> keys, data_order;
  for (const BundleEntry& e : reader.entries()) keys.push_back(e.info.name);
  for (const BundleEntry* e : reader.entries_in_data_order()) data_order.push_back(e->info.name);
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(data_order, expected);  // the Saver writes data in key order

  const BundleEntry* step = reader.find("global_step");
  EXPECT_EQ(step->info.dtype, DType::kInt64);
  EXPECT_TRUE(step->info.shape.empty());
  int64_t step_value = 0;
  std::memcpy(&step_value, reader.raw_bytes(*step).data(), 8);
  EXPECT_EQ(step_value, 2);
  EXPECT_FLOAT_EQ(reader.read_float(*reader.find("beta1_power"))[0], 0.9f * 0.9f * 0.9f);
  EXPECT_EQ(reader.find("hidden1/kernel")->info.shape, (Shape{4, 3}));
  std::vector<float> w(12);
  m.backend->read_param(0, w.data());
  EXPECT_EQ(reader.read_float(*reader.find("hidden1/kernel")), w);
  m.backend->read_slot(0, 1, w.data());
  EXPECT_EQ(reader.read_float(*reader.find("hidden1/kernel/Adam_1")), w);

  EXPECT_EQ(read_state_file((dir / "run/checkpoint").string()).model_checkpoint_path, "model.ckpt");
}

TEST(ModelCheckpoint, FrozenVariablesHaveNoSlotsAndSgdNoExtras) {
  test::TempDir dir;
  Model m = make_model(OptimizerKind::kMomentum);
  m.spec.layers[0].kernel_trainable = false;
  m.table = parameter_table(m.spec, m.opt.kind);
  const std::string prefix = (dir / "m").string();
  save_checkpoint(prefix, *m.backend, m.table, m.opt);
  std::vector<std::string> keys;
  const BundleReader reader = BundleReader::open(prefix);
  for (const BundleEntry& e : reader.entries()) keys.push_back(e.info.name);
  EXPECT_EQ(keys, (std::vector<std::string>{"global_step", "hidden1/bias", "hidden1/bias/Momentum", "hidden1/kernel",
                                            "outputs/bias", "outputs/bias/Momentum", "outputs/kernel",
                                            "outputs/kernel/Momentum"}));
  Model s = make_model(OptimizerKind::kSgd);
  EXPECT_EQ(checkpoint_keys(s.table, s.opt),
            (std::vector<std::string>{"global_step", "hidden1/bias", "hidden1/kernel", "outputs/bias", "outputs/kernel"}));
}

TEST(ModelCheckpoint, ResumeRestoresEverythingExactly) {
  test::TempDir dir;
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kRmsProp}) {
    Model a = make_model(kind, {5, 4});
    for (int i = 0; i < 3; ++i) a.backend->train_step(*a.data, 0, 16, 0);
    const std::string prefix = (dir / optimizer_name(kind)).string();
    save_checkpoint(prefix, *a.backend, a.table, a.opt);

    Model b = make_model(kind, {5, 4});
    const ResumeReport report = resume_from_checkpoint(*b.backend, BundleReader::open(prefix), b.table, b.opt);
    EXPECT_EQ(report.step, 3);
    EXPECT_TRUE(report.missing.empty()) << report.describe();
    EXPECT_EQ(b.backend->read_scalars().step, 3);
    EXPECT_EQ(b.backend->read_scalars().beta1_power, a.backend->read_scalars().beta1_power);
    // One more identical step on both: the same parameters, bit for bit.
    a.backend->train_step(*a.data, 0, 16, 0);
    b.backend->train_step(*b.data, 0, 16, 0);
    const TrainingState sa = capture_state(*a.backend, a.table, 2), sb = capture_state(*b.backend, b.table, 2);
    EXPECT_EQ(sa.params, sb.params) << optimizer_name(kind);
    EXPECT_EQ(sa.slots, sb.slots) << optimizer_name(kind);
  }
}

TEST(ModelCheckpoint, ResumeReportsMissingStateAndRefusesWrongShapes) {
  test::TempDir dir;
  Model sgd = make_model(OptimizerKind::kSgd);
  const std::string prefix = (dir / "sgd").string();
  save_checkpoint(prefix, *sgd.backend, sgd.table, sgd.opt);

  // Adam from an SGD checkpoint: slots keep their initial zeros, the beta
  // powers follow from the step (0 -> b^1).
  Model adam = make_model(OptimizerKind::kAdam);
  const ResumeReport report = resume_from_checkpoint(*adam.backend, BundleReader::open(prefix), adam.table, adam.opt);
  EXPECT_EQ(report.missing.size(), 8u + 2u);
  EXPECT_NE(report.describe().find("hidden1/kernel/Adam "), std::string::npos) << report.describe();
  EXPECT_FLOAT_EQ(adam.backend->read_scalars().beta1_power, 0.9f);

  Model wider = make_model(OptimizerKind::kSgd, {7});
  try {
    resume_from_checkpoint(*wider.backend, BundleReader::open(prefix), wider.table, wider.opt);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("hidden1/kernel has shape [4, 3], the model needs [4, 7]"), std::string::npos)
        << e.what();
  }
  Model deeper = make_model(OptimizerKind::kSgd, {3, 3});
  EXPECT_THROW(resume_from_checkpoint(*deeper.backend, BundleReader::open(prefix), deeper.table, deeper.opt), Error);
  Model shallower = make_model(OptimizerKind::kSgd, {});
  try {
    resume_from_checkpoint(*shallower.backend, BundleReader::open(prefix), shallower.table, shallower.opt);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("variables the model lacks: hidden1/bias, hidden1/kernel"), std::string::npos)
        << e.what();
  }
}

TEST(ModelCheckpoint, ResumesTheTensorFlowAdamFixture) {
  GRAFT_REQUIRE_FIXTURE(prefix, "tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt.index");
  const std::string ckpt = prefix.string().substr(0, prefix.string().size() - 6);
  Model m;
  m.spec = make_mlp_spec(784, {100, 100, 100, 100, 100}, 5, *parse_activation("elu"));
  m.opt.kind = OptimizerKind::kAdam;
  m.table = parameter_table(m.spec, m.opt.kind);
  m.backend = make_cpu_backend(1);
  m.opt.learning_rate = 0.001f;
  m.backend->build(m.spec.backend_shapes(), m.opt, 256);
  const BundleReader reader = BundleReader::open(ckpt);
  const ResumeReport report = resume_from_checkpoint(*m.backend, reader, m.table, m.opt);
  // The fixture has train/beta1_power and train/beta2_power but no global_step.
  EXPECT_EQ(report.missing, std::vector<std::string>{"global_step"});
  const OptimizerScalars s = m.backend->read_scalars();
  EXPECT_EQ(s.beta1_power, reader.read_float(*reader.find("train/beta1_power"))[0]);
  EXPECT_EQ(s.beta2_power, reader.read_float(*reader.find("train/beta2_power"))[0]);
  EXPECT_LT(s.beta1_power, 0.9f);  // the fixture was trained for a while
  std::vector<float> m1(100 * 100);
  m.backend->read_slot(2, 0, m1.data());
  EXPECT_EQ(m1, reader.read_float(*reader.find("hidden2/kernel/Adam")));

  // Its first steps lower the loss on the digits it was trained on.
  auto mnist = test::fixture("mnist");
  if (!mnist) GTEST_SKIP() << "fixture mnist not found";
  DatasetOptions o;
  o.dir = mnist->string();
  o.classes = {0, 1, 2, 3, 4};
  o.load_train = false;
  const Dataset d = load_dataset(o);
  auto data = m.backend->upload(d.test.features.data(), d.test.labels.data(), d.test.rows, d.test.cols);
  const EpochTotals before = m.backend->evaluate(*data, 0);
  EXPECT_NEAR(static_cast<double>(before.correct) / before.samples, 0.9840, 0.0005);
  m.backend->shuffle(*data, 1, 0);
  for (int step = 0; step < 10; ++step) m.backend->train_step(*data, step * 256, 256, 0);
  const EpochTotals after = m.backend->evaluate(*data, 0);
  EXPECT_LT(after.loss_sum, before.loss_sum);
  EXPECT_EQ(m.backend->read_scalars().step, 10);
}

}  // namespace
}  // namespace graft
