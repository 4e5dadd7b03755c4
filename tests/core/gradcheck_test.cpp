// Float64 finite-difference gradient checks (cairn::gc::gradcheck) for every differentiable op of
// ops/elementwise.cpp, activation.cpp, reduce.cpp, matmul.cpp and view.cpp, with broadcasting cases for each
// binary op. The ops of the other op files (softmax, losses, conv, pool, norms, embedding, dropout, indexing)
// are checked by their own *_test.cpp files.
//
// Inputs are kept away from kinks (relu and abs at 0, clamp at its bounds, ties in max/min/maximum) so that
// central differences are valid: at a kink the numeric slope is an average of the two sides and would fail
// a correct backward.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "cairn/core/core.h"

using namespace cairn;
using Ins = std::vector<Tensor>;
namespace gc = cairn::testing;

namespace {

// Uniform in [lo, hi), float64, requiring grad. Every call site passes its own seed.
Tensor U(const Shape& s, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Generator g(seed);
  return uniform(s, lo, hi, DType::f64, &g).requires_grad_();
}

// Positive values in [0.5, 2): log, sqrt, rsqrt, fractional powers, divisors.
Tensor positive(const Shape& s, uint64_t seed) { return U(s, seed, 0.5, 2.0); }

// Magnitudes in [0.2, 1.2) with random signs: away from the kink at 0 of relu, leaky_relu and abs.
Tensor away_from_zero(const Shape& s, uint64_t seed) {
  Generator g(seed);
  Tensor t = uniform(s, 0.2, 1.2, DType::f64, &g);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (g.uniform() < 0.5) p[i] = -p[i];
  return t.requires_grad_();
}

// Uniform in [lo, hi) with every element moved at least `gap` away from each of `points` (clamp bounds).
Tensor avoiding(const Shape& s, uint64_t seed, double lo, double hi, const std::vector<double>& points,
                double gap = 0.05) {
  Generator g(seed);
  Tensor t = uniform(s, lo, hi, DType::f64, &g);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i)
    for (double q : points)
      if (std::abs(p[i] - q) < gap) p[i] = q + (p[i] < q ? -2 * gap : 2 * gap);
  return t.requires_grad_();
}

// Values on the grid 0.1 * k + offset, k in [-10, 10): two tensors built with offsets 0 and 0.05 differ by at
// least 0.05 everywhere, whatever the broadcasting, so maximum/minimum never meet a tie.
Tensor grid(const Shape& s, uint64_t seed, double offset) {
  Generator g(seed);
  Tensor k = randint(-10, 10, s, DType::i64, &g).to(DType::f64);
  return add(mul(k, 0.1), offset).requires_grad_();
}

// Pairwise distinct values (a shuffled 0.1 * arange, plus noise below 0.03): no ties for max/min/amax/amin.
Tensor distinct(const Shape& s, uint64_t seed) {
  Generator g(seed);
  const int64_t n = numel_of(s);
  Tensor perm = randperm(n, &g).to(DType::f64);
  Tensor noise = uniform({n}, 0.0, 0.03, DType::f64, &g);
  return reshape(add(add(mul(perm, 0.1), noise), -0.05 * static_cast<double>(n)), s).requires_grad_();
}

int64_t grad_elements(const Ins& in) {
  int64_t n = 0;
  for (const Tensor& t : in)
    if (t.defined() && t.requires_grad()) n += t.numel();
  return n;
}

// Runs the check and reports which case failed, with the checker's first mismatches.
void check(const std::string& what, const gc::TensorFn& fn, const Ins& in, double atol = 1e-7,
           double rtol = 1e-6, double eps = 1e-6) {
  gc::GradcheckResult r = gc::gradcheck(fn, in, eps, atol, rtol);
  EXPECT_TRUE(r.ok) << what << ": " << r.message;
  EXPECT_EQ(r.checked, grad_elements(in)) << what << ": not every input element was checked";
}

Tensor no_grad(Tensor t) { return t.detach().requires_grad_(false); }

// Shape pairs every binary op is checked on: equal, (3,1)x(1,4), (2,3,4)x(4), tensor x scalar tensor, and the
// reverse of the last two.
const std::vector<std::pair<Shape, Shape>> kBinaryShapes = {
    {{3, 4}, {3, 4}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {4}}, {{4}, {2, 3, 4}}, {{2, 3}, {}}, {{}, {2, 3}}, {{}, {}}};

std::string shapes_str(const Shape& a, const Shape& b) { return shape_str(a) + " with " + shape_str(b); }

