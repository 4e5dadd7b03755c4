#include "cairn/train/gpt_decoder.h"

#include "cairn/core/ops/ops.h"

namespace cairn::train {

GptCacheDecoder::GptCacheDecoder(std::shared_ptr<nn::GPT> gpt) : gpt_(std::move(gpt)) {
  CAIRN_CHECK(gpt_ != nullptr, ValueError, "GptCacheDecoder: the model is null");
  cache_ = gpt_->make_cache(1);
}

std::vector<float> GptCacheDecoder::prefill(std::span<const int32_t> tokens) {
  CAIRN_CHECK(!tokens.empty() && static_cast<int64_t>(tokens.size()) <= context(), ValueError, "prefill: ",
              tokens.size(), " tokens, expected 1 to ", context(), " (the context)");
  cache_.reset();
  return run(tokens);
}

std::vector<float> GptCacheDecoder::step(int32_t token) {
  CAIRN_CHECK(length() > 0 && length() < context(), ValueError, "step: the cache holds ", length(),
              " positions; step needs 1 to ", context() - 1, " (prefill first; the context is ", context(), ")");
  return run(std::span<const int32_t>(&token, 1));
}

std::vector<float> GptCacheDecoder::run(std::span<const int32_t> tokens) {
  gpt_->eval();
  const int64_t t = static_cast<int64_t>(tokens.size());
  std::vector<int64_t> ids(tokens.begin(), tokens.end());
  Tensor logits = gpt_->forward_step(from_vector(ids, {1, t}), cache_);  // (1, t, V)
  return select(select(logits, 0, 0), 0, t - 1).to(DType::f32).contiguous().to_vector<float>();
}

}  // namespace cairn::train
