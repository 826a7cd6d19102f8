// OpenMP's thread-count functions for the code that calls oneDNN. oneDNN here is built on OpenMP,
// whose thread count is a per-calling-thread setting; libgomp comes in through libdnnl, so its
// functions are looked up at run time rather than linked. Null when the process has no OpenMP.
#pragma once

#include <dlfcn.h>

namespace clipkit::cpu {

using OmpSetNumThreads = void (*)(int);
using OmpGetMaxThreads = int (*)();

inline OmpSetNumThreads omp_set_num_threads_fn() {
  static const auto fn =
      reinterpret_cast<OmpSetNumThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  return fn;
}

inline OmpGetMaxThreads omp_get_max_threads_fn() {
  static const auto fn =
      reinterpret_cast<OmpGetMaxThreads>(dlsym(RTLD_DEFAULT, "omp_get_max_threads"));
  return fn;
}

}  // namespace clipkit::cpu
