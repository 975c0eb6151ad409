// kernel_bench: the three GEMMs of a dense layer's training step on graft's
// own shapes, FP32, with one GEMM library; which library is compiled in is
// chosen by KB_OPENBLAS, KB_BLIS, KB_DNNL or KB_LIBXSMM (one binary each:
// OpenBLAS and BLIS both export cblas_sgemm, so they never share a process).
// KB_LIBXSMM calls graft's own libxsmm wrapper (host/cpu/libxsmm_gemm.h),
// the call the CPU backend makes; it has no kernel for a transposed B, so
// its dX lines say unsupported=1 (graft runs those on OpenBLAS).
//
//   forward   Y[b, out]  = X[b, in] · W[in, out]
//   dW        dW[in, out] = Xᵀ · dY[b, out]
//   dX        dX[b, in]  = dY · Wᵀ
//
// for batch b in --batches (50,256,4096) and the layers 784→300, 300→50,
// 50→50, 50→10 of the reference network, on --threads (the library's own
// threading; 1 is how graft's CPU backend calls it, on each of its threads).
// Each case: a result check against a double-precision product, then
// --rounds timed rounds of enough calls to fill --min-ms; the median round.
// --peak N adds C = A·B at N³ (op=peak): the large-GEMM rate.
//
// Output, one line per case:
// BLIS only: --arch NAME (skx, zen3, haswell, ...) overrides its run-time
// configuration choice.
//
//   kernel lib=L kernels=K threads=T op=fwd|dW|dX batch=B layer=IN-OUT m= n= k= us=U gflops=G spread=S max_rel_err=E
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#if defined(KB_OPENBLAS)
#include <cblas.h>
#elif defined(KB_BLIS)
#include <blis.h>
#elif defined(KB_DNNL)
#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>
#elif defined(KB_LIBXSMM)
#include "host/cpu/libxsmm_gemm.h"
#else
#error "define KB_OPENBLAS, KB_BLIS, KB_DNNL or KB_LIBXSMM"
#endif

namespace {

struct Gemm {  // row-major C[m, n] = op(A) · op(B)
  bool ta = false, tb = false;
  int64_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  int64_t lda = 0;
  const float* b = nullptr;
  int64_t ldb = 0;
  float* c = nullptr;
  int64_t ldc = 0;
};

// ---------------------------------------------------------------- the libraries

#if defined(KB_OPENBLAS)
const char* kLib = "openblas";
std::string kernels() { return openblas_get_corename(); }
void set_threads(int t) { openblas_set_num_threads(t); }
struct Runner {
  Gemm g;
  explicit Runner(const Gemm& gemm) : g(gemm) {}
  void run() const {
    cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(g.m), static_cast<blasint>(g.n), static_cast<blasint>(g.k), 1.0f, g.a,
                static_cast<blasint>(g.lda), g.b, static_cast<blasint>(g.ldb), 0.0f, g.c, static_cast<blasint>(g.ldc));
  }
};

#elif defined(KB_BLIS)
const char* kLib = "blis";
std::string kernels() { return std::string(bli_arch_string(bli_arch_query_id())) + " (BLIS " + bli_info_get_version_str() + ")"; }
void set_threads(int t) { bli_thread_set_num_threads(t); }
// --arch NAME: BLIS_ARCH_TYPE takes the configuration's number, set before
// BLIS first initialises (bli_arch_string only reads a table).
bool select_arch(const std::string& name) {
  for (int id = 0; id < BLIS_NUM_ARCHS; ++id) {
    if (name == bli_arch_string(static_cast<arch_t>(id))) {
      setenv("BLIS_ARCH_TYPE", std::to_string(id).c_str(), 1);
      return true;
    }
  }
  return false;
}
struct Runner {
  Gemm g;
  explicit Runner(const Gemm& gemm) : g(gemm) {}
  void run() const {
    float one = 1.0f, zero = 0.0f;
    // Strides describe the matrices as stored (row-major: row stride = ld).
    bli_sgemm(g.ta ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, g.tb ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE, g.m, g.n, g.k,
              &one, const_cast<float*>(g.a), g.lda, 1, const_cast<float*>(g.b), g.ldb, 1, &zero, g.c, g.ldc, 1);
  }
};

