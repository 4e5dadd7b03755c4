// libFuzzer target for the JPEG decoder. Contract: a decoded image with pixels.size() == h * w * c, or
// DataError; libjpeg's fatal errors must not exit() the process.
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
    cairn::data::Image img = cairn::data::decode_jpeg(std::span<const uint8_t>(data, size), "fuzz.jpg", limits);
    require(img.height > 0 && img.width > 0 && (img.channels == 1 || img.channels == 3));
    require(img.pixels.size() == size_t(img.height) * size_t(img.width) * size_t(img.channels));
    cairn::data::Image grey = cairn::data::convert_channels(img, 1);
    require(grey.pixels.size() == size_t(img.height) * size_t(img.width));
  } catch (const cairn::data::DataError&) {
  }
  return 0;
}
