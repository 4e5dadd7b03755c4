// CPU reductions over the middle axis of a contiguous (A, R, C) view. Work splits over output positions
// only, and long single-output sums use fixed-size blocks, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cairn/core/kernels/cpu/loops.h"
#include "cairn/core/kernels/kernels.h"

namespace cairn::kernels::cpu {
namespace {

constexpr int64_t kBlock = 4096;

template <class T>
struct SumOp {
  static T init() { return T(0); }
  static T combine(T a, T b) { return a + b; }
};
template <class T>
struct MaxOp {
  static T init() { return -std::numeric_limits<T>::infinity(); }
  static T combine(T a, T b) { return (a > b || std::isnan(a)) ? a : b; }
};
template <class T>
struct MinOp {
  static T init() { return std::numeric_limits<T>::infinity(); }
  static T combine(T a, T b) { return (a < b || std::isnan(a)) ? a : b; }
};

// Reduces n contiguous values; sums accumulate block partials in double so long sums stay accurate.
template <class T, class Op>
T reduce_row(const T* x, int64_t n) {
  if constexpr (std::is_same_v<Op, SumOp<T>>) {
    double total = 0.0;
    for (int64_t b = 0; b < n; b += kBlock) {
      const int64_t e = std::min(n, b + kBlock);
      T acc[8] = {};
      int64_t i = b;
      for (; i + 8 <= e; i += 8)
        for (int k = 0; k < 8; ++k) acc[k] += x[i + k];
      T s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      for (; i < e; ++i) s += x[i];
      total += static_cast<double>(s);
    }
    return static_cast<T>(total);
  } else {
    T acc = Op::init();
    for (int64_t i = 0; i < n; ++i) acc = Op::combine(acc, x[i]);
    return acc;
  }
}

template <class T, class Op>
void reduce_kernel(const Tensor& xt, const Tensor& outt, int64_t A, int64_t R, int64_t C) {
  const T* x = static_cast<const T*>(xt.raw_data());
  T* out = static_cast<T*>(outt.raw_data());
  if (C == 1) {
    if (A == 1 && R >= 2 * kGrain) {
      // One long row: fixed blocks reduced in parallel, combined in order.
      const int64_t nb = (R + kGrain - 1) / kGrain;
      std::vector<T> part(nb);
      parallel_for(0, nb, 1, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) part[k] = reduce_row<T, Op>(x + k * kGrain, std::min(kGrain, R - k * kGrain));
      });
      T acc = Op::init();
      if constexpr (std::is_same_v<Op, SumOp<T>>) {
        double s = 0;
        for (T p : part) s += p;
        acc = static_cast<T>(s);
      } else {
        for (T p : part) acc = Op::combine(acc, p);
      }
      out[0] = acc;
      return;
    }
    parallel_for(0, A, std::max<int64_t>(1, kGrain / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
      for (int64_t a = b; a < e; ++a) out[a] = reduce_row<T, Op>(x + a * R, R);
    });
    return;
  }
  // Column reduction: vectorizes over c, kColumns columns at a time held in a local block (registers) over all
  // the rows, each written once (a bias gradient: 768 rows of 128-512 columns).
  constexpr int64_t kColumns = 64;
  auto run = [&](int64_t a, int64_t c0, int64_t c1) {
    T* o = out + a * C;
    const T* base = x + a * R * C;
    for (int64_t cb = c0; cb < c1; cb += kColumns) {
      const int64_t w = std::min(kColumns, c1 - cb);
      T acc[kColumns];
      for (int64_t c = 0; c < kColumns; ++c) acc[c] = Op::init();
      if (w == kColumns) {
        for (int64_t r = 0; r < R; ++r) {
          const T* row = base + r * C + cb;
#pragma omp simd
          for (int64_t c = 0; c < kColumns; ++c) acc[c] = Op::combine(acc[c], row[c]);
        }
      } else {
        for (int64_t r = 0; r < R; ++r) {
          const T* row = base + r * C + cb;
          for (int64_t c = 0; c < w; ++c) acc[c] = Op::combine(acc[c], row[c]);
        }
      }
      std::copy_n(acc, w, o + cb);
    }
  };
  if (A >= num_threads() || A * R * C < 2 * kGrain) {
    parallel_for(0, A, std::max<int64_t>(1, kGrain / std::max<int64_t>(R * C, 1)), [&](int64_t b, int64_t e) {
      for (int64_t a = b; a < e; ++a) run(a, 0, C);
    });
  } else {
    for (int64_t a = 0; a < A; ++a)
      parallel_for(0, C, 64, [&](int64_t b, int64_t e) { run(a, b, e); });
  }
}

template <class T, bool IsMax>
void arg_reduce_kernel(const Tensor& xt, const Tensor& vt, const Tensor& it, int64_t A, int64_t R, int64_t C) {
  const T* x = static_cast<const T*>(xt.raw_data());
  T* v = static_cast<T*>(vt.raw_data());
  int64_t* idx = static_cast<int64_t*>(it.raw_data());
  parallel_for(0, A * C, std::max<int64_t>(1, kGrain / std::max<int64_t>(R, 1)), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t a = p / C, c = p % C;
      const T* base = x + a * R * C + c;
      T best = base[0];
      int64_t bi = 0;
      for (int64_t r = 1; r < R && !std::isnan(best); ++r) {
        const T val = base[r * C];
        if (std::isnan(val) || (IsMax ? val > best : val < best)) {
          best = val;
          bi = r;
        }
      }
      v[p] = best;
      idx[p] = bi;
    }
  });
}

template <class T>
void register_reduce(DType dt) {
  registry_table<ReduceKernel>("sum").set(DeviceType::CPU, dt, reduce_kernel<T, SumOp<T>>);
  registry_table<ReduceKernel>("max").set(DeviceType::CPU, dt, reduce_kernel<T, MaxOp<T>>);
  registry_table<ReduceKernel>("min").set(DeviceType::CPU, dt, reduce_kernel<T, MinOp<T>>);
  registry_table<ArgReduceKernel>("argmax").set(DeviceType::CPU, dt, arg_reduce_kernel<T, true>);
  registry_table<ArgReduceKernel>("argmin").set(DeviceType::CPU, dt, arg_reduce_kernel<T, false>);
}

}  // namespace

void register_reduce() {
  register_reduce<float>(DType::f32);
  register_reduce<double>(DType::f64);
}

}  // namespace cairn::kernels::cpu
