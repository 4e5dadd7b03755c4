// Index-tensor helpers shared by the op files that take indices (internal).
#pragma once
#include <string>

#include "cairn/core/ops/op_utils.h"

namespace cairn::detail {

// idx as a contiguous int64 tensor (int32 is converted). DTypeError for any other dtype.
inline Tensor index_as_i64(const char* op, const Tensor& idx) {
  check_defined(op, idx, "index");
  check_index_dtype(op, idx);
  return contiguous(to_dtype(idx.detach(), DType::i64));
}

// Flat position of the first value of `idx` (contiguous int64) outside [0, limit), or -1 if there is none.
inline int64_t first_out_of_range(const Tensor& idx, int64_t limit) {
  const int64_t* p = static_cast<const int64_t*>(idx.raw_data());
  const int64_t n = idx.numel();
  for (int64_t i = 0; i < n; ++i)
    if (p[i] < 0 || p[i] >= limit) return i;
  return -1;
}

// "[i, j, ...]": the multi-index of flat position `flat` in a tensor of `shape`.
inline std::string position_str(int64_t flat, const Shape& shape) {
  Shape idx(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    idx[i] = shape[i] ? flat % shape[i] : 0;
    flat = shape[i] ? flat / shape[i] : 0;
  }
  return shape_str(idx);
}

}  // namespace cairn::detail
