// The float32 GEMM kernel takes two roads: oneDNN's matmul for products large enough to thread, OpenBLAS for the
// rest (and for float64). Both must honour every transpose, leading dimension, alpha and beta the ops pass; this
// checks each combination on both sides of the size threshold against a double-precision loop.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
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
      const double want = c.alpha * acc + c.beta * C0[i * ldc + j];
      const double scale = std::abs(c.alpha) * mag + std::abs(c.beta * C0[i * ldc + j]) + 1e-30;
      worst = std::max(worst, std::abs(C[i * ldc + j] - want) / scale);
    }
    // Padding between rows of C is never written.
    for (int64_t j = c.N; j < ldc && i + 1 < c.M; ++j) EXPECT_EQ(C[i * ldc + j], C0[i * ldc + j]);
  }
  return worst;
}

}  // namespace

TEST(Gemm, EveryTransposeAlphaAndBetaOnBothPaths) {
  // 64 x 96 x 80 (491,520 multiply-adds) with dense rows goes to oneDNN when it is built in; padded rows (oneDNN
  // would use its plain sgemm) and 8 x 12 x 10 stay with OpenBLAS.
  for (auto [M, N, K] : {std::array<int64_t, 3>{64, 96, 80}, std::array<int64_t, 3>{8, 12, 10}})
    for (bool padded : {false, true})
      for (bool ta : {false, true})
        for (bool tb : {false, true})
          for (auto [alpha, beta] : {std::pair{1.0, 0.0}, std::pair{1.0, 1.0}, std::pair{0.5, 0.0}, std::pair{-2.0, 0.75}})
            EXPECT_LT(gemm_error({ta, tb, M, N, K, alpha, beta, padded}), 1e-5)
                << "M " << M << " N " << N << " K " << K << " ta " << ta << " tb " << tb << " alpha " << alpha
                << " beta " << beta << " padded " << padded;
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
