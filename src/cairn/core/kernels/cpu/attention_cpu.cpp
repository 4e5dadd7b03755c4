// CPU fused attention, forward with its backward below it (FlashAttention-2 on a CPU).
//
// Forward: for each (b, h) and tile of kQRows queries, visit the keys in tiles of kKCols; per tile compute the
// scores S = scale * Q K^T + masks (kQRows x kKCols, one small GEMM), update each row's running max m and sum l,
// rescale the output accumulator and add P V (a second GEMM). Only the output and lse = m + log(l) per row are
// kept; no (Tq, Tk) matrix. Tiles of 16 queries let a causal mask skip most of the upper triangle's tiles.
// Backward: recompute each score tile from q, k and lse (P = exp(S - lse)), then with D_i = dO_i . O_i (five GEMMs
// per tile):
//   dV += P^T dO,  dP = dO V^T,  dS = P * (dP - D_i),  dQ += scale * dS K,  dK += scale * dS^T Q.
// Dropout on the probabilities (AttentionArgs::dropout): the forward's sums use the whole P, the P V product the
// dropped and rescaled P~ = P * Z (Z = keep / (1 - p)); the backward takes dV from P~, dS = P * (dP * Z - D_i),
// where D_i = dO_i . O_i still equals sum_j P~_ij dP_ij. Z comes from a hash of (seed, position), so nothing is
// stored between the two passes.
// Work is split over (b, h) pairs: each writes only its own rows of dq, dk, dv, so there are no races and the
// results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "cairn/core/kernels/cpu/parallel_rows.h"
#include "cairn/core/kernels/cpu/row_reduce.h"
#include "cairn/core/kernels/cpu/vec_exp.h"
#include "cairn/core/kernels/kernels.h"

namespace cairn::kernels::cpu {
namespace {

constexpr int64_t kQRows = 16;  // queries per tile
constexpr int64_t kKCols = 64;  // keys per tile

// Element strides of a (B, H, T, D) view (last dim contiguous, checked by the op).
struct View4 {
  char* base = nullptr;
  int64_t sb = 0, sh = 0, st = 0;
  template <class T>
  T* row(int64_t b, int64_t h, int64_t t) const {
    return reinterpret_cast<T*>(base) + b * sb + h * sh + t * st;
  }
};

View4 view4(const Tensor& t) {
  if (!t.defined()) return {};
  const auto& s = t.strides();
  return {static_cast<char*>(t.raw_data()), s[0], s[1], s[2]};
}

// The masks of one (b, h) pair.
struct Masks {
  const uint8_t* pad = nullptr;  // (Tk) or null
  View4 add;                     // additive (Tq, Tk) rows, or base null
  int64_t causal_offset = 0;     // key j allowed for query i when j <= i + offset
  bool causal = false;
};

Masks masks_for(const Tensor& pad, const View4& add, int64_t b, int64_t Tq, int64_t Tk, bool causal) {
  Masks m;
  m.pad = pad.defined() ? static_cast<const uint8_t*>(pad.raw_data()) + b * Tk : nullptr;
  m.add = add;
  m.causal = causal;
  m.causal_offset = Tk - Tq;
  return m;
}

// Keys [0, limit) can be seen by some query of [0, i1).
int64_t key_limit(bool causal, int64_t offset, int64_t i1, int64_t Tk) {
  return causal ? std::clamp<int64_t>(i1 + offset, 0, Tk) : Tk;
}

// z (rows x cols, row stride kKCols) = the dropout factors of this tile: 1 / (1 - p) where kept, 0 where dropped.
template <class T>
void dropout_tile(const AttentionArgs& a, int64_t pair, int64_t i0, int64_t rows, int64_t j0, int64_t cols,
                  int64_t Tq, int64_t Tk, T* z) {
  const uint32_t threshold = attention_dropout_threshold(a.dropout);
  const T keep = static_cast<T>(1.0 / (1.0 - a.dropout));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      z[r * kKCols + j] = attention_dropout_bits(a.seed, pair, i0 + r, j0 + j, Tq, Tk) >= threshold ? keep : T(0);
}

#if defined(__AVX512F__)
// 16 x 16 floats: dst row i (stride ldd) = column i of the 16 rows at src[r] (strided rows, as attention's q, k, v
// are views into one (B, T, 3, H, D) projection). Unpacks pair rows, then 128-bit lanes are shuffled twice.
inline void transpose16(const float* const* src, float* dst, int64_t ldd) {
  __m512 r[16], t[16];
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src[i]);
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4)
    for (int k = 0; k < 2; ++k) {
      const __m512d a = _mm512_castps_pd(t[i + k]), c = _mm512_castps_pd(t[i + k + 2]);
      r[i + 2 * k] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
      r[i + 2 * k + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    }
  for (int i = 0; i < 16; i += 8)
    for (int k = 0; k < 4; ++k) {
      t[i + k] = _mm512_shuffle_f32x4(r[i + k], r[i + k + 4], 0x88);
      t[i + k + 4] = _mm512_shuffle_f32x4(r[i + k], r[i + k + 4], 0xdd);
    }
  for (int k = 0; k < 8; ++k) {
    r[k] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88);
    r[k + 8] = _mm512_shuffle_f32x4(t[k], t[k + 8], 0xdd);
  }
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * ldd, r[i]);
}
#endif

