// A corpus of corrupted inputs, built at run time from the real fixtures, fed
// to the graft CLI: `graft inspect --verify` for checkpoints, `graft eval
// --data` for IDX files. Every one must end in exit 1 with a single line on
// stderr ("graft SUB: error: ..." naming the damaged file), never a signal,
// a sanitizer report or a hang (each run is under `timeout 20`). Corruptions
// that can leave a valid file (a flipped padding bit) may also exit 0; those
// are counted separately. Prints how many corrupt inputs were tried.
//
// Families:
//   index bytes   truncation inside and bit flips in each region of the
//                 .index (data blocks, metaindex, index block, footer
//                 handles, footer padding, magic), wrong magic, empty file
//   blocks        in-place edits of block contents with the block checksums
//                 recomputed, so leveldb's block parser sees them: overflowing
//                 varints, restart counts, handles pointing past the end
//   data bytes    truncation inside and bit flips in each tensor's bytes
//   entries       BundleEntryProto / BundleHeaderProto values rewritten
//                 (overflowing varints, offsets and sizes past the end, shape
//                 products past 2^63, negative dims, bad dtypes and shards)
//                 inside a freshly built, valid table
//   paths         empty files, directories and FIFOs where files belong,
//                 broken `checkpoint` state files
//   savedmodel    a Keras SavedModel built in the test: keras_metadata.pb
//                 truncated, flipped, absurd or not a file; its own files
//                 missing (needs no fixture)
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/reliability/corrupt_corpus.h"

