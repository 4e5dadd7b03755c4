// Views (no copy: a new shape/strides/offset over the same storage) and layout ops, with their backward.
#include <numeric>

#include "cairn/core/ops/op_utils.h"

namespace cairn {
namespace {

Tensor make_view(const Tensor& x, Shape shape, Shape strides, int64_t offset) {
  return Tensor::from_storage(x.storage(), std::move(shape), std::move(strides), offset, x.dtype());
}

// Strides that let `x` be seen with `shape` without a copy, if any (PyTorch's computeStride).
std::optional<Shape> view_strides(const Tensor& x, const Shape& shape) {
  if (x.is_contiguous()) return contiguous_strides(shape);
  const Shape& os = x.shape();
  const Shape& ost = x.strides();
  Shape st(shape.size());
  if (x.numel() == 0) return contiguous_strides(shape);
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = ost.empty() ? 1 : ost.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t td = static_cast<int64_t>(os.size()) - 1; td >= 0; --td) {
    tensor_numel *= os[td];
    if (td == 0 || (os[td - 1] != 1 && ost[td - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        st[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (td > 0) {
        chunk_base_stride = ost[td - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return st;
}

// The dim an op indexes into. A 0-d tensor has none: wrap_dim accepts 0 and -1 for it (PyTorch's rule, so
// that reductions and unsqueeze work on scalars), but reading shape[0] of a 0-d tensor would be out of bounds.
int64_t indexed_dim(const Tensor& x, int64_t dim, const char* op) {
  CAIRN_CHECK(x.dim() > 0, IndexError, op, ": a 0-d tensor has no dimension ", dim, " to index; reshape it to {1} first");
  return wrap_dim(dim, x.dim(), op);
}

}  // namespace

Tensor reshape(const Tensor& x, Shape shape) {
  int64_t infer = -1, known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      CAIRN_CHECK(infer < 0, ShapeError, "reshape: only one dimension can be -1 in ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      CAIRN_CHECK(shape[i] >= 0, ShapeError, "reshape: invalid size ", shape[i], " in ", shape_str(shape));
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    CAIRN_CHECK(known != 0 && x.numel() % known == 0, ShapeError, "reshape: cannot reshape a tensor of shape ",
                shape_str(x.shape()), " (", x.numel(), " elements) into ", shape_str(shape));
    shape[infer] = x.numel() / known;
  }
  CAIRN_CHECK(numel_of(shape) == x.numel(), ShapeError, "reshape: cannot reshape a tensor of shape ",
              shape_str(x.shape()), " (", x.numel(), " elements) into ", shape_str(shape), " (", numel_of(shape),
              " elements)");
  Tensor out;
  if (auto st = view_strides(x, shape)) {
    out = make_view(x, shape, *st, x.offset());
  } else {
    Tensor c = contiguous(x.detach());
    out = make_view(c, shape, contiguous_strides(shape), c.offset());
  }
  if (autograd::needs_grad({x}))
    autograd::record("reshape", out, {x}, [in = x.shape()](const Tensor& g, autograd::Grads& gi) { gi[0] = reshape(g, in); });
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  const int64_t nd = x.dim();
  CAIRN_CHECK(static_cast<int64_t>(dims.size()) == nd, ShapeError, "permute: ", dims.size(),
              " dims given for a tensor of shape ", shape_str(x.shape()));
  Shape shape(nd), strides(nd);
  std::vector<int64_t> inverse(nd, -1);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t d = wrap_dim(dims[i], nd, "permute");
    CAIRN_CHECK(inverse[d] < 0, ShapeError, "permute: dimension ", d, " repeated in ", shape_str(dims));
    inverse[d] = i;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  Tensor out = make_view(x, shape, strides, x.offset());
  if (autograd::needs_grad({x}))
    autograd::record("permute", out, {x}, [inverse](const Tensor& g, autograd::Grads& gi) { gi[0] = permute(g, inverse); });
  return out;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  std::vector<int64_t> dims(x.dim());
  std::iota(dims.begin(), dims.end(), 0);
  const int64_t a = wrap_dim(d0, x.dim(), "transpose"), b = wrap_dim(d1, x.dim(), "transpose");
  if (x.dim() == 0) return permute(x, dims);  // transpose(0, 0) of a 0-d tensor: itself, as in PyTorch
  std::swap(dims[a], dims[b]);
  return permute(x, dims);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  dim = indexed_dim(x, dim, "slice");
  const int64_t n = x.shape()[dim];
  CAIRN_CHECK(step > 0, ValueError, "slice: step must be positive, got ", step);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape(), strides = x.strides();
  shape[dim] = (end - start + step - 1) / step;
  strides[dim] *= step;
  Tensor out = make_view(x, shape, strides, x.offset() + start * x.strides()[dim]);
  if (autograd::needs_grad({x}))
    autograd::record("slice", out, {x}, [in = x.shape(), dt = x.dtype(), dim, start, end, step](const Tensor& g, autograd::Grads& gi) {
      Tensor z = zeros(in, dt);
      slice(z, dim, start, end, step).copy_(g);
      gi[0] = z;
    });
  return out;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  int64_t d = indexed_dim(x, dim, "narrow");
  const int64_t n = x.shape()[d];
  CAIRN_CHECK(start >= 0 && length >= 0 && start + length <= n, IndexError, "narrow: range [", start, ", ",
              start + length, ") is outside dimension ", d, " of size ", n, " (shape ", shape_str(x.shape()), ")");
  return slice(x, d, start, start + length, 1);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  int64_t d = indexed_dim(x, dim, "select");
  const int64_t n = x.shape()[d];
  CAIRN_CHECK(index >= -n && index < n, IndexError, "select: index ", index, " is out of range for dimension ", d,
              " of size ", n, " (shape ", shape_str(x.shape()), ")");
  if (index < 0) index += n;
  return squeeze(narrow(x, d, index, 1), d);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  CAIRN_CHECK(shape.size() >= x.shape().size(), ShapeError, "expand: cannot expand shape ", shape_str(x.shape()),
              " to ", shape_str(shape), " (fewer dimensions)");
  const size_t off = shape.size() - x.shape().size();
  Shape out_shape(shape.size()), strides(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < off) {
      CAIRN_CHECK(shape[i] >= 0, ShapeError, "expand: size -1 not allowed for a new leading dimension in ",
                  shape_str(shape));
      out_shape[i] = shape[i];
      continue;
    }
    int64_t s = x.shape()[i - off], want = shape[i] == -1 ? s : shape[i];
    CAIRN_CHECK(s == want || s == 1, ShapeError, "expand: cannot expand shape ", shape_str(x.shape()), " to ",
                shape_str(shape), " (dimension ", i, ": ", s, " to ", want, "; only size-1 dims expand)");
    out_shape[i] = want;
    strides[i] = s == want ? x.strides()[i - off] : 0;
  }
  Tensor out = make_view(x, out_shape, strides, x.offset());
  if (autograd::needs_grad({x}))
    autograd::record("expand", out, {x}, [in = x.shape()](const Tensor& g, autograd::Grads& gi) { gi[0] = sum_to(g, in); });
  return out;
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) { return expand(x, shape); }

Tensor squeeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  if (x.dim() == 0) return x;  // nothing to squeeze, as in PyTorch
  if (x.shape()[d] != 1) return x;
  Shape s = x.shape();
  s.erase(s.begin() + d);
  return reshape(x, s);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(s.begin() + d, 1);
  return reshape(x, s);
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  CAIRN_CHECK(s <= e, ShapeError, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t n = 1;
  for (int64_t i = s; i <= e; ++i) n *= x.shape()[i];
  shape.push_back(n);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor clone(const Tensor& x) {
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  kernels::table<kernels::CopyKernel>("copy").get(x.device(), x.dtype())(x, out);
  if (autograd::needs_grad({x}))
    autograd::record("clone", out, {x}, [](const Tensor& g, autograd::Grads& gi) { gi[0] = g; });
  return out;
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

Tensor to_dtype(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor out = Tensor::empty(x.shape(), dtype);
  kernels::table<kernels::CopyKernel>("copy").get(x.device(), x.dtype())(x, out);
  if (autograd::needs_grad({x}) && is_floating(dtype))
    autograd::record("to", out, {x}, [src = x.dtype()](const Tensor& g, autograd::Grads& gi) { gi[0] = to_dtype(g, src); });
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  CAIRN_CHECK(!xs.empty(), ValueError, "concat: needs at least one tensor");
  const Tensor& first = xs[0];
  int64_t d = indexed_dim(first, dim, "concat");
  Shape shape = first.shape();
  int64_t total = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& t = xs[i];
    detail::check_same_dtype("concat", first, t);
    bool ok = t.dim() == first.dim();
    for (int64_t k = 0; ok && k < t.dim(); ++k)
      if (k != d && t.shape()[k] != shape[k]) ok = false;
    CAIRN_CHECK(ok, ShapeError, "concat: tensor ", i, " has shape ", shape_str(t.shape()), " but tensor 0 has shape ",
                shape_str(first.shape()), "; all dims except dim ", d, " must match");
    total += t.shape()[d];
  }
  shape[d] = total;
  Tensor out = Tensor::empty(shape, first.dtype());
  std::vector<int64_t> sizes;
  int64_t at = 0;
  {
    NoGradGuard ng;
    for (const Tensor& t : xs) {
      narrow(out, d, at, t.shape()[d]).copy_(t.detach());
      sizes.push_back(t.shape()[d]);
      at += t.shape()[d];
    }
  }
  if (autograd::needs_grad(xs))
    autograd::record("concat", out, xs, [d, sizes](const Tensor& g, autograd::Grads& gi) {
      int64_t s = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (gi.needs(i)) gi[i] = narrow(g, d, s, sizes[i]);
        s += sizes[i];
      }
    });
  return out;
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  CAIRN_CHECK(!xs.empty(), ValueError, "stack: needs at least one tensor");
  for (size_t i = 1; i < xs.size(); ++i)
    CAIRN_CHECK(xs[i].shape() == xs[0].shape(), ShapeError, "stack: tensor ", i, " has shape ",
                shape_str(xs[i].shape()), " but tensor 0 has shape ", shape_str(xs[0].shape()));
  int64_t d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> us;
  for (const Tensor& t : xs) us.push_back(unsqueeze(t, d));
  return concat(us, d);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  CAIRN_CHECK(split_size > 0, ValueError, "split: split_size must be positive, got ", split_size);
  int64_t d = indexed_dim(x, dim, "split");
  std::vector<Tensor> out;
  for (int64_t s = 0; s < x.shape()[d]; s += split_size) out.push_back(narrow(x, d, s, std::min(split_size, x.shape()[d] - s)));
  return out;
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  CAIRN_CHECK(chunks > 0, ValueError, "chunk: chunks must be positive, got ", chunks);
  int64_t d = indexed_dim(x, dim, "chunk");
  return split(x, std::max<int64_t>(1, (x.shape()[d] + chunks - 1) / chunks), d);
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  const int64_t lead = x.dim() - static_cast<int64_t>(shape.size());
  CAIRN_CHECK(lead >= 0, ShapeError, "sum_to: cannot reduce shape ", shape_str(x.shape()), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < lead; ++i) dims.push_back(i);
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t xs = x.shape()[lead + i];
    CAIRN_CHECK(shape[i] == xs || shape[i] == 1, ShapeError, "sum_to: cannot reduce shape ", shape_str(x.shape()),
                " to ", shape_str(shape));
    if (shape[i] == 1 && xs != 1) dims.push_back(lead + static_cast<int64_t>(i));
  }
  Tensor r = dims.empty() ? x : sum(x, dims, /*keepdim=*/true);
  return reshape(r, shape);
}

}  // namespace cairn
