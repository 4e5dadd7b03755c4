// Tensor factories. Random factories draw sequentially from one generator, so results depend only on the
// seed, never on the thread count.
#include <cmath>

#include "cairn/core/ops/op_utils.h"

namespace cairn {

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  kernels::table<kernels::FillKernel>("fill").get(DeviceType::CPU, dtype)(t, value);
  return t;
}
Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
  CAIRN_CHECK(step != 0, ValueError, "arange: step must be nonzero");
  int64_t n = static_cast<int64_t>(std::ceil((end - start) / step));
  if (n < 0) n = 0;
  std::vector<double> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = start + step * static_cast<double>(i);
  return from_vector(v, {n}).to(dtype);
}

namespace {
template <class F>
Tensor random_fill(const Shape& shape, DType dtype, const char* op, F draw) {
  CAIRN_CHECK(dtype == DType::f32 || dtype == DType::f64, DTypeError, op, ": dtype must be float32 or float64, got ",
              dtype_name(dtype));
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  if (dtype == DType::f32) {
    float* p = t.data<float>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<float>(draw());
  } else {
    double* p = t.data<double>();
    for (int64_t i = 0; i < n; ++i) p[i] = draw();
  }
  return t;
}
}  // namespace

Tensor randn(const Shape& shape, DType dtype, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  return random_fill(shape, dtype, "randn", [&] { return g.normal(); });
}

Tensor uniform(const Shape& shape, double low, double high, DType dtype, Generator* gen) {
  CAIRN_CHECK(low <= high, ValueError, "uniform: low (", low, ") must not exceed high (", high, ")");
  Generator& g = gen ? *gen : default_generator();
  return random_fill(shape, dtype, "uniform", [&] { return low + (high - low) * g.uniform(); });
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype, Generator* gen) {
  CAIRN_CHECK(low < high, ValueError, "randint: low (", low, ") must be below high (", high, ")");
  Generator& g = gen ? *gen : default_generator();
  Tensor t = Tensor::empty(shape, DType::i64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = low + static_cast<int64_t>(g.below(static_cast<uint64_t>(high - low)));
  return dtype == DType::i64 ? t : t.to(dtype);
}

Tensor randperm(int64_t n, Generator* gen) {
  Generator& g = gen ? *gen : default_generator();
  Tensor t = Tensor::empty({n}, DType::i64);
  int64_t* p = t.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[g.below(static_cast<uint64_t>(i + 1))]);
  return t;
}

template <class T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  CAIRN_CHECK(static_cast<int64_t>(values.size()) == numel_of(shape), ShapeError, "from_vector: ", values.size(),
              " values do not fill shape ", shape_str(shape), " (", numel_of(shape), " elements)");
  Tensor t = Tensor::empty(shape, dtype_v<T>);
  std::copy(values.begin(), values.end(), static_cast<T*>(t.raw_data()));
  return t;
}
template Tensor from_vector(const std::vector<float>&, const Shape&);
template Tensor from_vector(const std::vector<double>&, const Shape&);
template Tensor from_vector(const std::vector<int64_t>&, const Shape&);
template Tensor from_vector(const std::vector<int32_t>&, const Shape&);
template Tensor from_vector(const std::vector<uint8_t>&, const Shape&);

}  // namespace cairn
