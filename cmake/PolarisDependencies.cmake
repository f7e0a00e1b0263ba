# Finds Polaris's dependencies. The engines have no CMake packages in the form
# we install them (ORT from npm + Debian trixie headers, libtorch from the
# torch wheel, whose TorchConfig insists on a CUDA toolkit), so each gets a
# small imported target (imported includes count as system headers, so
# engine warnings never trip -Werror). Paths come from build/deps.cmake, written by
# scripts/bootstrap and passed with -C.

find_package(nlohmann_json 3.10 REQUIRED)
# RapidJSON (Debian's rapidjson-dev) for the HTTP infer codec's hot path;
# its CMake file sets only an include folder, so it gets a target here.
find_package(RapidJSON 1.1 REQUIRED)
add_library(polaris::rapidjson INTERFACE IMPORTED)
set_target_properties(polaris::rapidjson PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${RAPIDJSON_INCLUDE_DIRS}")
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(Threads REQUIRED)

set(POLARIS_ORT_VERSION "" CACHE STRING "ONNX Runtime library version")
set(POLARIS_TORCH_VERSION "" CACHE STRING "libtorch version")
# What build_info.h reports: empty for an engine switched off.
set(POLARIS_BUILT_ORT_VERSION "")
set(POLARIS_BUILT_TORCH_VERSION "")
set(POLARIS_BUILT_OPENCV_VERSION "")

if(POLARIS_WITH_ONNXRUNTIME)
  set(POLARIS_ORT_LIBRARY_DIR "" CACHE PATH "folder holding libonnxruntime.so.1")
  set(POLARIS_ORT_INCLUDE_DIR "" CACHE PATH "folder holding onnxruntime_cxx_api.h")
  find_library(POLARIS_ORT_LIBRARY NAMES onnxruntime PATHS ${POLARIS_ORT_LIBRARY_DIR} NO_DEFAULT_PATH)
  if(NOT POLARIS_ORT_LIBRARY OR NOT EXISTS "${POLARIS_ORT_INCLUDE_DIR}/onnxruntime_cxx_api.h")
    message(FATAL_ERROR "ONNX Runtime not found (library dir '${POLARIS_ORT_LIBRARY_DIR}', headers "
                        "'${POLARIS_ORT_INCLUDE_DIR}'): run scripts/bootstrap, or -DPOLARIS_WITH_ONNXRUNTIME=OFF")
  endif()
  add_library(polaris::onnxruntime SHARED IMPORTED)
  set_target_properties(polaris::onnxruntime PROPERTIES
    IMPORTED_LOCATION ${POLARIS_ORT_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${POLARIS_ORT_INCLUDE_DIR})
  set(POLARIS_BUILT_ORT_VERSION ${POLARIS_ORT_VERSION})
  message(STATUS "ONNX Runtime ${POLARIS_ORT_VERSION}: ${POLARIS_ORT_LIBRARY}, headers ${POLARIS_ORT_INCLUDE_DIR}")
endif()

if(POLARIS_WITH_TORCH)
  set(POLARIS_TORCH_ROOT "" CACHE PATH "libtorch root (include/, lib/, cuda/)")
  if(NOT EXISTS "${POLARIS_TORCH_ROOT}/lib/libtorch_cpu.so")
    message(FATAL_ERROR "libtorch not found in '${POLARIS_TORCH_ROOT}': run scripts/bootstrap, or "
                        "-DPOLARIS_WITH_TORCH=OFF")
  endif()
  add_library(polaris::torch INTERFACE IMPORTED)
  set_target_properties(polaris::torch PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES
      "${POLARIS_TORCH_ROOT}/include;${POLARIS_TORCH_ROOT}/include/torch/csrc/api/include"
    INTERFACE_LINK_LIBRARIES "${POLARIS_TORCH_ROOT}/lib/libtorch_cpu.so;${POLARIS_TORCH_ROOT}/lib/libc10.so"
    INTERFACE_COMPILE_DEFINITIONS "_GLIBCXX_USE_CXX11_ABI=1")
  set(POLARIS_TORCH_RPATH "${POLARIS_TORCH_ROOT}/lib;${POLARIS_TORCH_ROOT}/cuda")
  set(POLARIS_BUILT_TORCH_VERSION ${POLARIS_TORCH_VERSION})
  message(STATUS "libtorch ${POLARIS_TORCH_VERSION}: ${POLARIS_TORCH_ROOT}")
endif()

if(POLARIS_WITH_OPENCV)
  find_package(OpenCV REQUIRED COMPONENTS core dnn imgproc)
  set(POLARIS_BUILT_OPENCV_VERSION ${OpenCV_VERSION})
  message(STATUS "OpenCV ${OpenCV_VERSION}")
endif()
