#pragma once
// graft-bench's command line (tools/bench/graft_bench.cc has the usage): the
// options and their parsing, one job, apart from the cases they run.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "checkpoint/error.h"

namespace graft_bench {

using graft::Error;

struct Args {
  std::string device = "cpu";
  int threads = 0;  // 0: every core
  std::string data;  // empty: the default folder, synthetic when it is missing
  bool synthetic = false;
  int repeats = 5;
  int warmup = 1;
  std::vector<int64_t> batches = {50, 256, 4096};
  std::vector<int64_t> bn_batches = {50, 4096};  // the batch-norm + dropout case
  std::vector<std::string> cases = {"peak", "train", "bn", "infer", "transfer"};
  int64_t transfer_batch = 50;
  int amortize = 10;
  uint64_t seed = 42;
};

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: graft-bench [--device cpu|cuda|auto] [--threads N] [--data DIR | --synthetic]\n"
               "                   [--repeats 5] [--warmup 1] [--batches 50,256,4096]\n"
               "                   [--cases peak,train,bn,infer,transfer] [--bn-batches 50,4096]\n"
               "                   [--transfer-batch 50]\n"
               "                   [--amortize 10] [--seed 42]\n");
  std::exit(code);
}

inline std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

inline int64_t to_int(const std::string& flag, const std::string& v) {
  try {
    std::size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used != v.size()) throw std::invalid_argument(v);
    return x;
  } catch (const std::exception&) {
    std::fprintf(stderr, "graft-bench: %s needs a number, got '%s'\n", flag.c_str(), v.c_str());
    std::exit(2);
  }
}

inline Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "graft-bench: %s needs a value\n", k.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (k == "-h" || k == "--help") usage(0);
    else if (k == "--device") a.device = value();
    else if (k == "--threads") a.threads = static_cast<int>(to_int(k, value()));
    else if (k == "--data") a.data = value();
    else if (k == "--synthetic") a.synthetic = true;
    else if (k == "--repeats") a.repeats = static_cast<int>(to_int(k, value()));
    else if (k == "--warmup") a.warmup = static_cast<int>(to_int(k, value()));
    else if (k == "--transfer-batch") a.transfer_batch = to_int(k, value());
    else if (k == "--amortize") a.amortize = static_cast<int>(to_int(k, value()));
    else if (k == "--seed") a.seed = static_cast<uint64_t>(to_int(k, value()));
    else if (k == "--batches") {
      a.batches.clear();
      for (const std::string& b : split(value())) a.batches.push_back(to_int(k, b));
    } else if (k == "--bn-batches") {
      a.bn_batches.clear();
      for (const std::string& b : split(value())) a.bn_batches.push_back(to_int(k, b));
    } else if (k == "--cases") {
      a.cases = split(value());
      for (const std::string& c : a.cases) {
        if (c != "peak" && c != "train" && c != "bn" && c != "infer" && c != "transfer") {
          std::fprintf(stderr, "graft-bench: unknown case '%s' (peak, train, bn, infer, transfer)\n", c.c_str());
          std::exit(2);
        }
      }
    } else {
      std::fprintf(stderr, "graft-bench: unknown argument %s\n", k.c_str());
      usage(2);
    }
  }
  if (a.repeats < 1 || a.warmup < 0 || a.transfer_batch < 1 || a.amortize < 1) {
    std::fprintf(stderr, "graft-bench: --repeats, --transfer-batch and --amortize must be >= 1, --warmup >= 0\n");
    std::exit(2);
  }
  std::vector<int64_t> all_batches = a.batches;
  all_batches.insert(all_batches.end(), a.bn_batches.begin(), a.bn_batches.end());
  for (int64_t b : all_batches) {
    if (b < 1) {
      std::fprintf(stderr, "graft-bench: batch sizes must be positive\n");
      std::exit(2);
    }
  }
  if (a.data.empty()) {
    if (const char* env = std::getenv("GRAFT_BENCH_DATA"); env && *env) a.data = env;
  }
  if (a.threads <= 0) {
    const unsigned hw = std::thread::hardware_concurrency();
    a.threads = hw > 0 ? static_cast<int>(hw) : 1;
  }
  return a;
}

inline bool wants(const Args& a, const std::string& c) {
  return std::find(a.cases.begin(), a.cases.end(), c) != a.cases.end();
}


}  // namespace graft_bench
