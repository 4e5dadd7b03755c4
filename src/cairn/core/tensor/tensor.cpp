#include "cairn/core/tensor/tensor.h"

#include <cmath>
#include <iomanip>
#include <ostream>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/kernels/kernels.h"
#include "cairn/core/ops/ops.h"

namespace cairn {

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t d : shape)
    CAIRN_CHECK(d >= 0, ValueError, "cannot create a tensor of shape ", shape_str(shape), ": sizes must be >= 0");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(numel_of(shape)) * dtype_size(dtype));
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::from_storage(std::shared_ptr<Storage> s, const Shape& shape, const Shape& strides, int64_t offset,
                            DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(s);
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const {
  CAIRN_CHECK(dim() > 0, IndexError, "size(", d, "): a 0-d tensor has no dimensions");
  return impl_->shape[wrap_dim(d, dim(), "size")];
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = impl_->shape.size(); i-- > 0;) {
    if (impl_->shape[i] == 1) continue;
    if (impl_->strides[i] != expected) return false;
    expected *= impl_->shape[i];
  }
  return true;
}

void Tensor::check_dtype(DType expected, const char* op) const {
  CAIRN_CHECK(dtype() == expected, DTypeError, op, ": expected a ", dtype_name(expected), " tensor, got ",
              dtype_name(dtype()), " ", shape_str(shape()));
}

double Tensor::item() const {
  CAIRN_CHECK(defined(), ValueError, "item(): the tensor is undefined (empty), for example a .grad() that was never set");
  CAIRN_CHECK(numel() == 1, ValueError, "item(): the tensor has ", numel(), " elements (shape ", shape_str(shape()),
              "); only one-element tensors convert to a number");
  Tensor c = to_dtype(detach(), DType::f64).contiguous();
  return *static_cast<const double*>(c.raw_data());
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  CAIRN_CHECK(defined(), ValueError,
              "to_vector(): the tensor is undefined (empty), for example a .grad() that was never set");
  Tensor c = dtype() == dtype_v<T> ? detach().contiguous() : to_dtype(detach(), dtype_v<T>);
  const T* p = static_cast<const T*>(c.raw_data());
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<uint8_t> Tensor::to_vector<uint8_t>() const;

Tensor& Tensor::requires_grad_(bool on) {
  CAIRN_CHECK(!on || is_floating(dtype()), DTypeError, "requires_grad_(): only floating tensors can require grad, got ",
              dtype_name(dtype()));
  CAIRN_CHECK(is_leaf() || on, AutogradError,
              "requires_grad_(false) on a non-leaf tensor: use detach() to cut it from the graph");
  impl_->requires_grad = on;
  return *this;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor g = gradient;
  if (!g.defined()) {
    CAIRN_CHECK(numel() == 1, AutogradError, "backward(): the output has shape ", shape_str(shape()),
                "; a gradient can be created implicitly only for one-element outputs. Reduce it first (e.g. .sum()) "
                "or pass backward(gradient) with a gradient of shape ",
                shape_str(shape()));
    g = ones(shape(), dtype());
  }
  autograd::backward({*this}, {g}, retain_graph);
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::reshape(const Shape& s) const { return cairn::reshape(*this, s); }
Tensor Tensor::view(const Shape& s) const {
  Tensor r = cairn::reshape(*this, s);
  CAIRN_CHECK(r.storage() == storage(), ShapeError, "view(", shape_str(s), "): a tensor of shape ", shape_str(shape()),
              " with strides ", shape_str(strides()), " cannot be viewed that way without a copy; use reshape()");
  return r;
}
Tensor Tensor::permute(const std::vector<int64_t>& d) const { return cairn::permute(*this, d); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return cairn::transpose(*this, a, b); }
Tensor Tensor::t() const {
  CAIRN_CHECK(dim() == 2, ShapeError, "t(): expects a 2-D tensor, got shape ", shape_str(shape()));
  return cairn::transpose(*this, 0, 1);
}
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t l) const { return cairn::narrow(*this, d, s, l); }
Tensor Tensor::select(int64_t d, int64_t i) const { return cairn::select(*this, d, i); }
Tensor Tensor::expand(const Shape& s) const { return cairn::expand(*this, s); }
Tensor Tensor::squeeze(int64_t d) const { return cairn::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return cairn::unsqueeze(*this, d); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return cairn::flatten(*this, s, e); }
Tensor Tensor::contiguous() const { return cairn::contiguous(*this); }
Tensor Tensor::clone() const { return cairn::clone(*this); }
Tensor Tensor::to(DType d) const { return cairn::to_dtype(*this, d); }
Tensor Tensor::sum(const std::vector<int64_t>& d, bool k) const { return cairn::sum(*this, d, k); }
Tensor Tensor::mean(const std::vector<int64_t>& d, bool k) const { return cairn::mean(*this, d, k); }
Tensor Tensor::matmul(const Tensor& o) const { return cairn::matmul(*this, o); }
Tensor Tensor::exp() const { return cairn::exp(*this); }
Tensor Tensor::log() const { return cairn::log(*this); }
Tensor Tensor::relu() const { return cairn::relu(*this); }

namespace {
void check_inplace(const Tensor& t, const char* op) {
  CAIRN_CHECK(!(autograd::grad_enabled() && t.requires_grad()), AutogradError, op,
              ": in-place change of a tensor that requires grad while grad mode is on; wrap it in a "
              "cairn::NoGradGuard (as optimizers do)");
}
}  // namespace

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  kernels::table<kernels::FillKernel>("fill").get(device(), dtype())(*this, value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  broadcast_shapes(src.shape(), shape(), "copy_");
  CAIRN_CHECK(broadcast_shapes(src.shape(), shape(), "copy_") == shape(), ShapeError, "copy_: source of shape ",
              shape_str(src.shape()), " does not broadcast to destination shape ", shape_str(shape()));
  kernels::table<kernels::CopyKernel>("copy").get(src.device(), src.dtype())(src, *this);
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  Tensor o = alpha == 1.0 ? other : mul(other.detach(), alpha);
  CAIRN_CHECK(is_contiguous(), ValueError, "add_: destination must be contiguous");
  check_dtype(o.dtype(), "add_");
  CAIRN_CHECK(broadcast_shapes(shape(), o.shape(), "add_") == shape(), ShapeError, "add_: a tensor of shape ",
              shape_str(o.shape()), " does not broadcast to the destination's shape ", shape_str(shape()));
  kernels::table<kernels::BinaryKernel>("add").get(device(), dtype())(*this, o, *this, {});
  return *this;
}

Tensor& Tensor::mul_(double value) {
  check_inplace(*this, "mul_");
  CAIRN_CHECK(is_contiguous(), ValueError, "mul_: destination must be contiguous");
  kernels::table<kernels::UnaryKernel>("mul_scalar").get(device(), dtype())(*this, *this, {value, 0});
  return *this;
}

std::string Tensor::to_string(int64_t max_elements) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(" << dtype_name(dtype()) << ", " << shape_str(shape()) << ", [";
  if (defined()) {
    auto v = to_vector<double>();
    for (int64_t i = 0; i < (int64_t)v.size() && i < max_elements; ++i) os << (i ? ", " : "") << std::setprecision(6) << v[i];
    if ((int64_t)v.size() > max_elements) os << ", ...";
  }
  os << "])";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.to_string(); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return rsub(b, a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return rdiv(b, a); }
Tensor operator-(const Tensor& a) { return neg(a); }

}  // namespace cairn
