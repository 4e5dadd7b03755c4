#include "cairn/core/kernels/threading.h"

#include <cblas.h>

#include <cstdlib>
#include <thread>

namespace cairn {
namespace {
int initial_threads() {
  for (const char* var : {"CAIRN_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(var)) {
      int n = std::atoi(v);
      if (n > 0) return n;
    }
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

int& threads() {
  static int n = [] {
    int t = initial_threads();
    omp_set_num_threads(t);
    openblas_set_num_threads(t);
    omp_set_max_active_levels(1);
    return t;
  }();
  return n;
}
}  // namespace

void set_num_threads(int n) {
  if (n < 1) n = 1;
  threads() = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int num_threads() { return threads(); }

}  // namespace cairn
