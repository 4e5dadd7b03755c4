// scaled_dot_product_attention and self_attention_packed: the fused kernel against the explicit
// softmax(q k^T * scale + mask) v composed from other ops, float64 gradient checks with every mask kind,
// causal alignment with Tq < Tk (KV cache), fully masked rows, dropout on the probabilities, and argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "cairn/core/core.h"
#include "cairn/core/kernels/kernels.h"

using namespace cairn;
namespace gc = cairn::testing;

namespace {

Tensor R(const Shape& s, uint64_t seed, DType dt = DType::f64) {
  Generator g(seed);
  return randn(s, dt, &g);
}

// The additive mask (B, H, Tq, Tk) equivalent to `opt` (0 or -inf), built elementwise.
Tensor dense_mask(const AttentionOptions& opt, int64_t B, int64_t H, int64_t Tq, int64_t Tk, DType dt) {
  std::vector<double> m(static_cast<size_t>(B * H * Tq * Tk), 0.0);
  const double ninf = -std::numeric_limits<double>::infinity();
  std::vector<uint8_t> pad;
  if (opt.key_padding_mask.defined()) pad = opt.key_padding_mask.contiguous().to_vector<uint8_t>();
  std::vector<double> add;
  Tensor am;
  if (opt.attn_mask.defined()) {
    am = opt.attn_mask.to(DType::f64);
    if (am.dim() == 2) am = am.unsqueeze(0).unsqueeze(0);
    add = am.expand({B, H, Tq, Tk}).contiguous().to_vector<double>();
  }
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < Tq; ++i)
        for (int64_t j = 0; j < Tk; ++j) {
          const int64_t idx = ((b * H + h) * Tq + i) * Tk + j;
          double v = add.empty() ? 0.0 : add[idx];
          if (!pad.empty() && pad[b * Tk + j]) v = ninf;
          if (opt.causal && j > i + (Tk - Tq)) v = ninf;
          m[idx] = v;
        }
  return from_vector(m, {B, H, Tq, Tk}).to(dt);
}

// softmax(q k^T * scale + mask) v from matmul and softmax (PyTorch's math path).
Tensor reference(const Tensor& q, const Tensor& k, const Tensor& v, const AttentionOptions& opt) {
  const int64_t B = q.shape()[0], H = q.shape()[1], Tq = q.shape()[2], Tk = k.shape()[2], D = q.shape()[3];
  const double scale = opt.scale ? *opt.scale : 1.0 / std::sqrt(static_cast<double>(D));
  Tensor s = matmul(q, k.transpose(-2, -1)) * scale + dense_mask(opt, B, H, Tq, Tk, q.dtype());
  return matmul(softmax(s, -1), v);
}

// The dropout factors (B, H, Tq, Tk) the kernel uses for `seed`: 1 / (1 - p) where kept, 0 where dropped.
Tensor dropout_factors(uint64_t seed, double p, int64_t B, int64_t H, int64_t Tq, int64_t Tk) {
  std::vector<double> z(static_cast<size_t>(B * H * Tq * Tk));
  const uint32_t threshold = kernels::attention_dropout_threshold(p);
  for (int64_t pair = 0; pair < B * H; ++pair)
    for (int64_t i = 0; i < Tq; ++i)
      for (int64_t j = 0; j < Tk; ++j)
        z[static_cast<size_t>((pair * Tq + i) * Tk + j)] =
            kernels::attention_dropout_bits(seed, pair, i, j, Tq, Tk) >= threshold ? 1.0 / (1.0 - p) : 0.0;
  return from_vector(z, {B, H, Tq, Tk});
}

double max_diff(const Tensor& a, const Tensor& b) {
  return amax(abs(a.detach().to(DType::f64) - b.detach().to(DType::f64))).item();
}

}  // namespace

