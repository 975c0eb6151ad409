// Damaged or impossible checkpoints: each must give one graft::Error naming
// the file (and tensor) and the problem; never a crash or a hang.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <limits>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/crc32c.h"
#include "checkpoint/error.h"
#include "checkpoint/file_io.h"
#include "checkpoint/sstable.h"
#include "checkpoint/state_file.h"
#include "tests/checkpoint/independent_reader.h"
#include "tests/checkpoint/index_rewrite.h"
#include "tests/checkpoint/test_util.h"
#include "tests/common/fixtures.h"
#include "tests/common/expect_contains.h"
#include "tests/common/error_of.h"

namespace fs = std::filesystem;

namespace graft {
namespace {

// The message of the Error that fn throws ("" when it throws none), which
// must be a single line.
template <typename Fn>
std::string error_of(Fn fn) {
  const std::string msg = test::error_of(fn);
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "multi-line error: " << msg;
  return msg;
}

std::string open_error(const std::string& path) {
  return error_of([&] { BundleReader::open(path); });
}

// A writable copy of the seed_new fixture.
class BadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    auto src = test::fixture_prefix("tf1/seed_new/my_new_model_final.ckpt");
    if (!src) GTEST_SKIP() << "fixtures not found";
    prefix = test::copy_checkpoint(*src, tmp.path());
    index = prefix + ".index";
    data = prefix + ".data-00000-of-00001";
  }
  void edit_entry(const std::string& name, const std::function<void(tf::BundleEntryProto&)>& fn) {
    test::edit_index(index, [&](test::IndexContents& c) { fn(c.entries.at(name)); });
  }
  test::TempDir tmp;
  std::string prefix, index, data;
};

TEST_F(BadInput, TruncatedIndex) {
  const std::string bytes = test::read_bytes(index);
  test::write_bytes(index, bytes.substr(0, 30));
  std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, index);
  EXPECT_CONTAINS(msg, "truncated index");
  test::write_bytes(index, bytes.substr(0, bytes.size() - 10));
  msg = open_error(prefix);
  EXPECT_CONTAINS(msg, index);
  EXPECT_CONTAINS(msg, "magic");
  test::write_bytes(index, "");
  EXPECT_CONTAINS(open_error(prefix), "truncated index");
}

TEST_F(BadInput, WrongMagic) {
  std::string bytes = test::read_bytes(index);
  bytes.back() ^= 0x01;
  test::write_bytes(index, bytes);
  const std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, index);
  EXPECT_CONTAINS(msg, "wrong magic number");
}

TEST_F(BadInput, CorruptIndexBlock) {
  std::string bytes = test::read_bytes(index);
  bytes[40] ^= 0x20;  // inside the only data block
  test::write_bytes(index, bytes);
  const std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, index);
  EXPECT_CONTAINS(msg, "checksum mismatch");
}

TEST_F(BadInput, EverySingleByteCorruptionIsCaught) {
  const std::string bytes = test::read_bytes(index);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x5a;
    test::write_bytes(index, bad);
    // Either a clean error, or (for a few padding bytes of the footer) a
    // checkpoint that still reads correctly.
    try {
      const BundleReader r = BundleReader::open(prefix);
      EXPECT_EQ(r.entries().size(), 10u) << "byte " << i;
    } catch (const Error& e) {
      EXPECT_CONTAINS(std::string(e.what()), prefix);
    }
  }
  for (std::size_t len = 0; len < bytes.size(); len += 7) {
    test::write_bytes(index, bytes.substr(0, len));
    EXPECT_CONTAINS(open_error(prefix), index);
  }
}

// Overwrites the footer's index handle (offset kept, size replaced).
std::string with_index_size(const std::string& index_bytes, uint64_t index_offset, uint64_t meta_offset,
                            uint64_t meta_size, uint64_t index_size) {
  std::string footer;
  for (uint64_t v : {meta_offset, meta_size, index_offset, index_size}) {
    while (v >= 0x80) {
      footer.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    footer.push_back(static_cast<char>(v));
  }
  footer.resize(40, '\0');
  footer += index_bytes.substr(index_bytes.size() - 8);  // magic
  return index_bytes.substr(0, index_bytes.size() - 48) + footer;
}

TEST_F(BadInput, FooterPointingOutsideTheFile) {
  const std::string bytes = test::read_bytes(index);
  const auto raw = test::read_index_independently(index);
  // seed_new: one data block, then the 8-byte metaindex, then the index block.
  const uint64_t meta = raw.data_blocks[0].size + 5;
  test::write_bytes(index, with_index_size(bytes, meta + 8 + 5, meta, 8, uint64_t{1} << 40));
  const std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, index);
  EXPECT_CONTAINS(msg, "footer points outside the file");
}

