#include <gtest/gtest.h>

#include <cstring>

#include "cairn/data/error.h"
#include "cairn/data/gzip.h"
#include "cairn/data/idx.h"
#include "test_util.h"

namespace cairn::data {
namespace {

IdxArray small_u8() {
  IdxArray a;
  a.dtype = IdxDtype::U8;
  a.shape = {2, 3};
  a.bytes = {1, 2, 3, 4, 5, 255};
  return a;
}

template <class T>
IdxArray typed(IdxDtype dtype, std::vector<T> values, std::vector<int64_t> shape) {
  IdxArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  a.bytes.resize(values.size() * sizeof(T));
  std::memcpy(a.bytes.data(), values.data(), a.bytes.size());
  return a;
}

TEST(Idx, RawBytesAreBigEndianAsSpecified) {
  IdxArray a = typed<int16_t>(IdxDtype::I16, {0x0102, -2}, {2});
  std::vector<uint8_t> raw = encode_idx(a, false);
  std::vector<uint8_t> expected = {0, 0, 0x0B, 1, 0, 0, 0, 2, 0x01, 0x02, 0xFF, 0xFE};
  EXPECT_EQ(raw, expected);
}

TEST(Idx, RoundTripsEveryDtypeRawAndGzip) {
  std::vector<IdxArray> arrays = {
      small_u8(),
      typed<int8_t>(IdxDtype::I8, {-128, 0, 127}, {3}),
      typed<int16_t>(IdxDtype::I16, {-300, 7, 32767, 1}, {2, 2}),
      typed<int32_t>(IdxDtype::I32, {-70000, 1 << 30}, {1, 2, 1}),
      typed<float>(IdxDtype::F32, {1.5f, -0.25f, 3e20f}, {3}),
      typed<double>(IdxDtype::F64, {3.141592653589793, -1e-300}, {2}),
  };
  for (const IdxArray& a : arrays) {
    for (bool gz : {false, true}) {
      std::vector<uint8_t> enc = encode_idx(a, gz);
      EXPECT_EQ(is_gzip(enc), gz);
      IdxArray b = parse_idx(enc, "mem");
      EXPECT_EQ(b.dtype, a.dtype);
      EXPECT_EQ(b.shape, a.shape);
      EXPECT_EQ(b.bytes, a.bytes);
    }
  }
  EXPECT_EQ(parse_idx(encode_idx(arrays[2], true)).to_float().data, (std::vector<float>{-300, 7, 32767, 1}));
  EXPECT_EQ(parse_idx(encode_idx(arrays[1], false)).to_int64().data, (std::vector<int64_t>{-128, 0, 127}));
  EXPECT_THROW(arrays[4].to_int64(), DataError);
  EXPECT_THROW(arrays[4].to_u8(), DataError);
}

TEST(Idx, EveryTruncatedPrefixThrowsDataError) {
  for (bool gz : {false, true}) {
    std::vector<uint8_t> enc = encode_idx(small_u8(), gz);
    for (size_t n = 0; n < enc.size(); ++n) {
      std::vector<uint8_t> prefix(enc.begin(), enc.begin() + long(n));
      EXPECT_THROW(parse_idx(prefix, "t.idx"), DataError) << "prefix " << n << " gzip " << gz;
    }
  }
}

TEST(Idx, PayloadMismatchReportsExpectedAndActualBytes) {
  std::vector<uint8_t> enc = encode_idx(small_u8(), false);
  enc.pop_back();
  try {
    parse_idx(enc, "short.idx");
    FAIL();
  } catch (const DataError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("short.idx"), std::string::npos) << m;
    EXPECT_NE(m.find("need 6 bytes, the file has 5 (truncated)"), std::string::npos) << m;
  }
  std::vector<uint8_t> raw = encode_idx(small_u8(), false);
  raw.push_back(9);
  for (bool gz : {false, true}) {
    // For gzip the extra byte is found after decompression.
    std::vector<uint8_t> in = gz ? testing::gzip_bytes(raw) : raw;
    try {
      parse_idx(in, "long.idx");
      FAIL();
    } catch (const DataError& e) {
      EXPECT_NE(std::string(e.what()).find("need 6 bytes, the file has 7 (trailing bytes)"), std::string::npos) << e.what();
    }
  }
}

TEST(Idx, RejectsBadMagicZeroDimsAndAbsurdDims) {
  std::vector<uint8_t> bad = {0, 1, 8, 1, 0, 0, 0, 1, 5};
  EXPECT_THROW(parse_idx(bad), DataError);
  std::vector<uint8_t> dtype = {0, 0, 0x07, 1, 0, 0, 0, 1, 5};
  EXPECT_THROW(parse_idx(dtype), DataError);
  std::vector<uint8_t> zero = {0, 0, 8, 0};
  EXPECT_THROW(parse_idx(zero), DataError);
  // 4 dims of 0xFFFFFFFF doubles overflow 64 bits; must be refused without allocating.
  std::vector<uint8_t> huge = {0, 0, 0x0E, 4};
  for (int i = 0; i < 16; ++i) huge.push_back(0xFF);
  try {
    parse_idx(huge, "huge.idx");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("limit"), std::string::npos) << e.what();
  }
  // A header claiming 10^10 bytes: raw, it is a size mismatch; gzip-compressed, it is more than deflate's
  // maximum ratio allows for the file size, refused before allocating.
  std::vector<uint8_t> header = {0, 0, 8, 2, 0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0};
  EXPECT_THROW(parse_idx(header, "h.idx"), DataError);
  try {
    parse_idx(testing::gzip_bytes(header), "h.idx.gz");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("-byte gzip file can hold"), std::string::npos) << e.what();
  }
}

