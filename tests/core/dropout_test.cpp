// dropout: the mask follows the generator exactly (seeding, replay), rate and scale, the backward (the
// mask), a float64 gradient check with a fresh generator, and error messages.
#include <gtest/gtest.h>

#include "cairn/core/core.h"
#include "error_util.h"

using namespace cairn;
using cairn::testing::gradcheck;

namespace {
using cairn_test::error_of;
using cairn_test::expect_contains;
}  // namespace

TEST(Dropout, IdentityWhenOffOrZero) {
  Tensor x = randn({4, 5});
  EXPECT_EQ(dropout(x, 0.5, /*training=*/false).impl(), x.impl());
  EXPECT_EQ(dropout(x, 0.0, /*training=*/true).impl(), x.impl());
}

TEST(Dropout, MaskFollowsTheGeneratorExactly) {
  const double p = 0.3;
  Tensor x = randn({3, 50}, DType::f64);
  Generator gen(42);
  Tensor y = dropout(x, p, true, &gen);
  // Redraw the same sequence: element i is kept iff the i-th uniform draw is >= p.
  Generator replay(42);
  auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  for (size_t i = 0; i < xv.size(); ++i) {
    const bool keep = replay.uniform() >= p;
    EXPECT_EQ(yv[i], keep ? xv[i] * (1.0 / (1.0 - p)) : 0.0) << i;
  }
  // The generator advanced by exactly one draw per element.
  EXPECT_EQ(gen.next_u64(), replay.next_u64());
  // Same seed, same result; another seed differs.
  Generator again(42), other(43);
  EXPECT_EQ(dropout(x, p, true, &again).to_vector<double>(), yv);
  EXPECT_NE(dropout(x, p, true, &other).to_vector<double>(), yv);
  // With no generator the default one is used (and reseeding it repeats the mask).
  auto saved = default_generator().state();
  manual_seed(42);
  EXPECT_EQ(dropout(x, p, true).to_vector<double>(), yv);
  default_generator().set_state(saved);
}

TEST(Dropout, RateAndScale) {
  Generator gen(7);
  Tensor x = ones({100000});
  auto y = dropout(x, 0.25, true, &gen).to_vector<float>();
  int64_t zeros_n = 0;
  for (float v : y) {
    if (v == 0.0f)
      ++zeros_n;
    else
      EXPECT_FLOAT_EQ(v, 1.0f / 0.75f);
  }
  EXPECT_NEAR(static_cast<double>(zeros_n) / 100000.0, 0.25, 0.01);
}

TEST(Dropout, BackwardIsTheMask) {
  Tensor x = randn({6, 7}, DType::f64).requires_grad_();
  Generator gen(5);
  Tensor y = dropout(x.transpose(0, 1), 0.4, true, &gen);  // a strided input
  Generator g2(9);
  Tensor go = randn({7, 6}, DType::f64, &g2);
  y.backward(go);
  auto yv = y.to_vector<double>(), gv = go.to_vector<double>();
  auto gx = x.grad().transpose(0, 1).to_vector<double>();
  for (size_t i = 0; i < yv.size(); ++i) EXPECT_DOUBLE_EQ(gx[i], yv[i] == 0.0 ? 0.0 : gv[i] / 0.6) << i;
  // Gradient check with a fresh generator inside the function, so every evaluation draws the same mask.
  auto r = gradcheck(
      [](const std::vector<Tensor>& in) {
        Generator fresh(123);
        return dropout(in[0], 0.5, true, &fresh) * in[0];
      },
      {randn({4, 4}, DType::f64).requires_grad_()});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(Dropout, Errors) {
  Tensor x = zeros({3});
  for (double p : {1.0, -0.1, 1.5}) {
    std::string m = error_of([&] { (void)dropout(x, p, true); });
    expect_contains(m, {"dropout", "[0, 1)"});
    EXPECT_THROW(dropout(x, p, true), ValueError);
  }
  EXPECT_THROW(dropout(zeros({3}, DType::i64), 0.5, true), DTypeError);
}
