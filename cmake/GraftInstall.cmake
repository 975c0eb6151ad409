# `cmake --install BUILD --prefix P` installs
#   bin/graft                                   the CLI
#   include/graft/{checkpoint,host,cuda}/*.h    the public C++ API (internal
#                                               include style kept:
#                                               #include "host/train/trainer.h")
#   include/graft/version.h                     #include "graft/version.h"
#   lib/libgraft_*.a                            the static libraries
#   lib/cmake/graft/                            graftConfig.cmake,
#       graftConfigVersion.cmake (SameMajorVersion) and the exported targets:
#         graft::graft       the full library (device selection, host model and
#                            trainer, CPU and CUDA/no-CUDA backends, checkpoints)
#         graft::checkpoint  TensorFlow checkpoint I/O only
# Consumers: find_package(graft CONFIG REQUIRED) and link graft::graft.
# tests/install builds and runs such a consumer against an installed tree.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(GRAFT_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/graft)
set(GRAFT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/graft)
set(GRAFT_EXPORTED_LIBRARIES graft_checkpoint graft_host graft_device)
if(GRAFT_CUDA_ENABLED)
  list(APPEND GRAFT_EXPORTED_LIBRARIES graft_cuda)
else()
  list(APPEND GRAFT_EXPORTED_LIBRARIES graft_no_cuda)
endif()

# Exported as graft::<EXPORT_NAME>; graft::graft and graft::checkpoint are the
# documented ones (the in-tree ALIAS targets have the same names).
set_target_properties(graft_checkpoint PROPERTIES EXPORT_NAME checkpoint)
set_target_properties(graft_host PROPERTIES EXPORT_NAME host)
set_target_properties(graft_device PROPERTIES EXPORT_NAME graft)
if(GRAFT_CUDA_ENABLED)
  set_target_properties(graft_cuda PROPERTIES EXPORT_NAME cuda)
else()
  set_target_properties(graft_no_cuda PROPERTIES EXPORT_NAME no_cuda)
endif()
foreach(target IN LISTS GRAFT_EXPORTED_LIBRARIES)
  target_include_directories(${target} INTERFACE
    $<INSTALL_INTERFACE:${GRAFT_INSTALL_INCLUDEDIR}>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
endforeach()

install(TARGETS graft_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS ${GRAFT_EXPORTED_LIBRARIES} EXPORT graftTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

# Public headers. None includes a generated .pb.h (the protos stay inside
# the library); host/nvtx_range.h and host/cpu/ are implementation details.
file(GLOB GRAFT_PUBLIC_CHECKPOINT_HEADERS ${PROJECT_SOURCE_DIR}/checkpoint/*.h)
install(FILES ${GRAFT_PUBLIC_CHECKPOINT_HEADERS} DESTINATION ${GRAFT_INSTALL_INCLUDEDIR}/checkpoint)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/host/ DESTINATION ${GRAFT_INSTALL_INCLUDEDIR}/host
  FILES_MATCHING PATTERN "*.h"
  PATTERN "cpu" EXCLUDE
  PATTERN "nvtx_range.h" EXCLUDE
  # host/restore's graph walk and its recognisers: internal to the graph
  # import (they include meta_graph.pb.h)
  PATTERN "graph_walk.h" EXCLUDE
  PATTERN "graph_cond.h" EXCLUDE
  PATTERN "graph_batch_norm.h" EXCLUDE
  PATTERN "graph_moving_average.h" EXCLUDE
  PATTERN "graph_input_transform.h" EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/cuda/cuda_backend.h ${PROJECT_SOURCE_DIR}/cuda/cuda_backend_options.h
  DESTINATION ${GRAFT_INSTALL_INCLUDEDIR}/cuda)
install(FILES ${CMAKE_BINARY_DIR}/generated/graft/version.h DESTINATION ${GRAFT_INSTALL_INCLUDEDIR})

install(EXPORT graftTargets NAMESPACE graft:: FILE graftTargets.cmake DESTINATION ${GRAFT_INSTALL_CMAKEDIR})
if(GRAFT_CUDA_ENABLED)
  get_filename_component(GRAFT_CUDA_TOOLKIT_ROOT "${CUDAToolkit_BIN_DIR}" DIRECTORY)
endif()
configure_package_config_file(cmake/graftConfig.cmake.in ${CMAKE_BINARY_DIR}/graftConfig.cmake
  INSTALL_DESTINATION ${GRAFT_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/graftConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/graftConfig.cmake ${CMAKE_BINARY_DIR}/graftConfigVersion.cmake
  DESTINATION ${GRAFT_INSTALL_CMAKEDIR})
