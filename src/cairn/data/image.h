// Images: PNG (libpng) and JPEG (libjpeg) decoding to uint8 HWC, channel conversion, bilinear resizing, and
// Keras-style image folders (one subfolder per class).
//
//   cairn::data::ImageFolderOptions opt;
//   opt.channels = 3; opt.height = 64; opt.width = 64;
//   cairn::data::ImageFolderDataset ds = cairn::data::load_image_folder("flowers/train", opt);
//   // ds.images: (N, 64, 64, 3) uint8, ds.labels: (N,), ds.class_names: sorted subfolder names
//
// Decoders treat their input as hostile: a corrupt or truncated file raises DataError with the file name; the
// libraries' error paths are redirected (libjpeg's default handler would call exit()).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "cairn/data/array.h"

namespace cairn::data {

struct Image {
  int height = 0;
  int width = 0;
  int channels = 0;             // 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA)
  std::vector<uint8_t> pixels;  // (height, width, channels), row-major
};

struct DecodeLimits {
  // Refuse images with more pixels than this before allocating (a 40-byte PNG can claim 10^12 pixels).
  int64_t max_pixels = int64_t(1) << 28;
};

// Decoders for bytes in memory; `name` is used in messages. Guarantee: pixels.size() == height*width*channels,
// 8 bits per channel (16-bit PNGs are reduced, palettes expanded, transparency becomes an alpha channel).
// Throw DataError naming `name` for any corrupt, truncated or oversized image.
Image decode_png(std::span<const uint8_t> bytes, const std::string& name = "<memory>", DecodeLimits limits = {});
Image decode_jpeg(std::span<const uint8_t> bytes, const std::string& name = "<memory>", DecodeLimits limits = {});
// Picks the decoder from the magic bytes (PNG: 89 50 4E 47, JPEG: FF D8 FF). Throws DataError for other formats.
Image decode_image(std::span<const uint8_t> bytes, const std::string& name = "<memory>", DecodeLimits limits = {});
Image load_image(const std::filesystem::path& path, DecodeLimits limits = {});

// Converts to 1, 3 or 4 channels: grey->RGB replicates, RGB->grey uses ITU-R 601 luma (0.299, 0.587, 0.114, as
// tf.image.rgb_to_grayscale), alpha is dropped (not composited) or added as 255. Throws std::invalid_argument.
Image convert_channels(const Image& image, int channels);
// Bilinear resize with half-pixel centres (what tf.image.resize / Keras do, without antialiasing), rounded to
// the nearest integer. Requires height, width >= 1 (std::invalid_argument otherwise).
Image resize_bilinear(const Image& image, int height, int width);

struct ImageFolderOptions {
  int channels = 3;        // 1, 3 or 4
  int height = 0;          // 0: keep the decoded size (then every image must have the same size)
  int width = 0;
  bool follow_links = false;
  DecodeLimits limits;
};

struct ImageFolderDataset {
  Array<uint8_t> images;                 // (N, H, W, C)
  Array<int64_t> labels;                 // (N,): index into class_names
  std::vector<std::string> class_names;  // subfolder names, sorted (byte order, as Keras sorts them)
  std::vector<std::string> files;        // per image, in order: class 0's files sorted, then class 1's, ...
};

// Every .png/.jpg/.jpeg (any case) below each subfolder of `dir` (recursively); other files are ignored, as are
// files directly in `dir`. Throws DataError if `dir` has no subfolders or no images, for a corrupt image (naming
// it), or for differing image sizes when no target size is set.
ImageFolderDataset load_image_folder(const std::filesystem::path& dir, const ImageFolderOptions& options = {});

}  // namespace cairn::data
