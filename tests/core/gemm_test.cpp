// The float32 GEMM kernel takes two roads: oneDNN's matmul for products large enough to thread, OpenBLAS for the
// rest (and for float64). Both must honour every transpose, leading dimension, alpha and beta the ops pass; this
// checks each combination on both sides of the size threshold against a double-precision loop.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "cairn/core/core.h"
#include "cairn/core/kernels/kernels.h"

using namespace cairn;

namespace {

struct Case {
  bool ta, tb;
  int64_t M, N, K;
  double alpha, beta;
  bool padded;  // leading dimensions wider than the matrix, as a view into a larger tensor has
};

// Relative error of C = alpha op(A) op(B) + beta C0 computed by the kernel, against a double loop.
double gemm_error(const Case& c) {
  Generator g(static_cast<uint64_t>(c.M * 131 + c.N * 17 + c.K + c.ta * 2 + c.tb));
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + 3 * c.padded, ldb = b_cols + 5 * c.padded, ldc = c.N + 7 * c.padded;
  std::vector<float> A = uniform({a_rows * lda}, -1, 1, DType::f32, &g).to_vector<float>();
  std::vector<float> B = uniform({b_rows * ldb}, -1, 1, DType::f32, &g).to_vector<float>();
  std::vector<float> C = uniform({c.M * ldc}, -1, 1, DType::f32, &g).to_vector<float>();
  // beta 0 means C is not read (BLAS's contract): NaN there must not reach the result.
  if (c.beta == 0.0)
    for (int64_t i = 0; i < c.M; ++i)
      for (int64_t j = 0; j < c.N; ++j) C[i * ldc + j] = std::nanf("");
  const std::vector<float> C0 = C;
  auto gemm = kernels::table<kernels::GemmKernel>("gemm").get(DeviceType::CPU, DType::f32);
  gemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  double worst = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      double acc = 0, mag = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double a = c.ta ? A[k * lda + i] : A[i * lda + k];
        const double b = c.tb ? B[j * ldb + k] : B[k * ldb + j];
        acc += a * b;
        mag += std::abs(a * b);
      }
      const double c0 = c.beta == 0.0 ? 0.0 : C0[i * ldc + j];
      const double want = c.alpha * acc + c.beta * c0;
      const double scale = std::abs(c.alpha) * mag + std::abs(c.beta * c0) + 1e-30;
      const double err = std::abs(C[i * ldc + j] - want) / scale;
      worst = std::isnan(err) ? INFINITY : std::max(worst, err);
    }
    // Padding between rows of C is never written.
    for (int64_t j = c.N; j < ldc && i + 1 < c.M; ++j) EXPECT_EQ(C[i * ldc + j], C0[i * ldc + j]);
  }
  return worst;
}

}  // namespace

TEST(Gemm, EveryTransposeAlphaAndBetaOnBothPaths) {
  // 64 x 96 x 80 (491,520 multiply-adds) with dense rows goes to oneDNN when it is built in; padded rows (oneDNN
  // would use its plain sgemm) go to OpenBLAS; the small products to the register-blocked small kernel on AVX-512
  // CPUs (13 x 70 x 33: a remainder of rows after blocks of 4 and two column blocks, the second 6 wide; with B
  // transposed and fewer than 16 rows, dot products: 1 x 70 x 128, 3 x 9 x 37 with a k tail; two column vectors
  // in blocks of 8 rows, then 4, then 1: 21 x 32 x 16), else OpenBLAS.
  for (auto [M, N, K] : {std::array<int64_t, 3>{64, 96, 80}, std::array<int64_t, 3>{8, 12, 10},
                         std::array<int64_t, 3>{13, 70, 33}, std::array<int64_t, 3>{1, 1, 1},
                         std::array<int64_t, 3>{1, 70, 128}, std::array<int64_t, 3>{3, 9, 37},
                         std::array<int64_t, 3>{21, 32, 16}})
    for (bool padded : {false, true})
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (auto [alpha, beta] : {std::pair{1.0, 0.0}, std::pair{1.0, 1.0}, std::pair{0.5, 0.0}, std::pair{-2.0, 0.75}})
            EXPECT_LT(gemm_error({ta, tb, M, N, K, alpha, beta, padded}), 1e-5)
                << "M " << M << " N " << N << " K " << K << " ta " << ta << " tb " << tb << " alpha " << alpha
                << " beta " << beta << " padded " << padded;
}