namespace graft {
namespace {

using namespace corrupt;  // NOLINT: the corpus's helpers, in this test's file only
namespace fs = std::filesystem;

// Files that are not files, missing files, broken state files.
void path_family(Corpus& corpus, const Checkpoint& c) {
  const std::string data_suffix = ".data-00000-of-00001";
  auto run = [&](const std::string& what, const std::string& arg, const std::string& names) {
    corpus.run("paths", c.name + " " + what, "inspect", "--verify " + quote(arg), Expect::kError, names);
  };
  {
    const fs::path d = corpus.case_dir();
    const std::string prefix = c.link_into(d, ".index");
    fs::create_directory(prefix + ".index");
    run(".index is a directory (prefix given)", prefix, prefix);
    run(".index is a directory (named)", prefix + ".index", prefix + ".index");
  }
  {
    const fs::path d = corpus.case_dir();
    const std::string prefix = c.link_into(d, ".index");
    ASSERT_EQ(::mkfifo((prefix + ".index").c_str(), 0644), 0);
    run(".index is a FIFO (prefix given)", prefix, prefix + ".index");
  }
  {
    const fs::path d = corpus.case_dir();
    const std::string prefix = c.link_into(d, data_suffix);
    fs::create_directory(prefix + data_suffix);
    run("data shard is a directory", prefix, prefix + data_suffix);
  }
  {
    const fs::path d = corpus.case_dir();
    const std::string prefix = c.link_into(d, data_suffix);
    ASSERT_EQ(::mkfifo((prefix + data_suffix).c_str(), 0644), 0);
    run("data shard is a FIFO", prefix, prefix + data_suffix);
  }
  {
    const fs::path d = corpus.case_dir();
    const std::string prefix = c.link_into(d, data_suffix);
    run("data shard missing", prefix, prefix + data_suffix);
  }
  {
    const fs::path d = corpus.case_dir();
    const std::string prefix = c.link_into(d, ".index");
    fs::create_symlink(prefix + ".index", prefix + ".index");  // a link to itself
    run(".index is a symlink loop", prefix, prefix);
  }
  {
    const fs::path d = corpus.case_dir();
    const std::string prefix = c.link_into(d, data_suffix);
    fs::create_symlink("/nonexistent/graft/data", prefix + data_suffix);
    run("data shard is a dangling symlink", prefix, prefix + data_suffix);
  }
  // `checkpoint` state files.
  auto state = [&](const std::string& what, const std::function<void(const fs::path&)>& make) {
    const fs::path d = corpus.case_dir();
    c.link_into(d, "");
    make(d / "checkpoint");
    run("state file " + what, d.string(), (d / "checkpoint").string());
  };
  state("is a directory", [](const fs::path& p) { fs::create_directory(p); });
  state("is a FIFO", [](const fs::path& p) { ::mkfifo(p.c_str(), 0644); });
  state("is empty", [](const fs::path& p) { write_file(p, ""); });
  state("is binary garbage", [&](const fs::path& p) { write_file(p, c.index_bytes); });
  state("has an unquoted path", [](const fs::path& p) { write_file(p, "model_checkpoint_path: model\n"); });
  state("has an unterminated string", [](const fs::path& p) { write_file(p, "model_checkpoint_path: \"m\n"); });
  state("has an unknown field", [](const fs::path& p) { write_file(p, "latest: \"m\"\n"); });
  state("names a missing checkpoint", [](const fs::path& p) { write_file(p, "model_checkpoint_path: \"gone\"\n"); });
  state("names a directory", [](const fs::path& p) { write_file(p, "model_checkpoint_path: \"/\"\n"); });
  state("has a timestamp that is not a number",
        [&](const fs::path& p) {
          write_file(p, "model_checkpoint_path: \"" + c.base + "\"\nall_model_checkpoint_timestamps: x\n");
        });
  state("is a 3 GiB sparse file", [](const fs::path& p) {
    write_file(p, "model_checkpoint_path: \"m\"\n");
    fs::resize_file(p, std::uintmax_t{3} << 30);  // refused before reading (issue 15)
  });
  state("names a path with a newline and an escape",
        [](const fs::path& p) { write_file(p, "model_checkpoint_path: \"a\\nverify: ok\\033[31m\"\n"); });
  state("has a 1 MB path", [](const fs::path& p) {
    write_file(p, "model_checkpoint_path: \"" + std::string(1 << 20, 'a') + "\"\n");
  });
}

// IDX files through `graft eval --data`.
void idx_family(Corpus& corpus, const fs::path& root) {
  const auto seed = test::fixture("tf1/seed_original/my_model_final.ckpt.index");
  const auto images_gz = test::fixture("mnist/t10k-images-idx3-ubyte.gz");
  const auto labels_gz = test::fixture("mnist/t10k-labels-idx1-ubyte.gz");
  ASSERT_TRUE(seed && images_gz && labels_gz);
  const std::string ckpt = seed->string().substr(0, seed->string().size() - 6);
  const std::string images = gunzip(*images_gz), labels = gunzip(*labels_gz);
  ASSERT_EQ(images.size(), 16u + 10000u * 784u);
  ASSERT_EQ(labels.size(), 8u + 10000u);
  const fs::path good_dir = root / "mnist-raw";
  fs::create_directories(good_dir);
  write_file(good_dir / "t10k-images-idx3-ubyte", images);
  write_file(good_dir / "t10k-labels-idx1-ubyte", labels);

  const std::string img_name = "t10k-images-idx3-ubyte", lab_name = "t10k-labels-idx1-ubyte";
  // `which`: the file replaced (img_name or lab_name, + ".gz" for gzip).
  auto run = [&](const std::string& what, const std::string& which, const std::string& bytes,
                 Expect expect = Expect::kError, bool must_name = true) {
    const fs::path d = corpus.case_dir();
    const bool is_images = which.rfind(img_name, 0) == 0;
    fs::create_symlink(good_dir / (is_images ? lab_name : img_name), d / (is_images ? lab_name : img_name));
    write_file(d / which, bytes);
    corpus.run("idx", which + ": " + what, "eval",
               quote(ckpt) + " --data " + quote(d.string()) + " --device cpu --threads 1", expect,
               must_name ? (d / which).string() : "");
  };
  auto be32 = [](uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (24 - 8 * i));
    return s;
  };
  auto image_header = [&](uint32_t n, uint32_t rows, uint32_t cols) {
    return std::string("\0\0\x08\x03", 4) + be32(n) + be32(rows) + be32(cols);
  };
  const std::string pixels = images.substr(16);

