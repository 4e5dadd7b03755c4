// embedding: rows of a (V, D) table gathered by index (the index_select kernel), with its backward right
// below: the rows' gradients scatter-added into a zero (V, D) table (the index_add kernel).
#include "cairn/core/ops/index_utils.h"

namespace cairn {
using autograd::Grads;

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx) {
  const char* op = "embedding";
  detail::check_defined(op, weight, "weight");
  CAIRN_CHECK(weight.dim() == 2, ShapeError,
              "embedding: weight must be a (num_embeddings, embedding_dim) table, got shape ",
              shape_str(weight.shape()));
  const int64_t V = weight.shape()[0], D = weight.shape()[1];
  CAIRN_CHECK(padding_idx == -1 || (padding_idx >= 0 && padding_idx < V), ValueError, "embedding: padding_idx ",
              padding_idx, " is outside the table of ", V, " rows (weight shape ", shape_str(weight.shape()),
              "); use a row in [0, ", V - 1, "] or -1 for none");
  Tensor idx = detail::index_as_i64(op, indices);
  const int64_t bad = detail::first_out_of_range(idx, V);
  if (bad >= 0)
    throw IndexError(detail::cat("embedding: index ", static_cast<const int64_t*>(idx.raw_data())[bad], " at position ",
                                 detail::position_str(bad, idx.shape()), " of indices of shape ",
                                 shape_str(idx.shape()), " is out of range for a table of ", V, " rows (weight shape ",
                                 shape_str(weight.shape()), "); indices must lie in [0, ", V - 1, "]"));
  Shape out_shape = idx.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, weight.dtype());
  Tensor w = contiguous(weight.detach());
  kernels::table<kernels::IndexSelectKernel>("index_select").get(w.device(), w.dtype())(w, idx, out, 1, V, D);
  if (autograd::needs_grad({weight}))
    autograd::record(op, out, {weight}, [idx, V, D, padding_idx](const Tensor& g, Grads& gi) {
      Tensor gw = zeros({V, D}, g.dtype());
      kernels::table<kernels::IndexAddKernel>("index_add").get(g.device(), g.dtype())(gw, idx, contiguous(g), 1, V, D);
      // Every contribution to the padding row came from a padding index: clearing the row drops exactly them.
      if (padding_idx >= 0) gw.select(0, padding_idx).fill_(0.0);
      gi[0] = gw;
    });
  return out;
}

}  // namespace cairn
