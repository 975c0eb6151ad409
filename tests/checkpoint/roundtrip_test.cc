// Writing: re-serialising TF's own checkpoints must give TF's bytes, and the
// index layout must follow TF's table builder on synthetic edge cases.
#include <gtest/gtest.h>

#include <filesystem>
#include <numeric>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/error.h"
#include "checkpoint/extract.h"
#include "tests/checkpoint/independent_reader.h"
#include "tests/checkpoint/index_rewrite.h"
#include "tests/checkpoint/test_util.h"
#include "tests/common/fixtures.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

void rewrite_in_data_order(const BundleReader& reader, const std::string& out_prefix) {
  BundleWriter writer(out_prefix);
  for (const BundleEntry* e : reader.entries_in_data_order()) {
    if (e->info.dtype == DType::kString) {
      writer.add_strings(e->info.name, e->info.shape, reader.read_strings(*e));
    } else {
      const auto bytes = reader.raw_bytes(*e);
      writer.add(e->info, bytes.data(), bytes.size());
    }
  }
  writer.finish();
}

void expect_same_files(const std::string& a_prefix, const std::string& b_prefix) {
  for (const char* suffix : {".index", ".data-00000-of-00001"}) {
    const std::string a = test::read_bytes(a_prefix + suffix);
    const std::string b = test::read_bytes(b_prefix + suffix);
    EXPECT_EQ(a.size(), b.size()) << suffix;
    EXPECT_TRUE(a == b) << suffix << " differs from TF's bytes";
  }
}

TEST(RoundTrip, EveryFixtureReserialisesByteIdentically) {
  if (!test::fixtures_dir()) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  for (const auto& rel : test::fixture_prefixes()) {
    SCOPED_TRACE(rel);
    const auto prefix = *test::fixture_prefix(rel);
    const std::string out = (tmp / fs::path(rel).parent_path().filename().string()).string() + "/ckpt";
    rewrite_in_data_order(BundleReader::open(prefix), out);
    expect_same_files(prefix, out);
  }
}

TEST(RoundTrip, ExtractWithoutOptionsIsByteIdentical) {
  if (!test::fixtures_dir()) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  for (const auto& rel : test::fixture_prefixes()) {
    SCOPED_TRACE(rel);
    const auto prefix = *test::fixture_prefix(rel);
    const std::string out = (tmp / fs::path(rel).parent_path().filename().string()).string() + "/x";
    const ExtractResult result = extract_checkpoint(prefix, out, {});
    EXPECT_FALSE(result.object_graph_rewritten);
    expect_same_files(prefix, out);
  }
}

TEST(RoundTrip, EntryBytesMatchSpecExamples) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "m").string();
  BundleWriter w(prefix);
  std::vector<float> bias(300, 0.5f);
  w.add_float("hidden1/bias", {300}, bias.data());
  w.add_strings("s", {}, {std::string(3602, 'g')});
  w.finish();
  const auto raw = test::read_index_independently(prefix + ".index");
  EXPECT_EQ(raw.header, std::string("\x08\x01\x1a\x02\x08\x01", 6));
  ASSERT_EQ(raw.entries.size(), 2u);
  // offset 0 is omitted: fields (1, 2, 5, 6) as in spec §3.
  EXPECT_EQ(raw.entries[0].value.substr(0, 10), std::string("\x08\x01\x12\x05\x12\x03\x08\xac\x02\x28", 10));
  EXPECT_EQ(raw.entries[0].value.size(), 17u);
  // Scalar string: dtype 7, empty shape, offset 1200, size 3608.
  EXPECT_EQ(raw.entries[1].value.substr(0, 11), std::string("\x08\x07\x12\x00\x20\xb0\x09\x28\x98\x1c\x35", 11));
  // Index: one data block; last index key is the short successor of "s".
  ASSERT_EQ(raw.index_keys.size(), 1u);
  EXPECT_EQ(raw.index_keys[0], "t");
}

// An independent model of TF's table builder (spec §1.5, §1.6): which keys
// land in which data block and each block's index key.
struct ExpectedLayout {
  std::vector<std::vector<std::string>> blocks;
  std::vector<std::string> index_keys;
};

std::size_t varint_len(uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

std::string separator(const std::string& a, const std::string& b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  if (i >= std::min(a.size(), b.size())) return a;
  const auto c = static_cast<unsigned char>(a[i]);
  if (c < 0xff && c + 1 < static_cast<unsigned char>(b[i])) return a.substr(0, i) + static_cast<char>(c + 1);
  return a;
}

std::string successor(const std::string& a) {
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (static_cast<unsigned char>(a[i]) != 0xff) return a.substr(0, i) + static_cast<char>(a[i] + 1);
  }
  return a;
}

ExpectedLayout model_layout(const std::vector<std::pair<std::string, std::string>>& kvs) {
  constexpr std::size_t kBlock = 262144;
  ExpectedLayout out;
  std::vector<std::string> block;
  std::size_t bytes = 0, restarts = 0, in_block = 0;
  std::string prev;
  auto close = [&]() {
    if (block.empty()) return;
    out.blocks.push_back(block);
    block.clear();
    bytes = restarts = in_block = 0;
  };
  for (const auto& [k, v] : kvs) {
    if (!out.blocks.empty() || !block.empty()) {
      if (k.size() + v.size() >= 2 * kBlock) close();
    }
    std::size_t shared = 0;
    if (in_block % 16 == 0) {
      ++restarts;
    } else {
      while (shared < k.size() && shared < prev.size() && k[shared] == prev[shared]) ++shared;
    }
    const std::size_t non_shared = k.size() - shared;
    bytes += varint_len(shared) + varint_len(non_shared) + varint_len(v.size()) + non_shared + v.size();
    block.push_back(k);
    ++in_block;
    prev = k;
    if (bytes + 4 * restarts + 4 >= kBlock) close();
  }
  close();
  for (std::size_t i = 0; i < out.blocks.size(); ++i) {
    out.index_keys.push_back(i + 1 < out.blocks.size()
                                 ? separator(out.blocks[i].back(), out.blocks[i + 1].front())
                                 : successor(out.blocks[i].back()));
  }
  return out;
}

