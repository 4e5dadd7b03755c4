#include "cairn/nn/gpt.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "cairn/nn/transformer_init.h"

namespace cairn::nn {

GPT::GPT(GPTConfig config) : Module("GPT"), cfg_(std::move(config)) {
  configure("", cfg_.seed, std::nullopt);
  const GPTConfig& c = cfg_;
  CAIRN_CHECK(c.vocab_size > 0 && c.context_length > 0 && c.num_layers > 0, ValueError,
              "GPT: vocab_size, context_length and num_layers must be positive, got ", c.vocab_size, ", ",
              c.context_length, ", ", c.num_layers);
  CAIRN_CHECK(c.embed_dim > 0 && c.num_heads > 0 && c.embed_dim % c.num_heads == 0, ValueError, "GPT: embed_dim (",
              c.embed_dim, ") must be a positive multiple of num_heads (", c.num_heads, ")");
  CAIRN_CHECK(c.dropout >= 0 && c.dropout < 1, ValueError, "GPT: dropout must be in [0, 1), got ", c.dropout);
  CAIRN_CHECK(c.attention_dropout >= 0 && c.attention_dropout < 1, ValueError,
              "GPT: attention_dropout must be in [0, 1), got ", c.attention_dropout);
  Generator& g = layer_generator();
  tok_ = register_module("tok", std::make_shared<Embedding>(c.vocab_size, c.embed_dim,
                                                            EmbeddingOptions{.embeddings_initializer = "zeros"}));
  {
    Tensor w = tok_->weight();
    xfmr::init_embedding(w, c.init, g);
  }
  pos_ = register_module("pos", std::make_shared<LearnedPositionalEmbedding>(c.context_length, c.embed_dim, "zeros"));
  {
    Tensor w = pos_->weight();
    xfmr::init_embedding(w, c.init, g);
  }
  auto list = register_module("blocks", std::make_shared<Module>("ModuleList"));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    auto b = std::make_shared<TransformerDecoderBlock>(TransformerBlockOptions{
        .embed_dim = c.embed_dim,
        .num_heads = c.num_heads,
        .mlp_dim = c.mlp_dim,
        .pre_norm = true,
        .gelu_approximate = c.gelu_approximate,
        .dropout = c.dropout,
        .attention_dropout = c.attention_dropout,
        .layer_norm_eps = c.layer_norm_eps,
        .bias = c.bias,
        .init = c.init,
        .num_layers = c.num_layers,
        // Blocks draw from this model's generator when it was seeded, so a seeded GPT is reproducible.
        .seed = cfg_.seed ? std::optional<uint64_t>(g.next_u64()) : std::nullopt,
    });
    blocks_.push_back(list->register_module(std::to_string(i), b));
  }
  ln_ = register_module("ln", std::make_shared<LayerNormalization>(
                                  LayerNormOptions{.epsilon = c.layer_norm_eps, .center = c.bias,
                                                   .input_shape = Shape{c.embed_dim}}));
  if (!c.tie_weights)
    head_ = register_module("head", xfmr::make_dense(c.embed_dim, c.vocab_size, false, c.init, 0.02, g));
}

std::string GPT::extra_repr() const {
  std::ostringstream os;
  os << "vocab_size=" << cfg_.vocab_size << ", context_length=" << cfg_.context_length
     << ", num_layers=" << cfg_.num_layers << ", num_heads=" << cfg_.num_heads << ", embed_dim=" << cfg_.embed_dim;
  if (cfg_.tie_weights) os << ", tie_weights";
  return os.str();
}

Shape GPT::build_impl(const Shape& in) {
  if (in.size() != 2) throw_bad_input(in, "expected token ids (batch, positions)");
  if (in[1] > cfg_.context_length)
    throw_bad_input(in, detail::cat("at most context_length = ", cfg_.context_length, " positions fit"));
  return {in[0], in[1], cfg_.vocab_size};
}

Tensor GPT::check_tokens(const Tensor& tokens, const char* what) const {
  CAIRN_CHECK(tokens.defined() && tokens.dim() == 2 && tokens.shape()[1] >= 1, ShapeError, "GPT::", what,
              ": tokens must be (batch, positions) with at least one position, got ",
              tokens.defined() ? shape_str(tokens.shape()) : std::string("an undefined tensor"));
  CAIRN_CHECK(tokens.dtype() == DType::i64 || tokens.dtype() == DType::i32, DTypeError, "GPT::", what,
              ": tokens must be int64 or int32 ids, got ", dtype_name(tokens.dtype()));
  return tokens;
}

// tokens (B, T) -> tok (B, T, E) + pos[offset : offset + T] -> dropout
Tensor GPT::embed(const Tensor& tokens, int64_t offset) {
  Tensor x = pos_->forward((*tok_)(tokens), offset);
  return cfg_.dropout > 0 ? dropout(x, cfg_.dropout, is_training(), &layer_generator()) : x;
}

// h (B, T, E) -> ln -> head (B, T, V) (tied: h @ tok.weight^T)
Tensor GPT::logits_of(const Tensor& h) {
  Tensor n = (*ln_)(h);
  return cfg_.tie_weights ? linear(n, tok_->weight()) : (*head_)(n);
}

Tensor GPT::forward(const Tensor& tokens) {
  check_tokens(tokens, "forward");
  build(tokens.shape());
  Tensor x = embed(tokens, 0);
  for (auto& b : blocks_) x = b->forward(x);
  return logits_of(x);
}

