// layer_norm and batch_norm: PyTorch 1.13 values, references written with primitive ops, float64 gradient
// checks (with and without affine parameters, training and inference), running statistics, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "cairn/core/core.h"
#include "error_util.h"

using namespace cairn;
using cairn::testing::gradcheck;

namespace {
using cairn_test::error_of;

void expect_near(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], tol) << "element " << i;
}

// The 4 x 3 case used for the PyTorch numbers below.
Tensor case_x() { return from_vector<double>({1, 2, 4, 0, -1, 3, 2, 2, -2, 5, 0, 1}, {4, 3}); }
Tensor case_w() { return from_vector<double>({1, 2, -1}); }
Tensor case_b() { return from_vector<double>({0, 0.5, 1}); }

// layer_norm from primitive ops (mean, population variance over the last k dims).
Tensor ref_layer_norm(const Tensor& x, int64_t k, const Tensor& w, const Tensor& b, double eps) {
  std::vector<int64_t> dims;
  for (int64_t i = x.dim() - k; i < x.dim(); ++i) dims.push_back(i);
  Tensor xm = x - mean(x, dims, true);
  Tensor y = xm * rsqrt(var(x, dims, 0, true) + eps);
  if (w.defined()) y = y * w;
  if (b.defined()) y = y + b;
  return y;
}

// batch_norm (training statistics) from primitive ops, for x (N, C, ...).
Tensor ref_batch_norm_train(const Tensor& x, const Tensor& w, const Tensor& b, double eps) {
  std::vector<int64_t> dims{0};
  for (int64_t i = 2; i < x.dim(); ++i) dims.push_back(i);
  Shape cshape(x.dim(), 1);
  cshape[1] = x.shape()[1];
  Tensor y = (x - mean(x, dims, true)) * rsqrt(var(x, dims, 0, true) + eps);
  if (w.defined()) y = y * w.reshape(cshape);
  if (b.defined()) y = y + b.reshape(cshape);
  return y;
}

}  // namespace

TEST(LayerNorm, HandComputedAndPyTorchValues) {
  Tensor x = from_vector<float>({1, 2, 3, 4}, {1, 4});
  const double s = 1.0 / std::sqrt(1.25 + 1e-5);
  expect_near(layer_norm(x, {4}).to_vector<double>(), {-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s}, 1e-6);
  // torch.nn.functional.layer_norm(x, (3,), w, b) in float64.
  expect_near(layer_norm(case_x(), {3}, case_w(), case_b()).to_vector<double>(),
              {-1.069041531450, -0.034520765725, -0.336301914313, -0.392231591415, -1.461157957073, -0.372810569951,
               0.707105786820, 1.914211573639, 2.414211573639, 1.388728661736, -1.351638215648, 1.462909553912},
              1e-11);
}

TEST(LayerNorm, MatchesReference) {
  Generator gen(1);
  Tensor x = randn({2, 3, 4, 5}, DType::f64, &gen);
  Tensor w = randn({4, 5}, DType::f64, &gen), b = randn({4, 5}, DType::f64, &gen);
  expect_near(layer_norm(x, {4, 5}, w, b).to_vector<double>(), ref_layer_norm(x, 2, w, b, 1e-5).to_vector<double>(),
              1e-12);
  expect_near(layer_norm(x, {5}, Tensor(), Tensor(), 0.1).to_vector<double>(),
              ref_layer_norm(x, 1, Tensor(), Tensor(), 0.1).to_vector<double>(), 1e-12);
  // A non-contiguous input, and float32 with a large offset (variance from deviations, not E[x^2] - m^2).
  Tensor xt = x.transpose(0, 3);
  expect_near(layer_norm(xt, {2}).to_vector<double>(),
              ref_layer_norm(xt, 1, Tensor(), Tensor(), 1e-5).to_vector<double>(), 1e-12);
  Tensor big = (x + 1e4).to(DType::f32);
  expect_near(layer_norm(big, {5}).to_vector<double>(),
              ref_layer_norm(x, 1, Tensor(), Tensor(), 1e-5).to_vector<double>(), 5e-3);
}

