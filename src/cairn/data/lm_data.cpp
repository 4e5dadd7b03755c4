#include "cairn/data/lm_data.h"

#include <algorithm>
#include <cmath>

#include "cairn/data/error.h"

namespace cairn::data {

TokenStream TokenStream::from_tokens(std::vector<int32_t> tokens, std::string name) {
  TokenStream s;
  s.end_ = tokens.size();
  s.tokens_ = std::make_shared<const std::vector<int32_t>>(std::move(tokens));
  s.name_ = std::move(name);
  return s;
}

TokenStream TokenStream::from_shard(const std::filesystem::path& path) {
  TokenStream s;
  // Windows are drawn at random positions: tell the kernel not to read ahead sequentially.
  s.shard_ = std::make_shared<const TokenShard>(TokenShard::open(path, MappedFile::Access::Random));
  s.end_ = s.shard_->size();
  s.name_ = path.string();
  return s;
}

void TokenStream::read(uint64_t start, std::span<int32_t> out) const {
  if (start + out.size() > size())
    throw DataError::in_file(name_, "read of tokens [" + std::to_string(start) + ", " + std::to_string(start + out.size()) +
                                        ") past the end of a stream of " + std::to_string(size()) + " tokens");
  if (tokens_) {
    std::copy_n(tokens_->data() + begin_ + start, out.size(), out.data());
  } else {
    shard_->read(begin_ + start, out);
  }
}

uint32_t TokenStream::max_token() const {
  uint32_t m = 0;
  std::vector<int32_t> buf(1 << 16);
  for (uint64_t at = 0; at < size(); at += buf.size()) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size() - at));
    read(at, std::span<int32_t>(buf.data(), n));
    for (size_t i = 0; i < n; ++i) m = std::max(m, static_cast<uint32_t>(buf[i]));
  }
  return m;
}

TokenStream TokenStream::slice(uint64_t begin, uint64_t end, std::string name) const {
  if (begin > end || end > size())
    throw DataError::in_file(name_, "slice [" + std::to_string(begin) + ", " + std::to_string(end) +
                                        ") outside a stream of " + std::to_string(size()) + " tokens");
  TokenStream s = *this;
  s.begin_ = begin_ + begin;
  s.end_ = begin_ + end;
  s.name_ = std::move(name);
  return s;
}

std::pair<TokenStream, TokenStream> split_train_val(const TokenStream& all, double val_fraction) {
  if (!(val_fraction > 0.0 && val_fraction < 1.0))
    throw DataError::in_file("", "val_fraction must be in (0, 1), got " + std::to_string(val_fraction) +
                                     " (0.1 keeps the last 10% of the tokens for validation)");
  // int(0.9 * len(data)) in nanoGPT; computed the same way so the split point matches it exactly.
  const uint64_t n = static_cast<uint64_t>(std::floor((1.0 - val_fraction) * static_cast<double>(all.size())));
  return {all.slice(0, n, all.name() + " (train)"), all.slice(n, all.size(), all.name() + " (val)")};
}

LmBatcher::LmBatcher(TokenStream stream, int64_t context) : stream_(std::move(stream)), context_(context) {
  if (context_ < 1) throw DataError::in_file(stream_.name(), "context must be at least 1, got " + std::to_string(context_));
  if (stream_.size() == 0)
    throw DataError::in_file(stream_.name(), "holds no tokens: the corpus is empty (or its split part is). Give a "
                                             "non-empty text file or token shard.");
  if (stream_.size() < static_cast<uint64_t>(context_) + 1)
    throw DataError::in_file(stream_.name(), "holds " + std::to_string(stream_.size()) + " tokens, fewer than context + 1 = " +
                                                 std::to_string(context_ + 1) +
                                                 " needed for one training window. Use a longer corpus, a smaller "
                                                 "context, or a smaller val_fraction if this is the validation part.");
}

LmBatch LmBatcher::sample(Generator& gen, int64_t batch_size) const {
  if (batch_size < 1) throw DataError::in_file(stream_.name(), "batch size must be at least 1, got " + std::to_string(batch_size));
  const int64_t T = context_;
  std::vector<int32_t> window(static_cast<size_t>(T + 1));
  Tensor x = Tensor::empty({batch_size, T}, DType::i64), y = Tensor::empty({batch_size, T}, DType::i64);
  int64_t* xp = x.data<int64_t>();
  int64_t* yp = y.data<int64_t>();
  for (int64_t b = 0; b < batch_size; ++b) {
    const uint64_t start = gen.below(num_windows());
    stream_.read(start, window);
    for (int64_t t = 0; t < T; ++t) {
      xp[b * T + t] = window[t];
      yp[b * T + t] = window[t + 1];
    }
  }
  return {x, y};
}

LmBatch LmBatcher::window(uint64_t start) const {
  if (start >= num_windows())
    throw DataError::in_file(stream_.name(), "window start " + std::to_string(start) + " out of range [0, " +
                                                 std::to_string(num_windows()) + ")");
  const int64_t T = context_;
  std::vector<int32_t> w(static_cast<size_t>(T + 1));
  stream_.read(start, w);
  Tensor x = Tensor::empty({1, T}, DType::i64), y = Tensor::empty({1, T}, DType::i64);
  for (int64_t t = 0; t < T; ++t) {
    x.data<int64_t>()[t] = w[t];
    y.data<int64_t>()[t] = w[t + 1];
  }
  return {x, y};
}

}  // namespace cairn::data