void expect_layout_matches_model(const std::string& prefix) {
  const auto raw = test::read_index_independently(prefix + ".index");
  std::vector<std::pair<std::string, std::string>> kvs{{"", raw.header}};
  for (const auto& e : raw.entries) kvs.emplace_back(e.key, e.value);
  const ExpectedLayout expected = model_layout(kvs);
  EXPECT_EQ(raw.block_keys, expected.blocks);
  EXPECT_EQ(raw.index_keys, expected.index_keys);
}

TEST(RoundTrip, MultiBlockIndexFollowsTfBuilder) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "many").string();
  BundleWriter w(prefix);
  const float zero = 0;
  for (int i = 0; i < 4000; ++i) {
    // Long shared prefixes exercise prefix compression; varying tails the separators.
    const std::string name = "model/block_" + std::to_string(i % 37) + "/layer" + std::to_string(i) +
                             std::string(60, static_cast<char>('a' + i % 26)) + "/kernel";
    w.add_float(name, {}, &zero);
  }
  w.finish();
  const auto raw = test::read_index_independently(prefix + ".index");
  EXPECT_GE(raw.data_blocks.size(), 2u);
  expect_layout_matches_model(prefix);
  const BundleReader r = BundleReader::open(prefix);
  EXPECT_EQ(r.entries().size(), 4000u);
}

TEST(RoundTrip, OversizedEntryStartsItsOwnBlock) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "big").string();
  const std::string big = "c" + std::string(600000, 'x');  // key + value >= 2 * block_size
  {
    BundleWriter w(prefix);
    const float v = 1;
    for (const std::string& name : {std::string("a"), std::string("b"), big, std::string("d")}) {
      w.add_float(name, {}, &v);
    }
    w.finish();
  }
  const auto raw = test::read_index_independently(prefix + ".index");
  ASSERT_EQ(raw.block_keys.size(), 3u);
  EXPECT_EQ(raw.block_keys[0], (std::vector<std::string>{"", "a", "b"}));  // leveldb alone would append `big`
  EXPECT_EQ(raw.block_keys[1], std::vector<std::string>{big});
  expect_layout_matches_model(prefix);
  EXPECT_NE(BundleReader::open(prefix).find(big), nullptr);
}

TEST(RoundTrip, MultiShardBundle) {
  test::TempDir tmp;
  const std::string a = (tmp / "a").string(), b = (tmp / "b").string(), m = (tmp / "merged").string();
  std::vector<float> x{1, 2, 3}, y{4, 5}, z{6};
  {
    BundleWriter wa(a);
    wa.add_float("x", {3}, x.data());
    wa.add_float("y", {2}, y.data());
    wa.finish();
    BundleWriter wb(b);
    wb.add_float("z", {1}, z.data());
    wb.finish();
  }
  // Merge as TF's MergeBundles does: shard ids rewritten, data files renamed.
  auto ia = test::load_index(a + ".index");
  auto ib = test::load_index(b + ".index");
  ia.header.set_num_shards(2);
  for (auto& [k, e] : ib.entries) {
    e.set_shard_id(1);
    ia.entries[k] = e;
  }
  test::save_index(m + ".index", ia);
  fs::rename(a + ".data-00000-of-00001", m + ".data-00000-of-00002");
  fs::rename(b + ".data-00000-of-00001", m + ".data-00001-of-00002");

  const BundleReader r = BundleReader::open(m + ".data-00001-of-00002");
  EXPECT_EQ(r.num_shards(), 2);
  EXPECT_EQ(r.shard_path(1), m + ".data-00001-of-00002");
  EXPECT_EQ(r.read_float(*r.find("z")), z);
  EXPECT_EQ(r.read_float(*r.find("y")), y);
  const auto order = r.entries_in_data_order();
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[2]->info.name, "z");

  fs::remove(m + ".data-00001-of-00002");
  try {
    BundleReader::open(m);
    FAIL() << "missing shard not detected";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing data shard " + m + ".data-00001-of-00002"), std::string::npos)
        << e.what();
  }
}

TEST(RoundTrip, BigEndianBundleIsSwappedOnRead) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "be").string();
  // Big-endian float32 1.5 and -2.0, as a big-endian TF host would store them.
  const std::string be("\x3f\xc0\x00\x00\xc0\x00\x00\x00", 8);
  {
    BundleWriter w(prefix);
    w.add(TensorInfo{"v", DType::kFloat, {2}}, be.data(), be.size());
    w.finish();
  }
  test::edit_index(prefix + ".index", [](test::IndexContents& c) {
    c.header.set_endianness(tf::BundleHeaderProto::BIG);
  });
  const BundleReader r = BundleReader::open(prefix);
  EXPECT_TRUE(r.big_endian());
  EXPECT_EQ(r.read_float(*r.find("v")), (std::vector<float>{1.5f, -2.0f}));
  // Extract writes a little-endian copy.
  extract_checkpoint(prefix, (tmp / "le").string(), {});
  const BundleReader le = BundleReader::open((tmp / "le").string());
  EXPECT_FALSE(le.big_endian());
  EXPECT_EQ(le.read_float(*le.find("v")), (std::vector<float>{1.5f, -2.0f}));
}

}  // namespace
}  // namespace graft
