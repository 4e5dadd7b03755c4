// Activations; each backward is one fused elementwise kernel over (incoming gradient, saved tensor).
#include "cairn/core/ops/op_utils.h"

namespace cairn {
using autograd::Grads;
using detail::run_binary;
using detail::run_unary;

namespace {
// y = kernel(x); backward = bw_kernel(g, saved) where saved is x, or y when save_output.
Tensor activation(const char* name, const char* bw, const Tensor& x, bool save_output, kernels::Scalars p = {}) {
  detail::check_floating(name, x);
  Tensor y = run_unary(name, x, p);
  if (autograd::needs_grad({x}))
    autograd::record(name, y, {x}, [bw, p, s = (save_output ? y : x).detach()](const Tensor& g, Grads& gi) {
      gi[0] = run_binary(bw, g, s, p);
    });
  return y;
}
}  // namespace

Tensor relu(const Tensor& x) { return activation("relu", "relu_bw", x, false); }
Tensor leaky_relu(const Tensor& x, double slope) { return activation("leaky_relu", "leaky_relu_bw", x, false, {slope, 0}); }
Tensor sigmoid(const Tensor& x) { return activation("sigmoid", "sigmoid_bw", x, true); }
Tensor tanh(const Tensor& x) { return activation("tanh", "tanh_bw", x, true); }
Tensor silu(const Tensor& x) { return activation("silu", "silu_bw", x, false); }

Tensor gelu(const Tensor& x, const std::string& approximate) {
  CAIRN_CHECK(approximate == "none" || approximate == "tanh", ValueError, "gelu: approximate must be \"none\" or \"tanh\", got \"",
              approximate, "\"");
  const bool tanh_form = approximate == "tanh";
  const char* name = tanh_form ? "gelu_tanh" : "gelu";
  const auto& with_grad =
      kernels::table<kernels::UnaryWithGradKernel>(tanh_form ? "gelu_tanh_with_grad" : "gelu_with_grad");
  if (!autograd::needs_grad({x}) || !with_grad.has(x.device(), x.dtype()))
    return activation(name, tanh_form ? "gelu_tanh_bw" : "gelu_bw", x, false);
  // Training: the derivative is computed with the value (sharing its exp and normal CDF) and kept instead of x,
  // so the backward is one product.
  detail::check_floating(name, x);
  const Tensor xc = x.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype()), d = Tensor::empty(x.shape(), x.dtype());
  with_grad.get(x.device(), x.dtype())(xc, y, d, {});
  autograd::record(name, y, {x}, [d](const Tensor& g, Grads& gi) { gi[0] = run_binary("mul", g, d); });
  return y;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  CAIRN_CHECK(beta > 0, ValueError, "softplus: beta must be positive, got ", beta);
  return activation("softplus", "softplus_bw", x, false, {beta, threshold});
}

}  // namespace cairn