  for (bool gz : {false, true}) {
    const std::string sfx = gz ? ".gz" : "";
    auto enc = [&](const std::string& s) { return gz ? gzip(s) : s; };
    run("wrong magic (first byte 1)", img_name + sfx, enc("\x01" + images.substr(1)));
    run("element type 0x0d (float)", img_name + sfx, enc(images.substr(0, 2) + "\x0d" + images.substr(3)));
    run("rank 2", img_name + sfx, enc(images.substr(0, 3) + "\x02" + images.substr(4)));
    run("short data (header says 10000 images, 100 present)", img_name + sfx,
        enc(images.substr(0, 16 + 100 * 784)));
    run("header only", img_name + sfx, enc(images.substr(0, 16)));
    run("truncated header", img_name + sfx, enc(images.substr(0, 10)));
    run("empty", img_name + sfx, enc(""));
    run("labels: wrong magic", lab_name + sfx, enc("\x00\x01" + labels.substr(2)));
    run("labels: short data", lab_name + sfx, enc(labels.substr(0, 8 + 5000)));
  }
  // Absurd dimensions: refused from the header, before the data is read.
  run("dims 0xffffffff", img_name, image_header(0xffffffffu, 28, 28) + pixels.substr(0, 784));
  run("dim 2^28 + 1", img_name, image_header((1u << 28) + 1, 28, 28) + pixels.substr(0, 784));
  run("dims 60000 x 300 x 300 (5.4 GB)", img_name, image_header(60000, 300, 300) + pixels.substr(0, 784));
  run("dims 2^16 x 2^16 x 2^16 (2^48 bytes)", img_name, image_header(1u << 16, 1u << 16, 1u << 16));
  run("dims 2^26 x 8 x 8 (4 GiB claimed, 784 bytes present)", img_name,
      image_header(1u << 26, 8, 8) + pixels.substr(0, 784));
  run("zero images", img_name, image_header(0, 28, 28));
  run("zero columns", img_name, image_header(10000, 28, 0));
  run("labels: 2^31 labels claimed", lab_name, std::string("\0\0\x08\x01", 4) + be32(0x80000000u) + "abc");
  // Consistent files that do not fit the model or each other.
  run("labels: 9999 labels for 10000 images", lab_name,
      std::string("\0\0\x08\x01", 4) + be32(9999) + labels.substr(8, 9999));
  run("images of 1 x 1 pixel", img_name, image_header(10000, 1, 1) + pixels.substr(0, 10000), Expect::kError,
      false);
  {
    std::string bad = labels;
    bad[8 + 17] = '\xc8';  // label 200: more classes than the model's 10 outputs
    run("labels: a label of 200", lab_name, bad, Expect::kError, false);
  }
  // gzip damage.
  const std::string images_gz_bytes = read_file(*images_gz), labels_gz_bytes = read_file(*labels_gz);
  run("gzip cut in half", img_name + ".gz", images_gz_bytes.substr(0, images_gz_bytes.size() / 2));
  run("gzip cut inside its header", img_name + ".gz", images_gz_bytes.substr(0, 5));
  for (std::size_t pos : spread(20, images_gz_bytes.size() - 8, 4)) {
    std::string bad = images_gz_bytes;
    bad[pos] = static_cast<char>(~bad[pos]);
    // The first bytes hold the original file name, the last deflate byte
    // padding bits: those flips change nothing that is read.
    run("gzip stream byte " + std::to_string(pos) + " inverted", img_name + ".gz", bad, Expect::kErrorOrValid);
  }
  {
    std::string bad = labels_gz_bytes;
    bad[bad.size() - 6] ^= 0x40;  // the trailer's crc32: the data itself is intact
    run("gzip trailer crc wrong", lab_name + ".gz", bad, Expect::kErrorOrValid);
  }
  // Not files.
  {
    const fs::path d = corpus.case_dir();
    fs::create_symlink(good_dir / lab_name, d / lab_name);
    fs::create_directory(d / img_name);
    corpus.run("idx", "images file is a directory", "eval",
               quote(ckpt) + " --data " + quote(d.string()) + " --device cpu --threads 1", Expect::kError,
               img_name);
  }
  {
    const fs::path f = corpus.case_dir() / "not-a-dir";
    write_file(f, "x");
    corpus.run("idx", "--data is a file", "eval",
               quote(ckpt) + " --data " + quote(f.string()) + " --device cpu --threads 1", Expect::kError,
               f.string());
  }
}

TEST(CorruptInputs, EachGivesOneLineErrorAndExit1NeverACrash) {
  GRAFT_REQUIRE_FIXTURE(seed_new, "tf1/seed_new");
  GRAFT_REQUIRE_FIXTURE(keras, "tf2/keras_dense_adam");
  ASSERT_TRUE(fs::exists(test::graft_binary())) << test::graft_binary();
  test::TempDir tmp;
  Corpus corpus(tmp.path());
  const Checkpoint tf1 = copy_fixture(tmp.path(), "tf1/seed_new", "my_new_model_final.ckpt");
  const Checkpoint tf2 = copy_fixture(tmp.path(), "tf2/keras_dense_adam", "cp.ckpt");

  for (const Checkpoint* c : {&tf1, &tf2}) {
    index_bytes_family(corpus, *c);
    block_family(corpus, *c);
    data_bytes_family(corpus, *c);
    path_family(corpus, *c);
  }
  entry_family(corpus, tf1, "hidden2/bias");
  entry_family(corpus, tf2, "_CHECKPOINTABLE_OBJECT_GRAPH");  // a string tensor
  entry_family(corpus, tf2, "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE");  // an int64 scalar
  idx_family(corpus, tmp.path());
  corpus.report();
}

TEST(CorruptInputs, SavedModelKerasMetadataGivesOneLineErrorNeverACrash) {
  ASSERT_TRUE(fs::exists(test::graft_binary())) << test::graft_binary();
  test::TempDir tmp;
  Corpus corpus(tmp.path());
  saved_model_family(corpus);
  corpus.report();
}

}  // namespace
}  // namespace graft
