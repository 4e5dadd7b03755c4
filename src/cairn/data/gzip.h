// gzip decompression of in-memory buffers (zlib's inflate), with checks for truncated and corrupt streams.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct z_stream_s;

namespace cairn::data {

// True if `bytes` starts with the gzip magic 0x1f 0x8b.
bool is_gzip(std::span<const uint8_t> bytes);

// Deflate cannot expand data by more than ~1032:1, so a header that claims more output than this
// for a given compressed size is lying; readers use it to refuse absurd allocations up front.
uint64_t gzip_max_expansion(uint64_t compressed_size);

// Pull-style gzip decoder over a buffer (concatenated members are decoded one after another, as gzip(1) does).
// Throws DataError naming `name` and the compressed byte offset on corrupt data, a bad CRC, or a stream that
// ends before its trailer ("truncated").
class GzipReader {
 public:
  GzipReader(std::span<const uint8_t> compressed, std::string name);
  ~GzipReader();
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Fills up to n bytes; returns fewer only when the stream has ended (0 at the end).
  size_t read(void* out, size_t n);
  // Decompressed bytes produced so far.
  uint64_t total_out() const { return total_out_; }

 private:
  std::span<const uint8_t> in_;
  std::string name_;
  std::unique_ptr<z_stream_s> zs_;
  size_t in_pos_ = 0;  // compressed bytes handed to zlib so far
  uint64_t total_out_ = 0;
  bool finished_ = false;
};

// Decompresses a whole gzip buffer. Throws DataError if the output would exceed max_output bytes.
std::vector<uint8_t> gunzip(std::span<const uint8_t> compressed, const std::string& name,
                            uint64_t max_output = uint64_t(1) << 36);

}  // namespace cairn::data
