// GEMM on the CPU. float32 goes to oneDNN's matmul (brgemm JIT kernels) when oneDNN is built in and the product
// is large enough for threading to pay: on the training shapes (batch 32-64 against 128-1600 features) it runs at
// ~210 GFLOP/s on two cores where OpenBLAS reaches ~160, its threads synchronising on every panel. Small
// products and float64 stay with OpenBLAS (row-major CBLAS). At float32 matmul precision "medium" the operands
// of oneDNN-sized products are rounded to bfloat16 first and multiplied by its bf16 kernels (float32
// accumulation and output), where the CPU has them.
#include <cblas.h>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cairn/core/kernels/kernels.h"
#include "cairn/core/kernels/precision.h"
#include "cairn/core/kernels/threading.h"
#ifdef CAIRN_HAVE_DNNL
#include "cairn/core/kernels/cpu/dnnl_util.h"
#endif

namespace cairn::kernels::cpu {
namespace {

// Below this many multiply-adds a product is over before oneDNN's threads have started: it runs on the calling
// thread (the small kernel below, else OpenBLAS).
constexpr int64_t kDnnlMinWork = int64_t{1} << 18;

void blas_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda,
                const void* B, int64_t ldb, double beta, void* C, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, static_cast<float>(alpha), static_cast<const float*>(A), (blasint)lda,
              static_cast<const float*>(B), (blasint)ldb, static_cast<float>(beta), static_cast<float*>(C), (blasint)ldc);
}

#ifdef CAIRN_HAVE_DNNL
// A matmul primitive and the descriptors it was built for; bias is empty (zero) when it has none. `id` is unique
// to the primitive for the life of the process (run() keys its per-thread arguments by it).
struct DnnlMatmul {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, bias, c, scratch;
  uint64_t id = next_id();

  static uint64_t next_id() {
    static std::atomic<uint64_t> n{0};
    return n.fetch_add(1, std::memory_order_relaxed);
  }
};
using MatmulPtr = std::shared_ptr<const DnnlMatmul>;

// Null when oneDNN has no brgemm/JIT kernel for the case (padded leading dimensions get its plain sgemm, no faster
// than OpenBLAS's), and for bfloat16 operands unless the kernel is one of its native bf16 ones (AVX-512 BF16,
// AMX): an emulated bf16 product would be slower than float32.
MatmulPtr make_matmul(const dnnl::memory::desc& a, const dnnl::memory::desc& b, const dnnl::memory::desc& bias,
                      const dnnl::memory::desc& c, dnnl::primitive_attr attr) {
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  try {
    const bool with_bias = bias.get_size() != 0;
    dnnl::matmul::primitive_desc pd(with_bias ? dnnl::matmul::desc(a, b, bias, c) : dnnl::matmul::desc(a, b, c), attr,
                                    dnnl_engine());
    const std::string_view impl = pd.impl_info_str();
    if (!dnnl_is_jit(impl.data())) return nullptr;
    if (a.data_type() == dnnl::memory::data_type::bf16 && impl.find("bf16") == impl.npos &&
        impl.find("amx") == impl.npos)
      return nullptr;
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

// Runs a primitive on this thread. Its memory objects and argument map are made once per thread and primitive and
// pointed at each call's buffers; the stream once per thread. Making them for every call (five memory objects, a
// map and a stream, each allocated) cost a few microseconds, and a GPT step makes ~100 calls.
void run(const DnnlMatmul& m, const void* a, const void* b, const void* bias, void* c) {
  struct Args {
    std::unordered_map<int, dnnl::memory> map;
  };
  thread_local dnnl::stream stream(dnnl_engine());
  thread_local std::unordered_map<uint64_t, Args> per_primitive;
  auto& eng = dnnl_engine();
  Tensor pad = dnnl_scratch(m.scratch.get_size());
  auto it = per_primitive.find(m.id);
  if (it == per_primitive.end()) {
    if (per_primitive.size() >= 4096) per_primitive.clear();  // primitives of past shapes (variable lengths)
    Args fresh;
    fresh.map = {{DNNL_ARG_SRC, dnnl::memory(m.a, eng, const_cast<void*>(a))},
                 {DNNL_ARG_WEIGHTS, dnnl::memory(m.b, eng, const_cast<void*>(b))},
                 {DNNL_ARG_DST, dnnl::memory(m.c, eng, c)},
                 {DNNL_ARG_SCRATCHPAD, dnnl::memory(m.scratch, eng, pad.raw_data())}};
    if (bias) fresh.map[DNNL_ARG_BIAS] = dnnl::memory(m.bias, eng, const_cast<void*>(bias));
    it = per_primitive.emplace(m.id, std::move(fresh)).first;
  } else {
    auto& map = it->second.map;
    map.at(DNNL_ARG_SRC).set_data_handle(const_cast<void*>(a));
    map.at(DNNL_ARG_WEIGHTS).set_data_handle(const_cast<void*>(b));
    map.at(DNNL_ARG_DST).set_data_handle(c);
    map.at(DNNL_ARG_SCRATCHPAD).set_data_handle(pad.raw_data());
    if (bias) map.at(DNNL_ARG_BIAS).set_data_handle(const_cast<void*>(bias));
  }
  m.prim.execute(stream, it->second.map);
  stream.wait();
}

using dims = dnnl::memory::dims;
constexpr auto kF32 = dnnl::memory::data_type::f32;
constexpr auto kBF16 = dnnl::memory::data_type::bf16;

// float32 -> bfloat16 rounded to nearest even, NaN kept a (quiet) NaN: how oneDNN and PyTorch round.
inline uint16_t bf16_bits(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>((u & 0x7fffffffu) > 0x7f800000u ? (u >> 16) | 0x40u : rounded);
}

// A rows x cols float32 matrix with leading dimension ld, as a dense bfloat16 one (leading dimension cols). With
// AVX-512 BF16 (every CPU whose oneDNN bf16 kernels this path uses has it) 16 at a time by the instruction, which
// rounds the same way except that it flushes float32 denormals to zero, as bf16 hardware does.
void to_bf16(const float* src, int64_t rows, int64_t cols, int64_t ld, uint16_t* dst) {
  parallel_for(0, rows, std::max<int64_t>(1, (int64_t{1} << 14) / cols), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float* s = src + r * ld;
      uint16_t* d = dst + r * cols;
      int64_t c = 0;
#if defined(__AVX512BF16__)
      for (; c + 32 <= cols; c += 32) {
        const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + c + 16), _mm512_loadu_ps(s + c));
        _mm512_storeu_si512(d + c, reinterpret_cast<const __m512i&>(v));
      }
      for (; c + 16 <= cols; c += 16) {
        const __m256bh v = _mm512_cvtneps_pbh(_mm512_loadu_ps(s + c));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + c), reinterpret_cast<const __m256i&>(v));
      }
