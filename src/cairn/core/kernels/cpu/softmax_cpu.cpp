// CPU softmax, log_softmax and the fused softmax + cross-entropy, each forward with its backward below it.
//
// A contiguous row is normalised with one read of x for both the max and the sum: the row is cut into
// blocks, each block's max is taken first (vectorised, cheap), and when it raises the running max the sum
// so far is rescaled once, so exp runs once per element rather than twice as a per-element online update
// would (Milakov & Gimelshein, "Online normalizer calculation for softmax", 2018, done per block).
// Softmax keeps exp(x - block's max) in the output and fixes each block with one factor at the end.
// exp is vec_exp (vec_exp.h), which the compiler vectorises.
// Rows split across threads; each row is computed by one thread, so results do not depend on the thread
// count.
#include <cmath>
#include <limits>

#include "cairn/core/kernels/cpu/loops.h"
#include "cairn/core/kernels/cpu/parallel_rows.h"
#include "cairn/core/kernels/cpu/row_reduce.h"
#include "cairn/core/kernels/cpu/vec_exp.h"
#include "cairn/core/kernels/kernels.h"

namespace cairn::kernels::cpu {
namespace {

// exp is ~10x the cost of an add, so rows go parallel well before kGrain elements.
constexpr int64_t kExpGrain = 8192;
// Softmax over a non-last dim runs over tiles of this many columns (stack buffers, no allocation).
constexpr int64_t kTile = 64;
constexpr int64_t kMaxBlocks = 256;
// exp(x - m) is computed into buffers of this many values and then summed, so both loops vectorise.
constexpr int64_t kChunk = 256;

// Rows are processed in blocks of block_len(n) values: at most kMaxBlocks of them, so softmax_row can keep
// each block's reference max on the stack.
inline int64_t block_len(int64_t n) {
  constexpr int64_t kBlock = 256;
  return n <= kBlock * kMaxBlocks ? kBlock : ((n + kMaxBlocks - 1) / kMaxBlocks + 7) / 8 * 8;
}

// e[i] = exp(x[i] - m) for n values; vectorised (vec_exp), returns their sum.
template <class T>
T exp_shifted(const T* x, T* e, int64_t n, T m) {
  for (int64_t i = 0; i < n; ++i) e[i] = vec_exp(x[i] - m);
  return sum_of(e, n);
}

// max and sum(exp(x - max)) of a contiguous row of n values, reading x once. When e is given,
// e[i] = exp(x[i] - the running max after x[i]'s block), and block_max[b] receives that reference max for
// block b (the caller rescales block b by exp(block_max[b] - max)).
template <class T>
void row_max_sum(const T* x, int64_t n, T* e, T* block_max, T& max_out, T& sum_out) {
  const int64_t block = block_len(n);
  T scratch[kChunk];
  T m = -std::numeric_limits<T>::infinity(), s = T(0);
  for (int64_t b = 0, k = 0; b < n; b += block, ++k) {
    const int64_t len = std::min(block, n - b);
    const T bm = max_of(x + b, len);
    if (bm > m) {
      s *= std::exp(m - bm);  // exp(-inf) = 0 on the first block
      m = bm;
    }
    // A row of -inf keeps m = -inf and gives NaN, as PyTorch does.
    for (int64_t c = 0; c < len; c += kChunk) {
      const int64_t cl = std::min(kChunk, len - c);
      s += exp_shifted(x + b + c, e ? e + b + c : scratch, cl, m);
    }
    if (e) block_max[k] = m;
  }
  max_out = m;
  sum_out = s;
}

// y = softmax(x) over a contiguous row (y must not alias x); m, s = the row's max and sum(exp(x - m)).
template <class T>
void softmax_row(const T* x, T* y, int64_t n, T& m, T& s) {
  T bmax[kMaxBlocks];
  row_max_sum(x, n, y, bmax, m, s);
  const int64_t block = block_len(n);
  const T inv = T(1) / s;
  for (int64_t b = 0, k = 0; b < n; b += block, ++k) {
    const T f = bmax[k] == m ? inv : std::exp(bmax[k] - m) * inv;
    T* yb = y + b;
    const int64_t len = std::min(block, n - b);
    for (int64_t i = 0; i < len; ++i) yb[i] *= f;
  }
}

// Softmax over the middle axis of (A, R, C) with C > 1: tiles of columns, vectorised over c.
template <class T, bool Log>
void softmax_strided(const T* x, T* y, int64_t a, int64_t c0, int64_t c1, int64_t R, int64_t C) {
  T m[kTile], s[kTile];
  const int64_t w = c1 - c0;
  const T* xa = x + a * R * C + c0;
  T* ya = y + a * R * C + c0;
  for (int64_t c = 0; c < w; ++c) {
    m[c] = -std::numeric_limits<T>::infinity();
    s[c] = T(0);
  }
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < w; ++c) m[c] = xa[r * C + c] > m[c] ? xa[r * C + c] : m[c];
  for (int64_t r = 0; r < R; ++r)
    for (int64_t c = 0; c < w; ++c) {
      const T e = vec_exp(xa[r * C + c] - m[c]);
      if constexpr (!Log) ya[r * C + c] = e;
      s[c] += e;
    }
  if constexpr (Log) {
    for (int64_t c = 0; c < w; ++c) s[c] = std::log(s[c]);
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < w; ++c) ya[r * C + c] = (xa[r * C + c] - m[c]) - s[c];
  } else {
    for (int64_t c = 0; c < w; ++c) s[c] = T(1) / s[c];
    for (int64_t r = 0; r < R; ++r)
      for (int64_t c = 0; c < w; ++c) ya[r * C + c] *= s[c];
  }
}