// On several threads, oneDNN-sized float32 products of at least 64 rows a thread run as one single-threaded
// primitive per block of rows of C (300 rows: 152 + 148 on two threads, 104 + 104 + 92 on three). Every case as
// above, and the same bits as on one thread.
TEST(Gemm, RowBlocksOverThreadsGiveTheOneThreadResult) {
  const int saved = num_threads();
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (auto [alpha, beta] : {std::pair{1.0, 0.0}, std::pair{-2.0, 0.75}})
          EXPECT_LT(gemm_error({ta, tb, 300, 96, 80, alpha, beta, false}), 1e-5)
              << "threads " << threads << " ta " << ta << " tb " << tb << " alpha " << alpha << " beta " << beta;
  }
  Generator g(9);
  const Tensor x = randn({300, 96}, DType::f32, &g), w = randn({80, 96}, DType::f32, &g);
  const Tensor b = randn({80}, DType::f32, &g);
  const Tensor t = randn({100, 300}, DType::f32, &g);
  set_num_threads(1);
  const std::vector<float> one = linear(x, w, b, Fused::relu).to_vector<float>();
  const std::vector<float> prod = matmul(t.transpose(0, 1), t).to_vector<float>();
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    EXPECT_EQ(linear(x, w, b, Fused::relu).to_vector<float>(), one) << "threads " << threads;
    EXPECT_EQ(matmul(t.transpose(0, 1), t).to_vector<float>(), prod) << "threads " << threads;
  }
  set_num_threads(saved);
}

// linear on float32 above the size threshold takes the fused kernel (one oneDNN matmul with bias and relu) when
// oneDNN is built in; float64 always runs GEMM and elementwise steps. Both must agree, values and gradients.
TEST(Gemm, FusedLinearMatchesTheStepByStepPath) {
  Generator g(4);
  const Tensor x = uniform({64, 96}, -1, 1, DType::f64, &g), w = uniform({80, 96}, -1, 1, DType::f64, &g);
  const Tensor b = uniform({80}, -1, 1, DType::f64, &g), seed = uniform({64, 80}, -1, 1, DType::f64, &g);
  for (bool with_bias : {false, true})
    for (Fused act : {Fused::none, Fused::relu}) {
      auto run = [&](DType dt) {
        Tensor xi = x.detach().to(dt).requires_grad_(), wi = w.detach().to(dt).requires_grad_();
        Tensor bi = with_bias ? b.detach().to(dt).requires_grad_() : Tensor();
        Tensor y = linear(xi, wi, bi, act);
        y.backward(seed.to(dt));
        std::vector<std::vector<double>> out = {y.to_vector<double>(), xi.grad().to_vector<double>(),
                                                wi.grad().to_vector<double>()};
        if (with_bias) out.push_back(bi.grad().to_vector<double>());
        return out;
      };
      const auto ref = run(DType::f64), got = run(DType::f32);
      for (size_t i = 0; i < ref.size(); ++i)
        for (size_t j = 0; j < ref[i].size(); ++j)
          ASSERT_NEAR(got[i][j], ref[i][j], 1e-4) << "bias " << with_bias << " relu " << (act == Fused::relu)
                                                  << " output " << i << " element " << j;
    }
}

