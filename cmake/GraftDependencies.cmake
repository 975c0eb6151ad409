# Third-party libraries, all from Debian packages (tools/install-deps.sh).
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)
find_package(leveldb CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
# libxsmm (Debian libxsmm-dev, amd64): JIT-generated AVX-512 kernels for the
# GEMMs whose B operand stays in L2, 1.05-1.6x faster per call than OpenBLAS on
# Intel AVX-512 cores (host/cpu/gemm_engine.h, docs/performance.md).
# Debian ships it as static archives only; its fallback calls BLAS's sgemm_,
# which OpenBLAS provides (it is linked after libxsmm).
set(GRAFT_LIBXSMM_ENABLED OFF)
if(NOT GRAFT_WITH_LIBXSMM STREQUAL "OFF")
  pkg_check_modules(LIBXSMM QUIET IMPORTED_TARGET libxsmm)
  if(LIBXSMM_FOUND)
    set(GRAFT_LIBXSMM_ENABLED ON)
  elseif(GRAFT_WITH_LIBXSMM STREQUAL "ON")
    message(FATAL_ERROR "GRAFT_WITH_LIBXSMM=ON but libxsmm was not found (Debian: libxsmm-dev; tools/install-deps.sh installs it on amd64)")
  endif()
endif()
message(STATUS "graft: libxsmm GEMM kernels: ${GRAFT_LIBXSMM_ENABLED}")
# Data files (host/data/): libzip reads .npz archives (zip, with CRC and
# structure checks we would otherwise write ourselves); libcsv parses CSV
# (RFC 4180 quoting, any column count; Debian's libfccp fixes the column
# count at compile time). Through pkg-config / a plain library path, since
# libzip's CMake package wants its command-line tools installed as well.
pkg_check_modules(LIBZIP REQUIRED IMPORTED_TARGET libzip)
find_path(GRAFT_CSV_INCLUDE_DIR csv.h)
find_library(GRAFT_CSV_LIBRARY csv)
if(NOT GRAFT_CSV_INCLUDE_DIR OR NOT GRAFT_CSV_LIBRARY)
  message(FATAL_ERROR "graft needs libcsv (Debian: libcsv-dev; tools/install-deps.sh installs it)")
endif()
# The demo's pictures (PNG and SVG surfaces).
pkg_check_modules(CAIRO REQUIRED IMPORTED_TARGET cairo)
if(GRAFT_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(GRAFT_BUILD_BENCH)
  find_package(benchmark CONFIG QUIET)
endif()