// Runs f(a, c0, c1) over every (row, column tile) of (A, R, C), in parallel.
template <class F>
void for_tiles(int64_t A, int64_t R, int64_t C, const F& f) {
  const int64_t tiles = (C + kTile - 1) / kTile;
  const int64_t per_item = R * std::min(C, kTile);
  parallel_rows(0, A * tiles, std::max<int64_t>(1, kExpGrain / std::max<int64_t>(per_item, 1)),
                [&](int64_t b, int64_t e) {
                  for (int64_t i = b; i < e; ++i) {
                    const int64_t a = i / tiles, c0 = (i % tiles) * kTile;
                    f(a, c0, std::min(C, c0 + kTile));
                  }
                });
}

// x, out: (A, R, C) -> out = softmax / log_softmax over R.
template <class T, bool Log>
void softmax_kernel(const Tensor& xt, const Tensor& outt, int64_t A, int64_t R, int64_t C) {
  const T* x = static_cast<const T*>(xt.raw_data());
  T* y = static_cast<T*>(outt.raw_data());
  if (R == 0 || A == 0 || C == 0) return;
  if (C > 1) {
    for_tiles(A, R, C, [&](int64_t a, int64_t c0, int64_t c1) { softmax_strided<T, Log>(x, y, a, c0, c1, R, C); });
    return;
  }
  parallel_rows(0, A, std::max<int64_t>(1, kExpGrain / R), [&](int64_t b, int64_t e) {
    for (int64_t a = b; a < e; ++a) {
      const T* xr = x + a * R;
      T* yr = y + a * R;
      if constexpr (Log) {
        T m, s;
        row_max_sum<T>(xr, R, nullptr, nullptr, m, s);
        // (x - m) - log(s) is exact in its first step; x - (m + log(s)) would round at m's magnitude.
        const T ls = std::log(s);
        for (int64_t i = 0; i < R; ++i) yr[i] = (xr[i] - m) - ls;
      } else {
        T m, s;
        softmax_row(xr, yr, R, m, s);
      }
    }
  });
}

// g, y, gx: (A, R, C). softmax: gx = y * (g - sum_R(g * y)); log_softmax: gx = g - exp(y) * sum_R(g).
template <class T, bool Log>
void softmax_backward_kernel(const Tensor& gt, const Tensor& yt, const Tensor& gxt, int64_t A, int64_t R, int64_t C) {
  const T* g = static_cast<const T*>(gt.raw_data());
  const T* y = static_cast<const T*>(yt.raw_data());
  T* gx = static_cast<T*>(gxt.raw_data());
  if (R == 0 || A == 0 || C == 0) return;
  if (C > 1) {
    for_tiles(A, R, C, [&](int64_t a, int64_t c0, int64_t c1) {
      T acc[kTile];
      const int64_t w = c1 - c0, base = a * R * C + c0;
      for (int64_t c = 0; c < w; ++c) acc[c] = T(0);
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < w; ++c) {
          const int64_t i = base + r * C + c;
          acc[c] += Log ? g[i] : g[i] * y[i];
        }
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < w; ++c) {
          const int64_t i = base + r * C + c;
          gx[i] = Log ? g[i] - vec_exp(y[i]) * acc[c] : y[i] * (g[i] - acc[c]);
        }
    });
    return;
  }
  parallel_rows(0, A, std::max<int64_t>(1, (Log ? kExpGrain : kGrain) / R), [&](int64_t b, int64_t e) {
    for (int64_t a = b; a < e; ++a) {
      const T* gr = g + a * R;
      const T* yr = y + a * R;
      T* o = gx + a * R;
      if constexpr (Log) {
        const T sg = sum_of(gr, R);
        for (int64_t i = 0; i < R; ++i) o[i] = gr[i] - vec_exp(yr[i]) * sg;
      } else {
        const T d = dot_of(gr, yr, R);
        for (int64_t i = 0; i < R; ++i) o[i] = yr[i] * (gr[i] - d);
      }
    }
  });
}

