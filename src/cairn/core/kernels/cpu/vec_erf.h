// vec_erf and the float32 GELU (exact form) written with only arithmetic, comparisons and selects, so that a
// loop calling them is vectorised by the compiler (a loop calling std::erf is not): GELU is the activation of
// every GPT block, and std::erf held it to about 1.7 GB/s.
//
// Method: the float input is widened to double and erf is evaluated by one of two polynomials, fitted by
// Chebyshev interpolation (tools/fit_erf.py prints them):
//   |z| < 1:      erf(z)  = z * P(z^2),               P of degree 8,  |error| < 1e-15
//   1 <= |z| < 4: erfc(|z|) = Q((|z| - 2.5) / 1.5),   Q of degree 16, |error| < 7e-10
//   |z| >= 4:     erfc(|z|) < 1.6e-8, below half a float ulp of 1: erf = +-1.
// Both are computed and one is selected (no branch). The double result is rounded once to float, so erf is
// within 0.51 ulp of the exact value and within 1 ulp of std::erf(float), which tests/core/erf_test.cpp checks
// over a dense sweep. NaN propagates; erf(+-inf) = +-1.
//
// The float GELU uses the same pieces in double: gelu(x) = x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2,
// with Phi computed directly (as erfc(|z|) / 2 for negative x, so no cancellation in 1 + erf), and one rounding
// at the end; gelu(x) = -0 below x = -4 sqrt 2 (where |gelu| < 5e-8), as PyTorch's float GELU gives.
#pragma once
#include <cmath>

#include "cairn/core/kernels/cpu/vec_exp.h"

namespace cairn::kernels::cpu {

namespace erf_detail {

// erf(z) / z for z^2 = t in [0, 1].
inline double small_ratio(double t) {
  double p = 1.0595242656563642e-06;
  p = p * t - 1.3911687688050733e-05;
  p = p * t + 0.00011956944595681307;
  p = p * t - 0.00085426703746449562;
  p = p * t + 0.0052237849977538886;
  p = p * t - 0.026866133623000721;
  p = p * t + 0.11283791313464864;
  p = p * t - 0.37612638889867001;
  p = p * t + 1.1283791670946948;
  return p;
}

// erfc(a) for a in [1, 4] (clamped to 4 above; NaN passes through).
inline double large_erfc(double a) {
  const double ac = a > 4.0 ? 4.0 : a;
  const double u = ac * (2.0 / 3.0) - (5.0 / 3.0);
  double q = -7.4039208755038999e-06;
  q = q * u + 0.00015383174954308743;
  q = q * u - 0.00023024139527905163;
  q = q * u - 0.00067389996198841118;
  q = q * u + 0.0019913923388177324;
  q = q * u - 0.00067091358048632088;
  q = q * u - 0.0046359403755427131;
  q = q * u + 0.0097424767409561852;
  q = q * u - 0.0066500581529695957;
  q = q * u - 0.0093038709892072635;
  q = q * u + 0.031870755193081413;
  q = q * u - 0.046447836782918681;
  q = q * u + 0.043651326904283742;
  q = q * u - 0.028181964738356779;
  q = q * u + 0.012252828389552836;
  q = q * u - 0.0032674177560815332;
  q = q * u + 0.00040695214177235203;
  return q;
}

// Phi(x) = (1 + erf(x / sqrt 2)) / 2 in double, for a float x.
inline double normal_cdf(double x) {
  const double z = x * 0.70710678118654752440;
  const double a = std::fabs(z);
  const double inner = 0.5 + 0.5 * z * small_ratio(z * z);
  const double tail = 0.5 * large_erfc(a);          // = Phi(-|x|)
  const double outer = z < 0.0 ? (a > 4.0 ? 0.0 : tail) : 1.0 - tail;
  return a < 1.0 ? inner : outer;  // NaN: neither test holds, outer = 1 - NaN
}

}  // namespace erf_detail

inline float vec_erf(float xf) {
  const double z = xf;
  const double a = std::fabs(z);
  const double inner = z * erf_detail::small_ratio(z * z);
  const double outer = std::copysign(1.0 - erf_detail::large_erfc(a), z);
  return static_cast<float>(a < 1.0 ? inner : outer);
}

// gelu(x) = x * Phi(x) (exact form), float32.
inline float vec_gelu(float x) {
  return static_cast<float>(static_cast<double>(x) * erf_detail::normal_cdf(x));
}

// d gelu / dx * g = (Phi(x) + x * phi(x)) * g, phi the standard normal density; float32.
inline float vec_gelu_backward(float g, float x) {
  const double xd = x;
  const double pdf = 0.39894228040143267794 * vec_exp(-0.5 * xd * xd);
  return static_cast<float>(static_cast<double>(g) * (erf_detail::normal_cdf(xd) + xd * pdf));
}

// The tanh form, gelu(x) = x (1 + tanh(u)) / 2 with u = sqrt(2 / pi) (x + 0.044715 x^3), written as
// x * sigmoid(2u) = x / (1 + e), e = exp(-2u), in float32 with vec_exp: no cancellation in 1 + tanh for negative x
// (and 1 - sigmoid = e / (1 + e) in the derivative), within a few ulp of the double formula.
inline float vec_gelu_tanh(float x) {
  const float u = 0.79788456080286535588f * (x + 0.044715f * x * x * x);
  return x / (1.0f + vec_exp(-2.0f * u));
}

// d gelu_tanh / dx * g = (s + 2 x s (1 - s) du/dx) * g, s = sigmoid(2u), du/dx = sqrt(2 / pi) (1 + 3 * 0.044715 x^2).
inline float vec_gelu_tanh_backward(float g, float x) {
  const float u = 0.79788456080286535588f * (x + 0.044715f * x * x * x);
  const float e = vec_exp(-2.0f * u);
  const float s = 1.0f / (1.0f + e);
  const float one_minus_s = e * s;  // e / (1 + e): inf * 0 when e overflows, so select
  const float du = 0.79788456080286535588f * (1.0f + 3.0f * 0.044715f * x * x);
  const float d = s + 2.0f * x * s * (e > 3.0e38f ? 0.0f : one_minus_s) * du;
  return g * d;
}

}  // namespace cairn::kernels::cpu
