// graft-bench: training and inference throughput of the reference network
// 784-300-50-50-50-50-10 (ReLU, SGD lr 0.01, clip by value 1.0,
// glorot_uniform kernels, zero biases, per-epoch shuffle) on a backend, the
// frozen-layer-cached transfer epoch, and the physical limit of each case
// (the machine's large-GEMM rate / FLOPs per sample), measured in the same
// run. The PyTorch peer (tools/peers/torch_mlp.py) runs the same cases;
// tools/bench/compare.sh puts the two side by side.
//
//   graft-bench [--device cpu|cuda|auto] [--threads N] [--data DIR | --synthetic]
//               [--repeats 5] [--warmup 1] [--batches 50,256,4096]
//               [--cases train,bn,infer,transfer,peak] [--bn-batches 50,4096]
//               [--transfer-batch 50]
//               [--amortize 10] [--seed 42]
//
// Data: the first 55 000 images of DIR/train-images-idx3-ubyte[.gz] and their
// labels (the classic split: the last 5 000 are validation), read with the
// library's IDX reader; --synthetic: uniform random pixels and labels of the
// same shape. Without --data, $GRAFT_BENCH_DATA is the folder when set (e.g.
// the four .gz files carried to a GPU machine, where tools/gpu-check.sh runs
// graft-bench without arguments); else the default folder, and when that is
// missing, synthetic data (said so on stdout): the GPU machines lack the
// Debian dataset package.
//
// Every case: --warmup untimed epochs, then --repeats timed ones; the
// median is reported with spread = (max - min) / median. One epoch = every
// one of the 55 000 rows once, as Trainer::fit runs it (shuffle, steps, the
// epoch's totals; no validation pass).
//
// Machine-readable lines (stdout):
//   graft blas="OpenBLAS 0.3.21, Zen kernels" cpu_flags="AVX AVX2 FMA"
//   graft sgemm_peak gflops=G
//   graft CASE samples_per_s=X ms_per_epoch=Y spread=S limit_samples_per_s=Z
//         (CASE train_b50, train_b256, train_b4096, infer_b10000, and the
//         batch-norm + dropout network's train_bn_b50, train_bn_b4096; its
//         limit counts the dense layers' FLOPs only)
//   graft transfer_cached epoch_ms=X unfrozen_ms=Y ratio=R cache_build_ms=C
//   graft transfer_detail frozen_uncached_ms=F amortized_epoch_ms=A amortize_epochs=N amortized_ratio=Q
// then a human-readable table.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "checkpoint/error.h"
#include "cuda/cuda_backend.h"
#include "host/backend.h"
#include "host/cpu/blas_kernels.h"
#include "host/data/dataset.h"
#include "host/device_select.h"
#include "host/data/idx.h"
#include "host/cpu/gemm_engine.h"
#include "host/model/model_spec.h"
#include "host/model/optimizer_config.h"
#include "host/train/trainer.h"
#include "tools/bench/bench_args.h"
#include "tools/bench/cpu_peak_onednn.h"
#include "tools/bench/gpu_peak.h"

namespace fs = std::filesystem;
using graft::Error;

namespace {

constexpr int64_t kTrainRows = 55000;
constexpr int64_t kInferBatch = 10000;
constexpr int kFrozenLayers = 3;  // hidden1..hidden3
const std::vector<int64_t> kHidden = {300, 50, 50, 50, 50};
constexpr int64_t kInputs = 784, kClasses = 10;

using graft_bench::Args;
using graft_bench::parse;
using graft_bench::wants;

// ---------------------------------------------------------------- data

struct HostData {
  std::vector<float> features;  // [rows, 784], pixel / 255
  std::vector<int32_t> labels;
  int64_t rows = 0;
  std::string source;
};

std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem + ".gz", stem}) {
    const std::string p = (fs::path(dir) / name).string();
    if (fs::exists(p)) return p;
  }
  throw Error("graft-bench: " + stem + "[.gz] not found in " + dir);
}

