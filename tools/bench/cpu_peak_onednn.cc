// The large-GEMM rate of oneDNN's matmul (graft-bench's limit is the fastest
// SGEMM on the machine: OpenBLAS's or this). 0 when oneDNN is not built in.
#include "tools/bench/cpu_peak_onednn.h"

#if GRAFT_HAVE_ONEDNN
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <vector>
#endif

namespace graft_bench {

double onednn_sgemm_gflops(int threads, int n, int repeats) {
#if GRAFT_HAVE_ONEDNN
  const int saved = omp_get_max_threads();
  omp_set_num_threads(threads);  // before the primitive is made: it is sized for this many
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const dnnl::memory::desc d({n, n}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
  dnnl::matmul matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(d, d, d), engine));
  dnnl::memory a(d, engine), b(d, engine), c(d, engine);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto* m : {&a, &b}) {
    float* p = static_cast<float*>(m->get_data_handle());
    for (int64_t i = 0; i < static_cast<int64_t>(n) * n; ++i) p[i] = u(rng);
  }
  auto run = [&] {
    const auto t0 = std::chrono::steady_clock::now();
    matmul.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
    stream.wait();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  run();  // warm-up: OpenMP team, page faults
  std::vector<double> t;
  for (int i = 0; i < repeats; ++i) t.push_back(run());
  std::sort(t.begin(), t.end());
  omp_set_num_threads(saved);
  return 2.0 * n * static_cast<double>(n) * n / t[t.size() / 2] / 1e9;
#else
  (void)threads, (void)n, (void)repeats;
  return 0.0;
#endif
}

}  // namespace graft_bench
