// Channel conversion and bilinear resizing of decoded images.
#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "cairn/data/image.h"

namespace cairn::data {

Image convert_channels(const Image& in, int channels) {
  if (channels != 1 && channels != 3 && channels != 4) {
    throw std::invalid_argument("convert_channels: channels must be 1, 3 or 4, got " + std::to_string(channels));
  }
  if (in.channels < 1 || in.channels > 4) {
    throw std::invalid_argument("convert_channels: image has " + std::to_string(in.channels) + " channels");
  }
  if (in.channels == channels) return in;
  Image out{in.height, in.width, channels, {}};
  const size_t n = size_t(in.height) * size_t(in.width);
  out.pixels.resize(n * size_t(channels));
  const int cin = in.channels;
  const bool in_colour = cin >= 3;
  const bool in_alpha = cin == 2 || cin == 4;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = in.pixels.data() + i * size_t(cin);
    uint8_t* q = out.pixels.data() + i * size_t(channels);
    uint8_t r = p[0], g = in_colour ? p[1] : p[0], b = in_colour ? p[2] : p[0];
    uint8_t a = in_alpha ? p[cin - 1] : 255;
    if (channels == 1) {
      q[0] = in_colour ? uint8_t(std::lround(0.299 * r + 0.587 * g + 0.114 * b)) : r;
    } else {
      q[0] = r;
      q[1] = g;
      q[2] = b;
      if (channels == 4) q[3] = a;
    }
  }
  return out;
}

Image resize_bilinear(const Image& in, int height, int width) {
  if (height < 1 || width < 1) {
    throw std::invalid_argument("resize_bilinear: target size must be at least 1x1, got " + std::to_string(height) + "x" +
                                std::to_string(width));
  }
  if (in.height < 1 || in.width < 1) throw std::invalid_argument("resize_bilinear: empty image");
  if (in.height == height && in.width == width) return in;
  const int c = in.channels;
  Image out{height, width, c, std::vector<uint8_t>(size_t(height) * size_t(width) * size_t(c))};
  // Half-pixel centres: output pixel x samples the input at (x + 0.5) * in / out - 0.5, clamped to the edges.
  struct Tap {
    int i0, i1;
    float w1;
  };
  auto taps = [](int out_n, int in_n) {
    std::vector<Tap> t(static_cast<size_t>(out_n));
    const double scale = double(in_n) / double(out_n);
    for (int o = 0; o < out_n; ++o) {
      double src = (o + 0.5) * scale - 0.5;
      src = std::clamp(src, 0.0, double(in_n - 1));
      int i0 = int(std::floor(src));
      int i1 = std::min(i0 + 1, in_n - 1);
      t[size_t(o)] = {i0, i1, float(src - i0)};
    }
    return t;
  };
  const std::vector<Tap> ty = taps(height, in.height), tx = taps(width, in.width);
  const size_t in_stride = size_t(in.width) * size_t(c);
  for (int y = 0; y < height; ++y) {
    const Tap& a = ty[size_t(y)];
    const uint8_t* r0 = in.pixels.data() + size_t(a.i0) * in_stride;
    const uint8_t* r1 = in.pixels.data() + size_t(a.i1) * in_stride;
    uint8_t* dst = out.pixels.data() + size_t(y) * size_t(width) * size_t(c);
    for (int x = 0; x < width; ++x) {
      const Tap& b = tx[size_t(x)];
      for (int ch = 0; ch < c; ++ch) {
        float top = r0[size_t(b.i0) * size_t(c) + size_t(ch)] * (1 - b.w1) + r0[size_t(b.i1) * size_t(c) + size_t(ch)] * b.w1;
        float bot = r1[size_t(b.i0) * size_t(c) + size_t(ch)] * (1 - b.w1) + r1[size_t(b.i1) * size_t(c) + size_t(ch)] * b.w1;
        float v = top * (1 - a.w1) + bot * a.w1;
        dst[size_t(x) * size_t(c) + size_t(ch)] = uint8_t(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

}  // namespace cairn::data
