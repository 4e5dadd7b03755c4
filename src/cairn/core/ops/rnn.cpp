// lstm and gru over whole sequences: argument checks, buffers, and one autograd node per call whose backward
// (right below the forward, in the recorded lambda) runs the fused backward-through-time kernel.
//
// The node has a single output, so y, h_n and c_n live in one flat buffer [y | h_n | c_n] and are returned as
// views of it: gradients reaching any of them add up in the buffer's gradient, which the backward splits again.
#include "cairn/core/ops/rnn.h"

#include "cairn/core/kernels/rnn_kernels.h"
#include "cairn/core/ops/op_utils.h"

namespace cairn {
using autograd::Grads;

namespace {

struct Kind {
  const char* op;   // "lstm" / "gru"
  int64_t gates;    // 4 / 3
  bool has_cell;
};

void check_operand(const Kind& k, const char* what, const Tensor& t, const Shape& want, const Tensor& x,
                   bool optional) {
  if (!t.defined()) {
    CAIRN_CHECK(optional, ValueError, k.op, ": ", what, " is an undefined (empty) Tensor");
    return;
  }
  CAIRN_CHECK(t.shape() == want, ShapeError, k.op, ": ", what, " has shape ", shape_str(t.shape()), " but expected ",
              shape_str(want), " for input of shape ", shape_str(x.shape()));
  CAIRN_CHECK(t.dtype() == x.dtype(), DTypeError, k.op, ": ", what, " is ", dtype_name(t.dtype()),
              " but the input is ", dtype_name(x.dtype()), "; convert one of them with .to()");
}

Tensor contiguous_detached(const Tensor& t) { return t.defined() ? contiguous(t.detach()) : Tensor(); }

RnnSequence run_sequence(const Kind& k, const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                         const Tensor& b_hh, const Tensor& h0, const Tensor& c0, const Tensor& mask, bool reverse) {
  detail::check_defined(k.op, x);
  detail::check_floating(k.op, x);
  CAIRN_CHECK(x.dim() == 3, ShapeError, k.op, ": input must be (batch, time, features), got shape ",
              shape_str(x.shape()));
  detail::check_defined(k.op, w_ih, "weight_ih");
  detail::check_defined(k.op, w_hh, "weight_hh");
  const int64_t B = x.shape()[0], T = x.shape()[1], I = x.shape()[2];
  CAIRN_CHECK(T >= 1, ShapeError, k.op, ": input of shape ", shape_str(x.shape()), " has no time steps");
  CAIRN_CHECK(w_ih.dim() == 2 && w_ih.shape()[0] % k.gates == 0 && w_ih.shape()[0] > 0, ShapeError, k.op,
              ": weight_ih must be (", k.gates, " * hidden_size, input_size), got shape ", shape_str(w_ih.shape()));
  const int64_t H = w_ih.shape()[0] / k.gates, GH = k.gates * H;
  CAIRN_CHECK(w_ih.shape()[1] == I, ShapeError, k.op, ": input of shape ", shape_str(x.shape()), " has ", I,
              " features but weight_ih ", shape_str(w_ih.shape()), " expects ", w_ih.shape()[1]);
  check_operand(k, "weight_ih", w_ih, {GH, I}, x, false);
  check_operand(k, "weight_hh", w_hh, {GH, H}, x, false);
  check_operand(k, "bias_ih", b_ih, {GH}, x, true);
  check_operand(k, "bias_hh", b_hh, {GH}, x, true);
  check_operand(k, "h0", h0, {B, H}, x, true);
  if (k.has_cell) check_operand(k, "c0", c0, {B, H}, x, true);
  if (mask.defined()) {
    CAIRN_CHECK(mask.dtype() == DType::u8, DTypeError, k.op, ": mask must be uint8 (0 = padded step), got ",
                dtype_name(mask.dtype()));
    CAIRN_CHECK(mask.shape() == Shape({B, T}), ShapeError, k.op, ": mask has shape ", shape_str(mask.shape()),
                " but the input ", shape_str(x.shape()), " needs (batch, time) = ", shape_str(Shape{B, T}));
  }

  kernels::RnnGeometry geo{B, T, I, H, reverse};
  kernels::RnnBuffers buf;
  buf.x = contiguous_detached(x);
  buf.w_ih = contiguous_detached(w_ih);
  buf.w_hh = contiguous_detached(w_hh);
  buf.b_ih = contiguous_detached(b_ih);
  buf.b_hh = contiguous_detached(b_hh);
  buf.h0 = contiguous_detached(h0);
  buf.c0 = k.has_cell ? contiguous_detached(c0) : Tensor();
  buf.mask = mask.defined() ? contiguous(mask) : Tensor();
  const DType dt = x.dtype();
  buf.xs = Tensor::empty({T, B, I}, dt);
  buf.gates = Tensor::empty({T, B, GH}, dt);
  buf.hidden = Tensor::empty({T + 1, B, H}, dt);
  buf.cells = k.has_cell ? Tensor::empty({T + 1, B, H}, dt) : Tensor();
  buf.aux = Tensor::empty({T, B, H}, dt);

  const int64_t ny = B * T * H, ns = B * H, states = k.has_cell ? 2 : 1;
  Tensor packed = Tensor::empty({ny + states * ns}, dt);
  buf.y = packed.narrow(0, 0, ny).view({B, T, H});
  buf.h_n = packed.narrow(0, ny, ns).view({B, H});
  buf.c_n = k.has_cell ? packed.narrow(0, ny + ns, ns).view({B, H}) : Tensor();
  const std::string fw = std::string(k.op) + "_seq";
  kernels::table<kernels::RnnForwardKernel>(fw).get(x.device(), dt)(buf, geo);

  std::vector<Tensor> inputs{x, w_ih, w_hh, b_ih, b_hh, h0};
  if (k.has_cell) inputs.push_back(c0);
  if (autograd::needs_grad(inputs)) {
    kernels::RnnBuffers saved = buf;
    saved.y = saved.h_n = saved.c_n = Tensor();  // views of the output: not needed, and would keep it alive
    autograd::record(k.op, packed, inputs, [saved, geo, k, ny, ns](const Tensor& g, Grads& gi) {
      const int64_t B = geo.B, T = geo.T, H = geo.H, I = geo.I, GH = k.gates * H;
      const DType dt = saved.x.dtype();
      Tensor gc = contiguous(g);
      kernels::RnnGrads gr;
      gr.dy = gc.narrow(0, 0, ny).view({B, T, H});
      gr.dh_n = gc.narrow(0, ny, ns).view({B, H});
      if (k.has_cell) gr.dc_n = gc.narrow(0, ny + ns, ns).view({B, H});
      auto want = [&](size_t i, const Shape& s) { return gi.needs(i) ? Tensor::empty(s, dt) : Tensor(); };
      gr.dx = want(0, {B, T, I});
      gr.dw_ih = want(1, {GH, I});
      gr.dw_hh = want(2, {GH, H});
      gr.db_ih = want(3, {GH});
      gr.db_hh = want(4, {GH});
      gr.dh0 = want(5, {B, H});
      if (k.has_cell) gr.dc0 = want(6, {B, H});
      const std::string bw = std::string(k.op) + "_seq_bw";
      kernels::table<kernels::RnnBackwardKernel>(bw).get(saved.x.device(), dt)(saved, gr, geo);
      gi[0] = gr.dx;
      gi[1] = gr.dw_ih;
      gi[2] = gr.dw_hh;
      gi[3] = gr.db_ih;
      gi[4] = gr.db_hh;
      gi[5] = gr.dh0;
      if (k.has_cell) gi[6] = gr.dc0;
    });
  }
  RnnSequence out;
  out.y = reshape(narrow(packed, 0, 0, ny), {B, T, H});
  out.h_n = reshape(narrow(packed, 0, ny, ns), {B, H});
  if (k.has_cell) out.c_n = reshape(narrow(packed, 0, ny + ns, ns), {B, H});
  return out;
}

}  // namespace

RnnSequence lstm(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                 const Tensor& h0, const Tensor& c0, const Tensor& mask, bool reverse) {
  return run_sequence({"lstm", 4, true}, x, w_ih, w_hh, b_ih, b_hh, h0, c0, mask, reverse);
}

RnnSequence gru(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                const Tensor& h0, const Tensor& mask, bool reverse) {
  return run_sequence({"gru", 3, false}, x, w_ih, w_hh, b_ih, b_hh, h0, Tensor(), mask, reverse);
}

}  // namespace cairn
