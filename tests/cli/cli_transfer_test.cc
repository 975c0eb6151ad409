// `graft train --init-from` end to end on the real TensorFlow fixtures:
// the restore table and --dry-run, renames (scoped names, the `kernal`
// misspelling, TF2 Keras keys), slots, --freeze with the saved frozen
// tensors bitwise identical to the checkpoint's, the frozen-layer cache
// (equal to --no-cache, the --cache-limit fallback), each error, and a
// `graft demo --quick` smoke run.
#include <gtest/gtest.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "tests/cli/cli_util.h"
#include "tests/common/fixtures.h"
#include "tests/common/synthetic_data.h"
#include "tests/common/tolerance.h"
#include "tests/common/expect_contains.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::graft;
using test::quote;

#define EXPECT_NOT_CONTAINS(haystack, needle) \
  EXPECT_EQ((haystack).find(needle), std::string::npos) << "output:\n" << (haystack)

// A data folder whose training files are MNIST t10k too (the fixtures hold
// only the test set).
fs::path mnist_as_training_data(const test::TempDir& dir) {
  return test::mnist_as_training_data(*test::fixture("mnist"), dir);
}

// Skips unless the fixtures (a checkpoint folder and MNIST) are present.
#define REQUIRE_FIXTURES(var, relative)                                   \
  GRAFT_REQUIRE_FIXTURE(var, relative);                                   \
  if (!test::fixture("mnist")) GTEST_SKIP() << "fixture mnist not found"; \
  test::TempDir dir;                                                      \
  const std::string data = quote(mnist_as_training_data(dir).string())

// Few-shot MNIST 5-9, small and quick.
std::string few_shot(const std::string& data) {
  return "train --data " + data + " --classes 5-9 --per-class 20 --validation 100 --device cpu --threads 1 ";
}

std::vector<float> tensor(const BundleReader& r, const std::string& name) {
  const BundleEntry* e = r.find(name);
  if (!e) throw std::runtime_error("no tensor " + name + " in " + r.prefix());
  return r.read_float(*e);
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(CliTransfer, DryRunPrintsTheRestoreTableAndStops) {
  REQUIRE_FIXTURES(seed, "tf1/seed_original");
  const std::string ckpt = (seed / "my_model_final.ckpt").string();
  const std::string save = (dir / "never/model.ckpt").string();
  const auto r = graft(few_shot(data) + "--hidden 300,50,50,20 --init-from " + quote(ckpt) +
                       " --restore 'hidden[123]' --freeze 'hidden[123]' --dry-run --save " + quote(save));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "model variable  shape        source\n");
  EXPECT_CONTAINS(r.output, "hidden1/kernel  [784, 300]   restored from hidden1/kernel [frozen]\n");
  EXPECT_CONTAINS(r.output, "hidden4/kernel  [50, 20]     initialised (glorot_uniform)\n");
  EXPECT_CONTAINS(r.output, "outputs/bias    [5]          initialised (zeros)\n");
  EXPECT_CONTAINS(r.output, "checkpoint variables not used:\n");
  EXPECT_CONTAINS(r.output, "  hidden5/kernel: no such model variable\n");
  EXPECT_CONTAINS(r.output, "  outputs/bias: not selected by --restore; its shape [10] differs from the model's [5]\n");
  EXPECT_CONTAINS(r.output, "6 of 10 model variables restored from " + ckpt);
  EXPECT_CONTAINS(r.output, "frozen-layer cache: hidden1..hidden3 are frozen");
  EXPECT_CONTAINS(r.output, "dry run: nothing trained or saved");
  EXPECT_NOT_CONTAINS(r.output, "epoch ");
  EXPECT_FALSE(fs::exists(dir / "never"));

  // Without --init-from: every variable from its initializer.
  const auto plain = graft(few_shot(data) + "--hidden 30 --dry-run");
  ASSERT_EQ(plain.status, 0) << plain.output;
  EXPECT_CONTAINS(plain.output, "hidden1/kernel  [784, 30]    initialised (glorot_uniform)");
  EXPECT_CONTAINS(plain.output, "no checkpoint (--init-from)");
}