TEST(Idx, ZeroDimMakesAnEmptyArrayWhateverTheOtherDims) {
  // Found by idx_fuzz: dims (0x02FC050B, 0, 0xFFFFFFFF) hold 0 bytes; numel() must not overflow on them.
  std::vector<uint8_t> bytes = {0, 0, 8, 3, 0x02, 0xFC, 0x05, 0x0B, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF};
  IdxArray a = parse_idx(bytes);
  EXPECT_EQ(a.numel(), 0);
  EXPECT_TRUE(a.bytes.empty());
  EXPECT_TRUE(a.to_float().data.empty());
  EXPECT_EQ(a.to_u8().numel(), 0);
}

TEST(Idx, CorruptGzipIsDataError) {
  std::vector<uint8_t> enc = encode_idx(small_u8(), true);
  for (size_t i = 10; i < enc.size(); ++i) {
    std::vector<uint8_t> c = enc;
    c[i] ^= 0x5A;
    EXPECT_THROW(parse_idx(c, "c.gz"), DataError) << "flipped byte " << i;
  }
}

TEST(Idx, SaveAndLoadFile) {
  testing::TempDir dir;
  save_idx(dir / "a.idx.gz", small_u8(), true);
  IdxArray b = load_idx(dir / "a.idx.gz");
  EXPECT_EQ(b.bytes, small_u8().bytes);
  EXPECT_THROW(load_idx(dir / "missing.idx"), DataError);
}

TEST(FashionMnist, LoadsTheInstalledDataset) {
  FashionMnist fm = load_fashion_mnist();
  EXPECT_EQ(fm.train.images.shape, (std::vector<int64_t>{60000, 28, 28}));
  EXPECT_EQ(fm.train.labels.shape, (std::vector<int64_t>{60000}));
  EXPECT_EQ(fm.test.images.shape, (std::vector<int64_t>{10000, 28, 28}));
  EXPECT_EQ(fm.test.labels.shape, (std::vector<int64_t>{10000}));
  // First labels, read independently with Python's gzip module.
  std::vector<int64_t> train_first(fm.train.labels.data.begin(), fm.train.labels.data.begin() + 10);
  std::vector<int64_t> test_first(fm.test.labels.data.begin(), fm.test.labels.data.begin() + 10);
  EXPECT_EQ(train_first, (std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  EXPECT_EQ(test_first, (std::vector<int64_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  // Pixel checks against the same independent reading: sum of the first image and its row 14.
  int64_t sum = 0;
  for (int i = 0; i < 784; ++i) sum += fm.train.images.data[size_t(i)];
  EXPECT_EQ(sum, 76247);
  std::vector<uint8_t> row14(fm.train.images.data.begin() + 28 * 14, fm.train.images.data.begin() + 28 * 15);
  EXPECT_EQ(row14, (std::vector<uint8_t>{0, 0, 1, 4, 6, 7, 2, 0, 0, 0, 0, 0, 237, 226, 217, 223, 222, 219, 222, 221, 216,
                                         223, 229, 215, 218, 255, 77, 0}));
  EXPECT_EQ(fm.class_names.size(), 10u);
  EXPECT_EQ(fm.class_names[9], "Ankle boot");
}

TEST(FashionMnist, MissingFolderNamesTheDebianPackage) {
  try {
    load_fashion_mnist("/nonexistent/fashion");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("Fashion-MNIST not found in /nonexistent/fashion: install it with `sudo apt-get "
                                         "install dataset-fashion-mnist`"),
              std::string::npos)
        << e.what();
  }
}

TEST(FashionMnist, MismatchedCountsAreReported) {
  testing::TempDir dir;
  IdxArray images{IdxDtype::U8, {2, 28, 28}, std::vector<uint8_t>(2 * 784, 7)};
  IdxArray labels{IdxDtype::U8, {3}, {1, 2, 3}};
  for (const char* split : {"train", "t10k"}) {
    save_idx(dir / (std::string(split) + "-images-idx3-ubyte.gz"), images, true);
    save_idx(dir / (std::string(split) + "-labels-idx1-ubyte"), labels, false);  // uncompressed also accepted
  }
  try {
    load_fashion_mnist(dir.path());
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("has 3 labels but"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cairn::data