// ---- cross-entropy: log_softmax + NLL (+ label smoothing) in one pass over the logits ----

template <class T>
struct CEView {
  const T* x;
  const int64_t* t;
  const T* w;  // null: all ones
  T* p;        // null: no probabilities wanted
  T* loss;
  int64_t N, C, S, ignore;
  double ls;
  double wsum;  // sum of the class weights (C without weights)
};

template <class T>
CEView<T> ce_view(const Tensor& logits, const Tensor& target, const Tensor& weight, const Tensor& probs,
                  const Tensor& loss, const CrossEntropyArgs& a) {
  CEView<T> v{static_cast<const T*>(logits.raw_data()),
              static_cast<const int64_t*>(target.raw_data()),
              weight.defined() ? static_cast<const T*>(weight.raw_data()) : nullptr,
              probs.defined() ? static_cast<T*>(probs.raw_data()) : nullptr,
              loss.defined() ? static_cast<T*>(loss.raw_data()) : nullptr,
              a.N,
              a.C,
              a.S,
              a.ignore_index,
              a.label_smoothing,
              static_cast<double>(a.C)};
  if (v.w) {
    v.wsum = 0;
    for (int64_t c = 0; c < a.C; ++c) v.wsum += v.w[c];
  }
  return v;
}

// Loss at one position from its logsumexp, target logit and (for smoothing) sum_c w[c] * x[c].
template <class T>
T ce_position_loss(const CEView<T>& v, int64_t t, double lse, double xt, double wx) {
  if (t == v.ignore) return T(0);
  const double wt = v.w ? static_cast<double>(v.w[t]) : 1.0;
  double l = -wt * (xt - lse);
  if (v.ls > 0) {
    const double smooth = -(wx - lse * v.wsum);  // -sum_c w[c] * (x[c] - lse)
    l = (1.0 - v.ls) * l + (v.ls / static_cast<double>(v.C)) * smooth;
  }
  return static_cast<T>(l);
}

// logits (N, C, S), target (N, S) -> loss (N, S) =, probs (N, C, S) = (when wanted).
template <class T>
void cross_entropy_kernel(const Tensor& logits, const Tensor& target, const Tensor& weight, const Tensor& probs,
                          const Tensor& loss, CrossEntropyArgs a) {
  const CEView<T> v = ce_view<T>(logits, target, weight, probs, loss, a);
  const int64_t C = v.C, S = v.S;
  if (v.N == 0 || S == 0) return;
  if (S == 1) {
    parallel_rows(0, v.N, std::max<int64_t>(1, kExpGrain / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        const T* xr = v.x + n * C;
        T m, s;
        if (v.p)
          softmax_row(xr, v.p + n * C, C, m, s);
        else
          row_max_sum<T>(xr, C, nullptr, nullptr, m, s);
        const double lse = static_cast<double>(m) + std::log(static_cast<double>(s));
        const int64_t t = v.t[n];
        if (t == v.ignore) {
          v.loss[n] = T(0);
          continue;
        }
        double wx = 0;
        if (v.ls > 0) wx = v.w ? static_cast<double>(dot_of(v.w, xr, C)) : static_cast<double>(sum_of(xr, C));
        v.loss[n] = ce_position_loss(v, t, lse, static_cast<double>(xr[t]), wx);
      }
    });
    return;
  }
  // (N, C, S) with S > 1: tiles of positions, vectorised over s.
  for_tiles(v.N, C, S, [&](int64_t n, int64_t s0, int64_t s1) {
    T m[kTile], sum[kTile], wx[kTile];
    const int64_t w = s1 - s0;
    const T* xa = v.x + n * C * S + s0;
    T* pa = v.p ? v.p + n * C * S + s0 : nullptr;
    for (int64_t j = 0; j < w; ++j) {
      m[j] = -std::numeric_limits<T>::infinity();
      sum[j] = T(0);
      wx[j] = T(0);
    }
    for (int64_t c = 0; c < C; ++c)
      for (int64_t j = 0; j < w; ++j) m[j] = xa[c * S + j] > m[j] ? xa[c * S + j] : m[j];
    for (int64_t c = 0; c < C; ++c) {
      const T wc = v.w ? v.w[c] : T(1);
      for (int64_t j = 0; j < w; ++j) {
        const T xv = xa[c * S + j];
        const T e = vec_exp(xv - m[j]);
        if (pa) pa[c * S + j] = e;
        sum[j] += e;
        wx[j] += wc * xv;
      }
    }
    if (pa) {
      T inv[kTile];
      for (int64_t j = 0; j < w; ++j) inv[j] = T(1) / sum[j];
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < w; ++j) pa[c * S + j] *= inv[j];
    }
    for (int64_t j = 0; j < w; ++j) {
      const int64_t pos = n * S + s0 + j, t = v.t[pos];
      if (t == v.ignore) {
        v.loss[pos] = T(0);
        continue;
      }
      const double lse = static_cast<double>(m[j]) + std::log(static_cast<double>(sum[j]));
      v.loss[pos] = ce_position_loss(v, t, lse, static_cast<double>(xa[t * S + j]), static_cast<double>(wx[j]));
    }
  });
}