TEST(CliTransfer, FrozenTensorsAreSavedBitwiseAndTheOthersMove) {
  REQUIRE_FIXTURES(seed, "tf1/seed_original");
  const std::string ckpt = (seed / "my_model_final.ckpt").string();
  const std::string base = few_shot(data) + "--hidden 300,50,50,20 --optimizer adam --lr 0.001 --init-from " +
                           quote(ckpt) + " --restore 'hidden[123]' --freeze 'hidden[123]' --seed 3 ";
  const std::string initial = (dir / "initial/model.ckpt").string();
  const std::string trained = (dir / "trained/model.ckpt").string();
  const auto before = graft(base + "--epochs 0 --save " + quote(initial));
  ASSERT_EQ(before.status, 0) << before.output;
  const auto r = graft(base + "--epochs 2 --save " + quote(trained));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "restored from hidden3/bias [frozen]");
  EXPECT_CONTAINS(r.output, "saved " + trained);

  const BundleReader source = BundleReader::open(ckpt);
  const BundleReader start = BundleReader::open(initial);
  const BundleReader out = BundleReader::open((dir / "trained").string());  // via the `checkpoint` state file
  EXPECT_EQ(out.prefix(), trained);
  for (const char* name : {"hidden1/kernel", "hidden1/bias", "hidden2/kernel", "hidden2/bias", "hidden3/kernel",
                           "hidden3/bias"}) {
    EXPECT_TRUE(bitwise_equal(tensor(out, name), tensor(source, name))) << name << " changed";
    EXPECT_FALSE(out.find(std::string(name) + "/Adam")) << name << " is frozen: no slots";
  }
  for (const char* name : {"hidden4/kernel", "hidden4/bias", "outputs/kernel", "outputs/bias"}) {
    EXPECT_FALSE(bitwise_equal(tensor(out, name), tensor(start, name))) << name << " did not train";
    EXPECT_TRUE(out.find(std::string(name) + "/Adam_1")) << name;
  }
  EXPECT_TRUE(out.find("beta1_power"));
  EXPECT_TRUE(out.find("global_step"));
}

TEST(CliTransfer, CachedRunEqualsUncachedRun) {
  REQUIRE_FIXTURES(seed, "tf1/seed_original");
  const std::string ckpt = (seed / "my_model_final.ckpt").string();
  const std::string base = few_shot(data) + "--hidden 300,50,50,20 --init-from " + quote(ckpt) +
                           " --restore 'hidden[123]' --freeze 'hidden[12]' --freeze hidden3 ";
  const std::string a = (dir / "cached/model.ckpt").string(), b = (dir / "uncached/model.ckpt").string();
  const auto cached = graft(base + "--epochs 3 --save " + quote(a));
  ASSERT_EQ(cached.status, 0) << cached.output;
  EXPECT_CONTAINS(cached.output, "hidden3's output is computed once and cached");
  EXPECT_CONTAINS(cached.output, "training hidden4..outputs from the cache");
  const auto uncached = graft(base + "--epochs 3 --no-cache --save " + quote(b));
  ASSERT_EQ(uncached.status, 0) << uncached.output;
  EXPECT_CONTAINS(uncached.output, "cache off (--no-cache)");
  const BundleReader ra = BundleReader::open(a), rb = BundleReader::open(b);
  for (const char* name : {"hidden4/kernel", "hidden4/bias", "outputs/kernel", "outputs/bias"}) {
    EXPECT_TRUE(test::all_close(tensor(ra, name), tensor(rb, name), 1e-5, 1e-4)) << name;
  }
  EXPECT_TRUE(bitwise_equal(tensor(ra, "hidden1/kernel"), tensor(rb, "hidden1/kernel")));

  const auto limited = graft(base + "--epochs 1 --cache-limit 1K");
  ASSERT_EQ(limited.status, 0) << limited.output;
  EXPECT_CONTAINS(limited.output, "would exceed the limit of 1.0 KiB (--cache-limit)");
  EXPECT_CONTAINS(limited.output, "falling back to training through the frozen layers");
  const auto bad = graft(base + "--cache-limit lots");
  EXPECT_EQ(bad.status, 1);
  EXPECT_CONTAINS(bad.output, "--cache-limit 'lots'");
  EXPECT_NE(graft(base + "--no-cache --cache-limit 2G").status, 0);  // exclusive
}

