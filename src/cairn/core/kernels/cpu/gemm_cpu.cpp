// GEMM on the CPU through OpenBLAS (row-major CBLAS).
#include <cblas.h>

#include "cairn/core/kernels/kernels.h"

namespace cairn::kernels::cpu {
namespace {

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda, const void* B,
           int64_t ldb, double beta, void* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, static_cast<float>(alpha), static_cast<const float*>(A), (blasint)lda,
              static_cast<const float*>(B), (blasint)ldb, static_cast<float>(beta), static_cast<float*>(C), (blasint)ldc);
}

void dgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda, const void* B,
           int64_t ldb, double beta, void* C, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, alpha, static_cast<const double*>(A), (blasint)lda, static_cast<const double*>(B),
              (blasint)ldb, beta, static_cast<double*>(C), (blasint)ldc);
}

}  // namespace

void register_gemm() {
  registry_table<GemmKernel>("gemm").set(DeviceType::CPU, DType::f32, sgemm);
  registry_table<GemmKernel>("gemm").set(DeviceType::CPU, DType::f64, dgemm);
}

}  // namespace cairn::kernels::cpu