// xt (D x n, row stride ld) = rows 0..n of x[b, h] transposed: keys (and, in the backward, values) are transposed
// once per head, so that every tile's GEMM reads them as they are instead of transposing its tile again.
template <class T>
void transpose_head(const View4& x, int64_t b, int64_t h, int64_t n, int64_t D, T* xt, int64_t ld) {
  int64_t j0 = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (D % 16 == 0)
      for (; j0 + 16 <= n; j0 += 16) {
        const float* rows[16];
        for (int64_t d0 = 0; d0 < D; d0 += 16) {
          for (int i = 0; i < 16; ++i) rows[i] = x.row<float>(b, h, j0 + i) + d0;
          transpose16(rows, xt + d0 * ld + j0, ld);
        }
      }
  }
#endif
  for (int64_t j = j0; j < n; ++j) {
    const T* r = x.row<T>(b, h, j);
    for (int64_t d = 0; d < D; ++d) xt[d * ld + j] = r[d];
  }
}

// Whether to transpose keys per head: for a few queries (decoding against a KV cache) each key is used once or
// twice, and the GEMM's dot products read them untransposed for less.
inline bool transpose_keys(int64_t Tq) { return Tq >= kQRows; }

// s (rows x cols, row stride kKCols) = scale * q[i0 + r] . k[j0 + j] (one GEMM, on kt = k[b, h]^T with row
// stride Tk when given) + masks, -inf where masked.
template <class T>
void score_tile(GemmKernel gemm, const View4& q, const View4& k, const T* kt, int64_t Tk, int64_t b, int64_t h,
                int64_t i0, int64_t rows, int64_t j0, int64_t cols, int64_t D, double scale, const Masks& mk, T* s) {
  if (kt)
    gemm(false, false, rows, cols, D, scale, q.row<T>(b, h, i0), q.st, kt + j0, Tk, 0.0, s, kKCols);
  else
    gemm(false, true, rows, cols, D, scale, q.row<T>(b, h, i0), q.st, k.row<T>(b, h, j0), k.st, 0.0, s, kKCols);
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  for (int64_t r = 0; r < rows; ++r) {
    T* sr = s + r * kKCols;
    if (mk.add.base) {
      const T* ar = mk.add.template row<T>(b, h, i0 + r) + j0;
      for (int64_t j = 0; j < cols; ++j) sr[j] += ar[j];
    }
    if (mk.pad)
      for (int64_t j = 0; j < cols; ++j)
        if (mk.pad[j0 + j]) sr[j] = kNegInf;
    if (mk.causal) {
      const int64_t last = i0 + r + mk.causal_offset;  // last visible key
#pragma omp simd
      for (int64_t j = std::max<int64_t>(0, last + 1 - j0); j < cols; ++j) sr[j] = kNegInf;
    }
  }
}

// A score row's max and exp-sum as OpenMP SIMD reductions (vectorised; the lane-wise order is fixed, so results
// do not depend on the thread count). row_reduce.h's max_of and sum_of keep 32 partial results for long rows;
// on these rows of at most 64 scores their combining tree made the forward ~20% slower (gpt_bench attention).
template <class T>
T row_max(const T* x, int64_t n) {
  T mx = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : mx)
  for (int64_t j = 0; j < n; ++j) mx = x[j] > mx ? x[j] : mx;
  return mx;
}

// x[j] = exp(x[j] - shift) in place; returns their sum.
template <class T>
T exp_shifted_sum(T* x, int64_t n, T shift) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < n; ++j) {
    x[j] = vec_exp(x[j] - shift);
    sum += x[j];
  }
  return sum;
}

#if defined(__AVX512F__)
// float32 score rows of 16 to 64: GCC ends the OpenMP SIMD reductions above by storing the vector and adding its
// 16 lanes one after another, a chain that cost more than the row's arithmetic (about a third of the forward
// kernel). Here each row is one vector accumulator, the tail masked, reduced by a shuffle tree; the order is fixed
// by n alone. (D_i = dO_i . O_i takes row_reduce.h's dot_of, whose float32 form is in registers too.)
inline __mmask16 lanes(int64_t w) { return static_cast<__mmask16>((1u << w) - 1); }  // the first w of 16, w <= 16

inline float row_max(const float* x, int64_t n) {
  __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + j));
  if (j < n) m = _mm512_mask_max_ps(m, lanes(n - j), m, _mm512_maskz_loadu_ps(lanes(n - j), x + j));
  return _mm512_reduce_max_ps(m);
}

inline float exp_shifted_sum(float* x, int64_t n, float shift) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) x[j] = vec_exp(x[j] - shift);
  __m512 s = _mm512_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) s = _mm512_add_ps(s, _mm512_loadu_ps(x + j));
  if (j < n) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(lanes(n - j), x + j));
  return _mm512_reduce_add_ps(s);
}
#endif

