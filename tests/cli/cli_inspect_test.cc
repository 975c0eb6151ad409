// `graft inspect` end to end on the TF fixtures.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/cli/cli_util.h"
#include "tests/common/fixtures.h"
#include "tests/common/expect_contains.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::graft;
using test::quote;

std::string fixture_prefix(const std::string& rel) {
  auto p = test::fixture(rel + ".index");
  return p ? p->string().substr(0, p->string().size() - 6) : "";
}

TEST(CliInspect, ListsVariablesAndSummary) {
  const std::string p = fixture_prefix("tf1/seed_original/my_model_final.ckpt");
  if (p.empty()) GTEST_SKIP() << "fixtures not found";
  const auto r = graft("inspect " + quote(p));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "hidden1/kernel  float32  [784, 300]  940800");
  EXPECT_CONTAINS(r.output, "12 variables, 1034840 bytes in 1 data file");
  EXPECT_CONTAINS(r.output, "dense layers: 6, 784-300-50-50-50-50-10");
  EXPECT_CONTAINS(r.output, "parameters: 258710 (model)");
  EXPECT_EQ(r.output.find("using checkpoint prefix"), std::string::npos);  // the path was the prefix
}

TEST(CliInspect, ResolvesDirectoryAndSaysSo) {
  auto dir = test::fixture("tf1/batchnorm");
  if (!dir) GTEST_SKIP() << "fixtures not found";
  const auto r = graft("inspect " + quote(dir->string()));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "using checkpoint prefix " + dir->string() + "/my_model_final.ckpt");
  EXPECT_CONTAINS(r.output, "batch_normalization_3/moving_variance");
  EXPECT_CONTAINS(r.output, "batch normalization");
}

TEST(CliInspect, Json) {
  const std::string p = fixture_prefix("tf2/keras_dense_adam/cp.ckpt");
  if (p.empty()) GTEST_SKIP() << "fixtures not found";
  const auto r = test::graft_stdout("inspect --json " + quote(p + ".index"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["prefix"], p);
  EXPECT_NE(j["resolution_note"].get<std::string>(), "");
  ASSERT_EQ(j["variables"].size(), 30u);
  const auto& graph = j["variables"][0];
  EXPECT_EQ(graph["name"], "_CHECKPOINTABLE_OBJECT_GRAPH");
  EXPECT_EQ(graph["dtype"], "string");
  EXPECT_EQ(graph["shape"], nlohmann::json::array());
  EXPECT_EQ(graph["bytes"], 3608);
  EXPECT_EQ(graph["shard"], 0);
  bool saw_iter = false;
  for (const auto& v : j["variables"]) {
    if (v["name"] == "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE") {
      saw_iter = true;
      EXPECT_EQ(v["dtype"], "int64");
      EXPECT_EQ(v["bytes"], 8);
    }
    if (v["name"] == "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE") {
      EXPECT_EQ(v["shape"], nlohmann::json({784, 32}));
      EXPECT_EQ(v["dtype"], "float32");
    }
  }
  EXPECT_TRUE(saw_iter);
  EXPECT_EQ(j["summary"]["total_parameters"], 27562);
  EXPECT_EQ(j["summary"]["architecture"], "784-32-32-32-10");
  EXPECT_EQ(j["summary"]["dense_layers"][1]["keras_name"], "dense_1");
  EXPECT_EQ(j["summary"]["optimizer_slots"], nlohmann::json({"m", "v"}));
}

TEST(CliInspect, TensorValues) {
  const std::string p = fixture_prefix("tf1/seed_original/my_model_final.ckpt");
  if (p.empty()) GTEST_SKIP() << "fixtures not found";
  auto r = graft("inspect " + quote(p) + " --tensor outputs/bias");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "outputs/bias: float32 [10], 10 elements, 40 bytes");
  EXPECT_CONTAINS(r.output, "values: 0.01023492 -0.01504718");
  EXPECT_EQ(r.output.find("..."), std::string::npos);
  r = graft("inspect " + quote(p) + " --tensor hidden1/kernel");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "235200 elements");
  EXPECT_CONTAINS(r.output, " ... ");
  EXPECT_CONTAINS(r.output, "min -0.1358232  max 0.1408978");

  r = test::graft_stdout("inspect " + quote(p) + " --json --tensor hidden2/bias");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output)["tensor"];
  EXPECT_EQ(j["elements"], 50);
  EXPECT_EQ(j["first"].size(), 6u);
  EXPECT_EQ(j["last"].size(), 6u);
  EXPECT_LT(j["min"].get<double>(), j["max"].get<double>());

  r = graft("inspect " + quote(p) + " --tensor kernel");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(test::line_count(r.output), 1) << r.output;
  EXPECT_CONTAINS(r.output, "graft inspect: error: no tensor 'kernel'");
  EXPECT_CONTAINS(r.output, "did you mean hidden1/kernel");
}

