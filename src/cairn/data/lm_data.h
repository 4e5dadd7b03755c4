// Language-model data: one long stream of token ids, split into training and validation parts, from which
// batches of random contiguous windows are drawn (nanoGPT's get_batch).
//
//   std::string text = cairn::io::read_file("tinyshakespeare.txt");
//   auto tok = cairn::text::CharTokenizer::from_corpus(text);              // 65 symbols
//   TokenStream all = TokenStream::from_tokens(tok.encode(text), "tinyshakespeare.txt");
//   auto [train, val] = split_train_val(all, 0.1);                         // first 90% / last 10%
//   LmBatcher batcher(train, /*context=*/64);
//   cairn::Generator gen(1337);
//   LmBatch b = batcher.sample(gen, 12);   // b.inputs, b.targets: int64 (12, 64); targets = inputs shifted by one
//
// A stream holds its tokens in memory or views a memory-mapped token shard (token_shard.h), so corpora larger
// than memory train without being loaded. Streams are cheap to copy (the tokens are shared).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/tensor.h"
#include "cairn/data/token_shard.h"

namespace cairn::data {

class TokenStream {
 public:
  TokenStream() = default;
  // Takes the tokens; `name` (a file name) is used in error messages.
  static TokenStream from_tokens(std::vector<int32_t> tokens, std::string name = "<memory>");
  // Memory-maps an llm.c token shard (header with magic and count; see token_shard.h). Throws DataError.
  static TokenStream from_shard(const std::filesystem::path& path);

  uint64_t size() const { return end_ - begin_; }
  const std::string& name() const { return name_; }
  // Copies tokens [start, start + out.size()) of this stream into out (=). Requires the range to be inside.
  void read(uint64_t start, std::span<int32_t> out) const;
  // The largest token id (scans the stream; for the vocabulary check).
  uint32_t max_token() const;
  // Tokens [begin, end) of this stream, sharing the storage. Requires begin <= end <= size().
  TokenStream slice(uint64_t begin, uint64_t end, std::string name) const;

 private:
  std::shared_ptr<const std::vector<int32_t>> tokens_;
  std::shared_ptr<const TokenShard> shard_;
  uint64_t begin_ = 0, end_ = 0;
  std::string name_;
};

// nanoGPT's split: n = floor((1 - val_fraction) * size); train = [0, n), val = [n, size).
// Requires 0 < val_fraction < 1 (DataError otherwise). The parts are named "<name> (train)" / "<name> (val)".
std::pair<TokenStream, TokenStream> split_train_val(const TokenStream& all, double val_fraction);

struct LmBatch {
  Tensor inputs;   // int64 (B, T): tokens [s, s + T) of each window
  Tensor targets;  // int64 (B, T): tokens [s + 1, s + T + 1), the next token at every position
};

class LmBatcher {
 public:
  // Requires context >= 1 and a stream of at least context + 1 tokens. Throws DataError naming the stream, its
  // size and the context otherwise (an empty corpus, or a validation part too small for the context).
  LmBatcher(TokenStream stream, int64_t context);

  // B windows of context + 1 tokens at starts drawn uniformly from [0, size - context) with gen.below(), one
  // draw per row in order (so a seeded generator gives the same batches on every run and after a resume).
  LmBatch sample(Generator& gen, int64_t batch_size) const;
  // The window starting at `start` (0 <= start < num_windows()) as a batch of one.
  LmBatch window(uint64_t start) const;

  uint64_t num_windows() const { return stream_.size() - static_cast<uint64_t>(context_); }
  int64_t context() const { return context_; }
  const TokenStream& stream() const { return stream_; }

 private:
  TokenStream stream_;
  int64_t context_;
};

}  // namespace cairn::data