#if defined(__AVX512F__)
// ---- float32 pairs of at most 64 keys and head width 16-64: scores in registers ----
// GPT and BERT here have 64 positions and heads of 32. For them the tiles above spend more time around their
// GEMM calls (scores stored, then read again for the max, the exps and the sum; accumulators loaded and stored
// per call) than in them. The forward takes 16 queries at a time as the lanes of a vector (forward_queries), so
// each row's max and sum are elementwise over the keys and its exps, log and reciprocal vector operations. The
// backward takes four query rows at a time, keeps their scores against every visible key in registers (4 x up to
// 4 vectors), forms P and dS there, and adds the block's outer products into dK and dV (the rows stay in
// registers across the keys) and its dS K into dQ. (Queries as lanes in the backward too was slower: 0.44 against
// 0.36 ms on gpt_bench attention, its dK and dV updates reloading the rows for every four keys.) Same mathematics
// as the tiles; sums in another order. Not for dropout or an additive mask (the tiles do those).
namespace fused {

constexpr int kRows = 4;      // query rows per block
constexpr int64_t kLd = 64;   // row stride of transposed keys and values and of the P and dS buffers

// Lanes [0, n) of 16, n clamped to [0, 16]; branch-free (the causal diagonal changes n every key).
inline __mmask16 first_lanes(int64_t n) {
  return static_cast<__mmask16>(_bzhi_u32(0xffffu, static_cast<uint32_t>(std::clamp<int64_t>(n, 0, 16))));
}

// What one pair's blocks share.
struct Pair {
  int64_t b, h;               // batch, head
  const float* kt;            // D x Tk keys, row stride kLd
  __mmask16 keys[4];          // keys that exist and are not padding
  bool causal;
  int64_t offset;             // causal: query i sees keys j <= i + offset
  float scale;
};

// Keys [16 c, 16 c + 16) query i may see.
inline __mmask16 visible(const Pair& pr, int64_t i, int c) {
  return pr.keys[c] & (pr.causal ? first_lanes(i + pr.offset + 1 - 16 * c) : __mmask16(0xffff));
}

// s[r][c] = x_r . xt[:, 16c : 16c + 16] (x_r: D = 16 DV floats at rows[r]).
template <int DV, int NV>
[[gnu::always_inline]] inline void row_products(const float* const (&rows)[kRows], const float* xt,
                                                __m512 (&s)[kRows][NV]) {
  for (int r = 0; r < kRows; ++r)
    for (int c = 0; c < NV; ++c) s[r][c] = _mm512_setzero_ps();
  for (int d = 0; d < 16 * DV; ++d) {
    __m512 kv[NV];
    for (int c = 0; c < NV; ++c) kv[c] = _mm512_loadu_ps(xt + d * kLd + 16 * c);
    for (int r = 0; r < kRows; ++r) {
      const __m512 x = _mm512_set1_ps(rows[r][d]);
      for (int c = 0; c < NV; ++c) s[r][c] = _mm512_fmadd_ps(x, kv[c], s[r][c]);
    }
  }
}

// acc[j] (n rows of 16 DV floats) += sum_r w[r][j] x_r: the block's share of dV (w = P, x = dO) or dK (dS, q).
template <int DV>
[[gnu::always_inline]] inline void add_outer(const float* w, const float* const (&x)[kRows], int64_t n, float* acc) {
  __m512 xr[kRows][DV];
  for (int r = 0; r < kRows; ++r)
    for (int c = 0; c < DV; ++c) xr[r][c] = _mm512_loadu_ps(x[r] + 16 * c);
  for (int64_t j = 0; j < n; ++j) {
    float* a = acc + j * 16 * DV;
    __m512 av[DV];
    for (int c = 0; c < DV; ++c) av[c] = _mm512_loadu_ps(a + 16 * c);
    for (int r = 0; r < kRows; ++r) {
      const __m512 wr = _mm512_set1_ps(w[r * kLd + j]);
      for (int c = 0; c < DV; ++c) av[c] = _mm512_fmadd_ps(wr, xr[r][c], av[c]);
    }
    for (int c = 0; c < DV; ++c) _mm512_storeu_ps(a + 16 * c, av[c]);
  }
}

// out_r = sum_j w[r][j] y_j for j < n (y_j: rows of y[b, h]): dQ = dS K; rows < `rows` stored.
template <int DV>
[[gnu::always_inline]] inline void weighted_rows(const float* w, const View4& y, int64_t b, int64_t h, int64_t n,
                                                 const View4& out, int64_t i0, int rows) {
  __m512 acc[kRows][DV];
  for (int r = 0; r < kRows; ++r)
    for (int c = 0; c < DV; ++c) acc[r][c] = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; ++j) {
    const float* yr = y.row<float>(b, h, j);
    __m512 yv[DV];
    for (int c = 0; c < DV; ++c) yv[c] = _mm512_loadu_ps(yr + 16 * c);
    for (int r = 0; r < kRows; ++r) {
      const __m512 wr = _mm512_set1_ps(w[r * kLd + j]);
      for (int c = 0; c < DV; ++c) acc[r][c] = _mm512_fmadd_ps(wr, yv[c], acc[r][c]);
    }
  }
  for (int r = 0; r < rows; ++r) {
    float* o = out.row<float>(b, h, i0 + r);
    for (int c = 0; c < DV; ++c) _mm512_storeu_ps(o + 16 * c, acc[r][c]);
  }
}

