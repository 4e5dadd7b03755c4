// The vectorisable erf and float32 GELU (exact and tanh forms) of kernels/cpu/vec_erf.h against std::erf / std::erfc in double, over a
// dense sweep of float inputs (every 241st float bit pattern from 0 to 5.5, both signs, about 9 million values),
// and the gelu op's float32 results against its float64 ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "cairn/core/core.h"
#include "cairn/core/kernels/cpu/vec_erf.h"

using namespace cairn;
using cairn::kernels::cpu::vec_erf;
using cairn::kernels::cpu::vec_gelu;
using cairn::kernels::cpu::vec_gelu_backward;
using cairn::kernels::cpu::vec_gelu_tanh;
using cairn::kernels::cpu::vec_gelu_tanh_backward;

namespace {

// Distance in units in the last place between two finite floats (of any signs).
int64_t ulps(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  const int64_t la = ia < 0 ? int64_t(INT32_MIN) - ia : ia, lb = ib < 0 ? int64_t(INT32_MIN) - ib : ib;
  return std::abs(la - lb);
}

template <class F>
void sweep(const F& f) {
  const uint32_t end = 0x40b00000u;  // 5.5f
  for (uint32_t bits = 0; bits < end; bits += 241) {
    float v;
    std::memcpy(&v, &bits, 4);
    f(v);
    f(-v);
  }
}

double gelu_ref(double x) { return 0.5 * x * std::erfc(-x / std::sqrt(2.0)); }
double gelu_grad_ref(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0)) + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
}

}  // namespace

TEST(VecErf, WithinOneUlpOfTheExactValueAndOfStdErf) {
  int64_t worst_exact = 0, worst_std = 0;
  float at = 0;
  sweep([&](float v) {
    const float e = vec_erf(v);
    const int64_t u = ulps(e, static_cast<float>(std::erf(static_cast<double>(v))));
    if (u > worst_exact) worst_exact = u, at = v;
    worst_std = std::max(worst_std, ulps(e, std::erf(v)));
  });
  EXPECT_LE(worst_exact, 1) << "at " << at;
  EXPECT_LE(worst_std, 1);
  // Odd, exact at 0 (with its sign), saturated to +-1 at infinity, NaN through.
  EXPECT_EQ(vec_erf(0.0f), 0.0f);
  EXPECT_TRUE(std::signbit(vec_erf(-0.0f)));
  EXPECT_EQ(vec_erf(INFINITY), 1.0f);
  EXPECT_EQ(vec_erf(-INFINITY), -1.0f);
  EXPECT_EQ(vec_erf(6.0f), 1.0f);
  EXPECT_TRUE(std::isnan(vec_erf(NAN)));
}

TEST(VecErf, GeluAndItsGradientMatchDoublePrecision) {
  // GELU (evaluated in float32): within 5 ulp (4.04 measured), or 2e-9 absolute in the far negative tail (Phi below 1e-8, where
  // float32's 1 + erf(x / sqrt 2), PyTorch's formula, is already 0 or one ulp of 1); -0 below x = -4 sqrt 2.
  double worst = 0, worst_grad = 0;
  float at = 0, at_grad = 0;
  sweep([&](float v) {
    const double ref = gelu_ref(v);
    const float got = vec_gelu(v);
    const double tol = std::max(2e-9, std::abs(static_cast<double>(std::nextafter(static_cast<float>(ref), INFINITY)) -
                                               static_cast<float>(ref)));
    const double err = std::abs(got - ref) / (5 * tol);
    if (err > worst) worst = err, at = v;
    // The derivative Phi(x) + x phi(x): 3 ulp of its larger term (2.3 measured), or 1e-8 absolute.
    const double gref = gelu_grad_ref(v);
    const double gtol = std::max(1e-8, 3.6e-7 * std::max(std::abs(gref), 0.5 * std::erfc(-v / std::sqrt(2.0))));
    const double gerr = std::abs(vec_gelu_backward(1.0f, v) - gref) / gtol;
    if (gerr > worst_grad) worst_grad = gerr, at_grad = v;
  });
  EXPECT_LE(worst, 1.0) << "gelu at " << at << ": " << vec_gelu(at) << " vs " << gelu_ref(at);
  EXPECT_LE(worst_grad, 1.0) << "gelu gradient at " << at_grad;
  EXPECT_EQ(vec_gelu(-6.0f), 0.0f);
  EXPECT_EQ(vec_gelu(INFINITY), INFINITY);
  EXPECT_TRUE(std::isnan(vec_gelu(NAN)));
  EXPECT_EQ(vec_gelu_backward(2.0f, 30.0f), 2.0f);
  EXPECT_EQ(vec_gelu_backward(2.0f, -30.0f), 0.0f);
}

#if defined(__AVX512F__)
TEST(VecErf, SixteenLaneGeluEqualsTheScalarFormBitForBit) {
  // gelu_and_grad16 (the training kernel's) against vec_gelu / vec_gelu_backward over the sweep and special values:
  // the same bits, so the accuracy checked above carries over.
  std::vector<float> xs;
  sweep([&](float v) { xs.push_back(v); });
  for (float v : {0.0f, -0.0f, 15.99f, 16.0f, -16.0f, 30.0f, -30.0f, 1e30f, -1e30f, INFINITY, -INFINITY, NAN})
    xs.push_back(v);
  while (xs.size() % 16) xs.push_back(1.0f);
  int64_t bad = 0;
  float at = 0;
  for (size_t i = 0; i < xs.size(); i += 16) {
    __m512 g;
    float y[16], d[16];
    _mm512_storeu_ps(y, cairn::kernels::cpu::gelu_and_grad16(_mm512_loadu_ps(xs.data() + i), g));
    _mm512_storeu_ps(d, g);
    for (int k = 0; k < 16; ++k) {
      const float v = xs[i + k], wy = vec_gelu(v), wd = vec_gelu_backward(1.0f, v);
      const bool same = (std::isnan(wy) ? std::isnan(y[k]) : std::memcmp(&wy, &y[k], 4) == 0) &&
                        (std::isnan(wd) ? std::isnan(d[k]) : std::memcmp(&wd, &d[k], 4) == 0);
      if (!same && bad++ == 0) at = v;
    }
  }
  EXPECT_EQ(bad, 0) << "first at x = " << at;
}
#endif