using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);

// Checks op(a, b) on every shape pair, with both operands requiring grad and with only one of them.
template <class MakeA, class MakeB>
void check_binary(const std::string& name, BinaryFn op, MakeA make_a, MakeB make_b) {
  auto fn = [op](const Ins& in) { return op(in[0], in[1]); };
  uint64_t seed = 100;
  for (const auto& [sa, sb] : kBinaryShapes) {
    Tensor a = make_a(sa, seed++), b = make_b(sb, seed++);
    check(name + " " + shapes_str(sa, sb), fn, {a, b});
    check(name + " " + shapes_str(sa, sb) + " (only a requires grad)", fn, {a, no_grad(b)});
    check(name + " " + shapes_str(sa, sb) + " (only b requires grad)", fn, {no_grad(a), b});
  }
}

Tensor plain(const Shape& s, uint64_t seed) { return U(s, seed); }
Tensor away(const Shape& s, uint64_t seed) { return away_from_zero(s, seed); }
Tensor pos(const Shape& s, uint64_t seed) { return positive(s, seed); }
Tensor grid0(const Shape& s, uint64_t seed) { return grid(s, seed, 0.0); }
Tensor grid5(const Shape& s, uint64_t seed) { return grid(s, seed, 0.05); }
Tensor pow_fn(const Tensor& a, const Tensor& b) { return cairn::pow(a, b); }

}  // namespace

// ---- the checker itself ----

namespace {
// x^2 with a deliberately wrong backward (the factor 2 is missing).
Tensor wrong_square(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard ng;
    y = mul(x, x);
  }
  if (autograd::needs_grad({x}))
    autograd::record("wrong_square", y, {x}, [x = x.detach()](const Tensor& g, autograd::Grads& gi) {
      gi[0] = mul(g, x);
    });
  return y;
}
// The same op with the right backward, so the failure above is the lambda's fault, not the recording's.
Tensor right_square(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard ng;
    y = mul(x, x);
  }
  if (autograd::needs_grad({x}))
    autograd::record("right_square", y, {x}, [x = x.detach()](const Tensor& g, autograd::Grads& gi) {
      gi[0] = mul(mul(g, x), 2.0);
    });
  return y;
}
// A backward that routes the gradient to the wrong operand of a two-input op.
Tensor swapped_mul(const Tensor& a, const Tensor& b) {
  Tensor y;
  {
    NoGradGuard ng;
    y = mul(a, b);
  }
  if (autograd::needs_grad({a, b}))
    autograd::record("swapped_mul", y, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g, autograd::Grads& gi) {
      gi[0] = mul(g, a);
      gi[1] = mul(g, b);
    });
  return y;
}
}  // namespace

TEST(GradcheckSelf, FailsOnAWrongBackward) {
  Tensor x = away_from_zero({3, 4}, 1);
  auto r = gc::gradcheck([](const Ins& in) { return wrong_square(in[0]); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.checked, 12);
  EXPECT_GT(r.max_abs_error, 0.1);
  EXPECT_NE(r.message.find("analytic"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("numeric"), std::string::npos) << r.message;

  auto ok = gc::gradcheck([](const Ins& in) { return right_square(in[0]); }, {x});
  EXPECT_TRUE(ok.ok) << ok.message;
  EXPECT_LT(ok.max_abs_error, 1e-7);

  auto sw = gc::gradcheck([](const Ins& in) { return swapped_mul(in[0], in[1]); }, {U({5}, 2), U({5}, 3)});
  EXPECT_FALSE(sw.ok);
}

TEST(GradcheckSelf, CatchesAWrongBackwardInOneElement) {
  // Only one element of the gradient is off: the checker must look at every element.
  auto fn = [](const Ins& in) {
    Tensor x = in[0];
    Tensor y;
    {
      NoGradGuard ng;
      y = mul(x, 3.0);
    }
    if (autograd::needs_grad({x}))
      autograd::record("almost_right", y, {x}, [](const Tensor& g, autograd::Grads& gi) {
        Tensor d = mul(g, 3.0).contiguous();
        d.data<double>()[d.numel() - 1] += 0.5;
        gi[0] = d;
      });
    return y;
  };
  auto r = gc::gradcheck(fn, {U({4, 5}, 4)});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("element 19"), std::string::npos) << r.message;
}

TEST(GradcheckSelf, RejectsFloat32AndGraphlessOutputs) {
  Tensor x32 = randn({3}).requires_grad_();
  EXPECT_THROW(gc::gradcheck([](const Ins& in) { return exp(in[0]); }, {x32}), DTypeError);
  auto r = gc::gradcheck([](const Ins& in) { return in[0].detach() * 2.0; }, {U({3}, 5)});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("does not require grad"), std::string::npos) << r.message;
}

