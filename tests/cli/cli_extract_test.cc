// `graft extract` end to end on the TF fixtures.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "checkpoint/bundle_reader.h"
#include "tests/cli/cli_util.h"
#include "tests/common/fixtures.h"
#include "tests/common/expect_contains.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

using test::graft;
using test::quote;

std::string bytes_of(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(CliExtract, NoOptionsIsByteIdentical) {
  if (!test::fixtures_dir()) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  for (const char* rel : {"tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt", "tf2/keras_dense_adam/cp.ckpt"}) {
    const std::string src = test::fixture(std::string(rel) + ".index")->string();
    const std::string prefix = src.substr(0, src.size() - 6);
    const std::string dst = (tmp / fs::path(rel).filename().string()).string();
    const auto r = graft("extract " + quote(prefix) + " " + quote(dst));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(bytes_of(prefix + ".index") == bytes_of(dst + ".index")) << rel;
    EXPECT_TRUE(bytes_of(prefix + ".data-00000-of-00001") == bytes_of(dst + ".data-00000-of-00001")) << rel;
  }
}

TEST(CliExtract, SelectAndRename) {
  auto dir = test::fixture("tf1/scoped_names");
  if (!dir) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  const std::string dst = (tmp / "fixed/model.ckpt").string();
  auto r = graft("extract " + quote(dir->string()) + " " + quote(dst) +
                 " --select 'dnn/hidden.*' --rename '^dnn/(.*)/kernal$=$1/kernel' --rename '^dnn/='");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "copied 4 variables to " + dst);
  EXPECT_CONTAINS(r.output, "dnn/hidden1/kernal -> hidden1/kernel");
  const BundleReader out = BundleReader::open(dst);
  ASSERT_EQ(out.entries().size(), 4u);
  EXPECT_EQ(out.entries()[3].info.name, "hidden2/kernel");
  r = graft("inspect " + quote(dst));
  EXPECT_CONTAINS(r.output, "dense layers: 2, 784-300-100");
}

TEST(CliExtract, DryRunWritesNothing) {
  auto src = test::fixture("tf1/seed_original/my_model_final.ckpt.index");
  if (!src) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  const auto r = graft("extract " + quote(src->string()) + " " + quote((tmp / "o").string()) +
                       " --select 'hidden1/.*' --rename 'hidden1=layer1' --dry-run");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_CONTAINS(r.output, "would copy 2 of 12 variables");
  EXPECT_CONTAINS(r.output, "hidden1/kernel -> layer1/kernel");
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(CliExtract, ErrorsAreOneLineAndExitOne) {
  auto src = test::fixture("tf1/seed_original/my_model_final.ckpt.index");
  if (!src) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  const std::string s = quote(src->string()), d = quote((tmp / "o").string());
  const std::vector<std::pair<std::string, std::string>> cases{
      {s + " " + d + " --select 'hidden9/.*'", "--select 'hidden9/.*' matches no variable"},
      {s + " " + d + " --rename 'hidden[0-9]=h'", "two variables would be named 'h/bias'"},
      {s + " " + d + " --select '('", "invalid --select regex '('"},
      {s + " " + quote(tmp.path().string()), "must be a checkpoint prefix"},
      {quote((tmp / "none").string()) + " " + d, "no checkpoint at"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = graft("extract " + args);
    EXPECT_EQ(r.status, 1) << args;
    EXPECT_EQ(test::line_count(r.output), 1) << r.output;
    EXPECT_CONTAINS(r.output, "graft extract: error: " );
    EXPECT_CONTAINS(r.output, message);
  }
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(CliExtract, Help) {
  const auto r = graft("extract --help");
  EXPECT_EQ(r.status, 0);
  for (const char* text : {"--select", "--rename", "--dry-run", "src", "dst", "REGEX=REPLACEMENT", "Examples:"}) {
    EXPECT_CONTAINS(r.output, text);
  }
}

}  // namespace
}  // namespace graft
