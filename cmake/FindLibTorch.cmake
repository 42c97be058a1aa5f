# Finds LibTorch through the Python environment's torch (torch.utils.cmake_prefix_path) and makes
# a CUDA build of it configurable on machines without a full CUDA toolkit or a GPU.
#
# A CUDA build of LibTorch requires the CUDA toolkit and nvrtc at configure time even for code
# that uses only its CPU parts; pip's torch wheels keep nvrtc in site-packages/nvidia/.
# Sets: Torch_FOUND, TORCH_LIBRARIES, TORCH_CXX_FLAGS, ANALOGTORCH_TORCH_HAS_CUDA.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
execute_process(
  COMMAND "${Python3_EXECUTABLE}" -c
          "import os, torch; print(torch.utils.cmake_prefix_path); print(torch.version.cuda or ''); print(os.path.dirname(os.path.dirname(torch.__file__)))"
  OUTPUT_VARIABLE _torch_info OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _torch_result)
if(NOT _torch_result EQUAL 0)
  message(FATAL_ERROR "analogtorch: ${Python3_EXECUTABLE} cannot import torch; activate the environment that has it")
endif()
string(REPLACE "\n" ";" _torch_info "${_torch_info}")
list(GET _torch_info 0 _torch_prefix)
list(GET _torch_info 1 _torch_cuda_version)
list(GET _torch_info 2 _torch_site_packages)
list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")

set(ANALOGTORCH_TORCH_HAS_CUDA OFF)
if(_torch_cuda_version)
  set(ANALOGTORCH_TORCH_HAS_CUDA ON)
  if(NOT DEFINED CUDA_TOOLKIT_ROOT_DIR)
    foreach(_candidate "$ENV{CUDA_HOME}" "$ENV{CUDA_PATH}" /usr/local/cuda)
      if(_candidate AND EXISTS "${_candidate}/include/cuda_runtime.h")
        set(CUDA_TOOLKIT_ROOT_DIR "${_candidate}" CACHE PATH "CUDA toolkit")
        break()
      endif()
    endforeach()
  endif()
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND CUDA_TOOLKIT_ROOT_DIR)
    set(CMAKE_CUDA_COMPILER "${CUDA_TOOLKIT_ROOT_DIR}/bin/nvcc")
  endif()
  # Without a GPU LibTorch would try to run a program to detect the architectures.
  if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
    set(ENV{TORCH_CUDA_ARCH_LIST} "8.0;9.0")
  endif()
  find_library(CUDA_nvrtc_LIBRARY NAMES nvrtc libnvrtc.so.13 libnvrtc.so.12
               HINTS "${CUDA_TOOLKIT_ROOT_DIR}/lib64" "${_torch_site_packages}/nvidia/cu13/lib"
                     "${_torch_site_packages}/nvidia/cuda_nvrtc/lib")
endif()

find_package(Torch CONFIG REQUIRED)
set(LibTorch_FOUND ${Torch_FOUND})