TEST(Attention, MatchesExplicitSoftmaxForEveryMask) {
  const int64_t B = 2, H = 3, T = 37, D = 8;  // T spans several query tiles and a partial key tile
  Tensor q = R({B, H, T, D}, 1), k = R({B, H, T, D}, 2), v = R({B, H, T, D}, 3);
  Tensor pad = zeros({B, T}, DType::u8);
  for (int64_t j = 30; j < T; ++j) pad.data<uint8_t>()[1 * T + j] = 1;  // batch 1: last 7 keys are padding
  Tensor add = R({T, T}, 4) * 0.5;
  std::vector<AttentionOptions> cases = {
      {}, {.causal = true}, {.key_padding_mask = pad}, {.causal = true, .key_padding_mask = pad},
      {.attn_mask = add}, {.causal = true, .key_padding_mask = pad, .attn_mask = add, .scale = 0.3}};
  for (size_t c = 0; c < cases.size(); ++c) {
    EXPECT_LT(max_diff(scaled_dot_product_attention(q, k, v, cases[c]), reference(q, k, v, cases[c])), 1e-12)
        << "case " << c;
    Tensor q32 = q.to(DType::f32), k32 = k.to(DType::f32), v32 = v.to(DType::f32);
    AttentionOptions o32 = cases[c];
    if (o32.attn_mask.defined()) o32.attn_mask = o32.attn_mask.to(DType::f32);
    EXPECT_LT(max_diff(scaled_dot_product_attention(q32, k32, v32, o32), reference(q, k, v, cases[c])), 2e-5)
        << "float32 case " << c;
  }
}

TEST(Attention, LongKeysCrossTilesAndCausalBottomRight) {
  // Tq < Tk: the KV-cache situation; keys span three tiles of 64.
  const int64_t B = 1, H = 2, Tq = 5, Tk = 150, D = 4, Dv = 6;
  Tensor q = R({B, H, Tq, D}, 5), k = R({B, H, Tk, D}, 6), v = R({B, H, Tk, Dv}, 7);
  for (bool causal : {false, true}) {
    AttentionOptions o{.causal = causal};
    EXPECT_LT(max_diff(scaled_dot_product_attention(q, k, v, o), reference(q, k, v, o)), 1e-12);
  }
  // Row i of a causal attention with Tq new queries equals row (Tk - Tq + i) of the full causal attention.
  Tensor qf = R({B, H, Tk, D}, 8);
  Tensor full = scaled_dot_product_attention(qf, k, v, {.causal = true});
  Tensor tail = scaled_dot_product_attention(qf.narrow(2, Tk - Tq, Tq), k, v, {.causal = true});
  EXPECT_LT(max_diff(full.narrow(2, Tk - Tq, Tq), tail), 1e-14);
}

TEST(Attention, GradcheckWithMasks) {
  const int64_t B = 2, H = 1, T = 18, D = 2;
  Tensor pad = zeros({B, T}, DType::u8);
  for (int64_t j = 15; j < T; ++j) pad.data<uint8_t>()[T + j] = 1;
  Tensor add = R({B, 1, T, T}, 9) * 0.3;
  std::vector<AttentionOptions> cases = {{}, {.causal = true}, {.key_padding_mask = pad},
                                         {.causal = true, .key_padding_mask = pad, .attn_mask = add}};
  for (size_t c = 0; c < cases.size(); ++c) {
    auto r = gc::gradcheck(
        [&](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[2], cases[c]); },
        {R({B, H, T, D}, 10).requires_grad_(), R({B, H, T, D}, 11).requires_grad_(),
         R({B, H, T, D}, 12).requires_grad_()},
        1e-6, 1e-7, 1e-5);
    EXPECT_TRUE(r.ok) << "case " << c << r.message;
  }
}