TEST(CliTransfer, ScopedNamesAndTheKernalMisspelling) {
  REQUIRE_FIXTURES(scoped, "tf1/scoped_names");
  const std::string base = few_shot(data) + "--hidden 300,100 --dry-run --init-from " + quote(scoped.string()) +
                           " --restore 'hidden[12]' ";
  const auto bare = graft(base);
  EXPECT_EQ(bare.status, 1);
  EXPECT_CONTAINS(bare.output, "graft train: error: --restore selects model variable hidden1/kernel");
  EXPECT_CONTAINS(bare.output, "closest checkpoint names: dnn/hidden1/kernal");
  EXPECT_CONTAINS(bare.output, "--rename '^dnn/(.*)/kernal$=$1/kernel'");

  const auto scope_only = graft(base + "--rename 'dnn/(.*)=$1'");
  EXPECT_EQ(scope_only.status, 1);
  EXPECT_CONTAINS(scope_only.output, "dnn/hidden1/kernal (renamed to hidden1/kernal)");

  const auto fixed = graft(base + "--rename '^dnn/(.*)/kernal$=$1/kernel' --rename 'dnn/(.*)=$1'");
  ASSERT_EQ(fixed.status, 0) << fixed.output;
  EXPECT_CONTAINS(fixed.output, "hidden1/kernel  [784, 300]   restored from dnn/hidden1/kernal\n");
  EXPECT_CONTAINS(fixed.output, "hidden2/bias    [100]        restored from dnn/hidden2/bias\n");
  EXPECT_CONTAINS(fixed.output, "dnn/outputs/kernal: not selected by --restore (renamed to outputs/kernel)");
}

TEST(CliTransfer, KerasCheckpointWithRenamesOrLayerNames) {
  REQUIRE_FIXTURES(keras, "tf2/keras_dense_adam");
  const std::string base = few_shot(data) + "--hidden 32,32,32 --optimizer adam --init-from " +
                           quote(keras.string()) + " --restore 'hidden[123]' ";
  const auto bare = graft(base + "--dry-run");
  EXPECT_EQ(bare.status, 1);
  EXPECT_CONTAINS(bare.output, "--rename '^layer_with_weights-0/(.*)=hidden1/$1'");

  const std::string renames =
      "--rename '^layer_with_weights-0/(.*)=hidden1/$1' --rename '^layer_with_weights-1/(.*)=hidden2/$1' "
      "--rename '^layer_with_weights-2/(.*)=hidden3/$1' ";
  const std::string save = (dir / "keras/model.ckpt").string();
  const auto r = graft(base + renames + "--restore-slots --epochs 1 --save " + quote(save));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output,
                  "hidden1/kernel  [784, 32]    restored from layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE + 2 "
                  "optimizer slot(s)");
  EXPECT_CONTAINS(r.output, "_CHECKPOINTABLE_OBJECT_GRAPH: object graph (TF2 metadata)");
  EXPECT_CONTAINS(r.output, "layer_with_weights-3/kernel/.ATTRIBUTES/VARIABLE_VALUE: no such model variable");
  EXPECT_CONTAINS(r.output, "6 of 8 model variables restored");
  // Saved with graft's TF1 names.
  const BundleReader out = BundleReader::open(save);
  EXPECT_TRUE(out.find("hidden1/kernel"));
  EXPECT_TRUE(out.find("hidden1/kernel/Adam"));

  // Or name the model's layers like the checkpoint's and rename nothing.
  const auto named = graft(few_shot(data) + "--hidden 32,32,32 --init-from " + quote(keras.string()) +
                           " --layer-names layer_with_weights-0,layer_with_weights-1,layer_with_weights-2,outputs "
                           "--dry-run");
  ASSERT_EQ(named.status, 0) << named.output;
  EXPECT_CONTAINS(named.output, "layer_with_weights-0/kernel  [784, 32]    restored from "
                                "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE");
  EXPECT_CONTAINS(named.output, "6 of 8 model variables restored");
  const auto wrong = graft(few_shot(data) + "--hidden 32,32,32 --layer-names a,b --dry-run");
  EXPECT_EQ(wrong.status, 1);
  EXPECT_CONTAINS(wrong.output, "--layer-names gives 2 names for a model of 4 layers");
}