// grad_logits (N, C, S) = gamma * (p * ((1-ls) w[t] + ls W / C) - (1-ls) w[t] [c == t] - (ls / C) w[c]),
// gamma = scale * gloss at the position; 0 at ignored positions.
template <class T>
void cross_entropy_backward_kernel(const Tensor& gloss, double scale, const Tensor& probs, const Tensor& target,
                                   const Tensor& weight, const Tensor& grad_logits, CrossEntropyArgs a) {
  const CEView<T> v = ce_view<T>(probs, target, weight, Tensor(), Tensor(), a);
  const T* p = v.x;
  const T* gl = static_cast<const T*>(gloss.raw_data());
  const bool broadcast = gloss.numel() == 1;
  T* gx = static_cast<T*>(grad_logits.raw_data());
  const int64_t C = v.C, S = v.S;
  const double ls = v.ls, ls_c = v.ls / static_cast<double>(C);
  // Per position: coefficient of p, of the one-hot target, and of w[c].
  auto coefs = [&](int64_t pos, T& cp, T& ct, T& cw) {
    const int64_t t = v.t[pos];
    if (t == v.ignore) {
      cp = ct = cw = T(0);
      return;
    }
    const double gamma = scale * static_cast<double>(broadcast ? gl[0] : gl[pos]);
    const double wt = v.w ? static_cast<double>(v.w[t]) : 1.0;
    cp = static_cast<T>(gamma * ((1.0 - ls) * wt + ls_c * v.wsum));
    ct = static_cast<T>(gamma * (1.0 - ls) * wt);
    cw = static_cast<T>(gamma * ls_c);
  };
  if (S == 1) {
    parallel_rows(0, v.N, std::max<int64_t>(1, kGrain / std::max<int64_t>(C, 1)), [&](int64_t b, int64_t e) {
      for (int64_t n = b; n < e; ++n) {
        T cp, ct, cw;
        coefs(n, cp, ct, cw);
        const T* pr = p + n * C;
        T* o = gx + n * C;
        if (v.w) {
          for (int64_t c = 0; c < C; ++c) o[c] = pr[c] * cp - cw * v.w[c];
        } else {
          for (int64_t c = 0; c < C; ++c) o[c] = pr[c] * cp - cw;
        }
        if (ct != T(0)) o[v.t[n]] -= ct;
      }
    });
    return;
  }
  for_tiles(v.N, C, S, [&](int64_t n, int64_t s0, int64_t s1) {
    T cp[kTile], ct[kTile], cw[kTile];
    const int64_t w = s1 - s0, base = n * C * S + s0;
    for (int64_t j = 0; j < w; ++j) coefs(n * S + s0 + j, cp[j], ct[j], cw[j]);
    for (int64_t c = 0; c < C; ++c) {
      const T wc = v.w ? v.w[c] : T(1);
      for (int64_t j = 0; j < w; ++j) gx[base + c * S + j] = p[base + c * S + j] * cp[j] - cw[j] * wc;
    }
    for (int64_t j = 0; j < w; ++j)
      if (ct[j] != T(0)) gx[base + v.t[n * S + s0 + j] * S + j] -= ct[j];
  });
}

template <class T>
void register_softmax(DType dt) {
  registry_table<SoftmaxKernel>("softmax").set(DeviceType::CPU, dt, softmax_kernel<T, false>);
  registry_table<SoftmaxKernel>("log_softmax").set(DeviceType::CPU, dt, softmax_kernel<T, true>);
  registry_table<SoftmaxBackwardKernel>("softmax_bw").set(DeviceType::CPU, dt, softmax_backward_kernel<T, false>);
  registry_table<SoftmaxBackwardKernel>("log_softmax_bw").set(DeviceType::CPU, dt, softmax_backward_kernel<T, true>);
  registry_table<CrossEntropyKernel>("cross_entropy").set(DeviceType::CPU, dt, cross_entropy_kernel<T>);
  registry_table<CrossEntropyBackwardKernel>("cross_entropy_bw")
      .set(DeviceType::CPU, dt, cross_entropy_backward_kernel<T>);
}

}  // namespace

void register_softmax() {
  register_softmax<float>(DType::f32);
  register_softmax<double>(DType::f64);
}

}  // namespace cairn::kernels::cpu