TEST(CliInspect, Tf2ScalarInt64) {
  const std::string p = fixture_prefix("tf2/keras_dense_adam/cp.ckpt");
  if (p.empty()) GTEST_SKIP() << "fixtures not found";
  const auto r = graft("inspect " + quote(p) + " --tensor optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "int64 [], 1 element, 8 bytes");
  EXPECT_CONTAINS(r.output, "values: 5625");
}

TEST(CliInspect, VerifyPassesOnEveryFixture) {
  if (!test::fixtures_dir()) GTEST_SKIP() << "fixtures not found";
  for (const char* dir : {"tf1/seed_original", "tf1/seed_new", "tf1/adam_digits_0_to_4", "tf1/scoped_names",
                          "tf1/batchnorm", "tf1/conv_adam", "tf2/keras_dense_adam"}) {
    std::string target = test::fixture(dir)->string();
    if (!fs::exists(target + "/checkpoint")) {  // no state file: name a file instead
      for (const auto& e : fs::directory_iterator(target)) {
        if (e.path().extension() == ".index") target = e.path().string();
      }
    }
    const auto r = graft("inspect --verify " + quote(target));
    EXPECT_EQ(r.status, 0) << dir << "\n" << r.output;
    EXPECT_CONTAINS(r.output, "tensors match their checksums");
  }
}

TEST(CliInspect, VerifyNamesEveryCorruptTensor) {
  const std::string p = fixture_prefix("tf1/seed_new/my_new_model_final.ckpt");
  if (p.empty()) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  for (const char* ext : {".index", ".data-00000-of-00001"}) {
    fs::copy_file(p + ext, tmp / (std::string("m") + ext));
    fs::permissions(tmp / (std::string("m") + ext), fs::perms::owner_write, fs::perm_options::add);
  }
  {
    std::fstream f(tmp / "m.data-00000-of-00001", std::ios::in | std::ios::out | std::ios::binary);
    for (long off : {5000L, 1016500L}) {  // inside hidden1/kernel and outputs/bias
      f.seekp(off);
      f.put('\x7f');
    }
  }
  const auto r = graft("inspect --verify " + quote((tmp / "m").string()));
  EXPECT_EQ(r.status, 1);
  EXPECT_CONTAINS(r.output, "graft inspect: error: " + (tmp / "m").string() +
                                ".data-00000-of-00001: tensor 'hidden1/kernel': checksum mismatch");
  EXPECT_CONTAINS(r.output, "tensor 'outputs/bias': checksum mismatch");
  EXPECT_CONTAINS(r.output, "verify: 2 of 10 tensors are corrupt");
  const auto j = test::graft_stdout("inspect --verify --json " + quote((tmp / "m").string()));
  EXPECT_EQ(j.status, 1);
  EXPECT_EQ(nlohmann::json::parse(j.output)["verify"]["bad"].size(), 2u);
}

// A copy without its .data file still has an index: inspect lists what it
// names and says which data is missing (exit 1); reading a value fails
// naming the missing file.
TEST(CliInspect, MissingDataShardListsTheIndex) {
  const std::string p = fixture_prefix("tf1/seed_new/my_new_model_final.ckpt");
  if (p.empty()) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  fs::copy_file(p + ".index", tmp / "m.index");
  const std::string m = (tmp / "m").string();
  const auto r = graft("inspect " + quote(m));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_CONTAINS(r.output, "hidden1/kernel  float32  [784, 300]  940800");
  EXPECT_CONTAINS(r.output, "dense layers: 5, 784-300-50-50-20-10");
  EXPECT_CONTAINS(r.output, "graft inspect: error: missing data shard " + m +
                                ".data-00000-of-00001: listed from the index only; the values of 10 of 10 "
                                "tensors cannot be read");
  const auto t = graft("inspect " + quote(m) + " --tensor hidden1/bias");
  EXPECT_EQ(t.status, 1);
  EXPECT_EQ(test::line_count(t.output), 1) << t.output;
  EXPECT_CONTAINS(t.output, "missing data shard " + m + ".data-00000-of-00001");
}

TEST(CliInspect, BadInputIsOneLineAndExitOne) {
  test::TempDir tmp;
  const std::string dir = tmp.path().string();
  std::ofstream(dir + "/junk.index") << "not an sstable";
  std::filesystem::create_directory(dir + "/empty");
  const std::vector<std::pair<std::string, std::string>> cases{
      {dir + "/missing", "no checkpoint at " + dir + "/missing"},
      {dir + "/empty", "is a directory without a `checkpoint` state file or any .index file"},
      {dir + "/junk", dir + "/junk.index: truncated index"},
  };
  for (const auto& [path, message] : cases) {
    const auto r = graft("inspect " + quote(path));
    EXPECT_EQ(r.status, 1) << path;
    EXPECT_EQ(test::line_count(r.output), 1) << r.output;
    EXPECT_CONTAINS(r.output, "graft inspect: error: ");
    EXPECT_CONTAINS(r.output, message);
  }
}

TEST(CliInspect, Help) {
  const auto r = graft("inspect --help");
  EXPECT_EQ(r.status, 0);
  for (const char* flag : {"--json", "--tensor", "--verify", "checkpoint", "Examples:"}) {
    EXPECT_CONTAINS(r.output, flag);
  }
}

}  // namespace
}  // namespace graft