TEST(Attention, GradcheckCrossShapesAndStridedInputs) {
  // Tq != Tk, Dv != D, inputs that are transposed views (B, T, H, D) -> (B, H, T, D).
  auto r = gc::gradcheck(
      [](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0].transpose(1, 2), in[1].transpose(1, 2), in[2].transpose(1, 2),
                                            {.causal = true});
      },
      {R({1, 4, 2, 3}, 13).requires_grad_(), R({1, 67, 2, 3}, 14).requires_grad_(),
       R({1, 67, 2, 2}, 15).requires_grad_()},
      1e-6, 1e-7, 1e-5);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Attention, PackedSelfAttentionMatchesUnpacked) {
  const int64_t B = 2, T = 18, H = 2, D = 2, C = H * D;
  Tensor pad = zeros({B, T}, DType::u8);
  pad.data<uint8_t>()[T + 17] = 1;
  AttentionOptions opt{.causal = true, .key_padding_mask = pad};
  auto unpacked = [&](const Tensor& qkv) {
    auto parts = split(qkv, C, 2);
    auto heads = [&](const Tensor& t) { return t.reshape({B, T, H, D}).transpose(1, 2); };
    return scaled_dot_product_attention(heads(parts[0]), heads(parts[1]), heads(parts[2]), opt)
        .transpose(1, 2)
        .reshape({B, T, C});
  };
  Tensor x = R({B, T, 3 * C}, 16);
  EXPECT_LT(max_diff(self_attention_packed(x, H, opt), unpacked(x)), 1e-14);
  auto r = gc::gradcheck([&](const std::vector<Tensor>& in) { return self_attention_packed(in[0], H, opt); },
                         {x.clone().requires_grad_()}, 1e-6, 1e-7, 1e-5);
  EXPECT_TRUE(r.ok) << r.message;
  // Same gradient as the unpacked path.
  Tensor a = x.clone().requires_grad_(), b = x.clone().requires_grad_();
  Tensor w = R({B, T, C}, 17);
  sum(self_attention_packed(a, H, opt) * w).backward();
  sum(unpacked(b) * w).backward();
  EXPECT_LT(max_diff(a.grad(), b.grad()), 1e-13);
}

TEST(Attention, Float32HeadsOf32FromAPackedProjectionMatchTheMathPath) {
  // The training shape's path: float32 heads 32 wide (keys and values transposed 16 x 16 in registers, 8-row GEMM
  // blocks), read from one fused projection with strided rows; 37 positions leave a partial 16-row block.
  const int64_t B = 2, T = 37, H = 3, D = 32, C = H * D;
  for (bool causal : {false, true}) {
    SCOPED_TRACE(causal ? "causal" : "full");
    const AttentionOptions opt{.causal = causal};
    const Tensor x = R({B, T, 3 * C}, 25), w = R({B, T, C}, 26);
    Tensor x32 = x.to(DType::f32).requires_grad_(), x64 = x.clone().requires_grad_();
    Tensor y32 = self_attention_packed(x32, H, opt);
    auto parts = split(x64, C, 2);
    auto heads = [&](const Tensor& t) { return t.reshape({B, T, H, D}).transpose(1, 2); };
    Tensor y64 = reference(heads(parts[0]), heads(parts[1]), heads(parts[2]), opt).transpose(1, 2).reshape({B, T, C});
    EXPECT_LT(max_diff(y32, y64), 2e-6);
    sum(y32 * w.to(DType::f32)).backward();
    sum(y64 * w).backward();
    EXPECT_LT(max_diff(x32.grad(), x64.grad()), 1e-5);
  }
}

TEST(Attention, Float32ShortSequencesInRegistersMatchTheMathPath) {
  // Heads of 16-64 floats against at most 64 keys take the register kernels (attention_cpu.cpp, fused::); 65 keys
  // and heads of 8 take the tiles. Every mask, queries fewer than keys (causal bottom-right), partial 4-row
  // blocks, padding that leaves a row with no key, and gradients for only some inputs.
  struct Case {
    int64_t D, Tq, Tk;
  };
  for (const Case cs : {Case{16, 20, 64}, Case{32, 33, 17}, Case{48, 17, 40}, Case{64, 30, 30}, Case{32, 16, 65},
                        Case{8, 21, 21}}) {
    const int64_t B = 2, H = 2;
    Tensor pad = zeros({B, cs.Tk}, DType::u8);
    for (int64_t j = 0; j < cs.Tk; j += 3) pad.data<uint8_t>()[cs.Tk + j] = 1;
    pad.data<uint8_t>()[0] = 1;  // causal with Tq == Tk: the first query of batch 0 sees no key
    for (int m = 0; m < 4; ++m) {
      SCOPED_TRACE("D " + std::to_string(cs.D) + " Tq " + std::to_string(cs.Tq) + " Tk " + std::to_string(cs.Tk) +
                   " mask " + std::to_string(m));
      AttentionOptions opt;
      opt.causal = m == 1 || m == 3;
      if (m >= 2) opt.key_padding_mask = pad;
      const Tensor q = R({B, H, cs.Tq, cs.D}, 31), k = R({B, H, cs.Tk, cs.D}, 32), v = R({B, H, cs.Tk, cs.D}, 33);
      // The math path with -1e30 for -inf: rows with no visible key then average every value where the kernel gives
      // zeros, so those rows get weight 0 in the loss and contribute no gradient on either side.
      const double scale = 1.0 / std::sqrt(static_cast<double>(cs.D));
      const Tensor mask = clamp(dense_mask(opt, B, H, cs.Tq, cs.Tk, DType::f64), -1e30, std::nullopt);
      const Tensor dead = lt(amax(mask, {3}, true), -1e29);  // (B, H, Tq, 1)
      const Tensor w = where(dead, zeros({B, H, cs.Tq, cs.D}, DType::f64), R({B, H, cs.Tq, cs.D}, 34));
      for (bool all_grads : {true, false}) {
        Tensor q32 = q.to(DType::f32).requires_grad_(all_grads), k32 = k.to(DType::f32).requires_grad_(),
               v32 = v.to(DType::f32).requires_grad_(all_grads);
        Tensor q64 = q.clone().requires_grad_(), k64 = k.clone().requires_grad_(), v64 = v.clone().requires_grad_();
        Tensor y32 = scaled_dot_product_attention(q32, k32, v32, opt);
        Tensor y64 = matmul(softmax(matmul(q64, k64.transpose(-2, -1)) * scale + mask, -1), v64);
        EXPECT_LT(max_diff(y32, where(dead, zeros_like(y64), y64)), 2e-6);
        sum(y32 * w.to(DType::f32)).backward();
        sum(y64 * w).backward();
        EXPECT_LT(max_diff(k32.grad(), k64.grad()), 2e-5);
        if (all_grads) {
          EXPECT_LT(max_diff(q32.grad(), q64.grad()), 2e-5);
          EXPECT_LT(max_diff(v32.grad(), v64.grad()), 2e-5);
        }
      }
    }
  }
}

