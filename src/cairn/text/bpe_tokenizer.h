#pragma once
// Byte-level BPE exactly as GPT-2: text is split by GPT-2's pre-tokenization regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (implemented by hand over UTF-8 with the Unicode tables in unicode.h), each piece's bytes are spelled in
// GPT-2's byte-to-unicode alphabet and merged by rank. Any byte string, invalid UTF-8 included, encodes, and
// decode returns exactly the bytes that were encoded (bytes of ill-formed UTF-8 pre-tokenize like punctuation).
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cairn/text/tokenizer.h"

namespace cairn::text {

// The pieces GPT-2's regex finds in text, in order; they cover text exactly. \s is ECMAScript's (see
// unicode::is_js_whitespace) because the reference encoder the tests match is the JavaScript port.
std::vector<std::string_view> gpt2_pretokenize(std::string_view text);

// GPT-2's bytes_to_unicode(): the printable spelling of raw bytes used by encoder.json and vocab.bpe
// (b' ' -> "Ġ", b'\n' -> "Ċ", printable ASCII and most of latin-1 unchanged).
std::string bytes_to_unicode(std::string_view bytes);

class BpeTokenizer final : public Tokenizer {
 public:
  // Loads GPT-2's encoder.json (token -> id) and vocab.bpe (merges in rank order after a "#version" line).
  // Throws TokenizerError naming the file and the line (vocab.bpe) or token (encoder.json) that is wrong:
  // unreadable file, bad JSON, non-contiguous ids, a missing single-byte token, a merge line that is not
  // two tokens or whose parts or result are not in the vocabulary. "<|endoftext|>" becomes the bos/eos token.
  static BpeTokenizer from_gpt2_files(const std::string& encoder_json_path, const std::string& vocab_bpe_path);

  // vocab[id]: the token spelled in the byte-to-unicode alphabet; merges in rank order; special_tokens: vocab
  // entries that are written literally (never produced by encode; recognised names: <|endoftext|> as bos/eos,
  // [PAD]/<pad>, [UNK]/<unk>, [CLS], [SEP], [MASK]/<mask>, <s> as bos, </s> as eos).
  // Requires the 256 single-byte tokens, and each merge's parts and concatenation in vocab.
  // Throws TokenizerError (prefixed with `source` when given) otherwise.
  BpeTokenizer(std::vector<std::string> vocab, std::vector<std::pair<std::string, std::string>> merges,
               std::vector<std::string> special_tokens, const std::string& source = "");
  BpeTokenizer(const BpeTokenizer& other);
  BpeTokenizer(BpeTokenizer&& other) noexcept;

  std::string type() const override { return "bpe"; }
  std::vector<std::int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const std::int32_t> ids) const override;
  std::size_t vocab_size() const override { return vocab_.size(); }
  std::optional<std::int32_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(std::int32_t id) const override;
  SpecialTokenIds special_token_ids() const override;
  void save(const std::string& path) const override;

  const std::vector<std::pair<std::string, std::string>>& merges() const { return merges_; }
  const std::vector<std::string>& special_tokens() const { return special_tokens_; }

 private:
  struct Merge {
    std::int32_t rank;
    std::int32_t result;
  };
  static std::uint64_t pair_key(std::int32_t a, std::int32_t b) {
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
  }
  void merge_piece(std::string_view piece, std::vector<std::int32_t>& out) const;

  std::vector<std::string> vocab_;
  std::vector<std::pair<std::string, std::string>> merges_;
  std::vector<std::string> special_tokens_;
  std::unordered_map<std::string, std::int32_t> token_ids_;
  std::vector<std::string> token_bytes_;  // what each id decodes to
  std::int32_t byte_ids_[256];
  std::unordered_map<std::uint64_t, Merge> merge_of_pair_;
  // Pieces already merged; bounded so that adversarial input cannot grow it without limit.
  mutable std::unordered_map<std::string, std::vector<std::int32_t>> cache_;
  mutable std::mutex cache_mutex_;
};

// Trains a byte-level BPE on corpus (any bytes) with GPT-2's pre-tokenization: ids 0..255 are the single
// bytes, then one id per merge in the order learnt (the most frequent adjacent pair, ties broken by the smaller
// pair of ids), then special_tokens. Pair counts are kept up to date incrementally with a lazy max-heap, so
// each merge costs time proportional to the words it touches, not to the corpus.
// Requires vocab_size >= 256 + special_tokens.size(); learns fewer merges when no adjacent pair is left.
// Throws TokenizerError for an empty corpus or a too small vocab_size.
BpeTokenizer train_bpe(std::string_view corpus, std::size_t vocab_size,
                       const std::vector<std::string>& special_tokens = {});

// Training on a corpus too large for memory: count the pieces chunk by chunk, then train on the sum. The result
// equals train_bpe(whole corpus) provided every chunk boundary is also a boundary of gpt2_pretokenize(whole corpus)
// with the same pieces on both sides (e.g. cut before a space or after a newline between printable ASCII
// characters, as `cairn data shard` does).
struct BpePieceHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using BpePieceCounts = std::unordered_map<std::string, std::int64_t, BpePieceHash, std::equal_to<>>;
// counts[piece] += occurrences of piece in gpt2_pretokenize(text).
void count_bpe_pieces(std::string_view text, BpePieceCounts& counts);
// As train_bpe(corpus, ...) for the corpus whose pieces were counted. Throws TokenizerError for no pieces or a too
// small vocab_size.
BpeTokenizer train_bpe(const BpePieceCounts& pieces, std::size_t vocab_size,
                       const std::vector<std::string>& special_tokens = {});

}  // namespace cairn::text
