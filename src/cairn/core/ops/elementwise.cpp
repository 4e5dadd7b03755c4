// Elementwise arithmetic with NumPy broadcasting; each forward with its backward right below it.
// Gradients of broadcast operands are reduced back to their shapes by the autograd node.
#include <cmath>
#include <limits>

#include "cairn/core/ops/op_utils.h"

namespace cairn {
using autograd::Grads;
using detail::run_binary;
using detail::run_unary;

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = run_binary("add", a, b);
  if (autograd::needs_grad({a, b}))
    autograd::record("add", y, {a, b}, [](const Tensor& g, Grads& gi) {
      gi[0] = g;
      gi[1] = g;
    });
  return y;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor y = run_binary("sub", a, b);
  if (autograd::needs_grad({a, b}))
    autograd::record("sub", y, {a, b}, [](const Tensor& g, Grads& gi) {
      gi[0] = g;
      if (gi.needs(1)) gi[1] = neg(g);
    });
  return y;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor y = run_binary("mul", a, b);
  if (autograd::needs_grad({a, b}))
    autograd::record("mul", y, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g, Grads& gi) {
      if (gi.needs(0)) gi[0] = mul(g, b);
      if (gi.needs(1)) gi[1] = mul(g, a);
    });
  return y;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor y = run_binary("div", a, b);
  if (autograd::needs_grad({a, b}))
    autograd::record("div", y, {a, b}, [b = b.detach(), y = y.detach()](const Tensor& g, Grads& gi) {
      Tensor gb = div(g, b);
      if (gi.needs(1)) gi[1] = neg(mul(gb, y));  // d(a/b)/db = -a/b^2 = -y/b
      gi[0] = gb;
    });
  return y;
}

Tensor add(const Tensor& a, double b) {
  Tensor y = run_unary("add_scalar", a, {b, 0});
  if (autograd::needs_grad({a})) autograd::record("add_scalar", y, {a}, [](const Tensor& g, Grads& gi) { gi[0] = g; });
  return y;
}

Tensor mul(const Tensor& a, double b) {
  Tensor y = run_unary("mul_scalar", a, {b, 0});
  if (autograd::needs_grad({a}))
    autograd::record("mul_scalar", y, {a}, [b](const Tensor& g, Grads& gi) { gi[0] = mul(g, b); });
  return y;
}

Tensor rsub(const Tensor& a, double b) {
  Tensor y = run_unary("rsub_scalar", a, {b, 0});
  if (autograd::needs_grad({a})) autograd::record("rsub_scalar", y, {a}, [](const Tensor& g, Grads& gi) { gi[0] = neg(g); });
  return y;
}

Tensor rdiv(const Tensor& a, double b) {
  Tensor y = run_unary("rdiv_scalar", a, {b, 0});
  if (autograd::needs_grad({a}))
    autograd::record("rdiv_scalar", y, {a}, [a = a.detach(), y = y.detach()](const Tensor& g, Grads& gi) {
      gi[0] = neg(div(mul(g, y), a));  // d(b/a)/da = -b/a^2 = -y/a
    });
  return y;
}

Tensor neg(const Tensor& x) {
  Tensor y = run_unary("neg", x);
  if (autograd::needs_grad({x})) autograd::record("neg", y, {x}, [](const Tensor& g, Grads& gi) { gi[0] = neg(g); });
  return y;
}

Tensor pow(const Tensor& x, double e) {
  detail::check_floating("pow", x);
  Tensor y = run_unary("pow_scalar", x, {e, 0});
  if (autograd::needs_grad({x}))
    autograd::record("pow", y, {x}, [x = x.detach(), e](const Tensor& g, Grads& gi) {
      gi[0] = mul(g, mul(pow(x, e - 1.0), e));
    });
  return y;
}

Tensor pow(const Tensor& x, const Tensor& e) {
  detail::check_floating("pow", x);
  Tensor y = run_binary("pow", x, e);
  if (autograd::needs_grad({x, e}))
    autograd::record("pow", y, {x, e}, [x = x.detach(), e = e.detach(), y = y.detach()](const Tensor& g, Grads& gi) {
      if (gi.needs(0)) gi[0] = mul(g, mul(e, pow(x, sub(e, ones_like(e)))));
      if (gi.needs(1)) gi[1] = mul(g, mul(y, log(x)));
    });
  return y;
}

Tensor exp(const Tensor& x) {
  detail::check_floating("exp", x);
  Tensor y = run_unary("exp", x);
  if (autograd::needs_grad({x}))
    autograd::record("exp", y, {x}, [y = y.detach()](const Tensor& g, Grads& gi) { gi[0] = mul(g, y); });
  return y;
}

Tensor log(const Tensor& x) {
  detail::check_floating("log", x);
  Tensor y = run_unary("log", x);
  if (autograd::needs_grad({x}))
    autograd::record("log", y, {x}, [x = x.detach()](const Tensor& g, Grads& gi) { gi[0] = div(g, x); });
  return y;
}