// The backward of rows i0 .. i0 + rows: dQ rows written, dK and dV (kend x D scratch) added to.
template <int DV, int NV>
void backward_block(const Pair& pr, const float* vt, const View4& q, const View4& k, const View4& o, const View4& dO,
                    const View4& dq, const float* lse, int64_t i0, int rows, int64_t kend, float* pbuf, float* dsbuf,
                    float* dkacc, float* dvacc) {
  const float* qr[kRows];
  const float* dor[kRows];
  float Di[kRows], li[kRows];
  for (int r = 0; r < kRows; ++r) {
    const int64_t i = i0 + std::min(r, rows - 1);
    qr[r] = q.row<float>(pr.b, pr.h, i);
    dor[r] = dO.row<float>(pr.b, pr.h, i);
    const float* orow = o.row<float>(pr.b, pr.h, i);
    __m512 d = _mm512_setzero_ps();
    for (int c = 0; c < DV; ++c) d = _mm512_fmadd_ps(_mm512_loadu_ps(dor[r] + 16 * c), _mm512_loadu_ps(orow + 16 * c), d);
    Di[r] = _mm512_reduce_add_ps(d);  // D_i = dO_i . O_i
    li[r] = r < rows ? lse[i] : -std::numeric_limits<float>::infinity();
  }
  const __m512 scale = _mm512_set1_ps(pr.scale), ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 s[kRows][NV];
  row_products<DV, NV>(qr, pr.kt, s);
  for (int r = 0; r < kRows; ++r) {  // P = exp(S - lse), 0 where masked and on rows that are not there
    const bool none = li[r] == -std::numeric_limits<float>::infinity();
    const __m512 l = _mm512_set1_ps(li[r]);
    for (int c = 0; c < NV; ++c) {
      const __m512 x = _mm512_mask_mul_ps(ninf, none ? __mmask16(0) : visible(pr, i0 + r, c), s[r][c], scale);
      _mm512_storeu_ps(pbuf + r * kLd + 16 * c, none ? _mm512_setzero_ps() : vec_exp16(_mm512_sub_ps(x, l)));
    }
  }
  row_products<DV, NV>(dor, vt, s);  // dP = dO V^T
  for (int r = 0; r < kRows; ++r) {  // dS = P (dP - D_i) scale
    const __m512 d = _mm512_set1_ps(Di[r]);
    for (int c = 0; c < NV; ++c) {
      const __m512 ds = _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(pbuf + r * kLd + 16 * c), _mm512_sub_ps(s[r][c], d)), scale);
      _mm512_storeu_ps(dsbuf + r * kLd + 16 * c, r < rows ? ds : _mm512_setzero_ps());
    }
  }
  if (dvacc) add_outer<DV>(pbuf, dor, kend, dvacc);
  if (dkacc) add_outer<DV>(dsbuf, qr, kend, dkacc);
  if (dq.base) weighted_rows<DV>(dsbuf, k, pr.b, pr.h, kend, dq, i0, rows);
}

// The keys block rows [i0, i0 + rows) can see, and how many vectors they take (at least one).
inline int64_t block_keys(const Pair& pr, int64_t Tk, int64_t i0, int rows) {
  return pr.causal ? std::clamp<int64_t>(i0 + rows + pr.offset, 0, Tk) : Tk;
}

template <int DV, class F>
void for_each_block(const Pair& pr, int64_t Tq, int64_t Tk, F&& f) {
  for (int64_t i0 = 0; i0 < Tq; i0 += kRows) {
    const int rows = static_cast<int>(std::min<int64_t>(kRows, Tq - i0));
    const int64_t kend = block_keys(pr, Tk, i0, rows);
    switch (std::max<int64_t>(1, (kend + 15) / 16)) {
      case 1: f(std::integral_constant<int, 1>{}, i0, rows, kend); break;
      case 2: f(std::integral_constant<int, 2>{}, i0, rows, kend); break;
      case 3: f(std::integral_constant<int, 3>{}, i0, rows, kend); break;
      default: f(std::integral_constant<int, 4>{}, i0, rows, kend); break;
    }
  }
}

inline Pair pair_for(const Tensor& pad, int64_t b, int64_t h, int64_t Tq, int64_t Tk, const AttentionArgs& a,
                     const float* kt) {
  Pair pr{b, h, kt, {}, a.causal, Tk - Tq, static_cast<float>(a.scale)};
  const uint8_t* padr = pad.defined() ? static_cast<const uint8_t*>(pad.raw_data()) + b * Tk : nullptr;
  for (int c = 0; c < 4; ++c) {
    uint32_t bits = 0;
    for (int l = 0; l < 16; ++l) {
      const int64_t j = 16 * c + l;
      if (j < Tk && !(padr && padr[j])) bits |= 1u << l;
    }
    pr.keys[c] = static_cast<__mmask16>(bits);
  }
  return pr;
}

