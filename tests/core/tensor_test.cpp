#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "cairn/core/core.h"

using namespace cairn;

TEST(Tensor, CreationAndItem) {
  Tensor z = zeros({2, 3});
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.dtype(), DType::f32);
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_EQ(full({}, 2.5).item(), 2.5);
  auto a = arange(0, 5).to_vector<int64_t>();
  EXPECT_EQ(a, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(z.raw_data()) % 64, 0u);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor x = from_vector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = x.t();
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.storage(), x.storage());
  EXPECT_EQ(t.contiguous().to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor n = x.narrow(1, 1, 2);
  EXPECT_EQ(n.to_vector<float>(), (std::vector<float>{1, 2, 4, 5}));
  Tensor e = from_vector<float>({1, 2, 3}, {3}).expand({2, 3});
  EXPECT_EQ(e.strides(), (Shape{0, 1}));
  EXPECT_EQ(e.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  EXPECT_EQ(slice(arange(0, 10, 1, DType::f32), 0, 1, 9, 3).to_vector<float>(), (std::vector<float>{1, 4, 7}));
}

TEST(Tensor, BroadcastArithmetic) {
  Tensor a = from_vector<float>({1, 2, 3}, {3, 1});
  Tensor b = from_vector<float>({10, 20}, {1, 2});
  Tensor c = a + b;
  EXPECT_EQ(c.shape(), (Shape{3, 2}));
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{11, 21, 12, 22, 13, 23}));
}

TEST(Tensor, ShapeMismatchNamesOpAndShapes) {
  Tensor a = zeros({2, 3}), b = zeros({4, 3});
  try {
    (void)add(a, b);
    FAIL();
  } catch (const ShapeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("add"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 3]"), std::string::npos) << m;
  }
  EXPECT_THROW(matmul(zeros({2, 3}), zeros({4, 5})), ShapeError);
}

TEST(Tensor, DTypeMismatchIsClear) {
  EXPECT_THROW(add(zeros({2}), zeros({2}, DType::f64)), DTypeError);
  EXPECT_THROW(exp(zeros({2}, DType::i64)), DTypeError);
}

TEST(Reduce, SumMeanMax) {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(sum(x).item(), 21);
  EXPECT_EQ(sum(x, {0}).to_vector<float>(), (std::vector<float>{5, 7, 9}));
  EXPECT_EQ(sum(x, {1}, true).shape(), (Shape{2, 1}));
  EXPECT_EQ(mean(x, {1}).to_vector<float>(), (std::vector<float>{2, 5}));
  auto [v, i] = max(x, 1);
  EXPECT_EQ(v.to_vector<float>(), (std::vector<float>{3, 6}));
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{2, 2}));
}

TEST(Reduce, ColumnBlocksOverRowsMatchALoop) {
  // Reductions over a middle axis accumulate 64 columns at a time over all rows: full blocks, a partial one,
  // several outer slices, sum and max, float32 (in row order, so exactly the loop's float result).
  Generator g(12);
  for (auto [A, R, C] : {std::array<int64_t, 3>{1, 300, 150}, std::array<int64_t, 3>{3, 70, 200},
                         std::array<int64_t, 3>{1, 768, 64}, std::array<int64_t, 3>{2, 5, 7}}) {
    const Tensor x = randn({A, R, C}, DType::f32, &g);
    const std::vector<float> xv = x.to_vector<float>();
    std::vector<float> want_sum(static_cast<size_t>(A * C), 0.0f), want_max(static_cast<size_t>(A * C), -INFINITY);
    for (int64_t a = 0; a < A; ++a)
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < C; ++c) {
          const float v = xv[static_cast<size_t>((a * R + r) * C + c)];
          want_sum[static_cast<size_t>(a * C + c)] += v;
          want_max[static_cast<size_t>(a * C + c)] = std::max(want_max[static_cast<size_t>(a * C + c)], v);
        }
    EXPECT_EQ(sum(x, {1}).to_vector<float>(), want_sum) << A << "x" << R << "x" << C;
    EXPECT_EQ(amax(x, {1}).to_vector<float>(), want_max) << A << "x" << R << "x" << C;
  }
}

TEST(Matmul, MatchesNaive) {
  Tensor a = randn({3, 4}, DType::f64), b = randn({4, 5}, DType::f64);
  Tensor c = matmul(a, b);
  auto av = a.to_vector<double>(), bv = b.to_vector<double>(), cv = c.to_vector<double>();
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 5; ++j) {
      double s = 0;
      for (int k = 0; k < 4; ++k) s += av[i * 4 + k] * bv[k * 5 + j];
      EXPECT_NEAR(cv[i * 5 + j], s, 1e-12);
    }
  // Transposed operands go to BLAS as transposes.
  Tensor ct = matmul(b.t(), a.t());
  EXPECT_NEAR(sum(abs(sub(ct, c.t()))).item(), 0, 1e-12);
}

TEST(Autograd, SimpleChain) {
  Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
  Tensor y = sum(mul(x, x));
  y.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4, 6}));
}

