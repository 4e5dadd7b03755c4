// Strided N-ary loops for CPU elementwise kernels. An operation over tensors broadcast to one output
// shape is planned once (dims of size 1 dropped, dims that are contiguous for every operand merged), then
// run as an outer loop over rows and an inner loop over the last dim, parallel over rows (or over
// elements when the whole thing is one row). Inner loops with unit strides are written so the compiler
// vectorizes them.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "cairn/core/kernels/threading.h"
#include "cairn/core/tensor/tensor.h"

namespace cairn::kernels::cpu {

constexpr int64_t kGrain = 32768;  // elements per thread before a loop goes parallel

template <int N>
struct LoopPlan {
  std::vector<int64_t> shape;                     // coalesced; shape.back() is the inner dim
  std::array<std::vector<int64_t>, N> strides;    // per operand, in elements; 0 = broadcast
};

// Strides of t (whose shape broadcasts to `shape`) aligned to `shape`, 0 in broadcast dims.
std::vector<int64_t> broadcast_strides(const Tensor& t, const Shape& shape);

template <int N>
LoopPlan<N> make_plan(const Shape& shape, const std::array<std::vector<int64_t>, N>& strides) {
  LoopPlan<N> p;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!p.shape.empty()) {
      bool merge = true;
      for (int k = 0; k < N; ++k)
        if (p.strides[k].back() != strides[k][d] * shape[d]) merge = false;
      if (merge) {
        p.shape.back() *= shape[d];
        for (int k = 0; k < N; ++k) p.strides[k].back() = strides[k][d];
        continue;
      }
    }
    p.shape.push_back(shape[d]);
    for (int k = 0; k < N; ++k) p.strides[k].push_back(strides[k][d]);
  }
  if (p.shape.empty()) {
    p.shape.push_back(1);
    for (int k = 0; k < N; ++k) p.strides[k].push_back(0);
  }
  return p;
}

// Calls f(ptr offsets[N], n, inner strides[N]) for each inner row; rows split across threads.
template <int N, class F>
void run_plan(const LoopPlan<N>& p, const F& f) {
  const int nd = static_cast<int>(p.shape.size());
  const int64_t inner = p.shape.back();
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; ++d) rows *= p.shape[d];
  std::array<int64_t, N> is;
  for (int k = 0; k < N; ++k) is[k] = p.strides[k].back();
  if (rows == 1) {
    parallel_for(0, inner, kGrain, [&](int64_t b, int64_t e) {
      std::array<int64_t, N> off;
      for (int k = 0; k < N; ++k) off[k] = b * is[k];
      f(off, e - b, is);
    });
    return;
  }
  int64_t grain = std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1));
  parallel_for(0, rows, grain, [&](int64_t rb, int64_t re) {
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 1, 0);
    int64_t r = rb;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = r % p.shape[d];
      r /= p.shape[d];
    }
    for (int64_t row = rb; row < re; ++row) {
      std::array<int64_t, N> off{};
      for (int d = 0; d < nd - 1; ++d)
        for (int k = 0; k < N; ++k) off[k] += idx[d] * p.strides[k][d];
      f(off, inner, is);
      for (int d = nd - 2; d >= 0; --d) {
        if (++idx[d] < p.shape[d]) break;
        idx[d] = 0;
      }
    }
  });
}

}  // namespace cairn::kernels::cpu
