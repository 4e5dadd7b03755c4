// IDX files: the format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/), raw or gzip-compressed.
//
// Layout: 2 zero bytes, a dtype code, the number of dimensions n, then n big-endian uint32 sizes, then the
// elements in row-major order, big-endian. Example:
//   cairn::data::IdxArray images = cairn::data::load_idx("train-images-idx3-ubyte.gz");
//   cairn::data::Array<uint8_t> pixels = images.to_u8();   // shape (60000, 28, 28)
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "cairn/data/array.h"

namespace cairn::data {

enum class IdxDtype : uint8_t { U8 = 0x08, I8 = 0x09, I16 = 0x0B, I32 = 0x0C, F32 = 0x0D, F64 = 0x0E };

// Bytes per element of a dtype; throws std::invalid_argument for a value outside the enum.
size_t idx_element_size(IdxDtype dtype);
const char* idx_dtype_name(IdxDtype dtype);

// An IDX array as stored: dtype, shape, and the elements converted to host byte order.
struct IdxArray {
  IdxDtype dtype = IdxDtype::U8;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // numel() * idx_element_size(dtype) bytes, host-endian

  int64_t numel() const;
  // Requires dtype U8 (throws DataError otherwise): the pixels/labels as they are, no conversion.
  Array<uint8_t> to_u8() const;
  // Any dtype, converted element by element (F64 may round).
  Array<float> to_float() const;
  // Integer dtypes only (throws DataError for F32/F64).
  Array<int64_t> to_int64() const;
};

struct IdxLimits {
  // Refuse files whose header claims more than this many payload bytes (a corrupt or hostile header would
  // otherwise make us allocate terabytes).
  uint64_t max_payload_bytes = uint64_t(1) << 36;
};

// Parses an IDX file held in memory; gzip is detected by its magic bytes 0x1f 0x8b.
// Guarantees: the payload size equals product(dims) * element size exactly.
// Throws DataError (naming `name`, the byte offset and expected vs actual sizes) for a bad magic, unknown dtype,
// zero dimensions, overflowing or absurd dims, truncated payloads, trailing bytes, or corrupt gzip data.
IdxArray parse_idx(std::span<const uint8_t> bytes, const std::string& name = "<memory>", IdxLimits limits = {});

// Reads and parses an IDX file (raw or .gz). Throws DataError as parse_idx, or if the file cannot be read.
IdxArray load_idx(const std::filesystem::path& path, IdxLimits limits = {});

// Encodes an array as IDX (big-endian), optionally gzip-compressed. Throws std::invalid_argument if bytes.size()
// does not match the shape or a dimension does not fit in uint32.
std::vector<uint8_t> encode_idx(const IdxArray& array, bool gzip);
// Writes encode_idx(array, gzip) atomically (temp file, fsync, rename).
void save_idx(const std::filesystem::path& path, const IdxArray& array, bool gzip);

// Fashion-MNIST (Xiao et al. 2017): 60000 training and 10000 test images of 28x28 grey pixels, 10 classes.
struct ImageLabelSplit {
  Array<uint8_t> images;  // (N, 28, 28)
  Array<int64_t> labels;  // (N,), values in [0, 10)
};
struct FashionMnist {
  ImageLabelSplit train;
  ImageLabelSplit test;
  std::vector<std::string> class_names;  // "T-shirt/top", "Trouser", ..., "Ankle boot"
};

// Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir` (the .gz name is tried first).
// Throws DataError naming the Debian package `dataset-fashion-mnist` if the files are missing, and DataError
// if images and labels disagree in count, an image is not 28x28, or a label is not in [0, 10).
FashionMnist load_fashion_mnist(const std::filesystem::path& dir = "/usr/share/datasets/fashion-mnist");

}  // namespace cairn::data
