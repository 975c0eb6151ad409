#pragma once
// What the x86-64 processor and the OS together allow for SIMD GEMM kernels
// (CPUID plus XGETBV: an instruction set counts only when the OS saves its
// registers). Elsewhere every flag is false.
#include <string>

namespace graft::cpu {

struct CpuFeatures {
  std::string vendor;  // CPUID vendor string: "GenuineIntel", "AuthenticAMD", "HygonGenuine", ...
  std::string brand;   // CPUID brand string, e.g. "AMD EPYC" (a VM may show little more)
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;

  bool amd_like() const { return vendor == "AuthenticAMD" || vendor == "HygonGenuine"; }
  // All four AVX-512 subsets OpenBLAS's SkylakeX kernels use.
  bool avx512() const { return avx512f && avx512bw && avx512vl && avx512dq; }
  // "AVX2 FMA AVX-512(F BW VL DQ)", "AVX", "SSE only"; the report's CPU flags.
  std::string flags() const;
};

// This machine's, read once.
const CpuFeatures& host_cpu_features();

}  // namespace graft::cpu
