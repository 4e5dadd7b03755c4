// What every oneDNN-backed CPU kernel shares: one CPU engine, and scratch memory from Cairn's caching allocator
// (primitives are built with scratchpad_mode::user so that a training step allocates nothing after the first).
// Internal to kernels/cpu; include only under CAIRN_HAVE_DNNL.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>
#include <string_view>

#include "cairn/core/tensor/tensor.h"

namespace cairn::kernels::cpu {

inline dnnl::engine& dnnl_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// At least n bytes, 4-byte aligned and more (the allocator aligns to 64).
inline Tensor dnnl_scratch(size_t n) { return Tensor::empty({static_cast<int64_t>((n + 3) / 4 + 1)}, DType::f32); }

inline bool dnnl_is_jit(const char* impl) {
  return std::string_view(impl).starts_with("jit") || std::string_view(impl).starts_with("brg");
}

}  // namespace cairn::kernels::cpu
