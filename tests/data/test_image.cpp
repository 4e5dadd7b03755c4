#include <gtest/gtest.h>

#include <png.h>

#include <cstdlib>
#include <random>

#include "cairn/data/error.h"
#include "cairn/data/image.h"
#include "image_fixtures.h"
#include "test_util.h"

namespace cairn::data {
namespace {

using testing::encode_jpeg;
using testing::encode_png;
using testing::png_spec;
using testing::PngSpec;

std::vector<uint8_t> rgb_pattern(int w, int h) {
  std::vector<uint8_t> p;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      p.push_back(uint8_t(x * 40));
      p.push_back(uint8_t(y * 50));
      p.push_back(uint8_t(200 - x - y));
    }
  }
  return p;
}

TEST(Png, DecodesGreyRgbAndRgbaExactly) {
  Image g = decode_png(encode_png(png_spec(3, 2, PNG_COLOR_TYPE_GRAY, 8), {0, 1, 2, 253, 254, 255}));
  EXPECT_EQ(g.height, 2);
  EXPECT_EQ(g.width, 3);
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{0, 1, 2, 253, 254, 255}));
  std::vector<uint8_t> rgb = rgb_pattern(5, 4);
  Image c = decode_png(encode_png(png_spec(5, 4, PNG_COLOR_TYPE_RGB, 8), rgb));
  EXPECT_EQ(c.channels, 3);
  EXPECT_EQ(c.pixels, rgb);
  std::vector<uint8_t> rgba = {1, 2, 3, 4, 5, 6, 7, 8};
  Image a = decode_png(encode_png(png_spec(2, 1, PNG_COLOR_TYPE_RGBA, 8), rgba));
  EXPECT_EQ(a.channels, 4);
  EXPECT_EQ(a.pixels, rgba);
}

TEST(Png, ExpandsPalettesLowBitDepthsAndSixteenBits) {
  PngSpec pal{3, 1, PNG_COLOR_TYPE_PALETTE, 8, false, {10, 20, 30, 40, 50, 60}, {255, 0}};
  Image p = decode_png(encode_png(pal, {0, 1, 0}));
  EXPECT_EQ(p.channels, 4);  // the tRNS chunk becomes alpha
  EXPECT_EQ(p.pixels, (std::vector<uint8_t>{10, 20, 30, 255, 40, 50, 60, 0, 10, 20, 30, 255}));
  Image bits = decode_png(encode_png(png_spec(8, 1, PNG_COLOR_TYPE_GRAY, 1), {0b10100000}));
  EXPECT_EQ(bits.pixels, (std::vector<uint8_t>{255, 0, 255, 0, 0, 0, 0, 0}));
  Image wide = decode_png(encode_png(png_spec(2, 1, PNG_COLOR_TYPE_GRAY, 16), {0x12, 0x34, 0xFF, 0x00}));
  EXPECT_EQ(wide.pixels, (std::vector<uint8_t>{0x12, 0xFF}));
}

TEST(Png, DecodesInterlacedImages) {
  std::vector<uint8_t> rgb = rgb_pattern(9, 7);
  PngSpec spec{9, 7, PNG_COLOR_TYPE_RGB, 8, true, {}, {}};
  EXPECT_EQ(decode_png(encode_png(spec, rgb)).pixels, rgb);
}

TEST(Png, TruncatedAndCorruptFilesThrowWithTheName) {
  std::vector<uint8_t> png = encode_png(png_spec(5, 4, PNG_COLOR_TYPE_RGB, 8), rgb_pattern(5, 4));
  for (size_t n = 0; n < png.size(); ++n) {
    std::vector<uint8_t> prefix(png.begin(), png.begin() + long(n));
    // A prefix that still holds all the image data (only IEND missing) may decode; anything else must throw.
    try {
      Image img = decode_png(prefix, "cut.png");
      EXPECT_GE(n, png.size() - 12) << "prefix " << n << " decoded";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("cut.png"), std::string::npos);
    }
  }
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint8_t> bad = png;
    bad[8 + rng() % (bad.size() - 8)] ^= uint8_t(1 + rng() % 255);
    try {
      decode_png(bad, "flip.png");
    } catch (const DataError&) {
    }
  }
  EXPECT_THROW(decode_png(std::vector<uint8_t>{1, 2, 3}), DataError);
}

TEST(Png, RefusesImagesAboveThePixelLimit) {
  std::vector<uint8_t> png = encode_png(png_spec(64, 64, PNG_COLOR_TYPE_GRAY, 8), std::vector<uint8_t>(64 * 64, 9));
  DecodeLimits small{1000};
  try {
    decode_png(png, "big.png", small);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the limit"), std::string::npos) << e.what();
  }
}

TEST(Jpeg, DecodesColourAndGrey) {
  std::vector<uint8_t> solid;
  for (int i = 0; i < 16 * 16; ++i) solid.insert(solid.end(), {200, 100, 50});
  for (bool progressive : {false, true}) {
    Image c = decode_jpeg(encode_jpeg(16, 16, 3, solid, 95, progressive));
    EXPECT_EQ(c.height, 16);
    EXPECT_EQ(c.width, 16);
    EXPECT_EQ(c.channels, 3);
    for (size_t i = 0; i < c.pixels.size(); ++i) EXPECT_NEAR(c.pixels[i], solid[i], 3) << i;
  }
  Image g = decode_image(encode_jpeg(8, 8, 1, std::vector<uint8_t>(64, 77)));
  EXPECT_EQ(g.channels, 1);
  for (uint8_t v : g.pixels) EXPECT_NEAR(v, 77, 1);
}

