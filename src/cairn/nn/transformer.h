// Transformer blocks: attention + GELU MLP with residual connections, pre-norm (GPT-2) or post-norm (the
// original Transformer, BERT).
//
//   pre-norm:  x = x + drop(attn(ln1(x)));   x = x + drop(fc2(gelu(fc(ln2(x)))))
//   post-norm: x = ln1(x + drop(attn(x)));   x = ln2(x + drop(fc2(gelu(fc(x)))))
//
// Parameter names (children): ln1, qkv, proj, ln2, fc, fc2 (the names of /work/shared/bench/torch_ref.py's
// GPT Block, so its state_dict loads as is); a decoder block with cross-attention adds ln_cross, cross_q,
// cross_kv, cross_proj between the self-attention and the MLP (pre-norm: x = x + drop(cross(ln_cross(x), mem));
// post-norm: x = ln_cross(x + drop(cross(x, mem)))). Blocks are built at construction.
//
//   auto block = std::make_shared<TransformerEncoderBlock>(TransformerBlockOptions{.embed_dim = 128, .num_heads = 4});
//   Tensor y = block->forward(x, {.key_padding_mask = pad});     // x, y: (B, T, 128); pad: (B, T) uint8, 1 = pad
#pragma once
#include <memory>
#include <optional>
#include <string>

#include "cairn/nn/attention.h"
#include "cairn/nn/layers_norm.h"

namespace cairn::nn {

struct TransformerBlockOptions {
  int64_t embed_dim = 128;
  int64_t num_heads = 4;
  int64_t mlp_dim = -1;                   // hidden width of the MLP (-1 = 4 * embed_dim)
  bool pre_norm = true;
  std::string gelu_approximate = "none";  // "none" (exact, erf) or "tanh"
  double dropout = 0.0;                   // on both residual branches, in training mode
  double attention_dropout = 0.0;         // on the attention probabilities, in training mode
  double layer_norm_eps = 1e-5;
  bool bias = true;
  bool cross_attention = false;           // decoder blocks only: attend to an encoder memory
  int64_t memory_dim = -1;                // width of that memory (-1 = embed_dim)
  // Weight init: "gpt2" (N(0, 0.02), zero biases, residual projections scaled by 1 / sqrt(2 * num_layers)),
  // "torch_default", or any nn::init name.
  std::string init = "gpt2";
  int64_t num_layers = 1;                 // of the whole stack, for the gpt2 residual scaling
  std::optional<uint64_t> seed{};
  std::string name{};
};

// Shared by both blocks: the norms and the MLP.
class TransformerBlockBase : public Module {
 public:
  const TransformerBlockOptions& options() const { return opt_; }
  std::string input_spec() const override;
  std::string extra_repr() const override;

 protected:
  TransformerBlockBase(const char* type, TransformerBlockOptions options);
  // fc2(gelu(fc(x))): (B, T, E) -> (B, T, E).
  Tensor mlp(const Tensor& x);
  // Adds a residual branch around `branch` (pre-norm: x + drop(branch(ln(x))); post-norm: ln(x + drop(branch(x)))).
  template <class F>
  Tensor residual(const Tensor& x, LayerNormalization& ln, const F& branch);
  Tensor drop(const Tensor& x);
  // masks plus this block's attention dropout (in training mode).
  AttentionOptions attention_options(const AttentionOptions& masks) {
    return with_attention_dropout(masks, opt_.attention_dropout, is_training(), layer_generator());
  }
  Shape build_impl(const Shape& input_shape) override;
  void check_input(const Tensor& x);

  TransformerBlockOptions opt_;
  std::shared_ptr<LayerNormalization> ln1_, ln2_;
  std::shared_ptr<Dense> qkv_, proj_, fc_, fc2_;
};

// Bidirectional self-attention block (BERT-style encoders). Masks: key padding (B, T) and additive ones;
// `causal` is honoured too.
class TransformerEncoderBlock : public TransformerBlockBase {
 public:
  explicit TransformerEncoderBlock(TransformerBlockOptions options);
  Tensor forward(const Tensor& x) override { return forward(x, AttentionOptions{}); }
  Tensor forward(const Tensor& x, const AttentionOptions& masks);
};

// Causal self-attention block (GPT), optionally followed by cross-attention to an encoder memory.
class TransformerDecoderBlock : public TransformerBlockBase {
 public:
  explicit TransformerDecoderBlock(TransformerBlockOptions options);
  // Causal self-attention only; throws ValueError when the block has cross-attention (it needs a memory).
  Tensor forward(const Tensor& x) override;
  // x (B, T, E); self_masks adds to the causal mask (e.g. key padding of x); memory (B, S, memory_dim) with
  // memory_masks (key padding (B, S)); memory is ignored (may be undefined) without cross-attention.
  Tensor forward(const Tensor& x, const AttentionOptions& self_masks, const Tensor& memory = Tensor(),
                 const AttentionOptions& memory_masks = {});
  // Inference on new positions x_new (B, t, E) after the cache's: extends `cache` (capacity positions).
  Tensor forward_cached(const Tensor& x_new, LayerKVCache& cache, int64_t capacity, const Tensor& memory = Tensor(),
                        const AttentionOptions& memory_masks = {});

 private:
  std::shared_ptr<LayerNormalization> ln_cross_;
  std::shared_ptr<Dense> cross_q_, cross_kv_, cross_proj_;
};

}  // namespace cairn::nn