// The forward with the queries as lanes: a block of 16 queries is one vector per key (S^T[j], then P^T[j]), so
// each row's max and sum are elementwise over the keys, and the 16 rows' exps, logs and reciprocals are vector
// operations; q is transposed into the block's lanes and the output transposed back.
template <int DV>
void forward_queries(const Pair& pr, const View4& q, const View4& v, const View4& o, float* lse, int64_t Tq,
                     int64_t Tk) {
  constexpr int64_t D = 16 * DV;
  alignas(64) float qT[D * 16], sT[kLd * 16], oT[16 * 16], m[16], l[16];
  const __m512 scale = _mm512_set1_ps(pr.scale), ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const auto [b, h] = std::pair{pr.b, pr.h};
  for (int64_t i0 = 0; i0 < Tq; i0 += 16) {
    const int rows = static_cast<int>(std::min<int64_t>(16, Tq - i0));
    const int64_t kend = block_keys(pr, Tk, i0, rows);
    const float* src[16];
    for (int64_t d0 = 0; d0 < D; d0 += 16) {
      for (int r = 0; r < 16; ++r) src[r] = q.row<float>(b, h, i0 + std::min(r, rows - 1)) + d0;
      transpose16(src, qT + d0 * 16, 16);
    }
    // S^T[j] = sum_d k^T[d][j] q^T[d], sixteen keys at a time (16 accumulators; k^T's zero padding past Tk)
    for (int64_t j0 = 0; j0 < kend; j0 += 16) {
      __m512 acc[16];
      for (int g = 0; g < 16; ++g) acc[g] = _mm512_setzero_ps();
      for (int64_t d = 0; d < D; ++d) {
        const __m512 qd = _mm512_load_ps(qT + d * 16);
        const float* kd = pr.kt + d * kLd + j0;
        for (int g = 0; g < 16; ++g) acc[g] = _mm512_fmadd_ps(_mm512_set1_ps(kd[g]), qd, acc[g]);
      }
      for (int g = 0; g < 16; ++g) _mm512_store_ps(sT + (j0 + g) * 16, acc[g]);
    }
    // Scale and masks (-inf), the row max; then P = exp(S - max) and the row sum
    const __mmask16 live = first_lanes(rows);
    __m512 mx = ninf;
    for (int64_t j = 0; j < kend; ++j) {
      __mmask16 vis = (pr.keys[j / 16] >> (j % 16)) & 1 ? live : __mmask16(0);
      if (pr.causal) vis &= static_cast<__mmask16>(~first_lanes(j - pr.offset - i0));  // query i0 + l sees j
      const __m512 x = _mm512_mask_mul_ps(ninf, vis, _mm512_load_ps(sT + j * 16), scale);
      _mm512_store_ps(sT + j * 16, x);
      mx = _mm512_max_ps(mx, x);
    }
    const __mmask16 none = _mm512_cmp_ps_mask(mx, ninf, _CMP_EQ_OQ);  // rows with no visible key
    const __m512 shift = _mm512_mask_mov_ps(mx, none, _mm512_setzero_ps());
    __m512 sum = _mm512_setzero_ps();
    for (int64_t j = 0; j < kend; ++j) {
      const __m512 e = vec_exp16(_mm512_sub_ps(_mm512_load_ps(sT + j * 16), shift));
      _mm512_store_ps(sT + j * 16, e);
      sum = _mm512_add_ps(sum, e);
    }
    _mm512_store_ps(m, mx);
    _mm512_store_ps(l, sum);
    for (int r = 0; r < rows; ++r) lse[i0 + r] = (none >> r) & 1 ? m[r] : m[r] + std::log(l[r]);
    const __m512 inv = _mm512_maskz_div_ps(static_cast<__mmask16>(~none), _mm512_set1_ps(1.0f), sum);
    // O^T[d] = sum_j P^T[j] v[j][d] / l, 16 columns at a time, transposed back into the output rows
    for (int c = 0; c < DV; ++c) {
      __m512 acc[16];
      for (int d = 0; d < 16; ++d) acc[d] = _mm512_setzero_ps();
      for (int64_t j = 0; j < kend; ++j) {
        const __m512 pj = _mm512_load_ps(sT + j * 16);
        const float* vr = v.row<float>(b, h, j) + 16 * c;
        for (int d = 0; d < 16; ++d) acc[d] = _mm512_fmadd_ps(pj, _mm512_set1_ps(vr[d]), acc[d]);
      }
      for (int d = 0; d < 16; ++d) _mm512_store_ps(oT + d * 16, _mm512_mul_ps(acc[d], inv));
      for (int d = 0; d < 16; ++d) src[d] = oT + d * 16;
      if (rows == 16) {
        transpose16(src, o.row<float>(b, h, i0) + 16 * c, o.st);
      } else {
        alignas(64) float rowsbuf[16 * 16];
        transpose16(src, rowsbuf, 16);
        for (int r = 0; r < rows; ++r) std::copy_n(rowsbuf + r * 16, 16, o.row<float>(b, h, i0 + r) + 16 * c);
      }
    }
  }
}

