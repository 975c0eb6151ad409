// Reading every TF-written fixture, checked against the independent reader.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/crc32c.h"
#include "checkpoint/error.h"
#include "checkpoint/object_graph.h"
#include "tests/checkpoint/independent_reader.h"
#include "tests/checkpoint/test_util.h"
#include "tests/common/fixtures.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

TEST(FixtureRead, EveryFixtureMatchesIndependentReader) {
  if (!test::fixtures_dir()) GTEST_SKIP() << "fixtures not found";
  for (const auto& rel : test::fixture_prefixes()) {
    SCOPED_TRACE(rel);
    const auto prefix = test::fixture_prefix(rel);
    ASSERT_TRUE(prefix) << "missing fixture " << rel;
    const auto raw = test::read_index_independently(*prefix + ".index");
    const BundleReader reader = BundleReader::open(*prefix);
    EXPECT_EQ(reader.prefix(), *prefix);
    EXPECT_EQ(reader.resolution_note(), "");
    EXPECT_EQ(reader.num_shards(), 1);
    EXPECT_EQ(raw.header, std::string("\x08\x01\x1a\x02\x08\x01", 6));
    ASSERT_EQ(reader.entries().size(), raw.entries.size());
    ASSERT_GT(raw.entries.size(), 5u);
    for (std::size_t i = 0; i < raw.entries.size(); ++i) {
      const auto& a = reader.entries()[i];
      const auto& b = raw.entries[i];
      EXPECT_EQ(a.info.name, b.key);
      EXPECT_EQ(static_cast<int>(a.info.dtype), b.dtype) << b.key;
      EXPECT_EQ(a.info.shape, b.shape) << b.key;
      EXPECT_EQ(a.shard, b.shard);
      EXPECT_EQ(a.offset, b.offset) << b.key;
      EXPECT_EQ(a.size, b.size) << b.key;
      EXPECT_EQ(a.masked_crc32c, b.crc) << b.key;
      EXPECT_FALSE(a.sliced);
      EXPECT_EQ(reader.find(b.key), &a);
    }
    EXPECT_EQ(reader.find("no/such/tensor"), nullptr);
  }
}

TEST(FixtureRead, VerifyPassesAndFloatsMatchRawBytes) {
  if (!test::fixtures_dir()) GTEST_SKIP() << "fixtures not found";
  for (const auto& rel : test::fixture_prefixes()) {
    SCOPED_TRACE(rel);
    const auto prefix = *test::fixture_prefix(rel);
    const std::string data = test::read_bytes(prefix + ".data-00000-of-00001");
    const BundleReader reader = BundleReader::open(prefix);
    int64_t covered = 0;
    for (const auto& e : reader.entries()) {
      EXPECT_NO_THROW(reader.verify(e)) << e.info.name;
      covered += e.size;
      if (e.info.dtype != DType::kFloat) continue;
      const auto values = reader.read_float(e);
      ASSERT_EQ(values.size() * 4, static_cast<std::size_t>(e.size));
      EXPECT_EQ(std::memcmp(values.data(), data.data() + e.offset, static_cast<std::size_t>(e.size)), 0)
          << e.info.name;
    }
    EXPECT_EQ(covered, static_cast<int64_t>(data.size())) << "tensors tile the data file";
  }
}

TEST(FixtureRead, DataOrderIsWriteOrder) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(tf1, "tf1/adam_digits_0_to_4/ch11-exercise_model_0_to_4.ckpt");
  const BundleReader r1 = BundleReader::open(tf1);
  const auto order = r1.entries_in_data_order();
  ASSERT_EQ(order.size(), r1.entries().size());
  for (std::size_t i = 0; i < order.size(); ++i) EXPECT_EQ(order[i], &r1.entries()[i]);  // TF1: key order

  GRAFT_REQUIRE_FIXTURE_PREFIX(tf2, "tf2/keras_dense_adam/cp.ckpt");
  const BundleReader r2 = BundleReader::open(tf2);
  const auto order2 = r2.entries_in_data_order();
  EXPECT_EQ(order2.front()->info.name, "layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE");
  EXPECT_EQ(order2.back()->info.name, kObjectGraphKey);
  // The object graph lists the keys in exactly the order TF wrote them.
  const auto graph = read_object_graph(r2);
  ASSERT_TRUE(graph);
  ASSERT_EQ(graph->keys_in_node_order.size() + 1, order2.size());
  for (std::size_t i = 0; i < graph->keys_in_node_order.size(); ++i) {
    EXPECT_EQ(graph->keys_in_node_order[i], order2[i]->info.name);
  }
  EXPECT_EQ(graph->full_names.at("layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE"), "dense_1/kernel");
}