// ---- elementwise binary ops, with broadcasting ----

TEST(Gradcheck, Add) { check_binary("add", cairn::add, plain, plain); }
TEST(Gradcheck, Sub) { check_binary("sub", cairn::sub, plain, plain); }
TEST(Gradcheck, Mul) { check_binary("mul", cairn::mul, plain, plain); }
TEST(Gradcheck, Div) { check_binary("div", cairn::div, plain, away); }
TEST(Gradcheck, Maximum) { check_binary("maximum", cairn::maximum, grid0, grid5); }
TEST(Gradcheck, Minimum) { check_binary("minimum", cairn::minimum, grid5, grid0); }
TEST(Gradcheck, PowTensorExponent) {
  check_binary("pow", pow_fn, pos, [](const Shape& s, uint64_t seed) { return U(s, seed, -2.0, 2.0); });
}

TEST(Gradcheck, Operators) {
  check("a + b", [](const Ins& in) { return in[0] + in[1]; }, {U({3, 1}, 1), U({4}, 2)});
  check("a - b", [](const Ins& in) { return in[0] - in[1]; }, {U({3, 1}, 3), U({4}, 4)});
  check("a * b", [](const Ins& in) { return in[0] * in[1]; }, {U({3, 1}, 5), U({4}, 6)});
  check("a / b", [](const Ins& in) { return in[0] / in[1]; }, {U({3, 1}, 7), positive({4}, 8)});
  check("-a", [](const Ins& in) { return -in[0]; }, {U({3, 4}, 9)});
}

TEST(Gradcheck, MaximumTiesSplitTheGradient) {
  // Not a finite-difference case (a tie is a kink): the contract says half the gradient goes to each side.
  Tensor a = from_vector<double>({1.0, 2.0, 3.0}).requires_grad_();
  Tensor b = from_vector<double>({1.0, 5.0, 0.0}).requires_grad_();
  sum(maximum(a, b)).backward();
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0.5, 0.0, 1.0}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{0.5, 1.0, 0.0}));
}

// ---- scalar variants ----

TEST(Gradcheck, ScalarVariants) {
  Tensor x = U({3, 4}, 10);
  check("add(x, 2.5)", [](const Ins& in) { return add(in[0], 2.5); }, {x});
  check("mul(x, -1.5)", [](const Ins& in) { return mul(in[0], -1.5); }, {x});
  check("rsub(x, 2)", [](const Ins& in) { return rsub(in[0], 2.0); }, {x});
  check("rdiv(x, 3)", [](const Ins& in) { return rdiv(in[0], 3.0); }, {away_from_zero({3, 4}, 11)});
  check("x - 2", [](const Ins& in) { return in[0] - 2.0; }, {x});
  check("x / 4", [](const Ins& in) { return in[0] / 4.0; }, {x});
  check("2 + x", [](const Ins& in) { return 2.0 + in[0]; }, {x});
  check("2 - x", [](const Ins& in) { return 2.0 - in[0]; }, {x});
  check("2 * x", [](const Ins& in) { return 2.0 * in[0]; }, {x});
  check("2 / x", [](const Ins& in) { return 2.0 / in[0]; }, {positive({3, 4}, 12)});
}

// ---- elementwise unary ops ----

TEST(Gradcheck, Unary) {
  check("neg", [](const Ins& in) { return neg(in[0]); }, {U({2, 3, 4}, 20)});
  check("exp", [](const Ins& in) { return exp(in[0]); }, {U({2, 3, 4}, 21, -2, 2)});
  check("log", [](const Ins& in) { return log(in[0]); }, {positive({2, 3, 4}, 22)});
  check("sqrt", [](const Ins& in) { return sqrt(in[0]); }, {positive({2, 3, 4}, 23)});
  check("rsqrt", [](const Ins& in) { return rsqrt(in[0]); }, {positive({2, 3, 4}, 24)});
  check("abs", [](const Ins& in) { return abs(in[0]); }, {away_from_zero({2, 3, 4}, 25)});
  check("square", [](const Ins& in) { return square(in[0]); }, {U({2, 3, 4}, 26)});
  // A strided (transposed) input goes through the kernels' non-contiguous path.
  check("exp of a transposed view", [](const Ins& in) { return exp(transpose(in[0], 0, 1)); }, {U({3, 4}, 27)});
}

