#include "cairn/data/augment.h"

#include <cmath>

#include "cairn/core/ops/ops.h"

namespace cairn::data {
namespace {

// Maps an out-of-range coordinate into [0, n) according to the fill mode; -1 means "use cval".
int64_t fill_index(int64_t i, int64_t n, int mode) {
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case 0: return std::clamp<int64_t>(i, 0, n - 1);  // nearest
    case 1: return -1;                                 // constant
    case 2: {                                          // reflect (scipy's "reflect": d c b a | a b c d | d c b a)
      int64_t p = 2 * n;
      int64_t m = ((i % p) + p) % p;
      return m < n ? m : p - 1 - m;
    }
    default: return ((i % n) + n) % n;  // wrap
  }
}

}  // namespace

Tensor augment_image(const Tensor& x, const AugmentOptions& o, Generator& g) {
  CAIRN_CHECK(x.dim() == 3, ShapeError, "augment_image: expects a (C, H, W) image, got shape ", shape_str(x.shape()));
  x.check_dtype(DType::f32, "augment_image");
  CAIRN_CHECK(o.rotation_range >= 0 && o.width_shift_range >= 0 && o.height_shift_range >= 0 && o.zoom_range >= 0 &&
                  o.zoom_range < 1 && o.crop_padding >= 0 && o.brightness_delta >= 0 && o.contrast_range >= 0 &&
                  o.contrast_range < 1,
              ValueError, "augment_image: ranges must be >= 0 (zoom_range and contrast_range below 1)");
  int mode;
  if (o.fill_mode == "nearest") mode = 0;
  else if (o.fill_mode == "constant") mode = 1;
  else if (o.fill_mode == "reflect") mode = 2;
  else if (o.fill_mode == "wrap") mode = 3;
  else throw ValueError("augment_image: fill_mode must be nearest, constant, reflect or wrap, got '" + o.fill_mode + "'");

  const int64_t C = x.size(0), H = x.size(1), W = x.size(2);
  Tensor src = x.contiguous();
  // Parameters in a fixed order, whether or not each is enabled, so enabling one does not shift the others.
  const double theta = (g.uniform() * 2 - 1) * o.rotation_range * M_PI / 180.0;
  double tx = (g.uniform() * 2 - 1) * o.height_shift_range, ty = (g.uniform() * 2 - 1) * o.width_shift_range;
  if (o.height_shift_range < 1) tx *= static_cast<double>(H);
  if (o.width_shift_range < 1) ty *= static_cast<double>(W);
  const double zx = 1 + (g.uniform() * 2 - 1) * o.zoom_range, zy = 1 + (g.uniform() * 2 - 1) * o.zoom_range;
  const bool flip = g.uniform() < 0.5 && o.horizontal_flip;
  const int64_t cy = o.crop_padding ? static_cast<int64_t>(g.below(2 * o.crop_padding + 1)) - o.crop_padding : 0;
  const int64_t cx = o.crop_padding ? static_cast<int64_t>(g.below(2 * o.crop_padding + 1)) - o.crop_padding : 0;
  const double bright = (g.uniform() * 2 - 1) * o.brightness_delta;
  const double contrast = 1 + (g.uniform() * 2 - 1) * o.contrast_range;

  // Output pixel (r, c) samples the input at M * (r - center, c - center) + center + shift (Keras's
  // apply_affine_transform: rotation, then shift, then zoom, about the image center), bilinear.
  const double ct = std::cos(theta), st = std::sin(theta);
  const double a = ct * zx, b = -st * zy, c2 = st * zx, d = ct * zy;
  const double oy = (static_cast<double>(H) - 1) / 2, ox = (static_cast<double>(W) - 1) / 2;
  Tensor out = Tensor::empty({C, H, W}, DType::f32);
  const float* s = src.data<float>();
  float* dst = out.data<float>();
  const bool affine = theta != 0 || tx != 0 || ty != 0 || zx != 1 || zy != 1;
  const float fill = static_cast<float>(o.cval);
  for (int64_t ch = 0; ch < C; ++ch) {
    const float* sp = s + ch * H * W;
    float* dp = dst + ch * H * W;
    for (int64_t r = 0; r < H; ++r) {
      // Crop with padding shifts the sampling window (zeros outside the padded image).
      const int64_t rr = r + cy;
      const double yr = static_cast<double>(rr) - oy;
      const double row_y = a * yr + oy + tx, row_x = c2 * yr + ox + ty;  // the row's part of M * (yr, xr) + ...
      for (int64_t col = 0; col < W; ++col) {
        const int64_t cc = (flip ? W - 1 - col : col) + cx;
        float v;
        if (!affine) {
          v = (rr >= 0 && rr < H && cc >= 0 && cc < W) ? sp[rr * W + cc] : (o.crop_padding ? 0.0f : fill);
        } else {
          const double xr = static_cast<double>(cc) - ox;
          const double sy = row_y + b * xr, sx = row_x + d * xr;
          const double fy = std::floor(sy), fx = std::floor(sx);
          const double wy = sy - fy, wx = sx - fx;
          const int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
          double acc;
          if (y0 >= 0 && y0 + 1 < H && x0 >= 0 && x0 + 1 < W) {
            // All four neighbours inside (most pixels): no fill-mode lookups. Same terms in the same order as
            // below, so both paths give the same bits.
            const float* p = sp + y0 * W + x0;
            acc = (1 - wy) * (1 - wx) * p[0];
            acc += (1 - wy) * wx * p[1];
            acc += wy * (1 - wx) * p[W];
            acc += wy * wx * p[W + 1];
          } else {
            acc = 0;
            for (int dy = 0; dy < 2; ++dy)
              for (int dx = 0; dx < 2; ++dx) {
                const double w = (dy ? wy : 1 - wy) * (dx ? wx : 1 - wx);
                if (w == 0) continue;
                const int64_t iy = fill_index(y0 + dy, H, mode);
                const int64_t ix = fill_index(x0 + dx, W, mode);
                acc += w * ((iy < 0 || ix < 0) ? o.cval : sp[iy * W + ix]);
              }
          }
          v = static_cast<float>(acc);
        }
        dp[r * W + col] = v;
      }
    }
    if (bright != 0 || contrast != 1) {
      double mean = 0;
      for (int64_t i = 0; i < H * W; ++i) mean += dp[i];
      mean /= static_cast<double>(H * W);
      for (int64_t i = 0; i < H * W; ++i)
        dp[i] = static_cast<float>((dp[i] - mean) * contrast + mean + bright);
    }
  }
  return out;
}

}  // namespace cairn::data
