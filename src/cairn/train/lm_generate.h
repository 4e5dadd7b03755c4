// Text generation from a language model: seeded sampling (temperature, top-k, top-p nucleus; temperature 0
// is greedy) driven one token at a time, with or without a KV cache.
//
//   RecomputeDecoder dec(gpt, /*context=*/64, vocab);         // re-runs the model on the whole window per token
//   GenerateOptions o;
//   o.max_new_tokens = 200; o.sampling = {.temperature = 0.8, .top_k = 40}; o.seed = 1;
//   generate(dec, tok.encode("ROMEO:"), o, [&](int32_t id) { std::fputs(tok.decode({&id, 1}).c_str(), stdout); });
//
// Context overflow: a model sees at most `context` tokens. With ContextOverflow::SlidingWindow (the default),
// every prediction is conditioned on the last `context` tokens of the sequence, as nanoGPT's generate does
// (idx[:, -block_size:]): a longer prompt is cut to its last `context` tokens, and once the sequence is full a
// cached decoder re-prefills its cache with the last `context` tokens before each new token (so output is
// identical to the recompute decoder's; past the context each token costs one prefill). With
// ContextOverflow::Error, a prompt longer than the context, or a request for more tokens than fit, throws
// ValueError before anything is generated.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "cairn/core/tensor/random.h"

namespace cairn::nn {
class Module;
}

namespace cairn::train {

struct SamplingOptions {
  double temperature = 1.0;  // 0: greedy (argmax); otherwise logits / temperature
  int64_t top_k = 0;         // keep the k most likely tokens (0: all)
  double top_p = 1.0;        // keep the smallest set of most likely tokens whose probability reaches top_p (1: all)
};

// Throws ValueError for temperature < 0, top_k < 0 or top_p outside (0, 1], naming the option.
void check_sampling_options(const SamplingOptions& o);

// Picks the next token from one position's logits (V entries). Filters in the order of Hugging Face's
// generate: temperature, then top-k, then top-p; the most likely token always survives. Draws exactly one
// gen.uniform() unless greedy (then none). Ties in greedy mode go to the lowest id. Throws ValueError for
// empty or non-finite logits.
int32_t sample_token(std::span<const float> logits, const SamplingOptions& options, Generator& gen);

// A model driven one position at a time.
class LmDecoder {
 public:
  virtual ~LmDecoder() = default;
  virtual int64_t context() const = 0;
  virtual int64_t vocab_size() const = 0;
  // Starts a new sequence with `tokens` (1 <= size <= context) and returns the logits (V) that follow them.
  virtual std::vector<float> prefill(std::span<const int32_t> tokens) = 0;
  // Appends one token to the sequence (its length must be < context) and returns the logits that follow it.
  virtual std::vector<float> step(int32_t token) = 0;
  // Tokens in the current sequence.
  virtual int64_t length() const = 0;
};

// The reference decoder: every call runs `net` (int64 (1, T) -> logits (1, T, V)) on the whole sequence, in eval
// mode without autograd. Works with any language model module; O(T) model work per token.
class RecomputeDecoder final : public LmDecoder {
 public:
  RecomputeDecoder(std::shared_ptr<nn::Module> net, int64_t context, int64_t vocab_size);
  int64_t context() const override { return context_; }
  int64_t vocab_size() const override { return vocab_; }
  std::vector<float> prefill(std::span<const int32_t> tokens) override;
  std::vector<float> step(int32_t token) override;
  int64_t length() const override { return static_cast<int64_t>(seq_.size()); }

 private:
  std::vector<float> run();
  std::shared_ptr<nn::Module> net_;
  int64_t context_, vocab_;
  std::vector<int32_t> seq_;
};

enum class ContextOverflow { SlidingWindow, Error };

struct GenerateOptions {
  int64_t max_new_tokens = 100;
  SamplingOptions sampling;
  uint64_t seed = 1337;
  ContextOverflow overflow = ContextOverflow::SlidingWindow;
};

// Generates max_new_tokens tokens after `prompt` (non-empty; ids in [0, vocab)), calling on_token with each as
// soon as it is chosen. Returns the new tokens. Throws ValueError for an empty prompt, an id out of range, bad
// sampling options, or (ContextOverflow::Error) a sequence that would exceed the context.
std::vector<int32_t> generate(LmDecoder& decoder, std::span<const int32_t> prompt, const GenerateOptions& options,
                              const std::function<void(int32_t)>& on_token = {});

}  // namespace cairn::train
