// Kernel signatures of the recurrent ops (LSTM, GRU): one kernel runs a whole sequence of one layer in one
// direction, so the op records a single autograd node per (layer, direction) instead of one per time step.
//
// Layout: the caller gives batch-first tensors (x (B, T, I), y (B, T, H)); the kernels keep their saved
// buffers step-major ((T, B, .) in processing order: step s is time T-1-s when reverse), so one step's rows
// are contiguous and the weight gradients are single GEMMs over all T * B rows at the end.
// Masked steps (mask[b, t] == 0) carry h (and c) unchanged and output zeros, as Keras masking and PyTorch's
// packed sequences do for post-padding.
#pragma once
#include <cstdint>

#include "cairn/core/kernels/registry.h"
#include "cairn/core/tensor/tensor.h"

namespace cairn::kernels {

struct RnnGeometry {
  int64_t B = 0, T = 0, I = 0, H = 0;
  bool reverse = false;  // process t = T-1 .. 0
};

// Inputs and outputs of one sequence. Every tensor is contiguous and of the same floating dtype, except
// mask (uint8). G = 4 (LSTM: gate order i, f, g, o) or 3 (GRU: r, z, n), as PyTorch.
struct RnnBuffers {
  // ---- inputs ----
  Tensor x;           // (B, T, I)
  Tensor w_ih, w_hh;  // (G*H, I), (G*H, H)
  Tensor b_ih, b_hh;  // (G*H) or undefined (zero)
  Tensor h0, c0;      // (B, H) or undefined (zeros); c0 LSTM only
  Tensor mask;        // (B, T) uint8 or undefined (every step valid)
  // ---- outputs (forward) ----
  Tensor y;         // (B, T, H) =
  Tensor h_n, c_n;  // (B, H) = the state after the last valid step; c_n LSTM only
  // ---- saved by the forward for the backward (all =) ----
  Tensor xs;      // (T, B, I) the input in step order
  Tensor gates;   // (T, B, G*H) activated gates (LSTM i, f, g, o; GRU r, z, n)
  Tensor hidden;  // (T+1, B, H) hidden[s] = h before step s (hidden[0] = h0)
  Tensor cells;   // LSTM: (T+1, B, H) cells[s] = c before step s; GRU: undefined
  Tensor aux;     // LSTM: (T, B, H) tanh(c after step s); GRU: (T, B, H) W_hn h + b_hn of step s
};

// Runs the sequence: fills y, h_n, c_n and the saved buffers.
// Ops: lstm_seq, gru_seq.
using RnnForwardKernel = void (*)(const RnnBuffers& buf, const RnnGeometry& geo);

// Gradients of one sequence from the saved buffers (forward's `buf`, same geometry) and the gradients of its
// outputs dy (B, T, H), dh_n (B, H), dc_n (B, H; LSTM), each contiguous or undefined (zero).
// Outputs (each contiguous or undefined = not wanted), all assigned (=): dx (B, T, I), dw_ih (G*H, I),
// dw_hh (G*H, H), db_ih (G*H), db_hh (G*H), dh0 (B, H), dc0 (B, H).
struct RnnGrads {
  Tensor dy, dh_n, dc_n;
  Tensor dx, dw_ih, dw_hh, db_ih, db_hh, dh0, dc0;
};
// Ops: lstm_seq_bw, gru_seq_bw.
using RnnBackwardKernel = void (*)(const RnnBuffers& buf, const RnnGrads& grads, const RnnGeometry& geo);

}  // namespace cairn::kernels
