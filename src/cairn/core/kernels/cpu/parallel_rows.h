// parallel_rows: parallel_for whose body is compiled once.
//
// parallel_for runs f inline when the range is small and inside an OpenMP region otherwise, so a lambda gets
// inlined into two call sites and optimised twice. GCC contracts a * b + c into an FMA per copy (C++ allows
// it by default), so the two copies can round differently and a result would depend on the thread count.
// Routing every call through one out-of-line instance of f makes the machine code, and so the bits, the same
// whichever path runs. Kernels whose results must not depend on the thread count use this.
#pragma once
#include <cstdint>

#include "cairn/core/kernels/threading.h"

namespace cairn::kernels::cpu {

template <class F>
[[gnu::noinline]] void run_range_once(const F& f, int64_t b, int64_t e) {
  f(b, e);
}

template <class F>
void parallel_rows(int64_t begin, int64_t end, int64_t grain, const F& f) {
  parallel_for(begin, end, grain, [&f](int64_t b, int64_t e) { run_range_once(f, b, e); });
}

}  // namespace cairn::kernels::cpu
