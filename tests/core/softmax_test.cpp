// softmax, log_softmax, cross_entropy: values (hand-computed, PyTorch 1.13 numbers, and a plain-loop
// reference of PyTorch's formula), float64 gradient checks for every option, and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cairn/core/core.h"
#include "error_util.h"
#include "cairn/core/kernels/cpu/vec_exp.h"

using namespace cairn;
using cairn::testing::gradcheck;

namespace {
using cairn_test::error_of;

void expect_near(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "element " << i;
}

// Naive softmax over dim d of a contiguous tensor (double loops), as a reference.
std::vector<double> naive_softmax(const Tensor& x, int64_t d, bool log) {
  auto v = x.to_vector<double>();
  int64_t A = 1, R = x.shape()[d], C = 1;
  for (int64_t i = 0; i < d; ++i) A *= x.shape()[i];
  for (int64_t i = d + 1; i < x.dim(); ++i) C *= x.shape()[i];
  std::vector<double> out(v.size());
  for (int64_t a = 0; a < A; ++a)
    for (int64_t c = 0; c < C; ++c) {
      double m = -INFINITY, s = 0;
      for (int64_t r = 0; r < R; ++r) m = std::max(m, v[(a * R + r) * C + c]);
      for (int64_t r = 0; r < R; ++r) s += std::exp(v[(a * R + r) * C + c] - m);
      for (int64_t r = 0; r < R; ++r) {
        const double z = v[(a * R + r) * C + c] - m;
        out[(a * R + r) * C + c] = log ? z - std::log(s) : std::exp(z) / s;
      }
    }
  return out;
}

// PyTorch's cross_entropy written out with loops: logits (N, C, S), targets (N, S).
std::vector<double> ref_cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o) {
  auto x = logits.to_vector<double>();
  auto t = target.to_vector<int64_t>();
  const int64_t N = logits.shape()[0], C = logits.shape()[1], S = static_cast<int64_t>(x.size()) / (N * C);
  std::vector<double> w(C, 1.0);
  if (o.weight.defined()) w = o.weight.to_vector<double>();
  std::vector<double> loss(N * S, 0.0);
  double nll_sum = 0, smooth_sum = 0, denom = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t s = 0; s < S; ++s) {
      const int64_t tt = t[n * S + s];
      if (tt == o.ignore_index) continue;
      double m = -INFINITY, z = 0;
      for (int64_t c = 0; c < C; ++c) m = std::max(m, x[(n * C + c) * S + s]);
      for (int64_t c = 0; c < C; ++c) z += std::exp(x[(n * C + c) * S + s] - m);
      const double lse = m + std::log(z);
      const double nll = -w[tt] * (x[(n * C + tt) * S + s] - lse);
      double smooth = 0;
      for (int64_t c = 0; c < C; ++c) smooth -= w[c] * (x[(n * C + c) * S + s] - lse);
      loss[n * S + s] = (1 - o.label_smoothing) * nll + o.label_smoothing / C * smooth;
      nll_sum += nll;
      smooth_sum += smooth;
      denom += w[tt];
    }
  if (o.reduction == "none") return loss;
  double total = (1 - o.label_smoothing) * nll_sum + o.label_smoothing / C * smooth_sum;
  return {o.reduction == "mean" ? total / denom : total};
}

}  // namespace

TEST(Softmax, HandComputedValues) {
  Tensor x = from_vector<double>({1, 2, 3}, {3});
  // PyTorch 1.13: torch.softmax(torch.tensor([1., 2., 3.], dtype=torch.float64), 0)
  expect_near(softmax(x, 0).to_vector<double>(), {0.090030573170, 0.244728471055, 0.665240955775}, 1e-11);
  // Stable for large logits: torch.log_softmax(torch.tensor([1000., 1001., 1002.]), 0) in float32
  Tensor big = from_vector<float>({1000, 1001, 1002}, {3});
  expect_near(log_softmax(big, 0).to_vector<double>(), {-2.407605886459, -1.407605886459, -0.407605946064}, 1e-7);
  auto p = softmax(big, -1).to_vector<double>();
  for (double v : p) EXPECT_TRUE(std::isfinite(v));
  // A uniform row.
  expect_near(softmax(zeros({2, 4}), 1).to_vector<double>(), std::vector<double>(8, 0.25), 1e-7);
}