#endif
      for (; c < cols; ++c) d[c] = bf16_bits(s[c]);
    }
  });
}

// bfloat16 copies of float32 operands, in one scratch block; `at(i)` is the i-th operand's.
struct Bf16Operands {
  Tensor block;
  std::array<int64_t, 2> offset{};
  uint16_t* at(int i) { return static_cast<uint16_t*>(block.raw_data()) + offset[i]; }
};

// Two operands given as (data, rows, cols, leading dimension) of their storage.
Bf16Operands bf16_operands(const void* a, int64_t ar, int64_t ac, int64_t lda, const void* b, int64_t br, int64_t bc,
                           int64_t ldb) {
  Bf16Operands ops;
  ops.offset[1] = (ar * ac + 31) / 32 * 32;  // 64-byte aligned second operand
  ops.block = dnnl_scratch(2 * static_cast<size_t>(ops.offset[1] + br * bc));
  to_bf16(static_cast<const float*>(a), ar, ac, lda, ops.at(0));
  to_bf16(static_cast<const float*>(b), br, bc, ldb, ops.at(1));
  return ops;
}

bool use_bf16() { return float32_matmul_precision() == MatmulPrecision::medium; }

// build(), for a primitive that one thread runs by itself when one_thread: oneDNN sizes a primitive's work split
// from the thread count when it is created, so the count is 1 while it is. Products called inside a parallel
// region (a part of a data-parallel step, a row block of a split product) run on their thread alone.
template <class Build>
MatmulPtr built_for(bool one_thread, const Build& build) {
  if (!one_thread) return build();
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  MatmulPtr m = build();
  omp_set_num_threads(saved);
  return m;
}

