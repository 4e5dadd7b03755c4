#include "cairn/data/idx.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <stdexcept>

#include "cairn/data/error.h"
#include "cairn/data/file_util.h"
#include "cairn/data/gzip.h"

#include <zlib.h>

namespace cairn::data {

size_t idx_element_size(IdxDtype dtype) {
  switch (dtype) {
    case IdxDtype::U8:
    case IdxDtype::I8: return 1;
    case IdxDtype::I16: return 2;
    case IdxDtype::I32:
    case IdxDtype::F32: return 4;
    case IdxDtype::F64: return 8;
  }
  throw std::invalid_argument("idx_element_size: unknown IDX dtype code " + std::to_string(int(dtype)));
}

const char* idx_dtype_name(IdxDtype dtype) {
  switch (dtype) {
    case IdxDtype::U8: return "ubyte";
    case IdxDtype::I8: return "byte";
    case IdxDtype::I16: return "short";
    case IdxDtype::I32: return "int";
    case IdxDtype::F32: return "float";
    case IdxDtype::F64: return "double";
  }
  return "unknown";
}

int64_t IdxArray::numel() const {
  // A zero dim makes the array empty whatever the other dims are (which parse_idx then leaves unchecked, so
  // their product may not fit in 64 bits).
  for (int64_t d : shape) {
    if (d == 0) return 0;
  }
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

namespace {

bool valid_dtype(uint8_t code) {
  return code == 0x08 || code == 0x09 || code == 0x0B || code == 0x0C || code == 0x0D || code == 0x0E;
}

uint32_t load_be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

// Converts big-endian elements to host order in place.
void big_to_host(std::vector<uint8_t>& bytes, size_t elem) {
  if (elem == 1 || std::endian::native == std::endian::big) return;
  for (size_t i = 0; i + elem <= bytes.size(); i += elem) std::reverse(bytes.begin() + i, bytes.begin() + i + elem);
}

template <class Src, class Dst>
void convert_all(const std::vector<uint8_t>& bytes, std::vector<Dst>& out) {
  size_t n = bytes.size() / sizeof(Src);
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    Src v;
    std::memcpy(&v, bytes.data() + i * sizeof(Src), sizeof(Src));
    out[i] = static_cast<Dst>(v);
  }
}

// Reads from a raw buffer or through a gzip decoder, so one header/payload parser serves both.
class ByteSource {
 public:
  ByteSource(std::span<const uint8_t> bytes, const std::string& name) : raw_(bytes) {
    if (is_gzip(bytes)) gz_ = std::make_unique<GzipReader>(bytes, name);
  }
  bool compressed() const { return gz_ != nullptr; }
  size_t read(void* out, size_t n) {
    if (gz_) return gz_->read(out, n);
    size_t k = std::min(n, raw_.size() - pos_);
    if (k) std::memcpy(out, raw_.data() + pos_, k);
    pos_ += k;
    return k;
  }
  // Counts (and discards) whatever is left, so errors can report the true size.
  uint64_t drain() {
    if (!gz_) {
      uint64_t rest = raw_.size() - pos_;
      pos_ = raw_.size();
      return rest;
    }
    uint64_t total = 0;
    uint8_t buf[1 << 14];
    for (size_t k; (k = gz_->read(buf, sizeof buf)) > 0;) total += k;
    return total;
  }

 private:
  std::span<const uint8_t> raw_;
  size_t pos_ = 0;
  std::unique_ptr<GzipReader> gz_;
};

}  // namespace

IdxArray parse_idx(std::span<const uint8_t> bytes, const std::string& name, IdxLimits limits) {
  ByteSource src(bytes, name);
  const char* what = src.compressed() ? " (after gzip decompression)" : "";
  uint8_t magic[4];
  size_t got = src.read(magic, 4);
  if (got < 4) {
    throw DataError::at_byte(name, int64_t(got), "file ends after " + std::to_string(got) + " bytes" + what +
                                                     ", before the 4-byte IDX magic. The file is truncated or empty.");
  }
  if (magic[0] != 0 || magic[1] != 0 || !valid_dtype(magic[2])) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08x", load_be32(magic));
    throw DataError::at_byte(name, 0, std::string("bad IDX magic ") + hex + what +
                                          ": expected 0x0000TTNN with dtype TT in {08,09,0B,0C,0D,0E}. "
                                          "This is not an IDX (MNIST-format) file.");
  }
  IdxArray out;
  out.dtype = static_cast<IdxDtype>(magic[2]);
  int ndims = magic[3];
  if (ndims == 0) throw DataError::at_byte(name, 3, "IDX header declares 0 dimensions; an IDX array needs at least 1.");
  std::vector<uint8_t> dims(size_t(ndims) * 4);
  got = src.read(dims.data(), dims.size());
  if (got < dims.size()) {
    throw DataError::at_byte(name, int64_t(4 + got), "file is truncated inside the IDX header" + std::string(what) +
                                                         ": " + std::to_string(ndims) + " dimensions need " +
                                                         std::to_string(dims.size()) + " bytes, only " +
                                                         std::to_string(got) + " present.");
  }
  const size_t elem = idx_element_size(out.dtype);
  const uint64_t header_bytes = 4 + dims.size();
  // Product of dims in 128 bits, so no dims can overflow the check itself.
  unsigned __int128 payload = elem;
  for (int i = 0; i < ndims; ++i) {
    uint32_t d = load_be32(&dims[size_t(i) * 4]);
    out.shape.push_back(int64_t(d));
    payload *= d;
    if (payload > (unsigned __int128)limits.max_payload_bytes) payload = (unsigned __int128)limits.max_payload_bytes + 1;
  }
  uint64_t actual_known = src.compressed() ? 0 : bytes.size() - header_bytes;
  if (payload > limits.max_payload_bytes) {
    throw DataError::at_byte(name, 4, "IDX dims " + shape_to_string(out.shape) + " of " + idx_dtype_name(out.dtype) +
                                          " claim more than the limit of " + std::to_string(limits.max_payload_bytes) +
                                          " payload bytes. The header is corrupt (or raise IdxLimits::max_payload_bytes).");
  }
  const uint64_t expected = uint64_t(payload);
  if (!src.compressed() && expected != actual_known) {
    throw DataError::at_byte(name, int64_t(header_bytes),
                             "IDX payload size mismatch: dims " + shape_to_string(out.shape) + " of " +
                                 idx_dtype_name(out.dtype) + " need " + std::to_string(expected) + " bytes, the file has " +
                                 std::to_string(actual_known) + (actual_known < expected ? " (truncated)" : " (trailing bytes)") +
                                 ". Re-download the file or check which file this is.");
  }
  if (src.compressed() && expected > gzip_max_expansion(bytes.size())) {
    throw DataError::at_byte(name, 4, "IDX dims " + shape_to_string(out.shape) + " need " + std::to_string(expected) +
                                          " bytes, more than a " + std::to_string(bytes.size()) +
                                          "-byte gzip file can hold. The header is corrupt.");
  }
  out.bytes.resize(size_t(expected));
  got = src.read(out.bytes.data(), out.bytes.size());
  uint64_t extra = src.drain();  // also verifies the gzip CRC trailer
  if (got < expected || extra > 0) {
    uint64_t actual = got + extra;
    throw DataError::at_byte(name, int64_t(header_bytes + got),
                             "IDX payload size mismatch" + std::string(what) + ": dims " + shape_to_string(out.shape) +
                                 " of " + idx_dtype_name(out.dtype) + " need " + std::to_string(expected) +
                                 " bytes, the file has " + std::to_string(actual) +
                                 (actual < expected ? " (truncated)" : " (trailing bytes)") +
                                 ". Re-download the file or check which file this is.");
  }
  big_to_host(out.bytes, elem);
  return out;
}

