// Regularization as part of the model (issue 17): the flags' forms and their
// one-line errors, resolution against layer names, the model description's
// record (JSON round trip, validation), resume checks (a contradicting
// request names both values; --override applies it), and a resumed L2 +
// max-norm run that ends bitwise where an uninterrupted one ends (CPU).
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "host/model/model_description.h"
#include "host/model/model_io.h"
#include "host/model/parameters.h"
#include "host/model/regularization_spec.h"
#include "host/train/resume_model.h"
#include "host/train/trainer.h"
#include "tests/common/blobs_training.h"
#include "tests/common/error_of.h"
#include "tests/common/expect_contains.h"
#include "tests/common/fixtures.h"

namespace graft {
namespace {

const std::vector<std::string> kNames = {"hidden1", "hidden2", "outputs"};
std::string same(const std::string& f) { return f; }
std::string flag(const std::string& f) { return "--" + f; }

std::string parse_error(const std::string& text, bool max_norm) {
  try {
    if (max_norm) parse_max_norm_spec(text);
    else parse_scale_spec(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RegularizationSpec, FormsAndTheirResolution) {
  RegularizationRequest r;
  r.l2 = parse_scale_spec("0.001,outputs=0");
  r.l1 = parse_scale_spec("hidden2=0.5");
  r.max_norm = parse_max_norm_spec("hidden1=1,hidden2=2,axis=0");
  const std::vector<NodeRegularizer> n = apply_regularization_request({}, kNames, r, same);
  ASSERT_EQ(n.size(), 3u);
  EXPECT_EQ(n[0].kernel_l2, 0.001f);
  EXPECT_EQ(n[1].kernel_l2, 0.001f);
  EXPECT_EQ(n[2].kernel_l2, 0.0f);
  EXPECT_EQ(n[1].kernel_l1, 0.5f);
  EXPECT_EQ(n[0].kernel_l1, 0.0f);
  EXPECT_EQ(n[0].bias_l2, 0.0f);  // biases off by default
  EXPECT_EQ(n[0].max_norm, 1.0f);
  EXPECT_EQ(n[1].max_norm, 2.0f);
  EXPECT_EQ(n[2].max_norm, 0.0f);
  EXPECT_EQ(n[0].max_norm_axis, 0);
  EXPECT_EQ(regularization_summary(n, kNames),
            "l1 hidden2=0.5 (kernels), l2 hidden1=0.001,hidden2=0.001 (kernels), max-norm hidden1=1,hidden2=2,axis=0");
  r.regularize_biases = true;
  const std::vector<NodeRegularizer> b = apply_regularization_request({}, kNames, r, same);
  EXPECT_EQ(b[0].bias_l2, 0.001f);
  EXPECT_EQ(b[1].bias_l1, 0.5f);
  EXPECT_EQ(parse_max_norm_spec("1.5").axis, 1);  // the book's axis by default
}

TEST(RegularizationSpec, BadValuesAreOneLineErrorsNamingTheFlag) {
  EXPECT_CONTAINS(parse_error("-1", false), "negative");
  EXPECT_CONTAINS(parse_error("abc", false), "'abc' is not a number");
  EXPECT_CONTAINS(parse_error("inf", false), "not a finite");
  EXPECT_CONTAINS(parse_error("1,2", false), "two numbers");
  EXPECT_CONTAINS(parse_error("a=1,a=2", false), "named twice");
  EXPECT_CONTAINS(parse_error("0", true), "must be > 0");
  EXPECT_CONTAINS(parse_error("1,axis=2", true), "the axis is 0 (columns) or 1 (rows)");
  EXPECT_CONTAINS(parse_error("axis=0", true), "no radius");
  RegularizationRequest r;
  r.l2 = parse_scale_spec("hidden9=0.1");
  EXPECT_CONTAINS(test::error_of([&] { apply_regularization_request({}, kNames, r, flag); }),
                  "--l2 names no layer 'hidden9' (the layers: hidden1, hidden2, outputs)");
  RegularizationRequest biases;
  biases.regularize_biases = true;
  EXPECT_CONTAINS(test::error_of([&] { apply_regularization_request({}, kNames, biases, flag); }),
                  "--regularize_biases needs --l1 or --l2");
  RegularizationRequest nan;
  nan.l1 = ScaleSpec{std::nanf(""), {}};
  EXPECT_CONTAINS(test::error_of([&] { apply_regularization_request({}, kNames, nan, flag); }),
                  "--l1 every layer must be a finite number >= 0, not nan");
}

ModelDescription regularized_model() {
  ModelDescription m = model_from_spec(test::blobs_spec(), OptimizerConfig{});
  m.nodes[0].regularizer.kernel_l2 = 0.01f;
  m.nodes[0].regularizer.bias_l2 = 0.01f;
  m.nodes[1].regularizer.kernel_l1 = 1e-4f;
  m.nodes[1].regularizer.max_norm = 0.8f;
  m.nodes[1].regularizer.max_norm_axis = 0;
  return m;
}

TEST(RegularizationRecord, RoundTripsThroughJsonAndIsValidated) {
  const ModelDescription m = regularized_model();
  const ModelDescription back = model_from_json(model_to_json(m), "test");
  for (std::size_t i = 0; i < m.nodes.size(); ++i) EXPECT_EQ(back.nodes[i].regularizer, m.nodes[i].regularizer) << i;
  EXPECT_CONTAINS(back.summary(), "regularization: l1 hidden2=0.0001 (kernels and biases), l2 hidden1=0.01");
  // No regularizer: nothing is written (a description without one is unchanged).
  EXPECT_EQ(model_to_json(model_from_spec(test::blobs_spec(), OptimizerConfig{})).find("regularizer"),
            std::string::npos);
  ModelDescription bad = m;
  bad.nodes[2].regularizer.kernel_l2 = -1.0f;
  EXPECT_CONTAINS(test::error_of([&] { bad.validate(); }), "kernel_l2 must be a finite number >= 0, not -1");
  std::string json = model_to_json(m);
  json.replace(json.find("max_norm_axis=0"), 15, "max_norm_axis=3");
  EXPECT_CONTAINS(test::error_of([&] { model_from_json(json, "x"); }), "nodes[1].regularizer");
}

TEST(RegularizationRecord, ResumeRefusesAContradictionNamingBothValuesAndOverrideAppliesIt) {
  const ModelDescription m = regularized_model();
  ModelRequest same_request;
  same_request.regularization.l2 = parse_scale_spec("hidden1=0.01");
  EXPECT_TRUE(resolve_resumed_model(m, same_request, false).contradictions.empty());

  ModelRequest other;
  other.regularization.l2 = parse_scale_spec("0.02");
  const ResolvedModel refused = resolve_resumed_model(m, other, false);
  ASSERT_EQ(refused.contradictions.size(), 1u);
  EXPECT_EQ(refused.contradictions[0].field, "l2");
  EXPECT_EQ(refused.contradictions[0].requested, "0.02");
  EXPECT_EQ(refused.contradictions[0].recorded, "hidden1=0.01");
  const ResolvedModel applied = resolve_resumed_model(m, other, true);
  EXPECT_TRUE(applied.contradictions.empty());
  ASSERT_EQ(applied.overrides.size(), 1u);
  EXPECT_EQ(applied.model.nodes[2].regularizer.kernel_l2, 0.02f);
  EXPECT_EQ(applied.model.nodes[2].regularizer.bias_l2, 0.02f);  // the record regularizes biases

  ModelRequest norm;
  norm.regularization.max_norm = parse_max_norm_spec("hidden2=0.8");  // axis 1, recorded 0
  const ResolvedModel axis = resolve_resumed_model(m, norm, false);
  ASSERT_EQ(axis.contradictions.size(), 1u);
  EXPECT_EQ(axis.contradictions[0].requested, "hidden2=0.8,axis=1");
  EXPECT_EQ(axis.contradictions[0].recorded, "hidden2=0.8,axis=0");
}

TEST(RegularizationRecord, ResumedRunIsBitwiseAnUninterruptedOne) {
  test::TempDir dir;
  const Dataset d = test::blobs_problem(400, false);
  ModelDescription m = regularized_model();
  m.optimizer->kind = OptimizerKind::kAdam;
  m.optimizer->learning_rate = 0.01f;
  m.nodes[2].regularizer.kernel_l2 = 0.05f;

  auto straight = make_cpu_backend(1);
  Trainer three(*straight, m, test::blobs_train_options(3));
  const TrainResult all = three.fit(d);

  std::atomic<bool> stop{false};
  auto first = make_cpu_backend(1);
  TrainOptions o = test::blobs_train_options(3);
  o.stop = &stop;
  o.save_prefix = (dir / "run/model.ckpt").string();
  Trainer a(*first, m, o);
  int64_t steps = 0;
  a.fit(d, {}, [&](int, int64_t, int64_t) {
    if (++steps == 17) stop.store(true);
  });

  // The resumed trainer takes its model, regularizers included, from the checkpoint's record.
  const BundleReader reader = BundleReader::open(o.save_prefix);
  const std::optional<ModelDescription> recorded = read_model_description(reader);
  ASSERT_TRUE(recorded.has_value());
  EXPECT_EQ(recorded->nodes[1].regularizer, m.nodes[1].regularizer);
  auto second = make_cpu_backend(1);
  Trainer b(*second, *recorded, test::blobs_train_options(2));
  b.resume(reader);
  const TrainResult rest = b.fit(d);

  const TrainingState sa = capture_state(*straight, three.table(), 2), sb = capture_state(*second, b.table(), 2);
  EXPECT_EQ(sa.params, sb.params);  // bitwise
  EXPECT_EQ(sa.slots, sb.slots);
  ASSERT_FALSE(all.epochs.empty());
  ASSERT_FALSE(rest.epochs.empty());
  EXPECT_EQ(all.epochs.back().train_loss, rest.epochs.back().train_loss);  // the last epoch: the same batches

  // And the regularizers changed the run (else this test proves nothing).
  auto plain = make_cpu_backend(1);
  Trainer p(*plain, model_from_spec(test::blobs_spec(), m.optimizer), test::blobs_train_options(3));
  p.fit(d);
  EXPECT_NE(capture_state(*plain, p.table(), 2).params, sa.params);
}

}  // namespace
}  // namespace graft
