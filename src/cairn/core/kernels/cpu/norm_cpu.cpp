// CPU layer norm and batch norm, each forward with its backward below it. Every statistic is computed by one
// thread in a fixed order (rows for layer norm, channels for batch norm, column tiles for the weight
// gradients), so results do not depend on the thread count.
#include <cmath>
#include <type_traits>

#include "cairn/core/kernels/cpu/loops.h"
#include "cairn/core/kernels/cpu/parallel_rows.h"
#include "cairn/core/kernels/cpu/row_reduce.h"
#include "cairn/core/kernels/kernels.h"

namespace cairn::kernels::cpu {
namespace {

// Column tiles for reductions over rows of a row-major matrix (stack buffers, no allocation).
constexpr int64_t kTile = 64;

template <class T>
const T* ptr(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.raw_data()) : nullptr;
}
template <class T>
T* mut(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.raw_data()) : nullptr;
}

// ---- layer norm ----

// x (M, D) -> out (M, D) = (x - mean) * rstd * w + b; mean (M) =, rstd (M) =.
template <class T>
void layer_norm_kernel(const Tensor& xt, const Tensor& wt, const Tensor& bt, const Tensor& outt, const Tensor& meant,
                       const Tensor& rstdt, int64_t M, int64_t D, double eps) {
  const T* x = ptr<T>(xt);
  const T* w = ptr<T>(wt);
  const T* b = ptr<T>(bt);
  T* out = mut<T>(outt);
  T* mean = mut<T>(meant);
  T* rstd = mut<T>(rstdt);
  parallel_rows(0, M, std::max<int64_t>(1, kGrain / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * D;
      T* o = out + r * D;
      // Two passes over the row (it is in cache): var from deviations, not E[x^2] - E[x]^2.
      const T m = sum_of(xr, D) / static_cast<T>(D);
      const T s = static_cast<T>(1.0 / std::sqrt(static_cast<double>(sumsq_dev(xr, D, m)) / D + eps));
      mean[r] = m;
      rstd[r] = s;
      if (w && b) {
        for (int64_t i = 0; i < D; ++i) o[i] = (xr[i] - m) * s * w[i] + b[i];
      } else if (w) {
        for (int64_t i = 0; i < D; ++i) o[i] = (xr[i] - m) * s * w[i];
      } else if (b) {
        for (int64_t i = 0; i < D; ++i) o[i] = (xr[i] - m) * s + b[i];
      } else {
        for (int64_t i = 0; i < D; ++i) o[i] = (xr[i] - m) * s;
      }
    }
  });
}

