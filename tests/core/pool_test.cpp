// max_pool2d, avg_pool2d, global_avg_pool2d: exact cases (numbers from PyTorch 1.13), PyTorch's output
// sizes with ceil_mode, float64 gradient checks with padding and ceil_mode, and argument errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cairn/core/core.h"
#include "cairn/core/testing/gradcheck.h"

namespace cairn {
namespace {

Tensor seq(const Shape& shape, double a, double b) {
  std::vector<double> v(numel_of(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(a * i + b);
  return from_vector(v, shape);
}

void expect_near(const Tensor& a, const std::vector<double>& b, double tol) {
  auto av = a.to_vector<double>();
  ASSERT_EQ(av.size(), b.size());
  for (size_t i = 0; i < av.size(); ++i) EXPECT_NEAR(av[i], b[i], tol) << "element " << i;
}

Pool2dOptions pool(std::vector<int64_t> k, std::vector<int64_t> s, std::vector<int64_t> p, bool ceil = false,
                   bool count_include_pad = true) {
  Pool2dOptions o;
  o.kernel = k, o.stride = s, o.padding = p, o.ceil_mode = ceil, o.count_include_pad = count_include_pad;
  return o;
}

TEST(MaxPool2d, CeilModeMatchesPyTorch) {
  // F.max_pool2d(x, 2, 2, 0, ceil_mode=True, return_indices=True) on sin(0.37 i + 0.1), 5x5.
  Tensor x = seq({1, 1, 5, 5}, 0.37, 0.1).requires_grad_();
  Tensor y = max_pool2d(x, pool({2, 2}, {2, 2}, {0, 0}, true));
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  expect_near(y,
              {0.9289597150038692, 0.9356160015533859, 0.9999576464987401, -0.2601574914304689, 0.4589514863776903,
               0.7491743483316894, 0.999871708718139, 0.9264154954967662, 0.4302574547137703},
              1e-12);
  // The gradient lands on PyTorch's argmax positions 5, 3, 4, 16, 18, 19, 21, 22, 24.
  y.sum().backward();
  std::vector<double> g(25, 0.0);
  for (int i : {5, 3, 4, 16, 18, 19, 21, 22, 24}) g[i] = 1.0;
  expect_near(x.grad(), g, 0);
}

TEST(MaxPool2d, PaddingMatchesPyTorch) {
  // F.max_pool2d(x, 3, 2, 1): windows overlap, so one input can win twice and get both gradients.
  Tensor x = seq({1, 1, 5, 5}, 0.37, 0.1).requires_grad_();
  Tensor y = max_pool2d(x, pool({3, 3}, {2, 2}, {1, 1}));
  expect_near(y,
              {0.9289597150038692, 0.9356160015533859, 0.9999576464987401, 0.9289597150038692, 0.7322314440302514,
               0.7491743483316894, 0.999871708718139, 0.999871708718139, 0.7491743483316894},
              1e-12);
  y.sum().backward();
  std::vector<double> g(25, 0.0);
  for (int i : {5, 3, 4, 5, 6, 19, 21, 21, 19}) g[i] += 1.0;
  expect_near(x.grad(), g, 0);
}

TEST(MaxPool2d, TiesPickTheFirstAndNaNWins) {
  // Every window is one repeated value: the gradient goes to each window's top-left element only.
  Tensor x = from_vector<float>({1, 1, 5, 5, 1, 1, 5, 5, 0, 0, 0, 0, 0, 0, 0, 0}, {1, 1, 4, 4}).requires_grad_();
  Tensor y = max_pool2d(x, pool({2, 2}, {}, {0, 0}));
  expect_near(y, {1, 5, 0, 0}, 0);
  y.sum().backward();
  expect_near(x.grad(), {1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0}, 0);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor z = max_pool2d(from_vector<float>({1, nan, 3, 4}, {1, 1, 2, 2}), pool({2, 2}, {}, {0, 0}));
  EXPECT_TRUE(std::isnan(z.item()));
}

TEST(Pool2d, OutputSizesMatchPyTorch) {
  // (H, kernel, stride, padding, ceil_mode) -> PyTorch's output size.
  struct S {
    int64_t H, k, s, p;
    bool ceil;
    int64_t out;
  };
  for (S c : {S{5, 2, 2, 0, true, 3}, S{6, 3, 2, 1, true, 4}, S{7, 3, 3, 1, true, 3}, S{4, 2, 3, 1, true, 2},
              S{5, 3, 2, 1, false, 3}, S{26, 2, 2, 0, false, 13}, S{11, 2, 2, 0, false, 5}}) {
    Pool2dOptions o = pool({c.k, c.k}, {c.s, c.s}, {c.p, c.p}, c.ceil);
    EXPECT_EQ(max_pool2d(zeros({1, 1, c.H, c.H}), o).size(-1), c.out) << c.H << " " << c.k << " " << c.s;
    EXPECT_EQ(avg_pool2d(zeros({1, 1, c.H, c.H}), o).size(-1), c.out) << c.H << " " << c.k << " " << c.s;
  }
}

TEST(AvgPool2d, CountIncludePadMatchesPyTorch) {
  // F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=...) on a 5x5 grid.
  Tensor x = seq({1, 1, 5, 5}, 0.37, 0.1);
  expect_near(avg_pool2d(x, pool({3, 3}, {2, 2}, {1, 1}, true, true)),
              {0.2459900956733352, 0.3759197872059956, 0.19251667636399253, -0.07322419757056431,
               -0.14073953186487095, -0.09094709619081112, 0.12066651260348878, 0.3288073537683121, 0.26288406448829},
              1e-12);
  expect_near(avg_pool2d(x, pool({3, 3}, {2, 2}, {1, 1}, true, false)),
              {0.5534777152650042, 0.5638796808089934, 0.4331625218189832, -0.10983629635584646,
               -0.14073953186487095, -0.13642064428621667, 0.27149965335784976, 0.4932110306524682,
               0.5914891450986525},
              1e-12);
  // ceil_mode without padding: the partial last windows divide by their clipped size.
  expect_near(avg_pool2d(x, pool({2, 2}, {2, 2}, {0, 0}, true)),
              {0.5534777152650042, 0.5495400888611602, 0.35776596698113877, -0.5800522342922998, -0.35003824978475384,
               -0.04700669676236391, 0.968935842746439, 0.826994393234113, 0.4302574547137703},
              1e-12);
}

TEST(Pool2d, GradcheckWithPaddingAndCeilMode) {
  const std::vector<Pool2dOptions> opts = {
      pool({2, 2}, {}, {0, 0}),
      pool({3, 3}, {2, 2}, {1, 1}),
      pool({3, 2}, {2, 1}, {1, 0}, true),
      pool({2, 2}, {2, 2}, {0, 0}, true),
      pool({3, 3}, {2, 2}, {1, 1}, true, false),
      pool({3, 3}, {1, 1}, {1, 1}, false, false),
  };
  for (size_t i = 0; i < opts.size(); ++i) {
    SCOPED_TRACE(i);
    Generator gen(11 + i);
    // Distinct values far apart (a shuffled ramp), so no finite-difference step crosses a max tie.
    Tensor x = (randperm(2 * 3 * 7 * 6, &gen).to(DType::f64) * 0.01).reshape({2, 3, 7, 6}).requires_grad_();
    const Pool2dOptions o = opts[i];
    auto rm = testing::gradcheck([&](const std::vector<Tensor>& t) { return max_pool2d(t[0], o); }, {x});
    EXPECT_TRUE(rm.ok) << rm.message;
    auto ra = testing::gradcheck([&](const std::vector<Tensor>& t) { return avg_pool2d(t[0], o); }, {x});
    EXPECT_TRUE(ra.ok) << ra.message;
  }
}

TEST(Pool2d, ThreeDimInputIsABatchOfOne) {
  Tensor x = seq({2, 6, 6}, 0.37, 0.1);
  Tensor y = max_pool2d(x, pool({2, 2}, {}, {0, 0}));
  EXPECT_EQ(y.shape(), (Shape{2, 3, 3}));
  expect_near(y, max_pool2d(x.unsqueeze(0), pool({2, 2}, {}, {0, 0})).to_vector<double>(), 0);
  EXPECT_EQ(avg_pool2d(x, pool({3, 3}, {1, 1}, {1, 1})).shape(), (Shape{2, 6, 6}));
}

TEST(Pool2d, Float32TwoByTwoMatchesGeneralPath) {
  // The 2x2/2 fast path on an odd input (the last row and column are dropped): float32 against float64, and
  // float64 against explicit loops.
  Generator gen(5);
  Tensor x = randn({4, 5, 11, 11}, DType::f64, &gen);
  Tensor y64 = max_pool2d(x, pool({2, 2}, {}, {0, 0}));
  Tensor y32 = max_pool2d(x.to(DType::f32), pool({2, 2}, {}, {0, 0}));
  expect_near(y32, y64.to_vector<double>(), 1e-6);
  // Explicit loops for the first plane.
  auto xv = x.to_vector<double>(), yv = y64.to_vector<double>();
  for (int oh = 0; oh < 5; ++oh)
    for (int ow = 0; ow < 5; ++ow) {
      double m = -1e300;
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) m = std::max(m, xv[(2 * oh + i) * 11 + 2 * ow + j]);
      EXPECT_EQ(yv[oh * 5 + ow], m);
    }
}

TEST(MaxPool2d, Float32TwoByTwoForwardAndBackwardMatchFloat64) {
  // Rows wider than one 16-lane vector (OW = 18 and 20) and odd sizes (last row/column uncovered), with
  // duplicated values so ties must pick each window's first maximum.
  for (Shape s : {Shape{2, 3, 37, 41}, Shape{1, 2, 8, 40}, Shape{3, 1, 5, 3}}) {
    SCOPED_TRACE(shape_str(s));
    Generator gen(9);
    Tensor x = (randint(0, 7, s, DType::i64, &gen).to(DType::f64) * 0.5);
    Tensor gy = randn({s[0], s[1], s[2] / 2, s[3] / 2}, DType::f64, &gen);
    std::vector<double> y[2], gx[2];
    for (int k = 0; k < 2; ++k) {
      Tensor xi = x.detach().to(k ? DType::f32 : DType::f64).requires_grad_();
      Tensor yi = max_pool2d(xi, pool({2, 2}, {}, {0, 0}));
      yi.backward(gy.to(xi.dtype()));
      y[k] = yi.to_vector<double>();
      gx[k] = xi.grad().to_vector<double>();
    }
    EXPECT_EQ(y[0], y[1]);
    for (size_t i = 0; i < gx[0].size(); ++i) ASSERT_NEAR(gx[0][i], gx[1][i], 1e-6) << i;
  }
}

TEST(GlobalAvgPool2d, MeansAndGradient) {
  Tensor x = seq({2, 3, 4, 5}, 0.37, 0.1).requires_grad_();
  Tensor y = global_avg_pool2d(x);
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(global_avg_pool2d(x, true).shape(), (Shape{2, 3, 1, 1}));
  auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  for (int p = 0; p < 6; ++p) {
    double s = 0;
    for (int i = 0; i < 20; ++i) s += xv[p * 20 + i];
    EXPECT_NEAR(yv[p], s / 20, 1e-14);
  }
  auto r = testing::gradcheck([](const std::vector<Tensor>& t) { return global_avg_pool2d(t[0]); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_THROW(global_avg_pool2d(zeros({3, 4, 5})), ShapeError);
}

TEST(Pool2d, ArgumentErrors) {
  Tensor x = zeros({1, 2, 5, 5});
  EXPECT_THROW(max_pool2d(x, pool({2, 2}, {}, {2, 2})), ValueError);   // padding over half the kernel
  EXPECT_THROW(avg_pool2d(x, pool({0, 2}, {}, {0, 0})), ValueError);   // empty kernel
  EXPECT_THROW(max_pool2d(x, pool({2, 2}, {0, 1}, {0, 0})), ValueError);  // zero stride
  EXPECT_THROW(max_pool2d(zeros({5, 5}), pool({2, 2}, {}, {0, 0})), ShapeError);
  EXPECT_THROW(max_pool2d(zeros({1, 1, 5, 5}, DType::i64), pool({2, 2}, {}, {0, 0})), DTypeError);
  try {
    max_pool2d(zeros({1, 2, 1, 5}), pool({2, 2}, {}, {0, 0}));
    FAIL() << "no exception";
  } catch (const ShapeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("max_pool2d"), std::string::npos) << m;
    EXPECT_NE(m.find("[1, 2, 1, 5]"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace cairn