IdxArray load_idx(const std::filesystem::path& path, IdxLimits limits) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  return parse_idx(bytes, path.string(), limits);
}

Array<uint8_t> IdxArray::to_u8() const {
  if (dtype != IdxDtype::U8) {
    throw DataError::in_file("", std::string("IdxArray::to_u8 needs dtype ubyte, this array is ") + idx_dtype_name(dtype) +
                                     "; use to_float() or to_int64().");
  }
  return {shape, bytes};
}

Array<float> IdxArray::to_float() const {
  Array<float> out{shape, {}};
  switch (dtype) {
    case IdxDtype::U8: convert_all<uint8_t>(bytes, out.data); break;
    case IdxDtype::I8: convert_all<int8_t>(bytes, out.data); break;
    case IdxDtype::I16: convert_all<int16_t>(bytes, out.data); break;
    case IdxDtype::I32: convert_all<int32_t>(bytes, out.data); break;
    case IdxDtype::F32: convert_all<float>(bytes, out.data); break;
    case IdxDtype::F64: convert_all<double>(bytes, out.data); break;
  }
  return out;
}

Array<int64_t> IdxArray::to_int64() const {
  Array<int64_t> out{shape, {}};
  switch (dtype) {
    case IdxDtype::U8: convert_all<uint8_t>(bytes, out.data); break;
    case IdxDtype::I8: convert_all<int8_t>(bytes, out.data); break;
    case IdxDtype::I16: convert_all<int16_t>(bytes, out.data); break;
    case IdxDtype::I32: convert_all<int32_t>(bytes, out.data); break;
    case IdxDtype::F32:
    case IdxDtype::F64:
      throw DataError::in_file("", std::string("IdxArray::to_int64 needs an integer dtype, this array is ") +
                                       idx_dtype_name(dtype) + "; use to_float().");
  }
  return out;
}