TEST(FixtureRead, Tf2Int64AndStringTensors) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(prefix, "tf2/keras_dense_adam/cp.ckpt");
  const BundleReader reader = BundleReader::open(prefix);
  const BundleEntry* iter = reader.find("optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE");
  ASSERT_NE(iter, nullptr);
  EXPECT_EQ(iter->info.dtype, DType::kInt64);
  EXPECT_TRUE(iter->info.shape.empty());
  int64_t steps;
  std::memcpy(&steps, reader.raw_bytes(*iter, true).data(), 8);
  EXPECT_GT(steps, 0);
  EXPECT_EQ(reader.read_float(*iter).at(0), static_cast<float>(steps));

  const BundleEntry* graph = reader.find(kObjectGraphKey);
  ASSERT_NE(graph, nullptr);
  EXPECT_EQ(graph->info.dtype, DType::kString);
  EXPECT_EQ(graph->size, 3608);
  const auto values = reader.read_strings(*graph);
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values[0].size(), 3602u);  // spec §9: 2 varint bytes + 4 + 3602
  // The composite checksum is not a plain crc of the region (spec §9).
  const auto raw = reader.raw_bytes(*graph);
  EXPECT_NE(crc32c::mask(crc32c::value(raw.data(), raw.size())), graph->masked_crc32c);
  EXPECT_THROW(reader.read_float(*graph), Error);
  EXPECT_THROW(reader.read_strings(*iter), Error);
}

TEST(FixtureRead, PathResolution) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(prefix, "tf1/scoped_names/my_model_final.ckpt");
  const std::string dir = fs::path(prefix).parent_path().string();
  for (const std::string& path :
       {prefix + ".index", prefix + ".data-00000-of-00001", prefix + ".meta", dir, dir + "/"}) {
    SCOPED_TRACE(path);
    const BundleReader r = BundleReader::open(path);
    EXPECT_EQ(fs::path(r.prefix()).lexically_normal(), fs::path(prefix).lexically_normal());
    EXPECT_NE(r.resolution_note().find("using checkpoint prefix"), std::string::npos);
  }
  EXPECT_NE(BundleReader::open(dir).resolution_note().find("/checkpoint)"), std::string::npos);
  EXPECT_EQ(BundleReader::open(prefix).resolution_note(), "");
}

TEST(FixtureRead, StateFileWithAbsoluteAndRelativePaths) {
  GRAFT_REQUIRE_FIXTURE_PREFIX(prefix, "tf1/seed_new/my_new_model_final.ckpt");
  test::TempDir tmp;
  fs::create_directories(tmp / "a/sub");
  const std::string copied = test::copy_checkpoint(prefix, tmp / "a/sub");
  // Relative paths are relative to the state file's directory, not the cwd.
  test::write_bytes((tmp / "a/checkpoint").string(),
                    "model_checkpoint_path: \"sub/my_new_model_final.ckpt\"\n");
  EXPECT_EQ(BundleReader::open((tmp / "a").string()).prefix(), (tmp / "a/sub/my_new_model_final.ckpt").string());
  test::write_bytes((tmp / "a/checkpoint").string(), "model_checkpoint_path: \"" + copied + "\"\n");
  EXPECT_EQ(BundleReader::open((tmp / "a").string()).prefix(), copied);
}

}  // namespace
}  // namespace graft
