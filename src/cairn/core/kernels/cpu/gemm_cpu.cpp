// GEMM on the CPU. float32 goes to oneDNN's matmul (brgemm JIT kernels) when oneDNN is built in and the product
// is large enough for threading to pay: on the training shapes (batch 32-64 against 128-1600 features) it runs at
// ~210 GFLOP/s on two cores where OpenBLAS reaches ~160, its threads synchronising on every panel. Small
// products and float64 stay with OpenBLAS (row-major CBLAS).
#include <cblas.h>

#include <array>
#include <bit>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "cairn/core/kernels/kernels.h"
#ifdef CAIRN_HAVE_DNNL
#include "cairn/core/kernels/cpu/dnnl_util.h"
#endif

namespace cairn::kernels::cpu {
namespace {

void blas_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda,
                const void* B, int64_t ldb, double beta, void* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, static_cast<float>(alpha), static_cast<const float*>(A), (blasint)lda,
              static_cast<const float*>(B), (blasint)ldb, static_cast<float>(beta), static_cast<float*>(C), (blasint)ldc);
}

#ifdef CAIRN_HAVE_DNNL
// A matmul primitive and the descriptors it was built for; bias is empty (zero) when it has none.
struct DnnlMatmul {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, bias, c, scratch;
};
using MatmulPtr = std::shared_ptr<const DnnlMatmul>;

// Null when oneDNN has no brgemm/JIT kernel for the case (padded leading dimensions get its plain sgemm, no faster
// than OpenBLAS's).
MatmulPtr make_matmul(const dnnl::memory::desc& a, const dnnl::memory::desc& b, const dnnl::memory::desc& bias,
                      const dnnl::memory::desc& c, dnnl::primitive_attr attr) {
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  try {
    const bool with_bias = bias.get_size() != 0;
    dnnl::matmul::primitive_desc pd(with_bias ? dnnl::matmul::desc(a, b, bias, c) : dnnl::matmul::desc(a, b, c), attr,
                                    dnnl_engine());
    if (!dnnl_is_jit(pd.impl_info_str())) return nullptr;
    return std::make_shared<const DnnlMatmul>(DnnlMatmul{dnnl::matmul(pd), a, b, bias, c, pd.scratchpad_desc()});
  } catch (const dnnl::error&) {
    return nullptr;
  }
}

// Primitives built once per key and kept (a cache per call site; started over past 1024 shapes, as variable-length
// inference can make many).
template <size_t N>
class MatmulCache {
 public:
  template <class Build>
  MatmulPtr get(const std::array<int64_t, N>& key, const Build& build) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    if (cache_.size() >= 1024) cache_.clear();
    return cache_[key] = build();
  }

 private:
  std::mutex mu_;
  std::map<std::array<int64_t, N>, MatmulPtr> cache_;
};

void run(const DnnlMatmul& m, const void* a, const void* b, const void* bias, void* c) {
  auto& eng = dnnl_engine();
  Tensor pad = dnnl_scratch(m.scratch.get_size());
  std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, dnnl::memory(m.a, eng, const_cast<void*>(a))},
                                                {DNNL_ARG_WEIGHTS, dnnl::memory(m.b, eng, const_cast<void*>(b))},
                                                {DNNL_ARG_DST, dnnl::memory(m.c, eng, c)},
                                                {DNNL_ARG_SCRATCHPAD, dnnl::memory(m.scratch, eng, pad.raw_data())}};
  if (bias) args[DNNL_ARG_BIAS] = dnnl::memory(m.bias, eng, const_cast<void*>(bias));
  dnnl::stream s(eng);
  m.prim.execute(s, args);
  s.wait();
}

using dims = dnnl::memory::dims;
constexpr auto kF32 = dnnl::memory::data_type::f32;

// C = alpha op(A) op(B) + beta C: alpha as an output scale, beta as a sum post-op.
MatmulPtr gemm_for(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, int64_t lda, int64_t ldb,
                   float beta, int64_t ldc) {
  static MatmulCache<10> cache;
  return cache.get({ta, tb, M, N, K, lda, ldb, ldc, std::bit_cast<int32_t>(alpha), std::bit_cast<int32_t>(beta)}, [&] {
    dnnl::primitive_attr attr;
    if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
    if (beta != 0.0f) {
      dnnl::post_ops ops;
      ops.append_sum(beta);
      attr.set_post_ops(ops);
    }
    return make_matmul(dnnl::memory::desc({M, K}, kF32, ta ? dims{1, lda} : dims{lda, 1}),
                       dnnl::memory::desc({K, N}, kF32, tb ? dims{1, ldb} : dims{ldb, 1}), dnnl::memory::desc(),
                       dnnl::memory::desc({M, N}, kF32, dims{ldc, 1}), attr);
  });
}

// y = x @ w^T + bias, relu: the bias and relu applied as the matmul writes y (no bias copy before, no pass after).
MatmulPtr linear_for(int64_t M, int64_t N, int64_t K, int64_t ldx, bool bias, bool relu) {
  static MatmulCache<6> cache;
  return cache.get({M, N, K, ldx, bias, relu}, [&] {
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    return make_matmul(dnnl::memory::desc({M, K}, kF32, dims{ldx, 1}), dnnl::memory::desc({K, N}, kF32, dims{1, K}),
                       bias ? dnnl::memory::desc({1, N}, kF32, dims{N, 1}) : dnnl::memory::desc(),
                       dnnl::memory::desc({M, N}, kF32, dims{N, 1}), attr);
  });
}

// Below this many multiply-adds a product is over before oneDNN's threads have started; OpenBLAS runs it.
constexpr int64_t kDnnlMinWork = int64_t{1} << 18;

bool linear_f32(int64_t M, int64_t N, int64_t K, const void* x, int64_t ldx, const void* w, const void* bias, void* y,
                bool relu) {
  if (M * N * K < kDnnlMinWork) return false;
  const MatmulPtr m = linear_for(M, N, K, ldx, bias != nullptr, relu);
  if (!m) return false;
  run(*m, x, w, bias, y);
  return true;
}
#endif

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda, const void* B,
           int64_t ldb, double beta, void* C, int64_t ldc) {
#ifdef CAIRN_HAVE_DNNL
  if (M * N * K >= kDnnlMinWork) {
    const MatmulPtr m = gemm_for(ta, tb, M, N, K, static_cast<float>(alpha), lda, ldb, static_cast<float>(beta), ldc);
    if (m) {
      run(*m, A, B, nullptr, C);
      return;
    }
  }
#endif
  blas_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
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
#ifdef CAIRN_HAVE_DNNL
  registry_table<LinearKernel>("linear").set(DeviceType::CPU, DType::f32, linear_f32);
#endif
}

}  // namespace cairn::kernels::cpu
