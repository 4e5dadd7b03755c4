// Golden tests against PyTorch: reads tests/golden/core/<op>.safetensors (written by tools/golden/make_golden.py,
// whose docstring describes the layout), runs each case's Cairn call on the stored inputs and compares the
// outputs, the gradients of sum(out * R) and any state updated in place with PyTorch's, for float64 and float32.
//
//   TEST(Golden, Exp) {
//     golden::run("exp", {{"matrix", [](golden::Call& c) { return golden::outs(exp(c["x"])); }}, ...});
//   }
//
// The case names must match the file's exactly (a case on one side only fails), and every tensor of the file
// must be used, so a reference the C++ side forgot to compare cannot pass silently.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cairn/core/core.h"

namespace cairn::golden {

// The inputs of one case in one dtype. Floating inputs are in `dtype` and require grad when the file holds
// their gradient; integer inputs (indices, targets) and uint8 masks are as stored.
struct Call {
  std::map<std::string, Tensor> in;
  DType dtype = DType::f64;
  std::string where;  // "op f64/case", for messages

  // The named input; throws std::out_of_range naming it when the file has no such input.
  Tensor& operator[](const std::string& name);
  // The named input, or an undefined Tensor when the case has none (optional operands such as a bias).
  Tensor opt(const std::string& name) const;
};

using CaseFn = std::function<std::vector<Tensor>(Call&)>;

struct Case {
  std::string name;
  CaseFn fn;
};

// |got - want| <= atol + rtol * |want| elementwise; NaNs and infinities must match exactly.
struct Tolerance {
  double atol, rtol;
};
// float64: 1e-10 absolute and relative. float32: 1e-5 absolute and relative.
Tolerance tolerance_for(DType dtype);

// Runs every case of tests/golden/core/<op>.safetensors in both dtypes and reports mismatches as test failures.
void run(const std::string& op, const std::vector<Case>& cases);

// Expects `got` to equal `want` (shape, dtype, values within tol; integer and uint8 tensors exactly).
void expect_close(const Tensor& got, const Tensor& want, Tolerance tol, const std::string& what);

// Output lists for CaseFn lambdas.
inline std::vector<Tensor> outs(Tensor t) { return {std::move(t)}; }
inline std::vector<Tensor> outs(std::pair<Tensor, Tensor> p) { return {std::move(p.first), std::move(p.second)}; }
inline std::vector<Tensor> outs(std::vector<Tensor> v) { return v; }

}  // namespace cairn::golden
