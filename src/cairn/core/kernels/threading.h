// One threading policy for the whole process: Cairn's loops, OpenBLAS and oneDNN all run on the OpenMP
// pool, sized once by set_num_threads (the CLI's --threads, or OMP_NUM_THREADS / CAIRN_NUM_THREADS at
// start-up, default: every core). Nested parallel regions run serially, so nothing oversubscribes.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace cairn {

void set_num_threads(int n);
int num_threads();

// Splits [begin, end) into at most num_threads() contiguous ranges of at least `grain` items and calls
// f(b, e) on each, in parallel. Runs f(begin, end) inline for small ranges or inside a parallel region.
// The split depends only on the range and the thread count.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  const int nt = num_threads();
  if (nt <= 1 || n < 2 * grain || omp_in_parallel()) {
    f(begin, end);
    return;
  }
  const int64_t chunks = std::min<int64_t>(nt, n / grain);
  const int64_t per = (n + chunks - 1) / chunks;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t b = begin + c * per, e = std::min(end, b + per);
    if (b < e) f(b, e);
  }
}

}  // namespace cairn
