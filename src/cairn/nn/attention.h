// Multi-head attention, positional embeddings and the per-layer key/value cache used for generation.
//
//   auto mha = std::make_shared<MultiHeadAttention>(128, 4);            // self-attention, fused qkv
//   Tensor y = mha->forward(x, {.causal = true});                          // x, y: (B, T, 128)
//   auto xattn = std::make_shared<MultiHeadAttention>(128, 4, MultiHeadAttentionOptions{.cross = true});
//   Tensor z = xattn->forward(x, memory, {.key_padding_mask = pad});       // memory: (B, S, kv_dim)
//
// Parameter names (Dense children, PyTorch layouts [out, in]):
//   self-attention:  qkv.weight [3E, E], qkv.bias [3E], proj.weight [E, E], proj.bias [E]
//                    (torch.nn.MultiheadAttention's in_proj_weight / in_proj_bias / out_proj.weight / out_proj.bias)
//   cross-attention: q.weight [E, E], kv.weight [2E, kv_dim], proj.weight [E, E] (+ biases)
// The attention itself is the fused core op (scaled_dot_product_attention / self_attention_packed): no (T, T)
// matrix is stored. `attention_dropout` drops attention probabilities inside the fused kernel (torch's MHA
// `dropout`, nanoGPT's attn_dropout); `dropout` applies to the output projection, as nanoGPT's resid_dropout.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cairn/core/ops/ops.h"
#include "cairn/nn/layers_core.h"
#include "cairn/nn/module.h"

