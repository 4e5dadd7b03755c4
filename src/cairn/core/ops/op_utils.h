// Argument checks and small helpers shared by the op files (internal).
#pragma once
#include <string>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/kernels/kernels.h"
#include "cairn/core/ops/ops.h"

namespace cairn::detail {

inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  CAIRN_CHECK(a.dtype() == b.dtype(), DTypeError, op, ": dtype mismatch, ", dtype_name(a.dtype()), " ",
              shape_str(a.shape()), " vs ", dtype_name(b.dtype()), " ", shape_str(b.shape()),
              "; convert one operand with .to()");
}

inline void check_floating(const char* op, const Tensor& x, const char* what = "input") {
  CAIRN_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, DTypeError, op, ": ", what,
              " must be float32 or float64, got ", dtype_name(x.dtype()), " ", shape_str(x.shape()),
              "; convert it with .to(cairn::DType::f32)");
}

inline void check_index_dtype(const char* op, const Tensor& idx) {
  CAIRN_CHECK(idx.dtype() == DType::i64 || idx.dtype() == DType::i32, DTypeError, op,
              ": indices must be int64 or int32, got ", dtype_name(idx.dtype()), " ", shape_str(idx.shape()));
}

inline void check_defined(const char* op, const Tensor& t, const char* what = "input") {
  CAIRN_CHECK(t.defined(), ValueError, op, ": ", what, " is an undefined (empty) Tensor");
}

// Runs a registered unary kernel into a fresh output of x's shape.
inline Tensor run_unary(const char* kernel, const Tensor& x, kernels::Scalars p = {}) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  kernels::table<kernels::UnaryKernel>(kernel).get(x.device(), x.dtype())(x, out, p);
  return out;
}

// Runs a registered binary kernel into a fresh output of the broadcast shape.
inline Tensor run_binary(const char* kernel, const Tensor& a, const Tensor& b, kernels::Scalars p = {},
                         DType out_dtype = DType::kCount) {
  check_same_dtype(kernel, a, b);
  Shape s = broadcast_shapes(a.shape(), b.shape(), kernel);
  Tensor out = Tensor::empty(s, out_dtype == DType::kCount ? a.dtype() : out_dtype);
  kernels::table<kernels::BinaryKernel>(kernel).get(a.device(), a.dtype())(a, b, out, p);
  return out;
}

// Normalises a list of dims (negative allowed, empty = all); sorted, unique.
std::vector<int64_t> normalize_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op);

}  // namespace cairn::detail
