// Per-row predictions through a backend (Backend::predict_logits and
// predict_rows(Backend&, ...), the GPU's path of graft predict and eval's
// per-class report) on the CPU backend, against the reference path that
// reads the checkpoint itself (predict_rows(reader, ...)): a trained batch
// norm + dropout model, more rows than the backend's batch. The GPU's
// logits against the CPU's: tests/cuda/backend_batch_norm_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "host/backend.h"
#include "host/cpu/cpu_dataset.h"
#include "host/model/model_io.h"
#include "host/predict/predictions.h"
#include "host/restore/checkpoint_layers.h"
#include "host/train/trainer.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"
#include "tests/common/tolerance.h"

namespace graft {
namespace {

// 8 -> hidden1(16) -> bn -> dropout -> hidden2(8) -> bn -> dropout -> outputs(4), trained 2 epochs.
struct TrainedModel {
  test::TempDir dir;
  std::string prefix = (dir / "bn.ckpt").string();
  DataSplit test_rows = test::blobs(203, 3);
  TrainedModel() {
    ModelSpec spec = make_mlp_spec(8, {16, 8}, 4, *parse_activation("elu"));
    add_batch_norm(spec, /*before=*/true, BatchNormAttrs{});
    add_dropout(spec, {0.3f});
    auto backend = make_cpu_backend(1);
    TrainOptions options;
    options.epochs = 2;
    options.batch_size = 32;
    options.save_prefix = prefix;
    OptimizerConfig adam;
    adam.kind = OptimizerKind::kAdam;
    adam.learning_rate = 0.01f;
    Trainer trainer(*backend, spec, adam, options);
    Dataset data;
    data.train = test::blobs(400, 1);
    data.validation = test::blobs(100, 2);
    data.test = test_rows;
    data.num_classes = 4;
    trainer.fit(data);
  }
};

TEST(BackendPredictions, CpuBackendGivesTheReferencePredictions) {
  const TrainedModel m;
  const BundleReader reader = BundleReader::open(m.prefix);
  const CheckpointModel model = model_from_description(reader, *read_model_description(reader));
  const DataSplit& t = m.test_rows;
  const RowPredictions want = predict_rows(reader, model, t.features.data(), t.rows);

  auto backend = make_cpu_backend(2);
  backend->build(model.spec.backend_shapes(), OptimizerConfig{}, 64);  // 203 rows: 3 full batches and 11
  load_checkpoint_weights(*backend, reader, model);
  const RowPredictions got = predict_rows(*backend, t.features.data(), t.rows, t.cols, model.spec.outputs());
  ASSERT_EQ(got.rows, t.rows);
  ASSERT_EQ(got.outputs, 4);
  // The same kernels on the same rows (the reference calls one GEMM per
  // 4096 rows, the backend one per 64-row batch, split by rows between its
  // threads): every element's sum runs in the same order, so the
  // probabilities agree to the last bits; 1e-6 leaves room for a BLAS that
  // blocks differently by the row count.
  EXPECT_TRUE(test::all_close(got.probabilities, want.probabilities, 1e-6, 1e-5));
  EXPECT_EQ(got.predicted, want.predicted);

  // The logits are evaluate's (eval mode): their argmax scores what
  // evaluate counts, and they are forward_prefix's through every node.
  std::vector<float> logits(static_cast<std::size_t>(t.rows * 4));
  backend->predict_logits(t.features.data(), t.rows, t.cols, logits.data());
  const auto data = backend->upload(t.features.data(), t.labels.data(), t.rows, t.cols);
  int64_t hits = 0;
  for (int64_t r = 0; r < t.rows; ++r) {
    const float* row = logits.data() + r * 4;
    hits += (std::max_element(row, row + 4) - row) == t.labels[static_cast<std::size_t>(r)] ? 1 : 0;
  }
  EXPECT_EQ(hits, backend->evaluate(*data, 0).correct);
  auto all = backend->forward_prefix(*data, static_cast<int>(model.spec.backend_shapes().size()));
  const cpu::CpuDataset& through = cpu::as_cpu(*all);
  ASSERT_EQ(through.features.size(), static_cast<int64_t>(logits.size()));
  EXPECT_EQ(std::memcmp(through.features.data(), logits.data(), logits.size() * sizeof(float)), 0);
  // Predicting changes nothing: the same bits again.
  std::vector<float> again(logits.size());
  backend->predict_logits(t.features.data(), t.rows, t.cols, again.data());
  EXPECT_EQ(std::memcmp(again.data(), logits.data(), logits.size() * sizeof(float)), 0);

  EXPECT_THROW(backend->predict_logits(t.features.data(), t.rows, t.cols + 1, logits.data()), Error);
}

}  // namespace
}  // namespace graft
