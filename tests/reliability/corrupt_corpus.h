#pragma once
// The corrupt-input corpus's machinery (corrupt_input_test.cc runs it): file
// and gzip helpers, protobuf wire format by hand so values can be malformed
// at will, the layout of a fixture's .index, the Corpus that runs each case
// through the CLI and counts outcomes, and the checkpoint families (index
// bytes, blocks, data bytes, entries: corrupt_checkpoint_families.cc).
//   idx           wrong magic/type/rank, absurd and zero dims, short data,
//                 corrupt and truncated gzip, mismatched label counts
//   savedmodel    keras_metadata.pb damaged or absurd, a SavedModel's files
//                 missing or not files (corrupt_saved_model_family.cc)
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint/file_io.h"
#include "checkpoint/sstable.h"
#include "checkpoint/varint.h"
#include "tests/checkpoint/independent_reader.h"
#include "tests/checkpoint/index_rewrite.h"
#include "tests/common/fixtures.h"
#include "tools/fuzz/harness.h"


namespace graft::corrupt {

namespace fs = std::filesystem;

inline constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
inline constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << p;
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

inline std::string gunzip(const fs::path& p) {
  gzFile f = gzopen(p.c_str(), "rb");
  std::string out;
  char buf[1 << 16];
  int n;
  while (f && (n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  if (f) gzclose(f);
  return out;
}

inline std::string gzip(const std::string& bytes) {
  uLongf n = compressBound(static_cast<uLong>(bytes.size())) + 64;
  std::string out(n, '\0');
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // gzip wrapper
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// --- protobuf wire format by hand, so values can be malformed at will ---
inline std::string varint(uint64_t v) {
  std::string s;
  put_varint64(s, v);
  return s;
}
inline std::string fvarint(int field, uint64_t v) { return varint(static_cast<uint64_t>(field) << 3) + varint(v); }
inline std::string fbytes(int field, const std::string& b) {
  return varint((static_cast<uint64_t>(field) << 3) | 2) + varint(b.size()) + b;
}
inline std::string ffixed32(int field, uint32_t v) {
  std::string s = varint((static_cast<uint64_t>(field) << 3) | 5);
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}
inline std::string shape_of(const std::vector<int64_t>& dims) {
  std::string s;
  for (int64_t d : dims) s += fbytes(2, fvarint(1, static_cast<uint64_t>(d)));
  return s;
}
// A BundleEntryProto: dtype(1) shape(2) shard_id(3) offset(4) size(5) crc32c(6).
struct RawEntry {
  int64_t dtype = 1;
  std::vector<int64_t> dims;
  int64_t shard = 0, offset = 0, size = 0;
  uint32_t crc = 0;
  std::string extra;  // appended as is
  std::string encode() const {
    std::string s = fvarint(1, static_cast<uint64_t>(dtype)) + fbytes(2, shape_of(dims));
    if (shard) s += fvarint(3, static_cast<uint64_t>(shard));
    if (offset) s += fvarint(4, static_cast<uint64_t>(offset));
    if (size) s += fvarint(5, static_cast<uint64_t>(size));
    return s + ffixed32(6, crc) + extra;
  }
};

// Where things are in a fixture's .index.
struct IndexLayout {
  struct Region {
    std::string name;
    std::size_t begin, end;  // [begin, end)
  };
  uint64_t meta_offset = 0, meta_size = 0, index_offset = 0, index_size = 0;
  std::size_t footer_meta_end = 0;     // absolute offset where the metaindex handle ends
  std::size_t footer_handles_end = 0;  // absolute offset where the footer's varints end
  std::vector<test::RawBlockHandle> data_blocks;
  std::vector<Region> regions;
};

inline IndexLayout layout_of(const fs::path& index) {
  const std::string bytes = read_file(index);
  IndexLayout l;
  const std::string footer = bytes.substr(bytes.size() - 48);
  std::size_t pos = 0;
  get_varint64(footer, pos, l.meta_offset);
  get_varint64(footer, pos, l.meta_size);
  l.footer_meta_end = bytes.size() - 48 + pos;
  get_varint64(footer, pos, l.index_offset);
  get_varint64(footer, pos, l.index_size);
  l.footer_handles_end = bytes.size() - 48 + pos;
  l.data_blocks = test::read_index_independently(index.string()).data_blocks;
  for (std::size_t i = 0; i < l.data_blocks.size(); ++i) {
    const auto& b = l.data_blocks[i];
    l.regions.push_back({"data block " + std::to_string(i), b.offset, b.offset + b.size + 5});
  }
  l.regions.push_back({"metaindex block", l.meta_offset, l.meta_offset + l.meta_size + 5});
  l.regions.push_back({"index block", l.index_offset, l.index_offset + l.index_size + 5});
  l.regions.push_back({"footer metaindex handle", bytes.size() - 48, l.footer_meta_end});
  l.regions.push_back({"footer index handle", l.footer_meta_end, l.footer_handles_end});
  l.regions.push_back({"footer padding", l.footer_handles_end, bytes.size() - 8});
  l.regions.push_back({"footer magic", bytes.size() - 8, bytes.size()});
  return l;
}

// Up to n distinct positions spread over [begin, end), first and last included.
inline std::vector<std::size_t> spread(std::size_t begin, std::size_t end, std::size_t n) {
  std::vector<std::size_t> out;
  if (end <= begin) return out;
  const std::size_t len = end - begin;
  if (len <= n) {
    for (std::size_t i = begin; i < end; ++i) out.push_back(i);
    return out;
  }
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t p = begin + (len - 1) * k / (n - 1);
    if (out.empty() || out.back() != p) out.push_back(p);
  }
  return out;
}

enum class Expect {
  kError,         // exit 1, one line naming the file
  kErrorOrValid,  // the corruption may leave a valid file: exit 0 allowed
};

// Runs corrupt inputs through the CLI and keeps the score.
class Corpus {
 public:
  explicit Corpus(const fs::path& root) : root_(root) {}

  // A fresh directory for one corrupt input.
  fs::path case_dir() {
    const fs::path d = root_ / ("case" + std::to_string(next_dir_++));
    fs::create_directories(d);
    return d;
  }

  // Runs `graft SUB ARGS` and checks the outcome. `names`: text the error
  // line must contain (the damaged file); empty: any one-line error will do.
  void run(const std::string& family, const std::string& what, const std::string& sub, const std::string& args,
           Expect expect, const std::string& names) {
    const fs::path err = root_ / "stderr.txt";
    // Grouped, so that run_command's own "2>&1" cannot take stderr back.
    const std::string cmd = "{ timeout 20 " + quote(test::graft_binary().string()) + " " + sub + " " + args +
                            " >/dev/null 2>" + quote(err.string()) + "; }";
    const test::CommandResult r = test::run_command(cmd);
    const std::string out = read_file(err);
    const std::string label = family + ": " + what;
    if (family != "control") {
      ++tried_;
      ++per_family_[family];
    }

    ASSERT_NE(r.status, 124) << label << ": hang (killed after 20 s)";
    EXPECT_TRUE(r.status == 0 || r.status == 1) << label << ": exit status " << r.status << "\n" << out;
    for (const char* bad : {"Sanitizer", "runtime error:", "terminate called", "Segmentation fault", "Aborted",
                            "core dumped", "std::bad_alloc"}) {
      EXPECT_EQ(out.find(bad), std::string::npos) << label << ": " << bad << "\n" << out;
    }
    if (r.status == 0) {
      EXPECT_EQ(expect, Expect::kErrorOrValid) << label << ": accepted (exit 0)";
      if (family == "control") return;
      ++accepted_;
      accepted_names_.push_back(label);
      return;
    }
    if (r.status != 1) return;
    const std::string prefix = "graft " + sub + ": error: ";
    const bool one_line = !out.empty() && out.find('\n') == out.size() - 1;
    EXPECT_TRUE(one_line) << label << ": not one line:\n" << out;
    EXPECT_EQ(out.rfind(prefix, 0), 0u) << label << ": " << out;
    const bool named = names.empty() || out.find(names) != std::string::npos;
    if (expect == Expect::kError) {
      EXPECT_TRUE(named) << label << ": the message does not name " << names << ": " << out;
    } else {
      ++maybe_valid_rejected_;
      if (named) ++maybe_valid_named_;
    }
    if (one_line && named) ++clean_errors_;
    if (std::getenv("GRAFT_CORPUS_VERBOSE")) std::printf("  %-60s %s", label.c_str(), out.c_str());
  }

  void report() const {
    std::printf("corrupt inputs tried: %d\n", tried_);
    for (const auto& [family, n] : per_family_) std::printf("  %-12s %d\n", family.c_str(), n);
    std::printf("exit 1 with one line naming the file: %d\n", clean_errors_);
    std::printf("possibly-valid corruptions: %d rejected (exit 1; %d naming the file), %d accepted (exit 0)\n",
                maybe_valid_rejected_, maybe_valid_named_, accepted_);
    for (const auto& name : accepted_names_) std::printf("  accepted: %s\n", name.c_str());
  }

 private:
  fs::path root_;
  int next_dir_ = 0;
  int tried_ = 0, clean_errors_ = 0, accepted_ = 0, maybe_valid_rejected_ = 0, maybe_valid_named_ = 0;
  std::map<std::string, int> per_family_;
  std::vector<std::string> accepted_names_;
};

// A checkpoint under test: pristine copies of its files, and per-case
// directories where one file is replaced and the others are symlinks.
struct Checkpoint {
  std::string name;          // e.g. "tf1/seed_new"
  fs::path dir;              // pristine copies
  std::string base;          // file name prefix, e.g. "my_new_model_final.ckpt"
  std::string index_bytes, data_bytes;
  fs::path index() const { return dir / (base + ".index"); }
  fs::path data() const { return dir / (base + ".data-00000-of-00001"); }

  // Links every pristine file into `d` except `replaced` (a suffix such as
  // ".index"); returns the new prefix.
  std::string link_into(const fs::path& d, const std::string& replaced) const {
    for (const auto& e : fs::directory_iterator(dir)) {
      const std::string n = e.path().filename().string();
      if (n == base + replaced) continue;
      fs::create_symlink(e.path(), d / n);
    }
    return (d / base).string();
  }
};

inline Checkpoint copy_fixture(const fs::path& root, const std::string& rel_dir, const std::string& base) {
  Checkpoint c;
  c.name = rel_dir;
  c.base = base;
  c.dir = root / "pristine" / rel_dir;
  fs::create_directories(c.dir);
  for (const auto& e : fs::directory_iterator(*test::fixture(rel_dir))) {
    const std::string n = e.path().filename().string();
    if (n.rfind(base + ".", 0) == 0 && n.find(".meta") == std::string::npos) fs::copy_file(e.path(), c.dir / n);
  }
  c.index_bytes = read_file(c.index());
  c.data_bytes = read_file(c.data());
  return c;
}

// Runs `graft inspect --verify` on a copy of `c` whose file `suffix` holds `bytes`.
inline void inspect_with(Corpus& corpus, const Checkpoint& c, const std::string& family, const std::string& what,
                  const std::string& suffix, const std::string& bytes, Expect expect) {
  const fs::path d = corpus.case_dir();
  const std::string prefix = c.link_into(d, suffix);
  write_file(prefix + suffix, bytes);
  corpus.run(family, c.name + " " + what, "inspect", "--verify " + quote(prefix), expect, prefix + suffix);
}

inline void flip_bit(std::string& s, std::size_t pos) { s[pos] = static_cast<char>(s[pos] ^ (1 << (pos % 8))); }


// The checkpoint families (corrupt_checkpoint_families.cc).
void index_bytes_family(Corpus& corpus, const Checkpoint& c);
void block_family(Corpus& corpus, const Checkpoint& c);
void data_bytes_family(Corpus& corpus, const Checkpoint& c);
void entry_family(Corpus& corpus, const Checkpoint& c, const std::string& victim);
// A SavedModel's keras_metadata.pb and its own files (corrupt_saved_model_family.cc).
void saved_model_family(Corpus& corpus);

}  // namespace graft::corrupt