// C = alpha op(A) op(B) + beta C: alpha as an output scale, beta as a sum post-op. With bf16, A and B are dense
// bfloat16 copies (leading dimensions their widths; lda and ldb then describe the float32 originals).
MatmulPtr gemm_for(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, int64_t lda, int64_t ldb,
                   float beta, int64_t ldc, bool bf16, bool one_thread = false) {
  static MatmulCache<12> cache;
  if (bf16) lda = ta ? M : K, ldb = tb ? K : N;
  return cache.get({ta, tb, M, N, K, lda, ldb, ldc, std::bit_cast<int32_t>(alpha), std::bit_cast<int32_t>(beta), bf16,
                    one_thread},
                   [&] { return built_for(one_thread, [&] {
    dnnl::primitive_attr attr;
    if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
    if (beta != 0.0f) {
      dnnl::post_ops ops;
      ops.append_sum(beta);
      attr.set_post_ops(ops);
    }
    const auto in = bf16 ? kBF16 : kF32;
    return make_matmul(dnnl::memory::desc({M, K}, in, ta ? dims{1, lda} : dims{lda, 1}),
                       dnnl::memory::desc({K, N}, in, tb ? dims{1, ldb} : dims{ldb, 1}), dnnl::memory::desc(),
                       dnnl::memory::desc({M, N}, kF32, dims{ldc, 1}), attr);
  }); });
}

// y = x @ w^T + bias, relu: the bias and relu applied as the matmul writes y (no bias copy before, no pass after).
// With bf16, x and w are dense bfloat16 copies (ldx then describes the float32 x).
MatmulPtr linear_for(int64_t M, int64_t N, int64_t K, int64_t ldx, bool bias, bool relu, bool bf16,
                     bool one_thread = false) {
  static MatmulCache<8> cache;
  if (bf16) ldx = K;
  return cache.get({M, N, K, ldx, bias, relu, bf16, one_thread}, [&] { return built_for(one_thread, [&] {
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    const auto in = bf16 ? kBF16 : kF32;
    return make_matmul(dnnl::memory::desc({M, K}, in, dims{ldx, 1}), dnnl::memory::desc({K, N}, in, dims{1, K}),
                       bias ? dnnl::memory::desc({1, N}, kF32, dims{N, 1}) : dnnl::memory::desc(),
                       dnnl::memory::desc({M, N}, kF32, dims{N, 1}), attr);
  }); });
}

// float32 products on several threads run as one single-threaded primitive per thread over a block of C's rows
// (and of op(A)'s) instead of one primitive sharing its blocks between the threads: oneDNN splits these
// 768-row products unevenly over two threads (gpt_bench gemms: qkv's forward 0.27 ms on two threads against 0.37 on
// one), while halves of the rows are independent products of equal cost. Each row of C is computed as before.
struct RowSplit {
  int parts = 1;
  int64_t rows = 0, last = 0;  // rows of each part but the last, and of the last
  MatmulPtr body, tail;         // their primitives
};

template <class For>
RowSplit row_split(int64_t M, const For& primitive_for) {
  RowSplit sp;
  const int nt = num_threads();
  // At least 64 rows a part: a 64-row product (an MLP's batch) runs faster as oneDNN splits it (by columns).
  if (nt <= 1 || omp_in_parallel() || M < 64 * nt) return sp;
  const int64_t rows = (M + nt - 1) / nt;
  sp.rows = (rows + 7) / 8 * 8;  // a multiple of 8 rows per part
  sp.last = M - (nt - 1) * sp.rows;
  if (sp.last <= 0) return sp;
  sp.body = primitive_for(sp.rows);
  sp.tail = sp.last == sp.rows ? sp.body : primitive_for(sp.last);
  if (sp.body && sp.tail) sp.parts = nt;
  return sp;
}

// Runs part p (rows [p * sp.rows, ...)) of a split product on each thread: f(primitive, first row).
template <class F>
void run_split(const RowSplit& sp, const F& f) {
  parallel_for(0, sp.parts, 1, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) f(p == sp.parts - 1 ? *sp.tail : *sp.body, p * sp.rows);
  });
}


bool linear_f32(int64_t M, int64_t N, int64_t K, const void* x, int64_t ldx, const void* w, const void* bias, void* y,
                bool relu) {
  if (M * N * K < kDnnlMinWork) return false;
  if (use_bf16()) {
    if (const MatmulPtr m = linear_for(M, N, K, ldx, bias != nullptr, relu, true, omp_in_parallel())) {
      Bf16Operands ops = bf16_operands(x, M, K, ldx, w, N, K, K);
      run(*m, ops.at(0), ops.at(1), bias, y);
      return true;
    }
  }
  const RowSplit sp = row_split(M, [&](int64_t rows) {
    return linear_for(rows, N, K, ldx, bias != nullptr, relu, false, true);
  });
  if (sp.parts > 1) {
    run_split(sp, [&](const DnnlMatmul& m, int64_t m0) {
      run(m, static_cast<const float*>(x) + m0 * ldx, w, bias, static_cast<float*>(y) + m0 * N);
    });
    return true;
  }
  const MatmulPtr m = linear_for(M, N, K, ldx, bias != nullptr, relu, false, omp_in_parallel());
  if (!m) return false;
  run(*m, x, w, bias, y);
  return true;
}
#endif

