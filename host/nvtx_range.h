#pragma once
// NVTX ranges for Nsight Systems timelines (docs/profiling.md): an RAII
// helper host code can use around epochs, evaluation and checkpoint I/O.
// Header-only. With GRAFT_HAVE_NVTX defined (the CUDA build defines it and
// adds the header-only nvtx3 include path, see cuda/CMakeLists.txt) it emits
// nvtxRangePushA/Pop; otherwise it compiles to nothing. When no profiler is
// attached NVTX calls cost a few nanoseconds.
#if defined(GRAFT_HAVE_NVTX)
#include <nvtx3/nvToolsExt.h>
#endif

namespace graft {

class NvtxRange {
 public:
  explicit NvtxRange(const char* name) {
#if defined(GRAFT_HAVE_NVTX)
    nvtxRangePushA(name);
#else
    (void)name;
#endif
  }
  ~NvtxRange() {
#if defined(GRAFT_HAVE_NVTX)
    nvtxRangePop();
#endif
  }
  NvtxRange(const NvtxRange&) = delete;
  NvtxRange& operator=(const NvtxRange&) = delete;
};

}  // namespace graft
