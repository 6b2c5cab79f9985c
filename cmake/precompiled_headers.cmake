# Precompiled headers (opt-in, -DVOLNODE_PCH=ON): the standard library, spdlog/fmt and
# nlohmann-json (and, for the tests, GoogleTest) are parsed once per build instead of once
# per translation unit. Off by default: on a clean release build of test_render and
# test_console (docs/ci.md) they saved about 1 % of the CPU time, within the noise: GCC
# spends about as long loading the 130-150 MB header into each file as that file spent
# parsing the headers it uses; and with the header forced into every file GCC 12 prints
# -Warray-bounds false positives from <string> that it keeps quiet about otherwise.
#
# Two headers are built, each by a target of its own that compiles nothing else:
# volnode_pch_product (modules, app, benchmarks) and volnode_pch_test (the test programs
# and the benchmarks that link the test support); every other target reuses one of them
# (REUSE_FROM). GCC uses a header only where every macro defined when it was built is
# defined alike, so each owner carries exactly the definitions all its users share
# (volnode_core's or volnode_test_support's public ones) and nothing private
# (volnode_core's own TOML_SHARED_LIB would make GCC refuse it everywhere else).
# -Winvalid-pch, which CMake adds, names any refusal.
#
# With ccache as the compiler launcher (the development setup, CMAKE_CXX_COMPILER_LAUNCHER)
# they stay off even when asked for: ccache caches compiles that use a PCH only with
# sloppiness=pch_defines,time_macros and then hashes the whole header into every compile,
# while its hits across worktrees are faster than any PCH.
option(VOLNODE_PCH "Precompile the standard library and heavy third-party headers (clean builds; measured 1 % less CPU)" OFF)

set(VOLNODE_PCH_ACTIVE ${VOLNODE_PCH})
if(VOLNODE_PCH AND "${CMAKE_CXX_COMPILER_LAUNCHER}" MATCHES "ccache")
  message(STATUS "Precompiled headers off: ccache is the compiler launcher (its hits are faster)")
  set(VOLNODE_PCH_ACTIVE OFF)
endif()

# What most files of either kind include; nothing here may define a macro or name that
# a file could trip over (no DCMTK, VTK, ITK, X11 or system socket headers).
set(VOLNODE_PCH_PRODUCT_HEADERS
  <algorithm> <atomic> <chrono> <condition_variable> <cstdint> <deque> <filesystem>
  <fstream> <functional> <map> <memory> <mutex> <optional> <set> <sstream> <string>
  <string_view> <thread> <unordered_map> <variant> <vector>
  <fmt/format.h> <spdlog/spdlog.h> <nlohmann/json.hpp>)

# volnode_precompile_headers(<target> PRODUCT|TEST): <target> reuses the product or the
# test header.
function(volnode_precompile_headers target kind)
  if(kind STREQUAL "PRODUCT")
    target_precompile_headers(${target} REUSE_FROM volnode_pch_product)
  elseif(kind STREQUAL "TEST")
    target_precompile_headers(${target} REUSE_FROM volnode_pch_test)
  else()
    message(FATAL_ERROR "volnode_precompile_headers(${target} ${kind}): the kind is PRODUCT or TEST")
  endif()
endfunction()

# An owner: an object library that compiles one empty file and builds the header, with
# the usage requirements of <base> (its public definitions, include folders and options,
# read as properties: linking <base> would make a cycle, since <base> reuses the header).
function(_volnode_pch_owner name base)
  set(source ${CMAKE_CURRENT_BINARY_DIR}/${name}.cpp)
  file(CONFIGURE OUTPUT ${source} CONTENT "// ${name}: builds the precompiled header only\n")
  add_library(${name} OBJECT ${source})
  target_compile_definitions(${name} PRIVATE $<TARGET_PROPERTY:${base},INTERFACE_COMPILE_DEFINITIONS>)
  target_include_directories(${name} PRIVATE $<TARGET_PROPERTY:${base},INTERFACE_INCLUDE_DIRECTORIES>)
  target_compile_options(${name} PRIVATE $<TARGET_PROPERTY:${base},INTERFACE_COMPILE_OPTIONS>)
  target_precompile_headers(${name} PRIVATE ${VOLNODE_PCH_PRODUCT_HEADERS})
endfunction()

# The libraries and programs defined in <dir> and its subdirectories.
function(_volnode_compiled_targets dir out)
  get_property(targets DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _volnode_compiled_targets(${sub} more)
    list(APPEND targets ${more})
  endforeach()
  set(compiled)
  foreach(t IN LISTS targets)
    get_target_property(type ${t} TYPE)
    if(type MATCHES "^(EXECUTABLE|STATIC_LIBRARY|SHARED_LIBRARY|OBJECT_LIBRARY)$")
      list(APPEND compiled ${t})
    endif()
  endforeach()
  set(${out} ${compiled} PARENT_SCOPE)
endfunction()

# Called once at the end of the top-level CMakeLists.txt, when every target exists: each
# library and program gets the test header when it links volnode_test_support (the tests,
# most benchmarks), the product header otherwise. fuzz/ is left alone (its targets add
# -fsanitize=fuzzer, so the flags differ). A target or a file opts out with CMake's own
# DISABLE_PRECOMPILE_HEADERS / SKIP_PRECOMPILE_HEADERS properties.
function(volnode_apply_precompiled_headers)
  if(NOT VOLNODE_PCH_ACTIVE)
    return()
  endif()
  _volnode_pch_owner(volnode_pch_product volnode_core)
  if(TARGET volnode_test_support)
    _volnode_pch_owner(volnode_pch_test volnode_test_support)
    target_precompile_headers(volnode_pch_test PRIVATE <gtest/gtest.h>)
  endif()
  get_property(dirs DIRECTORY ${PROJECT_SOURCE_DIR} PROPERTY SUBDIRECTORIES)
  foreach(dir IN LISTS dirs)
    if(dir STREQUAL "${PROJECT_SOURCE_DIR}/fuzz")
      continue()
    endif()
    _volnode_compiled_targets(${dir} targets)
    foreach(t IN LISTS targets)
      get_target_property(libs ${t} LINK_LIBRARIES)
      if(t STREQUAL "volnode_test_support" OR (TARGET volnode_test_support AND "volnode_test_support" IN_LIST libs))
        volnode_precompile_headers(${t} TEST)
      else()
        volnode_precompile_headers(${t} PRODUCT)
      endif()
    endforeach()
  endforeach()
  message(STATUS "Precompiled headers on (VOLNODE_PCH): volnode_pch_product, volnode_pch_test")
endfunction()
