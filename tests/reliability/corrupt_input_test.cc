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
//   idx           wrong magic/type/rank, absurd and zero dims, short data,
//                 corrupt and truncated gzip, mismatched label counts
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

namespace fs = std::filesystem;

namespace graft {
namespace {

constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << p;
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string gunzip(const fs::path& p) {
  gzFile f = gzopen(p.c_str(), "rb");
  std::string out;
  char buf[1 << 16];
  int n;
  while (f && (n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  if (f) gzclose(f);
  return out;
}

std::string gzip(const std::string& bytes) {
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
std::string varint(uint64_t v) {
  std::string s;
  put_varint64(s, v);
  return s;
}
std::string fvarint(int field, uint64_t v) { return varint(static_cast<uint64_t>(field) << 3) + varint(v); }
std::string fbytes(int field, const std::string& b) {
  return varint((static_cast<uint64_t>(field) << 3) | 2) + varint(b.size()) + b;
}
std::string ffixed32(int field, uint32_t v) {
  std::string s = varint((static_cast<uint64_t>(field) << 3) | 5);
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}
std::string shape_of(const std::vector<int64_t>& dims) {
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

IndexLayout layout_of(const fs::path& index) {
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
std::vector<std::size_t> spread(std::size_t begin, std::size_t end, std::size_t n) {
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

Checkpoint copy_fixture(const fs::path& root, const std::string& rel_dir, const std::string& base) {
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
void inspect_with(Corpus& corpus, const Checkpoint& c, const std::string& family, const std::string& what,
                  const std::string& suffix, const std::string& bytes, Expect expect) {
  const fs::path d = corpus.case_dir();
  const std::string prefix = c.link_into(d, suffix);
  write_file(prefix + suffix, bytes);
  corpus.run(family, c.name + " " + what, "inspect", "--verify " + quote(prefix), expect, prefix + suffix);
}

void flip_bit(std::string& s, std::size_t pos) { s[pos] = static_cast<char>(s[pos] ^ (1 << (pos % 8))); }

// ---------------------------------------------------------------------------

void index_bytes_family(Corpus& corpus, const Checkpoint& c) {
  const IndexLayout l = layout_of(c.index());
  const std::string& good = c.index_bytes;
  inspect_with(corpus, c, "index bytes", "empty .index", ".index", "", Expect::kError);
  for (const auto& r : l.regions) {
    // Truncations: the file ends inside this region.
    for (std::size_t cut : spread(r.begin, r.end, 4)) {
      if (cut == 0) continue;
      inspect_with(corpus, c, "index bytes", "truncated at " + std::to_string(cut) + " (" + r.name + ")", ".index",
                   good.substr(0, cut), Expect::kError);
    }
    // Bit flips. Padding is not read; leveldb never reads the metaindex
    // block (it only names filters, and TF writes none), so neither its
    // handle nor its contents matter.
    const bool unread = r.name == "footer padding" || r.name.find("metaindex") != std::string::npos;
    for (std::size_t pos : spread(r.begin, r.end, 6)) {
      std::string bad = good;
      flip_bit(bad, pos);
      inspect_with(corpus, c, "index bytes", "bit flip at " + std::to_string(pos) + " (" + r.name + ")", ".index",
                   bad, unread ? Expect::kErrorOrValid : Expect::kError);
    }
  }
  std::string bad = good;
  std::memset(bad.data() + bad.size() - 8, 0, 8);
  inspect_with(corpus, c, "index bytes", "zeroed magic", ".index", bad, Expect::kError);
  bad = good;
  std::memcpy(bad.data() + bad.size() - 8, "\x57\xfb\x80\x8b\x24\x75\x47\xdc", 8);
  inspect_with(corpus, c, "index bytes", "magic off by one", ".index", bad, Expect::kError);
  inspect_with(corpus, c, "index bytes", "data file bytes as .index", ".index", c.data_bytes.substr(0, 4096),
               Expect::kError);
  inspect_with(corpus, c, "index bytes", "48 zero bytes", ".index", std::string(48, '\0'), Expect::kError);
}

// Edits inside blocks, checksums recomputed so the parsers behind them run.
void block_family(Corpus& corpus, const Checkpoint& c) {
  const IndexLayout l = layout_of(c.index());
  const std::string& good = c.index_bytes;
  auto run = [&](const std::string& what, const std::function<void(std::string&)>& edit,
                 Expect expect = Expect::kError) {
    std::string bad = good;
    edit(bad);
    inspect_with(corpus, c, "blocks", what, ".index", fuzz::with_fixed_block_crcs(bad), expect);
  };
  auto put32 = [](std::string& s, std::size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>(v >> (8 * i));
  };
  const std::size_t ib = l.index_offset, is = l.index_size;
  const std::size_t db = l.data_blocks.at(0).offset, ds = l.data_blocks.at(0).size;
  run("index block: restart count 0xffffffff", [&](std::string& s) { put32(s, ib + is - 4, 0xffffffffu); });
  run("index block: restart count 0", [&](std::string& s) { put32(s, ib + is - 4, 0); });
  run("data block: restart count 0xffffffff", [&](std::string& s) { put32(s, db + ds - 4, 0xffffffffu); });
  // The last restart point is only used for seeks, which reading never does.
  run("data block: last restart offset past the block", [&](std::string& s) { put32(s, db + ds - 8, 0x7fffffffu); },
      Expect::kErrorOrValid);
  run("data block: overflowing varints in the first entry", [&](std::string& s) {
    for (std::size_t i = 0; i < 11 && i < ds; ++i) s[db + i] = '\xff';
  });
  run("data block: first value length past the block", [&](std::string& s) { s[db + 2] = '\x7f'; });
  run("data block: shared key bytes > previous key", [&](std::string& s) { s[db] = '\x05'; });
  run("index block: overflowing varints in the first entry", [&](std::string& s) {
    for (std::size_t i = 0; i < 3; ++i) s[ib + i] = '\xff';
  });
  // The index block's first entry: shared, non_shared, value_len, key, then
  // the handle (offset varint, size varint) of data block 0.
  {
    std::size_t pos = ib;
    uint64_t shared, non_shared, value_len;
    get_varint64(good, pos, shared);
    get_varint64(good, pos, non_shared);
    get_varint64(good, pos, value_len);
    const std::size_t handle = pos + non_shared;
    std::size_t p = handle;
    uint64_t off, size;
    get_varint64(good, p, off);
    const std::size_t size_at = p;
    get_varint64(good, p, size);
    const std::size_t size_len = p - size_at;
    run("index block: data block size past the end (same varint length)", [&](std::string& s) {
      for (std::size_t i = 0; i + 1 < size_len; ++i) s[size_at + i] = '\xff';
      s[size_at + size_len - 1] = '\x7f';
    });
    run("index block: data block offset moved", [&](std::string& s) { s[handle] = '\x7f'; });
    run("index block: handle varint overflows", [&](std::string& s) {
      for (std::size_t i = handle; i < handle + value_len; ++i) s[i] = '\xff';
    });
  }
  // Footer (no checksum of its own).
  run("footer: index handle past the end", [&](std::string& s) {
    std::size_t p = s.size() - 48;
    uint64_t v;
    get_varint64(s, p, v);
    get_varint64(s, p, v);
    s[p] = '\x7f';  // index offset, 1st byte: far past a file this small
  });
  run("footer: overflowing varints", [&](std::string& s) {
    for (std::size_t i = s.size() - 48; i < s.size() - 8; ++i) s[i] = '\xff';
  });
  // Bit flips inside each block with the checksum fixed: the block parser or
  // the entry validation must catch them, or (a renamed key, a changed crc
  // value that verify then rejects) the file may still be readable.
  for (const auto& r : l.regions) {
    if (r.name.find("block") == std::string::npos) continue;
    for (std::size_t pos : spread(r.begin, r.end - 5, 8)) {
      run("checksummed bit flip at " + std::to_string(pos) + " (" + r.name + ")",
          [&](std::string& s) { flip_bit(s, pos); }, Expect::kErrorOrValid);
    }
  }
}

void data_bytes_family(Corpus& corpus, const Checkpoint& c) {
  const auto raw = test::read_index_independently(c.index().string());
  std::vector<test::RawEntry> tensors;
  for (const auto& e : raw.entries) {
    if (e.size > 0) tensors.push_back(e);
  }
  std::sort(tensors.begin(), tensors.end(), [](const auto& a, const auto& b) { return a.offset < b.offset; });
  // First, last and a few in between.
  std::vector<test::RawEntry> chosen;
  for (std::size_t i : spread(0, tensors.size(), 6)) chosen.push_back(tensors[i]);
  const std::string& good = c.data_bytes;
  inspect_with(corpus, c, "data bytes", "empty data file", ".data-00000-of-00001", "", Expect::kError);
  for (const auto& t : chosen) {
    const std::size_t b = static_cast<std::size_t>(t.offset), e = b + static_cast<std::size_t>(t.size);
    for (std::size_t cut : spread(b + 1, e, 3)) {
      inspect_with(corpus, c, "data bytes", "truncated at " + std::to_string(cut) + " (inside " + t.key + ")",
                   ".data-00000-of-00001", good.substr(0, cut), Expect::kError);
    }
    for (std::size_t pos : spread(b, e, 3)) {
      std::string bad = good;
      flip_bit(bad, pos);
      inspect_with(corpus, c, "data bytes", "bit flip at " + std::to_string(pos) + " (" + t.key + ")",
                   ".data-00000-of-00001", bad, Expect::kError);
    }
  }
}

// Entry and header values rewritten inside a valid table.
void entry_family(Corpus& corpus, const Checkpoint& c, const std::string& victim) {
  const test::IndexContents contents = test::load_index(c.index().string());
  const tf::BundleEntryProto& v = contents.entries.at(victim);
  RawEntry base;
  base.dtype = v.dtype();
  for (const auto& d : v.shape().dim()) base.dims.push_back(d.size());
  base.shard = v.shard_id();
  base.offset = v.offset();
  base.size = v.size();
  base.crc = v.crc32c();
  const int64_t data_size = static_cast<int64_t>(c.data_bytes.size());

  auto build = [&](const std::string& header, const std::map<std::string, std::string>& replace, bool has_header) {
    const fs::path d = corpus.case_dir();
    const std::string prefix = c.link_into(d, ".index");
    file_io::OutputFile out(prefix + ".index");
    sstable::Builder table(out);
    if (has_header) table.add("", header);
    for (const auto& [key, entry] : contents.entries) {
      auto it = replace.find(key);
      table.add(key, it != replace.end() ? it->second : entry.SerializeAsString());
    }
    for (const auto& [key, value] : replace) {
      if (!contents.entries.count(key)) ADD_FAILURE() << "keys must exist: " << key;
    }
    table.finish();
    out.close();
    return prefix;
  };
  auto run_entry = [&](const std::string& what, const std::string& value, Expect expect = Expect::kError,
                       const std::string& family = "entries") {
    const std::string prefix = build(contents.header.SerializeAsString(), {{victim, value}}, true);
    // The damage may surface in the index or in the data file: the message
    // must name the checkpoint (the prefix of both).
    corpus.run(family, c.name + " " + victim + ": " + what, "inspect", "--verify " + quote(prefix), expect, prefix);
  };
  auto with = [&](const std::function<void(RawEntry&)>& f) {
    RawEntry e = base;
    f(e);
    return e.encode();
  };
  const std::string ff10(10, '\xff');

  // Control (not counted): the rebuilt table with the entry re-encoded by
  // hand reads cleanly, so the failures below come from the damage.
  run_entry("the entry re-encoded unchanged", base.encode(), Expect::kErrorOrValid, "control");
  // Varints that overflow 64 bits.
  run_entry("dtype varint of 11 bytes", "\x08" + ff10 + "\x01" + base.encode().substr(2));
  run_entry("size varint of 11 bytes", base.encode() + "\x28" + ff10 + "\x01");
  run_entry("offset varint of 11 bytes", base.encode() + "\x20" + ff10 + "\x7f");
  run_entry("dim size varint of 11 bytes", with([&](RawEntry& e) {
              e.dims.clear();
              e.extra = fbytes(2, fbytes(2, "\x08" + ff10 + "\x01"));
            }));
  run_entry("varint cut off at the end", base.encode() + "\x28\xff\xff");
  run_entry("shape length past the end", "\x08\x01\x12\x7f\x12\x02\x08\x01");
  run_entry("shape length varint of 10 bytes", "\x08\x01\x12" + ff10);
  run_entry("wrong wire type for dtype", fbytes(1, "abc") + base.encode().substr(2));
  run_entry("unterminated group", base.encode() + "\x0b\x08\x01");
  run_entry("garbage bytes", std::string("\xff\xfe\xfd\xfc\x00\x01", 6));
  run_entry("empty value (dtype 0)", "");
  // Offsets and sizes pointing past the end.
  run_entry("offset at the end of the data file", with([&](RawEntry& e) { e.offset = data_size; }));
  run_entry("offset one byte short of fitting", with([&](RawEntry& e) { e.offset = data_size - e.size + 1; }));
  run_entry("offset near 2^63 (offset + size overflows)", with([&](RawEntry& e) { e.offset = kI64Max - 3; }));
  run_entry("offset -1 (10-byte varint)", with([&](RawEntry& e) { e.offset = -1; }));
  run_entry("offset INT64_MIN", with([&](RawEntry& e) { e.offset = kI64Min; }));
  run_entry("size + 4", with([&](RawEntry& e) { e.size += 4; }));
  run_entry("size INT64_MAX", with([&](RawEntry& e) { e.size = kI64Max; }));
  run_entry("size -1", with([&](RawEntry& e) { e.size = -1; }));
  // Shapes.
  run_entry("shape [2^32, 2^32] (product overflows)", with([&](RawEntry& e) { e.dims = {1LL << 32, 1LL << 32}; }));
  run_entry("shape [INT64_MAX, 2]", with([&](RawEntry& e) { e.dims = {kI64Max, 2}; }));
  run_entry("shape [3, 2^62]", with([&](RawEntry& e) { e.dims = {3, 1LL << 62}; }));
  run_entry("shape [2^21, 2^21, 2^21, 2]", with([&](RawEntry& e) { e.dims = {1 << 21, 1 << 21, 1 << 21, 2}; }));
  run_entry("shape [2^61] (bytes overflow)", with([&](RawEntry& e) { e.dims = {1LL << 61}; }));
  run_entry("shape [0, 2^62, 4] (zero elements, overflow after)",
            with([&](RawEntry& e) { e.dims = {0, 1LL << 62, 4}; }));
  run_entry("negative dim -1", with([&](RawEntry& e) { e.dims = {-1}; }));
  run_entry("negative dim after a good one", with([&](RawEntry& e) { e.dims.push_back(-7); }));
  run_entry("dim INT64_MIN", with([&](RawEntry& e) { e.dims = {kI64Min}; }));
  run_entry("dims -1 x -1 (positive product)", with([&](RawEntry& e) { e.dims = {-1, -1}; }));
  // proto3 rejects a string field that is not UTF-8 (and protobuf logs it).
  run_entry("dim name not UTF-8", with([&](RawEntry& e) {
              std::string shape;
              for (int64_t d : e.dims) shape += fbytes(2, fvarint(1, static_cast<uint64_t>(d)) + fbytes(2, "\xff\xfe"));
              if (e.dims.empty()) shape = fbytes(2, fvarint(1, 1) + fbytes(2, "\xff\xfe"));
              e.dims.clear();
              e.extra = fbytes(2, shape);
            }));
  run_entry("unknown rank", with([&](RawEntry& e) { e.extra = fbytes(2, fvarint(3, 1)); }));
  // dtypes and shards.
  run_entry("dtype 0", with([&](RawEntry& e) { e.dtype = 0; }));
  run_entry("dtype 55", with([&](RawEntry& e) { e.dtype = 55; }));
  run_entry("dtype 101 (a reference type)", with([&](RawEntry& e) { e.dtype = 101; }));
  run_entry("dtype -1", with([&](RawEntry& e) { e.dtype = -1; }));
  run_entry("dtype 2^40", with([&](RawEntry& e) { e.dtype = 1LL << 40; }));
  run_entry("dtype changed to double (valid when the byte size still fits)", with([&](RawEntry& e) { e.dtype = 2; }),
            Expect::kErrorOrValid);
  run_entry("shard 1 of 1", with([&](RawEntry& e) { e.shard = 1; }));
  run_entry("shard -1", with([&](RawEntry& e) { e.shard = -1; }));
  run_entry("shard 2^31-1", with([&](RawEntry& e) { e.shard = 0x7fffffff; }));
  // protobuf truncates an int32 field's varint to 32 bits: 2^40 reads as 0.
  run_entry("shard 2^40 (beyond int32)", with([&](RawEntry& e) { e.shard = 1LL << 40; }), Expect::kErrorOrValid);
  run_entry("crc changed", with([&](RawEntry& e) { e.crc ^= 1; }));
  // A partitioned variable (slices) is listed, not read: huge shapes there
  // must not break the listing or the summary.
  run_entry("sliced, shape [2^62]", with([&](RawEntry& e) {
              e.dims = {1LL << 62};
              e.size = kI64Max;
              e.extra = fbytes(7, "");
            }),
            Expect::kErrorOrValid);
  // Two such optimizer slots: their element counts must not be summed blindly.
  std::map<std::string, std::string> two_sliced;
  for (const auto& [key, entry] : contents.entries) {
    if (key.find("OPTIMIZER_SLOT") != std::string::npos && two_sliced.size() < 2) {
      RawEntry e;
      e.dims = {1LL << 62};
      e.size = kI64Max;
      e.extra = fbytes(7, "");
      two_sliced[key] = e.encode();
    }
  }
  if (two_sliced.size() == 2 && victim == "_CHECKPOINTABLE_OBJECT_GRAPH") {
    const std::string prefix = build(contents.header.SerializeAsString(), two_sliced, true);
    corpus.run("entries", c.name + " two sliced optimizer slots of 2^62 elements", "inspect",
               "--verify " + quote(prefix), Expect::kErrorOrValid, prefix + ".index");
  }

  // Headers.
  auto run_header = [&](const std::string& what, const std::string& header, bool has_header = true,
                        Expect expect = Expect::kError) {
    const std::string prefix = build(header, {}, has_header);
    corpus.run("entries", c.name + " header: " + what, "inspect", "--verify " + quote(prefix), expect, prefix);
  };
  auto header_with = [&](const std::function<void(tf::BundleHeaderProto&)>& f) {
    tf::BundleHeaderProto h = contents.header;
    f(h);
    return h.SerializeAsString();
  };
  run_header("missing", "", false);
  run_header("garbage", std::string("\xff\xff\xff\xff", 4));
  run_header("num_shards 0", header_with([](auto& h) { h.set_num_shards(0); }));
  run_header("num_shards -1", header_with([](auto& h) { h.set_num_shards(-1); }));
  run_header("num_shards 2 (shard files missing)", header_with([](auto& h) { h.set_num_shards(2); }));
  run_header("num_shards 2^31-1", header_with([](auto& h) { h.set_num_shards(0x7fffffff); }));
  run_header("num_shards varint of 11 bytes", "\x08" + ff10 + "\x01");
  run_header("min_consumer 2", header_with([](auto& h) { h.mutable_version()->set_min_consumer(2); }));
  run_header("bad_consumers [1]", header_with([](auto& h) { h.mutable_version()->add_bad_consumers(1); }));
  run_header("producer -1", header_with([](auto& h) { h.mutable_version()->set_producer(-1); }));
  run_header("big-endian (values read byte-swapped)",
             header_with([](auto& h) { h.set_endianness(tf::BundleHeaderProto::BIG); }), true,
             Expect::kErrorOrValid);
}

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

}  // namespace
}  // namespace graft