TEST(Jpeg, TruncatedAndCorruptFilesThrowWithoutExiting) {
  std::vector<uint8_t> jpg = encode_jpeg(16, 16, 3, rgb_pattern(16, 16), 90);
  for (size_t n = 0; n < jpg.size(); ++n) {
    std::vector<uint8_t> prefix(jpg.begin(), jpg.begin() + long(n));
    try {
      decode_jpeg(prefix, "cut.jpg");
      ADD_FAILURE() << "prefix of " << n << " bytes decoded";
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("cut.jpg"), std::string::npos);
    }
  }
  std::mt19937 rng(9);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint8_t> bad = jpg;
    for (int k = 0; k < 3; ++k) bad[2 + rng() % (bad.size() - 2)] = uint8_t(rng());
    try {
      decode_jpeg(bad, "flip.jpg");
    } catch (const DataError&) {
    }
  }
  EXPECT_THROW(decode_image(std::vector<uint8_t>{'G', 'I', 'F', '8'}, "x.gif"), DataError);
}

TEST(ImageOps, ChannelConversion) {
  Image rgb{1, 2, 3, {10, 20, 30, 255, 255, 255}};
  Image g = convert_channels(rgb, 1);
  EXPECT_EQ(g.pixels, (std::vector<uint8_t>{18, 255}));  // round(0.299*10 + 0.587*20 + 0.114*30) = 18
  Image back = convert_channels(g, 3);
  EXPECT_EQ(back.pixels, (std::vector<uint8_t>{18, 18, 18, 255, 255, 255}));
  Image rgba{1, 1, 4, {1, 2, 3, 4}};
  EXPECT_EQ(convert_channels(rgba, 3).pixels, (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(convert_channels(rgb, 4).pixels, (std::vector<uint8_t>{10, 20, 30, 255, 255, 255, 255, 255}));
  EXPECT_THROW(convert_channels(rgb, 2), std::invalid_argument);
}

TEST(ImageOps, BilinearResizeUsesHalfPixelCentres) {
  Image row{1, 2, 1, {0, 100}};
  EXPECT_EQ(resize_bilinear(row, 1, 4).pixels, (std::vector<uint8_t>{0, 25, 75, 100}));
  Image four{1, 4, 1, {0, 10, 20, 30}};
  EXPECT_EQ(resize_bilinear(four, 1, 2).pixels, (std::vector<uint8_t>{5, 25}));
  Image sq{2, 2, 1, {0, 100, 100, 200}};
  Image up = resize_bilinear(sq, 4, 4);
  EXPECT_EQ(up.pixels, (std::vector<uint8_t>{0, 25, 75, 100, 25, 50, 100, 125, 75, 100, 150, 175, 100, 125, 175, 200}));
  EXPECT_THROW(resize_bilinear(sq, 0, 3), std::invalid_argument);
}

TEST(ImageFolder, ClassesSortedLikeKerasAndImagesResized) {
  testing::TempDir dir;
  auto png_of = [](uint8_t v, int w, int h) {
    return encode_png(png_spec(w, h, PNG_COLOR_TYPE_GRAY, 8), std::vector<uint8_t>(size_t(w * h), v));
  };
  testing::write_bytes(dir / "cats/b.png", png_of(10, 2, 2));
  testing::write_bytes(dir / "cats/a.PNG", png_of(20, 4, 4));
  testing::write_bytes(dir / "cats/sub/c.jpeg", encode_jpeg(8, 8, 1, std::vector<uint8_t>(64, 30)));
  testing::write_bytes(dir / "cats/notes.txt", std::string("ignored"));
  testing::write_bytes(dir / "Dogs/x.jpg", encode_jpeg(8, 8, 3, std::vector<uint8_t>(192, 40)));
  testing::write_bytes(dir / "birds/y.png", png_of(50, 3, 3));
  testing::write_bytes(dir / "top.png", png_of(60, 2, 2));  // not in a class folder: ignored
  ImageFolderOptions opt;
  opt.channels = 1;
  opt.height = 4;
  opt.width = 4;
  ImageFolderDataset ds = load_image_folder(dir.path(), opt);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"Dogs", "birds", "cats"}));
  EXPECT_EQ(ds.images.shape, (std::vector<int64_t>{5, 4, 4, 1}));
  EXPECT_EQ(ds.labels.data, (std::vector<int64_t>{0, 1, 2, 2, 2}));
  ASSERT_EQ(ds.files.size(), 5u);
  EXPECT_EQ(ds.files[2], (dir / "cats/a.PNG").string());
  EXPECT_EQ(ds.files[3], (dir / "cats/b.png").string());
  EXPECT_EQ(ds.files[4], (dir / "cats/sub/c.jpeg").string());
  EXPECT_EQ(ds.images.data[16 * 1], 50);  // birds/y.png, constant image stays constant when resized
  EXPECT_EQ(ds.images.data[16 * 3], 10);
  EXPECT_NEAR(ds.images.data[16 * 0], 40, 2);
}

TEST(ImageFolder, ErrorsNameTheFile) {
  testing::TempDir dir;
  auto png_of = [](int w, int h) { return encode_png(png_spec(w, h, PNG_COLOR_TYPE_GRAY, 8), std::vector<uint8_t>(size_t(w * h), 1)); };
  testing::write_bytes(dir / "a/1.png", png_of(2, 2));
  testing::write_bytes(dir / "a/2.png", png_of(3, 3));
  try {
    load_image_folder(dir.path());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("2.png"), std::string::npos) << e.what();
  }
  std::vector<uint8_t> broken = png_of(2, 2);
  broken.resize(broken.size() / 2);
  testing::write_bytes(dir / "a/2.png", broken);
  try {
    load_image_folder(dir.path());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("2.png: corrupt PNG"), std::string::npos) << e.what();
  }
  testing::TempDir empty;
  EXPECT_THROW(load_image_folder(empty.path()), DataError);
}

}  // namespace
}  // namespace cairn::data