TEST(Gradcheck, PowScalarExponent) {
  check("pow(x, 3)", [](const Ins& in) { return cairn::pow(in[0], 3.0); }, {U({3, 4}, 30)});
  check("pow(x, 2)", [](const Ins& in) { return cairn::pow(in[0], 2.0); }, {U({3, 4}, 31)});
  check("pow(x, 2.5)", [](const Ins& in) { return cairn::pow(in[0], 2.5); }, {positive({3, 4}, 32)});
  check("pow(x, 0.5)", [](const Ins& in) { return cairn::pow(in[0], 0.5); }, {positive({3, 4}, 33)});
  check("pow(x, -1.5)", [](const Ins& in) { return cairn::pow(in[0], -1.5); }, {positive({3, 4}, 34)});
  check("pow(x, 0)", [](const Ins& in) { return cairn::pow(in[0], 0.0); }, {positive({3, 4}, 35)});
}

TEST(Gradcheck, Clamp) {
  const double lo = -0.3, hi = 0.4;
  Tensor x = avoiding({4, 5}, 40, -1.0, 1.0, {lo, hi});
  check("clamp(lo)", [=](const Ins& in) { return clamp(in[0], lo, std::nullopt); }, {x});
  check("clamp(hi)", [=](const Ins& in) { return clamp(in[0], std::nullopt, hi); }, {x});
  check("clamp(lo, hi)", [=](const Ins& in) { return clamp(in[0], lo, hi); }, {x});
  // The inputs really fall on both sides of both bounds (else the cases above prove little).
  auto v = x.to_vector<double>();
  int below = 0, inside = 0, above = 0;
  for (double e : v) (e < lo ? below : e > hi ? above : inside)++;
  EXPECT_GT(below, 0);
  EXPECT_GT(inside, 0);
  EXPECT_GT(above, 0);
}

TEST(Gradcheck, WhereAndMaskedFill) {
  Tensor cond = from_vector<uint8_t>({1, 0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1}, {3, 4});
  Tensor cond_col = from_vector<uint8_t>({1, 0, 1}, {3, 1});
  check("where same shapes", [=](const Ins& in) { return where(cond, in[0], in[1]); }, {U({3, 4}, 50), U({3, 4}, 51)});
  check("where a (3,4), b (4)", [=](const Ins& in) { return where(cond, in[0], in[1]); }, {U({3, 4}, 52), U({4}, 53)});
  check("where cond (3,1), a (1,4), b ()", [=](const Ins& in) { return where(cond_col, in[0], in[1]); },
        {U({1, 4}, 54), U({}, 55)});
  check("where cond (3,4), a (3,1), b (2,3,4)", [=](const Ins& in) { return where(cond, in[0], in[1]); },
        {U({3, 1}, 56), U({2, 3, 4}, 57)});
  check("where only b requires grad", [=](const Ins& in) { return where(cond, in[0], in[1]); },
        {no_grad(U({3, 4}, 58)), U({3, 4}, 59)});
  check("masked_fill", [=](const Ins& in) { return masked_fill(in[0], cond, -7.0); }, {U({3, 4}, 60)});
  check("masked_fill broadcast mask", [=](const Ins& in) { return masked_fill(in[0], cond_col, 2.0); },
        {U({2, 3, 4}, 61)});
}

// ---- activations ----

TEST(Gradcheck, Activations) {
  Tensor x = U({3, 5}, 70, -3.0, 3.0);
  check("relu", [](const Ins& in) { return relu(in[0]); }, {away_from_zero({3, 5}, 71)});
  check("leaky_relu", [](const Ins& in) { return leaky_relu(in[0], 0.1); }, {away_from_zero({3, 5}, 72)});
  check("leaky_relu default slope", [](const Ins& in) { return leaky_relu(in[0]); }, {away_from_zero({3, 5}, 73)});
  check("sigmoid", [](const Ins& in) { return sigmoid(in[0]); }, {x});
  check("tanh", [](const Ins& in) { return cairn::tanh(in[0]); }, {x});
  check("gelu exact", [](const Ins& in) { return gelu(in[0]); }, {x});
  check("gelu tanh", [](const Ins& in) { return gelu(in[0], "tanh"); }, {x});
  check("silu", [](const Ins& in) { return silu(in[0]); }, {x});
  check("softplus", [](const Ins& in) { return softplus(in[0]); }, {x});
  // beta = 2, threshold = 5: elements above x = 2.5 are in the linear regime; none sits on the switch.
  check("softplus beta 2 threshold 5", [](const Ins& in) { return softplus(in[0], 2.0, 5.0); },
        {avoiding({3, 5}, 74, -2.0, 5.0, {2.5}, 0.1)});
}

