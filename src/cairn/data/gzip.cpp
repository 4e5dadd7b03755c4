#include "cairn/data/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "cairn/data/error.h"

namespace cairn::data {

bool is_gzip(std::span<const uint8_t> bytes) { return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b; }

uint64_t gzip_max_expansion(uint64_t compressed_size) { return compressed_size * 1032 + 4096; }

GzipReader::GzipReader(std::span<const uint8_t> compressed, std::string name)
    : in_(compressed), name_(std::move(name)), zs_(std::make_unique<z_stream_s>()) {
  *zs_ = z_stream_s{};
  if (inflateInit2(zs_.get(), 16 + MAX_WBITS) != Z_OK) {  // 16+: expect a gzip header and trailer
    zs_.reset();
    throw DataError::in_file(name_, "zlib inflateInit2 failed (out of memory?)");
  }
}

GzipReader::~GzipReader() {
  if (zs_) inflateEnd(zs_.get());
}

size_t GzipReader::read(void* out, size_t n) {
  size_t produced = 0;
  auto* dst = static_cast<uint8_t*>(out);
  while (produced < n && !finished_) {
    if (zs_->avail_in == 0 && in_pos_ < in_.size()) {
      size_t chunk = std::min<size_t>(in_.size() - in_pos_, UINT_MAX / 2);  // avail_in is 32-bit
      zs_->next_in = const_cast<Bytef*>(in_.data() + in_pos_);
      zs_->avail_in = static_cast<uInt>(chunk);
      in_pos_ += chunk;
    }
    size_t want = std::min<size_t>(n - produced, UINT_MAX / 2);
    zs_->next_out = dst + produced;
    zs_->avail_out = static_cast<uInt>(want);
    int rc = inflate(zs_.get(), Z_NO_FLUSH);
    size_t got = want - zs_->avail_out;
    produced += got;
    total_out_ += got;
    int64_t consumed = static_cast<int64_t>(in_pos_ - zs_->avail_in);
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow (gzip(1) concatenation); anything else after the trailer is garbage.
      size_t rest = in_.size() - static_cast<size_t>(consumed);
      if (rest == 0) {
        finished_ = true;
      } else if (is_gzip(in_.subspan(static_cast<size_t>(consumed)))) {
        inflateReset(zs_.get());
      } else {
        throw DataError::at_byte(name_, consumed,
                                 std::to_string(rest) + " bytes of trailing garbage after the gzip stream. "
                                 "The file was probably concatenated or corrupted; re-download it.");
      }
    } else if (rc == Z_BUF_ERROR && zs_->avail_in == 0 && in_pos_ == in_.size()) {
      throw DataError::at_byte(name_, consumed,
                               "gzip stream is truncated (ends before its trailer). Re-download or re-create the file.");
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      std::string msg = zs_->msg ? zs_->msg : ("zlib error " + std::to_string(rc));
      throw DataError::at_byte(name_, consumed, "corrupt gzip data: " + msg + ". Re-download or re-create the file.");
    }
  }
  return produced;
}

std::vector<uint8_t> gunzip(std::span<const uint8_t> compressed, const std::string& name, uint64_t max_output) {
  GzipReader reader(compressed, name);
  std::vector<uint8_t> out;
  size_t block = 1 << 16;
  for (;;) {
    size_t old = out.size();
    if (old >= max_output) {
      uint8_t probe;
      if (reader.read(&probe, 1) == 0) break;
      throw DataError::in_file(name, "decompressed data exceeds the limit of " + std::to_string(max_output) +
                                         " bytes. Raise the limit if the file is genuinely this large.");
    }
    size_t grow = static_cast<size_t>(std::min<uint64_t>(block, max_output - old));
    out.resize(old + grow);
    size_t got = reader.read(out.data() + old, grow);
    out.resize(old + got);
    if (got < grow) break;
    block = std::min<size_t>(block * 2, size_t(1) << 26);
  }
  return out;
}

}  // namespace cairn::data