#elif defined(KB_DNNL)
const char* kLib = "onednn";
std::string kernels() {
  static const char* names[] = {"all", "sse41", "avx", "avx2", "avx512_mic", "avx512_mic_4ops", "avx512_core",
                                "avx512_core_vnni", "avx512_core_bf16", "avx512_core_amx", "avx2_vnni"};
  const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
  const dnnl::cpu_isa all[] = {dnnl::cpu_isa::all, dnnl::cpu_isa::sse41, dnnl::cpu_isa::avx, dnnl::cpu_isa::avx2,
                               dnnl::cpu_isa::avx512_mic, dnnl::cpu_isa::avx512_mic_4ops, dnnl::cpu_isa::avx512_core,
                               dnnl::cpu_isa::avx512_core_vnni, dnnl::cpu_isa::avx512_core_bf16,
                               dnnl::cpu_isa::avx512_core_amx, dnnl::cpu_isa::avx2_vnni};
  std::string name = "?";
  for (std::size_t i = 0; i < sizeof all / sizeof all[0]; ++i) {
    if (all[i] == isa) name = names[i];
  }
  const dnnl_version_t* v = dnnl_version();
  return name + " (oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch) + ")";
}
void set_threads(int t) { omp_set_num_threads(t); }
dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}
dnnl::stream& stream() {
  static dnnl::stream s(engine());
  return s;
}
// A matmul primitive made once per shape (as a backend would in build()),
// with transposition expressed by strides.
struct Runner {
  dnnl::matmul prim;
  dnnl::memory a, b, c;
  explicit Runner(const Gemm& g) {
    using dt = dnnl::memory::data_type;
    using dims = dnnl::memory::dims;
    const dims a_strides = g.ta ? dims{1, g.lda} : dims{g.lda, 1};
    const dims b_strides = g.tb ? dims{1, g.ldb} : dims{g.ldb, 1};
    const dnnl::memory::desc ad({g.m, g.k}, dt::f32, a_strides);
    const dnnl::memory::desc bd({g.k, g.n}, dt::f32, b_strides);
    const dnnl::memory::desc cd({g.m, g.n}, dt::f32, dims{g.ldc, 1});
    prim = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(ad, bd, cd), engine()));
    a = dnnl::memory(ad, engine(), const_cast<float*>(g.a));
    b = dnnl::memory(bd, engine(), const_cast<float*>(g.b));
    c = dnnl::memory(cd, engine(), g.c);
  }
  void run() const {
    const_cast<dnnl::matmul&>(prim).execute(stream(), {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    stream().wait();
  }
};

#elif defined(KB_LIBXSMM)
const char* kLib = "libxsmm";
std::string kernels() {
  const graft::cpu::LibxsmmInfo info = graft::cpu::libxsmm_info();
  return info.target + " (libxsmm " + info.version + ")";
}
// libxsmm's kernels are single-threaded; graft calls them on each of its
// team's threads, so only --threads 1 means anything.
void set_threads(int t) {
  if (t != 1) {
    std::fprintf(stderr, "kernel_bench: libxsmm runs each GEMM on one thread: pass --threads 1\n");
    std::exit(2);
  }
}
bool supported(const Gemm& g) { return !g.tb; }
struct Runner {
  Gemm g;
  explicit Runner(const Gemm& gemm) : g(gemm) {}
  void run() const {
    if (!graft::cpu::libxsmm_gemm(g.ta, g.m, g.n, g.k, g.a, g.lda, g.b, g.ldb, g.c, g.ldc)) {
      std::fprintf(stderr, "kernel_bench: libxsmm refused m=%lld n=%lld k=%lld\n", static_cast<long long>(g.m),
                   static_cast<long long>(g.n), static_cast<long long>(g.k));
      std::exit(1);
    }
  }
};
#endif

#if !defined(KB_LIBXSMM)
bool supported(const Gemm&) { return true; }
#endif

// ---------------------------------------------------------------- check and timing

double max_rel_err(const Gemm& g) {
  double worst = 0;
  for (int64_t i = 0; i < g.m; ++i) {
    for (int64_t j = 0; j < g.n; ++j) {
      double s = 0, mag = 0;
      for (int64_t p = 0; p < g.k; ++p) {
        const double x = g.ta ? g.a[p * g.lda + i] : g.a[i * g.lda + p];
        const double y = g.tb ? g.b[j * g.ldb + p] : g.b[p * g.ldb + j];
        s += x * y;
        mag += std::fabs(x * y);
      }
      const double e = std::fabs(g.c[i * g.ldc + j] - s) / std::max(mag, 1e-30);
      worst = std::max(worst, e);
    }
  }
  return worst;
}

using Clock = std::chrono::steady_clock;

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) out.push_back(std::atoll(item.c_str()));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2, rounds = 5;
  int64_t peak = 0;  // --peak N: also C = A·B at N³, the large-GEMM rate
  double min_ms = 40;
  std::vector<int64_t> batches = {50, 256, 4096};
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--threads") threads = std::atoi(v.c_str());
    else if (k == "--rounds") rounds = std::atoi(v.c_str());
    else if (k == "--min-ms") min_ms = std::atof(v.c_str());
    else if (k == "--batches") batches = parse_list(v);
    else if (k == "--peak") peak = std::atoll(v.c_str());
