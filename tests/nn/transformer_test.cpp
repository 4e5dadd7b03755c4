// MultiHeadAttention, positional embeddings, Transformer blocks and GPT: parameter names, float64 gradient
// checks through the module API, KV-cache equivalence and generation.
#include <gtest/gtest.h>

#include <cmath>

#include "cairn/nn/nn.h"
#include "test_util.h"

using namespace cairn;
using namespace cairn::nn;
using cairn::nn::test::max_abs_diff;
using cairn::nn::test::module_gradcheck;

namespace {

Tensor R(const Shape& s, uint64_t seed, DType dt = DType::f64) {
  Generator g(seed);
  return randn(s, dt, &g);
}

std::vector<Tensor> params_of(Module& m) {
  std::vector<Tensor> out;
  for (auto& [n, p] : m.named_parameters()) out.push_back(p);
  return out;
}

std::vector<std::string> names_of(Module& m) {
  std::vector<std::string> out;
  for (auto& [n, p] : m.state_dict()) out.push_back(n);
  return out;
}

GPTConfig tiny_gpt(uint64_t seed = 3) {
  return GPTConfig{.vocab_size = 11, .context_length = 8, .num_layers = 2, .num_heads = 2, .embed_dim = 8,
                   .seed = seed};
}

}  // namespace

TEST(MultiHeadAttention, ParameterNamesAndShapes) {
  MultiHeadAttention self(12, 3);
  EXPECT_EQ(names_of(self), (std::vector<std::string>{"qkv.weight", "qkv.bias", "proj.weight", "proj.bias"}));
  EXPECT_EQ(shape_str(self.state_dict().at("qkv.weight").shape()), "[36, 12]");
  MultiHeadAttention cross(12, 3, {.cross = true, .kv_dim = 5, .bias = false});
  EXPECT_EQ(names_of(cross), (std::vector<std::string>{"q.weight", "kv.weight", "proj.weight"}));
  EXPECT_EQ(shape_str(cross.state_dict().at("kv.weight").shape()), "[24, 5]");
  EXPECT_THROW(MultiHeadAttention(10, 3), ValueError);
  EXPECT_THROW(self.forward(R({2, 3, 12}, 1, DType::f32), R({2, 4, 12}, 2, DType::f32)), ValueError);
}

TEST(MultiHeadAttention, GradcheckSelfWithMasksAndCross) {
  MultiHeadAttention self(4, 2, {.seed = 1});
  self.to(DType::f64);
  Tensor x = R({2, 4, 4}, 3).requires_grad_();
  Tensor pad = zeros({2, 4}, DType::u8);
  pad.data<uint8_t>()[4 + 3] = 1;
  auto w = params_of(self);
  w.push_back(x);
  EXPECT_TRUE(module_gradcheck([&] { return self.forward(x, {.causal = true, .key_padding_mask = pad}); }, w));

  MultiHeadAttention cross(4, 2, {.cross = true, .kv_dim = 3, .seed = 2});
  cross.to(DType::f64);
  Tensor mem = R({2, 5, 3}, 4).requires_grad_();
  Tensor mpad = zeros({2, 5}, DType::u8);
  mpad.data<uint8_t>()[6] = 1;
  auto wc = params_of(cross);
  wc.push_back(x);
  wc.push_back(mem);
  EXPECT_TRUE(module_gradcheck([&] { return cross.forward(x, mem, {.key_padding_mask = mpad}); }, wc));
}

TEST(PositionalEmbedding, LearnedAndSinusoidal) {
  LearnedPositionalEmbedding pos(10, 4);
  Tensor x = zeros({2, 3, 4});
  Tensor y = pos.forward(x, 5);
  EXPECT_EQ(max_abs_diff(y.select(0, 1), pos.weight().narrow(0, 5, 3)), 0.0);
  EXPECT_THROW(pos.forward(x, 8), ValueError);
  SinusoidalPositionalEncoding sin_pe(50, 6);
  Tensor t = sin_pe.table(DType::f64);
  EXPECT_NEAR(t.data<double>()[7 * 6 + 0], std::sin(7.0), 1e-12);
  EXPECT_NEAR(t.data<double>()[7 * 6 + 1], std::cos(7.0), 1e-12);
  EXPECT_NEAR(t.data<double>()[7 * 6 + 2], std::sin(7.0 / std::pow(10000.0, 2.0 / 6)), 1e-12);
  EXPECT_NEAR(t.data<double>()[7 * 6 + 5], std::cos(7.0 / std::pow(10000.0, 4.0 / 6)), 1e-12);
  EXPECT_EQ(sin_pe.state_dict().size(), 0u);
}