TEST(Softmax, MatchesNaiveOverEveryDim) {
  Generator gen(7);
  Tensor x = randn({3, 4, 5}, DType::f64, &gen) * 3.0;
  for (int64_t d = 0; d < 3; ++d) {
    expect_near(softmax(x, d).to_vector<double>(), naive_softmax(x, d, false), 1e-13);
    expect_near(log_softmax(x, d).to_vector<double>(), naive_softmax(x, d, true), 1e-12);
  }
  // Negative dim and a non-contiguous input.
  Tensor xt = x.transpose(0, 2);
  expect_near(softmax(xt, -1).to_vector<double>(), naive_softmax(xt.contiguous(), 2, false), 1e-13);
  // float32 path.
  Tensor xf = x.to(DType::f32);
  expect_near(softmax(xf, 1).to_vector<double>(), naive_softmax(x, 1, false), 1e-6);
  // Rows of 0-d and single elements.
  EXPECT_EQ(softmax(full({}, 3.0), 0).item(), 1.0);
  EXPECT_EQ(log_softmax(full({4, 1}, -2.0), 1).to_vector<float>(), std::vector<float>(4, 0.0f));
}

TEST(Softmax, LongRowsCrossManyBlocks) {
  // Rows longer than one block, with the max in a late block (the sum is rescaled), and a row longer than
  // 256 blocks of 256 (larger blocks).
  for (int64_t n : {1000, 70001}) {
    Generator gen(n);
    Tensor x = randn({2, n}, DType::f64, &gen);
    double* p = x.data<double>();
    p[n - 3] = 9.0;
    p[n + 5] = 11.0;
    expect_near(softmax(x, 1).to_vector<double>(), naive_softmax(x, 1, false), 1e-14);
    expect_near(log_softmax(x, 1).to_vector<double>(), naive_softmax(x, 1, true), 1e-10);
    auto s = sum(softmax(x.to(DType::f32), 1), {1}).to_vector<double>();
    EXPECT_NEAR(s[0], 1.0, 1e-5);
    EXPECT_NEAR(s[1], 1.0, 1e-5);
  }
}

