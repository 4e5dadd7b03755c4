// Reductions over one contiguous row, written for the auto-vectoriser: kLanes<T> independent partial sums
// (two cache lines of T) break the add latency chain, then a fixed pairwise tree combines them, so the
// result depends only on n and the data. Used by the softmax and norm kernels.
#pragma once
#include <cstdint>
#include <limits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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

#if defined(__AVX512F__)
// float32 overloads with the same 32 partial sums (two vectors of 16 lanes) and the same pairwise tree
// (_mm512_reduce_add_ps adds the halves, then quarters, ... as combine_lanes does), so the bits are the templates'.
// GCC kept the templates' partial sums in memory and ended with scalar adds reloaded from the stack: a layer
// norm row of 128 spent more in its three reductions than in its arithmetic.
inline float combine_lanes(__m512 lo, __m512 hi) { return _mm512_reduce_add_ps(_mm512_add_ps(lo, hi)); }

inline float sum_of(const float* x, int64_t n) {
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    lo = _mm512_add_ps(lo, _mm512_loadu_ps(x + i));
    hi = _mm512_add_ps(hi, _mm512_loadu_ps(x + i + 16));
  }
  float s = combine_lanes(lo, hi);
  for (; i < n; ++i) s += x[i];
  return s;
}

inline float dot_of(const float* a, const float* b, int64_t n) {
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    lo = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), lo);
    hi = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), hi);
  }
  float s = combine_lanes(lo, hi);
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

inline float sumsq_dev(const float* x, int64_t n, float mean) {
  const __m512 m = _mm512_set1_ps(mean);
  __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(x + i), m), d1 = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), m);
    lo = _mm512_fmadd_ps(d0, d0, lo);
    hi = _mm512_fmadd_ps(d1, d1, hi);
  }
  float s = combine_lanes(lo, hi);
  for (; i < n; ++i) s += (x[i] - mean) * (x[i] - mean);
  return s;
}
#endif

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
