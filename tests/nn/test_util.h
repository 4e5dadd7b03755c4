// Helpers shared by the nn tests.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "cairn/core/core.h"

namespace cairn::nn::test {

inline std::string golden(const std::string& name) { return std::string(CAIRN_SOURCE_DIR) + "/tests/golden/nn/" + name; }

// Finite-difference check of d(sum(f() * R))/dt for every tensor t in `wrt`, which f reads directly: module
// parameters and input leaves, float64, contiguous, requiring grad. Unlike testing::gradcheck (which clones
// its inputs), the tensors are perturbed in place, so parameters are checked through the module API itself.
inline ::testing::AssertionResult module_gradcheck(const std::function<Tensor()>& f, const std::vector<Tensor>& wrt,
                                                   double eps = 1e-6, double atol = 1e-6, double rtol = 1e-4) {
  for (const auto& t : wrt)
    if (t.dtype() != DType::f64 || !t.requires_grad() || !t.is_contiguous())
      return ::testing::AssertionFailure() << "module_gradcheck needs contiguous float64 tensors requiring grad";
  for (auto t : wrt) t.zero_grad();
  Tensor y = f();
  Generator gen(7);
  Tensor r = randn(y.shape(), DType::f64, &gen);
  sum(y * r).backward();
  std::ostringstream msg;
  int bad = 0;
  int64_t checked = 0;
  for (size_t i = 0; i < wrt.size(); ++i) {
    Tensor t = wrt[i];
    Tensor ga = t.grad().defined() ? t.grad().contiguous() : zeros(t.shape(), DType::f64);
    const double* pa = ga.data<double>();
    double* px = t.data<double>();
    for (int64_t j = 0; j < t.numel(); ++j) {
      NoGradGuard ng;
      const double orig = px[j];
      px[j] = orig + eps;
      const double fp = sum(f() * r).item();
      px[j] = orig - eps;
      const double fm = sum(f() * r).item();
      px[j] = orig;
      const double num = (fp - fm) / (2 * eps);
      ++checked;
      if (!(std::abs(num - pa[j]) <= atol + rtol * std::abs(num)) && bad++ < 6)
        msg << "\n  tensor " << i << " " << shape_str(t.shape()) << " element " << j << ": analytic " << pa[j]
            << " numeric " << num;
    }
  }
  if (checked == 0) return ::testing::AssertionFailure() << "nothing was checked";
  if (bad) return ::testing::AssertionFailure() << bad << " of " << checked << " gradients differ:" << msg.str();
  return ::testing::AssertionSuccess();
}

// max |a - b| over all elements (shapes must match).
inline double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(shape_str(a.shape()), shape_str(b.shape()));
  auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < va.size() && i < vb.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

// Runs f and returns the message of the exception of type E it throws (fails the test otherwise).
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a different exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

}  // namespace cairn::nn::test