KVCache GPT::make_cache(int64_t batch, int64_t capacity) const {
  if (capacity < 0) capacity = cfg_.context_length;
  CAIRN_CHECK(batch > 0 && capacity > 0 && capacity <= cfg_.context_length, ValueError,
              "GPT::make_cache: batch must be positive and capacity in [1, context_length = ", cfg_.context_length,
              "], got batch ", batch, ", capacity ", capacity);
  return KVCache(cfg_.num_layers, batch, capacity);
}

Tensor GPT::forward_step(const Tensor& tokens, KVCache& cache) {
  check_tokens(tokens, "forward_step");
  NoGradGuard no_grad;
  const int64_t B = tokens.shape()[0], t = tokens.shape()[1], offset = cache.length();
  CAIRN_CHECK(static_cast<int64_t>(cache.layers.size()) == cfg_.num_layers && cache.batch == B, ValueError,
              "GPT::forward_step: the cache was made for batch ", cache.batch, " and ", cache.layers.size(),
              " layers but the model has ", cfg_.num_layers, " layers and the tokens are ", shape_str(tokens.shape()),
              "; use make_cache(batch)");
  CAIRN_CHECK(offset + t <= cache.capacity, ValueError, "GPT::forward_step: ", offset, " cached + ", t,
              " new positions exceed the cache's capacity of ", cache.capacity, " (context_length ",
              cfg_.context_length, "); reset the cache or crop the context");
  Tensor x = embed(tokens, offset);
  for (size_t i = 0; i < blocks_.size(); ++i) x = blocks_[i]->forward_cached(x, cache.layers[i], cache.capacity);
  return logits_of(x);
}

int64_t GPT::next_token(const Tensor& row, const GenerateOptions& o, Generator& gen) const {
  std::vector<double> l = row.to(DType::f64).contiguous().to_vector<double>();
  const int64_t V = static_cast<int64_t>(l.size());
  if (o.greedy || o.temperature <= 0)
    return static_cast<int64_t>(std::max_element(l.begin(), l.end()) - l.begin());  // first maximum
  if (o.top_k > 0 && o.top_k < V) {
    std::vector<double> sorted = l;
    std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(), std::greater<double>());
    const double kth = sorted[o.top_k - 1];
    for (double& v : l)
      if (v < kth) v = -std::numeric_limits<double>::infinity();
  }
  const double mx = *std::max_element(l.begin(), l.end());
  double sum = 0;
  for (double& v : l) sum += (v = std::exp((v - mx) / o.temperature));
  double u = gen.uniform() * sum;
  for (int64_t i = 0; i < V; ++i) {
    u -= l[i];
    if (u < 0) return i;
  }
  for (int64_t i = V - 1; i >= 0; --i)  // rounding left u >= 0: the last token with any mass
    if (l[i] > 0) return i;
  return 0;
}

Tensor GPT::generate(const Tensor& prompt, int64_t max_new_tokens, const GenerateOptions& o) {
  check_tokens(prompt, "generate");
  CAIRN_CHECK(max_new_tokens >= 0, ValueError, "GPT::generate: max_new_tokens must be >= 0, got ", max_new_tokens);
  const bool was_training = is_training();
  eval();
  NoGradGuard no_grad;
  std::unique_ptr<Generator> own = o.seed ? std::make_unique<Generator>(*o.seed) : nullptr;
  Generator& gen = own ? *own : default_generator();
  const int64_t B = prompt.shape()[0], T0 = prompt.shape()[1], ctx = cfg_.context_length;
  Tensor p = prompt.to(DType::i64).contiguous();
  std::vector<std::vector<int64_t>> seq(static_cast<size_t>(B));
  {
    std::vector<int64_t> flat = p.to_vector<int64_t>();
    for (int64_t b = 0; b < B; ++b) seq[b].assign(flat.begin() + b * T0, flat.begin() + (b + 1) * T0);
  }
  // The last min(len, ctx) tokens of every row, as a (B, n) tensor.
  auto window = [&](int64_t n) {
    std::vector<int64_t> w;
    w.reserve(static_cast<size_t>(B * n));
    for (auto& s : seq) w.insert(w.end(), s.end() - n, s.end());
    return from_vector(w, {B, n});
  };
  KVCache cache = make_cache(B);
  Tensor logits;  // (B, t, V): the last position's row predicts the next token
  try {
    for (int64_t step = 0; step < max_new_tokens; ++step) {
      const int64_t len = static_cast<int64_t>(seq[0].size());
      if (!o.use_cache || len > ctx) {
        logits = forward(window(std::min(len, ctx)));
      } else if (step == 0) {
        logits = forward_step(window(len), cache);
      }  // else: the previous iteration's forward_step left the logits of the newest token
      Tensor last = logits.select(1, logits.shape()[1] - 1);  // (B, V)
      std::vector<int64_t> next(static_cast<size_t>(B));
      for (int64_t b = 0; b < B; ++b) {
        next[b] = next_token(last.select(0, b), o, gen);
        seq[b].push_back(next[b]);
      }
      if (o.on_token && !o.on_token(step, next)) break;
      if (o.use_cache && len + 1 <= ctx && step + 1 < max_new_tokens) logits = forward_step(from_vector(next, {B, 1}), cache);
    }
  } catch (...) {
    train(was_training);
    throw;
  }
  train(was_training);
  std::vector<int64_t> out;
  const int64_t n = static_cast<int64_t>(seq[0].size());
  out.reserve(static_cast<size_t>(B * n));
  for (auto& s : seq) out.insert(out.end(), s.begin(), s.end());
  return from_vector(out, {B, n});
}

}  // namespace cairn::nn
