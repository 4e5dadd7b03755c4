// conv2d: exact small cases (numbers from PyTorch 1.13), agreement with a naive loop convolution for every
// option, float64 gradient checks for every option, and the shape errors.
#include <gtest/gtest.h>

#include <cmath>

#include "cairn/core/core.h"
#include "cairn/core/kernels/cpu/conv_dnnl.h"
#include "cairn/core/testing/gradcheck.h"

namespace cairn {
namespace {

// f(a * i + b) for i = 0..numel-1, reshaped: the same inputs the PyTorch reference script used.
Tensor seq(const Shape& shape, double a, double b, bool use_cos = false, DType dt = DType::f64) {
  std::vector<double> v(numel_of(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = use_cos ? std::cos(a * i + b) : std::sin(a * i + b);
  return from_vector(v, shape).to(dt);
}

// The definition, in float64 loops: y[n, o, oh, ow] = b[o] + sum x[n, c, ih, iw] * w[o, c - c0, kh, kw].
Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, int64_t sh, int64_t sw, int64_t pt, int64_t pl,
                  int64_t dh, int64_t dw, int64_t groups, int64_t OH, int64_t OW) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), Cg = w.size(1), KH = w.size(2), KW = w.size(3), Og = O / groups;
  auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> bv = b.defined() ? b.to_vector<double>() : std::vector<double>(O, 0.0);
  std::vector<double> y(N * O * OH * OW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          double s = bv[o];
          for (int64_t cg = 0; cg < Cg; ++cg)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * sh - pt + kh * dh, iw = ow * sw - pl + kw * dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t c = (o / Og) * Cg + cg;
                s += xv[((n * C + c) * H + ih) * W + iw] * wv[((o * Cg + cg) * KH + kh) * KW + kw];
              }
          y[((n * O + o) * OH + oh) * OW + ow] = s;
        }
  return from_vector(y, {N, O, OH, OW});
}

void expect_near(const Tensor& a, const std::vector<double>& b, double tol) {
  auto av = a.to_vector<double>();
  ASSERT_EQ(av.size(), b.size());
  for (size_t i = 0; i < av.size(); ++i) EXPECT_NEAR(av[i], b[i], tol) << "element " << i;
}

TEST(Conv2d, BoxFilterExact) {
  // 2x2 box sums of 0..15 on a 4x4 grid.
  Tensor x = arange(0, 16, 1, DType::f32).reshape({1, 1, 4, 4});
  Tensor w = ones({1, 1, 2, 2});
  Tensor y = conv2d(x, w);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 3, 3}));
  expect_near(y, {10, 14, 18, 26, 30, 34, 42, 46, 50}, 0);
}

TEST(Conv2d, SameWithEvenKernelMatchesPyTorch) {
  // F.conv2d(x, w, b, padding='same') with a 2x2 kernel: the extra padding goes to the bottom/right.
  Tensor x = seq({1, 1, 4, 4}, 0.37, 0.1);
  Tensor w = seq({1, 1, 2, 2}, 0.5, 0.0, true);
  Conv2dOptions o;
  o.padding_same = true;
  Tensor y = conv2d(x, w, full({1}, 0.25, DType::f64), o);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  expect_near(y,
              {1.3532699560899533, 1.9100871816961367, 2.2422193950807703, 1.4214034319232418, 2.089112814626903,
               1.6245962781973944, 0.9740345840365189, 0.22364205779350316, -0.5197592631392534, -1.1608134266426335,
               -1.610920611274907, -0.926183266798041, -1.5956811806718598, -1.470505256446982, -1.1124670170170283,
               -0.34171558063101004},
              1e-12);
}