namespace {

// Sets the float32 matmul precision for a scope.
struct PrecisionScope {
  explicit PrecisionScope(MatmulPrecision p) { set_float32_matmul_precision(p); }
  ~PrecisionScope() { set_float32_matmul_precision(MatmulPrecision::highest); }
};

float round_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

// At precision medium, products big enough for oneDNN multiply bfloat16-rounded operands with float32
// accumulation (where the CPU has bf16 kernels; elsewhere they stay float32): every transpose, alpha, beta and
// padded operand rows (copied dense as they are rounded), against a double loop over the rounded operands, and
// visibly apart from float32.
TEST(Gemm, MatmulPrecisionMediumRoundsTheOperandsToBfloat16) {
  PrecisionScope medium(MatmulPrecision::medium);
  const int64_t M = 64, N = 96, K = 80;
  for (bool padded : {false, true})
    for (bool ta : {false, true})
      for (bool tb : {false, true})
        for (auto [alpha, beta] : {std::pair{1.0, 0.0}, std::pair{-2.0, 0.75}}) {
          Generator g(static_cast<uint64_t>(ta * 2 + tb + 4 * padded));
          const int64_t lda = (ta ? M : K) + 3 * padded, ldb = (tb ? K : N) + 5 * padded, ldc = N;
          std::vector<float> A = uniform({(ta ? K : M) * lda}, -1, 1, DType::f32, &g).to_vector<float>();
          std::vector<float> B = uniform({(tb ? N : K) * ldb}, -1, 1, DType::f32, &g).to_vector<float>();
          std::vector<float> C = uniform({M * ldc}, -1, 1, DType::f32, &g).to_vector<float>();
          const std::vector<float> C0 = C;
          auto gemm = kernels::table<kernels::GemmKernel>("gemm").get(DeviceType::CPU, DType::f32);
          gemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
          double worst_rounded = 0, worst_exact = 0;
          for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
              double rounded = 0, exact = 0;
              for (int64_t k = 0; k < K; ++k) {
                const float a = ta ? A[k * lda + i] : A[i * lda + k], b = tb ? B[j * ldb + k] : B[k * ldb + j];
                rounded += static_cast<double>(round_bf16(a)) * round_bf16(b);
                exact += static_cast<double>(a) * b;
              }
              const double c0 = beta == 0.0 ? 0.0 : beta * C0[i * ldc + j];
              worst_rounded = std::max(worst_rounded, std::abs(C[i * ldc + j] - (alpha * rounded + c0)));
              worst_exact = std::max(worst_exact, std::abs(C[i * ldc + j] - (alpha * exact + c0)));
            }
          const std::string where = "ta " + std::to_string(ta) + " tb " + std::to_string(tb) + " alpha " +
                                    std::to_string(alpha) + " padded " + std::to_string(padded);
          if (bf16_matmul_available()) {
            EXPECT_LT(worst_rounded, 1e-4) << where;  // float32 accumulation of 80 terms of size <= 2
            EXPECT_GT(worst_exact, 1e-3) << where;    // bfloat16 operands: ~3 significant digits each
          } else {
            EXPECT_LT(worst_exact, 1e-4) << where;
          }
        }
}

// The fused linear (bias in the matmul) and its gradients at precision medium stay within bfloat16's error of
// the float64 results, and a float64 linear ignores the setting. (No relu: bfloat16 rounding can flip the sign
// of an output near 0, and with it a whole term of the gradients.)
TEST(Gemm, MatmulPrecisionMediumLinearAndGradients) {
  Generator g(9);
  const Tensor x = uniform({64, 96}, -1, 1, DType::f64, &g), w = uniform({80, 96}, -1, 1, DType::f64, &g);
  const Tensor b = uniform({80}, -1, 1, DType::f64, &g), seed = uniform({64, 80}, -1, 1, DType::f64, &g);
  auto run = [&](DType dt) {
    Tensor xi = x.detach().to(dt).requires_grad_(), wi = w.detach().to(dt).requires_grad_();
    Tensor bi = b.detach().to(dt).requires_grad_();
    Tensor y = linear(xi, wi, bi);
    y.backward(seed.to(dt));
    return std::vector<std::vector<double>>{y.to_vector<double>(), xi.grad().to_vector<double>(),
                                            wi.grad().to_vector<double>(), bi.grad().to_vector<double>()};
  };
  const auto ref = run(DType::f64);
  PrecisionScope medium(MatmulPrecision::medium);
  EXPECT_EQ(run(DType::f64), ref);
  const auto got = run(DType::f32);
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    for (size_t j = 0; j < ref[i].size(); ++j) worst = std::max(worst, std::abs(got[i][j] - ref[i][j]));
  EXPECT_LT(worst, 0.05);  // sums of up to 96 products of values below 1, each off by up to ~2^-8 relative
  if (bf16_matmul_available()) EXPECT_GT(worst, 1e-4);
}

TEST(Gemm, MatmulPrecisionNamesAreCheckedAndReadBack) {
  EXPECT_EQ(float32_matmul_precision(), MatmulPrecision::highest);
  set_float32_matmul_precision("medium");
  EXPECT_EQ(float32_matmul_precision(), MatmulPrecision::medium);
  set_float32_matmul_precision("highest");
  try {
    set_float32_matmul_precision("low");
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'low' is not one of highest, high, medium"), std::string::npos) << e.what();
  }
  EXPECT_EQ(float32_matmul_precision(), MatmulPrecision::highest);
}