TEST(LayerNorm, Gradcheck) {
  Generator gen(2);
  Tensor x = randn({3, 2, 5}, DType::f64, &gen).requires_grad_();
  Tensor w = randn({5}, DType::f64, &gen).requires_grad_(), b = randn({5}, DType::f64, &gen).requires_grad_();
  auto fn_affine = [](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, in[1], in[2]); };
  auto r = gradcheck(fn_affine, {x, w, b});
  EXPECT_TRUE(r.ok) << "affine: " << r.message;
  r = gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}); }, {x});
  EXPECT_TRUE(r.ok) << "no affine: " << r.message;
  r = gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, in[1]); }, {x, w});
  EXPECT_TRUE(r.ok) << "weight only: " << r.message;
  r = gradcheck([](const std::vector<Tensor>& in) { return layer_norm(in[0], {5}, Tensor(), in[1]); }, {x, b});
  EXPECT_TRUE(r.ok) << "bias only: " << r.message;
  r = gradcheck(
      [](const std::vector<Tensor>& in) {
        return layer_norm(in[0].transpose(0, 1), {3, 5}, in[1]);
      },
      {x, randn({3, 5}, DType::f64, &gen).requires_grad_()});
  EXPECT_TRUE(r.ok) << "two dims, strided input: " << r.message;
  // Only the parameters require grad (dx not wanted).
  r = gradcheck(fn_affine, {x.detach(), w, b});
  EXPECT_TRUE(r.ok) << "params only: " << r.message;
}

TEST(BatchNorm, PyTorchValuesAndRunningStats) {
  Tensor x = case_x();
  Tensor rm = from_vector<double>({0.5, 0, 1}), rv = from_vector<double>({1, 2, 0.5});
  // torch.nn.functional.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5), float64.
  expect_near(batch_norm(x, rm, rv, case_w(), case_b(), true).to_vector<double>(),
              {-0.534521720223, 2.424495195099, -0.091088412049, -1.069043440446, -2.194293273139, 0.345346952771,
               0.000000000000, 2.424495195099, 2.527523776868, 1.603565160669, -0.654697117060, 1.218217682410},
              1e-11);
  // Running statistics: momentum 0.1 towards the batch mean and the unbiased batch variance.
  expect_near(rm.to_vector<double>(), {0.65, 0.075, 1.05}, 1e-12);
  expect_near(rv.to_vector<double>(), {1.366666666667, 2.025, 1.15}, 1e-11);
  // Evaluation uses the running statistics and leaves them alone.
  expect_near(batch_norm(x, rm, rv, case_w(), case_b(), false).to_vector<double>(),
              {0.299388527647, 3.205497540134, -1.750877223999, -0.556007265630, -1.010862262672, -0.818376470101,
               1.154784320924, 3.205497540134, 3.844127299389, 3.720971700756, 0.394591004930, 1.046625037695},
              1e-11);
  expect_near(rm.to_vector<double>(), {0.65, 0.075, 1.05}, 1e-12);
  // Running statistics may be strided views (e.g. a column of a bigger buffer).
  Tensor buf = zeros({3, 2}, DType::f64);
  Tensor rm2 = buf.select(1, 0), rv2 = buf.select(1, 1);
  rv2.fill_(1.0);
  batch_norm(x, rm2, rv2, Tensor(), Tensor(), true, 0.5);
  expect_near(buf.to_vector<double>(),
              {0.5 * 2.0, 0.5 + 0.5 * 14.0 / 3, 0.5 * 0.75, 0.5 + 0.5 * 2.25, 0.5 * 1.5, 0.5 + 0.5 * 7.0}, 1e-12);
}

TEST(BatchNorm, MatchesReferenceNCHW) {
  Generator gen(3);
  Tensor x = randn({4, 3, 5, 6}, DType::f64, &gen) * 2.0 + 1.0;
  Tensor w = randn({3}, DType::f64, &gen), b = randn({3}, DType::f64, &gen);
  Tensor rm = zeros({3}, DType::f64), rv = ones({3}, DType::f64);
  expect_near(batch_norm(x, rm, rv, w, b, true).to_vector<double>(),
              ref_batch_norm_train(x, w, b, 1e-5).to_vector<double>(), 1e-12);
  std::vector<double> want_rm, want_rv;
  auto bm = mean(x, {0, 2, 3}).to_vector<double>(), bv = var(x, {0, 2, 3}, 1).to_vector<double>();
  for (int c = 0; c < 3; ++c) {
    want_rm.push_back(0.1 * bm[c]);
    want_rv.push_back(0.9 + 0.1 * bv[c]);
  }
  expect_near(rm.to_vector<double>(), want_rm, 1e-12);
  expect_near(rv.to_vector<double>(), want_rv, 1e-12);
  // No running statistics (track_running_stats=False) and no affine parameters; float32.
  expect_near(batch_norm(x.to(DType::f32), Tensor(), Tensor(), Tensor(), Tensor(), true).to_vector<double>(),
              ref_batch_norm_train(x, Tensor(), Tensor(), 1e-5).to_vector<double>(), 1e-5);
  // (N, C, L) works as well.
  Tensor x3 = randn({5, 2, 7}, DType::f64, &gen);
  expect_near(batch_norm(x3, Tensor(), Tensor(), Tensor(), Tensor(), true).to_vector<double>(),
              ref_batch_norm_train(x3, Tensor(), Tensor(), 1e-5).to_vector<double>(), 1e-12);
}

