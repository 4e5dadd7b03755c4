#include "cairn/core/testing/gradcheck.h"

#include <cmath>
#include <sstream>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/ops/ops.h"

namespace cairn::testing {

GradcheckResult gradcheck(const TensorFn& fn, const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  std::vector<Tensor> leaves;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) {
      leaves.push_back(t);
      continue;
    }
    if (t.requires_grad())
      CAIRN_CHECK(t.dtype() == DType::f64, DTypeError, "gradcheck: input ", i, " is ", dtype_name(t.dtype()),
                  "; gradient checks need float64 inputs (use .to(DType::f64))");
    Tensor c = t.detach().clone();
    if (t.requires_grad()) c.requires_grad_();
    leaves.push_back(c);
  }

  Tensor y = fn(leaves);
  CAIRN_CHECK(y.dtype() == DType::f64, DTypeError, "gradcheck: the function returned ", dtype_name(y.dtype()),
              "; it must compute in float64");
  Generator gen(20240611);
  Tensor r = randn(y.shape(), DType::f64, &gen);
  auto objective = [&](const std::vector<Tensor>& in) { return sum(mul(fn(in), r)).item(); };

  GradcheckResult res;
  if (!y.requires_grad()) {
    res.ok = false;
    res.message = "gradcheck: the output does not require grad (no input reached it through a differentiable op)";
    return res;
  }
  sum(mul(y, r)).backward();

  std::ostringstream msg;
  int reported = 0;
  for (size_t i = 0; i < leaves.size(); ++i) {
    Tensor& x = leaves[i];
    if (!x.defined() || !x.requires_grad()) continue;
    Tensor analytic = x.grad().defined() ? x.grad().contiguous() : zeros(x.shape(), DType::f64);
    const double* ga = analytic.data<double>();
    double* px = x.data<double>();
    for (int64_t j = 0; j < x.numel(); ++j) {
      NoGradGuard ng;
      const double orig = px[j];
      px[j] = orig + eps;
      const double fp = objective(leaves);
      px[j] = orig - eps;
      const double fm = objective(leaves);
      px[j] = orig;
      const double numeric = (fp - fm) / (2 * eps);
      const double err = std::abs(ga[j] - numeric);
      res.max_abs_error = std::max(res.max_abs_error, err);
      res.checked++;
      if (!(err <= atol + rtol * std::abs(numeric))) {
        res.ok = false;
        if (reported++ < 8)
          msg << "input " << i << " " << shape_str(x.shape()) << " element " << j << ": analytic " << ga[j]
              << " vs numeric " << numeric << " (|diff| " << err << ")\n";
      }
    }
  }
  res.message = res.ok ? "ok" : "gradcheck failed:\n" + msg.str();
  return res;
}

}  // namespace cairn::testing
