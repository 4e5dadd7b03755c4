#include "cairn/data/mlm.h"

#include <algorithm>
#include <string>

#include "cairn/core/tensor/error.h"
#include "cairn/core/tensor/random.h"

namespace cairn::data {
namespace {

int32_t required_special(const std::optional<int32_t>& id, const char* token, const char* why) {
  if (!id) throw text::TokenizerError(std::string("the tokenizer has no ") + token + " token, which " + why);
  return *id;
}

// splitmix64 finaliser: decorrelates (seed, epoch, example) before seeding the row's generator.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

EncodedTexts encode_for_encoder(const text::Tokenizer& tokenizer, const std::vector<std::string>& texts,
                                int64_t max_length) {
  CAIRN_CHECK(max_length >= 3, ValueError, "encode_for_encoder: max_length must be >= 3 ([CLS], one token, [SEP]), got ",
              max_length);
  const auto sp = tokenizer.special_token_ids();
  const char* why = "encode_for_encoder needs (use a BERT-style WordPiece vocabulary)";
  const int64_t cls = required_special(sp.cls, "[CLS]", why);
  const int64_t sep = required_special(sp.sep, "[SEP]", why);
  const int64_t pad = required_special(sp.pad, "[PAD]", why);

  const auto n = static_cast<int64_t>(texts.size());
  EncodedTexts out;
  out.input_ids = Tensor::empty({n, max_length}, DType::i64);
  out.attention_mask = Tensor::empty({n, max_length}, DType::i64);
  int64_t* ids = out.input_ids.data<int64_t>();
  int64_t* mask = out.attention_mask.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int32_t> pieces = tokenizer.encode(texts[static_cast<size_t>(i)]);
    const int64_t keep = std::min<int64_t>(static_cast<int64_t>(pieces.size()), max_length - 2);
    if (keep < static_cast<int64_t>(pieces.size())) ++out.truncated;
    int64_t* row = ids + i * max_length;
    int64_t* mrow = mask + i * max_length;
    int64_t t = 0;
    row[t++] = cls;
    for (int64_t k = 0; k < keep; ++k) row[t++] = pieces[static_cast<size_t>(k)];
    row[t++] = sep;
    for (int64_t k = 0; k < max_length; ++k) mrow[k] = k < t ? 1 : 0;
    for (; t < max_length; ++t) row[t] = pad;
  }
  return out;
}

MlmMasker::MlmMasker(int64_t vocab_size, int64_t mask_id, std::vector<int64_t> special_ids, MlmOptions options,
                     uint64_t seed)
    : vocab_size_(vocab_size), mask_id_(mask_id), options_(options), seed_(seed) {
  auto prob = [](double p, const char* what) {
    CAIRN_CHECK(p >= 0.0 && p <= 1.0, ValueError, "MlmMasker: ", what, " must be in [0, 1], got ", p);
  };
  prob(options.mask_probability, "mask_probability");
  prob(options.replace_with_mask, "replace_with_mask");
  prob(options.replace_with_random, "replace_with_random");
  CAIRN_CHECK(options.replace_with_mask + options.replace_with_random <= 1.0 + 1e-12, ValueError,
              "MlmMasker: replace_with_mask + replace_with_random must be <= 1 (the rest is kept unchanged), got ",
              options.replace_with_mask, " + ", options.replace_with_random);
  CAIRN_CHECK(vocab_size > 0 && mask_id >= 0 && mask_id < vocab_size, ValueError, "MlmMasker: mask_id ", mask_id,
              " is outside the vocabulary [0, ", vocab_size, ")");
  special_.assign(static_cast<size_t>(vocab_size), 0);
  special_[static_cast<size_t>(mask_id)] = 1;
  for (int64_t id : special_ids) {
    CAIRN_CHECK(id >= 0 && id < vocab_size, ValueError, "MlmMasker: special id ", id, " is outside the vocabulary [0, ",
                vocab_size, ")");
    special_[static_cast<size_t>(id)] = 1;
  }
  for (int64_t id = 0; id < vocab_size; ++id)
    if (!special_[static_cast<size_t>(id)]) replacement_ids_.push_back(id);
  CAIRN_CHECK(!replacement_ids_.empty(), ValueError, "MlmMasker: every one of the ", vocab_size,
              " ids is special; nothing can be masked");
}

namespace {
std::vector<int64_t> tokenizer_specials(const text::Tokenizer& tok) {
  const auto sp = tok.special_token_ids();
  std::vector<int64_t> ids;
  for (const auto& id : {sp.pad, sp.unk, sp.cls, sp.sep, sp.mask, sp.bos, sp.eos})
    if (id) ids.push_back(*id);
  return ids;
}
}  // namespace

MlmMasker::MlmMasker(const text::Tokenizer& tokenizer, MlmOptions options, uint64_t seed)
    : MlmMasker(static_cast<int64_t>(tokenizer.vocab_size()),
                required_special(tokenizer.special_token_ids().mask, "[MASK]", "masked-language-model masking needs"),
                tokenizer_specials(tokenizer), options, seed) {}

bool MlmMasker::is_special(int64_t id) const {
  return id >= 0 && id < vocab_size_ && special_[static_cast<size_t>(id)] != 0;
}

MlmBatch MlmMasker::mask(const Tensor& input_ids, int64_t epoch, const std::vector<int64_t>& example_indices) const {
  input_ids.check_dtype(DType::i64, "MlmMasker::mask(input_ids)");
  CAIRN_CHECK(input_ids.dim() == 2, ShapeError, "MlmMasker::mask: input_ids must be (B, T), got ",
              shape_str(input_ids.shape()));
  const int64_t B = input_ids.size(0), T = input_ids.size(1);
  CAIRN_CHECK(static_cast<int64_t>(example_indices.size()) == B, ValueError, "MlmMasker::mask: ",
              example_indices.size(), " example indices for a batch of ", B, " rows");
  const Tensor src = input_ids.contiguous();
  MlmBatch out;
  out.input_ids = src.clone();
  out.labels = Tensor::empty({B, T}, DType::i64);
  const int64_t* in = src.data<int64_t>();
  int64_t* ids = out.input_ids.data<int64_t>();
  int64_t* labels = out.labels.data<int64_t>();
  const double p_mask = options_.replace_with_mask;
  const double p_random = options_.replace_with_mask + options_.replace_with_random;
  for (int64_t b = 0; b < B; ++b) {
    Generator gen(mix(mix(seed_ ^ mix(static_cast<uint64_t>(epoch))) + static_cast<uint64_t>(example_indices[b])));
    for (int64_t t = 0; t < T; ++t) {
      const int64_t k = b * T + t;
      const int64_t id = in[k];
      CAIRN_CHECK(id >= 0 && id < vocab_size_, IndexError, "MlmMasker::mask: token id ", id, " at (", b, ", ", t,
                  ") is outside the vocabulary [0, ", vocab_size_, "); was the text encoded with another vocabulary?");
      labels[k] = options_.ignore_index;
      if (special_[static_cast<size_t>(id)] || gen.uniform() >= options_.mask_probability) continue;
      labels[k] = id;
      ++out.num_chosen;
      const double r = gen.uniform();
      if (r < p_mask)
        ids[k] = mask_id_;
      else if (r < p_random)
        ids[k] = replacement_ids_[gen.below(replacement_ids_.size())];
    }
  }
  return out;
}

}  // namespace cairn::data
