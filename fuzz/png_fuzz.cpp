// libFuzzer target for the PNG decoder plus the channel conversion and resize it feeds. Contract: a decoded
// image with pixels.size() == h * w * c, or DataError; libpng errors must come back as exceptions.
#include <cstddef>
#include <cstdint>
#include <span>

#include "cairn/data/error.h"
#include "cairn/data/image.h"

static void require(bool ok) {
  if (!ok) __builtin_trap();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cairn::data::DecodeLimits limits;
  limits.max_pixels = 1 << 22;
  try {
    cairn::data::Image img = cairn::data::decode_png(std::span<const uint8_t>(data, size), "fuzz.png", limits);
    require(img.height > 0 && img.width > 0 && img.channels >= 1 && img.channels <= 4);
    require(img.pixels.size() == size_t(img.height) * size_t(img.width) * size_t(img.channels));
    cairn::data::Image rgb = cairn::data::convert_channels(img, 3);
    cairn::data::Image small = cairn::data::resize_bilinear(rgb, 5, 7);
    require(small.pixels.size() == 5u * 7u * 3u);
  } catch (const cairn::data::DataError&) {
  }
  return 0;
}
