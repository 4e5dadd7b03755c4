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
// within 0.51 ulp of the exact value and within 1 ulp of std::erf(float), which tests/core/vec_erf_test.cpp checks
// over a dense sweep. NaN propagates; erf(+-inf) = +-1.
//
// The float GELU and its gradient are evaluated in float32 (16 lanes per AVX-512 vector, where double's 8 lanes
// and long polynomials held them to ~1.2 ns per element, a tenth of a GPT step): gelu(x) = x * Phi(x),
// Phi(x) = (1 + erf(z)) / 2 with z = x / sqrt 2, computed directly in two pieces (tools/fit_erf.py):
//   |z| < 0.5:      Phi = 1/2 + z P(z^2) / 2,                  P of degree 5,  relative error 4e-8
//   0.5 <= |z| < 4: Phi(-|x|) = exp(-x^2 / 2) S(|z|) / 2,      S(a) = erfc(a) exp(a^2), degree 13, 4e-8
// (Phi(|x|) = 1 - Phi(-|x|): no cancellation in 1 + erf for negative x), x^2 split exactly into two floats by
// an FMA so that exp(-x^2 / 2) keeps float precision; within 5 ulp of the exact GELU (4.04 measured) and 3 ulp
// of its derivative's larger term (PyTorch's float GELU is off by up to 2e-7 absolute, 4% of gelu(-4.6)). gelu(x) = -0 below x = -4 sqrt 2 (|gelu| < 5e-8).
#pragma once
#include <cmath>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "cairn/core/kernels/cpu/vec_exp.h"