template <int DV>
void forward(const Tensor& qt, const Tensor& kt, const Tensor& vt, const Tensor& pad, const Tensor& outt,
             const Tensor& lset, const AttentionArgs& a) {
  const int64_t B = qt.shape()[0], H = qt.shape()[1], Tq = qt.shape()[2], Tk = kt.shape()[2];
  const View4 q = view4(qt), k = view4(kt), v = view4(vt), o = view4(outt);
  float* lse = static_cast<float*>(lset.raw_data());
  parallel_rows(0, B * H, 1, [&](int64_t p0, int64_t p1) {
    alignas(64) float kT[16 * DV * kLd] = {};
    for (int64_t p = p0; p < p1; ++p) {
      transpose_head(k, p / H, p % H, Tk, 16 * DV, kT, kLd);
      const Pair pr = pair_for(pad, p / H, p % H, Tq, Tk, a, kT);
      forward_queries<DV>(pr, q, v, o, lse + p * Tq, Tq, Tk);
    }
  });
}

template <int DV>
void backward(const Tensor& dot, const Tensor& qt, const Tensor& kt, const Tensor& vt, const Tensor& pad,
              const Tensor& outt, const Tensor& lset, const Tensor& dqt, const Tensor& dkt, const Tensor& dvt,
              const AttentionArgs& a) {
  constexpr int64_t D = 16 * DV;
  const int64_t B = qt.shape()[0], H = qt.shape()[1], Tq = qt.shape()[2], Tk = kt.shape()[2];
  const View4 q = view4(qt), k = view4(kt), v = view4(vt), o = view4(outt), dO = view4(dot);
  const View4 dq = view4(dqt), dk = view4(dkt), dv = view4(dvt);
  const float* lse = static_cast<const float*>(lset.raw_data());
  parallel_rows(0, B * H, 1, [&](int64_t p0, int64_t p1) {
    alignas(64) float kT[D * kLd] = {}, vT[D * kLd] = {}, pbuf[kRows * kLd], dsbuf[kRows * kLd];
    alignas(64) float dkacc[kLd * D], dvacc[kLd * D];
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / H, h = p % H;
      transpose_head(k, b, h, Tk, D, kT, kLd);
      transpose_head(v, b, h, Tk, D, vT, kLd);
      std::fill_n(dkacc, Tk * D, 0.0f);
      std::fill_n(dvacc, Tk * D, 0.0f);
      const Pair pr = pair_for(pad, b, h, Tq, Tk, a, kT);
      for_each_block<DV>(pr, Tq, Tk, [&](auto nv, int64_t i0, int rows, int64_t kend) {
        backward_block<DV, decltype(nv)::value>(pr, vT, q, k, o, dO, dq, lse + p * Tq, i0, rows, kend, pbuf, dsbuf,
                                                dk.base ? dkacc : nullptr, dv.base ? dvacc : nullptr);
      });
      if (dk.base)
        for (int64_t j = 0; j < Tk; ++j) std::copy_n(dkacc + j * D, D, dk.row<float>(b, h, j));
      if (dv.base)
        for (int64_t j = 0; j < Tk; ++j) std::copy_n(dvacc + j * D, D, dv.row<float>(b, h, j));
    }
  });
}

// f(std::integral_constant<int, DV>) for heads of D = 16 DV floats, DV in 1..4.
template <class F>
void with_width(int64_t D, F&& f) {
  switch (D / 16) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    default: f(std::integral_constant<int, 4>{}); break;
  }
}

// Whether these shapes and options take the fused kernels.
inline bool fits(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, const AttentionArgs& a) {
  const int64_t D = q.shape()[3];
  return q.dtype() == DType::f32 && v.shape()[3] == D && D % 16 == 0 && D <= 64 && k.shape()[2] <= kLd &&
         a.dropout == 0 && !mask.defined();
}

}  // namespace fused
#endif

// ---- forward ----