TEST(Conv2d, StrideDilationGroupsMatchPyTorch) {
  // F.conv2d(x, w, stride=2, padding=1, dilation=2, groups=2), first 8 outputs.
  Tensor x = seq({2, 2, 5, 5}, 0.37, 0.1);
  Tensor w = seq({4, 1, 3, 3}, 0.5, 0.0, true);
  Conv2dOptions o;
  o.stride = {2, 2}, o.padding = {1, 1}, o.dilation = {2, 2}, o.groups = 2;
  Tensor y = conv2d(x, w, Tensor(), o);
  EXPECT_EQ(y.shape(), (Shape{2, 4, 2, 2}));
  auto v = y.to_vector<double>();
  std::vector<double> ref = {-0.4263752163474015, -0.15435508341289988, 0.42720701098361147, 0.5943622890502409,
                             0.5380914895992384,  0.6257036368745932,   0.357402456513628,   0.0671786151604648};
  for (size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(v[i], ref[i], 1e-12) << i;
}

struct Case {
  const char* name;
  Shape x, w;
  bool bias;
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups;
  bool same;
  bool relu = false;  // Conv2dOptions::activation = Fused::relu
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"plain", {2, 3, 6, 5}, {4, 3, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1, false},
      {"batch1", {1, 3, 6, 5}, {4, 3, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1, false},
      {"stride2", {2, 2, 7, 6}, {3, 2, 3, 2}, true, {2, 2}, {0, 0}, {1, 1}, 1, false},
      {"stride_hw", {2, 2, 7, 6}, {3, 2, 3, 3}, true, {2, 1}, {1, 0}, {1, 1}, 1, false},
      {"padding", {2, 2, 5, 5}, {3, 2, 3, 3}, true, {1, 1}, {1, 2}, {1, 1}, 1, false},
      {"same_odd", {2, 2, 5, 6}, {3, 2, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1, true},
      {"same_even", {2, 2, 5, 6}, {3, 2, 4, 2}, true, {1, 1}, {0, 0}, {1, 1}, 1, true},
      {"same_dilated", {2, 2, 6, 6}, {2, 2, 2, 3}, true, {1, 1}, {0, 0}, {3, 2}, 1, true},
      {"dilation2", {2, 2, 7, 7}, {3, 2, 3, 3}, true, {1, 1}, {0, 0}, {2, 2}, 1, false},
      {"groups2", {2, 4, 5, 5}, {6, 2, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 2, false},
      {"depthwise_x2", {2, 3, 5, 5}, {6, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 3, false},
      {"depthwise", {2, 16, 5, 4}, {16, 1, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 16, false},
      {"groups_16_wide", {2, 32, 4, 4}, {32, 16, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 2, false},
      {"no_bias", {2, 3, 5, 4}, {2, 3, 2, 2}, false, {1, 1}, {0, 0}, {1, 1}, 1, false},
      {"pointwise", {3, 4, 3, 3}, {5, 4, 1, 1}, true, {1, 1}, {0, 0}, {1, 1}, 1, false},
      {"pointwise_stride", {2, 4, 5, 5}, {3, 4, 1, 1}, false, {2, 2}, {0, 0}, {1, 1}, 1, false},
      {"everything", {3, 4, 8, 7}, {4, 2, 3, 2}, true, {2, 1}, {2, 1}, {2, 3}, 2, false},
      {"relu", {2, 3, 6, 5}, {4, 3, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1, false, true},
      {"relu_16_channels", {2, 16, 6, 5}, {8, 16, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1, false, true},
      // 3x3, stride 1, 16+ channels each way: oneDNN's Winograd forward and weight gradient when Cairn chooses.
      {"winograd", {2, 32, 9, 8}, {32, 32, 3, 3}, true, {1, 1}, {1, 1}, {1, 1}, 1, false},
      {"winograd_relu", {3, 16, 7, 7}, {16, 16, 3, 3}, true, {1, 1}, {0, 0}, {1, 1}, 1, false, true},
  };
  return c;
}

Conv2dOptions options_of(const Case& c) {
  Conv2dOptions o;
  o.stride = c.stride, o.padding = c.padding, o.dilation = c.dilation, o.groups = c.groups, o.padding_same = c.same;
  if (c.relu) o.activation = Fused::relu;
  return o;
}

TEST(Conv2d, MatchesNaiveLoopsForEveryOption) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    Tensor x = seq(c.x, 0.37, 0.1), w = seq(c.w, 0.53, 0.2, true);
    Tensor b = c.bias ? seq({c.w[0]}, 1.1, 0.3) : Tensor();
    Tensor y = conv2d(x, w, b, options_of(c));
    int64_t pt = c.padding[0], pl = c.padding[1];
    if (c.same) {
      pt = (c.dilation[0] * (c.w[2] - 1)) / 2;
      pl = (c.dilation[1] * (c.w[3] - 1)) / 2;
      EXPECT_EQ(y.size(2), c.x[2]);
      EXPECT_EQ(y.size(3), c.x[3]);
    }
    Tensor ref = naive_conv(x, w, b, c.stride[0], c.stride[1], pt, pl, c.dilation[0], c.dilation[1], c.groups,
                            y.size(2), y.size(3));
    if (c.relu) ref = relu(ref);
    expect_near(y, ref.to_vector<double>(), 1e-12);
    // float32 runs the same computation in single precision.
    Tensor y32 = conv2d(x.to(DType::f32), w.to(DType::f32), b.defined() ? b.to(DType::f32) : Tensor(), options_of(c));
    expect_near(y32, ref.to_vector<double>(), 1e-4);
  }
}

TEST(Conv2d, GradcheckEveryOption) {
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    Generator gen(7);
    std::vector<Tensor> in = {randn(c.x, DType::f64, &gen).requires_grad_(),
                              randn(c.w, DType::f64, &gen).requires_grad_()};
    if (c.bias) in.push_back(randn({c.w[0]}, DType::f64, &gen).requires_grad_());
    const Conv2dOptions o = options_of(c);
    auto r = testing::gradcheck(
        [&](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t.size() > 2 ? t[2] : Tensor(), o); }, in);
    EXPECT_TRUE(r.ok) << r.message;
  }
}

TEST(Conv2d, Float32ImplementationsAgreeForEveryOption) {
  // float32 has two implementations (im2col + OpenBLAS, and oneDNN when built in); each forced in turn must
  // match the float64 result, forward and all three gradients.
  using kernels::cpu::ConvImpl;
  struct Restore {
    ~Restore() { kernels::cpu::set_conv_impl(ConvImpl::automatic); }
  } restore;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    Generator gen(5);
    Tensor x = randn(c.x, DType::f64, &gen), w = randn(c.w, DType::f64, &gen);
    Tensor b = c.bias ? randn({c.w[0]}, DType::f64, &gen) : Tensor();
    const Conv2dOptions o = options_of(c);
    auto run = [&](DType dt) {
      Tensor xi = x.detach().to(dt).requires_grad_(), wi = w.detach().to(dt).requires_grad_();
      Tensor bi = b.defined() ? b.detach().to(dt).requires_grad_() : Tensor();
      Tensor y = conv2d(xi, wi, bi, o);
      y.backward(seq(y.shape(), 0.71, 0.4, false, dt));
      std::vector<Tensor> out = {y, xi.grad(), wi.grad()};
      if (bi.defined()) out.push_back(bi.grad());
      return out;
    };
    const std::vector<Tensor> ref = run(DType::f64);
    for (ConvImpl impl : {ConvImpl::cairn, ConvImpl::dnnl, ConvImpl::automatic}) {
      SCOPED_TRACE(static_cast<int>(impl));
      kernels::cpu::set_conv_impl(impl);
      const std::vector<Tensor> got = run(DType::f32);
      ASSERT_EQ(got.size(), ref.size());
      for (size_t i = 0; i < ref.size(); ++i) expect_near(got[i], ref[i].to_vector<double>(), 2e-4);
    }
  }
}

TEST(Conv2d, OnlyWantedGradientsAreComputed) {
  // The first layer of a network: the input needs no gradient; weight and bias do.
  Tensor x = randn({2, 1, 6, 6}, DType::f64);
  Tensor w = randn({3, 1, 3, 3}, DType::f64).requires_grad_();
  Tensor b = zeros({3}, DType::f64).requires_grad_();
  conv2d(x, w, b).sum().backward();
  ASSERT_TRUE(w.grad().defined());
  ASSERT_TRUE(b.grad().defined());
  EXPECT_FALSE(x.grad().defined());
  // d(sum y)/db = N * OH * OW for every output channel.
  expect_near(b.grad(), {32, 32, 32}, 1e-12);
}

TEST(Conv2d, Float32MatchesFloat64Backward) {
  // The batch-parallel path (N >= threads) and its chunked weight-gradient reduction, in float32.
  Generator gen(3);
  Tensor x = randn({5, 3, 9, 9}, DType::f64, &gen), w = randn({4, 3, 3, 3}, DType::f64, &gen);
  Tensor b = randn({4}, DType::f64, &gen), gy = randn({5, 4, 7, 7}, DType::f64, &gen);
  std::vector<Tensor> grads[2];
  for (DType dt : {DType::f64, DType::f32}) {
    Tensor xi = x.detach().to(dt).requires_grad_(), wi = w.detach().to(dt).requires_grad_();
    Tensor bi = b.detach().to(dt).requires_grad_();
    conv2d(xi, wi, bi).backward(gy.to(dt));
    grads[dt == DType::f32] = {xi.grad(), wi.grad(), bi.grad()};
  }
  for (int i = 0; i < 3; ++i) expect_near(grads[1][i], grads[0][i].to_vector<double>(), 1e-4);
}

TEST(Conv2d, NonContiguousInputs) {
  Tensor x = seq({2, 3, 5, 6}, 0.3, 0.0).transpose(2, 3);  // (2, 3, 6, 5), strided
  Tensor w = seq({2, 3, 3, 3}, 0.7, 0.1, true);
  Tensor ref = conv2d(contiguous(x), w);
  expect_near(conv2d(x, w), ref.to_vector<double>(), 0);
}

template <class F>
std::string error_of(const F& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no exception>";
}

TEST(Conv2d, ShapeErrorsNameOpAndShapes) {
  Tensor x = zeros({2, 3, 8, 8}), w = zeros({4, 2, 3, 3});
  std::string m = error_of([&] { conv2d(x, w); });
  EXPECT_NE(m.find("conv2d"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3, 8, 8]"), std::string::npos) << m;
  EXPECT_NE(m.find("[4, 2, 3, 3]"), std::string::npos) << m;
  EXPECT_THROW(conv2d(x, w), ShapeError);

  m = error_of([&] { conv2d(zeros({1, 3, 2, 2}), zeros({4, 3, 3, 3})); });
  EXPECT_NE(m.find("smaller than the kernel"), std::string::npos) << m;
  EXPECT_NE(m.find("[1, 3, 2, 2]"), std::string::npos) << m;
  // With dilation the kernel covers 5x5, more than the padded 4x4 input.
  Conv2dOptions dil;
  dil.dilation = {2, 2};
  dil.padding = {1, 1};
  EXPECT_THROW(conv2d(zeros({1, 3, 2, 2}), zeros({4, 3, 3, 3}), Tensor(), dil), ShapeError);

  EXPECT_THROW(conv2d(zeros({3, 8, 8}), zeros({4, 3, 3, 3})), ShapeError);
  m = error_of([&] { conv2d(zeros({2, 3, 8, 8}), zeros({4, 3, 3, 3}), zeros({5})); });
  EXPECT_NE(m.find("bias of shape [5]"), std::string::npos) << m;
  Conv2dOptions g;
  g.groups = 2;
  m = error_of([&] { conv2d(zeros({2, 3, 8, 8}), zeros({4, 1, 3, 3}), Tensor(), g); });
  EXPECT_NE(m.find("groups=2"), std::string::npos) << m;
}

TEST(Conv2d, BadOptionsAndDtypes) {
  Tensor x = zeros({1, 2, 6, 6}), w = zeros({2, 2, 3, 3});
  Conv2dOptions same_strided;
  same_strided.padding_same = true;
  same_strided.stride = {2, 2};
  EXPECT_THROW(conv2d(x, w, Tensor(), same_strided), ValueError);
  Conv2dOptions zero_stride;
  zero_stride.stride = {0, 1};
  EXPECT_THROW(conv2d(x, w, Tensor(), zero_stride), ValueError);
  Conv2dOptions neg_pad;
  neg_pad.padding = {-1, 0};
  EXPECT_THROW(conv2d(x, w, Tensor(), neg_pad), ValueError);
  Conv2dOptions three;
  three.stride = {1, 1, 1};
  EXPECT_THROW(conv2d(x, w, Tensor(), three), ValueError);
  EXPECT_THROW(conv2d(x, w.to(DType::f64)), DTypeError);
  EXPECT_THROW(conv2d(zeros({1, 2, 6, 6}, DType::i64), zeros({2, 2, 3, 3}, DType::i64)), DTypeError);
}

TEST(Conv2d, SingleValuePaddingAndStrideApplyToBothDims) {
  Tensor x = seq({1, 2, 7, 7}, 0.37, 0.1), w = seq({3, 2, 3, 3}, 0.53, 0.2, true);
  Conv2dOptions one, two;
  one.stride = {2}, one.padding = {1};
  two.stride = {2, 2}, two.padding = {1, 1};
  expect_near(conv2d(x, w, Tensor(), one), conv2d(x, w, Tensor(), two).to_vector<double>(), 0);
}

}  // namespace
}  // namespace cairn