// llm.c's layernorm_backward, split in two passes so that no two threads add into the same buffer:
//   rows:    dx (M, D) = (dnorm - mean(dnorm) - norm * mean(dnorm * norm)) * rstd, dnorm = w * dout
//   columns: dweight (D) = sum_rows(dout * norm), dbias (D) = sum_rows(dout)
template <class T>
void layer_norm_backward_kernel(const Tensor& doutt, const Tensor& xt, const Tensor& meant, const Tensor& rstdt,
                                const Tensor& wt, const Tensor& dxt, const Tensor& dwt, const Tensor& dbt, int64_t M,
                                int64_t D) {
  const T* dout = ptr<T>(doutt);
  const T* x = ptr<T>(xt);
  const T* mean = ptr<T>(meant);
  const T* rstd = ptr<T>(rstdt);
  const T* w = ptr<T>(wt);
  T* dx = mut<T>(dxt);
  T* dw = mut<T>(dwt);
  T* db = mut<T>(dbt);
  if (dx) {
    parallel_rows(0, M, std::max<int64_t>(1, kGrain / std::max<int64_t>(D, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* g = dout + r * D;
        const T* xr = x + r * D;
        T* o = dx + r * D;
        const T m = mean[r], s = rstd[r];
        constexpr int L = kLanes<T>;
        T dnorm_mean, dnorm_norm_mean;
        int64_t i = 0;
#if defined(__AVX512F__)
        if constexpr (std::is_same_v<T, float>) {  // the same partial sums, in registers (row_reduce.h)
          __m512 a1[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()}, a2[2] = {a1[0], a1[0]};
          const __m512 mv = _mm512_set1_ps(m), sv = _mm512_set1_ps(s);
          for (; i + L <= D; i += L)
            for (int h = 0; h < 2; ++h) {
              const int64_t j = i + 16 * h;
              __m512 dn = _mm512_loadu_ps(g + j);
              if (w) dn = _mm512_mul_ps(_mm512_loadu_ps(w + j), dn);
              a1[h] = _mm512_add_ps(a1[h], dn);
              a2[h] = _mm512_fmadd_ps(_mm512_mul_ps(dn, _mm512_sub_ps(_mm512_loadu_ps(xr + j), mv)), sv, a2[h]);
            }
          dnorm_mean = combine_lanes(a1[0], a1[1]);
          dnorm_norm_mean = combine_lanes(a2[0], a2[1]);
        } else
#endif
        {
          T acc1[L] = {}, acc2[L] = {};
          for (; i + L <= D; i += L)
            for (int k = 0; k < L; ++k) {
              const T dn = w ? w[i + k] * g[i + k] : g[i + k];
              acc1[k] += dn;
              acc2[k] += dn * (xr[i + k] - m) * s;
            }
          dnorm_mean = combine_lanes(acc1);
          dnorm_norm_mean = combine_lanes(acc2);
        }
        for (; i < D; ++i) {
          const T dn = w ? w[i] * g[i] : g[i];
          dnorm_mean += dn;
          dnorm_norm_mean += dn * (xr[i] - m) * s;
        }
        dnorm_mean /= static_cast<T>(D);
        dnorm_norm_mean /= static_cast<T>(D);
        for (int64_t j = 0; j < D; ++j) {
          const T dn = w ? w[j] * g[j] : g[j];
          o[j] = (dn - dnorm_mean - (xr[j] - m) * s * dnorm_norm_mean) * s;
        }
      }
    });
  }
  if (!dw && !db) return;
  const int64_t tiles = (D + kTile - 1) / kTile;
  parallel_rows(0, tiles, std::max<int64_t>(1, kGrain / std::max<int64_t>(M * kTile, 1)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t d0 = t * kTile, n = std::min(D, d0 + kTile) - d0;
      T aw[kTile] = {}, ab[kTile] = {};
      for (int64_t r = 0; r < M; ++r) {
        const T* g = dout + r * D + d0;
        const T* xr = x + r * D + d0;
        const T m = mean[r], s = rstd[r];
        for (int64_t i = 0; i < n; ++i) {
          aw[i] += g[i] * (xr[i] - m) * s;
          ab[i] += g[i];
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        if (dw) dw[d0 + i] = aw[i];
        if (db) db[d0 + i] = ab[i];
      }
    }
  });
}

// ---- batch norm ----

// Per-channel sums over (N, S) for x (N, C, S): sum[c] = sum x, and, when `mean` is given, sq[c] =
// sum (x - mean[c])^2. Accumulated in double (a channel can hold N * H * W = 10^5 values).
template <class T>
void channel_sums(const T* x, int64_t N, int64_t C, int64_t S, const double* mean, double* sum, double* sq) {
  if (S > 1) {
    parallel_rows(0, C, std::max<int64_t>(1, kGrain / std::max<int64_t>(N * S, 1)), [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0;
        for (int64_t n = 0; n < N; ++n) {
          const T* seg = x + (n * C + c) * S;
          s += mean ? static_cast<double>(sumsq_dev(seg, S, static_cast<T>(mean[c])))
                    : static_cast<double>(sum_of(seg, S));
        }
        (mean ? sq : sum)[c] = s;
      }
    });
    return;
  }
  // (N, C): channels are columns; tiles of columns, vectorised across c.
  const int64_t tiles = (C + kTile - 1) / kTile;
  parallel_rows(0, tiles, std::max<int64_t>(1, kGrain / std::max<int64_t>(N * kTile, 1)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t c0 = t * kTile, w = std::min(C, c0 + kTile) - c0;
      double acc[kTile] = {};
      for (int64_t n = 0; n < N; ++n) {
        const T* row = x + n * C + c0;
        if (mean) {
          for (int64_t i = 0; i < w; ++i) {
            const double d = static_cast<double>(row[i]) - mean[c0 + i];
            acc[i] += d * d;
          }
        } else {
          for (int64_t i = 0; i < w; ++i) acc[i] += static_cast<double>(row[i]);
        }
      }
      for (int64_t i = 0; i < w; ++i) (mean ? sq : sum)[c0 + i] = acc[i];
    }
  });
}

