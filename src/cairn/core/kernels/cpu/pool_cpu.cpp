// 2-D max and average pooling on the CPU, parallel over (n, c) planes; window rules follow PyTorch's CPU
// kernels (padding counts as -inf for max; avg divisor per count_include_pad; windows clipped to the input).
#include <algorithm>
#include <cmath>
#include <limits>

#include "cairn/core/kernels/kernels.h"
#include "cairn/core/kernels/threading.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace cairn::kernels::cpu {
namespace {

// Planes per parallel chunk so that a chunk holds at least ~32K input elements.
int64_t plane_grain(const Pool2dGeometry& g) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, g.H * g.W)); }

// The reference CNN's pool (2x2 windows, stride 2, no padding): every window lies inside the input and
// windows do not overlap. Max over one plane: y (OH, OW) =, idx (OH, OW) = flat argmax. Scalar version.
template <class T>
void max2x2_plane(const T* xp, T* yp, int64_t* ip, const Pool2dGeometry& g) {
  const int64_t W = g.W, OW = g.OW;
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const T* r0 = xp + 2 * oh * W;
    const T* r1 = r0 + W;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const T v[4] = {r0[2 * ow], r0[2 * ow + 1], r1[2 * ow], r1[2 * ow + 1]};
      const int64_t at[4] = {0, 1, W, W + 1};
      T best = v[0];
      int64_t bi = 0;
      for (int k = 1; k < 4; ++k)
        if (v[k] > best || v[k] != v[k]) best = v[k], bi = at[k];
      yp[oh * OW + ow] = best;
      ip[oh * OW + ow] = 2 * oh * W + 2 * ow + bi;
    }
  }
}

// Backward over one plane: gx (H, W) = gy routed to each window's argmax, 0 elsewhere.
template <class T>
void max2x2_plane_backward(const T* gy, const int64_t* ip, T* gx, const Pool2dGeometry& g) {
  std::fill(gx, gx + g.H * g.W, T(0));
  for (int64_t o = 0; o < g.OH * g.OW; ++o) gx[ip[o]] = gy[o];  // windows are disjoint: = not +=
}

#if defined(__AVX512F__)
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_* temporaries (GCC bug 105593).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// float with AVX-512, 16 outputs at a time: comparisons as masks, because on random data a branch per
// comparison mispredicts about half the time (the scalar loop above ran 10x slower than this one).
// Masks for n (<= 16) outputs: 2n input floats as two 16-float loads.
struct RowMasks {
  __mmask16 out, lo, hi;
  explicit RowMasks(int64_t n) {
    const int64_t nf = 2 * n;
    out = static_cast<__mmask16>((1u << n) - 1);
    lo = static_cast<__mmask16>(nf >= 16 ? 0xFFFFu : (1u << nf) - 1);
    hi = static_cast<__mmask16>(nf > 16 ? (1u << (nf - 16)) - 1 : 0u);
  }
};

template <>
void max2x2_plane<float>(const float* xp, float* yp, int64_t* ip, const Pool2dGeometry& g) {
  const int64_t W = g.W, OW = g.OW;
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512i off_b = _mm512_set1_epi32(1), off_c = _mm512_set1_epi32(static_cast<int>(W));
  const __m512i off_d = _mm512_set1_epi32(static_cast<int>(W + 1));
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const float* r0 = xp + 2 * oh * W;
    const float* r1 = r0 + W;
    for (int64_t ow = 0; ow < OW; ow += 16) {
      const RowMasks m(std::min<int64_t>(16, OW - ow));
      const __m512 t0 = _mm512_maskz_loadu_ps(m.lo, r0 + 2 * ow), t1 = _mm512_maskz_loadu_ps(m.hi, r0 + 2 * ow + 16);
      const __m512 u0 = _mm512_maskz_loadu_ps(m.lo, r1 + 2 * ow), u1 = _mm512_maskz_loadu_ps(m.hi, r1 + 2 * ow + 16);
      const __m512 a = _mm512_permutex2var_ps(t0, even, t1), b = _mm512_permutex2var_ps(t0, odd, t1);
      const __m512 c = _mm512_permutex2var_ps(u0, even, u1), d = _mm512_permutex2var_ps(u0, odd, u1);
      __m512 best = a;
      __m512i off = even;  // 2 * lane, plus the winner's offset inside its window
      auto take = [&](__m512 v, __m512i o) {
        const __mmask16 t = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        best = _mm512_mask_mov_ps(best, t, v);
        off = _mm512_mask_add_epi32(off, t, even, o);
      };
      take(b, off_b), take(c, off_c), take(d, off_d);
      _mm512_mask_storeu_ps(yp + oh * OW + ow, m.out, best);
      const __m512i start = _mm512_set1_epi64(2 * oh * W + 2 * ow);
      const __m512i lo = _mm512_add_epi64(start, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(off)));
      const __m512i hi = _mm512_add_epi64(start, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(off, 1)));
      _mm512_mask_storeu_epi64(ip + oh * OW + ow, static_cast<__mmask8>(m.out), lo);
      _mm512_mask_storeu_epi64(ip + oh * OW + ow + 8, static_cast<__mmask8>(m.out >> 8), hi);
    }
  }
}