// ---- reductions ----

namespace {
struct DimsCase {
  std::vector<int64_t> dims;
  bool keepdim;
};
const std::vector<DimsCase> kReduceCases = {{{}, false}, {{}, true},       {{0}, false},     {{1}, true},
                                            {{-1}, false}, {{0, 2}, false}, {{0, 2}, true}, {{1, 2}, false},
                                            {{2, 0}, true}};
std::string dims_str(const DimsCase& c) { return "dims " + shape_str(c.dims) + (c.keepdim ? " keepdim" : ""); }
}  // namespace

TEST(Gradcheck, SumMeanVarStd) {
  Tensor x = U({2, 3, 4}, 80);
  for (const DimsCase& c : kReduceCases) {
    check("sum " + dims_str(c), [c](const Ins& in) { return sum(in[0], c.dims, c.keepdim); }, {x});
    check("mean " + dims_str(c), [c](const Ins& in) { return mean(in[0], c.dims, c.keepdim); }, {x});
    check("var " + dims_str(c), [c](const Ins& in) { return var(in[0], c.dims, 1, c.keepdim); }, {x});
    check("var correction 0 " + dims_str(c), [c](const Ins& in) { return var(in[0], c.dims, 0, c.keepdim); }, {x});
    check("std " + dims_str(c), [c](const Ins& in) { return cairn::std(in[0], c.dims, 1, c.keepdim); }, {x});
    check("std correction 0 " + dims_str(c), [c](const Ins& in) { return cairn::std(in[0], c.dims, 0, c.keepdim); },
          {x});
  }
  check("sum of a 0-d tensor", [](const Ins& in) { return sum(in[0]); }, {U({}, 81)});
  check("sum of a transposed view", [](const Ins& in) { return sum(transpose(in[0], 0, 2), {1}); }, {x});
}

TEST(Gradcheck, LogSumExp) {
  Tensor x = U({2, 3, 4}, 90, -3, 3);
  for (const DimsCase& c : kReduceCases)
    check("logsumexp " + dims_str(c), [c](const Ins& in) { return logsumexp(in[0], c.dims, c.keepdim); }, {x});
  // Large values: the max shift must keep exp from overflowing, and the gradient (a softmax) stays exact.
  check("logsumexp of large values", [](const Ins& in) { return logsumexp(add(in[0], 800.0), {1}); },
        {U({3, 4}, 91)});
}

TEST(Gradcheck, AmaxAmin) {
  Tensor x = distinct({2, 3, 4}, 100);
  for (const DimsCase& c : kReduceCases) {
    check("amax " + dims_str(c), [c](const Ins& in) { return amax(in[0], c.dims, c.keepdim); }, {x});
    check("amin " + dims_str(c), [c](const Ins& in) { return amin(in[0], c.dims, c.keepdim); }, {x});
  }
}

TEST(Gradcheck, MaxMinWithIndices) {
  Tensor x = distinct({2, 3, 4}, 110);
  for (int64_t dim : {0, 1, 2, -1})
    for (bool keepdim : {false, true}) {
      std::string s = " dim " + std::to_string(dim) + (keepdim ? " keepdim" : "");
      check("max" + s, [=](const Ins& in) { return cairn::max(in[0], dim, keepdim).first; }, {x});
      check("min" + s, [=](const Ins& in) { return cairn::min(in[0], dim, keepdim).first; }, {x});
    }
  // A 0-d input: the max over its only element passes the gradient through.
  check("max of a 0-d tensor", [](const Ins& in) { return cairn::max(in[0], 0).first; }, {U({}, 111)});
  check("min of a 0-d tensor keepdim", [](const Ins& in) { return cairn::min(in[0], -1, true).first; }, {U({}, 112)});
  check("amax of a 0-d tensor", [](const Ins& in) { return amax(in[0]); }, {U({}, 113)});
  // The indices are those of the values (checked against a plain loop).
  auto [values, indices] = cairn::max(x, 1);
  auto xv = x.to_vector<double>();
  auto iv = indices.to_vector<int64_t>();
  auto vv = values.to_vector<double>();
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t c = 0; c < 4; ++c) {
      int64_t best = 0;
      for (int64_t r = 1; r < 3; ++r)
        if (xv[(a * 3 + r) * 4 + c] > xv[(a * 3 + best) * 4 + c]) best = r;
      EXPECT_EQ(iv[a * 4 + c], best);
      EXPECT_EQ(vv[a * 4 + c], xv[(a * 3 + best) * 4 + c]);
    }
}

