// dropout, with its backward right below it: the forward keeps its scaled mask, the backward multiplies by it.
#include "cairn/core/ops/op_utils.h"

namespace cairn {
using autograd::Grads;

Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  const char* op = "dropout";
  detail::check_defined(op, x);
  CAIRN_CHECK(p >= 0.0 && p < 1.0, ValueError, "dropout: p must be in [0, 1), got ", p,
              " (p is the probability of zeroing an element)");
  if (!training || p == 0.0) return x;
  detail::check_floating(op, x);
  Tensor xc = contiguous(x.detach());
  Tensor mask = Tensor::empty(x.shape(), x.dtype());
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  kernels::table<kernels::DropoutKernel>(op).get(x.device(), x.dtype())(xc, mask, out, p,
                                                                        gen ? *gen : default_generator());
  if (autograd::needs_grad({x}))
    autograd::record(op, out, {x}, [mask](const Tensor& g, Grads& gi) { gi[0] = mul(g, mask); });
  return out;
}

}  // namespace cairn
