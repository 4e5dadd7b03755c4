// Reductions over any set of axes, with keepdim; each forward with its backward below it.
#include <cmath>
#include <numeric>

#include "cairn/core/ops/op_utils.h"

namespace cairn {
using autograd::Grads;

std::vector<int64_t> detail::normalize_dims(const std::vector<int64_t>& dims, int64_t ndim, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    out.resize(ndim);
    std::iota(out.begin(), out.end(), 0);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  CAIRN_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), ValueError, op, ": repeated dimension in ",
              shape_str(dims));
  if (ndim == 0) out.clear();
  return out;
}

namespace {

Shape reduced_shape(const Shape& s, const std::vector<int64_t>& dims, bool keepdim) {
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
    bool r = std::binary_search(dims.begin(), dims.end(), i);
    if (!r) out.push_back(s[i]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Lays x out as a contiguous (A, R, C) with the reduced dims in R.
struct ARC {
  Tensor x;
  int64_t A = 1, R = 1, C = 1;
};
ARC to_arc(const Tensor& x, const std::vector<int64_t>& dims) {
  ARC p;
  const int64_t nd = x.dim();
  bool block = !dims.empty() && dims.back() - dims.front() + 1 == static_cast<int64_t>(dims.size());
  if (block) {
    p.x = contiguous(x.detach());
    for (int64_t i = 0; i < dims.front(); ++i) p.A *= x.shape()[i];
    for (int64_t d : dims) p.R *= x.shape()[d];
    for (int64_t i = dims.back() + 1; i < nd; ++i) p.C *= x.shape()[i];
    return p;
  }
  std::vector<int64_t> perm;
  for (int64_t i = 0; i < nd; ++i)
    if (!std::binary_search(dims.begin(), dims.end(), i)) perm.push_back(i);
  for (int64_t d : dims) perm.push_back(d);
  p.x = contiguous(permute(x.detach(), perm));
  for (int64_t i = 0; i < nd; ++i) {
    if (std::binary_search(dims.begin(), dims.end(), i)) p.R *= x.shape()[i];
    else p.A *= x.shape()[i];
  }
  return p;
}

Tensor reduce(const char* kernel, const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ARC p = to_arc(x, dims);
  Tensor out = Tensor::empty(reduced_shape(x.shape(), dims, keepdim), x.dtype());
  CAIRN_CHECK(p.R > 0 || std::string(kernel) == "sum", ValueError, kernel, ": cannot reduce an empty dimension (shape ",
              shape_str(x.shape()), ")");
  kernels::table<kernels::ReduceKernel>(kernel).get(x.device(), x.dtype())(p.x, out, p.A, p.R, p.C);
  return out;
}

// Gradient of a reduction with output gradient g (reduced shape) broadcast back to x's shape.
Tensor expand_back(const Tensor& g, const Shape& in, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor gk = keepdim ? g : reshape(g, reduced_shape(in, dims, true));
  return expand(gk, in);
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  detail::check_floating("sum", x);
  auto dims = detail::normalize_dims(dims_in, x.dim(), "sum");
  Tensor y = reduce("sum", x, dims, keepdim);
  if (autograd::needs_grad({x}))
    autograd::record("sum", y, {x}, [in = x.shape(), dims, keepdim](const Tensor& g, Grads& gi) {
      gi[0] = expand_back(g, in, dims, keepdim);
    });
  return y;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  auto dims = detail::normalize_dims(dims_in, x.dim(), "mean");
  int64_t n = 1;
  for (int64_t d : dims) n *= x.shape()[d];
  return mul(sum(x, dims, keepdim), 1.0 / static_cast<double>(n));
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims_in, int64_t correction, bool keepdim) {
  auto dims = detail::normalize_dims(dims_in, x.dim(), "var");
  int64_t n = 1;
  for (int64_t d : dims) n *= x.shape()[d];
  CAIRN_CHECK(n - correction > 0, ValueError, "var: ", n, " elements with correction ", correction,
              " leave no degrees of freedom (shape ", shape_str(x.shape()), ")");
  Tensor centered = sub(x, mean(x, dims, true));
  return mul(sum(square(centered), dims, keepdim), 1.0 / static_cast<double>(n - correction));
}

Tensor std(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor amax(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  detail::check_floating("amax", x);
  auto dims = detail::normalize_dims(dims_in, x.dim(), "amax");
  Tensor y = reduce("max", x, dims, keepdim);
  if (autograd::needs_grad({x}))
    autograd::record("amax", y, {x}, [x = x.detach(), y = y.detach(), dims, keepdim](const Tensor& g, Grads& gi) {
      // Ties share the gradient evenly.
      Tensor mask = eq(x, expand_back(y, x.shape(), dims, keepdim)).to(g.dtype());
      Tensor count = sum(mask, dims, true);
      gi[0] = div(mul(expand_back(g, x.shape(), dims, keepdim), mask), count);
    });
  return y;
}

Tensor amin(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  return neg(amax(neg(x), dims_in, keepdim));
}

Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim) {
  auto dims = detail::normalize_dims(dims_in, x.dim(), "logsumexp");
  Tensor m;
  {
    NoGradGuard ng;
    m = reduce("max", x, dims, true);
    // Rows of -inf: shift by 0 so the result is -inf, not NaN.
    m = where(eq(m, full({}, -INFINITY, m.dtype())), zeros({}, m.dtype()), m);
  }
  Tensor s = log(sum(exp(sub(x, m)), dims, true));
  Tensor y = add(s, m);
  return keepdim ? y : reshape(y, reduced_shape(x.shape(), dims, false));
}

namespace {
std::pair<Tensor, Tensor> arg_reduce(const char* kernel, const Tensor& x, int64_t dim, bool keepdim) {
  detail::check_floating(kernel, x);
  CAIRN_CHECK(x.numel() > 0, ValueError, kernel, ": the input is empty (shape ", shape_str(x.shape()), ")");
  int64_t d = x.dim() == 0 ? 0 : wrap_dim(dim, x.dim(), kernel);
  std::vector<int64_t> dims = x.dim() == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{d};
  ARC p = to_arc(x, dims);
  Shape rs = reduced_shape(x.shape(), dims, keepdim);
  Tensor values = Tensor::empty(rs, x.dtype()), indices = Tensor::empty(rs, DType::i64);
  kernels::table<kernels::ArgReduceKernel>(kernel).get(x.device(), x.dtype())(p.x, values, indices, p.A, p.R, p.C);
  if (autograd::needs_grad({x}) && x.dim() > 0)
    autograd::record(kernel, values, {x}, [in = x.shape(), d, keepdim, idx = indices](const Tensor& g, Grads& gi) {
      // One-hot of the chosen index along d, times the gradient.
      Shape ashape(in.size(), 1);
      ashape[d] = in[d];
      Tensor pos = reshape(arange(0, static_cast<double>(in[d]), 1, DType::i64), ashape);
      Tensor ik = keepdim ? idx : unsqueeze(idx, d);
      Tensor gk = keepdim ? g : unsqueeze(g, d);
      gi[0] = where(eq(expand(ik, in), expand(pos, in)), expand(gk, in), zeros({}, g.dtype()));
    });
  if (autograd::needs_grad({x}) && x.dim() == 0)  // max over the only element: the gradient passes through
    autograd::record(kernel, values, {x}, [](const Tensor& g, Grads& gi) { gi[0] = g; });
  return {values, indices};
}
}  // namespace

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim) { return arg_reduce("argmax", x, dim, keepdim); }
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim) { return arg_reduce("argmin", x, dim, keepdim); }
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  NoGradGuard ng;
  return arg_reduce("argmax", x, dim, keepdim).second;
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  NoGradGuard ng;
  return arg_reduce("argmin", x, dim, keepdim).second;
}

}  // namespace cairn