template <>
void max2x2_plane_backward<float>(const float* gy, const int64_t* ip, float* gx, const Pool2dGeometry& g) {
  const int64_t W = g.W, OW = g.OW;
  const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_idx = _mm512_add_epi32(lo_idx, _mm512_set1_epi32(8));
  const __m512i two_lane = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
  const __m512 zero = _mm512_setzero_ps();
  // Rows and columns no window covers (odd H or W) get no gradient.
  if (g.H > 2 * g.OH) std::fill(gx + 2 * g.OH * W, gx + g.H * W, 0.0f);
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    float* r0 = gx + 2 * oh * W;
    float* r1 = r0 + W;
    if (W > 2 * OW) r0[W - 1] = 0.0f, r1[W - 1] = 0.0f;
    for (int64_t ow = 0; ow < OW; ow += 16) {
      const RowMasks m(std::min<int64_t>(16, OW - ow));
      const __m512 v = _mm512_maskz_loadu_ps(m.out, gy + oh * OW + ow);
      // Each window's argmax relative to its top-left corner: 0, 1, W or W + 1.
      const __m512i start = _mm512_add_epi64(_mm512_set1_epi64(2 * oh * W + 2 * ow), two_lane);
      const __m512i rlo = _mm512_sub_epi64(_mm512_maskz_loadu_epi64(static_cast<__mmask8>(m.out), ip + oh * OW + ow), start);
      const __m512i rhi = _mm512_sub_epi64(
          _mm512_maskz_loadu_epi64(static_cast<__mmask8>(m.out >> 8), ip + oh * OW + ow + 8),
          _mm512_add_epi64(start, _mm512_set1_epi64(16)));
      const __m512i rel = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32(rlo)), _mm512_cvtepi64_epi32(rhi), 1);
      const __m512 a = _mm512_mask_mov_ps(zero, _mm512_cmpeq_epi32_mask(rel, _mm512_set1_epi32(0)), v);
      const __m512 b = _mm512_mask_mov_ps(zero, _mm512_cmpeq_epi32_mask(rel, _mm512_set1_epi32(1)), v);
      const __m512 c = _mm512_mask_mov_ps(zero, _mm512_cmpeq_epi32_mask(rel, _mm512_set1_epi32(static_cast<int>(W))), v);
      const __m512 d = _mm512_mask_mov_ps(zero, _mm512_cmpeq_epi32_mask(rel, _mm512_set1_epi32(static_cast<int>(W + 1))), v);
      _mm512_mask_storeu_ps(r0 + 2 * ow, m.lo, _mm512_permutex2var_ps(a, lo_idx, b));
      _mm512_mask_storeu_ps(r0 + 2 * ow + 16, m.hi, _mm512_permutex2var_ps(a, hi_idx, b));
      _mm512_mask_storeu_ps(r1 + 2 * ow, m.lo, _mm512_permutex2var_ps(c, lo_idx, d));
      _mm512_mask_storeu_ps(r1 + 2 * ow + 16, m.hi, _mm512_permutex2var_ps(c, hi_idx, d));
    }
  }
}
#pragma GCC diagnostic pop
#endif

bool is_two_by_two(const Pool2dGeometry& g) {
  return g.KH == 2 && g.KW == 2 && g.stride_h == 2 && g.stride_w == 2 && g.pad_h == 0 && g.pad_w == 0 &&
         2 * g.OH <= g.H && 2 * g.OW <= g.W &&  // no window sticks out (ceil_mode can make one)
         g.W < (int64_t{1} << 30);               // 32-bit window offsets in the vector code
}

template <class T>
void max_pool_forward(const Tensor& xt, const Tensor& yt, const Tensor& it, const Pool2dGeometry& g) {
  // x: (N, C, H, W) -> y: (N, C, OH, OW) =, indices (N, C, OH, OW) =
  const T* x = static_cast<const T*>(xt.raw_data());
  T* y = static_cast<T*>(yt.raw_data());
  int64_t* idx = static_cast<int64_t*>(it.raw_data());
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  const bool two_by_two = is_two_by_two(g);
  parallel_for(0, g.N * g.C, plane_grain(g), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * HW;
      T* yp = y + p * OHW;
      int64_t* ip = idx + p * OHW;
      if (two_by_two) {
        max2x2_plane(xp, yp, ip, g);
        continue;
      }
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = std::max<int64_t>(oh * g.stride_h - g.pad_h, 0);
        const int64_t h1 = std::min(oh * g.stride_h - g.pad_h + g.KH, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = std::max<int64_t>(ow * g.stride_w - g.pad_w, 0);
          const int64_t w1 = std::min(ow * g.stride_w - g.pad_w + g.KW, g.W);
          T best = -std::numeric_limits<T>::infinity();
          int64_t bi = h0 * g.W + w0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) {
              const T v = xp[ih * g.W + iw];
              if (v > best || std::isnan(v)) best = v, bi = ih * g.W + iw;  // NaN wins, as in PyTorch
            }
          yp[oh * g.OW + ow] = best;
          ip[oh * g.OW + ow] = bi;
        }
      }
    }
  });
}

