// The one place that lists the CPU kernel families. A new family adds its register_* line here.
namespace cairn::kernels {
namespace cpu {
void register_elementwise();
void register_reduce();
void register_gemm();
void select_blas_core();
void register_conv();
void register_pool();
void register_softmax();
void register_norm();
void register_indexing();
void register_dropout();
void register_rnn();
void register_attention();
}  // namespace cpu

void register_cpu_kernels() {
  cpu::select_blas_core();  // before any BLAS call a kernel makes
  cpu::register_elementwise();
  cpu::register_reduce();
  cpu::register_gemm();
  cpu::register_conv();
  cpu::register_pool();
  cpu::register_softmax();
  cpu::register_norm();
  cpu::register_indexing();
  cpu::register_dropout();
  cpu::register_rnn();
  cpu::register_attention();
}

}  // namespace cairn::kernels
