// Checkpoint I/O throughput: graft's reader and writer against `cp` of the
// same files, in the same run, from a cold page cache (posix_fadvise
// DONTNEED after fsync) for both sides.
//
//   ckpt_bench [--dir DIR] [--mb 256] [--tensors 64] [--repeats 5]
//
// read:    open + read_float_into every tensor with its CRC checked,
//          vs `cp` of the .index and .data files to /dev/null.
// rewrite: open + copy every tensor (CRC checked) into a new checkpoint,
//          fsync'd, vs `cp` of both files into another directory, then
//          vs `cp` followed by `sync` of the copies (the same durability).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "checkpoint/bundle_reader.h"
#include "checkpoint/bundle_writer.h"
#include "checkpoint/crc32c.h"
#include "checkpoint/extract.h"

namespace fs = std::filesystem;

namespace {

struct Args {
  std::string dir = "/tmp/graft-ckpt-bench";
  int mb = 256;
  int tensors = 64;
  int repeats = 5;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--dir") a.dir = v;
    else if (k == "--mb") a.mb = std::stoi(v);
    else if (k == "--tensors") a.tensors = std::stoi(v);
    else if (k == "--repeats") a.repeats = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

// Evicts a file's pages from the page cache (they must be clean: fsync first).
void drop_cache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

void drop_checkpoint_cache(const std::string& prefix) {
  drop_cache(prefix + ".index");
  drop_cache(prefix + ".data-00000-of-00001");
}

double seconds(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void shell(const std::string& cmd) {
  if (std::system(cmd.c_str()) != 0) {
    std::fprintf(stderr, "command failed: %s\n", cmd.c_str());
    std::exit(1);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  fs::remove_all(a.dir);
  fs::create_directories(a.dir);
  const std::string src = a.dir + "/src.ckpt";
  const std::string dst = a.dir + "/dst.ckpt";
  const std::string cp_dir = a.dir + "/cp";

  const int64_t per_tensor = int64_t{a.mb} * 1024 * 1024 / 4 / a.tensors;
  std::vector<float> values(static_cast<std::size_t>(per_tensor));
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  for (auto& v : values) v = dist(rng);

  std::vector<double> write_s, read_s, cp_read_s, rewrite_s, cp_s, cp_sync_s;
  for (int rep = 0; rep < a.repeats; ++rep) {
    fs::remove(src + ".index");
    fs::remove(src + ".data-00000-of-00001");
    write_s.push_back(seconds([&] {
      graft::BundleWriter w(src);
      for (int t = 0; t < a.tensors; ++t) {
        values[0] = static_cast<float>(t);  // distinct tensors
        w.add_float("layer" + std::to_string(t) + "/kernel", {per_tensor}, values.data());
      }
      w.finish();
    }));

    drop_checkpoint_cache(src);
    read_s.push_back(seconds([&] {
      const auto r = graft::BundleReader::open(src);
      for (const auto& e : r.entries()) r.read_float_into(e, values.data(), true);
    }));
    drop_checkpoint_cache(src);
    cp_read_s.push_back(seconds([&] {
      shell("cp '" + src + ".index' /dev/null && cp '" + src + ".data-00000-of-00001' /dev/null");
    }));

    drop_checkpoint_cache(src);
    rewrite_s.push_back(seconds([&] { graft::extract_checkpoint(src, dst, {}); }));
    drop_checkpoint_cache(dst);
    fs::remove(dst + ".index");
    fs::remove(dst + ".data-00000-of-00001");

    for (bool sync : {false, true}) {
      fs::remove_all(cp_dir);
      fs::create_directories(cp_dir);
      drop_checkpoint_cache(src);
      const std::string files = "'" + src + ".index' '" + src + ".data-00000-of-00001'";
      const double t = seconds([&] {
        shell("cp " + files + " '" + cp_dir + "/'");
        if (sync) shell("sync '" + cp_dir + "/src.ckpt.index' '" + cp_dir + "/src.ckpt.data-00000-of-00001'");
      });
      (sync ? cp_sync_s : cp_s).push_back(t);
      drop_checkpoint_cache(cp_dir + "/src.ckpt");  // flushes the unsynced copy before the next step
    }
  }

  const double mb = static_cast<double>(fs::file_size(src + ".data-00000-of-00001") + fs::file_size(src + ".index")) /
                    (1024.0 * 1024.0);
  auto rate = [&](const std::vector<double>& s) { return mb / median(s); };
  std::printf("checkpoint: %d tensors, %.1f MiB; median of %d runs; crc32c %s\n", a.tensors, mb, a.repeats,
              graft::crc32c::hardware_available() ? "SSE4.2" : "portable");
  std::printf("%-36s %9s\n", "", "MiB/s");
  std::printf("%-36s %9.0f\n", "graft write (from memory, fsync)", rate(write_s));
  std::printf("%-36s %9.0f\n", "graft read (CRC verified)", rate(read_s));
  std::printf("%-36s %9.0f\n", "cp to /dev/null", rate(cp_read_s));
  std::printf("%-36s %9.0f\n", "graft rewrite (CRC verified, fsync)", rate(rewrite_s));
  std::printf("%-36s %9.0f\n", "cp", rate(cp_s));
  std::printf("%-36s %9.0f\n", "cp + sync", rate(cp_sync_s));
  std::printf("ratio read    graft/cp        %.2f\n", median(cp_read_s) / median(read_s));
  std::printf("ratio rewrite graft/cp        %.2f\n", median(cp_s) / median(rewrite_s));
  std::printf("ratio rewrite graft/(cp+sync) %.2f\n", median(cp_sync_s) / median(rewrite_s));
  fs::remove_all(a.dir);
  return 0;
}