// A table whose (checksummed) index block names a data block of 2^50 bytes:
// only a hand-made file can do this; it must still be a clean error.
TEST_F(BadInput, ImpossibleBlockSizeInsideTable) {
  const std::string bytes = test::read_bytes(index);
  const auto raw = test::read_index_independently(index);
  const uint64_t meta = raw.data_blocks[0].size + 5;
  const uint64_t index_offset = meta + 8 + 5;
  // Index block: one entry, key "p" -> handle (0, 2^50), one restart.
  std::string block("\x00\x01", 2);
  std::string handle(1, '\0');
  for (uint64_t v = uint64_t{1} << 50; ; v >>= 7) {
    if (v < 0x80) {
      handle.push_back(static_cast<char>(v));
      break;
    }
    handle.push_back(static_cast<char>(v | 0x80));
  }
  block.push_back(static_cast<char>(handle.size()));
  block += "p" + handle;
  block += std::string("\0\0\0\0\x01\0\0\0", 8);
  std::string with_type = block + '\0';
  const uint32_t crc = crc32c::mask(crc32c::value(with_type.data(), with_type.size()));
  std::string trailer(1, '\0');
  for (int i = 0; i < 4; ++i) trailer.push_back(static_cast<char>(crc >> (8 * i)));
  std::string table = bytes.substr(0, index_offset) + block + trailer;
  table += std::string(48, '\0');
  table = with_index_size(table.substr(0, table.size() - 48) + bytes.substr(bytes.size() - 48), index_offset, meta, 8,
                          block.size());
  test::write_bytes(index, table);
  const std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, index);
  EXPECT_CONTAINS(msg, "corrupt index: a block is larger than the file");
}

TEST_F(BadInput, TruncatedData) {
  const std::string bytes = test::read_bytes(data);
  test::write_bytes(data, bytes.substr(0, bytes.size() - 100));
  const std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, data);
  EXPECT_CONTAINS(msg, "outputs/kernel");  // the last tensor in the file
  EXPECT_CONTAINS(msg, "truncated data file");
}

TEST_F(BadInput, CrcMismatchNamesTensor) {
  std::string bytes = test::read_bytes(data);
  bytes[1200 + 4 * 1000] ^= 0x01;  // inside hidden1/kernel (offset 1200)
  test::write_bytes(data, bytes);
  const BundleReader r = BundleReader::open(prefix);  // opening does not read the data
  const BundleEntry& kernel = *r.find("hidden1/kernel");
  std::string msg = error_of([&] { r.verify(kernel); });
  EXPECT_CONTAINS(msg, data);
  EXPECT_CONTAINS(msg, "'hidden1/kernel'");
  EXPECT_CONTAINS(msg, "checksum mismatch");
  EXPECT_CONTAINS(error_of([&] { r.read_float(kernel); }), "checksum mismatch");
  EXPECT_EQ(r.read_float(kernel, false).size(), 784u * 300u);  // unverified read still works
  EXPECT_NO_THROW(r.verify(*r.find("hidden1/bias")));
}

TEST_F(BadInput, MissingShard) {
  fs::remove(data);
  const std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, "missing data shard " + data);
}

TEST_F(BadInput, ShapeSizeDisagreement) {
  edit_entry("hidden2/bias", [](tf::BundleEntryProto& e) { e.set_size(e.size() - 4); });
  const std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, index);
  EXPECT_CONTAINS(msg, "'hidden2/bias'");
  EXPECT_CONTAINS(msg, "disagrees with shape [50]");
}

TEST_F(BadInput, UnknownDtype) {
  edit_entry("hidden2/bias", [](tf::BundleEntryProto& e) { e.set_dtype(55); });
  const std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, "'hidden2/bias'");
  EXPECT_CONTAINS(msg, "unknown dtype 55");
  edit_entry("hidden2/bias", [](tf::BundleEntryProto& e) { e.set_dtype(101); });  // DT_FLOAT_REF
  EXPECT_CONTAINS(open_error(prefix), "unknown dtype 101");
}