TEST(Softmax, Gradcheck) {
  Generator gen(11);
  for (int64_t d : {0, 1, 2, -1}) {
    Tensor x = randn({2, 3, 4}, DType::f64, &gen).requires_grad_();
    auto r = gradcheck([d](const std::vector<Tensor>& in) { return softmax(in[0], d); }, {x});
    EXPECT_TRUE(r.ok) << "softmax dim " << d << ": " << r.message;
    r = gradcheck([d](const std::vector<Tensor>& in) { return log_softmax(in[0], d); }, {x});
    EXPECT_TRUE(r.ok) << "log_softmax dim " << d << ": " << r.message;
  }
  // Through a non-contiguous view, and softmax composed with other ops (the gradient is not all-ones).
  Tensor x = randn({4, 3}, DType::f64, &gen).requires_grad_();
  auto r = gradcheck([](const std::vector<Tensor>& in) { return square(softmax(in[0].t(), 1)); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  r = gradcheck([](const std::vector<Tensor>& in) { return log_softmax(in[0], 0) * in[0]; }, {x});
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(CrossEntropy, HandComputedAndPyTorchValues) {
  // Two rows: [1, 2, 3] target 2, [1, 1, 1] target 0.
  Tensor x = from_vector<double>({1, 2, 3, 1, 1, 1}, {2, 3});
  Tensor t = from_vector<int64_t>({2, 0});
  const double l0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0, l1 = std::log(3.0);
  EXPECT_NEAR(cross_entropy(x, t).item(), (l0 + l1) / 2, 1e-14);
  CrossEntropyOptions o;
  o.reduction = "sum";
  EXPECT_NEAR(cross_entropy(x, t, o).item(), l0 + l1, 1e-14);
  o.reduction = "none";
  expect_near(cross_entropy(x, t, o).to_vector<double>(), {l0, l1}, 1e-14);

  // Numbers from PyTorch 1.13 (F.cross_entropy in float64).
  Tensor x3 = from_vector<double>({1, 2, 3, 1, 1, 1, 0.5, -1, 2}, {3, 3});
  Tensor t3 = from_vector<int64_t>({2, 0, 1});
  Tensor w = from_vector<double>({1, 2, 0.5});
  EXPECT_NEAR(cross_entropy(x3, t3).item(), 1.582509849923, 1e-11);
  CrossEntropyOptions ow;
  ow.weight = w;
  EXPECT_NEAR(cross_entropy(x3, t3, ow).item(), 2.224296532630, 1e-11);
  ow.label_smoothing = 0.2;
  EXPECT_NEAR(cross_entropy(x3, t3, ow).item(), 2.114986815136, 1e-11);
  Tensor t3i = from_vector<int64_t>({2, -100, 1});
  EXPECT_NEAR(cross_entropy(x3, t3i, ow).item(), 2.506888461874, 1e-11);
  ow.reduction = "none";
  expect_near(cross_entropy(x3, t3i, ow).to_vector<double>(), {0.524817110815, 0.0, 5.742404043871}, 1e-11);
  CrossEntropyOptions oi;
  oi.ignore_index = 1;
  oi.label_smoothing = 0.3;
  oi.reduction = "sum";
  EXPECT_NEAR(cross_entropy(x3, from_vector<int64_t>({2, 1, 1}), oi).item(), 0.707605964444, 1e-11);
}

TEST(CrossEntropy, MatchesReferenceForEveryOption) {
  Generator gen(3);
  const Shape shapes[] = {{6, 5}, {2, 4, 3, 2}, {3, 70}};
  for (const Shape& xs : shapes) {
    Tensor x = randn(xs, DType::f64, &gen) * 2.0;
    Shape ts = xs;
    ts.erase(ts.begin() + 1);
    const int64_t C = xs[1];
    Tensor t = randint(0, C, ts, DType::i64, &gen);
    t.data<int64_t>()[1] = -100;  // one ignored position
    for (bool weighted : {false, true})
      for (double ls : {0.0, 0.25})
        for (const char* red : {"none", "sum", "mean"}) {
          CrossEntropyOptions o;
          if (weighted) o.weight = uniform({C}, 0.2, 2.0, DType::f64, &gen);
          o.label_smoothing = ls;
          o.reduction = red;
          auto want = ref_cross_entropy(x, t, o);
          expect_near(cross_entropy(x, t, o).to_vector<double>(), want, 1e-12);
          // float32 agrees too.
          CrossEntropyOptions of = o;
          if (weighted) of.weight = o.weight.to(DType::f32);
          expect_near(cross_entropy(x.to(DType::f32), t, of).to_vector<double>(), want, 2e-5);
        }
  }
}

TEST(CrossEntropy, UnbatchedAndShapes) {
  Tensor x = from_vector<double>({1, 2, 3}, {3});
  Tensor y = cross_entropy(x, full({}, 2, DType::i64));
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_NEAR(y.item(), std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0, 1e-14);
  CrossEntropyOptions o;
  o.reduction = "none";
  Tensor img = randn({2, 3, 4, 5}, DType::f32);
  EXPECT_EQ(cross_entropy(img, zeros({2, 4, 5}, DType::i64), o).shape(), (Shape{2, 4, 5}));
  // Channels-last logits seen as (N, C, H, W) through a permutation (strided) give the contiguous result.
  Tensor nhwc = randn({2, 4, 5, 3}, DType::f64);
  Tensor tt = randint(0, 3, {2, 4, 5}, DType::i64);
  Tensor strided = nhwc.permute({0, 3, 1, 2});
  EXPECT_EQ(cross_entropy(strided, tt, o).to_vector<double>(),
            cross_entropy(strided.contiguous(), tt, o).to_vector<double>());
  // Every target ignored: the mean is 0 / 0 = NaN, as in PyTorch; the gradient is zero.
  Tensor xl = randn({2, 3}, DType::f64).requires_grad_();
  Tensor all_ignored = full({2}, -100, DType::i64);
  Tensor l = cross_entropy(xl, all_ignored);
  EXPECT_TRUE(std::isnan(l.item()));
  l.backward();
  for (double g : xl.grad().to_vector<double>()) EXPECT_EQ(g, 0.0);
  o.reduction = "sum";
  EXPECT_EQ(cross_entropy(xl, all_ignored, o).item(), 0.0);
}

TEST(CrossEntropy, GradcheckEveryOption) {
  Generator gen(5);
  struct Case {
    Shape xs;
    bool weighted;
    double ls;
    const char* red;
    int64_t ignore;
  };
  const Case cases[] = {
      {{4, 3}, false, 0.0, "mean", -100},   {{4, 3}, false, 0.0, "sum", -100},
      {{4, 3}, false, 0.0, "none", -100},   {{4, 3}, true, 0.0, "mean", -100},
      {{4, 3}, true, 0.0, "none", -100},    {{4, 3}, false, 0.3, "mean", -100},
      {{4, 3}, true, 0.3, "mean", 1},       {{4, 3}, true, 0.3, "sum", 1},
      {{4, 3}, true, 0.1, "none", 0},       {{2, 3, 2, 2}, false, 0.0, "mean", -100},
      {{2, 3, 2, 2}, true, 0.2, "mean", 2}, {{2, 3, 2, 2}, true, 0.2, "none", -100},
      {{3}, true, 0.2, "mean", -100},
  };
  for (const Case& c : cases) {
    Tensor x = randn(c.xs, DType::f64, &gen).requires_grad_();
    Shape ts = c.xs;
    const int64_t C = c.xs.size() == 1 ? c.xs[0] : c.xs[1];
    if (c.xs.size() == 1)
      ts.clear();
    else
      ts.erase(ts.begin() + 1);
    Tensor t = randint(0, C, ts, DType::i64, &gen);
    // Position 0 ignored, every other position a real class.
    int64_t* tp = t.data<int64_t>();
    for (int64_t j = 1; j < t.numel(); ++j)
      if (tp[j] == c.ignore) tp[j] = (c.ignore + 1) % C;
    if (t.numel() > 1) tp[0] = c.ignore;
    CrossEntropyOptions o;
    if (c.weighted) o.weight = uniform({C}, 0.5, 2.0, DType::f64, &gen);
    o.label_smoothing = c.ls;
    o.reduction = c.red;
    o.ignore_index = c.ignore;
    auto r = gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, o); }, {x});
    EXPECT_TRUE(r.ok) << shape_str(c.xs) << " weighted " << c.weighted << " ls " << c.ls << " " << c.red << ": "
                      << r.message;
  }
}

