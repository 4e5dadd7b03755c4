// lstm and gru sequence ops: values against step-by-step references written with primitive ops, float64
// gradient checks (both directions, initial states, masks, no bias), several threads vs one, and errors.
// PyTorch goldens for the layers built on these ops are in tests/nn/rnn_golden_test.cpp.
#include <gtest/gtest.h>

#include "cairn/core/core.h"
#include "error_util.h"

using namespace cairn;
using cairn::testing::gradcheck;

namespace {
using cairn_test::error_of;

double max_diff(const Tensor& a, const Tensor& b) { return amax(abs(a - b)).item(); }

struct Params {
  Tensor w_ih, w_hh, b_ih, b_hh;
};
Params make_params(int64_t G, int64_t I, int64_t H, uint64_t seed) {
  Generator g(seed);
  return {uniform({G * H, I}, -0.5, 0.5, DType::f64, &g), uniform({G * H, H}, -0.5, 0.5, DType::f64, &g),
          uniform({G * H}, -0.5, 0.5, DType::f64, &g), uniform({G * H}, -0.5, 0.5, DType::f64, &g)};
}

// Step-by-step references from primitive ops; mask (B, T) as float 0/1 or undefined.
std::vector<Tensor> ref_lstm(const Tensor& x, const Params& p, Tensor h, Tensor c, const Tensor& mask, bool reverse) {
  const int64_t B = x.shape()[0], T = x.shape()[1], H = p.w_hh.shape()[1];
  if (!h.defined()) h = zeros({B, H}, DType::f64);
  if (!c.defined()) c = zeros({B, H}, DType::f64);
  std::vector<Tensor> ys(T);
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = reverse ? T - 1 - s : s;
    Tensor gts = linear(select(x, 1, t), p.w_ih, p.b_ih) + linear(h, p.w_hh, p.b_hh);
    auto q = chunk(gts, 4, 1);
    Tensor i = sigmoid(q[0]), f = sigmoid(q[1]), g = tanh(q[2]), o = sigmoid(q[3]);
    Tensor cn = f * c + i * g, hn = o * tanh(cn);
    if (mask.defined()) {
      Tensor m = unsqueeze(select(mask, 1, t), 1);
      cn = m * cn + (1.0 - m) * c;
      ys[t] = m * hn;
      hn = m * hn + (1.0 - m) * h;
    } else {
      ys[t] = hn;
    }
    h = hn;
    c = cn;
  }
  return {stack(ys, 1), h, c};
}

std::vector<Tensor> ref_gru(const Tensor& x, const Params& p, Tensor h, const Tensor& mask, bool reverse) {
  const int64_t B = x.shape()[0], T = x.shape()[1], H = p.w_hh.shape()[1];
  if (!h.defined()) h = zeros({B, H}, DType::f64);
  std::vector<Tensor> ys(T);
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = reverse ? T - 1 - s : s;
    auto gx = chunk(linear(select(x, 1, t), p.w_ih, p.b_ih), 3, 1);
    auto gh = chunk(linear(h, p.w_hh, p.b_hh), 3, 1);
    Tensor r = sigmoid(gx[0] + gh[0]), z = sigmoid(gx[1] + gh[1]);
    Tensor n = tanh(gx[2] + r * gh[2]);
    Tensor hn = (1.0 - z) * n + z * h;
    if (mask.defined()) {
      Tensor m = unsqueeze(select(mask, 1, t), 1);
      ys[t] = m * hn;
      hn = m * hn + (1.0 - m) * h;
    } else {
      ys[t] = hn;
    }
    h = hn;
  }
  return {stack(ys, 1), h};
}

// (B, T) uint8 mask from lengths (post-padding), and its float twin.
Tensor mask_u8(const std::vector<int64_t>& lengths, int64_t T) {
  std::vector<uint8_t> m;
  for (int64_t L : lengths)
    for (int64_t t = 0; t < T; ++t) m.push_back(t < L ? 1 : 0);
  return from_vector<uint8_t>(m, {(int64_t)lengths.size(), T});
}

}  // namespace

TEST(RnnOps, LstmMatchesStepByStepReference) {
  Generator g(1);
  Tensor x = randn({3, 5, 4}, DType::f64, &g), h0 = randn({3, 6}, DType::f64, &g), c0 = randn({3, 6}, DType::f64, &g);
  Params p = make_params(4, 4, 6, 2);
  for (bool rev : {false, true}) {
    auto r = lstm(x, p.w_ih, p.w_hh, p.b_ih, p.b_hh, h0, c0, Tensor(), rev);
    auto ref = ref_lstm(x, p, h0, c0, Tensor(), rev);
    EXPECT_LT(max_diff(r.y, ref[0]), 1e-12) << "reverse " << rev;
    EXPECT_LT(max_diff(r.h_n, ref[1]), 1e-12);
    EXPECT_LT(max_diff(r.c_n, ref[2]), 1e-12);
  }
}