// Applies y = x * alpha[c] + beta[c] over (N, C, S).
template <class T>
void channel_affine(const T* x, T* y, int64_t N, int64_t C, int64_t S, const T* alpha, const T* beta) {
  parallel_rows(0, N * C, std::max<int64_t>(1, kGrain / std::max<int64_t>(S, 1)), [&](int64_t p0, int64_t p1) {
    if (S == 1) {
      for (int64_t p = p0; p < p1; ++p) y[p] = x[p] * alpha[p % C] + beta[p % C];
      return;
    }
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t c = p % C;
      const T a = alpha[c], b = beta[c];
      const T* xs = x + p * S;
      T* ys = y + p * S;
      for (int64_t i = 0; i < S; ++i) ys[i] = xs[i] * a + b;
    }
  });
}

// x (N, C, S) -> out =, save_mean (C) =, save_invstd (C) =; running stats updated when training.
template <class T>
void batch_norm_kernel(const Tensor& xt, const Tensor& wt, const Tensor& bt, const Tensor& rmt, const Tensor& rvt,
                       const Tensor& outt, const Tensor& smt, const Tensor& sit, int64_t N, int64_t C, int64_t S,
                       bool training, double momentum, double eps) {
  const T* x = ptr<T>(xt);
  const T* w = ptr<T>(wt);
  const T* b = ptr<T>(bt);
  T* save_mean = mut<T>(smt);
  T* save_invstd = mut<T>(sit);
  T* rm = mut<T>(rmt);
  T* rv = mut<T>(rvt);
  const int64_t rms = rmt.defined() ? rmt.strides()[0] : 0, rvs = rvt.defined() ? rvt.strides()[0] : 0;
  // Per-channel scratch: means and sums in double, then the affine coefficients; small (C values each).
  std::vector<double> mean(C), sum(C), sq(C);
  std::vector<T> alpha(C), beta(C);
  if (training) {
    const double count = static_cast<double>(N * S);
    channel_sums(x, N, C, S, nullptr, sum.data(), nullptr);
    for (int64_t c = 0; c < C; ++c) mean[c] = sum[c] / count;
    channel_sums(x, N, C, S, mean.data(), nullptr, sq.data());
    for (int64_t c = 0; c < C; ++c) {
      const double var = sq[c] / count;
      save_mean[c] = static_cast<T>(mean[c]);
      save_invstd[c] = static_cast<T>(1.0 / std::sqrt(var + eps));
      if (rm) rm[c * rms] = static_cast<T>((1.0 - momentum) * rm[c * rms] + momentum * mean[c]);
      if (rv) rv[c * rvs] = static_cast<T>((1.0 - momentum) * rv[c * rvs] + momentum * var * count / (count - 1.0));
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      save_mean[c] = rm[c * rms];
      save_invstd[c] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(rv[c * rvs]) + eps));
    }
  }
  // PyTorch's CPU form: y = x * alpha + beta, alpha = invstd * w, beta = b - mean * alpha.
  for (int64_t c = 0; c < C; ++c) {
    alpha[c] = save_invstd[c] * (w ? w[c] : T(1));
    beta[c] = (b ? b[c] : T(0)) - save_mean[c] * alpha[c];
  }
  channel_affine(x, mut<T>(outt), N, C, S, alpha.data(), beta.data());
}