TEST(BatchNorm, Gradcheck) {
  Generator gen(4);
  Tensor w = uniform({3}, 0.5, 2, DType::f64, &gen).requires_grad_(), b = randn({3}, DType::f64, &gen).requires_grad_();
  Tensor rm = randn({3}, DType::f64, &gen), rv = uniform({3}, 0.5, 2, DType::f64, &gen);
  for (const Shape& s : {Shape{5, 3}, Shape{2, 3, 3, 2}}) {
    Tensor x = randn(s, DType::f64, &gen).requires_grad_();
    auto r = gradcheck(
        [&](const std::vector<Tensor>& in) { return batch_norm(in[0], rm.clone(), rv.clone(), in[1], in[2], true); },
        {x, w, b});
    EXPECT_TRUE(r.ok) << shape_str(s) << " train, affine: " << r.message;
    r = gradcheck(
        [](const std::vector<Tensor>& in) { return batch_norm(in[0], Tensor(), Tensor(), Tensor(), Tensor(), true); },
        {x});
    EXPECT_TRUE(r.ok) << shape_str(s) << " train, no affine: " << r.message;
    r = gradcheck([&](const std::vector<Tensor>& in) { return batch_norm(in[0], rm, rv, in[1], in[2], false); },
                  {x, w, b});
    EXPECT_TRUE(r.ok) << shape_str(s) << " eval, affine: " << r.message;
    // Composed, so the incoming gradient varies per element.
    r = gradcheck(
        [&](const std::vector<Tensor>& in) {
          return square(batch_norm(in[0], Tensor(), Tensor(), in[1], Tensor(), true));
        },
        {x, w});
    EXPECT_TRUE(r.ok) << shape_str(s) << " train, squared: " << r.message;
  }
}

TEST(Norm, ResultsDoNotDependOnThreadCount) {
  Generator gen(5);
  // Sizes above the kernels' parallel grains, so two threads really split the work.
  Tensor x = randn({600, 130}, DType::f32, &gen), w = randn({130}, DType::f32, &gen);
  Tensor xi = randn({64, 16, 12, 12}, DType::f32, &gen);
  auto run = [&] {
    Tensor xr = x.clone().requires_grad_(), wr = w.clone().requires_grad_();
    Tensor y = layer_norm(xr, {130}, wr);
    (y * y).sum().backward();
    Tensor xb = xi.clone().requires_grad_();
    Tensor yb = batch_norm(xb, Tensor(), Tensor(), Tensor(), Tensor(), true);
    (yb * yb * yb).sum().backward();
    auto v = y.to_vector<float>();
    for (const Tensor& t : {xr.grad(), wr.grad(), yb, xb.grad()}) {
      auto u = t.to_vector<float>();
      v.insert(v.end(), u.begin(), u.end());
    }
    return v;
  };
  const int saved = num_threads();
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  set_num_threads(saved);
  EXPECT_EQ(one, two);
}

TEST(Norm, Errors) {
  std::string m = error_of([] { (void)layer_norm(zeros({2, 3}), {4}); });
  EXPECT_NE(m.find("layer_norm"), std::string::npos) << m;
  EXPECT_NE(m.find("[4]"), std::string::npos) << m;
  EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
  EXPECT_THROW(layer_norm(zeros({2, 3}), {2, 3, 1}), ShapeError);
  EXPECT_THROW(layer_norm(zeros({2, 3}), {}), ShapeError);
  m = error_of([] { (void)layer_norm(zeros({2, 3}), {3}, ones({2})); });
  EXPECT_NE(m.find("weight of shape [2]"), std::string::npos) << m;
  EXPECT_THROW(layer_norm(zeros({2, 3}), {3}, ones({3}, DType::f64)), DTypeError);
  EXPECT_THROW(layer_norm(zeros({2, 3}, DType::i64), {3}), DTypeError);

  m = error_of([] { (void)batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true); });
  EXPECT_NE(m.find("more than 1 value per channel"), std::string::npos) << m;
  EXPECT_THROW(batch_norm(zeros({1, 3}), Tensor(), Tensor(), Tensor(), Tensor(), true), ValueError);
  EXPECT_THROW(batch_norm(zeros({4, 3}), Tensor(), Tensor(), Tensor(), Tensor(), false), ValueError);
  m = error_of([] { (void)batch_norm(zeros({4, 3, 2, 2}), zeros({4}), ones({4}), Tensor(), Tensor(), true); });
  EXPECT_NE(m.find("running_mean of shape [4]"), std::string::npos) << m;
  EXPECT_NE(m.find("[4, 3, 2, 2]"), std::string::npos) << m;
  EXPECT_THROW(batch_norm(zeros({4}), Tensor(), Tensor(), Tensor(), Tensor(), true), ShapeError);
  EXPECT_THROW(batch_norm(zeros({4, 3}), zeros({3}), Tensor(), Tensor(), Tensor(), true), ValueError);
}