HostData load_fashion(const std::string& dir) {
  const graft::IdxArray images = graft::read_idx_u8(find_idx(dir, "train-images-idx3-ubyte"), 3);
  const graft::IdxArray labels = graft::read_idx_u8(find_idx(dir, "train-labels-idx1-ubyte"), 1);
  if (images.dims[1] * images.dims[2] != kInputs) throw Error("graft-bench: the images are not 28x28");
  if (images.dims[0] < kTrainRows || labels.dims[0] < kTrainRows) {
    throw Error("graft-bench: fewer than 55000 training images in " + dir);
  }
  HostData d;
  d.rows = kTrainRows;
  d.features.resize(static_cast<std::size_t>(kTrainRows * kInputs));
  for (std::size_t i = 0; i < d.features.size(); ++i) d.features[i] = static_cast<float>(images.data[i]) / 255.0f;
  d.labels.assign(labels.data.begin(), labels.data.begin() + kTrainRows);
  d.source = dir + " (first 55000 training images)";
  return d;
}

HostData synthetic_data(uint64_t seed) {
  HostData d;
  d.rows = kTrainRows;
  d.features.resize(static_cast<std::size_t>(kTrainRows * kInputs));
  d.labels.resize(static_cast<std::size_t>(kTrainRows));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
  std::uniform_int_distribution<int32_t> label(0, static_cast<int32_t>(kClasses - 1));
  for (float& f : d.features) f = pixel(rng);
  for (int32_t& l : d.labels) l = label(rng);
  d.source = "synthetic (55000 x 784 uniform random pixels, random labels)";
  return d;
}

// ---------------------------------------------------------------- timing

using Clock = std::chrono::steady_clock;

double seconds(const std::function<void()>& fn) {
  const auto t0 = Clock::now();
  fn();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Stats {
  double median = 0, spread = 0;
  int n = 0;
};

Stats stats(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  Stats s;
  s.n = static_cast<int>(t.size());
  const std::size_t m = t.size() / 2;
  s.median = t.size() % 2 ? t[m] : 0.5 * (t[m - 1] + t[m]);
  s.spread = s.median > 0 ? (t.back() - t.front()) / s.median : 0.0;
  return s;
}

Stats timed(const Args& a, const std::function<void()>& fn) {
  for (int i = 0; i < a.warmup; ++i) fn();
  std::vector<double> t;
  for (int i = 0; i < a.repeats; ++i) t.push_back(seconds(fn));
  return stats(t);
}

// ---------------------------------------------------------------- model

graft::OptimizerConfig reference_optimizer() {
  graft::OptimizerConfig o;
  o.kind = graft::OptimizerKind::kSgd;
  o.learning_rate = 0.01f;
  o.clip_value = 1.0f;
  return o;
}

graft::ModelSpec reference_spec(int frozen_layers) {
  graft::ModelSpec spec =
      graft::make_mlp_spec(kInputs, kHidden, kClasses, graft::Activation{graft::ActivationKind::kRelu},
                           graft::Initializer::kGlorotUniform);
  for (int l = 0; l < frozen_layers; ++l) {
    spec.layers[static_cast<std::size_t>(l)].kernel_trainable = false;
    spec.layers[static_cast<std::size_t>(l)].bias_trainable = false;
  }
  return spec;
}

// The batch-norm + dropout network of the bn case: the reference network
// with batch norm (momentum 0.99, epsilon 0.001, center and scale: TF's
// defaults) between each hidden dense layer and its ReLU, then dropout at
// kBnDropoutRate, as `graft train --batch-norm before --dropout 0.2` builds
// it. The peer builds Linear, BatchNorm1d(momentum=0.01, eps=0.001), ReLU,
// Dropout(0.2) per hidden layer.
constexpr float kBnDropoutRate = 0.2f;
graft::ModelSpec bn_dropout_spec() {
  graft::ModelSpec spec = reference_spec(0);
  graft::add_batch_norm(spec, /*before_activation=*/true, graft::BatchNormAttrs{});
  graft::add_dropout(spec, {kBnDropoutRate});
  return spec;
}

// FLOPs per sample of one training step over layers [first, L): forward
// 2·Σ fan_in·fan_out, dW 2·Σ, dX 2·Σ except the first layer trained (its
// input gradient is never needed). Element-wise work is not counted.
double train_flops(const graft::ModelSpec& spec, int first) {
  double fwd = 0, dx = 0;
  for (std::size_t l = static_cast<std::size_t>(first); l < spec.layers.size(); ++l) {
    if (spec.layers[l].kind != graft::NodeKind::kDense) continue;
    const double mn = static_cast<double>(spec.layers[l].fan_in) * static_cast<double>(spec.layers[l].fan_out);
    fwd += 2 * mn;
    if (static_cast<int>(l) > first) dx += 2 * mn;
  }
  return 2 * fwd + dx;
}

double infer_flops(const graft::ModelSpec& spec) {
  double fwd = 0;
  for (const auto& l : spec.layers)
    if (l.kind == graft::NodeKind::kDense) fwd += 2.0 * static_cast<double>(l.fan_in) * static_cast<double>(l.fan_out);
  return fwd;
}

// A fresh backend, built and initialised for `spec` through the Trainer
// (the library's own initialisation and trainable flags).
struct Session {
  std::unique_ptr<graft::Backend> backend;
  std::unique_ptr<graft::Trainer> trainer;
};

// eval_batch 0: the Trainer's default (what `graft train` uses), which also
// sets the chunk size of forward_prefix.
Session make_session(const Args& a, const graft::ModelSpec& spec, int64_t batch, int64_t eval_batch = 0) {
  Session s;
  s.backend = graft::select_backend(a.device, a.threads).backend;
  graft::TrainOptions o;
  o.epochs = 1;
  o.batch_size = batch;
  if (eval_batch > 0) o.eval_batch = eval_batch;
  o.seed = a.seed;
  s.trainer = std::make_unique<graft::Trainer>(*s.backend, spec, reference_optimizer(), o);
  return s;
}

std::unique_ptr<graft::DeviceDataset> upload(graft::Backend& b, const HostData& d) {
  return b.upload(d.features.data(), d.labels.data(), d.rows, kInputs);
}

// One epoch as `graft train` runs it: shuffle, every step, the totals.
void train_epoch(graft::Trainer& t, graft::DeviceDataset& data, int first_layer) {
  graft::TrainingData td;
  td.train = &data;
  td.first_layer = first_layer;
  t.fit(td);
}

// The large-GEMM rate the limits are measured against.
double cpu_sgemm_gflops(int threads, int n, int repeats) {
  const int saved = openblas_get_num_threads();
  openblas_set_num_threads(threads);
  std::vector<float> A(static_cast<std::size_t>(n) * n), B(A.size()), C(A.size());
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& x : A) x = u(rng);
  for (float& x : B) x = u(rng);
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, A.data(), n, B.data(), n, 0.0f,
                C.data(), n);
  };
  run();  // warm-up: thread start, page faults
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) t.push_back(seconds(run));
  openblas_set_num_threads(saved);
  return 2.0 * n * static_cast<double>(n) * n / stats(t).median / 1e9;
}