TEST(Attention, FullyMaskedRowGivesZerosNotNaN) {
  Tensor q = R({1, 1, 3, 2}, 18).requires_grad_(), k = R({1, 1, 3, 2}, 19).requires_grad_(),
         v = R({1, 1, 3, 2}, 20).requires_grad_();
  Tensor pad = ones({1, 3}, DType::u8);
  Tensor y = scaled_dot_product_attention(q, k, v, {.key_padding_mask = pad});
  EXPECT_EQ(amax(abs(y)).item(), 0.0);
  sum(y).backward();
  EXPECT_EQ(amax(abs(q.grad())).item(), 0.0);
  EXPECT_EQ(amax(abs(v.grad())).item(), 0.0);
}

TEST(Attention, ErrorsNameTheShapes) {
  Tensor q = R({1, 2, 3, 4}, 1), k = R({1, 2, 5, 4}, 2), v = R({1, 2, 6, 4}, 3);
  try {
    scaled_dot_product_attention(q, k, v);
    FAIL() << "no throw";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[1, 2, 6, 4]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(scaled_dot_product_attention(q, k, k, {.key_padding_mask = zeros({1, 4}, DType::u8)}), ShapeError);
  EXPECT_THROW(scaled_dot_product_attention(q, k, k, {.key_padding_mask = zeros({1, 5})}), DTypeError);
  EXPECT_THROW(scaled_dot_product_attention(q, k, k.to(DType::f32)), DTypeError);
  EXPECT_THROW(self_attention_packed(R({1, 3, 10}, 4), 4), ShapeError);
}

TEST(Attention, ResultsDoNotDependOnTheThreadCount) {
  // Each (batch, head) pair is computed by one thread in a fixed order, its tile GEMMs single-threaded.
  const int64_t B = 3, H = 3, T = 45, D = 8;
  Tensor pad = zeros({B, T}, DType::u8);
  pad.data<uint8_t>()[2 * T + 40] = 1;
  auto run = [&](int threads) {
    set_num_threads(threads);
    Tensor q = R({B, H, T, D}, 21, DType::f32).requires_grad_(), k = R({B, H, T, D}, 22, DType::f32).requires_grad_(),
           v = R({B, H, T, D}, 23, DType::f32).requires_grad_();
    Tensor y = scaled_dot_product_attention(q, k, v, {.causal = true, .key_padding_mask = pad});
    sum(y * R({B, H, T, D}, 24, DType::f32)).backward();
    std::vector<float> all = y.detach().contiguous().to_vector<float>();
    for (const Tensor& g : {q.grad(), k.grad(), v.grad()}) {
      auto gv = g.contiguous().to_vector<float>();
      all.insert(all.end(), gv.begin(), gv.end());
    }
    return all;
  };
  const int before = num_threads();
  auto one = run(1), two = run(2), three = run(3);
  set_num_threads(before);
  EXPECT_TRUE(one == two);
  EXPECT_TRUE(one == three);
}

TEST(Attention, DropoutMatchesTheExplicitMaskedSoftmaxAndItsGradients) {
  // Tk = 70 spans two key tiles; the normaliser is the undropped sum, the dropped weights are rescaled.
  const int64_t B = 2, H = 3, Tq = 37, Tk = 70, D = 8;
  const double p = 0.3;
  Tensor pad = zeros({B, Tk}, DType::u8);
  for (int64_t j = 60; j < Tk; ++j) pad.data<uint8_t>()[Tk + j] = 1;
  for (AttentionOptions masks : {AttentionOptions{}, AttentionOptions{.causal = true, .key_padding_mask = pad}}) {
    Tensor q = R({B, H, Tq, D}, 31).requires_grad_(), k = R({B, H, Tk, D}, 32).requires_grad_(),
           v = R({B, H, Tk, D}, 33).requires_grad_();
    Tensor w = R({B, H, Tq, D}, 34);
    Generator g(77);
    AttentionOptions o = masks;
    o.dropout = p;
    o.generator = &g;
    Tensor y = scaled_dot_product_attention(q, k, v, o);
    sum(y * w).backward();
    const Tensor z = dropout_factors(Generator(77).next_u64(), p, B, H, Tq, Tk);
    Tensor qr = q.detach().requires_grad_(), kr = k.detach().requires_grad_(), vr = v.detach().requires_grad_();
    Tensor s = matmul(qr, kr.transpose(-2, -1)) * (1.0 / std::sqrt(double(D))) +
               dense_mask(masks, B, H, Tq, Tk, q.dtype());
    Tensor yr = matmul(softmax(s, -1) * z, vr);
    sum(yr * w).backward();
    EXPECT_LT(max_diff(y, yr), 1e-12);
    EXPECT_LT(max_diff(q.grad(), qr.grad()), 1e-12);
    EXPECT_LT(max_diff(k.grad(), kr.grad()), 1e-12);
    EXPECT_LT(max_diff(v.grad(), vr.grad()), 1e-12);
  }
  // About p of the weights are dropped, and another seed drops others.
  const Tensor z1 = dropout_factors(1, p, B, H, Tq, Tk), z2 = dropout_factors(2, p, B, H, Tq, Tk);
  const std::vector<double> zv = z1.to_vector<double>();
  EXPECT_NEAR(static_cast<double>(std::count(zv.begin(), zv.end(), 0.0)) / static_cast<double>(zv.size()), p, 0.02);
  EXPECT_GT(max_diff(z1, z2), 0.0);
}

TEST(Attention, GradcheckWithDropout) {
  const int64_t B = 1, H = 2, T = 18, D = 3;
  Tensor pad = zeros({B, T}, DType::u8);
  pad.data<uint8_t>()[T - 1] = 1;
  for (bool packed : {false, true}) {
    auto r = gc::gradcheck(
        [&](const std::vector<Tensor>& in) {
          Generator g(5);  // the same mask on every evaluation
          const AttentionOptions o{.causal = true, .key_padding_mask = pad, .dropout = 0.4, .generator = &g};
          if (packed) return self_attention_packed(in[0], H, o);
          return scaled_dot_product_attention(in[0], in[1], in[2], o);
        },
        packed ? std::vector<Tensor>{R({B, T, 3 * H * D}, 35).requires_grad_()}
               : std::vector<Tensor>{R({B, H, T, D}, 36).requires_grad_(), R({B, H, T, D}, 37).requires_grad_(),
                                     R({B, H, T, D}, 38).requires_grad_()},
        1e-6, 1e-7, 1e-5);
    EXPECT_TRUE(r.ok) << (packed ? "packed " : "") << r.message;
  }
  Tensor q = R({1, 1, 2, 2}, 1);
  EXPECT_THROW(scaled_dot_product_attention(q, q, q, {.dropout = 1.0}), ValueError);
  EXPECT_THROW(scaled_dot_product_attention(q, q, q, {.dropout = -0.1}), ValueError);
}