TEST(RnnOps, GruMatchesStepByStepReference) {
  Generator g(3);
  Tensor x = randn({3, 5, 4}, DType::f64, &g), h0 = randn({3, 6}, DType::f64, &g);
  Params p = make_params(3, 4, 6, 4);
  for (bool rev : {false, true}) {
    auto r = gru(x, p.w_ih, p.w_hh, p.b_ih, p.b_hh, h0, Tensor(), rev);
    auto ref = ref_gru(x, p, h0, Tensor(), rev);
    EXPECT_LT(max_diff(r.y, ref[0]), 1e-12) << "reverse " << rev;
    EXPECT_LT(max_diff(r.h_n, ref[1]), 1e-12);
    EXPECT_FALSE(r.c_n.defined());
  }
}

TEST(RnnOps, MaskedStepsCarryStateAndOutputZero) {
  Generator g(5);
  Tensor x = randn({3, 6, 2}, DType::f64, &g);
  Tensor m = mask_u8({6, 3, 1}, 6);
  Params pl = make_params(4, 2, 5, 6), pg = make_params(3, 2, 5, 7);
  for (bool rev : {false, true}) {
    auto r = lstm(x, pl.w_ih, pl.w_hh, pl.b_ih, pl.b_hh, Tensor(), Tensor(), m, rev);
    auto ref = ref_lstm(x, pl, Tensor(), Tensor(), m.to(DType::f64), rev);
    EXPECT_LT(max_diff(r.y, ref[0]), 1e-12);
    EXPECT_LT(max_diff(r.h_n, ref[1]), 1e-12);
    EXPECT_LT(max_diff(r.c_n, ref[2]), 1e-12);
    auto q = gru(x, pg.w_ih, pg.w_hh, pg.b_ih, pg.b_hh, Tensor(), m, rev);
    auto qref = ref_gru(x, pg, Tensor(), m.to(DType::f64), rev);
    EXPECT_LT(max_diff(q.y, qref[0]), 1e-12);
    EXPECT_LT(max_diff(q.h_n, qref[1]), 1e-12);
  }
  // A sequence of length 3 gives the same final state as running its first 3 steps alone.
  auto full = lstm(x, pl.w_ih, pl.w_hh, pl.b_ih, pl.b_hh, Tensor(), Tensor(), m);
  auto cut = lstm(narrow(narrow(x, 0, 1, 1), 1, 0, 3), pl.w_ih, pl.w_hh, pl.b_ih, pl.b_hh);
  EXPECT_LT(max_diff(narrow(full.h_n, 0, 1, 1), cut.h_n), 1e-14);
}

TEST(RnnOps, LstmGradcheck) {
  Generator g(8);
  Tensor x = randn({2, 4, 3}, DType::f64, &g).requires_grad_();
  Tensor h0 = randn({2, 5}, DType::f64, &g).requires_grad_(), c0 = randn({2, 5}, DType::f64, &g).requires_grad_();
  Params p = make_params(4, 3, 5, 9);
  for (auto* t : {&p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh}) t->requires_grad_();
  for (bool rev : {false, true}) {
    // Every output (y, h_n, c_n) takes part, so all three gradient paths are checked.
    auto fn = [rev](const std::vector<Tensor>& in) {
      auto r = lstm(in[0], in[1], in[2], in[3], in[4], in[5], in[6], Tensor(), rev);
      return concat({flatten(r.y), flatten(r.h_n), flatten(r.c_n) * 0.5}, 0);
    };
    auto res = gradcheck(fn, {x, p.w_ih, p.w_hh, p.b_ih, p.b_hh, h0, c0});
    EXPECT_TRUE(res.ok) << "reverse " << rev << res.message;
  }
}

TEST(RnnOps, GruGradcheck) {
  Generator g(10);
  Tensor x = randn({2, 4, 3}, DType::f64, &g).requires_grad_();
  Tensor h0 = randn({2, 5}, DType::f64, &g).requires_grad_();
  Params p = make_params(3, 3, 5, 11);
  for (auto* t : {&p.w_ih, &p.w_hh, &p.b_ih, &p.b_hh}) t->requires_grad_();
  for (bool rev : {false, true}) {
    auto fn = [rev](const std::vector<Tensor>& in) {
      auto r = gru(in[0], in[1], in[2], in[3], in[4], in[5], Tensor(), rev);
      return concat({flatten(r.y), flatten(r.h_n)}, 0);
    };
    auto res = gradcheck(fn, {x, p.w_ih, p.w_hh, p.b_ih, p.b_hh, h0});
    EXPECT_TRUE(res.ok) << "reverse " << rev << res.message;
  }
}