TEST_F(BadInput, HugeNegativeAndOverflowingShapes) {
  edit_entry("hidden2/bias", [](tf::BundleEntryProto& e) { e.mutable_shape()->mutable_dim(0)->set_size(-50); });
  EXPECT_CONTAINS(open_error(prefix), "negative dimension -50");
  edit_entry("hidden2/bias", [](tf::BundleEntryProto& e) {
    e.mutable_shape()->mutable_dim(0)->set_size(int64_t{1} << 40);
    e.mutable_shape()->add_dim()->set_size(int64_t{1} << 40);
  });
  EXPECT_CONTAINS(open_error(prefix), "more than 2^63 elements");
  // Fits in int64 elements, but not in bytes.
  edit_entry("hidden2/bias", [](tf::BundleEntryProto& e) {
    e.mutable_shape()->clear_dim();
    e.mutable_shape()->add_dim()->set_size(std::numeric_limits<int64_t>::max() / 2);
  });
  EXPECT_CONTAINS(open_error(prefix), "disagrees with shape");
  edit_entry("hidden2/bias", [](tf::BundleEntryProto& e) {
    e.mutable_shape()->mutable_dim(0)->set_size(50);
    e.set_offset(std::numeric_limits<int64_t>::max() - 10);
  });
  EXPECT_CONTAINS(open_error(prefix), "lie beyond the end of the file");
  edit_entry("hidden2/bias", [](tf::BundleEntryProto& e) { e.set_offset(-8); });
  EXPECT_CONTAINS(open_error(prefix), "negative offset");
}

TEST_F(BadInput, ShardIdOutOfRange) {
  edit_entry("outputs/bias", [](tf::BundleEntryProto& e) { e.set_shard_id(3); });
  const std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, "'outputs/bias'");
  EXPECT_CONTAINS(msg, "shard id 3");
}

TEST_F(BadInput, HeaderProblems) {
  test::edit_index(index, [](test::IndexContents& c) { c.has_header = false; });
  EXPECT_CONTAINS(open_error(prefix), "no header entry");
  test::edit_index(index, [](test::IndexContents& c) {
    c.has_header = true;
    c.header.set_num_shards(1);
    c.header.mutable_version()->set_min_consumer(7);
  });
  EXPECT_CONTAINS(open_error(prefix), "version >= 7");
  test::edit_index(index, [](test::IndexContents& c) {
    c.header.mutable_version()->set_min_consumer(0);
    c.header.mutable_version()->add_bad_consumers(1);
  });
  EXPECT_CONTAINS(open_error(prefix), "disallows reader version 1");
  test::edit_index(index, [](test::IndexContents& c) {
    c.header.mutable_version()->clear_bad_consumers();
    c.header.set_num_shards(0);
  });
  EXPECT_CONTAINS(open_error(prefix), "num_shards is 0");
}

TEST_F(BadInput, CorruptEntryProto) {
  auto c = test::load_index(index);
  test::save_index(index, c);  // baseline still fine
  EXPECT_EQ(open_error(prefix), "");
  // Replace one value with bytes that are not a protobuf message.
  file_io::OutputFile out(index);
  sstable::Builder table(out);
  table.add("", c.header.SerializeAsString());
  table.add("hidden1/bias", std::string("\xff\xff\xff", 3));
  table.finish();
  out.close();
  const std::string msg = open_error(prefix);
  EXPECT_CONTAINS(msg, "'hidden1/bias'");
  EXPECT_CONTAINS(msg, "corrupt entry");
}

TEST(BadPaths, DirectoryWithoutStateFileAndNonexistentPaths) {
  test::TempDir tmp;
  const std::string dir = tmp.path().string();
  EXPECT_CONTAINS(open_error(dir), dir + " is a directory without a `checkpoint` state file or any .index file");
  EXPECT_CONTAINS(open_error(dir + "/nothing"), "no checkpoint at " + dir + "/nothing");
  EXPECT_CONTAINS(open_error(dir + "/nothing.index"), "does not exist");
  test::write_bytes(dir + "/checkpoint", "model_checkpoint_path: \"gone.ckpt\"\n");
  EXPECT_CONTAINS(open_error(dir), "names checkpoint " + dir + "/gone.ckpt");
  test::write_bytes(dir + "/checkpoint", "model_checkpoint_path: gone\n");
  EXPECT_CONTAINS(open_error(dir), dir + "/checkpoint: not a checkpoint state file");
  test::write_bytes(dir + "/plain.txt", "hello");
  EXPECT_CONTAINS(open_error(dir + "/plain.txt"), "is not a checkpoint");
  EXPECT_CONTAINS(open_error(""), "empty checkpoint path");
}