TEST(TransformerBlocks, GradcheckPreAndPostNormEncoder) {
  for (bool pre : {true, false})
    for (const char* approx : {"none", "tanh"}) {
      TransformerEncoderBlock blk({.embed_dim = 4, .num_heads = 2, .mlp_dim = 6, .pre_norm = pre,
                                   .gelu_approximate = approx, .seed = 5});
      blk.to(DType::f64);
      EXPECT_EQ(names_of(blk).size(), 12u);
      Tensor x = R({2, 4, 4}, 6).requires_grad_();
      Tensor pad = zeros({2, 4}, DType::u8);
      pad.data<uint8_t>()[4 + 3] = 1;
      auto w = params_of(blk);
      w.push_back(x);
      EXPECT_TRUE(module_gradcheck([&] { return blk.forward(x, {.key_padding_mask = pad}); }, w))
          << "pre_norm " << pre << " gelu " << approx;
    }
}

TEST(TransformerBlocks, DecoderWithCrossAttentionAndCache) {
  TransformerDecoderBlock blk({.embed_dim = 4, .num_heads = 2, .cross_attention = true, .memory_dim = 3, .seed = 7});
  blk.to(DType::f64);
  auto names = names_of(blk);
  EXPECT_NE(std::find(names.begin(), names.end(), "cross_kv.weight"), names.end());
  Tensor x = R({2, 5, 4}, 8).requires_grad_(), mem = R({2, 3, 3}, 9).requires_grad_();
  auto w = params_of(blk);
  w.push_back(x);
  w.push_back(mem);
  EXPECT_TRUE(module_gradcheck([&] { return blk.forward(x, {}, mem); }, w));
  EXPECT_THROW(blk.forward(x), ValueError);
  // Feeding positions one at a time through the cache gives the full causal forward.
  NoGradGuard ng;
  Tensor full = blk.forward(x, {}, mem);
  LayerKVCache cache;
  std::vector<Tensor> rows;
  for (int64_t t = 0; t < 5; ++t) rows.push_back(blk.forward_cached(x.narrow(1, t, 1), cache, 8, mem));
  EXPECT_LT(max_abs_diff(concat(rows, 1), full), 1e-13);
  EXPECT_EQ(cache.length, 5);
}

TEST(GPT, StateDictNamesMatchTorchRef) {
  GPT m(GPTConfig{});
  auto names = names_of(m);
  std::vector<std::string> want = {"tok.weight", "pos.weight"};
  for (int i = 0; i < 4; ++i)
    for (const char* p : {"ln1", "qkv", "proj", "ln2", "fc", "fc2"})
      for (const char* s : {"weight", "bias"}) want.push_back("blocks." + std::to_string(i) + "." + p + "." + s);
  for (const char* n : {"ln.weight", "ln.bias", "head.weight"}) want.push_back(n);
  EXPECT_EQ(names, want);
  EXPECT_EQ(m.count_params(), 818176);  // torch_ref.py gpt prints params=818176
  GPT tied(GPTConfig{.tie_weights = true});
  EXPECT_EQ(tied.count_params(), m.count_params() - 65 * 128);
}

TEST(GPT, GradcheckTinyModel) {
  GPT m(GPTConfig{.vocab_size = 5, .context_length = 4, .num_layers = 1, .num_heads = 2, .embed_dim = 4,
                  .tie_weights = true, .seed = 1});
  m.to(DType::f64);
  Tensor tok = from_vector<int64_t>({0, 3, 4, 1, 2, 2}, {2, 3});
  EXPECT_TRUE(module_gradcheck([&] { return m.forward(tok); }, params_of(m)));
}

