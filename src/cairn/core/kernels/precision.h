// How float32 matrix products may be computed, process-wide, as PyTorch's torch.set_float32_matmul_precision.
//   highest  (default) every product in float32.
//   high     as highest on the CPU (PyTorch's "high" means TF32 or bf16x3, which CPUs here do not offer).
//   medium   products big enough for oneDNN round their two operands to bfloat16 and accumulate in float32
//            (output, bias and everything outside the product stay float32): about twice the throughput on
//            CPUs with AVX-512 BF16 or AMX, at bfloat16's 8-bit mantissa for each operand. On CPUs without
//            them it falls back to float32, so results never depend on which CPU silently emulated what.
// Parameters, optimizer state and every other op stay float32 whatever the setting: this is mixed-precision
// training's matmul half (Keras's "mixed_bfloat16" policy, torch.autocast(dtype=bfloat16) on linear layers).
#pragma once
#include <string_view>

namespace cairn {

enum class MatmulPrecision { highest, high, medium };

void set_float32_matmul_precision(MatmulPrecision p);
// "highest", "high" or "medium"; anything else is a ValueError naming the three.
void set_float32_matmul_precision(std::string_view name);
MatmulPrecision float32_matmul_precision();
const char* to_string(MatmulPrecision p);

// True when float32 products at precision medium really run in bfloat16 on this CPU.
bool bf16_matmul_available();

}  // namespace cairn