TEST(BadStrings, CorruptStringTensor) {
  auto src = test::fixture_prefix("tf2/keras_dense_adam/cp.ckpt");
  if (!src) GTEST_SKIP() << "fixtures not found";
  test::TempDir tmp;
  const std::string prefix = test::copy_checkpoint(*src, tmp.path());
  const std::string data = prefix + ".data-00000-of-00001";
  const std::string good = test::read_bytes(data);
  const int64_t graph_offset = 330768;  // _CHECKPOINTABLE_OBJECT_GRAPH
  std::string bad = good;
  bad[graph_offset + 100] ^= 0x01;  // inside the string bytes
  test::write_bytes(data, bad);
  {
    const BundleReader r = BundleReader::open(prefix);
    const std::string msg = error_of([&] { r.verify(*r.find("_CHECKPOINTABLE_OBJECT_GRAPH")); });
    EXPECT_CONTAINS(msg, "'_CHECKPOINTABLE_OBJECT_GRAPH'");
    EXPECT_CONTAINS(msg, "checksum mismatch");
  }
  bad = good;
  bad[graph_offset + 3] ^= 0x01;  // the stored length checksum
  test::write_bytes(data, bad);
  {
    const BundleReader r = BundleReader::open(prefix);
    EXPECT_CONTAINS(error_of([&] { r.read_strings(*r.find("_CHECKPOINTABLE_OBJECT_GRAPH")); }),
                    "length checksum mismatch");
  }
  bad = good;
  bad[graph_offset] = '\xff';  // the length varint now runs on / overflows the region
  bad[graph_offset + 1] = '\xff';
  test::write_bytes(data, bad);
  {
    const BundleReader r = BundleReader::open(prefix);
    EXPECT_CONTAINS(error_of([&] { r.read_strings(*r.find("_CHECKPOINTABLE_OBJECT_GRAPH"), false); }),
                    "string tensor");
  }
}

}  // namespace
}  // namespace graft

namespace graft {
namespace {

// Issue 15: an index that is a directory or FIFO says so (it was "does not
// exist"); a path from the state file with a newline or NUL stays one line;
// a huge state file is refused before it is read.
TEST(BadPaths, IndexThatIsNotAFileSaysWhatItIs) {
  test::TempDir tmp;
  const std::string dir = tmp.path().string();
  fs::create_directory(dir + "/d.index");
  EXPECT_CONTAINS(open_error(dir + "/d"), dir + "/d.index is a directory, not a checkpoint index file");
  EXPECT_CONTAINS(open_error(dir + "/d.index"), dir + "/d.index is a directory, not a checkpoint file");
  ASSERT_EQ(::mkfifo((dir + "/f.index").c_str(), 0644), 0);
  EXPECT_CONTAINS(open_error(dir + "/f"), dir + "/f.index is a FIFO, not a checkpoint index file");
  EXPECT_CONTAINS(open_error(dir + "/f.index"), dir + "/f.index is a FIFO");
  test::write_bytes(dir + "/checkpoint", "model_checkpoint_path: \"f\"\n");
  EXPECT_CONTAINS(open_error(dir), dir + "/f.index is a FIFO, not a checkpoint index file");
}

TEST(BadPaths, StateFilePathWithNewlineOrNulStaysOneLine) {
  test::TempDir tmp;
  const std::string dir = tmp.path().string();
  test::write_bytes(dir + "/checkpoint", "model_checkpoint_path: \"a\\nverify: all tensors match\\000x\"\n");
  const std::string msg = open_error(dir);
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\0'), std::string::npos) << msg;
  EXPECT_CONTAINS(msg, "a\\nverify: all tensors match\\0x");
}

TEST(BadPaths, HugeIndexIsRefusedBeforeReading) {
  test::TempDir tmp;
  const std::string prefix = (tmp / "huge").string();
  std::ofstream(prefix + ".index") << "x";
  fs::resize_file(prefix + ".index", std::uintmax_t{3} << 30);  // sparse
  EXPECT_CONTAINS(open_error(prefix), prefix + ".index: 3221225472 bytes, more than the 1073741824 an index may have");
}

TEST(BadPaths, HugeStateFileIsRefusedBeforeReading) {
  test::TempDir tmp;
  const std::string path = (tmp / "checkpoint").string();
  {
    std::ofstream out(path);
    out << "model_checkpoint_path: \"m\"\n";
  }
  fs::resize_file(path, std::uintmax_t{3} << 30);  // sparse: 3 GiB that take no disk
  try {
    read_state_file(path);
    FAIL() << "a 3 GiB state file was read";
  } catch (const Error& e) {
    EXPECT_CONTAINS(std::string(e.what()), path + " has 3221225472 bytes, more than the 1048576");
  }
}

}  // namespace
}  // namespace graft
