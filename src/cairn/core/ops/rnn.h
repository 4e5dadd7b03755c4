// Recurrent ops: one LSTM or GRU layer in one direction over a whole batch-first sequence, as ONE autograd
// node (the backward runs through time inside one kernel call, kernels/rnn_kernels.h), so a 200-step sequence
// costs one node rather than 200 small ones. Stacking, bidirectionality and dropout between layers are built
// from these in cairn/nn/layers_rnn.h.
//
//   auto r = cairn::lstm(x, w_ih, w_hh, b_ih, b_hh);        // x (B, T, I) -> r.y (B, T, H), r.h_n, r.c_n (B, H)
//   auto back = cairn::lstm(x, w_ih, w_hh, b_ih, b_hh, {}, {}, mask, /*reverse=*/true);
//
// Requires: x (B, T, I) floating (float32 or float64), T >= 1; w_ih (G*H, I), w_hh (G*H, H) with G = 4 (LSTM,
// gate order i, f, g, o) or 3 (GRU, r, z, n), PyTorch's layouts; b_ih, b_hh (G*H) or undefined (no bias); h0,
// c0 (B, H) or undefined (zeros); every floating operand of x's dtype. mask: undefined, or (B, T) uint8 where
// 0 marks a padded step.
// Guarantees: PyTorch's torch.nn.LSTM / GRU equations (batch_first). reverse runs t = T-1 .. 0 (the backward
// direction of a bidirectional layer; y stays in time order). A masked step carries h and c unchanged and has
// y = 0, so with post-padding the results equal PyTorch's packed sequences in both directions; h_n is the state
// after each sequence's last valid step. Gradients flow to x, the weights, biases, h0 and c0 (not the mask).
// Throws: ShapeError naming the op and every shape involved, DTypeError on mixed or integer dtypes.
#pragma once
#include "cairn/core/tensor/tensor.h"

namespace cairn {

struct RnnSequence {
  Tensor y;    // (B, T, H)
  Tensor h_n;  // (B, H)
  Tensor c_n;  // (B, H), LSTM only (undefined for the GRU)
};

RnnSequence lstm(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                 const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor(), const Tensor& mask = Tensor(),
                 bool reverse = false);

RnnSequence gru(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                const Tensor& h0 = Tensor(), const Tensor& mask = Tensor(), bool reverse = false);

}  // namespace cairn