template <class T>
void attention_kernel(const Tensor& qt, const Tensor& kt, const Tensor& vt, const Tensor& pad, const Tensor& mask,
                      const Tensor& outt, const Tensor& lset, AttentionArgs a) {
  const int64_t B = qt.shape()[0], H = qt.shape()[1], Tq = qt.shape()[2], D = qt.shape()[3];
  const int64_t Tk = kt.shape()[2], Dv = vt.shape()[3];
  const View4 q = view4(qt), k = view4(kt), v = view4(vt), o = view4(outt), add = view4(mask);
  T* lse = static_cast<T*>(lset.raw_data());
#if defined(__AVX512F__)
  // Decoding (a few queries against a KV cache) stays with the tiles: a pair's keys are transposed for 16 queries.
  if constexpr (std::is_same_v<T, float>) {
    if (fused::fits(qt, kt, vt, mask, a) && Tq >= kQRows) {
      fused::with_width(D, [&](auto dv) { fused::forward<decltype(dv)::value>(qt, kt, vt, pad, outt, lset, a); });
      return;
    }
  }
#endif
  const GemmKernel gemm = table<GemmKernel>("gemm").get(DeviceType::CPU, qt.dtype());
  constexpr T kNegInf = -std::numeric_limits<T>::infinity();
  parallel_rows(0, B * H, 1, [&](int64_t p0, int64_t p1) {
    std::vector<T> s(kQRows * kKCols), acc(kQRows * Dv), m(kQRows), l(kQRows);
    std::vector<T> kT(transpose_keys(Tq) ? D * Tk : 0), z(a.dropout > 0 ? kQRows * kKCols : 0);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / H, h = p % H;
      const Masks mk = masks_for(pad, add, b, Tq, Tk, a.causal);
      if (!kT.empty()) transpose_head(k, b, h, Tk, D, kT.data(), Tk);
      for (int64_t i0 = 0; i0 < Tq; i0 += kQRows) {
        const int64_t rows = std::min(kQRows, Tq - i0);
        std::fill(m.begin(), m.end(), kNegInf);
        std::fill(l.begin(), l.end(), T(0));
        std::fill(acc.begin(), acc.end(), T(0));
        const int64_t kend = key_limit(a.causal, mk.causal_offset, i0 + rows, Tk);
        for (int64_t j0 = 0; j0 < kend; j0 += kKCols) {
          const int64_t cols = std::min(kKCols, kend - j0);
          score_tile<T>(gemm, q, k, kT.empty() ? nullptr : kT.data(), Tk, b, h, i0, rows, j0, cols, D, a.scale, mk,
                        s.data());
          // Online softmax: P = exp(S - m_new) in place, acc and l rescaled by exp(m_old - m_new).
          for (int64_t r = 0; r < rows; ++r) {
            T* sr = s.data() + r * kKCols;
            const T mx = std::max(m[r], row_max(sr, cols));
            if (mx == kNegInf) {  // every key so far masked: this tile adds nothing
              for (int64_t j = 0; j < cols; ++j) sr[j] = 0;
              continue;
            }
            const T alpha = vec_exp(m[r] - mx);  // 0 on the first visible tile (m = -inf)
            const T sum = exp_shifted_sum(sr, cols, mx);
            l[r] = l[r] * alpha + sum;
            const bool rescale = alpha != T(1) && m[r] != kNegInf;  // acc is still 0 before the first visible tile
            m[r] = mx;
            if (rescale) {
              T* ar = acc.data() + r * Dv;
              for (int64_t d = 0; d < Dv; ++d) ar[d] *= alpha;
            }
          }
          if (a.dropout > 0) {  // l keeps the whole P; P V uses the dropped, rescaled P~
            dropout_tile<T>(a, p, i0, rows, j0, cols, Tq, Tk, z.data());
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t j = 0; j < cols; ++j) s[r * kKCols + j] *= z[r * kKCols + j];
          }
          // acc (rows, Dv) += P (rows, cols) @ V[j0 : j0 + cols] (cols, Dv)
          gemm(false, false, rows, Dv, cols, 1.0, s.data(), kKCols, v.row<T>(b, h, j0), v.st, 1.0, acc.data(), Dv);
        }
        for (int64_t r = 0; r < rows; ++r) {
          T* orow = o.row<T>(b, h, i0 + r);
          T* lrow = lse + (p * Tq + i0 + r);
          if (l[r] == T(0)) {
            for (int64_t d = 0; d < Dv; ++d) orow[d] = 0;
            *lrow = kNegInf;
          } else {
            const T inv = T(1) / l[r];
            const T* ar = acc.data() + r * Dv;
            for (int64_t d = 0; d < Dv; ++d) orow[d] = ar[d] * inv;
            *lrow = m[r] + std::log(l[r]);
          }
        }
      }
    }
  });
}

// ---- backward ----

template <class T>
void attention_backward_kernel(const Tensor& dot, const Tensor& qt, const Tensor& kt, const Tensor& vt,
                               const Tensor& pad, const Tensor& mask, const Tensor& outt, const Tensor& lset,
                               const Tensor& dqt, const Tensor& dkt, const Tensor& dvt, AttentionArgs a) {
  const int64_t B = qt.shape()[0], H = qt.shape()[1], Tq = qt.shape()[2], D = qt.shape()[3];
  const int64_t Tk = kt.shape()[2], Dv = vt.shape()[3];
  const View4 q = view4(qt), k = view4(kt), v = view4(vt), o = view4(outt), dO = view4(dot), add = view4(mask);
  const View4 dq = view4(dqt), dk = view4(dkt), dv = view4(dvt);
  const T* lse = static_cast<const T*>(lset.raw_data());
  const T scale = static_cast<T>(a.scale);
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<T, float>) {
    if (fused::fits(qt, kt, vt, mask, a)) {
      fused::with_width(D, [&](auto dv) {
        fused::backward<decltype(dv)::value>(dot, qt, kt, vt, pad, outt, lset, dqt, dkt, dvt, a);
      });
      return;
    }
  }
