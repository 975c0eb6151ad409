#pragma once
// The small training problem of the trainer and transfer tests: the
// Gaussian blobs of synthetic_data.h (8 features, 4 classes), an 8-16-8-4
// ReLU network, and batches of 32. Header-only; needs graft_host.
#include <cstdint>

#include "host/data/dataset.h"
#include "host/model/model_spec.h"
#include "host/train/trainer.h"
#include "tests/common/synthetic_data.h"

namespace graft::test {

// train_rows training rows (seed 1), 100 validation rows (seed 2) and, when
// asked, 100 test rows (seed 3).
inline Dataset blobs_problem(int64_t train_rows, bool with_test = true) {
  Dataset d;
  d.train = blobs(train_rows, 1);
  d.validation = blobs(100, 2);
  if (with_test) d.test = blobs(100, 3);
  d.num_classes = 4;
  return d;
}

inline ModelSpec blobs_spec() { return make_mlp_spec(8, {16, 8}, 4, Activation{ActivationKind::kRelu}); }

inline TrainOptions blobs_train_options(int epochs, uint64_t seed = 5) {
  TrainOptions t;
  t.epochs = epochs;
  t.batch_size = 32;
  t.seed = seed;
  return t;
}

}  // namespace graft::test