namespace cairn::kernels::cpu {

namespace erf_detail {

// c[0] + c[1] x + ... + c[N-1] x^N-1, evaluated from the top (Horner). Coefficients as tools/fit_erf.py prints them.
template <class T, size_t N>
CAIRN_VEC_INLINE T horner(T x, const T (&c)[N]) {
  T p = c[N - 1];
  for (size_t i = N - 1; i-- > 0;) p = p * x + c[i];
  return p;
}

// erf(z) / z for z^2 = t in [0, 1].
CAIRN_VEC_INLINE double small_ratio(double t) {
  constexpr double c[] = {
      1.1283791670946948,
      -0.37612638889867001,
      0.11283791313464864,
      -0.026866133623000721,
      0.0052237849977538886,
      -0.00085426703746449562,
      0.00011956944595681307,
      -1.3911687688050733e-05,
      1.0595242656563642e-06};
  return horner(t, c);
}

// erfc(a) for a in [1, 4] (clamped to 4 above; NaN passes through).
CAIRN_VEC_INLINE double large_erfc(double a) {
  const double ac = a > 4.0 ? 4.0 : a;
  const double u = ac * (2.0 / 3.0) - (5.0 / 3.0);
  constexpr double c[] = {
      0.00040695214177235203,
      -0.0032674177560815332,
      0.012252828389552836,
      -0.028181964738356779,
      0.043651326904283742,
      -0.046447836782918681,
      0.031870755193081413,
      -0.0093038709892072635,
      -0.0066500581529695957,
      0.0097424767409561852,
      -0.0046359403755427131,
      -0.00067091358048632088,
      0.0019913923388177324,
      -0.00067389996198841118,
      -0.00023024139527905163,
      0.00015383174954308743,
      -7.4039208755038999e-06};
  return horner(u, c);
}

}  // namespace erf_detail

CAIRN_VEC_INLINE float vec_erf(float xf) {
  const double z = xf;
  const double a = std::fabs(z);
  const double inner = z * erf_detail::small_ratio(z * z);
  const double outer = std::copysign(1.0 - erf_detail::large_erfc(a), z);
  return static_cast<float>(a < 1.0 ? inner : outer);
}

namespace erf_detail {

// erf(z) / z for z^2 = t in [0, 1], float.
constexpr float kSmallRatioF[] = {
    1.12837913f,
    -0.376123498f,
    0.112803644f,
    -0.0267163851f,
    0.00492327767f,
    -0.000565410586f};
CAIRN_VEC_INLINE float small_ratio_f(float t) { return horner(t, kSmallRatioF); }

// erfc(a) exp(a^2) for a in [0.5, 4] (clamped to 4 above; NaN passes through), float.
constexpr float kScaledErfcF[] = {
      0.231087264f,
      -0.154851398f,
      0.0979768744f,
      -0.0589635019f,
      0.0339508178f,
      -0.0187791952f,
      0.0099605952f,
      -0.00513038752f,
      0.00272075947f,
      -0.00133213108f,
      0.000401873273f,
      -0.000178276644f,
      0.000246710134f,
      -0.000110551611f};
CAIRN_VEC_INLINE float scaled_erfc_f(float a) {
  const float ac = a > 4.0f ? 4.0f : a;
  const float u = (ac - 2.25f) * (1.0f / 1.75f);
  return horner(u, kScaledErfcF);
}

// exp(-x^2 / 2) in float with x^2 = h + l exactly (l from an FMA): exp(-h / 2) (1 - l / 2).
CAIRN_VEC_INLINE float gauss_f(float x) {
  const float xc = std::fabs(x) < 16.0f ? x : 16.0f;  // exp(-128) is 0 in float; keeps inf * inf - inf out
  const float h = xc * xc;
  const float l = std::fma(xc, xc, -h);
  return vec_exp(-0.5f * h) * (1.0f - 0.5f * l);
}

// Phi(x), given e = exp(-x^2 / 2).
CAIRN_VEC_INLINE float normal_cdf_f(float x, float e) {
  const float z = x * 0.707106781f;
  const float a = std::fabs(z);
  const float inner = 0.5f + 0.5f * z * small_ratio_f(z * z);
  const float tail = 0.5f * e * scaled_erfc_f(a);  // = Phi(-|x|)
  const float outer = z < 0.0f ? (a > 4.0f ? 0.0f : tail) : 1.0f - tail;
  return a < 0.5f ? inner : outer;  // NaN: neither test holds, outer = 1 - NaN
}

}  // namespace erf_detail

// gelu(x) = x * Phi(x) (exact form), float32.
CAIRN_VEC_INLINE float vec_gelu(float x) { return x * erf_detail::normal_cdf_f(x, erf_detail::gauss_f(x)); }

// d gelu / dx * g = (Phi(x) + x * phi(x)) * g, phi the standard normal density; float32.
CAIRN_VEC_INLINE float vec_gelu_backward(float g, float x) {
  const float e = erf_detail::gauss_f(x);
  return g * (erf_detail::normal_cdf_f(x, e) + x * (0.398942280f * e));
}

// gelu(x), with d gelu / dx = Phi(x) + x * phi(x) in `grad`: both from one exp(-x^2 / 2) and one Phi, so that a
// training forward costs about as much as the value alone (each term as vec_gelu and vec_gelu_backward compute it).
CAIRN_VEC_INLINE float vec_gelu_and_grad(float x, float& grad) {
  const float e = erf_detail::gauss_f(x);
  const float cdf = erf_detail::normal_cdf_f(x, e);
  grad = cdf + x * (0.398942280f * e);
  return x * cdf;
}
#if defined(__AVX512F__)
// vec_gelu_and_grad on 16 lanes, written with intrinsics: the same formulas, coefficients and order of operations
// (the results agree to an ulp or so, where FMAs contract differently). GCC's vectorisation of the scalar form
// computed every branch under masks and ran at ~0.9 ns per element; training GPT spends that on every MLP.
// NaN propagates through x; |x| >= 16 behaves as the scalar form (exp(-128) underflows to 0).
inline __m512 gelu_and_grad16(__m512 x, __m512& grad) {
  using namespace erf_detail;
  const __m512 sign = _mm512_set1_ps(-0.0f);
  const __m512 ax = _mm512_andnot_ps(sign, x);
  // gauss_f: xc = |x| < 16 ? x : 16, h + l = xc^2, e = exp(-h / 2) (1 - l / 2)
  const __m512 xc = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(ax, _mm512_set1_ps(16.0f), _CMP_LT_OQ),
                                         _mm512_set1_ps(16.0f), x);
  const __m512 h = _mm512_mul_ps(xc, xc);
  const __m512 l = _mm512_fmsub_ps(xc, xc, h);
  const __m512 ex = vec_exp16(_mm512_mul_ps(_mm512_set1_ps(-0.5f), h));  // exp(-h / 2), h <= 256: never NaN
  const __m512 e = _mm512_mul_ps(ex, _mm512_fnmadd_ps(_mm512_set1_ps(0.5f), l, _mm512_set1_ps(1.0f)));
  // normal_cdf_f
  const __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.707106781f));
  const __m512 a = _mm512_andnot_ps(sign, z);
  const __m512 z2 = _mm512_mul_ps(z, z);
  __m512 ps = _mm512_set1_ps(kSmallRatioF[5]);
  for (int i = 4; i >= 0; --i) ps = _mm512_fmadd_ps(ps, z2, _mm512_set1_ps(kSmallRatioF[i]));
  const __m512 inner = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), z), ps, _mm512_set1_ps(0.5f));
  const __m512 ac = _mm512_min_ps(a, _mm512_set1_ps(4.0f));  // (a > 4 ? 4 : a; NaN x: a NaN, the cdf's last select)
  const __m512 u = _mm512_mul_ps(_mm512_sub_ps(ac, _mm512_set1_ps(2.25f)), _mm512_set1_ps(1.0f / 1.75f));
  __m512 q = _mm512_set1_ps(kScaledErfcF[13]);
  for (int i = 12; i >= 0; --i) q = _mm512_fmadd_ps(q, u, _mm512_set1_ps(kScaledErfcF[i]));
  const __m512 tail = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), e), q);
  const __mmask16 neg = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __mmask16 far = _mm512_cmp_ps_mask(a, _mm512_set1_ps(4.0f), _CMP_GT_OQ);
  __m512 outer = _mm512_sub_ps(_mm512_set1_ps(1.0f), tail);
  outer = _mm512_mask_blend_ps(neg, outer, _mm512_maskz_mov_ps(static_cast<__mmask16>(~far), tail));
  const __m512 cdf = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, _mm512_set1_ps(0.5f), _CMP_LT_OQ), outer, inner);
  grad = _mm512_fmadd_ps(x, _mm512_mul_ps(_mm512_set1_ps(0.398942280f), e), cdf);
  return _mm512_mul_ps(x, cdf);
}
#endif

