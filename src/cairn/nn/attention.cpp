#include "cairn/nn/attention.h"

#include <cmath>
#include <sstream>

#include "cairn/core/autograd/autograd.h"
#include "cairn/nn/init.h"
#include "cairn/nn/transformer_init.h"

namespace cairn::nn {

// ---- attention on given projections ----

// x: (B, T, E) -> qkv (B, T, 3E) -> fused attention (B, T, E) -> proj (B, T, E).
Tensor self_attention(const Tensor& x, Dense& qkv, Dense& proj, int64_t num_heads, const AttentionOptions& masks) {
  return proj(self_attention_packed(qkv(x), num_heads, masks));
}

Tensor self_attention_cached(const Tensor& x_new, Dense& qkv, Dense& proj, int64_t num_heads, LayerKVCache& cache,
                             int64_t capacity) {
  NoGradGuard no_grad;
  CAIRN_CHECK(x_new.dim() == 3, ShapeError, "self_attention_cached: x_new must be (batch, new positions, embed_dim), got ",
              shape_str(x_new.shape()));
  const int64_t B = x_new.shape()[0], t = x_new.shape()[1], E = x_new.shape()[2], H = num_heads, D = E / H;
  if (!cache.k.defined()) {
    cache.k = zeros({B, H, capacity, D}, x_new.dtype());
    cache.v = zeros({B, H, capacity, D}, x_new.dtype());
    cache.length = 0;
  }
  CAIRN_CHECK(cache.k.shape()[0] == B && cache.k.shape()[3] == D && cache.k.dtype() == x_new.dtype(), ValueError,
              "self_attention_cached: the cache holds ", shape_str(cache.k.shape()), " ", dtype_name(cache.k.dtype()),
              " keys but the input is ", shape_str(x_new.shape()), " ", dtype_name(x_new.dtype()),
              "; make a new cache for this batch (GPT::make_cache)");
  const int64_t len = cache.length, cap = cache.k.shape()[2];
  CAIRN_CHECK(len + t <= cap, ValueError, "self_attention_cached: ", len, " cached + ", t,
              " new positions exceed the cache's capacity of ", cap, "; reset the cache or make a larger one");
  Tensor a = qkv(x_new).reshape({B, t, 3, H, D});                 // (B, t, 3, H, D)
  Tensor q = a.select(2, 0).permute({0, 2, 1, 3});                 // (B, H, t, D) views
  cache.k.narrow(2, len, t).copy_(a.select(2, 1).permute({0, 2, 1, 3}));
  cache.v.narrow(2, len, t).copy_(a.select(2, 2).permute({0, 2, 1, 3}));
  cache.length = len + t;
  Tensor k = cache.k.narrow(2, 0, len + t), v = cache.v.narrow(2, 0, len + t);
  Tensor o = scaled_dot_product_attention(q, k, v, {.causal = true});  // (B, H, t, D) over a (B, t, H, D) buffer
  return proj(o.transpose(1, 2).reshape({B, t, E}));
}

Tensor cross_attention(const Tensor& x, const Tensor& memory, Dense& q, Dense& kv, Dense& proj, int64_t num_heads,
                       const AttentionOptions& masks) {
  CAIRN_CHECK(x.dim() == 3 && memory.dim() == 3 && x.shape()[0] == memory.shape()[0], ShapeError,
              "cross_attention: x must be (batch, T, embed_dim) and memory (batch, S, memory_dim) with the same batch, "
              "got x ",
              shape_str(x.shape()), " and memory ", shape_str(memory.shape()));
  const int64_t B = x.shape()[0], T = x.shape()[1], S = memory.shape()[1], E = q.units(), H = num_heads, D = E / H;
  Tensor qh = q(x).reshape({B, T, H, D}).transpose(1, 2);          // (B, H, T, D)
  Tensor kvh = kv(memory).reshape({B, S, 2, H, D});                // (B, S, 2, H, D)
  Tensor kh = kvh.select(2, 0).transpose(1, 2), vh = kvh.select(2, 1).transpose(1, 2);
  Tensor o = scaled_dot_product_attention(qh, kh, vh, masks);       // (B, H, T, D)
  return proj(o.transpose(1, 2).reshape({B, T, E}));
}

AttentionOptions with_attention_dropout(const AttentionOptions& masks, double p, bool training, Generator& g) {
  AttentionOptions o = masks;
  if (training && p > 0) {
    o.dropout = p;
    o.generator = &g;
  }
  return o;
}

// ---- MultiHeadAttention ----

MultiHeadAttention::MultiHeadAttention(int64_t embed_dim, int64_t num_heads, MultiHeadAttentionOptions options)
    : Module("MultiHeadAttention"), embed_dim_(embed_dim), num_heads_(num_heads), opt_(std::move(options)) {
  configure(opt_.name, opt_.seed, std::nullopt);
  CAIRN_CHECK(embed_dim > 0 && num_heads > 0 && embed_dim % num_heads == 0, ValueError, where(), ": embed_dim (",
              embed_dim, ") must be a positive multiple of num_heads (", num_heads, ")");
  CAIRN_CHECK(opt_.dropout >= 0 && opt_.dropout < 1, ValueError, where(), ": dropout must be in [0, 1), got ",
              opt_.dropout);
  CAIRN_CHECK(opt_.attention_dropout >= 0 && opt_.attention_dropout < 1, ValueError, where(),
              ": attention_dropout must be in [0, 1), got ", opt_.attention_dropout);
  const int64_t kv_dim = opt_.kv_dim < 0 ? embed_dim : opt_.kv_dim;
  Generator& g = layer_generator();
  const double proj_std = xfmr::residual_std(opt_.residual_layers);
  if (opt_.cross) {
    q_ = register_module("q", xfmr::make_dense(embed_dim, embed_dim, opt_.bias, opt_.init, 0.02, g));
    kv_ = register_module("kv", xfmr::make_dense(kv_dim, 2 * embed_dim, opt_.bias, opt_.init, 0.02, g));
  } else {
    qkv_ = register_module("qkv", xfmr::make_dense(embed_dim, 3 * embed_dim, opt_.bias, opt_.init, 0.02, g));
  }
  proj_ = register_module("proj", xfmr::make_dense(embed_dim, embed_dim, opt_.bias, opt_.init, proj_std, g));
}

std::string MultiHeadAttention::input_spec() const { return "[B, T, " + std::to_string(embed_dim_) + "]"; }

std::string MultiHeadAttention::extra_repr() const {
  std::ostringstream os;
  os << "embed_dim=" << embed_dim_ << ", num_heads=" << num_heads_ << (opt_.cross ? ", cross=true" : "");
  if (opt_.dropout > 0) os << ", dropout=" << opt_.dropout;
  if (opt_.attention_dropout > 0) os << ", attention_dropout=" << opt_.attention_dropout;
  return os.str();
}

Shape MultiHeadAttention::build_impl(const Shape& in) {
  if (in.size() != 3) throw_bad_input(in, "expected (batch, positions, embed_dim)");
  if (in[2] != embed_dim_ && in[2] != -1)
    throw_bad_input(in, detail::cat("the last dimension must be embed_dim = ", embed_dim_));
  return in;
}

Tensor MultiHeadAttention::forward(const Tensor& x) { return forward(x, AttentionOptions{}); }

Tensor MultiHeadAttention::forward(const Tensor& x, const AttentionOptions& masks) {
  CAIRN_CHECK(!opt_.cross, ValueError, where(), " is a cross-attention layer: call forward(x, memory, masks)");
  build(x.shape());
  check_input_dtype(x);
  const AttentionOptions o = with_attention_dropout(masks, opt_.attention_dropout, is_training(), layer_generator());
  Tensor y = self_attention(x, *qkv_, *proj_, num_heads_, o);
  return opt_.dropout > 0 ? dropout(y, opt_.dropout, is_training(), &layer_generator()) : y;
}

Tensor MultiHeadAttention::forward(const Tensor& x, const Tensor& memory, const AttentionOptions& masks) {
  CAIRN_CHECK(opt_.cross, ValueError, where(), " is a self-attention layer: call forward(x, masks)");
  build(x.shape());
  check_input_dtype(x);
  const AttentionOptions o = with_attention_dropout(masks, opt_.attention_dropout, is_training(), layer_generator());
  Tensor y = cross_attention(x, memory, *q_, *kv_, *proj_, num_heads_, o);
  return opt_.dropout > 0 ? dropout(y, opt_.dropout, is_training(), &layer_generator()) : y;
}

Tensor MultiHeadAttention::forward_cached(const Tensor& x_new, LayerKVCache& cache, int64_t capacity) {
  CAIRN_CHECK(!opt_.cross, ValueError, where(), ": a KV cache is for self-attention layers");
  build(x_new.shape());
  check_input_dtype(x_new);
  return self_attention_cached(x_new, *qkv_, *proj_, num_heads_, cache, capacity);
}

StateDict from_torch_multihead_attention(const StateDict& torch_dict) {
  static const std::pair<const char*, const char*> kRenames[] = {{"in_proj_weight", "qkv.weight"},
                                                                 {"in_proj_bias", "qkv.bias"},
                                                                 {"out_proj.weight", "proj.weight"},
                                                                 {"out_proj.bias", "proj.bias"}};
  StateDict out;
  for (const auto& [name, t] : torch_dict) {
    std::string renamed = name;
    for (const auto& [from, to] : kRenames) {
      const std::string f = from;
      if (name.size() >= f.size() && name.compare(name.size() - f.size(), f.size(), f) == 0 &&
          (name.size() == f.size() || name[name.size() - f.size() - 1] == '.')) {
        renamed = name.substr(0, name.size() - f.size()) + to;
        break;
      }
    }
    out.insert(renamed, t);
  }
  return out;
}

// ---- positional embeddings ----

LearnedPositionalEmbedding::LearnedPositionalEmbedding(int64_t max_len, int64_t embed_dim, std::string init,
                                                       std::optional<uint64_t> seed, std::string name)
    : Module("LearnedPositionalEmbedding"), max_len_(max_len), embed_dim_(embed_dim) {
  configure(name, seed, std::nullopt);
  CAIRN_CHECK(max_len > 0 && embed_dim > 0, ValueError, where(), ": max_len and embed_dim must be positive, got ",
              max_len, " and ", embed_dim);
  weight_ = register_parameter("weight", Tensor::empty({max_len, embed_dim}, dtype()));
  xfmr::init_embedding(weight_, init, layer_generator());
}

std::string LearnedPositionalEmbedding::extra_repr() const {
  return detail::cat("max_len=", max_len_, ", embed_dim=", embed_dim_);
}

Shape LearnedPositionalEmbedding::build_impl(const Shape& in) {
  if (in.size() != 3 || (in[2] != embed_dim_ && in[2] != -1))
    throw_bad_input(in, detail::cat("expected (batch, positions, ", embed_dim_, ")"));
  return in;
}

// x: (B, T, E) + weight[offset : offset + T] broadcast over B.
Tensor LearnedPositionalEmbedding::forward(const Tensor& x, int64_t offset) {
  build(x.shape());
  check_input_dtype(x);
  const int64_t T = x.shape()[1];
  CAIRN_CHECK(offset >= 0 && offset + T <= max_len_, ValueError, where(), ": positions [", offset, ", ", offset + T,
              ") exceed max_len ", max_len_, "; feed at most ", max_len_, " positions (crop the context)");
  return add(x, narrow(weight_, 0, offset, T));
}

SinusoidalPositionalEncoding::SinusoidalPositionalEncoding(int64_t max_len, int64_t embed_dim, std::string name)
    : Module("SinusoidalPositionalEncoding"), max_len_(max_len), embed_dim_(embed_dim) {
  configure(name, std::nullopt, std::nullopt);
  CAIRN_CHECK(max_len > 0 && embed_dim > 0, ValueError, where(), ": max_len and embed_dim must be positive, got ",
              max_len, " and ", embed_dim);
}

std::string SinusoidalPositionalEncoding::extra_repr() const {
  return detail::cat("max_len=", max_len_, ", embed_dim=", embed_dim_);
}

Shape SinusoidalPositionalEncoding::build_impl(const Shape& in) {
  if (in.size() != 3 || (in[2] != embed_dim_ && in[2] != -1))
    throw_bad_input(in, detail::cat("expected (batch, positions, ", embed_dim_, ")"));
  return in;
}

Tensor SinusoidalPositionalEncoding::table(DType dtype) const {
  std::vector<double> pe(static_cast<size_t>(max_len_ * embed_dim_));
  for (int64_t p = 0; p < max_len_; ++p)
    for (int64_t i = 0; i < embed_dim_; ++i) {
      const double freq = std::pow(10000.0, -static_cast<double>(i - i % 2) / static_cast<double>(embed_dim_));
      pe[p * embed_dim_ + i] = (i % 2 == 0) ? std::sin(p * freq) : std::cos(p * freq);
    }
  return from_vector(pe, {max_len_, embed_dim_}).to(dtype);
}

Tensor SinusoidalPositionalEncoding::forward(const Tensor& x, int64_t offset) {
  build(x.shape());
  const int64_t T = x.shape()[1];
  CAIRN_CHECK(offset >= 0 && offset + T <= max_len_, ValueError, where(), ": positions [", offset, ", ", offset + T,
              ") exceed max_len ", max_len_);
  return add(x, narrow(table(x.dtype()), 0, offset, T));
}

}  // namespace cairn::nn
