#include "cairn/data/token_shard.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "cairn/data/error.h"

namespace cairn::data {

namespace {
int32_t load_le32(const uint8_t* p) {
  uint32_t v = uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
  return int32_t(v);
}
void store_le32(uint8_t* p, int32_t value) {
  uint32_t v = uint32_t(value);
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
}  // namespace

ShardInfo parse_shard_header(std::span<const uint8_t> bytes, const std::string& name) {
  return parse_shard_header(bytes.first(std::min<size_t>(bytes.size(), kShardHeaderBytes)), bytes.size(), name);
}

ShardInfo parse_shard_header(std::span<const uint8_t> head, uint64_t file_size, const std::string& name) {
  if (file_size < kShardHeaderBytes || head.size() < 12) {
    throw DataError::at_byte(name, int64_t(file_size),
                             "file has " + std::to_string(file_size) + " bytes, fewer than the 1024-byte llm.c shard "
                             "header. The file is truncated, or it is a headerless shard: open it with open_raw().");
  }
  const int32_t magic = load_le32(head.data());
  const int32_t version = load_le32(head.data() + 4);
  const int32_t count = load_le32(head.data() + 8);
  ShardInfo info;
  if (magic == kShardMagicU16 && version == kShardVersionU16) {
    info.dtype = TokenDtype::U16;
  } else if (magic == kShardMagicU32 && version == kShardVersionU32) {
    info.dtype = TokenDtype::U32;
  } else {
    throw DataError::at_byte(name, 0, "unknown shard header: magic " + std::to_string(magic) + ", version " +
                                          std::to_string(version) + " (expected 20240520/1 for uint16 tokens or "
                                          "20240801/7 for uint32 tokens). For a headerless file use open_raw().");
  }
  if (count < 0) {
    throw DataError::at_byte(name, 8, "negative token count " + std::to_string(count) + " in the shard header; the file is corrupt.");
  }
  info.has_header = true;
  info.tokens = uint64_t(count);
  info.data_offset = kShardHeaderBytes;
  const uint64_t expected = kShardHeaderBytes + info.tokens * token_size(info.dtype);
  if (expected != file_size) {
    throw DataError::at_byte(name, int64_t(std::min<uint64_t>(expected, file_size)),
                             "shard size mismatch: the header promises " + std::to_string(count) + " tokens (" +
                                 std::to_string(expected) + " bytes with the header), the file has " +
                                 std::to_string(file_size) + " bytes" +
                                 (file_size < expected ? " (truncated)." : " (trailing bytes).") +
                                 " Re-create the shard.");
  }
  return info;
}

ShardInfo raw_shard_info(uint64_t size, TokenDtype dtype, const std::string& name) {
  const uint64_t elem = token_size(dtype);
  if (size % elem != 0) {
    throw DataError::at_byte(name, int64_t(size - size % elem),
                             "headerless shard of " + std::to_string(size) + " bytes is not a whole number of " +
                                 std::to_string(elem) + "-byte tokens. Check the dtype or whether the file is truncated.");
  }
  return {dtype, false, size / elem, 0};
}

TokenShard TokenShard::open(const std::filesystem::path& path, MappedFile::Access access) {
  TokenShard s;
  s.file_ = MappedFile(path, access, /*pread_if_unmappable=*/true);
  s.name_ = path.string();
  if (s.file_.mapped()) {
    s.info_ = parse_shard_header(s.file_.bytes(), s.name_);
    s.data_ = s.file_.bytes().data() + s.info_.data_offset;
  } else {
    std::vector<uint8_t> head(std::min<size_t>(s.file_.size(), kShardHeaderBytes));
    s.file_.read_at(0, head);
    s.info_ = parse_shard_header(head, s.file_.size(), s.name_);
  }
  return s;
}

TokenShard TokenShard::open_raw(const std::filesystem::path& path, TokenDtype dtype, MappedFile::Access access) {
  TokenShard s;
  s.file_ = MappedFile(path, access, /*pread_if_unmappable=*/true);
  s.name_ = path.string();
  s.info_ = raw_shard_info(s.file_.size(), dtype, s.name_);
  s.data_ = s.file_.mapped() ? s.file_.bytes().data() : nullptr;
  return s;
}

TokenShard TokenShard::from_memory(std::span<const uint8_t> bytes, const std::string& name) {
  TokenShard s;
  s.name_ = name;
  s.info_ = parse_shard_header(bytes, name);
  s.data_ = bytes.data() + s.info_.data_offset;
  return s;
}

TokenShard TokenShard::from_memory_raw(std::span<const uint8_t> bytes, TokenDtype dtype, const std::string& name) {
  TokenShard s;
  s.name_ = name;
  s.info_ = raw_shard_info(bytes.size(), dtype, name);
  s.data_ = bytes.data();
  return s;
}

uint32_t TokenShard::operator[](uint64_t i) const {
  if (data_ == nullptr) {  // read with pread (the file could not be mapped)
    uint8_t p[4] = {};
    const size_t elem = token_size(info_.dtype);
    file_.read_at(info_.data_offset + i * elem, std::span<uint8_t>(p, elem));
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
  }
  if (info_.dtype == TokenDtype::U16) {
    const uint8_t* p = data_ + i * 2;
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8);
  }
  return uint32_t(load_le32(data_ + i * 4));
}

uint32_t TokenShard::at(uint64_t i) const {
  if (i >= size()) throw std::out_of_range(name_ + ": token " + std::to_string(i) + " of " + std::to_string(size()));
  return (*this)[i];
}

void TokenShard::read(uint64_t start, std::span<int32_t> out) const {
  if (start > size() || out.size() > size() - start) {
    throw std::out_of_range(name_ + ": tokens [" + std::to_string(start) + ", " + std::to_string(start + out.size()) +
                            ") are past the end of a shard of " + std::to_string(size()) + " tokens");
  }
  if (data_ == nullptr) {
    // pread in chunks into a small buffer: a window costs one system call, and nothing grows with the file.
    const size_t elem = token_size(info_.dtype);
    constexpr size_t kChunkTokens = 8192;
    uint8_t buf[kChunkTokens * 4];
    for (size_t done = 0; done < out.size();) {
      const size_t n = std::min(kChunkTokens, out.size() - done);
      file_.read_at(info_.data_offset + (start + done) * elem, std::span<uint8_t>(buf, n * elem));
      decode(buf, out.subspan(done, n));
      done += n;
    }
    return;
  }
  decode(data_ + start * token_size(info_.dtype), out);
}

void TokenShard::decode(const uint8_t* p, std::span<int32_t> out) const {
  if (info_.dtype == TokenDtype::U16) {
    for (size_t i = 0; i < out.size(); ++i) out[i] = int32_t(uint32_t(p[2 * i]) | (uint32_t(p[2 * i + 1]) << 8));
  } else {
    for (size_t i = 0; i < out.size(); ++i) out[i] = load_le32(p + 4 * i);
  }
}

std::vector<int32_t> TokenShard::window(uint64_t start, uint64_t T) const {
  std::vector<int32_t> out(T + 1);
  read(start, out);
  return out;
}

Array<int32_t> TokenShard::sample_windows(std::mt19937_64& rng, size_t B, size_t T) const {
  if (num_windows(T) == 0) {
    throw DataError::in_file(name_, "shard holds " + std::to_string(size()) + " tokens, fewer than one window of T + 1 = " +
                                        std::to_string(T + 1) + ". Use a shorter context or a bigger shard.");
  }
  Array<int32_t> out{{int64_t(B), int64_t(T + 1)}, std::vector<int32_t>(B * (T + 1))};
  std::uniform_int_distribution<uint64_t> pick(0, num_windows(T) - 1);
  for (size_t b = 0; b < B; ++b) {
    read(pick(rng), std::span<int32_t>(out.data.data() + b * (T + 1), T + 1));
  }
  return out;
}

TokenShardWriter::TokenShardWriter(const std::filesystem::path& path, TokenDtype dtype, bool header)
    : out_(path), dtype_(dtype), header_(header) {
  if (header_) {
    std::vector<uint8_t> zeros(kShardHeaderBytes, 0);  // the real header is written by close()
    out_.write(zeros.data(), zeros.size());
  }
}

template <class T>
void TokenShardWriter::append_impl(std::span<const T> tokens) {
  const uint64_t limit = dtype_ == TokenDtype::U16 ? 0xFFFFu : 0xFFFFFFFFu;
  if (header_ && count_ + tokens.size() > uint64_t(INT32_MAX)) {
    throw DataError::in_file(out_.path().string(), "a shard with an llm.c header holds at most 2^31 - 1 tokens "
                                                   "(the count is an int32). Start a new shard.");
  }
  const size_t elem = token_size(dtype_);
  buffer_.resize(tokens.size() * elem);
  for (size_t i = 0; i < tokens.size(); ++i) {
    int64_t t = int64_t(tokens[i]);
    if (t < 0 || uint64_t(t) > limit) {
      throw std::invalid_argument("TokenShardWriter: token " + std::to_string(t) + " at position " +
                                  std::to_string(count_ + i) + " does not fit a " +
                                  (dtype_ == TokenDtype::U16 ? "uint16" : "uint32") + " shard");
    }
    uint32_t v = uint32_t(t);
    for (size_t k = 0; k < elem; ++k) buffer_[i * elem + k] = uint8_t(v >> (8 * k));
  }
  out_.write(buffer_.data(), buffer_.size());
  count_ += tokens.size();
}

void TokenShardWriter::append(std::span<const uint32_t> tokens) { append_impl(tokens); }
void TokenShardWriter::append(std::span<const int32_t> tokens) { append_impl(tokens); }

void TokenShardWriter::close() {
  if (header_) {
    uint8_t head[kShardHeaderBytes] = {};
    const bool u16 = dtype_ == TokenDtype::U16;
    store_le32(head, u16 ? kShardMagicU16 : kShardMagicU32);
    store_le32(head + 4, u16 ? kShardVersionU16 : kShardVersionU32);
    store_le32(head + 8, int32_t(count_));
    out_.pwrite(head, sizeof head, 0);
  }
  out_.commit();
}

}  // namespace cairn::data
