// Reusing the lower layers of a TensorFlow-trained network with graft's C++
// API: restore hidden1-3 from a checkpoint, freeze them, train a new hidden4
// and outputs on digits 5-9 with 100 images each, save a TF checkpoint.
// docs/transfer-learning.md shows it beside the TensorFlow code it replaces.
//
//   transfer_learning CKPT DATA_DIR OUT_PREFIX
//   transfer_learning tf1/seed_original/my_model_final.ckpt mnist new/model.ckpt
#include <cstdio>
#include <exception>

#include "checkpoint/bundle_reader.h"
#include "host/data/dataset.h"
#include "host/device_select.h"
#include "host/train/frozen_cache.h"
#include "host/restore/transfer.h"

int main(int argc, char** argv) try {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s CKPT DATA_DIR OUT_PREFIX\n", argv[0]);
    return 2;
  }
  // The new model: hidden1-3 shaped as in the checkpoint, new hidden4 and outputs.
  graft::ModelSpec spec = graft::make_mlp_spec(784, {300, 50, 50, 20}, 5, {graft::ActivationKind::kRelu});
  graft::freeze_variables(spec, {"hidden[123]"});  // only hidden4 and outputs train

  graft::SelectedBackend device = graft::select_backend("auto");  // the GPU when there is one
  graft::OptimizerConfig sgd;                                     // learning rate 0.01
  graft::TrainOptions options;
  options.epochs = 20;
  options.batch_size = 50;
  graft::Trainer trainer(*device.backend, spec, sgd, options);    // every variable initialised

  // Restore hidden1-3 from the checkpoint; everything else keeps its initial value.
  graft::RestoreOptions reuse;
  reuse.restore = {"hidden[123]"};
  const graft::RestorePlan plan = graft::restore_into(trainer, graft::BundleReader::open(argv[1]), reuse);
  std::printf("%s", plan.table().c_str());

  // Digits 5-9 (relabelled 0-4), 100 training images each.
  graft::DatasetOptions few_shot;
  few_shot.dir = argv[2];
  few_shot.classes = {5, 6, 7, 8, 9};
  few_shot.per_class = 100;
  few_shot.validation = 500;
  // Uploads the data; hidden1-3 are frozen, so their outputs are computed once.
  const graft::PreparedData data =
      graft::prepare_training_data(*device.backend, trainer.spec(), graft::load_dataset(few_shot));
  std::printf("%s\n", data.cache.note.c_str());

  trainer.fit(data.view(), [](const graft::EpochReport& r) {
    std::printf("epoch %d  loss %.4f  test accuracy %.4f\n", r.epoch, r.train_loss, *r.test_accuracy);
  });
  trainer.save(argv[3]);  // every variable, TF names; TensorFlow's Saver reads it back
  std::printf("saved %s\n", argv[3]);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
