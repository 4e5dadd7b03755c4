// Reductions over one contiguous row, written for the auto-vectoriser: kLanes<T> independent partial sums
// (two cache lines of T) break the add latency chain, then a fixed pairwise tree combines them, so the
// result depends only on n and the data. Used by the softmax and norm kernels.
#pragma once
#include <cstdint>
#include <limits>

namespace cairn::kernels::cpu {

template <class T>
constexpr int kLanes = static_cast<int>(128 / sizeof(T));

template <class T>
inline T combine_lanes(T* acc) {
  for (int w = kLanes<T> / 2; w >= 1; w /= 2)
    for (int k = 0; k < w; ++k) acc[k] += acc[k + w];
  return acc[0];
}

// sum(x[0..n))
template <class T>
inline T sum_of(const T* x, int64_t n) {
  T acc[kLanes<T>] = {};
  int64_t i = 0;
  for (; i + kLanes<T> <= n; i += kLanes<T>)
    for (int k = 0; k < kLanes<T>; ++k) acc[k] += x[i + k];
  T s = combine_lanes(acc);
  for (; i < n; ++i) s += x[i];
  return s;
}

// sum(a * b)
template <class T>
inline T dot_of(const T* a, const T* b, int64_t n) {
  T acc[kLanes<T>] = {};
  int64_t i = 0;
  for (; i + kLanes<T> <= n; i += kLanes<T>)
    for (int k = 0; k < kLanes<T>; ++k) acc[k] += a[i + k] * b[i + k];
  T s = combine_lanes(acc);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// sum((x - mean)^2)
template <class T>
inline T sumsq_dev(const T* x, int64_t n, T mean) {
  T acc[kLanes<T>] = {};
  int64_t i = 0;
  for (; i + kLanes<T> <= n; i += kLanes<T>)
    for (int k = 0; k < kLanes<T>; ++k) {
      const T d = x[i + k] - mean;
      acc[k] += d * d;
    }
  T s = combine_lanes(acc);
  for (; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}

// max(x[0..n)), -inf for n == 0; NaNs are skipped (callers see them through the sums).
template <class T>
inline T max_of(const T* x, int64_t n) {
  constexpr T lo = -std::numeric_limits<T>::infinity();
  T m[kLanes<T>];
  for (int k = 0; k < kLanes<T>; ++k) m[k] = lo;
  int64_t i = 0;
  for (; i + kLanes<T> <= n; i += kLanes<T>)
    for (int k = 0; k < kLanes<T>; ++k) m[k] = x[i + k] > m[k] ? x[i + k] : m[k];
  for (int w = kLanes<T> / 2; w >= 1; w /= 2)
    for (int k = 0; k < w; ++k) m[k] = m[k + w] > m[k] ? m[k + w] : m[k];
  T r = m[0];
  for (; i < n; ++i) r = x[i] > r ? x[i] : r;
  return r;
}

}  // namespace cairn::kernels::cpu