TEST(CliTransfer, AdamSlotsFromTheTensorFlowFixture) {
  REQUIRE_FIXTURES(adam, "tf1/adam_digits_0_to_4");
  const std::string ckpt = (adam / "ch11-exercise_model_0_to_4.ckpt").string();
  const auto r = graft("train --data " + data +
                       " --classes 0-4 --validation 100 --per-class 20 --device cpu --hidden 100,100,100,100,100 "
                       "--activation elu --optimizer adam --lr 0.001 --epochs 1 --dry-run --init-from " +
                       quote(ckpt) + " --restore-slots --freeze hidden1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "hidden2/kernel  [100, 100]   restored from hidden2/kernel + 2 optimizer slot(s)\n");
  EXPECT_CONTAINS(r.output, "hidden1/kernel  [784, 100]   restored from hidden1/kernel [frozen]\n");
  EXPECT_CONTAINS(r.output, "hidden1/kernel/Adam: optimizer slot of a frozen variable");
  EXPECT_CONTAINS(r.output, "train/beta1_power: optimizer state");
  EXPECT_CONTAINS(r.output, "12 of 12 model variables restored");
  const auto no_slots = graft("train --data " + data +
                              " --classes 0-4 --device cpu --hidden 100,100,100,100,100 --activation elu "
                              "--optimizer adam --dry-run --init-from " + quote(ckpt));
  ASSERT_EQ(no_slots.status, 0) << no_slots.output;
  EXPECT_CONTAINS(no_slots.output, "hidden2/kernel/Adam: optimizer slot (a transfer run starts a fresh optimizer; "
                                   "--restore-slots restores slots)");
}

TEST(CliTransfer, ErrorsOnTheOtherFixtures) {
  REQUIRE_FIXTURES(conv, "tf1/conv_adam");
  const auto refused = graft(few_shot(data) + "--hidden 300,100 --dry-run --init-from " +
                             quote((conv / "my_mnist_model").string()));
  EXPECT_EQ(refused.status, 1);
  EXPECT_CONTAINS(refused.output, "no variable of the model is in");
  EXPECT_CONTAINS(refused.output, "conv1/kernel [3, 3, 1, 32]");
  EXPECT_CONTAINS(refused.output, "none has hidden1/kernel's shape [784, 300]");
  const auto conv1 = graft(few_shot(data) + "--hidden 300,100 --dry-run --restore conv1 --init-from " +
                           quote((conv / "my_mnist_model").string()));
  EXPECT_EQ(conv1.status, 1);
  EXPECT_CONTAINS(conv1.output, "4-D kernel");

  if (auto bn = test::fixture("tf1/batchnorm")) {
    // Its graph runs the layers with ELU (after batch norm): a default-ReLU
    // model is refused, naming the activation to pass.
    const auto relu = graft(few_shot(data) + "--hidden 300,200,100 --outputs 10 --dry-run --init-from " +
                            quote(bn->string()));
    EXPECT_EQ(relu.status, 1) << relu.output;
    EXPECT_CONTAINS(relu.output, "runs with elu; the model gives it relu (the default): pass --activation elu");
    const auto r = graft(few_shot(data) + "--hidden 300,200,100 --outputs 10 --activation elu --dry-run --init-from " +
                         quote(bn->string()));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_CONTAINS(r.output, "batch_normalization/beta: no such model variable (batch normalization)");
    EXPECT_CONTAINS(r.output, "8 of 8 model variables restored");
  }
  if (auto seed = test::fixture("tf1/seed_original")) {
    const std::string ckpt = quote((*seed / "my_model_final.ckpt").string());
    const auto shape = graft(few_shot(data) + "--hidden 300,100 --dry-run --restore 'hidden[12]' --init-from " + ckpt);
    EXPECT_EQ(shape.status, 1);
    EXPECT_CONTAINS(shape.output, "hidden2/kernel has shape [300, 50] but model variable hidden2/kernel has shape "
                                  "[300, 100]");
    const auto skipped = graft(few_shot(data) + "--hidden 300,100 --dry-run --restore 'hidden[12]' --skip-mismatch "
                               "--init-from " + ckpt);
    ASSERT_EQ(skipped.status, 0) << skipped.output;
    EXPECT_CONTAINS(skipped.output, "skipped hidden2/kernel, shape [300, 50] != [300, 100]");
    const auto typo = graft(few_shot(data) + "--hidden 300,50 --dry-run --restore hiden1 --init-from " + ckpt);
    EXPECT_EQ(typo.status, 1);
    EXPECT_CONTAINS(typo.output, "--restore 'hiden1' selects no variable of the model");
    const auto freeze = graft(few_shot(data) + "--hidden 300 --dry-run --freeze hiden1");
    EXPECT_EQ(freeze.status, 1);
    EXPECT_CONTAINS(freeze.output, "--freeze 'hiden1' selects no model variable");
    EXPECT_NE(graft(few_shot(data) + "--hidden 300 --restore hidden1").status, 0);  // needs --init-from
    EXPECT_NE(graft(few_shot(data) + "--hidden 300 --resume " + ckpt + " --init-from " + ckpt).status, 0);
    // Freezing everything leaves nothing to train.
    const auto all = graft(few_shot(data) + "--hidden 300,50 --freeze '.*' --epochs 1");
    EXPECT_EQ(all.status, 1);
    EXPECT_CONTAINS(all.output, "every parameter is frozen");
  }
}

TEST(CliTransfer, QuickDemo) {
  if (!test::fixture("mnist")) GTEST_SKIP() << "fixture mnist not found";
  test::TempDir dir;
  const std::string data = quote(mnist_as_training_data(dir).string());
  const std::string out = (dir / "demo").string();
  const auto r = graft("demo --quick --device cpu --data " + data + " --out " + quote(out));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "device: cpu");
  EXPECT_CONTAINS(r.output, "step 1: source network 784-300-50-50-50-50-4 (relu) on the same training images, "
                            "labelled coarsely");
  // The source network's epoch lines have graft train's format (digits aside).
  const auto shape = [](const std::string& output) {
    const auto at = output.find("epoch   1  loss ");
    std::string line = at == std::string::npos ? "" : output.substr(at, output.find('\n', at) - at);
    for (char& c : line) c = std::isdigit(static_cast<unsigned char>(c)) ? '#' : c;
    return line;
  };
  const auto train = graft("train --epochs 1 --hidden 16 --validation 500 --device cpu --data " + data);
  ASSERT_EQ(train.status, 0) << train.output;
  EXPECT_NE(shape(train.output), "");
  EXPECT_EQ(shape(r.output), shape(train.output));
  EXPECT_CONTAINS(r.output, "step 2: new network 784-300-20-10 (relu) on 10 classes");
  // The restore table and the cache decision come before the runs.
  const auto table = r.output.find("restore table of (a) and (b):");
  const auto cache = r.output.find("cache of (a) at 30 images per class: frozen-layer cache");
  const auto first_run = r.output.find("10 per class  (a) hidden1 restored, frozen, cached: lr");
  ASSERT_NE(first_run, std::string::npos) << r.output;
  EXPECT_LT(table, cache);
  EXPECT_LT(cache, first_run);
  EXPECT_CONTAINS(r.output, "hidden1/bias    [300]        restored from hidden1/bias [frozen]");
  EXPECT_CONTAINS(r.output, "(b) hidden1 restored, fine-tuned");
  EXPECT_CONTAINS(r.output, "(c) from scratch");
  EXPECT_CONTAINS(r.output, "--quick: tiny budgets");
  EXPECT_CONTAINS(r.output, "written to " + out);
  EXPECT_CONTAINS(r.output, "learning_curve.png, learning_curve.svg");
  for (const char* run : {"source", "frozen", "finetune", "scratch"}) {
    EXPECT_TRUE(fs::is_directory(fs::path(out) / run)) << run;
  }
  for (const char* f : {"learning_curve.png", "learning_curve.svg", "training_curves.png", "training_curves.svg"}) {
    EXPECT_TRUE(fs::exists(fs::path(out) / f)) << f;
  }
  EXPECT_TRUE(fs::exists(fs::path(out) / "report.txt"));
  const auto missing = graft("demo --quick --device cpu --data " + quote((dir / "nothing").string()));
  EXPECT_EQ(missing.status, 1);
  EXPECT_CONTAINS(missing.output, "dataset-fashion-mnist");
}

