// The checkpoint families of the corrupt-input corpus (see
// corrupt_input_test.cc for the whole list and what every case must do).
#include "tests/reliability/corrupt_corpus.h"

namespace graft::corrupt {

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

}  // namespace graft::corrupt