#endif
  const GemmKernel gemm = table<GemmKernel>("gemm").get(DeviceType::CPU, qt.dtype());
  parallel_rows(0, B * H, 1, [&](int64_t p0, int64_t p1) {
    std::vector<T> s(kQRows * kKCols), dp(kQRows * kKCols), Di(kQRows), dqacc(kQRows * D);
    std::vector<T> z(a.dropout > 0 ? kQRows * kKCols : 0), pz(z.size());
    // dk, dv accumulate over query tiles in contiguous scratch and are written once at the end.
    std::vector<T> dkacc(Tk * D), dvacc(Tk * Dv), kT(D * Tk), vT(Dv * Tk);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / H, h = p % H;
      const Masks mk = masks_for(pad, add, b, Tq, Tk, a.causal);
      transpose_head(k, b, h, Tk, D, kT.data(), Tk);
      transpose_head(v, b, h, Tk, Dv, vT.data(), Tk);
      std::fill(dkacc.begin(), dkacc.end(), T(0));
      std::fill(dvacc.begin(), dvacc.end(), T(0));
      for (int64_t i0 = 0; i0 < Tq; i0 += kQRows) {
        const int64_t rows = std::min(kQRows, Tq - i0);
        const int64_t kend = key_limit(a.causal, mk.causal_offset, i0 + rows, Tk);
        for (int64_t r = 0; r < rows; ++r)  // D_i = dO_i . O_i
          Di[r] = dot_of(dO.row<T>(b, h, i0 + r), o.row<T>(b, h, i0 + r), Dv);
        std::fill(dqacc.begin(), dqacc.end(), T(0));
        for (int64_t j0 = 0; j0 < kend; j0 += kKCols) {
          const int64_t cols = std::min(kKCols, kend - j0);
          score_tile<T>(gemm, q, k, kT.data(), Tk, b, h, i0, rows, j0, cols, D, a.scale, mk, s.data());
          for (int64_t r = 0; r < rows; ++r) {  // P = exp(S - lse), 0 where masked
            T* sr = s.data() + r * kKCols;
            const T li = lse[p * Tq + i0 + r];
            if (li == -std::numeric_limits<T>::infinity()) {
              for (int64_t j = 0; j < cols; ++j) sr[j] = 0;
            } else {
              for (int64_t j = 0; j < cols; ++j) sr[j] = vec_exp(sr[j] - li);
            }
          }
          const T* pv = s.data();  // the P that multiplied V: P, or P~ = P * Z under dropout
          if (a.dropout > 0) {
            dropout_tile<T>(a, p, i0, rows, j0, cols, Tq, Tk, z.data());
            for (int64_t r = 0; r < rows; ++r)
              for (int64_t j = 0; j < cols; ++j) pz[r * kKCols + j] = s[r * kKCols + j] * z[r * kKCols + j];
            pv = pz.data();
          }
          // dV[j0 : j0 + cols] += P~^T (cols, rows) @ dO (rows, Dv)
          gemm(true, false, cols, Dv, rows, 1.0, pv, kKCols, dO.row<T>(b, h, i0), dO.st, 1.0, dvacc.data() + j0 * Dv,
               Dv);
          // dP (rows, cols) = dO (rows, Dv) @ V^T
          gemm(false, false, rows, cols, Dv, 1.0, dO.row<T>(b, h, i0), dO.st, vT.data() + j0, Tk, 0.0, dp.data(),
               kKCols);
          // dS = P * (dP * Z - D_i) * scale (the scale of S = scale * q k^T folded in), in place of P
          for (int64_t r = 0; r < rows; ++r) {
            T* sr = s.data() + r * kKCols;
            T* dpr = dp.data() + r * kKCols;
            const T di = Di[r];
            if (a.dropout > 0)
              for (int64_t j = 0; j < cols; ++j) dpr[j] *= z[r * kKCols + j];
            for (int64_t j = 0; j < cols; ++j) sr[j] = sr[j] * (dpr[j] - di) * scale;
          }
          // dQ (rows, D) += dS (rows, cols) @ K[j0 : j0 + cols];  dK[j0 : j0 + cols] += dS^T @ Q (rows, D)
          if (dq.base)
            gemm(false, false, rows, D, cols, 1.0, s.data(), kKCols, k.row<T>(b, h, j0), k.st, 1.0, dqacc.data(), D);
          if (dk.base)
            gemm(true, false, cols, D, rows, 1.0, s.data(), kKCols, q.row<T>(b, h, i0), q.st, 1.0,
                 dkacc.data() + j0 * D, D);
        }
        if (dq.base)
          for (int64_t r = 0; r < rows; ++r) std::copy_n(dqacc.data() + r * D, D, dq.row<T>(b, h, i0 + r));
      }
      if (dk.base)
        for (int64_t j = 0; j < Tk; ++j) std::copy_n(dkacc.data() + j * D, D, dk.row<T>(b, h, j));
      if (dv.base)
        for (int64_t j = 0; j < Tk; ++j) std::copy_n(dvacc.data() + j * Dv, Dv, dv.row<T>(b, h, j));
    }
  });
}

template <class T>
void register_attention(DType dt) {
  registry_table<AttentionKernel>("attention").set(DeviceType::CPU, dt, attention_kernel<T>);
  registry_table<AttentionBackwardKernel>("attention_bw").set(DeviceType::CPU, dt, attention_backward_kernel<T>);
}

}  // namespace

void register_attention() {
  register_attention<float>(DType::f32);
  register_attention<double>(DType::f64);
}

}  // namespace cairn::kernels::cpu
