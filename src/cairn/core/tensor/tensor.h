// Tensor: a strided view (shape, strides, offset, dtype) over a shared, 64-byte-aligned Storage, plus the
// autograd state. Copying a Tensor copies a handle; both handles see the same data.
//
//   Tensor x = cairn::randn({2, 3}).requires_grad_();
//   Tensor y = (x * x).sum();
//   y.backward();              // x.grad() == 2 * x
//
// Views (reshape of a contiguous tensor, permute, transpose, narrow, select, expand, squeeze, unsqueeze)
// share storage; contiguous() copies only when needed. Ops record themselves on the autograd graph when
// an input requires grad and grad mode is on (see cairn/core/autograd/autograd.h).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cairn/core/tensor/dtype.h"
#include "cairn/core/tensor/error.h"
#include "cairn/core/tensor/shape.h"
#include "cairn/core/tensor/storage.h"

namespace cairn {

namespace autograd {
class Node;
}

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;       // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;

  // Autograd state.
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;                  // accumulated gradient (leaves, or retained)
  std::shared_ptr<autograd::Node> grad_fn;           // the op that produced this tensor (non-leaves)
  std::weak_ptr<autograd::Node> grad_accumulator;    // leaves: the node that adds into `grad`
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // A new contiguous tensor with uninitialised data.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);
  // A tensor over an existing storage.
  static Tensor from_storage(std::shared_ptr<Storage> s, const Shape& shape, const Shape& strides, int64_t offset,
                             DType dtype);

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int64_t offset() const { return impl_->offset; }
  int64_t dim() const { return static_cast<int64_t>(impl_->shape.size()); }
  // Size of dimension d (negative d counts from the end).
  int64_t size(int64_t d) const;
  int64_t numel() const { return numel_of(impl_->shape); }
  DType dtype() const { return impl_->dtype; }
  DeviceType device() const { return impl_->storage->device(); }
  size_t element_size() const { return dtype_size(impl_->dtype); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }

  // Pointer to the first element. T must match dtype() (DTypeError otherwise).
  template <class T> T* data() const {
    check_dtype(dtype_v<T>, "data<T>()");
    return static_cast<T*>(raw_data());
  }
  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(element_size());
  }
  // The single element of a one-element tensor, converted to double.
  double item() const;
  // All elements in row-major order, converted to T.
  template <class T> std::vector<T> to_vector() const;

  // Autograd.
  bool requires_grad() const { return impl_->requires_grad; }
  // Marks a leaf as requiring grad; only floating tensors can. Returns *this.
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  Tensor grad() const { return Tensor(impl_->grad); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  void zero_grad() { impl_->grad.reset(); }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl_->grad_fn; }
  // Backpropagates from this tensor. `gradient` may be omitted only for one-element tensors.
  // retain_graph keeps the graph's saved buffers so backward can run through it again.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  // The same data, cut from the graph.
  Tensor detach() const;

  // Views and copies (see ops.h for the contracts).
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // transpose of a 2-D tensor
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor expand(const Shape& shape) const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;

  // Common ops as methods.
  Tensor sum(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor mean(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor matmul(const Tensor& other) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor relu() const;

  // In-place, outside autograd (optimizers, initialisers, running statistics). Throw AutogradError when the
  // tensor is a leaf that requires grad and grad mode is on.
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);  // src broadcast to this shape; dtypes may differ
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double value);

  std::string to_string(int64_t max_elements = 32) const;

  void check_dtype(DType expected, const char* op) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace cairn