template <class T>
void max_pool_backward(const Tensor& gyt, const Tensor& it, const Tensor& gxt, const Pool2dGeometry& g) {
  // gy, indices: (N, C, OH, OW) -> gx: (N, C, H, W) = scatter-add
  const T* gy = static_cast<const T*>(gyt.raw_data());
  const int64_t* idx = static_cast<const int64_t*>(it.raw_data());
  T* gx = static_cast<T*>(gxt.raw_data());
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  const bool two_by_two = is_two_by_two(g);
  parallel_for(0, g.N * g.C, plane_grain(g), [&](int64_t p0, int64_t p1) {
    if (two_by_two) {
      for (int64_t p = p0; p < p1; ++p) max2x2_plane_backward(gy + p * OHW, idx + p * OHW, gx + p * HW, g);
      return;
    }
    std::fill(gx + p0 * HW, gx + p1 * HW, T(0));
    for (int64_t p = p0; p < p1; ++p) {
      T* gp = gx + p * HW;
      const T* yp = gy + p * OHW;
      const int64_t* ip = idx + p * OHW;
      for (int64_t o = 0; o < OHW; ++o) gp[ip[o]] += yp[o];
    }
  });
}

// The window of output (oh, ow), clipped to the input, and its divisor.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  int64_t divisor;
};
AvgWindow avg_window(const Pool2dGeometry& g, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.stride_h - g.pad_h, w0 = ow * g.stride_w - g.pad_w;
  int64_t h1 = std::min(h0 + g.KH, g.H + g.pad_h), w1 = std::min(w0 + g.KW, g.W + g.pad_w);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = std::max<int64_t>(h0, 0), w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, g.H), w1 = std::min(w1, g.W);
  const int64_t inside = std::max<int64_t>(h1 - h0, 0) * std::max<int64_t>(w1 - w0, 0);
  return {h0, h1, w0, w1, g.count_include_pad ? padded : inside};
}

template <class T>
void avg_pool_forward(const Tensor& xt, const Tensor& yt, const Pool2dGeometry& g) {
  // x: (N, C, H, W) -> y: (N, C, OH, OW) =
  const T* x = static_cast<const T*>(xt.raw_data());
  T* y = static_cast<T*>(yt.raw_data());
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  parallel_for(0, g.N * g.C, plane_grain(g), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * HW;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const AvgWindow win = avg_window(g, oh, ow);
          T s = T(0);
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) s += xp[ih * g.W + iw];
          y[p * OHW + oh * g.OW + ow] = win.divisor > 0 ? s / T(win.divisor) : T(0);
        }
    }
  });
}

template <class T>
void avg_pool_backward(const Tensor& gyt, const Tensor& gxt, const Pool2dGeometry& g) {
  // gy: (N, C, OH, OW) -> gx: (N, C, H, W) =
  const T* gy = static_cast<const T*>(gyt.raw_data());
  T* gx = static_cast<T*>(gxt.raw_data());
  const int64_t HW = g.H * g.W, OHW = g.OH * g.OW;
  parallel_for(0, g.N * g.C, plane_grain(g), [&](int64_t p0, int64_t p1) {
    std::fill(gx + p0 * HW, gx + p1 * HW, T(0));
    for (int64_t p = p0; p < p1; ++p) {
      T* gp = gx + p * HW;
      for (int64_t oh = 0; oh < g.OH; ++oh)
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const AvgWindow win = avg_window(g, oh, ow);
          if (win.divisor <= 0) continue;
          const T v = gy[p * OHW + oh * g.OW + ow] / T(win.divisor);
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) gp[ih * g.W + iw] += v;
        }
    }
  });
}

}  // namespace

void register_pool() {
  auto& mf = registry_table<MaxPool2dKernel>("max_pool2d");
  auto& mb = registry_table<MaxPool2dBackwardKernel>("max_pool2d_bw");
  auto& af = registry_table<AvgPool2dKernel>("avg_pool2d");
  auto& ab = registry_table<AvgPool2dBackwardKernel>("avg_pool2d_bw");
  mf.set(DeviceType::CPU, DType::f32, max_pool_forward<float>);
  mf.set(DeviceType::CPU, DType::f64, max_pool_forward<double>);
  mb.set(DeviceType::CPU, DType::f32, max_pool_backward<float>);
  mb.set(DeviceType::CPU, DType::f64, max_pool_backward<double>);
  af.set(DeviceType::CPU, DType::f32, avg_pool_forward<float>);
  af.set(DeviceType::CPU, DType::f64, avg_pool_forward<double>);
  ab.set(DeviceType::CPU, DType::f32, avg_pool_backward<float>);
  ab.set(DeviceType::CPU, DType::f64, avg_pool_backward<double>);
}

}  // namespace cairn::kernels::cpu