namespace cairn::nn {

// ---- key/value cache ----
// The keys and values of the positions one attention layer has seen, (B, H, capacity, D) buffers filled up to
// `length`. Created empty; the first cached forward allocates the buffers.
struct LayerKVCache {
  Tensor k{}, v{};
  int64_t length = 0;
};
// One LayerKVCache per layer of a model, all with the same batch size and capacity (positions).
struct KVCache {
  int64_t batch = 0;
  int64_t capacity = 0;
  std::vector<LayerKVCache> layers;
  KVCache() = default;
  KVCache(int64_t num_layers, int64_t batch, int64_t capacity)
      : batch(batch), capacity(capacity), layers(static_cast<size_t>(num_layers)) {}
  // Positions cached so far (those of layer 0; every layer holds the same count).
  int64_t length() const { return layers.empty() ? 0 : layers[0].length; }
  // Forgets every position (keeps the buffers).
  void reset() {
    for (auto& l : layers) l.length = 0;
  }
};

// ---- attention on given projections (shared by MultiHeadAttention and the Transformer blocks) ----
// x: (B, T, E) -> (B, T, E) = proj(attention(qkv(x))), heads = num_heads of width E / num_heads.
Tensor self_attention(const Tensor& x, Dense& qkv, Dense& proj, int64_t num_heads, const AttentionOptions& masks);
// Causal self-attention of T new positions after the cache's `length` cached ones: appends the new keys and
// values (run without autograd) and attends over all length + T. x_new: (B, T, E) -> (B, T, E). Throws
// ValueError when the cache would overflow or its batch differs.
Tensor self_attention_cached(const Tensor& x_new, Dense& qkv, Dense& proj, int64_t num_heads, LayerKVCache& cache,
                             int64_t capacity);
// x: (B, T, E) queries, memory: (B, S, kv_dim) -> (B, T, E) = proj(attention(q(x), kv(memory))).
Tensor cross_attention(const Tensor& x, const Tensor& memory, Dense& q, Dense& kv, Dense& proj, int64_t num_heads,
                       const AttentionOptions& masks);

// masks with dropout p on the attention probabilities when training (seeds drawn from g), as they are otherwise.
AttentionOptions with_attention_dropout(const AttentionOptions& masks, double p, bool training, Generator& g);

struct MultiHeadAttentionOptions {
  bool cross = false;        // cross-attention: queries from x, keys and values from a memory of width kv_dim
  int64_t kv_dim = -1;       // memory width for cross-attention (-1 = embed_dim)
  bool bias = true;
  double dropout = 0.0;      // on the output, in training mode
  double attention_dropout = 0.0;  // on the attention probabilities, in training mode (torch's MHA `dropout`)
  // "gpt2": N(0, 0.02) weights, zero biases (and N(0, 0.02 / sqrt(2 * num_layers)) for proj when
  // residual_layers > 0); "torch_default": torch.nn.Linear's U(-1/sqrt(in), 1/sqrt(in)); or any nn::init name.
  std::string init = "gpt2";
  int64_t residual_layers = 0;
  std::optional<uint64_t> seed{};
  std::string name{};
};

// Built at construction (every size is known). embed_dim must divide by num_heads (ValueError otherwise).
class MultiHeadAttention : public Module {
 public:
  MultiHeadAttention(int64_t embed_dim, int64_t num_heads, MultiHeadAttentionOptions options = {});
  // Self-attention without masks; throws ValueError for a cross-attention layer (it needs a memory).
  Tensor forward(const Tensor& x) override;
  // Self-attention with masks (causal, key padding (B, T), additive (T, T) / (B, H, T, T)).
  Tensor forward(const Tensor& x, const AttentionOptions& masks);
  // Cross-attention: x (B, T, E), memory (B, S, kv_dim); key_padding_mask is (B, S).
  Tensor forward(const Tensor& x, const Tensor& memory, const AttentionOptions& masks = {});
  // Causal self-attention of the new positions x_new (B, t, E) using and extending `cache`.
  Tensor forward_cached(const Tensor& x_new, LayerKVCache& cache, int64_t capacity);
  std::string input_spec() const override;
  std::string extra_repr() const override;

  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  int64_t embed_dim_, num_heads_;
  MultiHeadAttentionOptions opt_;
  std::shared_ptr<Dense> qkv_, q_, kv_, proj_;
};

// torch.nn.MultiheadAttention's parameter names -> a self-attention MultiHeadAttention's: in_proj_weight [3E, E]
// -> qkv.weight, in_proj_bias -> qkv.bias, out_proj.weight -> proj.weight, out_proj.bias -> proj.bias, at any
// prefix ("blocks.0.attn.in_proj_weight" -> "blocks.0.attn.qkv.weight"); other entries are kept as they are. The
// two modules then compute the same function (torch's batch_first=True layout; its bool key_padding_mask as
// uint8, its float attn_mask as attn_mask). Separate q/k/v projections (kdim != embed_dim) are not converted.
StateDict from_torch_multihead_attention(const StateDict& torch_dict);

// ---- positional embeddings ----
// Learned: "weight" [max_len, E] (N(0, 0.02) by default, or any nn::init name). x (B, T, E) -> x + weight[offset :
// offset + T]. Throws ValueError when offset + T > max_len.
class LearnedPositionalEmbedding : public Module {
 public:
  LearnedPositionalEmbedding(int64_t max_len, int64_t embed_dim, std::string init = "gpt2",
                             std::optional<uint64_t> seed = std::nullopt, std::string name = "");
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  Tensor forward(const Tensor& x, int64_t offset);
  std::string extra_repr() const override;
  const Tensor& weight() const { return weight_; }
  int64_t max_len() const { return max_len_; }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  int64_t max_len_, embed_dim_;
  Tensor weight_;
};

// Fixed (Vaswani et al.): pe[p, 2i] = sin(p / 10000^(2i/E)), pe[p, 2i+1] = cos(...). No parameters or buffers
// (state dicts stay as PyTorch's, which recompute it too). x (B, T, E) -> x + pe[offset : offset + T].
class SinusoidalPositionalEncoding : public Module {
 public:
  SinusoidalPositionalEncoding(int64_t max_len, int64_t embed_dim, std::string name = "");
  Tensor forward(const Tensor& x) override { return forward(x, 0); }
  Tensor forward(const Tensor& x, int64_t offset);
  std::string extra_repr() const override;
  // The (max_len, E) table in `dtype`.
  Tensor table(DType dtype) const;

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  int64_t max_len_, embed_dim_;
};

}  // namespace cairn::nn
