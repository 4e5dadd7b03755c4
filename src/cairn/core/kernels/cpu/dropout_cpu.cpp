// CPU dropout: one uniform draw per element, in element order, from the caller's generator, so a mask
// depends only on the generator's state (never on the thread count) and a resumed run redraws it exactly.
#include "cairn/core/kernels/kernels.h"

namespace cairn::kernels::cpu {
namespace {

// x (n) -> mask (n) = keep ? 1 / (1 - p) : 0, out (n) = x * mask; keep = gen.uniform() >= p.
template <class T>
void dropout_kernel(const Tensor& xt, const Tensor& maskt, const Tensor& outt, double p, Generator& gen) {
  const T* x = static_cast<const T*>(xt.raw_data());
  T* mask = static_cast<T*>(maskt.raw_data());
  T* out = static_cast<T*>(outt.raw_data());
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  const int64_t n = xt.numel();
  for (int64_t i = 0; i < n; ++i) {
    const T m = gen.uniform() >= p ? scale : T(0);
    mask[i] = m;
    out[i] = x[i] * m;
  }
}

}  // namespace

void register_dropout() {
  registry_table<DropoutKernel>("dropout").set(DeviceType::CPU, DType::f32, dropout_kernel<float>);
  registry_table<DropoutKernel>("dropout").set(DeviceType::CPU, DType::f64, dropout_kernel<double>);
}

}  // namespace cairn::kernels::cpu