// ---- matmul and linear ----

TEST(Gradcheck, Matmul) {
  auto mm = [](const Ins& in) { return matmul(in[0], in[1]); };
  check("matmul 2-D", mm, {U({3, 4}, 120), U({4, 5}, 121)});
  check("matmul batched", mm, {U({2, 3, 4}, 122), U({2, 4, 5}, 123)});
  check("matmul broadcast batch (2,1,3,4) @ (3,4,5)", mm, {U({2, 1, 3, 4}, 124), U({3, 4, 5}, 125)});
  check("matmul broadcast batch (1,3,4) @ (2,4,5)", mm, {U({1, 3, 4}, 126), U({2, 4, 5}, 127)});
  check("matmul 3-D @ 2-D", mm, {U({2, 3, 4}, 128), U({4, 5}, 129)});
  check("matmul 2-D @ 3-D", mm, {U({3, 4}, 130), U({2, 4, 5}, 131)});
  check("matmul 1-D @ 2-D", mm, {U({4}, 132), U({4, 5}, 133)});
  check("matmul 2-D @ 1-D", mm, {U({3, 4}, 134), U({4}, 135)});
  check("matmul 1-D @ 1-D", mm, {U({4}, 136), U({4}, 137)});
  check("matmul 1-D @ 3-D", mm, {U({4}, 138), U({2, 4, 5}, 139)});
  check("matmul 3-D @ 1-D", mm, {U({2, 3, 4}, 140), U({4}, 141)});
  check("matmul only a requires grad", mm, {U({3, 4}, 142), no_grad(U({4, 5}, 143))});
  check("matmul only b requires grad", mm, {no_grad(U({2, 3, 4}, 144)), U({4, 5}, 145)});
  // Transposed operands: handed to BLAS as transposes, and the non-contiguous 3-D @ 2-D path.
  check("matmul a^T @ b", [](const Ins& in) { return matmul(transpose(in[0], 0, 1), in[1]); },
        {U({4, 3}, 146), U({4, 5}, 147)});
  check("matmul a @ b^T", [](const Ins& in) { return matmul(in[0], transpose(in[1], 0, 1)); },
        {U({3, 4}, 148), U({5, 4}, 149)});
  check("matmul a^T @ b^T batched", [](const Ins& in) { return matmul(transpose(in[0], 1, 2), transpose(in[1], 1, 2)); },
        {U({2, 4, 3}, 150), U({2, 5, 4}, 151)});
  check("matmul permuted 3-D @ 2-D", [](const Ins& in) { return matmul(permute(in[0], {1, 0, 2}), in[1]); },
        {U({3, 2, 4}, 152), U({4, 5}, 153)});
  check("matmul with a sliced operand", [](const Ins& in) { return matmul(slice(in[0], 1, 0, 8, 2), in[1]); },
        {U({3, 8}, 154), U({4, 5}, 155)});
  check("matmul K = 1 (outer product)", mm, {U({3, 1}, 156), U({1, 5}, 157)});
}

TEST(Gradcheck, Linear) {
  auto lin = [](const Ins& in) { return linear(in[0], in[1], in[2]); };
  auto lin_nb = [](const Ins& in) { return linear(in[0], in[1]); };
  check("linear with bias", lin, {U({5, 4}, 160), U({3, 4}, 161), U({3}, 162)});
  check("linear without bias", lin_nb, {U({5, 4}, 163), U({3, 4}, 164)});
  check("linear 3-D input", lin, {U({2, 5, 4}, 165), U({3, 4}, 166), U({3}, 167)});
  check("linear 1-D input", lin, {U({4}, 168), U({3, 4}, 169), U({3}, 170)});
  check("linear only weight requires grad", lin, {no_grad(U({5, 4}, 171)), U({3, 4}, 172), no_grad(U({3}, 173))});
  check("linear transposed input and weight",
        [](const Ins& in) { return linear(transpose(in[0], 0, 1), transpose(in[1], 0, 1), in[2]); },
        {U({4, 5}, 174), U({4, 3}, 175), U({3}, 176)});
  // Fused relu: no pre-activation sits within the finite-difference step of 0 for these inputs.
  check("linear with fused relu", [](const Ins& in) { return linear(in[0], in[1], in[2], Fused::relu); },
        {U({5, 4}, 177), U({3, 4}, 178), U({3}, 179)});
}

