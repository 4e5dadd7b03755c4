// Inputs for BERT-style encoders: fixed-width token rows with attention masks, and masked-language-model
// (MLM) masking as in Devlin et al. 2019 (Hugging Face's DataCollatorForLanguageModeling semantics).
//
//   auto tok = cairn::text::WordPieceTokenizer::from_vocab_file("vocab.txt");
//   cairn::data::EncodedTexts enc = cairn::data::encode_for_encoder(tok, texts, /*max_length=*/64);
//   cairn::data::MlmMasker masker(tok, {}, /*seed=*/7);
//   cairn::data::MlmBatch b = masker.mask(batch_ids, /*epoch=*/0, batch_example_indices);
//   // b.input_ids: 15% of the real tokens chosen; of those 80% -> [MASK], 10% -> a random token, 10% kept;
//   // b.labels: the original id at chosen positions, -100 (ignore) everywhere else.
//
// Masking is a pure function of (seed, epoch, example index): the same example gets the same mask in an epoch
// whatever batch or thread it lands in, and a different one in the next epoch (dynamic masking, RoBERTa-style).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cairn/core/tensor/tensor.h"
#include "cairn/text/tokenizer.h"

namespace cairn::data {

// Token rows of equal width for an encoder.
struct EncodedTexts {
  Tensor input_ids;       // (N, T) int64: [CLS] pieces... [SEP] [PAD]...  (cut to T with [SEP] kept last)
  Tensor attention_mask;  // (N, T) int64: 1 on real tokens (including [CLS]/[SEP]), 0 on padding
  int64_t truncated = 0;  // how many texts were longer than T and lost pieces
};

// Encodes every text as [CLS] text [SEP], truncated to max_length and padded with [PAD] to max_length.
// Requires a tokenizer with [CLS], [SEP] and [PAD] (throws text::TokenizerError naming the missing one) and
// max_length >= 3 (ValueError). Texts must be UTF-8 (convert latin-1 corpora first, see text.h).
EncodedTexts encode_for_encoder(const text::Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                int64_t max_length);

struct MlmOptions {
  double mask_probability = 0.15;  // chance that a non-special token is chosen for prediction
  double replace_with_mask = 0.8;  // of the chosen: replaced by [MASK]
  double replace_with_random = 0.1;  // of the chosen: replaced by a random non-special token (the rest: kept)
  int64_t ignore_index = -100;     // label of every position that is not chosen
};

struct MlmBatch {
  Tensor input_ids;  // (B, T) int64, the corrupted input
  Tensor labels;     // (B, T) int64, original id at chosen positions, ignore_index elsewhere
  int64_t num_chosen = 0;
};

class MlmMasker {
 public:
  // special_ids: tokens never chosen nor drawn as random replacements ([PAD] [UNK] [CLS] [SEP] [MASK]).
  // Throws ValueError for probabilities outside [0, 1], replace_with_mask + replace_with_random > 1, a
  // mask_id outside [0, vocab_size) or a vocabulary with no non-special token.
  MlmMasker(int64_t vocab_size, int64_t mask_id, std::vector<int64_t> special_ids, MlmOptions options,
            uint64_t seed);
  // Takes vocab size, [MASK] and the special ids from the tokenizer (TokenizerError if it has no [MASK]).
  MlmMasker(const text::Tokenizer& tokenizer, MlmOptions options, uint64_t seed);

  // input_ids: (B, T) int64; example_indices[b] is row b's index in the dataset (it seeds that row's mask).
  // Throws ShapeError/DTypeError for other inputs, ValueError when example_indices.size() != B.
  MlmBatch mask(const Tensor& input_ids, int64_t epoch, const std::vector<int64_t>& example_indices) const;

  const MlmOptions& options() const { return options_; }
  bool is_special(int64_t id) const;

 private:
  int64_t vocab_size_;
  int64_t mask_id_;
  std::vector<uint8_t> special_;         // per id
  std::vector<int64_t> replacement_ids_;  // the non-special ids
  MlmOptions options_;
  uint64_t seed_;
};

}  // namespace cairn::data