#if defined(__AVX512F__)
// Products below oneDNN's threshold (attention tiles of 16 x 64 x 32, small layers): OpenBLAS spends longer
// allocating and packing these than multiplying. Here C[i, n] = alpha sum_k A(i, k) B(k, n) + beta C[i, n] with
// R rows of C by V vectors of 16 columns held in registers while k streams; A(i, k) is read at
// a + i * a_rs + k * a_ks (either layout), B row-major with leading dimension ldb. beta 0 never reads C.
template <int R, int V>
void small_block(int64_t K, const float* a, int64_t a_rs, int64_t a_ks, const float* b, int64_t ldb, int64_t n,
                 float alpha, float beta, float* c, int64_t ldc) {
  __m512 acc[R][V];
  __mmask16 mask[V];
  for (int v = 0; v < V; ++v) {
    const int64_t w = std::clamp<int64_t>(n - 16 * v, 0, 16);
    mask[v] = static_cast<__mmask16>((1u << w) - 1);
    for (int r = 0; r < R; ++r) acc[r][v] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < K; ++k) {
    __m512 bv[V];
    for (int v = 0; v < V; ++v) bv[v] = _mm512_maskz_loadu_ps(mask[v], b + k * ldb + 16 * v);
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * a_rs + k * a_ks]);
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
  const __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < V; ++v) {
      float* cp = c + r * ldc + 16 * v;
      __m512 out = _mm512_mul_ps(al, acc[r][v]);
      if (beta != 0.0f) out = _mm512_fmadd_ps(be, _mm512_maskz_loadu_ps(mask[v], cp), out);
      _mm512_mask_storeu_ps(cp, mask[v], out);
    }
}

template <int V>
void small_rows(int64_t M, int64_t K, const float* a, int64_t a_rs, int64_t a_ks, const float* b, int64_t ldb,
                int64_t n, float alpha, float beta, float* c, int64_t ldc) {
  int64_t i = 0;
  // Narrow products (one or two vectors of columns: attention's 32-wide heads) take 8 rows a block, so that each
  // k step's loads of B feed 8 or 16 FMAs instead of 4 or 8.
  if constexpr (V <= 2)
    for (; i + 8 <= M; i += 8)
      small_block<8, V>(K, a + i * a_rs, a_rs, a_ks, b, ldb, n, alpha, beta, c + i * ldc, ldc);
  for (; i + 4 <= M; i += 4) small_block<4, V>(K, a + i * a_rs, a_rs, a_ks, b, ldb, n, alpha, beta, c + i * ldc, ldc);
  for (; i < M; ++i) small_block<1, V>(K, a + i * a_rs, a_rs, a_ks, b, ldb, n, alpha, beta, c + i * ldc, ldc);
}

// C = alpha A B^T + beta C for a few rows of A (a token at a time through a Dense layer, or a query against a
// KV cache): both operands are contiguous along k, so each C[i, n] is a dot product, four columns at a time.
void small_dots(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                int64_t ldb, float beta, float* C, int64_t ldc) {
  const int64_t tail = K % 16;
  const __mmask16 tail_mask = static_cast<__mmask16>((1u << tail) - 1);
  for (int64_t i = 0; i < M; ++i) {
    const float* a = A + i * lda;
    float* c = C + i * ldc;
    auto finish = [&](int64_t n, float dot) { c[n] = alpha * dot + (beta != 0.0f ? beta * c[n] : 0.0f); };
    int64_t n = 0;
    for (; n + 4 <= N; n += 4) {
      const float* b = B + n * ldb;
      __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
      int64_t k = 0;
      for (; k + 16 <= K; k += 16) {
        const __m512 av = _mm512_loadu_ps(a + k);
        s0 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + k), s0);
        s1 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + ldb + k), s1);
        s2 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 2 * ldb + k), s2);
        s3 = _mm512_fmadd_ps(av, _mm512_loadu_ps(b + 3 * ldb + k), s3);
      }
      if (tail) {
        const __m512 av = _mm512_maskz_loadu_ps(tail_mask, a + k);
        s0 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(tail_mask, b + k), s0);
        s1 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(tail_mask, b + ldb + k), s1);
        s2 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(tail_mask, b + 2 * ldb + k), s2);
        s3 = _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(tail_mask, b + 3 * ldb + k), s3);
      }
      finish(n, _mm512_reduce_add_ps(s0));
      finish(n + 1, _mm512_reduce_add_ps(s1));
      finish(n + 2, _mm512_reduce_add_ps(s2));
      finish(n + 3, _mm512_reduce_add_ps(s3));
    }
    for (; n < N; ++n) {
      const float* b = B + n * ldb;
      __m512 s0 = _mm512_setzero_ps();
      int64_t k = 0;
      for (; k + 16 <= K; k += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + k), _mm512_loadu_ps(b + k), s0);
      if (tail) s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail_mask, a + k), _mm512_maskz_loadu_ps(tail_mask, b + k), s0);
      finish(n, _mm512_reduce_add_ps(s0));
    }
  }
}

