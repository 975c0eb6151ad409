#pragma once
// The instruction-set variants of dropout's CPU row loop
// (host/cpu/dropout_kernels.cc: baseline SSE2, AVX2, AVX-512F on x86-64; one
// portable loop elsewhere), so that tests can check every variant this CPU
// runs against counter_uniform, not only the one the dispatch picks.
// dropout_forward / dropout_backward use chosen(), the widest supported one.
#include <cstdint>

namespace graft::cpu::dropout_variants {

int count();
const char* name(int v);      // "sse2", "avx2", "avx512f", "portable"
bool supported(int v);        // this CPU (and OS) can run variant v
int chosen();                 // the variant dropout_forward uses

// dropout_forward computed with variant v; graft::Error when !supported(v).
void forward(int v, const float* x, int64_t rows, int64_t cols, float rate, uint64_t seed, uint64_t step,
             uint32_t node, float* y);

}  // namespace graft::cpu::dropout_variants