// The tanh form, gelu(x) = x (1 + tanh(u)) / 2 with u = sqrt(2 / pi) (x + 0.044715 x^3), written as
// x * sigmoid(2u) = x / (1 + e), e = exp(-2u), in float32 with vec_exp: no cancellation in 1 + tanh for negative x
// (and 1 - sigmoid = e / (1 + e) in the derivative), within a few ulp of the double formula.
CAIRN_VEC_INLINE float vec_gelu_tanh(float x) {
  const float u = 0.79788456080286535588f * (x + 0.044715f * x * x * x);
  return x / (1.0f + vec_exp(-2.0f * u));
}

// d gelu_tanh / dx * g = (s + 2 x s (1 - s) du/dx) * g, s = sigmoid(2u), du/dx = sqrt(2 / pi) (1 + 3 * 0.044715 x^2).
CAIRN_VEC_INLINE float vec_gelu_tanh_backward(float g, float x) {
  const float u = 0.79788456080286535588f * (x + 0.044715f * x * x * x);
  const float e = vec_exp(-2.0f * u);
  const float s = 1.0f / (1.0f + e);
  const float one_minus_s = e * s;  // e / (1 + e): inf * 0 when e overflows, so select
  const float du = 0.79788456080286535588f * (1.0f + 3.0f * 0.044715f * x * x);
  const float d = s + 2.0f * x * s * (e > 3.0e38f ? 0.0f : one_minus_s) * du;
  return g * d;
}

}  // namespace cairn::kernels::cpu
