// Issue 15, validation up front: non-finite hyper-parameters refused before
// training; a restored tensor with NaN/Inf, or of a dtype other than float32,
// refused naming the tensor (it was converted silently, or caught only as a
// divergence at step 20); global_step out of range refused naming the value.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/error.h"
#include "host/restore/checkpoint_layers.h"
#include "host/train/trainer.h"
#include "tests/common/blobs_training.h"
#include "tests/common/fixtures.h"

namespace graft {
namespace {

OptimizerConfig sgd() { return OptimizerConfig{}; }

std::string error_of_trainer(const OptimizerConfig& o) {
  auto backend = make_cpu_backend(1);
  try {
    Trainer t(*backend, test::blobs_spec(), o, test::blobs_train_options(1));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RestoreValidation, NonFiniteHyperparametersAreRefusedUpFront) {
  OptimizerConfig o = sgd();
  o.learning_rate = std::numeric_limits<float>::quiet_NaN();
  EXPECT_NE(error_of_trainer(o).find("OptimizerConfig::learning_rate is nan, not a finite number"), std::string::npos)
      << error_of_trainer(o);
  o = sgd();
  o.momentum = std::numeric_limits<float>::infinity();
  EXPECT_NE(error_of_trainer(o).find("OptimizerConfig::momentum is inf"), std::string::npos) << error_of_trainer(o);
  o = sgd();
  o.clip_norm = -std::numeric_limits<float>::infinity();
  EXPECT_NE(error_of_trainer(o).find("OptimizerConfig::clip_norm is -inf"), std::string::npos);
  EXPECT_EQ(error_of_trainer(sgd()), "");
}

// A checkpoint of the blobs model, then a copy with `name` replaced.
struct Fixture {
  test::TempDir dir;
  std::string good = (dir / "good").string();
  Fixture() {
    auto backend = make_cpu_backend(1);
    Trainer t(*backend, test::blobs_spec(), sgd(), test::blobs_train_options(1));
    t.save(good);
  }
  std::string with(const std::string& name, const TensorInfo& info, const void* bytes, std::size_t size) {
    const std::string out = (dir / ("bad-" + std::to_string(copies++))).string();
    const BundleReader r = BundleReader::open(good);
    BundleWriter w(out);
    for (const BundleEntry* e : r.entries_in_data_order()) {
      if (e->info.name == name) {
        w.add(info, bytes, size);
      } else {
        const std::string_view raw = r.raw_bytes(*e, true);
        w.add(e->info, raw.data(), raw.size());
      }
    }
    w.finish();
    return out;
  }
  int copies = 0;
};

std::string resume_error(const std::string& prefix) {
  auto backend = make_cpu_backend(1);
  Trainer t(*backend, test::blobs_spec(), sgd(), test::blobs_train_options(1));
  try {
    t.resume(BundleReader::open(prefix));
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(RestoreValidation, NonFiniteRestoredTensorIsRefusedNamingIt) {
  Fixture f;
  std::vector<float> k(8 * 16, 0.5f);
  k[37] = std::numeric_limits<float>::quiet_NaN();
  const std::string nan = f.with("hidden1/kernel", {"hidden1/kernel", DType::kFloat, {8, 16}}, k.data(), k.size() * 4);
  EXPECT_NE(resume_error(nan).find("tensor 'hidden1/kernel' holds NaN at element 37 of 128"), std::string::npos)
      << resume_error(nan);
  std::vector<float> b(16, 0.0f);
  b[3] = std::numeric_limits<float>::infinity();
  const std::string inf = f.with("hidden1/bias", {"hidden1/bias", DType::kFloat, {16}}, b.data(), b.size() * 4);
  EXPECT_NE(resume_error(inf).find("tensor 'hidden1/bias' holds Inf at element 3"), std::string::npos)
      << resume_error(inf);
  EXPECT_EQ(resume_error(f.good), "");

  // The eval path (a model built from the checkpoint's layers).
  const BundleReader reader = BundleReader::open(nan);
  const CheckpointModel model = model_from_checkpoint(reader, CheckpointModelOptions{});
  auto backend = make_cpu_backend(1);
  backend->build(model.spec.backend_shapes(), sgd(), 32);
  try {
    load_checkpoint_weights(*backend, reader, model);
    FAIL() << "a NaN kernel was loaded for eval";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'hidden1/kernel' holds NaN"), std::string::npos) << e.what();
  }
}

TEST(RestoreValidation, OtherDtypeKernelIsNotConvertedSilently) {
  Fixture f;
  std::vector<int32_t> ki(8 * 16, 1);
  const std::string i32 = f.with("hidden1/kernel", {"hidden1/kernel", DType::kInt32, {8, 16}}, ki.data(), ki.size() * 4);
  EXPECT_NE(resume_error(i32).find("tensor 'hidden1/kernel' is int32; the model's variables are float32"),
            std::string::npos)
      << resume_error(i32);
  std::vector<double> kd(8 * 16, 0.25);
  const std::string f64 =
      f.with("hidden1/kernel", {"hidden1/kernel", DType::kDouble, {8, 16}}, kd.data(), kd.size() * 8);
  EXPECT_NE(resume_error(f64).find("tensor 'hidden1/kernel' is float64"), std::string::npos) << resume_error(f64);
}

TEST(RestoreValidation, GlobalStepOutOfRangeIsRefusedNamingTheValue) {
  Fixture f;
  for (const int64_t step : {int64_t{-5}, std::numeric_limits<int64_t>::max()}) {
    const std::string p = f.with("global_step", {"global_step", DType::kInt64, {}}, &step, 8);
    EXPECT_NE(resume_error(p).find("global_step is " + std::to_string(step) + ", outside the steps graft resumes"),
              std::string::npos)
        << resume_error(p);
  }
  const int64_t fine = 1000;
  EXPECT_EQ(resume_error(f.with("global_step", {"global_step", DType::kInt64, {}}, &fine, 8)), "");
}

}  // namespace
}  // namespace graft
