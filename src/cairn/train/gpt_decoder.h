// The KV-cached decoder for generate() (lm_generate.h): a GPT (nn/gpt.h) fed one new position per token.
//
//   auto gpt = std::make_shared<nn::GPT>(cfg);
//   GptCacheDecoder dec(gpt);
//   generate(dec, prompt, options, on_token);   // same tokens as with RecomputeDecoder(gpt, ...), faster
#pragma once
#include <memory>

#include "cairn/nn/gpt.h"
#include "cairn/train/lm_generate.h"

namespace cairn::train {

class GptCacheDecoder final : public LmDecoder {
 public:
  // The model is put in eval mode while decoding (and left so; generation never trains).
  explicit GptCacheDecoder(std::shared_ptr<nn::GPT> gpt);
  int64_t context() const override { return gpt_->config().context_length; }
  int64_t vocab_size() const override { return gpt_->config().vocab_size; }
  // Resets the cache and runs the tokens through it in one forward_step.
  std::vector<float> prefill(std::span<const int32_t> tokens) override;
  // One forward_step of a single position.
  std::vector<float> step(int32_t token) override;
  int64_t length() const override { return cache_.length(); }

 private:
  std::vector<float> run(std::span<const int32_t> tokens);
  std::shared_ptr<nn::GPT> gpt_;
  nn::KVCache cache_;
};

}  // namespace cairn::train
