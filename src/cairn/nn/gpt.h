// GPT: a decoder-only Transformer language model (GPT-2 / nanoGPT layout).
//
//   logits = head(ln(blocks(tok(tokens) + pos(0..T-1))))       tokens (B, T) int64 -> logits (B, T, vocab)
//
// Parameter names match /work/shared/bench/torch_ref.py's `gpt` model, so its state_dict loads as is:
//   tok.weight [V, E], pos.weight [context, E], blocks.<i>.{ln1, qkv, proj, ln2, fc, fc2}.{weight, bias},
//   ln.weight, ln.bias, head.weight [V, E] (no bias). With tie_weights the head reuses tok.weight (no
//   head.weight parameter; a state dict's head.weight, if present, is then unexpected).
//
//   GPT model(GPTConfig{});                                 // torch_ref's config: 4 layers, 4 heads, 128 wide
//   Tensor logits = model.forward(tokens);                  // training: cross_entropy(logits.reshape({-1, V}), ...)
//   Tensor out = model.generate(prompt, 100, {.temperature = 0.8, .top_k = 40});
//
// Generation uses a KV cache: each new token costs one position (one row through every layer plus attention over
// the cached keys). Past the context length, the window slides and every token re-runs the last `context_length`
// positions (as nanoGPT), which gives the same tokens as generation without a cache.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cairn/nn/attention.h"
#include "cairn/nn/layers_core.h"
#include "cairn/nn/layers_norm.h"
#include "cairn/nn/transformer.h"

namespace cairn::nn {

struct GPTConfig {
  int64_t vocab_size = 65;
  int64_t context_length = 64;  // block size: the most positions one forward sees
  int64_t num_layers = 4;
  int64_t num_heads = 4;
  int64_t embed_dim = 128;
  int64_t mlp_dim = -1;         // -1 = 4 * embed_dim
  double dropout = 0.0;         // embedding and residual dropout, in training mode
  double attention_dropout = 0.0;  // on the attention probabilities, in training mode (nanoGPT's attn_dropout)
  bool tie_weights = false;     // head shares tok.weight
  std::string gelu_approximate = "none";
  double layer_norm_eps = 1e-5;
  bool bias = true;             // biases of the Linear layers and LayerNorms (the head has none)
  std::string init = "gpt2";    // "gpt2" (N(0, 0.02), residual projections scaled) or "torch_default"
  std::optional<uint64_t> seed{};
};

struct GenerateOptions {
  // 0 (or greedy) picks the most likely token; otherwise samples from softmax(logits / temperature).
  double temperature = 1.0;
  bool greedy = false;
  int64_t top_k = 0;            // sample only among the k most likely tokens (0 = all)
  bool use_cache = true;        // false: re-run the whole window for every token (slow; for checking)
  std::optional<uint64_t> seed{};  // sampling generator (default: the process one)
  // Called after each new token with the step index and the new token of every batch row; return false to stop.
  std::function<bool(int64_t step, const std::vector<int64_t>& tokens)> on_token{};
};

class GPT : public Module {
 public:
  explicit GPT(GPTConfig config = {});
  // tokens (B, T) int64 (or int32), 1 <= T <= context_length, values in [0, vocab) -> logits (B, T, vocab).
  // Throws ValueError / IndexError naming the shape or the bad token.
  Tensor forward(const Tensor& tokens) override;
  // Inference on new tokens (B, t) after the cache's positions: logits (B, t, vocab) for the new positions, and
  // the cache extended by t. Runs without autograd. Throws ValueError when cache.length() + t exceeds the
  // context length or the cache's capacity, or the batch sizes differ.
  Tensor forward_step(const Tensor& tokens, KVCache& cache);
  // An empty cache for `batch` sequences of up to `capacity` positions (default: the context length).
  KVCache make_cache(int64_t batch, int64_t capacity = -1) const;
  // Appends max_new_tokens tokens to prompt (B, T0), 1 <= T0, in eval mode and without autograd (the training
  // flag is restored afterwards); returns (B, T0 + generated) int64 (fewer when on_token stopped it).
  Tensor generate(const Tensor& prompt, int64_t max_new_tokens, const GenerateOptions& options = {});

  const GPTConfig& config() const { return cfg_; }
  std::string input_spec() const override { return "[B, T] token ids"; }
  std::string extra_repr() const override;

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  Tensor embed(const Tensor& tokens, int64_t offset);
  Tensor logits_of(const Tensor& h);
  Tensor check_tokens(const Tensor& tokens, const char* what) const;
  int64_t next_token(const Tensor& last_logits_row, const GenerateOptions& o, Generator& gen) const;

  GPTConfig cfg_;
  std::shared_ptr<Embedding> tok_;
  std::shared_ptr<LearnedPositionalEmbedding> pos_;
  std::vector<std::shared_ptr<TransformerDecoderBlock>> blocks_;
  std::shared_ptr<LayerNormalization> ln_;
  std::shared_ptr<Dense> head_;
};

}  // namespace cairn::nn
