// The per-step product of a recurrence, C (M, N) += A (M, K) @ B (K, N), with B (a recurrent weight or its
// transpose) packed once per sequence instead of once per step (internal to rnn_cpu.cpp).
//
// Why: OpenBLAS repacks B on every call; for an LSTM step (M = 16..32 rows, K = 128, N = 512) packing the
// 64K-element weight costs about a fifth of the multiply itself. Here B is packed into column panels of 32
// (K x 32, contiguous along k; the last panel zero-padded), and an AVX-512 micro-kernel keeps an 8 x 32 block
// of C in 16 registers while it streams k. float32 takes this path when the compiler targets AVX-512 (Cairn
// builds with -march=native); float64 (gradient checks) and other CPUs call BLAS.
#pragma once
#include <cblas.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace cairn::kernels::cpu {

template <class T>
class PackedRecurrentWeight {
 public:
  // B (K, N) = transposed ? W^T : W, where W is row-major: (N, K) when transposed, else (K, N).
  PackedRecurrentWeight(const T* w, int64_t K, int64_t N, bool transposed) : w_(w), K_(K), N_(N), t_(transposed) {
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      // Column panels of 32, the last one zero-padded (its stores are masked to the real columns).
      const int64_t panels = (N + kPanel - 1) / kPanel;
      packed_.assign(static_cast<size_t>(panels * K * kPanel), 0.0f);
      for (int64_t p = 0; p < panels; ++p)
        for (int64_t k = 0; k < K; ++k)
          for (int64_t j = 0; j < kPanel && p * kPanel + j < N; ++j) {
            const int64_t n = p * kPanel + j;
            packed_[(p * K + k) * kPanel + j] = transposed ? w[n * K + k] : w[k * N + n];
          }
    }
#endif
  }

  // C (M, N; row stride ldc) += A (M, K; row stride lda) @ B.
  void multiply_add(const T* A, int64_t lda, int64_t M, T* C, int64_t ldc) const {
    if (M == 0 || N_ == 0) return;
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>) {
      if (K_ > 0) {
        for (int64_t p = 0; p * kPanel < N_; ++p) {
          const float* P = packed_.data() + p * K_ * kPanel;
          const int64_t width = std::min<int64_t>(kPanel, N_ - p * kPanel);
          const __mmask16 lo = width >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << width) - 1);
          const __mmask16 hi = width >= 32 ? __mmask16(0xFFFF) : width <= 16 ? __mmask16(0) : __mmask16((1u << (width - 16)) - 1);
          float* Cp = C + p * kPanel;
          int64_t r = 0;
          for (; r + 8 <= M; r += 8) block<8>(A + r * lda, lda, P, Cp + r * ldc, ldc, lo, hi);
          switch (M - r) {
            case 7: block<7>(A + r * lda, lda, P, Cp + r * ldc, ldc, lo, hi); break;
            case 6: block<6>(A + r * lda, lda, P, Cp + r * ldc, ldc, lo, hi); break;
            case 5: block<5>(A + r * lda, lda, P, Cp + r * ldc, ldc, lo, hi); break;
            case 4: block<4>(A + r * lda, lda, P, Cp + r * ldc, ldc, lo, hi); break;
            case 3: block<3>(A + r * lda, lda, P, Cp + r * ldc, ldc, lo, hi); break;
            case 2: block<2>(A + r * lda, lda, P, Cp + r * ldc, ldc, lo, hi); break;
            case 1: block<1>(A + r * lda, lda, P, Cp + r * ldc, ldc, lo, hi); break;
            default: break;
          }
        }
        return;
      }
    }
#endif
    blas(A, lda, M, C, ldc);
  }

 private:
  static constexpr int64_t kPanel = 32;

#if defined(__AVX512F__)
  // C (MR, 32) += A (MR, K) @ P (K, 32); only the columns in the lo / hi masks are read and written.
  template <int MR>
  void block(const float* A, int64_t lda, const float* P, float* C, int64_t ldc, __mmask16 mlo, __mmask16 mhi) const {
    __m512 lo[MR], hi[MR];
    for (int r = 0; r < MR; ++r) {
      lo[r] = _mm512_maskz_loadu_ps(mlo, C + r * ldc);
      hi[r] = _mm512_maskz_loadu_ps(mhi, C + r * ldc + 16);
    }
    for (int64_t k = 0; k < K_; ++k) {
      const __m512 b0 = _mm512_loadu_ps(P + k * kPanel), b1 = _mm512_loadu_ps(P + k * kPanel + 16);
      for (int r = 0; r < MR; ++r) {
        const __m512 a = _mm512_set1_ps(A[r * lda + k]);
        lo[r] = _mm512_fmadd_ps(a, b0, lo[r]);
        hi[r] = _mm512_fmadd_ps(a, b1, hi[r]);
      }
    }
    for (int r = 0; r < MR; ++r) {
      _mm512_mask_storeu_ps(C + r * ldc, mlo, lo[r]);
      _mm512_mask_storeu_ps(C + r * ldc + 16, mhi, hi[r]);
    }
  }
#endif

  void blas(const T* A, int64_t lda, int64_t M, T* C, int64_t ldc) const {
    const auto tb = t_ ? CblasTrans : CblasNoTrans;
    const blasint ldb = static_cast<blasint>(t_ ? K_ : N_);
    if constexpr (std::is_same_v<T, float>)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, tb, (blasint)M, (blasint)N_, (blasint)K_, 1.0f, A, (blasint)lda, w_,
                  ldb, 1.0f, C, (blasint)ldc);
    else
      cblas_dgemm(CblasRowMajor, CblasNoTrans, tb, (blasint)M, (blasint)N_, (blasint)K_, 1.0, A, (blasint)lda, w_,
                  ldb, 1.0, C, (blasint)ldc);
  }

  const T* w_;
  int64_t K_, N_;
  bool t_;
  std::vector<float> packed_;
};

}  // namespace cairn::kernels::cpu
