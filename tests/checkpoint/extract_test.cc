#include "checkpoint/extract.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/error.h"
#include "checkpoint/object_graph.h"
#include "tests/checkpoint/test_util.h"
#include "tests/common/fixtures.h"
#include "tests/common/error_of.h"

namespace graft {
namespace {

using test::error_of;

std::vector<std::string> names_in_data_order(const std::string& prefix) {
  const BundleReader r = BundleReader::open(prefix);
  std::vector<std::string> names;
  for (const BundleEntry* e : r.entries_in_data_order()) names.push_back(e->info.name);
  return names;
}

TEST(Extract, SelectAndRenameScopedNames) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(src, "tf1/scoped_names/my_model_final.ckpt");
  test::TempDir tmp;
  const std::string dst = (tmp / "out").string();
  ExtractOptions o;
  o.select = {"dnn/hidden[12]/.*"};
  o.rename = {"^dnn/(.*)/kernal$=$1/kernel", "^dnn/=", "bias=never_applied"};
  const ExtractResult result = extract_checkpoint(src, dst, o);
  EXPECT_EQ(names_in_data_order(dst),
            (std::vector<std::string>{"hidden1/bias", "hidden1/kernel", "hidden2/bias", "hidden2/kernel"}));
  ASSERT_EQ(result.tensors.size(), 4u);
  EXPECT_EQ(result.tensors[1].source, "dnn/hidden1/kernal");
  EXPECT_EQ(result.tensors[1].name, "hidden1/kernel");

  const BundleReader a = BundleReader::open(src), b = BundleReader::open(dst);
  EXPECT_EQ(a.read_float(*a.find("dnn/hidden2/kernal")), b.read_float(*b.find("hidden2/kernel")));
}

TEST(Extract, DataOrderStaysTheSourceOrder) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(src, "tf1/seed_original/my_model_final.ckpt");
  test::TempDir tmp;
  // Renaming reverses the key order; the data file keeps the source order.
  ExtractOptions o;
  o.select = {"hidden[12]/.*"};
  o.rename = {"hidden1=z_hidden1"};
  extract_checkpoint(src, (tmp / "o").string(), o);
  EXPECT_EQ(names_in_data_order((tmp / "o").string()),
            (std::vector<std::string>{"z_hidden1/bias", "z_hidden1/kernel", "hidden2/bias", "hidden2/kernel"}));
}

TEST(Extract, Errors) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(src, "tf1/seed_original/my_model_final.ckpt");
  test::TempDir tmp;
  const std::string dst = (tmp / "o").string();
  ExtractOptions o;
  o.select = {"hidden1/.*", "hidden9/.*"};
  EXPECT_NE(error_of([&] { extract_checkpoint(src, dst, o); }).find("--select 'hidden9/.*' matches no variable"),
            std::string::npos);
  o.select = {"hidden1"};  // whole-name match: "hidden1" alone is not a variable
  EXPECT_NE(error_of([&] { extract_checkpoint(src, dst, o); }).find("matches no variable"), std::string::npos);
  o.select = {"("};
  EXPECT_NE(error_of([&] { extract_checkpoint(src, dst, o); }).find("invalid --select regex '('"),
            std::string::npos);
  o.select = {};
  o.rename = {"hidden[0-9]=layer"};
  const std::string clash = error_of([&] { extract_checkpoint(src, dst, o); });
  EXPECT_NE(clash.find("two variables would be named 'layer/bias'"), std::string::npos) << clash;
  o.rename = {"no_equals_sign"};
  EXPECT_NE(error_of([&] { extract_checkpoint(src, dst, o); }).find("is not REGEX=REPLACEMENT"), std::string::npos);
  o.rename = {".*="};
  EXPECT_NE(error_of([&] { extract_checkpoint(src, dst, o); }).find("empty name"), std::string::npos);
  EXPECT_TRUE(test::list_dir(tmp.path()).empty()) << "a failed extract writes nothing";
}

TEST(Extract, RenameRuleParsing) {
  const RenameRule r = parse_rename_rule(R"(a\=b=c=d)");
  EXPECT_EQ(r.pattern, R"(a\=b)");
  EXPECT_EQ(r.replacement, "c=d");
  EXPECT_TRUE(std::regex_search("xa=by", r.regex));
  EXPECT_THROW(parse_rename_rule("=x"), Error);
}

TEST(Extract, Tf2KeepsGraphLastAndRewritesIt) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(src, "tf2/keras_dense_adam/cp.ckpt");
  test::TempDir tmp;
  const std::string dst = (tmp / "o").string();
  ExtractOptions o;
  o.select = {"layer_with_weights-[01]/.*/VARIABLE_VALUE", "_CHECKPOINTABLE_OBJECT_GRAPH"};
  o.rename = {"layer_with_weights-1/=layer_with_weights-9/"};
  const ExtractResult result = extract_checkpoint(src, dst, o);
  EXPECT_TRUE(result.object_graph_rewritten);
  const auto names = names_in_data_order(dst);
  ASSERT_EQ(names.size(), 13u);  // 2 layers x (kernel, bias) x (value, m, v) + graph
  EXPECT_EQ(names.front(), "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE");
  EXPECT_EQ(names.back(), kObjectGraphKey);
  // The graph now names exactly the tensors that exist, in data order.
  const BundleReader r = BundleReader::open(dst);
  const auto graph = read_object_graph(r);
  ASSERT_TRUE(graph);
  EXPECT_EQ(graph->keys_in_node_order, std::vector<std::string>(names.begin(), names.end() - 1));
  EXPECT_EQ(graph->full_names.at("layer_with_weights-9/kernel/.ATTRIBUTES/VARIABLE_VALUE"), "dense_1/kernel");
}

}  // namespace
}  // namespace graft