TEST(VecErf, TanhGeluMatchesDoublePrecision) {
  // x * sigmoid(2u) against PyTorch's formula in double: a few ulp of the result (1e-12 absolute near 0) for
  // the value, and of the derivative's largest term for the gradient, times 1 + |u| in the negative tail, where
  // the result is about x exp(2u) and the float rounding of u is amplified by 2|u| (float32 1 + tanh(u), as
  // PyTorch computes it, is far worse there: its absolute error of 6e-8 is 4% of gelu(-4.6) = -3.4e-6).
  double worst = 0, worst_grad = 0;
  float at = 0, at_grad = 0;
  const double k = std::sqrt(2.0 / M_PI);
  sweep([&](float v) {
    const double x = v, u = k * (x + 0.044715 * x * x * x), t = std::tanh(u);
    const double ref = 0.5 * x * (1 + t);
    const double amp = 1 + (u < 0 ? -u : 0.0);
    const double err = std::abs(vec_gelu_tanh(v) - ref) / std::max(1e-12, 4.8e-7 * amp * std::abs(ref));
    if (err > worst) worst = err, at = v;
    const double du = k * (1 + 3 * 0.044715 * x * x);
    const double a = 0.5 * (1 + t), b = 0.5 * x * (1 - t * t) * du;
    const double gerr = std::abs(vec_gelu_tanh_backward(1.0f, v) - (a + b)) /
                        std::max(1e-12, 4.8e-7 * amp * std::max(std::abs(a), std::abs(b)));
    if (gerr > worst_grad) worst_grad = gerr, at_grad = v;
  });
  EXPECT_LE(worst, 1.0) << "at " << at;
  EXPECT_LE(worst_grad, 1.0) << "gradient at " << at_grad;
  EXPECT_EQ(vec_gelu_tanh(-100.0f), 0.0f);
  EXPECT_EQ(vec_gelu_tanh(100.0f), 100.0f);
  EXPECT_EQ(vec_gelu_tanh_backward(1.0f, -100.0f), 0.0f);
  EXPECT_EQ(vec_gelu_tanh_backward(1.0f, 100.0f), 1.0f);
  EXPECT_TRUE(std::isnan(vec_gelu_tanh(NAN)));
}

TEST(VecErf, GeluOpFloat32AgreesWithFloat64) {
  // Through the op and its kernels: contiguous (vectorised loop) and strided inputs, forward and backward.
  Generator gen(3);
  Tensor x64 = mul(randn({257, 129}, DType::f64, &gen), 3.0);
  Tensor x32 = x64.to(DType::f32).requires_grad_();
  Tensor r = randn({129, 257}, DType::f32, &gen);
  for (const std::string approximate : {"none", "tanh"}) {
    SCOPED_TRACE(approximate);
    x32.zero_grad();
    Tensor y32 = gelu(x32.t(), approximate);
    sum(mul(y32, r)).backward();
    Tensor xd = x32.detach().to(DType::f64).requires_grad_();
    Tensor y64 = gelu(xd.t(), approximate);
    sum(mul(y64, r.to(DType::f64))).backward();
    auto a = y32.to_vector<float>();
    auto b = y64.to_vector<double>();
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-6 * std::max(1.0, std::abs(b[i]))) << i;
    auto ga = x32.grad().to_vector<float>();
    auto gb = xd.grad().to_vector<double>();
    for (size_t i = 0; i < ga.size(); ++i) ASSERT_NEAR(ga[i], gb[i], 2e-6 * std::max(1.0, std::abs(gb[i]))) << i;
  }
}

TEST(VecErf, TrainingGeluKeepsTheDerivativeItWouldHaveComputedInTheBackward) {
  // With grad enabled, the forward computes the derivative with the value (one pass) and the backward multiplies
  // by it: values equal the inference forward's, gradients the derivative kernel's, bit for bit.
  Generator gen(4);
  Tensor x = mul(randn({300, 67}, DType::f32, &gen), 3.0), g = randn({300, 67}, DType::f32, &gen);
  for (const std::string approximate : {"none", "tanh"}) {
    SCOPED_TRACE(approximate);
    Tensor xr = x.detach().requires_grad_();
    Tensor y = gelu(xr, approximate);
    y.backward(g);
    std::vector<float> want_y;
    {
      NoGradGuard no_grad;
      want_y = gelu(x, approximate).to_vector<float>();
    }
    EXPECT_EQ(y.to_vector<float>(), want_y);
    const auto xs = x.to_vector<float>(), gs = g.to_vector<float>(), got = xr.grad().to_vector<float>();
    for (size_t i = 0; i < xs.size(); ++i) {
      const float want = approximate == "none" ? vec_gelu_backward(gs[i], xs[i]) : vec_gelu_tanh_backward(gs[i], xs[i]);
      ASSERT_EQ(got[i], want) << "x = " << xs[i];
    }
  }
}
