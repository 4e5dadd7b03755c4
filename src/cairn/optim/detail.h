// Helpers shared by the optimizer implementations (not part of the public API).
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"
#include "cairn/optim/optimizer.h"

namespace cairn::optim::detail {

// Elements per parallel chunk: an update streams 3-5 arrays, so below ~16k elements one thread is
// faster than waking the pool.
inline constexpr int64_t kGrain = int64_t{1} << 14;

// Runs f(begin, end) over [0, n) in parallel chunks. Each element's update reads and writes only
// element i, so the result does not depend on the split.
template <class F>
void for_chunks(int64_t n, const F& f) {
  cairn::parallel_for(0, n, kGrain, f);
}

// Calls f(T{}) with T = float or double, the parameter's element type.
template <class F>
void dispatch(DType dtype, const F& f) {
  if (dtype == DType::f64) f(double{});
  else f(float{});
}

// The state buffer `name` of a parameter; created (filled with `init`, same shape and dtype as the
// parameter) when missing, in which case *created is set to true.
inline Tensor& state_buffer(ParamState& st, const std::string& name, const Tensor& param, double init,
                            bool* created = nullptr) {
  auto it = st.buffers.find(name);
  if (it != st.buffers.end()) return it->second;
  if (created) *created = true;
  return st.buffers[name] = full(param.shape(), init, param.dtype());
}

// Reads a hyper-parameter saved as 0/1.
inline bool as_bool(double v) { return v != 0.0; }

}  // namespace cairn::optim::detail
