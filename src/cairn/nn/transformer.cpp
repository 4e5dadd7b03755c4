#include "cairn/nn/transformer.h"

#include <sstream>

#include "cairn/nn/transformer_init.h"

namespace cairn::nn {

namespace {
std::shared_ptr<LayerNormalization> make_ln(int64_t E, double eps) {
  return std::make_shared<LayerNormalization>(LayerNormOptions{.epsilon = eps, .input_shape = Shape{E}});
}
}  // namespace

// ---- shared parts ----

TransformerBlockBase::TransformerBlockBase(const char* type, TransformerBlockOptions options)
    : Module(type), opt_(std::move(options)) {
  configure(opt_.name, opt_.seed, std::nullopt);
  const int64_t E = opt_.embed_dim, H = opt_.num_heads;
  CAIRN_CHECK(E > 0 && H > 0 && E % H == 0, ValueError, where(), ": embed_dim (", E,
              ") must be a positive multiple of num_heads (", H, ")");
  CAIRN_CHECK(opt_.gelu_approximate == "none" || opt_.gelu_approximate == "tanh", ValueError, where(),
              ": gelu_approximate must be \"none\" or \"tanh\", got \"", opt_.gelu_approximate, "\"");
  CAIRN_CHECK(opt_.dropout >= 0 && opt_.dropout < 1, ValueError, where(), ": dropout must be in [0, 1), got ",
              opt_.dropout);
  CAIRN_CHECK(opt_.attention_dropout >= 0 && opt_.attention_dropout < 1, ValueError, where(),
              ": attention_dropout must be in [0, 1), got ", opt_.attention_dropout);
  if (opt_.mlp_dim < 0) opt_.mlp_dim = 4 * E;
  CAIRN_CHECK(opt_.mlp_dim > 0, ValueError, where(), ": mlp_dim must be positive, got ", opt_.mlp_dim);
  Generator& g = layer_generator();
  const double rstd = xfmr::residual_std(opt_.num_layers);
  ln1_ = register_module("ln1", make_ln(E, opt_.layer_norm_eps));
  qkv_ = register_module("qkv", xfmr::make_dense(E, 3 * E, opt_.bias, opt_.init, 0.02, g));
  proj_ = register_module("proj", xfmr::make_dense(E, E, opt_.bias, opt_.init, rstd, g));
  ln2_ = register_module("ln2", make_ln(E, opt_.layer_norm_eps));
  fc_ = register_module("fc", xfmr::make_dense(E, opt_.mlp_dim, opt_.bias, opt_.init, 0.02, g));
  fc2_ = register_module("fc2", xfmr::make_dense(opt_.mlp_dim, E, opt_.bias, opt_.init, rstd, g));
}

std::string TransformerBlockBase::input_spec() const { return "[B, T, " + std::to_string(opt_.embed_dim) + "]"; }

std::string TransformerBlockBase::extra_repr() const {
  std::ostringstream os;
  os << "embed_dim=" << opt_.embed_dim << ", num_heads=" << opt_.num_heads << ", mlp_dim=" << opt_.mlp_dim
     << (opt_.pre_norm ? ", pre_norm" : ", post_norm");
  if (opt_.gelu_approximate != "none") os << ", gelu=" << opt_.gelu_approximate;
  if (opt_.dropout > 0) os << ", dropout=" << opt_.dropout;
  if (opt_.attention_dropout > 0) os << ", attention_dropout=" << opt_.attention_dropout;
  if (opt_.cross_attention) os << ", cross_attention";
  return os.str();
}

Shape TransformerBlockBase::build_impl(const Shape& in) {
  if (in.size() != 3) throw_bad_input(in, "expected (batch, positions, embed_dim)");
  if (in[2] != opt_.embed_dim && in[2] != -1)
    throw_bad_input(in, detail::cat("the last dimension must be embed_dim = ", opt_.embed_dim));
  return in;
}

void TransformerBlockBase::check_input(const Tensor& x) {
  build(x.shape());
  check_input_dtype(x);
}

// (B, T, E) -> fc (B, T, mlp_dim) -> gelu -> fc2 (B, T, E)
Tensor TransformerBlockBase::mlp(const Tensor& x) { return (*fc2_)(gelu((*fc_)(x), opt_.gelu_approximate)); }

Tensor TransformerBlockBase::drop(const Tensor& x) {
  return opt_.dropout > 0 ? dropout(x, opt_.dropout, is_training(), &layer_generator()) : x;
}

template <class F>
Tensor TransformerBlockBase::residual(const Tensor& x, LayerNormalization& ln, const F& branch) {
  if (opt_.pre_norm) return add(x, drop(branch(ln(x))));
  return ln(add(x, drop(branch(x))));
}

// ---- encoder ----

TransformerEncoderBlock::TransformerEncoderBlock(TransformerBlockOptions options)
    : TransformerBlockBase("TransformerEncoderBlock", std::move(options)) {
  CAIRN_CHECK(!opt_.cross_attention, ValueError, where(),
              ": cross_attention is for TransformerDecoderBlock; an encoder block attends to its own input");
}

Tensor TransformerEncoderBlock::forward(const Tensor& x, const AttentionOptions& masks) {
  check_input(x);
  Tensor h = residual(x, *ln1_, [&](const Tensor& a) {
    return self_attention(a, *qkv_, *proj_, opt_.num_heads, attention_options(masks));
  });
  return residual(h, *ln2_, [&](const Tensor& a) { return mlp(a); });
}

// ---- decoder ----

TransformerDecoderBlock::TransformerDecoderBlock(TransformerBlockOptions options)
    : TransformerBlockBase("TransformerDecoderBlock", std::move(options)) {
  if (!opt_.cross_attention) return;
  const int64_t E = opt_.embed_dim, M = opt_.memory_dim < 0 ? E : opt_.memory_dim;
  Generator& g = layer_generator();
  ln_cross_ = register_module("ln_cross", make_ln(E, opt_.layer_norm_eps));
  cross_q_ = register_module("cross_q", xfmr::make_dense(E, E, opt_.bias, opt_.init, 0.02, g));
  cross_kv_ = register_module("cross_kv", xfmr::make_dense(M, 2 * E, opt_.bias, opt_.init, 0.02, g));
  cross_proj_ = register_module(
      "cross_proj", xfmr::make_dense(E, E, opt_.bias, opt_.init, xfmr::residual_std(opt_.num_layers), g));
}

Tensor TransformerDecoderBlock::forward(const Tensor& x) {
  CAIRN_CHECK(!opt_.cross_attention, ValueError, where(),
              " has cross-attention: call forward(x, self_masks, memory, memory_masks)");
  return forward(x, AttentionOptions{});
}

Tensor TransformerDecoderBlock::forward(const Tensor& x, const AttentionOptions& self_masks, const Tensor& memory,
                                        const AttentionOptions& memory_masks) {
  check_input(x);
  AttentionOptions causal = attention_options(self_masks);
  causal.causal = true;
  Tensor h = residual(x, *ln1_, [&](const Tensor& a) {
    return self_attention(a, *qkv_, *proj_, opt_.num_heads, causal);
  });
  if (opt_.cross_attention) {
    CAIRN_CHECK(memory.defined(), ValueError, where(), " has cross-attention but no memory was given");
    h = residual(h, *ln_cross_, [&](const Tensor& a) {
      return cross_attention(a, memory, *cross_q_, *cross_kv_, *cross_proj_, opt_.num_heads,
                             attention_options(memory_masks));
    });
  }
  return residual(h, *ln2_, [&](const Tensor& a) { return mlp(a); });
}

Tensor TransformerDecoderBlock::forward_cached(const Tensor& x_new, LayerKVCache& cache, int64_t capacity,
                                               const Tensor& memory, const AttentionOptions& memory_masks) {
  check_input(x_new);
  NoGradGuard no_grad;
  Tensor h = residual(x_new, *ln1_, [&](const Tensor& a) {
    return self_attention_cached(a, *qkv_, *proj_, opt_.num_heads, cache, capacity);
  });
  if (opt_.cross_attention) {
    CAIRN_CHECK(memory.defined(), ValueError, where(), " has cross-attention but no memory was given");
    h = residual(h, *ln_cross_, [&](const Tensor& a) {
      return cross_attention(a, memory, *cross_q_, *cross_kv_, *cross_proj_, opt_.num_heads, memory_masks);
    });
  }
  return residual(h, *ln2_, [&](const Tensor& a) { return mlp(a); });
}

}  // namespace cairn::nn