TEST(CrossEntropy, NoGradPathMatchesGradPath) {
  Generator gen(9);
  Tensor x = randn({5, 7}, DType::f32, &gen);
  Tensor t = randint(0, 7, {5}, DType::i64, &gen);
  const double a = cross_entropy(x, t).item();
  Tensor xr = x.clone().requires_grad_();
  EXPECT_EQ(cross_entropy(xr, t).item(), a);
  // d(mean CE)/dx = (softmax - onehot) / N.
  cross_entropy(xr, t).backward();
  auto p = softmax(x, 1).to_vector<double>();
  auto g = xr.grad().to_vector<double>();
  auto tv = t.to_vector<int64_t>();
  for (int64_t n = 0; n < 5; ++n)
    for (int64_t c = 0; c < 7; ++c) EXPECT_NEAR(g[n * 7 + c], (p[n * 7 + c] - (c == tv[n] ? 1.0 : 0.0)) / 5.0, 1e-7);
}

TEST(CrossEntropy, Errors) {
  Tensor x = zeros({4, 10});
  std::string m = error_of([&] { (void)cross_entropy(x, zeros({4}, DType::f32)); });
  EXPECT_NE(m.find("cross_entropy"), std::string::npos) << m;
  EXPECT_NE(m.find("int64"), std::string::npos) << m;
  EXPECT_THROW(cross_entropy(x, zeros({4}, DType::f32)), DTypeError);
  EXPECT_THROW(cross_entropy(x, zeros({4}, DType::i32)), DTypeError);

  Tensor bad = from_vector<int64_t>({0, 3, 12, 1});
  EXPECT_THROW(cross_entropy(x, bad), IndexError);
  m = error_of([&] { (void)cross_entropy(x, bad); });
  EXPECT_NE(m.find("target 12"), std::string::npos) << m;
  EXPECT_NE(m.find("10 classes"), std::string::npos) << m;
  EXPECT_NE(m.find("[2]"), std::string::npos) << m;
  EXPECT_THROW(cross_entropy(x, from_vector<int64_t>({0, -1, 2, 1})), IndexError);

  m = error_of([&] { (void)cross_entropy(x, zeros({5}, DType::i64)); });
  EXPECT_NE(m.find("[4, 10]"), std::string::npos) << m;
  EXPECT_NE(m.find("[5]"), std::string::npos) << m;
  EXPECT_THROW(cross_entropy(x, zeros({5}, DType::i64)), ShapeError);
  EXPECT_THROW(cross_entropy(zeros({2, 3, 4}), zeros({2, 3}, DType::i64)), ShapeError);

  CrossEntropyOptions o;
  o.weight = ones({9});
  m = error_of([&] { (void)cross_entropy(x, zeros({4}, DType::i64), o); });
  EXPECT_NE(m.find("weight of shape [9]"), std::string::npos) << m;
  o.weight = ones({10}, DType::f64);
  EXPECT_THROW(cross_entropy(x, zeros({4}, DType::i64), o), DTypeError);
  o = {};
  o.reduction = "avg";
  EXPECT_THROW(cross_entropy(x, zeros({4}, DType::i64), o), ValueError);
  o = {};
  o.label_smoothing = 1.5;
  EXPECT_THROW(cross_entropy(x, zeros({4}, DType::i64), o), ValueError);
  EXPECT_THROW(softmax(zeros({2}, DType::i64), 0), DTypeError);
  EXPECT_THROW(softmax(zeros({2, 3}), 2), IndexError);
}