struct Row {
  std::string name;
  double samples_per_s = 0, ms = 0, spread = 0, limit = 0, flops = 0;
};

}  // namespace

int main(int argc, char** argv) {
  graft::cpu::use_best_blas_kernels(argv);  // never time OpenBLAS's generic kernels by accident
  const Args a = parse(argc, argv);
  try {
    const bool gpu = a.device == "cuda" || (a.device == "auto" && graft::cuda_device_count() > 0);

    // Data.
    HostData data;
    if (a.synthetic) {
      data = synthetic_data(a.seed);
    } else if (a.data.empty() && !fs::exists(graft::kDefaultDataDir)) {
      std::printf("graft note: %s not found and no --data given: using synthetic data\n", graft::kDefaultDataDir);
      data = synthetic_data(a.seed);
    } else {
      data = load_fashion(a.data.empty() ? graft::kDefaultDataDir : a.data);
    }

    const graft::ModelSpec full = reference_spec(0);
    const graft::ModelSpec frozen = reference_spec(kFrozenLayers);
    const double f_train = train_flops(full, 0);
    const double f_infer = infer_flops(full);
    const double f_transfer = train_flops(frozen, kFrozenLayers);

    {
      Session probe = make_session(a, full, 1, 1);
      std::printf("graft device=%s backend=\"%s\" threads=%d repeats=%d warmup=%d\n", gpu ? "cuda" : "cpu",
                  probe.backend->description().c_str(), a.threads, a.repeats, a.warmup);
    }
    if (gpu) std::printf("graft gpu=\"%s\"\n", graft::cuda_device_summary().c_str());
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    const char* l2 = std::getenv("OPENBLAS_L2_SIZE");
    std::printf("graft openblas_core=%s OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s\n", openblas_get_corename(),
                coretype ? coretype : "unset", l2 ? l2 : "unset");
    std::printf("graft blas=\"%s\" cpu_flags=\"%s\"\n", graft::cpu::cpu_gemm_summary().c_str(),
                graft::cpu::host_cpu_features().flags().c_str());
    if (!graft::cpu::blas_report().decision.advice.empty()) {
      std::printf("graft note: %s\n", graft::cpu::blas_report().decision.advice.c_str());
    }
    std::printf("graft data=\"%s\"\n", data.source.c_str());
    std::printf("graft model=\"%s\" flops_per_sample train=%.0f infer=%.0f transfer_cached=%.0f\n",
                full.describe().c_str(), f_train, f_infer, f_transfer);
    std::fflush(stdout);

    // The physical limit: the device's own large-GEMM rate.
    double peak_gflops = 0;
    std::string peak_what;
    if (wants(a, "peak")) {
      if (gpu) {
        const char* tf32 = std::getenv("GRAFT_CUDA_TF32");
        const bool use_tf32 = tf32 && std::string(tf32) == "1";
        peak_gflops = graft_bench::cublas_sgemm_gflops(8192, 3, use_tf32);
        peak_what = std::string("cublasSgemm 8192^3 ") + (use_tf32 ? "TF32" : "FP32") + ", median of 3";
      } else {
        // The fastest SGEMM on the machine (issue 16): OpenBLAS's, or
        // oneDNN's where the bench was built with it, so a slow library
        // cannot make L look better.
        const double openblas = cpu_sgemm_gflops(a.threads, 4096, 3);
        const double onednn = graft_bench::onednn_sgemm_gflops(a.threads, 4096, 3);
        peak_gflops = std::max(openblas, onednn);
        char what[320];
        if (onednn > 0) {
          std::snprintf(what, sizeof what,
                        "the faster of cblas_sgemm 4096^3 on %d OpenBLAS threads (%.1f GFLOP/s) and oneDNN matmul "
                        "4096^3 on %d OpenMP threads (%.1f GFLOP/s), median of 3 each",
                        a.threads, openblas, a.threads, onednn);
        } else {
          std::snprintf(what, sizeof what,
                        "cblas_sgemm 4096^3, %d OpenBLAS threads, median of 3 (no oneDNN in this build of the "
                        "bench: libdnnl-dev adds its matmul to the limit)",
                        a.threads);
        }
        peak_what = what;
      }
      std::printf("graft sgemm_peak gflops=%.1f\n", peak_gflops);
      std::printf("graft note: peak = %s\n", peak_what.c_str());
      std::fflush(stdout);
    }
    auto limit = [&](double flops) { return peak_gflops > 0 ? peak_gflops * 1e9 / flops : 0.0; };

    std::vector<Row> rows;
    auto emit = [&](const std::string& name, const Stats& s, int64_t samples, double flops) {
      Row r;
      r.name = name;
      r.ms = s.median * 1e3;
      r.samples_per_s = static_cast<double>(samples) / s.median;
      r.spread = s.spread;
      r.flops = flops;
      r.limit = limit(flops);
      rows.push_back(r);
      std::printf("graft %s samples_per_s=%.0f ms_per_epoch=%.3f spread=%.3f limit_samples_per_s=%.0f\n",
                  name.c_str(), r.samples_per_s, r.ms, r.spread, r.limit);
      std::fflush(stdout);
    };

    // Training throughput.
    if (wants(a, "train")) {
      for (int64_t batch : a.batches) {
        Session s = make_session(a, full, batch);
        auto train = upload(*s.backend, data);
        const Stats st = timed(a, [&] { train_epoch(*s.trainer, *train, 0); });
        emit("train_b" + std::to_string(batch), st, data.rows, f_train);
      }
    }

    // Batch norm + dropout training (bn_dropout_spec). A backend that cannot
    // run these nodes says why and the other cases still run.
    if (wants(a, "bn")) {
      const graft::ModelSpec bn = bn_dropout_spec();
      std::printf("graft bn_model=\"%s\"\n", bn.describe().c_str());
      for (int64_t batch : a.bn_batches) {
        const std::string name = "train_bn_b" + std::to_string(batch);
        try {
          Session s = make_session(a, bn, batch);
          auto train = upload(*s.backend, data);
          const Stats st = timed(a, [&] { train_epoch(*s.trainer, *train, 0); });
          emit(name, st, data.rows, train_flops(bn, 0));
        } catch (const Error& e) {
          std::printf("graft note: %s not run: %s\n", name.c_str(), e.what());
          std::fflush(stdout);
        }
      }
    }

    // Inference: evaluate (forward, softmax cross-entropy, top-1) in
    // batches of 10 000 over the 55 000 rows.
    if (wants(a, "infer")) {
      Session s = make_session(a, full, 1, kInferBatch);
      auto train = upload(*s.backend, data);
      const Stats st = timed(a, [&] { (void)s.backend->evaluate(*train, 0); });
      emit("infer_b" + std::to_string(kInferBatch), st, data.rows, f_infer);
    }

    // Transfer: hidden1-3 frozen. The cache (forward_prefix through the
    // frozen layers) is built once; epochs then train hidden4.. from it.
    if (wants(a, "transfer")) {
      const int64_t batch = a.transfer_batch;
      Stats unfrozen, uncached, cached, build;
      {
        Session s = make_session(a, full, batch);
        auto train = upload(*s.backend, data);
        unfrozen = timed(a, [&] { train_epoch(*s.trainer, *train, 0); });
      }
      {
        Session s = make_session(a, frozen, batch);
        auto train = upload(*s.backend, data);
        uncached = timed(a, [&] { train_epoch(*s.trainer, *train, 0); });
        // Each build includes its synchronisation (the first use waits for
        // it anyway); the previous cache is freed outside the timed region.
        std::unique_ptr<graft::DeviceDataset> cache;
        std::vector<double> build_s;
        for (int i = 0; i < a.warmup + a.repeats; ++i) {
          cache.reset();
          const double t = seconds([&] {
            cache = s.backend->forward_prefix(*train, kFrozenLayers);
            if (gpu) graft_bench::device_synchronize();  // a CPU run never touches CUDA
          });
          if (i >= a.warmup) build_s.push_back(t);
        }
        build = stats(build_s);
        cached = timed(a, [&] { train_epoch(*s.trainer, *cache, kFrozenLayers); });
        std::printf("graft note: frozen-layer cache %lld x %lld, %.1f MiB\n", static_cast<long long>(cache->rows()),
                    static_cast<long long>(cache->cols()), static_cast<double>(cache->bytes()) / 1048576.0);
      }
      const double amortized = cached.median + build.median / a.amortize;
      std::printf("graft transfer_cached epoch_ms=%.3f unfrozen_ms=%.3f ratio=%.3f cache_build_ms=%.3f\n",
                  cached.median * 1e3, unfrozen.median * 1e3, cached.median / unfrozen.median, build.median * 1e3);
      std::printf("graft transfer_detail batch=%lld frozen_uncached_ms=%.3f amortized_epoch_ms=%.3f amortize_epochs=%d "
                  "amortized_ratio=%.3f spreads=%.3f/%.3f/%.3f/%.3f\n",
                  static_cast<long long>(batch), uncached.median * 1e3, amortized * 1e3, a.amortize,
                  amortized / unfrozen.median, cached.spread, unfrozen.spread, uncached.spread, build.spread);
      std::fflush(stdout);
      Row r;
      r.name = "transfer_cached_b" + std::to_string(batch);
      r.ms = cached.median * 1e3;
      r.samples_per_s = static_cast<double>(data.rows) / cached.median;
      r.spread = cached.spread;
      r.flops = f_transfer;
      r.limit = limit(f_transfer);
      rows.push_back(r);
    }

    // The human table.
    std::printf("\n%-22s %12s %12s %7s %9s %14s %7s\n", "case", "samples/s", "ms/epoch", "spread", "GFLOP/s",
                "limit samp/s", "L");
    for (const Row& r : rows) {
      const double gf = r.samples_per_s * r.flops / 1e9;
      std::printf("%-22s %12.0f %12.2f %7.3f %9.2f %14.0f %7.3f\n", r.name.c_str(), r.samples_per_s, r.ms, r.spread,
                  gf, r.limit, r.limit > 0 ? r.samples_per_s / r.limit : 0.0);
    }
    if (peak_gflops > 0) {
      std::printf("limit = %.1f GFLOP/s (%s) / FLOPs per sample (train %.0f, infer %.0f, cached transfer %.0f)\n",
                  peak_gflops, peak_what.c_str(), f_train, f_infer, f_transfer);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "graft-bench: %s\n", e.what());
    return 1;
  }
}