Tensor sqrt(const Tensor& x) {
  detail::check_floating("sqrt", x);
  Tensor y = run_unary("sqrt", x);
  if (autograd::needs_grad({x}))
    autograd::record("sqrt", y, {x}, [y = y.detach()](const Tensor& g, Grads& gi) { gi[0] = div(mul(g, 0.5), y); });
  return y;
}

Tensor rsqrt(const Tensor& x) {
  detail::check_floating("rsqrt", x);
  Tensor y = run_unary("rsqrt", x);
  if (autograd::needs_grad({x}))
    autograd::record("rsqrt", y, {x}, [y = y.detach()](const Tensor& g, Grads& gi) {
      gi[0] = mul(g, mul(pow(y, 3.0), -0.5));  // d(x^-1/2) = -1/2 x^-3/2
    });
  return y;
}

Tensor abs(const Tensor& x) {
  Tensor y = run_unary("abs", x);
  if (autograd::needs_grad({x}))
    autograd::record("abs", y, {x}, [x = x.detach()](const Tensor& g, Grads& gi) { gi[0] = run_binary("abs_bw", g, x); });
  return y;
}

Tensor square(const Tensor& x) {
  Tensor y = run_unary("square", x);
  if (autograd::needs_grad({x}))
    autograd::record("square", y, {x}, [x = x.detach()](const Tensor& g, Grads& gi) { gi[0] = mul(mul(g, x), 2.0); });
  return y;
}

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  detail::check_floating("clamp", x);
  const double l = lo.value_or(-std::numeric_limits<double>::infinity());
  const double h = hi.value_or(std::numeric_limits<double>::infinity());
  CAIRN_CHECK(l <= h, ValueError, "clamp: min (", l, ") is greater than max (", h, ")");
  Tensor y = run_unary("clamp", x, {l, h});
  if (autograd::needs_grad({x}))
    autograd::record("clamp", y, {x}, [x = x.detach(), l, h](const Tensor& g, Grads& gi) {
      gi[0] = run_binary("clamp_bw", g, x, {l, h});
    });
  return y;
}

namespace {
// Gradient of maximum/minimum: to the winner; ties split evenly, as PyTorch does.
void minmax_backward(const Tensor& g, const Tensor& a, const Tensor& b, bool is_max, Grads& gi) {
  Tensor a_wins = is_max ? gt(a, b) : lt(a, b);
  Tensor tie = eq(a, b);
  Tensor wa = add(a_wins.to(g.dtype()), mul(tie.to(g.dtype()), 0.5));
  if (gi.needs(0)) gi[0] = mul(g, wa);
  if (gi.needs(1)) gi[1] = mul(g, rsub(wa, 1.0));
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor y = run_binary("maximum", a, b);
  if (autograd::needs_grad({a, b}))
    autograd::record("maximum", y, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g, Grads& gi) {
      minmax_backward(g, a, b, true, gi);
    });
  return y;
}

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor y = run_binary("minimum", a, b);
  if (autograd::needs_grad({a, b}))
    autograd::record("minimum", y, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& g, Grads& gi) {
      minmax_backward(g, a, b, false, gi);
    });
  return y;
}

Tensor eq(const Tensor& a, const Tensor& b) { return run_binary("eq", a, b, {}, DType::u8); }
Tensor ne(const Tensor& a, const Tensor& b) { return run_binary("ne", a, b, {}, DType::u8); }
Tensor lt(const Tensor& a, const Tensor& b) { return run_binary("lt", a, b, {}, DType::u8); }
Tensor le(const Tensor& a, const Tensor& b) { return run_binary("le", a, b, {}, DType::u8); }
Tensor gt(const Tensor& a, const Tensor& b) { return run_binary("gt", a, b, {}, DType::u8); }
Tensor ge(const Tensor& a, const Tensor& b) { return run_binary("ge", a, b, {}, DType::u8); }
Tensor gt(const Tensor& a, double b) { return gt(a, scalar_tensor(b, a.dtype())); }
Tensor lt(const Tensor& a, double b) { return lt(a, scalar_tensor(b, a.dtype())); }

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  cond.check_dtype(DType::u8, "where (condition)");
  detail::check_same_dtype("where", a, b);
  Shape s = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor y = Tensor::empty(s, a.dtype());
  kernels::table<kernels::WhereKernel>("where").get(a.device(), a.dtype())(cond, a, b, y);
  if (autograd::needs_grad({a, b}))
    autograd::record("where", y, {a, b}, [cond = cond.detach()](const Tensor& g, Grads& gi) {
      Tensor z = zeros({}, g.dtype());
      if (gi.needs(0)) gi[0] = where(cond, g, z);
      if (gi.needs(1)) gi[1] = where(cond, z, g);
    });
  return y;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  mask.check_dtype(DType::u8, "masked_fill (mask)");
  CAIRN_CHECK(broadcast_shapes(x.shape(), mask.shape(), "masked_fill") == x.shape(), ShapeError,
              "masked_fill: mask of shape ", shape_str(mask.shape()), " does not broadcast to the input's shape ",
              shape_str(x.shape()));
  return where(mask, scalar_tensor(value, x.dtype()), x);
}

}  // namespace cairn