// ---- views and layout ----

TEST(Gradcheck, Views) {
  Tensor x = U({2, 3, 4}, 180);
  auto c = [&](const std::string& what, const gc::TensorFn& fn) { check(what, fn, {x}); };
  c("reshape", [](const Ins& in) { return reshape(in[0], {4, 6}); });
  c("reshape -1", [](const Ins& in) { return reshape(in[0], {-1, 2}); });
  c("reshape of a transposed view (copies)", [](const Ins& in) { return reshape(transpose(in[0], 0, 2), {4, 6}); });
  c("view", [](const Ins& in) { return in[0].view({6, 4}); });
  c("permute", [](const Ins& in) { return permute(in[0], {2, 0, 1}); });
  c("transpose", [](const Ins& in) { return transpose(in[0], 0, 2); });
  c("t", [](const Ins& in) { return select(in[0], 0, 1).t(); });
  c("narrow", [](const Ins& in) { return narrow(in[0], 1, 1, 2); });
  c("slice step 2", [](const Ins& in) { return slice(in[0], 2, 0, 4, 2); });
  c("slice negative bounds", [](const Ins& in) { return slice(in[0], -1, -3, -1); });
  c("slice of a slice", [](const Ins& in) { return slice(slice(in[0], 2, 1, 4), 2, 0, 3, 2); });
  c("select", [](const Ins& in) { return select(in[0], 1, 2); });
  c("select negative index", [](const Ins& in) { return select(in[0], -1, -1); });
  c("squeeze", [](const Ins& in) { return squeeze(narrow(in[0], 1, 1, 1), 1); });
  c("squeeze of a non-1 dim", [](const Ins& in) { return squeeze(in[0], 1); });
  c("unsqueeze", [](const Ins& in) { return unsqueeze(in[0], 0); });
  c("unsqueeze -1", [](const Ins& in) { return unsqueeze(in[0], -1); });
  c("flatten", [](const Ins& in) { return flatten(in[0]); });
  c("flatten 1..2", [](const Ins& in) { return flatten(in[0], 1, 2); });
  c("flatten of a permuted view", [](const Ins& in) { return flatten(permute(in[0], {1, 0, 2}), 0, 1); });
  c("contiguous of a transposed view", [](const Ins& in) { return contiguous(transpose(in[0], 1, 2)); });
  c("contiguous of a contiguous tensor", [](const Ins& in) { return contiguous(in[0]); });
  c("clone", [](const Ins& in) { return clone(in[0]); });
  c("clone of a strided view", [](const Ins& in) { return clone(slice(in[0], 2, 0, 4, 3)); });
  c("sum_to", [](const Ins& in) { return sum_to(in[0], {3, 1}); });
  c("sum_to leading", [](const Ins& in) { return sum_to(in[0], {4}); });
  check("expand", [](const Ins& in) { return expand(in[0], {2, 3, 4}); }, {U({3, 1}, 181)});
  check("expand -1 and new dims", [](const Ins& in) { return expand(in[0], {2, -1, 4}); }, {U({3, 1}, 182)});
  check("broadcast_to", [](const Ins& in) { return broadcast_to(in[0], {5, 4}); }, {U({4}, 183)});
  check("expand of a 0-d tensor", [](const Ins& in) { return expand(in[0], {2, 3}); }, {U({}, 184)});
  check("flatten of a 0-d tensor", [](const Ins& in) { return flatten(in[0]); }, {U({}, 185)});
  check("transpose and squeeze of a 0-d tensor", [](const Ins& in) { return squeeze(transpose(in[0], 0, -1), 0); },
        {U({}, 186)});
  // Views of views of views: the gradient still reaches the base tensor, element for element.
  check("chained views", [](const Ins& in) { return select(transpose(unsqueeze(in[0], 1), 0, 2), 1, 0); }, {x});
}

