#pragma once
// GRAFT_HD marks the scalar math of host/math/ as callable from host and
// device code: __host__ __device__ under nvcc (cuda/*.cu, the fused kernel),
// nothing in an ordinary C++ build (the CPU backend, the fused emulator).
// Code under this macro uses only what exists on both sides: plain float
// arithmetic and C's <math.h> (expf, tanhf, sqrtf, isfinite; no std:: calls).
#if defined(__CUDACC__)
#define GRAFT_HD __host__ __device__
#else
#define GRAFT_HD
#endif