TEST(GPT, ForwardStepMatchesForwardAndGreedyCacheEqualsNoCache) {
  GPT m(tiny_gpt());
  m.eval();
  Tensor tok = from_vector<int64_t>({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1}, {2, 6});
  Tensor full;
  {
    NoGradGuard ng;
    full = m.forward(tok);
  }
  KVCache cache = m.make_cache(2);
  Tensor a = m.forward_step(tok.narrow(1, 0, 4), cache);
  Tensor b = m.forward_step(tok.narrow(1, 4, 1), cache);
  Tensor c = m.forward_step(tok.narrow(1, 5, 1), cache);
  EXPECT_EQ(cache.length(), 6);
  EXPECT_LT(max_abs_diff(concat({a, b, c}, 1), full), 1e-5);
  EXPECT_THROW(m.forward_step(tok.narrow(1, 0, 3), cache), ValueError);  // 6 + 3 > 8

  // 20 new tokens: the window slides past the context length of 8 after the first few.
  Tensor prompt = tok.narrow(1, 0, 3);
  Tensor g1 = m.generate(prompt, 20, {.greedy = true});
  Tensor g2 = m.generate(prompt, 20, {.greedy = true, .use_cache = false});
  EXPECT_EQ(shape_str(g1.shape()), "[2, 23]");
  EXPECT_EQ(g1.to_vector<int64_t>(), g2.to_vector<int64_t>());
  Tensor s1 = m.generate(prompt, 10, {.temperature = 0.8, .top_k = 4, .seed = 9});
  Tensor s2 = m.generate(prompt, 10, {.temperature = 0.8, .top_k = 4, .use_cache = false, .seed = 9});
  EXPECT_EQ(s1.to_vector<int64_t>(), s2.to_vector<int64_t>());
  int calls = 0;
  Tensor g3 = m.generate(prompt, 10, {.greedy = true, .on_token = [&](int64_t, const std::vector<int64_t>&) {
                                        return ++calls < 4;
                                      }});
  EXPECT_EQ(g3.shape()[1], 3 + 4);
}

TEST(GPT, RejectsBadTokens) {
  GPT m(tiny_gpt());
  EXPECT_THROW(m.forward(zeros({2, 9}, DType::i64)), ShapeError);       // longer than the context
  EXPECT_THROW(m.forward(full({1, 2}, 11, DType::i64)), IndexError);    // outside the vocabulary
  EXPECT_THROW(m.forward(zeros({2, 3})), DTypeError);
}

TEST(TransformerBlocks, AttentionDropoutActsOnlyInTraining) {
  // Same seed, same weights: with attention_dropout the block equals the plain one in eval mode and differs from
  // it in training mode, where two calls draw different masks; MultiHeadAttention likewise.
  TransformerEncoderBlock plain({.embed_dim = 8, .num_heads = 2, .seed = 5});
  TransformerEncoderBlock dropped({.embed_dim = 8, .num_heads = 2, .attention_dropout = 0.5, .seed = 5});
  MultiHeadAttention mha_plain(8, 2, {.seed = 6});
  MultiHeadAttention mha_dropped(8, 2, {.attention_dropout = 0.5, .seed = 6});
  const Tensor x = R({2, 6, 8}, 7, DType::f32);
  auto check = [&](Module& a, Module& b) {
    a.eval();
    b.eval();
    EXPECT_EQ(max_abs_diff(a.forward(x), b.forward(x)), 0.0);
    a.train();
    b.train();
    const Tensor y1 = b.forward(x), y2 = b.forward(x);
    EXPECT_GT(max_abs_diff(a.forward(x), y1), 1e-3);
    EXPECT_GT(max_abs_diff(y1, y2), 1e-3);
  };
  check(plain, dropped);
  check(mha_plain, mha_dropped);
  EXPECT_THROW(TransformerEncoderBlock({.embed_dim = 8, .num_heads = 2, .attention_dropout = 1.0}), ValueError);
  EXPECT_THROW(MultiHeadAttention(8, 2, {.attention_dropout = -0.1}), ValueError);
}

TEST(GPT, AttentionDropoutActsOnlyInTraining) {
  GPTConfig with = tiny_gpt();
  with.attention_dropout = 0.5;
  GPT plain(tiny_gpt()), dropped(with);
  Tensor ids = from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8}, {1, 8});
  plain.eval();
  dropped.eval();
  EXPECT_EQ(max_abs_diff(plain.forward(ids), dropped.forward(ids)), 0.0);
  plain.train();
  dropped.train();
  EXPECT_GT(max_abs_diff(plain.forward(ids), dropped.forward(ids)), 1e-4);
  with.attention_dropout = 1.0;
  EXPECT_THROW(GPT{with}, ValueError);
}
