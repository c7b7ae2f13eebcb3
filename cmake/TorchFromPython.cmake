# SPDX-License-Identifier: GPL-3.0-or-later
# LibTorch from a PyTorch install (the `gpu` preset: CMAKE_PREFIX_PATH = torch.utils.cmake_prefix_path).
#
# attnscope_torch_prefer_python(): call BEFORE find_package(Torch). PyTorch's TorchConfig.cmake finds some of its
# libraries (c10, kineto, ...) with find_library(NAME PATHS <torch>/lib), which searches the system directories
# first: next to Debian's libtorch-dev (1.13) a 2.x build would link Debian's libc10.so under 2.x headers. Every
# CMAKE_PREFIX_PATH entry's lib/ is searched before the system, so putting <torch> itself there keeps every
# library from the same PyTorch.
#
# attnscope_torch_check_and_rpath(): call AFTER find_package(Torch). Fails if any library still comes from outside
# that PyTorch, and puts the wheel's lib/ and the nvidia-* pip packages' lib/ directories first in the
# binaries' run path, so that libcudart.so.13 & co. resolve to the CUDA runtime PyTorch was built with and not
# to an older system toolkit's copy (nvcc is only needed at configure time, by PyTorch's CMake config).

macro(attnscope_torch_prefer_python)
  set(_attnscope_torch_roots)
  foreach(_prefix IN LISTS CMAKE_PREFIX_PATH)
    if(EXISTS "${_prefix}/Torch/TorchConfig.cmake")
      get_filename_component(_root "${_prefix}/../.." ABSOLUTE)
      list(APPEND _attnscope_torch_roots "${_root}")
    endif()
  endforeach()
  if(_attnscope_torch_roots)
    list(PREPEND CMAKE_PREFIX_PATH ${_attnscope_torch_roots})
  endif()
endmacro()

function(attnscope_torch_check_and_rpath)
  if(NOT TORCH_INSTALL_PREFIX OR NOT EXISTS "${TORCH_INSTALL_PREFIX}/lib")
    return()
  endif()
  get_filename_component(torch_root "${TORCH_INSTALL_PREFIX}" REALPATH)
  if(torch_root MATCHES "^/usr(/local)?$")
    return() # a system LibTorch (Debian's libtorch-dev): its libraries are where the system looks anyway
  endif()
  foreach(lib IN LISTS TORCH_LIBRARIES TORCH_LIBRARY c10_LIBRARY C10_CUDA_LIBRARY)
    if(IS_ABSOLUTE "${lib}" AND lib MATCHES "/lib(torch|c10)[^/]*\\.so")
      get_filename_component(real "${lib}" REALPATH)
      string(FIND "${real}" "${torch_root}/" at)
      if(NOT at EQUAL 0)
        message(FATAL_ERROR "LibTorch library ${lib} is not from ${torch_root} (mixing two LibTorch versions); "
          "remove it from the search path or set CMAKE_PREFIX_PATH to one PyTorch only")
      endif()
    endif()
  endforeach()
  # site-packages/torch -> site-packages/nvidia/<package>/lib (cu12 wheels) or nvidia/cu13/lib (cu13 wheels)
  get_filename_component(site "${torch_root}/.." ABSOLUTE)
  file(GLOB nvidia_libs LIST_DIRECTORIES true "${site}/nvidia/*/lib")
  set(rpath "${torch_root}/lib" ${nvidia_libs})
  message(STATUS "attnscope: LibTorch ${Torch_VERSION} from ${torch_root}; run path first: ${rpath}")
  set(CMAKE_BUILD_RPATH ${rpath} PARENT_SCOPE)
  set(CMAKE_INSTALL_RPATH ${rpath} PARENT_SCOPE)
endfunction()
