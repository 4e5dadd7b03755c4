// Token shards: binary files of uint16 or uint32 token ids, as written by llm.c's dev/data scripts.
//
// Layout with header (llm.c): 256 little-endian int32 (1024 bytes): [0] magic, [1] version, [2] token count,
// the rest zero; then the tokens, little-endian. Two variants exist:
//   magic 20240520, version 1: uint16 tokens (GPT-2 vocabulary)
//   magic 20240801, version 7: uint32 tokens (Llama-3 vocabulary)
// Headerless ("raw") files hold only tokens; the caller says the dtype.
//
// Shards are memory-mapped read-only, so a corpus larger than memory streams from disk through the page cache
// (when the address-space limit, `ulimit -v`, is smaller than the file, open() reads windows with pread instead):
//   cairn::data::TokenShard shard = cairn::data::TokenShard::open("fineweb_train_000001.bin");
//   std::mt19937_64 rng(1);
//   cairn::data::Array<int32_t> batch = shard.sample_windows(rng, 8, 1024);   // (8, 1025): inputs + next token
#pragma once

#include <cstdint>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "cairn/data/array.h"
#include "cairn/data/file_util.h"

namespace cairn::data {

enum class TokenDtype { U16, U32 };

inline constexpr int32_t kShardMagicU16 = 20240520;
inline constexpr int32_t kShardVersionU16 = 1;
inline constexpr int32_t kShardMagicU32 = 20240801;
inline constexpr int32_t kShardVersionU32 = 7;
inline constexpr size_t kShardHeaderInts = 256;
inline constexpr size_t kShardHeaderBytes = kShardHeaderInts * 4;

inline size_t token_size(TokenDtype dtype) { return dtype == TokenDtype::U16 ? 2 : 4; }

struct ShardInfo {
  TokenDtype dtype = TokenDtype::U16;
  bool has_header = true;
  uint64_t tokens = 0;
  uint64_t data_offset = 0;  // byte offset of the first token
};

// Validates an llm.c header at the start of `bytes` (a file of bytes.size() bytes). Throws DataError naming
// `name` and the byte offset for: fewer than 1024 bytes, an unknown magic/version pair, a negative token count, or
// a file size that does not equal 1024 + count * token size (expected vs actual bytes).
ShardInfo parse_shard_header(std::span<const uint8_t> bytes, const std::string& name);
// The same check given the file's first bytes (`head`, up to 1024) and its size, for a file that is not mapped.
ShardInfo parse_shard_header(std::span<const uint8_t> head, uint64_t file_size, const std::string& name);
// Validates a headerless shard: the size must be a multiple of the token size.
ShardInfo raw_shard_info(uint64_t size, TokenDtype dtype, const std::string& name);

class TokenShard {
 public:
  // Memory-maps a shard with an llm.c header. Throws DataError (see parse_shard_header). If the mapping is refused
  // for lack of address space (RLIMIT_AS, `ulimit -v`, below the file size), or with Access::Pread, the shard is
  // read with pread(2) instead: same results, one system call per read(), address space and RSS independent of
  // the file size.
  static TokenShard open(const std::filesystem::path& path, MappedFile::Access access = MappedFile::Access::Sequential);
  // Memory-maps a headerless shard of `dtype` tokens.
  static TokenShard open_raw(const std::filesystem::path& path, TokenDtype dtype,
                             MappedFile::Access access = MappedFile::Access::Sequential);
  // Views shard bytes held by the caller (they must outlive the TokenShard); for tests and fuzzing.
  static TokenShard from_memory(std::span<const uint8_t> bytes, const std::string& name = "<memory>");
  static TokenShard from_memory_raw(std::span<const uint8_t> bytes, TokenDtype dtype, const std::string& name = "<memory>");

  uint64_t size() const { return info_.tokens; }
  TokenDtype dtype() const { return info_.dtype; }
  const ShardInfo& info() const { return info_; }
  const std::string& name() const { return name_; }
  // False when the shard is read with pread (Access::Pread, or the mapping was refused; see open()).
  bool mapped() const { return data_ != nullptr || size() == 0; }

  uint32_t operator[](uint64_t i) const;  // requires i < size()
  uint32_t at(uint64_t i) const;          // throws std::out_of_range
  // Copies tokens [start, start + out.size()) into out (=). Throws std::out_of_range if past the end.
  void read(uint64_t start, std::span<int32_t> out) const;
  // The window of T + 1 tokens starting at `start` (inputs t[0..T), targets t[1..T]).
  std::vector<int32_t> window(uint64_t start, uint64_t T) const;
  // Number of valid window starts for windows of T + 1 tokens (0 if the shard is too short).
  uint64_t num_windows(uint64_t T) const { return size() > T ? size() - T : 0; }
  // B windows of T + 1 tokens at uniformly random starts: shape (B, T + 1). Throws DataError if the shard holds
  // fewer than T + 1 tokens.
  Array<int32_t> sample_windows(std::mt19937_64& rng, size_t B, size_t T) const;

 private:
  TokenShard() = default;
  void decode(const uint8_t* p, std::span<int32_t> out) const;  // little-endian tokens at p -> out (=)
  MappedFile file_;
  const uint8_t* data_ = nullptr;  // first token; null when file_ is read with pread
  ShardInfo info_;
  std::string name_;
};

// Writes a shard incrementally: tokens are appended in chunks straight to a temporary file (the corpus is never
// held in memory), and close() writes the header, fsyncs and renames the file into place. Destroying the writer
// without close() leaves no file behind.
class TokenShardWriter {
 public:
  TokenShardWriter(const std::filesystem::path& path, TokenDtype dtype, bool header = true);
  // Throws std::invalid_argument if a token does not fit the dtype (>= 65536 for U16), and DataError if a shard
  // with a header would exceed 2^31 - 1 tokens (llm.c stores the count as int32).
  void append(std::span<const uint32_t> tokens);
  void append(std::span<const int32_t> tokens);
  uint64_t size() const { return count_; }
  void close();

 private:
  template <class T>
  void append_impl(std::span<const T> tokens);
  AtomicFileWriter out_;
  TokenDtype dtype_;
  bool header_;
  uint64_t count_ = 0;
  std::vector<uint8_t> buffer_;
};

}  // namespace cairn::data
