// Backend::set_learning_rate: a change takes effect at the next step, and
// the result is bit for bit what a backend built with that learning rate
// gives from the same state (the schedule contract both backends keep).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "checkpoint/error.h"
#include "host/backend.h"
#include "tests/common/backend_compare.h"
#include "tests/common/small_net.h"

namespace graft {
namespace {

using test::bit_identical;
using test::load;
using test::make_net;
using test::make_teacher_data;
using test::read_params;
using test::read_slots;

// One epoch of the trainer's loop (shuffle, batches of `batch`).
void run_epoch(Backend& b, DeviceDataset& data, int64_t batch, uint64_t epoch) {
  b.shuffle(data, 7, epoch);
  for (int64_t begin = 0; begin < data.rows(); begin += batch) {
    b.train_step(data, begin, std::min(batch, data.rows() - begin), 0);
  }
  b.take_train_totals();
}

TEST(LearningRate, ChangeTakesEffectAtTheNextStepLikeAFreshBackend) {
  const test::TeacherData data = make_teacher_data(61, 13, 5, 3);
  const Activation identity{ActivationKind::kIdentity, 0.2f};
  for (const test::OptimizerVariant& v : test::optimizer_variants(true)) {
    SCOPED_TRACE(v.name);
    const test::Net net = make_net({13, 33, 7, 5}, {v.hidden[0], v.hidden[1], identity}, v.seed);
    const OptimizerConfig& first = v.config;
    OptimizerConfig second = first;
    second.learning_rate = first.learning_rate * 0.3f;
    const int slots = static_cast<int>(optimizer_slot_suffixes(first.kind).size());

    // Built with the first rate; one epoch; the second rate; one more epoch.
    auto changed = make_cpu_backend(1);
    load(*changed, net, first, 16);
    auto d1 = changed->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    run_epoch(*changed, *d1, 16, 0);
    const auto params_after_first = read_params(*changed, net);
    const auto slots_after_first = read_slots(*changed, net, slots);
    const OptimizerScalars scalars_after_first = changed->read_scalars();
    changed->set_learning_rate(second.learning_rate);
    run_epoch(*changed, *d1, 16, 1);

    // A fresh backend built with the second rate, from the same state.
    auto fresh = make_cpu_backend(1);
    fresh->build(net.layers, second, 16);
    for (int i = 0; i < fresh->num_params(); ++i) {
      fresh->write_param(i, params_after_first[static_cast<std::size_t>(i)].data());
      for (int k = 0; k < slots; ++k) {
        fresh->write_slot(i, k, slots_after_first[static_cast<std::size_t>(i * slots + k)].data());
      }
    }
    fresh->write_scalars(scalars_after_first);
    auto d2 = fresh->upload(data.x.data(), data.y.data(), data.rows, data.cols);
    run_epoch(*fresh, *d2, 16, 1);

    EXPECT_TRUE(bit_identical(read_params(*changed, net), read_params(*fresh, net)));
    EXPECT_TRUE(bit_identical(read_slots(*changed, net, slots), read_slots(*fresh, net, slots)));
    test::expect_scalars_equal(*changed, *fresh);
  }
}

TEST(LearningRate, NeedsABuiltBackend) {
  EXPECT_THROW(make_cpu_backend(1)->set_learning_rate(0.1f), Error);
}

}  // namespace
}  // namespace graft
