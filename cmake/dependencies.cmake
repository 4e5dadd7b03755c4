# Every dependency comes from a Debian package; `make deps` installs the ones that are missing.
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(ZLIB REQUIRED)
find_package(PNG REQUIRED)
find_package(JPEG REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(yaml-cpp REQUIRED)

# OpenBLAS built for OpenMP (libopenblas-openmp-dev), so BLAS, oneDNN and Cairn's own loops share one
# thread pool and one thread count. The pthread build would keep its own spinning threads beside it.
find_library(CAIRN_OPENBLAS NAMES openblas
  PATHS /usr/lib/x86_64-linux-gnu/openblas-openmp /usr/lib/aarch64-linux-gnu/openblas-openmp
  NO_DEFAULT_PATH)
if(NOT CAIRN_OPENBLAS)
  message(FATAL_ERROR "OpenBLAS (OpenMP build) not found: install it with `apt-get install libopenblas-openmp-dev` (or run `make deps`).")
endif()
find_path(CAIRN_CBLAS_INCLUDE cblas.h PATHS /usr/include/x86_64-linux-gnu/openblas-openmp /usr/include/aarch64-linux-gnu/openblas-openmp /usr/include/openblas NO_DEFAULT_PATH)
if(NOT CAIRN_CBLAS_INCLUDE)
  find_path(CAIRN_CBLAS_INCLUDE cblas.h REQUIRED)
endif()

add_library(cairn_deps_core INTERFACE)
target_link_libraries(cairn_deps_core INTERFACE ${CAIRN_OPENBLAS} OpenMP::OpenMP_CXX Threads::Threads)
target_include_directories(cairn_deps_core INTERFACE ${CAIRN_CBLAS_INCLUDE})

if(CAIRN_WITH_DNNL)
  find_package(dnnl QUIET)
  if(dnnl_FOUND)
    target_link_libraries(cairn_deps_core INTERFACE DNNL::dnnl)
    target_compile_definitions(cairn_deps_core INTERFACE CAIRN_HAVE_DNNL=1)
  else()
    message(WARNING "oneDNN not found (apt-get install libdnnl-dev); Cairn builds with its own conv kernels only.")
  endif()
endif()