std::vector<uint8_t> encode_idx(const IdxArray& array, bool gzip) {
  const size_t elem = idx_element_size(array.dtype);
  if (array.shape.empty() || array.shape.size() > 255) throw std::invalid_argument("encode_idx: IDX needs 1..255 dims");
  uint64_t n = 1;
  for (int64_t d : array.shape) {
    if (d < 0 || d > int64_t(UINT32_MAX)) throw std::invalid_argument("encode_idx: dim out of uint32 range");
    n *= uint64_t(d);
  }
  if (n * elem != array.bytes.size()) {
    throw std::invalid_argument("encode_idx: shape " + shape_to_string(array.shape) + " needs " + std::to_string(n * elem) +
                                " bytes, got " + std::to_string(array.bytes.size()));
  }
  std::vector<uint8_t> raw{0, 0, uint8_t(array.dtype), uint8_t(array.shape.size())};
  for (int64_t d : array.shape) {
    uint32_t v = uint32_t(d);
    for (int s = 24; s >= 0; s -= 8) raw.push_back(uint8_t(v >> s));
  }
  size_t header = raw.size();
  raw.insert(raw.end(), array.bytes.begin(), array.bytes.end());
  if (std::endian::native == std::endian::little && elem > 1) {
    for (size_t i = header; i + elem <= raw.size(); i += elem) std::reverse(raw.begin() + i, raw.begin() + i + elem);
  }
  if (!gzip) return raw;
  if (raw.size() > UINT32_MAX / 2) throw std::invalid_argument("encode_idx: gzip output limited to 2 GiB inputs");
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("encode_idx: deflateInit2 failed");
  }
  std::vector<uint8_t> out(deflateBound(&zs, raw.size()) + 32);
  zs.next_in = raw.data();
  zs.avail_in = uInt(raw.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("encode_idx: deflate failed");
  return out;
}

void save_idx(const std::filesystem::path& path, const IdxArray& array, bool gzip) {
  std::vector<uint8_t> bytes = encode_idx(array, gzip);
  write_file_atomic(path, bytes);
}

}  // namespace cairn::data
