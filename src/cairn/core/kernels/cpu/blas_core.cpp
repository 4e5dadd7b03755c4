// OpenBLAS core selection. Debian's OpenBLAS (0.3.21, DYNAMIC_ARCH) picks its kernels from the CPU model
// number, and models newer than its table (e.g. family 6 model 207, Emerald Rapids) fall back to the
// SSE3-only "Prescott" kernels: FP32 GEMM runs 3x slower than the SkylakeX (AVX-512) kernels the CPU can run.
// When that fallback happened, the user did not choose a core (OPENBLAS_CORETYPE unset) and the CPU has the
// features the better kernels need, we re-run OpenBLAS's own core selection with that core named, exactly as
// setting OPENBLAS_CORETYPE before start-up would. Called once, before Cairn's first kernel runs.
#include <cblas.h>

#include <cstdlib>
#include <cstring>

// Present only in DYNAMIC_ARCH builds of OpenBLAS; weak so other builds link (and skip this).
extern "C" {
char* openblas_get_corename(void) __attribute__((weak));
void gotoblas_dynamic_init(void) __attribute__((weak));
void gotoblas_dynamic_quit(void) __attribute__((weak));
}

namespace cairn::kernels::cpu {

void select_blas_core() {
#if defined(__x86_64__)
  if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return;
  if (std::getenv("OPENBLAS_CORETYPE")) return;  // the user's choice stands
  const char* current = openblas_get_corename();
  if (!current || std::strcmp(current, "Prescott") != 0) return;
  __builtin_cpu_init();
  const char* better = nullptr;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512cd"))
    better = "SkylakeX";
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    better = "Haswell";
  if (!better) return;
  // OpenBLAS reads the variable only inside gotoblas_dynamic_init; it is removed again right after.
  setenv("OPENBLAS_CORETYPE", better, 1);
  gotoblas_dynamic_quit();
  gotoblas_dynamic_init();
  unsetenv("OPENBLAS_CORETYPE");
#endif
}

}  // namespace cairn::kernels::cpu