#if defined(KB_BLIS)
    else if (k == "--arch") {
      if (!select_arch(v)) {
        std::fprintf(stderr, "kernel_bench: BLIS has no configuration '%s'\n", v.c_str());
        return 2;
      }
    }
#endif
    else {
      std::fprintf(stderr, "usage: kernel_bench [--threads 2] [--rounds 5] [--min-ms 40] [--batches 50,256,4096] [--peak N] [--arch NAME (BLIS)]\n");
      return 2;
    }
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "kernel_bench: every option takes a value\n");
    return 2;
  }
  set_threads(threads);
  const std::vector<std::pair<int64_t, int64_t>> layers = {{784, 300}, {300, 50}, {50, 50}, {50, 10}};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  auto random = [&](int64_t n) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (float& x : v) x = u(rng);
    return v;
  };
  const std::string kern = kernels();
  // One case: check the result (unless told not to: the N^3 peak), then time it.
  auto measure = [&](const char* op, int64_t batch, int64_t in, int64_t out, const Gemm& g, bool check = true) {
    if (!supported(g)) {
      std::printf("kernel lib=%s kernels=\"%s\" threads=%d op=%s batch=%lld layer=%lld-%lld unsupported=1\n", kLib,
                  kern.c_str(), threads, op, static_cast<long long>(batch), static_cast<long long>(in),
                  static_cast<long long>(out));
      return true;
    }
    const Runner r(g);
    r.run();
    const double err = check ? max_rel_err(g) : 0.0;
    // Calls per round: enough to fill min_ms.
    const auto t0 = Clock::now();
    int calls = 0;
    do {
      r.run();
      ++calls;
    } while (std::chrono::duration<double, std::milli>(Clock::now() - t0).count() < min_ms / 4);
    const int per_round = std::max(1, calls * 4);
    std::vector<double> us;
    for (int k = 0; k < rounds; ++k) {
      const auto s = Clock::now();
      for (int i = 0; i < per_round; ++i) r.run();
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - s).count() / per_round);
    }
    std::sort(us.begin(), us.end());
    const double med = us[us.size() / 2];
    const double gflops = 2.0 * g.m * g.n * g.k / (med * 1e3);
    std::printf("kernel lib=%s kernels=\"%s\" threads=%d op=%s batch=%lld layer=%lld-%lld m=%lld n=%lld k=%lld "
                "us=%.2f gflops=%.1f spread=%.3f max_rel_err=%.2e\n",
                kLib, kern.c_str(), threads, op, static_cast<long long>(batch), static_cast<long long>(in),
                static_cast<long long>(out), static_cast<long long>(g.m), static_cast<long long>(g.n),
                static_cast<long long>(g.k), med, gflops, (us.back() - us.front()) / med, err);
    std::fflush(stdout);
    if (!(err < 1e-5)) {
      std::fprintf(stderr, "kernel_bench: %s %s batch %lld: relative error %.2e\n", kLib, op,
                   static_cast<long long>(batch), err);
      return false;
    }
    return true;
  };
  for (int64_t batch : batches) {
    for (const auto& [in, out] : layers) {
      const std::vector<float> x = random(batch * in), w = random(in * out), dy = random(batch * out);
      std::vector<float> y(static_cast<std::size_t>(batch * out)), dw(static_cast<std::size_t>(in * out)),
          dx(static_cast<std::size_t>(batch * in));
      struct Case {
        const char* op;
        Gemm g;
      };
      const Case cases[] = {
          {"fwd", Gemm{false, false, batch, out, in, x.data(), in, w.data(), out, y.data(), out}},
          {"dW", Gemm{true, false, in, out, batch, x.data(), in, dy.data(), out, dw.data(), out}},
          {"dX", Gemm{false, true, batch, in, out, dy.data(), out, w.data(), out, dx.data(), in}},
      };
      for (const Case& c : cases) {
        if (!measure(c.op, batch, in, out, c.g)) return 1;
      }
    }
  }
  if (peak > 0) {
    const std::vector<float> a = random(peak * peak), b = random(peak * peak);
    std::vector<float> c(static_cast<std::size_t>(peak * peak));
    if (!measure("peak", peak, peak, peak, Gemm{false, false, peak, peak, peak, a.data(), peak, b.data(), peak,
                                                   c.data(), peak}, false)) {
      return 1;
    }
  }
  return 0;
}