void small_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  // B^T is packed to K x N rows first, into a buffer kept per thread.
  if (tb) {
    thread_local std::vector<float> packed;
    if (packed.size() < static_cast<size_t>(K * N)) packed.resize(static_cast<size_t>(K * N));
    float* p = packed.data();
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k) p[k * N + n] = B[n * ldb + k];
    B = p;
    ldb = N;
  }
  const int64_t a_rs = ta ? 1 : lda, a_ks = ta ? lda : 1;
  for (int64_t n0 = 0; n0 < N; n0 += 64) {
    const int64_t n = std::min<int64_t>(64, N - n0);
    const float* b = B + n0;
    float* c = C + n0;
    switch ((n + 15) / 16) {
      case 1: small_rows<1>(M, K, A, a_rs, a_ks, b, ldb, n, alpha, beta, c, ldc); break;
      case 2: small_rows<2>(M, K, A, a_rs, a_ks, b, ldb, n, alpha, beta, c, ldc); break;
      case 3: small_rows<3>(M, K, A, a_rs, a_ks, b, ldb, n, alpha, beta, c, ldc); break;
      default: small_rows<4>(M, K, A, a_rs, a_ks, b, ldb, n, alpha, beta, c, ldc); break;
    }
  }
}
#endif

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda, const void* B,
           int64_t ldb, double beta, void* C, int64_t ldc) {
#ifdef CAIRN_HAVE_DNNL
  if (M * N * K >= kDnnlMinWork) {
    const float a = static_cast<float>(alpha), b = static_cast<float>(beta);
    if (use_bf16()) {
      if (const MatmulPtr m = gemm_for(ta, tb, M, N, K, a, lda, ldb, b, ldc, true, omp_in_parallel())) {
        Bf16Operands ops = bf16_operands(A, ta ? K : M, ta ? M : K, lda, B, tb ? N : K, tb ? K : N, ldb);
        run(*m, ops.at(0), ops.at(1), nullptr, C);
        return;
      }
    }
    const RowSplit sp = row_split(M, [&](int64_t rows) {
      return gemm_for(ta, tb, rows, N, K, a, lda, ldb, b, ldc, false, true);
    });
    if (sp.parts > 1) {
      const int64_t a_row = ta ? 1 : lda;  // elements between rows of op(A)
      run_split(sp, [&](const DnnlMatmul& m, int64_t m0) {
        run(m, static_cast<const float*>(A) + m0 * a_row, B, nullptr, static_cast<float*>(C) + m0 * ldc);
      });
      return;
    }
    const MatmulPtr m = gemm_for(ta, tb, M, N, K, a, lda, ldb, b, ldc, false, omp_in_parallel());
    if (m) {
      run(*m, A, B, nullptr, C);
      return;
    }
  }
#endif
#if defined(__AVX512F__)
  // With B transposed the blocked kernel packs it first (K * N copies): worth it from 16 rows of C (attention
  // tiles); fewer rows (a token at a time through a Dense layer) are dot products.
  if (M * N * K < kDnnlMinWork && K > 0 && tb && !ta && M < 16) {
    small_dots(M, N, K, static_cast<float>(alpha), static_cast<const float*>(A), lda, static_cast<const float*>(B),
               ldb, static_cast<float>(beta), static_cast<float*>(C), ldc);
    return;
  }
  if (M * N * K < kDnnlMinWork && K > 0 && (!tb || M >= 16)) {
    small_sgemm(ta, tb, M, N, K, static_cast<float>(alpha), static_cast<const float*>(A), lda,
                static_cast<const float*>(B), ldb, static_cast<float>(beta), static_cast<float*>(C), ldc);
    return;
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

namespace cairn {
bool bf16_matmul_available() {
#ifdef CAIRN_HAVE_DNNL
  static const bool ok = kernels::cpu::gemm_for(false, false, 64, 64, 64, 1.0f, 64, 64, 0.0f, 64, true) != nullptr;
  return ok;
#else
  return false;
#endif
}
}  // namespace cairn