// training:  dx = (dout - sum(dout) / M - xhat * sum(dout * xhat) / M) * invstd * w,  M = N * S
// inference: dx = dout * invstd * w
// dweight (C) = sum(dout * xhat), dbias (C) = sum(dout); xhat = (x - mean) * invstd.
template <class T>
void batch_norm_backward_kernel(const Tensor& doutt, const Tensor& xt, const Tensor& wt, const Tensor& smt,
                                const Tensor& sit, const Tensor& dxt, const Tensor& dwt, const Tensor& dbt, int64_t N,
                                int64_t C, int64_t S, bool training) {
  const T* dout = ptr<T>(doutt);
  const T* x = ptr<T>(xt);
  const T* w = ptr<T>(wt);
  const T* mean = ptr<T>(smt);
  const T* invstd = ptr<T>(sit);
  T* dx = mut<T>(dxt);
  T* dw = mut<T>(dwt);
  T* db = mut<T>(dbt);
  std::vector<double> sum_dy(C), sum_dy_xmu(C);  // sum(dout), sum(dout * (x - mean))
  const bool need_sums = dw || db || (dx && training);
  if (need_sums) {
    if (S > 1) {
      parallel_rows(0, C, std::max<int64_t>(1, kGrain / std::max<int64_t>(N * S, 1)), [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          const T m = mean[c];
          double s1 = 0, s2 = 0;
          for (int64_t n = 0; n < N; ++n) {
            const T* g = dout + (n * C + c) * S;
            const T* xs = x + (n * C + c) * S;
            constexpr int L = kLanes<T>;
            T a1[L] = {}, a2[L] = {};
            int64_t i = 0;
            for (; i + L <= S; i += L)
              for (int k = 0; k < L; ++k) {
                a1[k] += g[i + k];
                a2[k] += g[i + k] * (xs[i + k] - m);
              }
            T t1 = combine_lanes(a1), t2 = combine_lanes(a2);
            for (; i < S; ++i) {
              t1 += g[i];
              t2 += g[i] * (xs[i] - m);
            }
            s1 += t1;
            s2 += t2;
          }
          sum_dy[c] = s1;
          sum_dy_xmu[c] = s2;
        }
      });
    } else {
      const int64_t tiles = (C + kTile - 1) / kTile;
      parallel_rows(0, tiles, std::max<int64_t>(1, kGrain / std::max<int64_t>(N * kTile, 1)),
                    [&](int64_t t0, int64_t t1) {
                      for (int64_t t = t0; t < t1; ++t) {
                        const int64_t c0 = t * kTile, wd = std::min(C, c0 + kTile) - c0;
                        double a1[kTile] = {}, a2[kTile] = {};
                        for (int64_t n = 0; n < N; ++n) {
                          const T* g = dout + n * C + c0;
                          const T* xs = x + n * C + c0;
                          for (int64_t i = 0; i < wd; ++i) {
                            a1[i] += g[i];
                            a2[i] += static_cast<double>(g[i]) * static_cast<double>(xs[i] - mean[c0 + i]);
                          }
                        }
                        for (int64_t i = 0; i < wd; ++i) {
                          sum_dy[c0 + i] = a1[i];
                          sum_dy_xmu[c0 + i] = a2[i];
                        }
                      }
                    });
    }
  }
  for (int64_t c = 0; c < C; ++c) {
    if (dw) dw[c] = static_cast<T>(sum_dy_xmu[c] * invstd[c]);
    if (db) db[c] = static_cast<T>(sum_dy[c]);
  }
  if (!dx) return;
  // Per channel: dx = (dout - mean_dy - (x - mean) * proj) * k (PyTorch's CPU form: x - mean first).
  const double M = static_cast<double>(N * S);
  std::vector<T> k(C), mdy(C), proj(C);
  for (int64_t c = 0; c < C; ++c) {
    const double is = invstd[c];
    k[c] = static_cast<T>(is * (w ? static_cast<double>(w[c]) : 1.0));
    mdy[c] = training ? static_cast<T>(sum_dy[c] / M) : T(0);
    proj[c] = training ? static_cast<T>(sum_dy_xmu[c] * is * is / M) : T(0);
  }
  parallel_rows(0, N * C, std::max<int64_t>(1, kGrain / std::max<int64_t>(S, 1)), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t c = p % C;
      const T kc = k[c], md = mdy[c], pc = proj[c], m = mean[c];
      const T* g = dout + p * S;
      const T* xs = x + p * S;
      T* o = dx + p * S;
      for (int64_t i = 0; i < S; ++i) o[i] = (g[i] - md - (xs[i] - m) * pc) * kc;
    }
  });
}

template <class T>
void register_norm(DType dt) {
  registry_table<LayerNormKernel>("layer_norm").set(DeviceType::CPU, dt, layer_norm_kernel<T>);
  registry_table<LayerNormBackwardKernel>("layer_norm_bw").set(DeviceType::CPU, dt, layer_norm_backward_kernel<T>);
  registry_table<BatchNormKernel>("batch_norm").set(DeviceType::CPU, dt, batch_norm_kernel<T>);
  registry_table<BatchNormBackwardKernel>("batch_norm_bw").set(DeviceType::CPU, dt, batch_norm_backward_kernel<T>);
}

}  // namespace

void register_norm() {
  register_norm<float>(DType::f32);
  register_norm<double>(DType::f64);
}

}  // namespace cairn::kernels::cpu
