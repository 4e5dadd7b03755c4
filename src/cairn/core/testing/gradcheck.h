// Finite-difference gradient checking, public so users can check their own ops and layers.
//
//   auto r = cairn::testing::gradcheck([](const std::vector<Tensor>& in) { return cairn::tanh(in[0]); },
//                                      {cairn::randn({3, 4}, DType::f64).requires_grad_()});
//   if (!r.ok) std::cerr << r.message;
//
// The function's output y may have any shape: the check compares the gradient of sum(y * R) for a fixed
// random R, computed by autograd, with central differences (x + eps, x - eps) for every element of every
// input that requires grad. Requires float64 inputs (DTypeError otherwise): float32 central differences
// are too coarse to tell a wrong gradient from rounding.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "cairn/core/tensor/tensor.h"

namespace cairn::testing {

struct GradcheckResult {
  bool ok = true;
  std::string message;       // the first mismatches, with input, index, analytic and numeric values
  double max_abs_error = 0;  // over all checked elements
  int64_t checked = 0;       // number of elements checked
};

using TensorFn = std::function<Tensor(const std::vector<Tensor>&)>;

// |analytic - numeric| <= atol + rtol * |numeric| for every element.
GradcheckResult gradcheck(const TensorFn& fn, const std::vector<Tensor>& inputs, double eps = 1e-6,
                          double atol = 1e-5, double rtol = 1e-3);

}  // namespace cairn::testing
