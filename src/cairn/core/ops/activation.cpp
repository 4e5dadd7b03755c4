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

namespace {
void check_gelu_form(const char* op, const std::string& approximate) {
  CAIRN_CHECK(approximate == "none" || approximate == "tanh", ValueError, op,
              ": approximate must be \"none\" or \"tanh\", got \"", approximate, "\"");
}

const kernels::KernelTable<kernels::UnaryWithGradKernel>& gelu_with_grad(const std::string& approximate) {
  return kernels::table<kernels::UnaryWithGradKernel>(approximate == "tanh" ? "gelu_tanh_with_grad" : "gelu_with_grad");
}

// GELU's value and derivative in one pass (they share the exp and normal CDF), from the training kernel.
std::pair<Tensor, Tensor> gelu_and_derivative(const Tensor& x, const std::string& approximate) {
  detail::check_floating(approximate == "tanh" ? "gelu_tanh" : "gelu", x);
  const Tensor xc = x.detach().contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype()), d = Tensor::empty(x.shape(), x.dtype());
  gelu_with_grad(approximate).get(x.device(), x.dtype())(xc, y, d, {});
  return {y, d};
}
}  // namespace

Tensor gelu(const Tensor& x, const std::string& approximate) {
  check_gelu_form("gelu", approximate);
  const bool tanh_form = approximate == "tanh";
  const char* name = tanh_form ? "gelu_tanh" : "gelu";
  if (!autograd::needs_grad({x}) || !gelu_with_grad(approximate).has(x.device(), x.dtype()))
    return activation(name, tanh_form ? "gelu_tanh_bw" : "gelu_bw", x, false);
  // Training: the derivative is computed with the value and kept instead of x, so the backward is one product.
  auto [y, d] = gelu_and_derivative(x, approximate);
  autograd::record(name, y, {x}, [d](const Tensor& g, Grads& gi) { gi[0] = run_binary("mul", g, d); });
  return y;
}

Tensor gelu_linear(const Tensor& h, const Tensor& weight, const Tensor& bias, const std::string& approximate) {
  check_gelu_form("gelu_linear", approximate);
  detail::check_defined("gelu_linear", h);
  if (!autograd::needs_grad({h, weight, bias}) || !gelu_with_grad(approximate).has(h.device(), h.dtype()))
    return linear(gelu(h, approximate), weight, bias);
  auto [a, d] = gelu_and_derivative(h, approximate);
  Tensor y;
  {
    NoGradGuard no_grad;
    y = linear(a, weight, bias);  // checks the shapes
  }
  const int64_t in = weight.shape()[1], out = weight.shape()[0];
  autograd::record("gelu_linear", y, {h, weight, bias},
                   [a, d, w = weight.detach(), in, out](const Tensor& g, Grads& gi) {
                     const Tensor g2 = reshape(g, {-1, out}).contiguous();
                     const int64_t M = g2.shape()[0];
                     if (gi.needs(0)) {
                       // dh = (g @ W) * gelu'(h), the product and the derivative in one kernel when there is one
                       const auto& fused = kernels::table<kernels::MatmulMulKernel>("matmul_mul");
                       Tensor dh = Tensor::empty({M, in}, g.dtype());
                       const Tensor wc = w.contiguous();
                       const bool done = fused.has(g.device(), g.dtype()) &&
                                         fused.get(g.device(), g.dtype())(M, in, out, g2.raw_data(), wc.raw_data(),
                                                                          d.raw_data(), dh.raw_data());
                       if (!done) dh = run_binary("mul", matmul(g2, w), reshape(d, {M, in}));
                       gi[0] = reshape(dh, d.shape());
                     }
                     if (gi.needs(1)) gi[1] = matmul(transpose(g2, 0, 1), reshape(a, {M, in}));
                     if (gi.needs(2)) gi[2] = sum(g2, {0});
                   });
  return y;
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  CAIRN_CHECK(beta > 0, ValueError, "softplus: beta must be positive, got ", beta);
  return activation("softplus", "softplus_bw", x, false, {beta, threshold});
}

}  // namespace cairn