// A Keras save_weights checkpoint's variables answer to the Keras layer
// names its object graph keeps (dense, dense_1, ...): --restore and --rename
// can use them instead of layer_with_weights-N.
TEST(CliTransfer, KerasLayerNamesSelectAndRename) {
  auto keras = test::fixture("tf2/keras_dense_adam");
  if (!keras) GTEST_SKIP() << "fixture tf2/keras_dense_adam not found";
  test::TempDir dir;
  const fs::path data = test::banded_data_dir(dir.path(), 200, 50);
  const std::string base = "train --data " + quote(data.string()) + " --validation 50 --epochs 1 --hidden 32,32,32 "
                           "--activation relu --dry-run --init-from " + quote(keras->string()) + " ";
  const auto named = graft(base + "--layer-names dense,dense_1,dense_2,out --restore 'dense(_1)?'");
  ASSERT_EQ(named.status, 0) << named.output;
  EXPECT_CONTAINS(named.output, "dense_1/kernel  [32, 32]     restored from layer_with_weights-1/kernel/.ATTRIBUTES/"
                                "VARIABLE_VALUE\n");
  EXPECT_CONTAINS(named.output, "dense_2/kernel  [32, 32]     initialised");
  const auto renamed = graft(base + "--rename '^dense_1/=hidden2/' --restore hidden2");
  ASSERT_EQ(renamed.status, 0) << renamed.output;
  EXPECT_CONTAINS(renamed.output, "hidden2/kernel  [32, 32]     restored from layer_with_weights-1/kernel/.ATTRIBUTES/"
                                  "VARIABLE_VALUE\n");
}

}  // namespace
}  // namespace graft