TEST(RnnOps, MaskedGradcheckAndNoBias) {
  Generator g(12);
  Tensor x = randn({3, 5, 2}, DType::f64, &g).requires_grad_();
  Tensor m = mask_u8({5, 2, 4}, 5);
  Params pl = make_params(4, 2, 3, 13), pg = make_params(3, 2, 3, 14);
  for (auto* t : {&pl.w_ih, &pl.w_hh, &pg.w_ih, &pg.w_hh}) t->requires_grad_();
  for (bool rev : {false, true}) {
    auto fl = [&, rev](const std::vector<Tensor>& in) {
      auto r = lstm(in[0], in[1], in[2], Tensor(), Tensor(), Tensor(), Tensor(), m, rev);
      return concat({flatten(r.y), flatten(r.h_n), flatten(r.c_n)}, 0);
    };
    auto rl = gradcheck(fl, {x, pl.w_ih, pl.w_hh});
    EXPECT_TRUE(rl.ok) << "lstm reverse " << rev << rl.message;
    auto fg = [&, rev](const std::vector<Tensor>& in) {
      auto r = gru(in[0], in[1], in[2], Tensor(), Tensor(), Tensor(), m, rev);
      return concat({flatten(r.y), flatten(r.h_n)}, 0);
    };
    auto rg = gradcheck(fg, {x, pg.w_ih, pg.w_hh});
    EXPECT_TRUE(rg.ok) << "gru reverse " << rev << rg.message;
  }
}

TEST(RnnOps, RowChunksPerThreadGiveTheSameResult) {
  // 16 rows run as parallel chunks with 2 threads and as one chunk with 1: the same numbers.
  Generator g(15);
  Tensor x = randn({16, 7, 3}, DType::f32, &g).requires_grad_();
  Generator gw(16);
  Tensor w_ih = uniform({32, 3}, -0.3, 0.3, DType::f32, &gw).requires_grad_();
  Tensor w_hh = uniform({32, 8}, -0.3, 0.3, DType::f32, &gw).requires_grad_();
  auto run = [&](int threads) {
    const int before = num_threads();
    set_num_threads(threads);
    x.zero_grad();
    w_hh.zero_grad();
    auto r = lstm(x, w_ih, w_hh, Tensor(), Tensor());
    sum(r.y * r.y).backward();
    set_num_threads(before);
    return std::vector<Tensor>{r.y.detach(), x.grad(), w_hh.grad()};
  };
  auto a = run(1), b = run(2);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_LT(max_diff(a[i], b[i]), 1e-6) << i;
}

TEST(RnnOps, BadArgumentsNameShapes) {
  Tensor x = zeros({2, 3, 4});
  Tensor w_ih = zeros({20, 4}), w_hh = zeros({20, 5});
  EXPECT_NE(error_of([&] { lstm(zeros({3, 4}), w_ih, w_hh, Tensor(), Tensor()); }).find("(batch, time, features)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { lstm(zeros({2, 3, 7}), w_ih, w_hh, Tensor(), Tensor()); })
                .find("input of shape [2, 3, 7] has 7 features but weight_ih [20, 4] expects 4"),
            std::string::npos);
  EXPECT_NE(error_of([&] { lstm(x, w_ih, zeros({20, 4}), Tensor(), Tensor()); }).find("weight_hh has shape [20, 4]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { gru(x, zeros({15, 4}), w_hh, Tensor(), Tensor()); }).find("weight_hh has shape [20, 5]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { lstm(x, w_ih, w_hh, Tensor(), Tensor(), zeros({3, 5})); }).find("h0 has shape [3, 5]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { lstm(x, w_ih, w_hh, Tensor(), Tensor(), Tensor(), Tensor(), zeros({2, 4})); })
                .find("mask must be uint8"),
            std::string::npos);
  EXPECT_NE(error_of([&] { lstm(x, w_ih.to(DType::f64), w_hh, Tensor(), Tensor()); }).find("weight_ih is float64 but the input is float32"),
            std::string::npos);
  EXPECT_NE(error_of([&] { lstm(zeros({2, 0, 4}), w_ih, w_hh, Tensor(), Tensor()); }).find("no time steps"),
            std::string::npos);
}

TEST(RnnOps, Float32MatchesFloat64OnOddSizes) {
  // Sizes that exercise every path of the packed per-step products: 13 rows (a block of 8 and a remainder),
  // 4H = 164 and 3H = 123 columns (full and partial panels of 32), 7 input features.
  Generator g(17);
  Tensor x = randn({13, 6, 7}, DType::f64, &g);
  Params pl = make_params(4, 7, 41, 18), pg = make_params(3, 7, 41, 19);
  auto f32 = [](const Tensor& t) { return t.to(DType::f32); };
  for (bool rev : {false, true}) {
    auto a = lstm(x, pl.w_ih, pl.w_hh, pl.b_ih, pl.b_hh, Tensor(), Tensor(), Tensor(), rev);
    auto b = lstm(f32(x), f32(pl.w_ih), f32(pl.w_hh), f32(pl.b_ih), f32(pl.b_hh), Tensor(), Tensor(), Tensor(), rev);
    EXPECT_LT(max_diff(a.y, b.y.to(DType::f64)), 1e-5);
    EXPECT_LT(max_diff(a.c_n, b.c_n.to(DType::f64)), 1e-5);
    auto c = gru(x, pg.w_ih, pg.w_hh, pg.b_ih, pg.b_hh, Tensor(), Tensor(), rev);
    auto d = gru(f32(x), f32(pg.w_ih), f32(pg.w_hh), f32(pg.b_ih), f32(pg.b_hh), Tensor(), Tensor(), rev);
    EXPECT_LT(max_diff(c.y, d.y.to(DType::f64)), 1e-5);
  }
}
