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
// One matmul primitive per (transposes, sizes, leading dimensions, alpha, beta), built once and cached; null
// when oneDNN has no brgemm/JIT kernel for the case (padded leading dimensions get its plain sgemm, no faster than
// OpenBLAS's).
struct DnnlGemm {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, c, bias, scratch;
};

std::shared_ptr<const DnnlGemm> build_dnnl_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                                                int64_t lda, int64_t ldb, float beta, int64_t ldc) {
  using md = dnnl::memory::desc;
  using dims = dnnl::memory::dims;
  auto g = std::make_shared<DnnlGemm>();
  g->a = md({M, K}, dnnl::memory::data_type::f32, ta ? dims{1, lda} : dims{lda, 1});
  g->b = md({K, N}, dnnl::memory::data_type::f32, tb ? dims{1, ldb} : dims{ldb, 1});
  g->c = md({M, N}, dnnl::memory::data_type::f32, dims{ldc, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  try {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(g->a, g->b, g->c), attr, dnnl_engine());
    if (!dnnl_is_jit(pd.impl_info_str())) return nullptr;
    g->scratch = pd.scratchpad_desc();
    g->prim = dnnl::matmul(pd);
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return g;
}

std::shared_ptr<const DnnlGemm> dnnl_gemm_for(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                                              int64_t lda, int64_t ldb, float beta, int64_t ldc) {
  using Key = std::array<int64_t, 10>;
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<const DnnlGemm>> cache;
  const Key k = {ta, tb, M, N, K, lda, ldb, ldc, std::bit_cast<int32_t>(alpha), std::bit_cast<int32_t>(beta)};
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(k);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 1024) cache.clear();  // many shapes (variable-length inference): start over
  auto g = build_dnnl_gemm(ta, tb, M, N, K, alpha, lda, ldb, beta, ldc);
  cache.emplace(k, g);
  return g;
}

// Below this many multiply-adds a product is over before oneDNN's threads have started; OpenBLAS runs it.
constexpr int64_t kDnnlMinWork = int64_t{1} << 18;

// y = x @ w^T + bias, relu: one matmul primitive with the bias and relu applied as it writes y (no bias copy
// before, no pass over y after), cached per (sizes, row stride, bias, relu).
std::shared_ptr<const DnnlGemm> dnnl_linear_for(int64_t M, int64_t N, int64_t K, int64_t ldx, bool bias, bool relu) {
  using Key = std::array<int64_t, 6>;
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<const DnnlGemm>> cache;
  const Key k = {M, N, K, ldx, bias, relu};
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(k);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 1024) cache.clear();
  using dims = dnnl::memory::dims;
  const auto f32 = dnnl::memory::data_type::f32;
  auto g = std::make_shared<DnnlGemm>();
  g->a = dnnl::memory::desc({M, K}, f32, dims{ldx, 1});
  g->b = dnnl::memory::desc({K, N}, f32, dims{1, K});
  g->c = dnnl::memory::desc({M, N}, f32, dims{N, 1});
  g->bias = dnnl::memory::desc({1, N}, f32, dims{N, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  try {
    dnnl::matmul::primitive_desc pd(bias ? dnnl::matmul::desc(g->a, g->b, g->bias, g->c)
                                         : dnnl::matmul::desc(g->a, g->b, g->c),
                                    attr, dnnl_engine());
    if (dnnl_is_jit(pd.impl_info_str())) {
      g->scratch = pd.scratchpad_desc();
      g->prim = dnnl::matmul(pd);
    } else {
      g = nullptr;
    }
  } catch (const dnnl::error&) {
    g = nullptr;
  }
  cache.emplace(k, g);
  return g;
}

bool linear_f32(int64_t M, int64_t N, int64_t K, const void* x, int64_t ldx, const void* w, const void* bias, void* y,
                bool relu) {
  if (M * N * K < kDnnlMinWork) return false;
  auto g = dnnl_linear_for(M, N, K, ldx, bias != nullptr, relu);
  if (!g) return false;
  auto& eng = dnnl_engine();
  Tensor pad = dnnl_scratch(g->scratch.get_size());
  dnnl::stream s(eng);
  std::unordered_map<int, dnnl::memory> args = {{DNNL_ARG_SRC, dnnl::memory(g->a, eng, const_cast<void*>(x))},
                                                {DNNL_ARG_WEIGHTS, dnnl::memory(g->b, eng, const_cast<void*>(w))},
                                                {DNNL_ARG_DST, dnnl::memory(g->c, eng, y)},
                                                {DNNL_ARG_SCRATCHPAD, dnnl::memory(g->scratch, eng, pad.raw_data())}};
  if (bias) args[DNNL_ARG_BIAS] = dnnl::memory(g->bias, eng, const_cast<void*>(bias));
  g->prim.execute(s, args);
  s.wait();
  return true;
}
#endif

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda, const void* B,
           int64_t ldb, double beta, void* C, int64_t ldc) {
#ifdef CAIRN_HAVE_DNNL
  if (M * N * K >= kDnnlMinWork) {
    if (auto g = dnnl_gemm_for(ta, tb, M, N, K, static_cast<float>(alpha), lda, ldb, static_cast<float>(beta), ldc)) {
      auto& eng = dnnl_engine();
      Tensor pad = dnnl_scratch(g->scratch.get_size());
      dnnl::stream s(eng);
      g->prim.execute(s, {{DNNL_ARG_SRC, dnnl::memory(g->a, eng, const_cast<void*>(A))},
                          {DNNL_ARG_WEIGHTS, dnnl::memory(g->b, eng, const_cast<void*>(B))},
                          {DNNL_ARG_DST, dnnl::memory(g->c, eng, C)},
                          {DNNL_ARG_SCRATCHPAD, dnnl::memory(g->scratch, eng, pad.raw_data())}});
      s.wait();
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