TEST(Gradcheck, ToDtype) {
  // float64 -> float32 -> float64 rounds to float32 precision, so the step must be well above float32's
  // resolution; the function is linear, so a large step costs no accuracy.
  check("to(f32).to(f64)", [](const Ins& in) { return to_dtype(to_dtype(in[0], DType::f32), DType::f64); },
        {U({3, 4}, 190)}, 1e-4, 1e-4, 1e-2);
  check("to(f32) * 3 then to(f64)", [](const Ins& in) { return to_dtype(mul(in[0].to(DType::f32), 3.0), DType::f64); },
        {U({3, 4}, 191)}, 1e-4, 1e-4, 1e-2);
  check("to(f64) is the identity", [](const Ins& in) { return to_dtype(in[0], DType::f64); }, {U({3, 4}, 192)});
  // The gradient reaching a float64 leaf through a float32 op is float64 again.
  Tensor x = U({3}, 193);
  sum(x.to(DType::f32)).backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().dtype(), DType::f64);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1, 1}));
}

TEST(Gradcheck, ConcatStack) {
  auto cat1 = [](const Ins& in) { return concat({in[0], in[1], in[2]}, 1); };
  check("concat dim 1", cat1, {U({2, 1, 4}, 200), U({2, 3, 4}, 201), U({2, 2, 4}, 202)});
  check("concat dim -1, middle input without grad", [](const Ins& in) { return concat({in[0], in[1], in[2]}, -1); },
        {U({3, 2}, 203), no_grad(U({3, 1}, 204)), U({3, 3}, 205)});
  check("concat of strided views", [](const Ins& in) { return concat({transpose(in[0], 0, 1), in[1]}, 0); },
        {U({4, 3}, 206), U({2, 4}, 207)});
  check("concat of the same tensor twice", [](const Ins& in) { return concat({in[0], in[0]}, 0); }, {U({2, 3}, 208)});
  auto st = [](int64_t d) { return [d](const Ins& in) { return stack({in[0], in[1], in[2]}, d); }; };
  Ins three = {U({3, 4}, 209), U({3, 4}, 210), U({3, 4}, 211)};
  check("stack dim 0", st(0), three);
  check("stack dim 1", st(1), three);
  check("stack dim -1", st(-1), three);
}

TEST(Gradcheck, SplitChunk) {
  // Each part goes through a different op, so a gradient routed to the wrong part shows.
  auto combine = [](const std::vector<Tensor>& parts, int64_t d) {
    std::vector<Tensor> ys;
    for (size_t i = 0; i < parts.size(); ++i)
      ys.push_back(i % 3 == 0 ? mul(parts[i], 2.0) : i % 3 == 1 ? square(parts[i]) : exp(parts[i]));
    return concat(ys, d);
  };
  Tensor x = U({7, 3}, 220);
  check("split 3 along 0 (7 = 3 + 3 + 1)", [&](const Ins& in) { return combine(split(in[0], 3, 0), 0); }, {x});
  check("split 2 along 1", [&](const Ins& in) { return combine(split(in[0], 2, 1), 1); }, {x});
  check("chunk 3 along 0", [&](const Ins& in) { return combine(chunk(in[0], 3, 0), 0); }, {x});
  check("chunk 2 along -1", [&](const Ins& in) { return combine(chunk(in[0], 2, -1), 1); }, {x});
  check("one part of a split", [](const Ins& in) { return split(in[0], 3, 0)[1]; }, {x});
}

// ---- composites: several uses of one tensor, deep mixes of ops ----

TEST(Gradcheck, Composites) {
  check("x * exp(x) + x (three uses of x)", [](const Ins& in) { return add(mul(in[0], exp(in[0])), in[0]); },
        {U({3, 4}, 230)});
  check("two-layer MLP",
        [](const Ins& in) {
          Tensor h = gelu(linear(in[0], in[1], in[2]));
          return mean(square(sub(linear(h, in[3]), in[4])));
        },
        {U({5, 4}, 231), U({6, 4}, 232), U({6}, 233), U({2, 6}, 234), U({5, 2}, 235)});
  check("attention-like softmax from primitives",
        [](const Ins& in) {
          Tensor s = mul(matmul(in[0], transpose(in[1], -1, -2)), 0.5);
          Tensor p = exp(sub(s, logsumexp(s, {-1}, true)));
          return matmul(p, in[2]);
        },
        {U({2, 3, 4}, 236), U({2, 5, 4}, 237), U({2, 5, 4}, 238)});
  check("layer norm from primitives",
        [](const Ins& in) {
          Tensor mu = mean(in[0], {-1}, true);
          Tensor v = var(in[0], {-1}, 0, true);
          return add(mul(div(sub(in[0], mu), sqrt(add(v, 1e-5))), in[1]), in[2]);
        },
        {U({3, 5}, 239), U({5}, 240), U({5}, 241)});
}
