#include "cairn/core/kernels/precision.h"

#include <atomic>
#include <string>

#include "cairn/core/tensor/error.h"

namespace cairn {
namespace {
std::atomic<MatmulPrecision> g_precision{MatmulPrecision::highest};
}

void set_float32_matmul_precision(MatmulPrecision p) { g_precision.store(p, std::memory_order_relaxed); }

void set_float32_matmul_precision(std::string_view name) {
  for (MatmulPrecision p : {MatmulPrecision::highest, MatmulPrecision::high, MatmulPrecision::medium}) {
    if (name == to_string(p)) return set_float32_matmul_precision(p);
  }
  throw ValueError("float32 matmul precision '" + std::string(name) +
                   "' is not one of highest, high, medium (medium: bfloat16 operands, float32 accumulation)");
}

MatmulPrecision float32_matmul_precision() { return g_precision.load(std::memory_order_relaxed); }

const char* to_string(MatmulPrecision p) {
  switch (p) {
    case MatmulPrecision::highest: return "highest";
    case MatmulPrecision::high: return "high";
    case MatmulPrecision::medium: return "medium";
  }
  return "?";
}

}  // namespace cairn
