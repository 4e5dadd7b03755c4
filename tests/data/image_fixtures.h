// Test fixtures written with libpng / libjpeg directly (not with the code under test).
#pragma once

#include <cstdint>
#include <vector>

namespace cairn::data::testing {

struct PngSpec {
  int width = 1, height = 1;
  int color_type = 0;  // PNG_COLOR_TYPE_*
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<uint8_t> palette;  // RGB triplets (palette images)
  std::vector<uint8_t> trns;     // palette alpha values
};
inline PngSpec png_spec(int width, int height, int color_type, int bit_depth) {
  PngSpec s;
  s.width = width;
  s.height = height;
  s.color_type = color_type;
  s.bit_depth = bit_depth;
  return s;
}
// `rows` holds height rows of packed samples as PNG stores them (16-bit samples big-endian).
std::vector<uint8_t> encode_png(const PngSpec& spec, const std::vector<uint8_t>& rows);
// channels 1 (grey) or 3 (RGB); pixels HWC.
std::vector<uint8_t> encode_jpeg(int width, int height, int channels, const std::vector<uint8_t>& pixels, int quality = 95,
                                 bool progressive = false);

}  // namespace cairn::data::testing
