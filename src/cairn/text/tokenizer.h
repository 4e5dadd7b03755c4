#pragma once
// cairn::text::Tokenizer: the common interface of Cairn's tokenizers, batch encoding, and loading a saved one.
//
//   auto tok = cairn::text::BpeTokenizer::from_gpt2_files("encoder.json", "vocab.bpe");
//   std::vector<int32_t> ids = tok.encode("Hello world");      // {15496, 995}
//   std::string text = tok.decode(ids);                          // "Hello world"
//   tok.save("gpt2.json");                                       // one JSON file, written atomically
//   std::unique_ptr<Tokenizer> back = cairn::text::load_tokenizer("gpt2.json");
//
// Implementations: CharTokenizer (char_tokenizer.h), BpeTokenizer (bpe_tokenizer.h),
// WordPieceTokenizer (wordpiece_tokenizer.h). Ids are int32_t in [0, vocab_size()).
// A tokenizer is immutable after construction; const member functions may be called from several threads.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::text {

// Every error of this layer: bad vocabulary files (message names the file and line), text a tokenizer cannot
// represent, ids out of range, bad options.
class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The ids of the special tokens a tokenizer has (std::nullopt where it has none).
struct SpecialTokenIds {
  std::optional<std::int32_t> pad, unk, cls, sep, mask, bos, eos;
};

enum class Padding { None, Longest, MaxLength };
enum class Side { Right, Left };

struct EncodeOptions {
  // Wrap each sequence as [CLS] a [SEP] (pairs: [CLS] a [SEP] b [SEP]) when the tokenizer has [CLS] and [SEP];
  // tokenizers without them (GPT-2) add nothing.
  bool add_special_tokens = true;
  Padding padding = Padding::None;
  Side padding_side = Side::Right;
  // Cut sequences to max_length (counted with the special tokens). Pairs lose tokens one at a time from the longer
  // member (from the second on ties), as BERT's _truncate_seq_pair does.
  bool truncation = false;
  Side truncation_side = Side::Right;
  std::size_t max_length = 0;  // required (> 0) by truncation and Padding::MaxLength
  // Id used for padding; defaults to the tokenizer's pad token. Padding a tokenizer without one (GPT-2) needs it.
  std::optional<std::int32_t> pad_id;
};

// One row per input. Rows have equal length when padding is on. attention_mask is 1 on real tokens and 0 on
// padding; token_type_ids is 0 on the first sequence (and its [CLS]/[SEP]), 1 on the second one and its [SEP],
// 0 on padding.
struct BatchEncoding {
  std::vector<std::vector<std::int32_t>> input_ids;
  std::vector<std::vector<std::int32_t>> attention_mask;
  std::vector<std::vector<std::int32_t>> token_type_ids;
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // "char", "bpe" or "wordpiece": the "type" field of the saved JSON.
  virtual std::string type() const = 0;

  // Text to ids, without special tokens. Throws TokenizerError when the text cannot be represented
  // (CharTokenizer without [UNK]: unknown character; Char/WordPiece: invalid UTF-8).
  virtual std::vector<std::int32_t> encode(std::string_view text) const = 0;

  // Ids to text. Throws TokenizerError naming the position and value of an id outside [0, vocab_size()).
  // BpeTokenizer returns the exact bytes that were encoded; WordPiece's decode is lossy (lower-cased,
  // punctuation spaced).
  virtual std::string decode(std::span<const std::int32_t> ids) const = 0;

  virtual std::size_t vocab_size() const = 0;

  // Any token of the vocabulary (not only special ones), in the tokenizer's own spelling
  // (BPE tokens in GPT-2's byte-to-unicode alphabet, e.g. "Ġworld").
  virtual std::optional<std::int32_t> token_to_id(std::string_view token) const = 0;
  // Throws TokenizerError when id is out of range.
  virtual std::string id_to_token(std::int32_t id) const = 0;

  virtual SpecialTokenIds special_token_ids() const = 0;

  // Writes the whole tokenizer as one JSON file {"type": ..., ...} that load_tokenizer reads back: temp file,
  // fsync, rename, so a crash never leaves a half-written file. Throws TokenizerError on I/O errors.
  virtual void save(const std::string& path) const = 0;

  // Encodes each text and applies the options (see EncodeOptions). Throws TokenizerError for inconsistent options
  // (truncation or MaxLength padding without max_length, max_length smaller than the special tokens, padding
  // without a pad id) and when a sequence is longer than max_length with MaxLength padding and no truncation.
  BatchEncoding encode_batch(const std::vector<std::string>& texts, const EncodeOptions& options = {}) const;
  // Sentence pairs (BERT): first[i] with second[i]; the two vectors must have equal sizes.
  BatchEncoding encode_batch_pairs(const std::vector<std::string>& first, const std::vector<std::string>& second,
                                   const EncodeOptions& options = {}) const;

 protected:
  // Throws the out-of-range error for ids[position] if it is not in [0, vocab_size()).
  void check_id(std::int32_t id, std::size_t position) const;

 private:
  BatchEncoding encode_impl(const std::vector<std::string>& first, const std::vector<std::string>* second,
                            const EncodeOptions& options) const;
};

// Reads a file written by Tokenizer::save. Throws TokenizerError naming the file and what is wrong
// (unreadable, not JSON with the byte offset, unknown "type", missing or malformed field).
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path);

}  // namespace cairn::text