TEST(Softmax, ResultsDoNotDependOnThreadCount) {
  // Sizes above the kernels' parallel grains, so two threads really split the work.
  Generator gen(13);
  Tensor x = randn({600, 65}, DType::f32, &gen) * 4.0;
  Tensor xs = randn({8, 65, 40}, DType::f32, &gen);
  Tensor t = randint(0, 65, {600}, DType::i64, &gen);
  CrossEntropyOptions o;
  o.label_smoothing = 0.1;
  auto run = [&] {
    std::vector<float> v;
    for (int64_t d : {0, 1}) {
      Tensor xr = x.clone().requires_grad_();
      Tensor y = softmax(xr, d) * log_softmax(xr, d);
      (y * y).sum().backward();
      for (const Tensor& r : {y, xr.grad()}) {
        auto u = r.to_vector<float>();
        v.insert(v.end(), u.begin(), u.end());
      }
    }
    Tensor xr = x.clone().requires_grad_();
    Tensor l = cross_entropy(xr, t, o);
    l.backward();
    Tensor xsr = xs.clone().requires_grad_();
    Tensor ls = cross_entropy(xsr, randint(0, 65, {8, 40}, DType::i64, &gen), o);
    ls.backward();
    for (const Tensor& r : {l, xr.grad(), ls, xsr.grad()}) {
      auto u = r.to_vector<float>();
      v.insert(v.end(), u.begin(), u.end());
    }
    return v;
  };
  const int saved = num_threads();
  set_num_threads(1);
  Generator keep = gen;
  auto one = run();
  gen = keep;
  set_num_threads(2);
  auto two = run();
  set_num_threads(saved);
  EXPECT_EQ(one, two);
}

#if defined(__AVX512F__)
// The 16-lane intrinsic form gives vec_exp's bits, including the clamps, infinities and NaN.
TEST(Softmax, SixteenLaneExpEqualsTheScalarFormBitForBit) {
  std::vector<float> xs = {-INFINITY, INFINITY, NAN, 0.0f, -0.0f, 88.7f, 88.73f, 89.0f, -103.9f, -104.0f, -87.5f};
  for (float x = -110.0f; x < 90.0f; x += 0.00913f) xs.push_back(x);
  while (xs.size() % 16) xs.push_back(1.0f);
  int64_t differ = 0;
  for (size_t i = 0; i < xs.size(); i += 16) {
    float out[16];
    _mm512_storeu_ps(out, kernels::cpu::vec_exp16(_mm512_loadu_ps(xs.data() + i)));
    for (int l = 0; l < 16; ++l) {
      const float want = kernels::cpu::vec_exp(xs[i + l]);
      if (std::memcmp(&want, &out[l], sizeof(float)) != 0 && !(std::isnan(want) && std::isnan(out[l]))) ++differ;
    }
  }
  EXPECT_EQ(differ, 0) << "of " << xs.size() << " points";
}
#endif

TEST(Softmax, VectorisedExpIsAccurate) {
  using kernels::cpu::vec_exp;
  // float: within 1.1 ulp of the correctly rounded exp, over the whole normal range.
  double worst = 0;
  for (float x = -87.0f; x < 88.7f; x += 0.000731f + std::abs(x) * 1e-5f) {
    const double want = std::exp(static_cast<double>(x));
    const float wf = static_cast<float>(want);
    const double ulp = std::nextafter(wf, INFINITY) - wf;
    worst = std::max(worst, std::abs(vec_exp(x) - want) / ulp);
  }
  EXPECT_LT(worst, 1.1);
  worst = 0;
  for (double x = -708.0; x < 709.7; x += 0.00731) {
    const long double want = std::exp(static_cast<long double>(x));
    const double wd = static_cast<double>(want);
    const long double ulp = std::nextafter(wd, INFINITY) - wd;
    worst = std::max(worst, static_cast<double>(std::abs(vec_exp(x) - want) / ulp));
  }
  EXPECT_LT(worst, 1.1);
  // Edges: as std::exp.
  EXPECT_EQ(vec_exp(-INFINITY), 0.0f);
  EXPECT_EQ(vec_exp(INFINITY), INFINITY);
  EXPECT_EQ(vec_exp(89.0f), INFINITY);
  EXPECT_EQ(vec_exp(-104.0f), 0.0f);
  EXPECT_GT(vec_exp(-100.0f), 0.0f);  // subnormal
  EXPECT_TRUE(std::isnan(vec_exp(NAN)));
  EXPECT_EQ(vec_exp(0.0f), 1.0f);
  EXPECT_EQ(vec_exp(-static_cast<double>(INFINITY)), 0.0);
  EXPECT_EQ(vec_exp(710.0), static_cast<double>(INFINITY));
  EXPECT_EQ(vec_exp(-746.0), 0.0);
  EXPECT_TRUE(std::isnan(vec_exp(static_cast<double>(NAN))));
  EXPECT_EQ(vec_exp(0.0), 1.0);
}
