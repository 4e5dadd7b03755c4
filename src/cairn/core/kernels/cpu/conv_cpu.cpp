// 2-D convolution on the CPU: im2col + GEMM through the registered "gemm" kernel (OpenBLAS).
//
// Work is split over samples: each thread unrolls one sample at a time into a private column buffer small
// enough to stay in cache (conv2 of the reference CNN: 288 x 121 floats), then runs single-threaded GEMMs on
// it (see BlasSingleThreaded). A batch smaller than the thread count runs sample by sample with multi-threaded
// GEMMs instead.
// Backward reuses one buffer per thread for the columns (weight gradient) and then the column gradients
// (input gradient), so x is unrolled once per sample per backward.
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "cairn/core/kernels/cpu/conv_dnnl.h"
#include "cairn/core/kernels/kernels.h"
#include "cairn/core/kernels/threading.h"

namespace cairn::kernels::cpu {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }  // a >= 0, b > 0

// Outputs o in [lo, hi) read inside the input: 0 <= o * stride + off < size.
struct Span {
  int64_t lo, hi;
};
Span valid_span(int64_t off, int64_t stride, int64_t size, int64_t out) {
  int64_t lo = off >= 0 ? 0 : ceil_div(-off, stride);
  int64_t hi = size - off <= 0 ? 0 : ceil_div(size - off, stride);
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

// x: (C, H, W) of one sample -> col (C * KH * KW, OH * OW) =, rows of channels [c0, c1) only.
// Row (c, kh, kw), column (oh, ow) holds x[c, oh * sh - pad_top + kh * dh, ow * sw - pad_left + kw * dw], 0 outside.
template <class T>
void im2col(const T* x, T* col, const Conv2dGeometry& g, int64_t c0, int64_t c1) {
  const int64_t OHW = g.OH * g.OW;
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ih0 = kh * g.dil_h - g.pad_top;
      const Span hs = valid_span(ih0, g.stride_h, g.H, g.OH);
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t iw0 = kw * g.dil_w - g.pad_left;
        const Span ws = valid_span(iw0, g.stride_w, g.W, g.OW);
        T* dst = col + ((c * g.KH + kh) * g.KW + kw) * OHW;
        std::fill(dst, dst + hs.lo * g.OW, T(0));
        for (int64_t oh = hs.lo; oh < hs.hi; ++oh) {
          const T* row = x + (c * g.H + oh * g.stride_h + ih0) * g.W;
          T* d = dst + oh * g.OW;
          std::fill(d, d + ws.lo, T(0));
          if (g.stride_w == 1) {
            std::memcpy(d + ws.lo, row + ws.lo + iw0, static_cast<size_t>(ws.hi - ws.lo) * sizeof(T));
          } else {
            for (int64_t ow = ws.lo; ow < ws.hi; ++ow) d[ow] = row[ow * g.stride_w + iw0];
          }
          std::fill(d + ws.hi, d + g.OW, T(0));
        }
        std::fill(dst + hs.hi * g.OW, dst + OHW, T(0));
      }
    }
}

// The adjoint of im2col: x (C, H, W) += col (C * KH * KW, OH * OW), channels [c0, c1) only.
template <class T>
void col2im(const T* col, T* x, const Conv2dGeometry& g, int64_t c0, int64_t c1) {
  const int64_t OHW = g.OH * g.OW;
  for (int64_t c = c0; c < c1; ++c)
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      const int64_t ih0 = kh * g.dil_h - g.pad_top;
      const Span hs = valid_span(ih0, g.stride_h, g.H, g.OH);
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const int64_t iw0 = kw * g.dil_w - g.pad_left;
        const Span ws = valid_span(iw0, g.stride_w, g.W, g.OW);
        const T* src = col + ((c * g.KH + kh) * g.KW + kw) * OHW;
        for (int64_t oh = hs.lo; oh < hs.hi; ++oh) {
          T* row = x + (c * g.H + oh * g.stride_h + ih0) * g.W + iw0;
          const T* s = src + oh * g.OW;
          if (g.stride_w == 1) {
            for (int64_t ow = ws.lo; ow < ws.hi; ++ow) row[ow] += s[ow];
          } else {
            for (int64_t ow = ws.lo; ow < ws.hi; ++ow) row[ow * g.stride_w] += s[ow];
          }
        }
      }
    }
}

// A 1x1 convolution with unit stride and no padding needs no unrolling: x itself is the column matrix.
bool is_pointwise(const Conv2dGeometry& g) {
  return g.KH == 1 && g.KW == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0 &&
         g.pad_bottom == 0 && g.pad_right == 0;
}

// Samples [n0, n1) of chunk c out of `chunks` equal parts of N.
int64_t chunk_begin(int64_t c, int64_t chunks, int64_t N) { return c * N / chunks; }

// The weight gradient sums the samples in this many fixed groups (each in sample order) and then adds the
// groups in order, whatever the thread count, so its rounding does not depend on the thread count (threads
// take whole groups). 8 bounds both the parallelism of that sum and its memory: 7 private weight gradients.
constexpr int64_t kGradGroups = 8;

// How many parallel sample chunks to use; 1 means: go sample by sample with multi-threaded GEMMs.
int64_t sample_chunks(const Conv2dGeometry& g) {
  const int64_t nt = num_threads();
  if (nt <= 1 || omp_in_parallel() || g.N < nt) return 1;
  return nt;
}

// Debian's OpenMP build of OpenBLAS (0.3.21) still threads a GEMM called from inside a parallel region, and
// concurrent threaded calls then queue on its one parallel-job slot, spinning in sched_yield: the per-sample
// GEMMs of two threads ran 10x slower than one thread alone. Sample-parallel regions therefore run BLAS
// single-threaded. BLAS's thread count is process-wide: it is restored on exit (a concurrent Cairn call in
// another user thread may briefly see the wrong count: slower, never wrong).
class BlasSingleThreaded {
 public:
  BlasSingleThreaded() { openblas_set_num_threads(1); }
  ~BlasSingleThreaded() { openblas_set_num_threads(num_threads()); }
  BlasSingleThreaded(const BlasSingleThreaded&) = delete;
  BlasSingleThreaded& operator=(const BlasSingleThreaded&) = delete;
};

// gb (O) = sum over n, oh, ow of gy (N, O, OH * OW).
template <class T>
void bias_grad(const T* gy, T* gb, const Conv2dGeometry& g) {
  const int64_t OHW = g.OH * g.OW;
  parallel_for(0, g.O, std::max<int64_t>(1, 65536 / std::max<int64_t>(1, g.N * OHW)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      double total = 0.0;
      for (int64_t n = 0; n < g.N; ++n) {
        const T* r = gy + (n * g.O + o) * OHW;
        T acc[8] = {};
        int64_t i = 0;
        for (; i + 8 <= OHW; i += 8)
          for (int k = 0; k < 8; ++k) acc[k] += r[i + k];
        T s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (; i < OHW; ++i) s += r[i];
        total += static_cast<double>(s);
      }
      gb[o] = static_cast<T>(total);
    }
  });
}

template <class T>
void conv2d_forward(const Tensor& xt, const Tensor& wt, const Tensor& bt, const Tensor& yt, const Conv2dGeometry& g) {
  // x: (N, C, H, W), w: (O, C/G, KH, KW), b: (O) -> y: (N, O, OH, OW) =
  const T* x = static_cast<const T*>(xt.raw_data());
  const T* w = static_cast<const T*>(wt.raw_data());
  const T* b = bt.defined() ? static_cast<const T*>(bt.raw_data()) : nullptr;
  T* y = static_cast<T*>(yt.raw_data());
  const GemmKernel gemm = table<GemmKernel>("gemm").get(DeviceType::CPU, dtype_v<T>);
  const int64_t G = g.groups, Og = g.O / G, K = (g.C / G) * g.KH * g.KW, OHW = g.OH * g.OW, CHW = g.C * g.H * g.W;
  const bool pointwise = is_pointwise(g);
  const int64_t chunks = sample_chunks(g);
  const bool serial = chunks == 1;
  Tensor scratch = Tensor::empty({pointwise ? 1 : chunks * G * K * OHW}, dtype_v<T>);

  // y[n] = w @ im2col(x[n]) (+ b), one GEMM per group.
  auto sample = [&](int64_t n, T* col) {
    const T* cols = x + n * CHW;
    if (!pointwise) {
      if (serial) parallel_for(0, g.C, 1, [&](int64_t c0, int64_t c1) { im2col(x + n * CHW, col, g, c0, c1); });
      else im2col(x + n * CHW, col, g, 0, g.C);
      cols = col;
    }
    T* yn = y + n * g.O * OHW;
    if (b)
      for (int64_t o = 0; o < g.O; ++o) std::fill(yn + o * OHW, yn + (o + 1) * OHW, b[o]);
    for (int64_t gi = 0; gi < G; ++gi)
      gemm(false, false, Og, OHW, K, 1.0, w + gi * Og * K, K, cols + gi * K * OHW, OHW, b ? 1.0 : 0.0,
           yn + gi * Og * OHW, OHW);
    if (g.relu)  // while the sample's output is still in cache
      for (int64_t i = 0; i < g.O * OHW; ++i) yn[i] = yn[i] < T(0) ? T(0) : yn[i];
  };
  T* col0 = static_cast<T*>(scratch.raw_data());
  if (serial) {
    for (int64_t n = 0; n < g.N; ++n) sample(n, col0);
    return;
  }
  BlasSingleThreaded one_thread_blas;
  parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      T* col = pointwise ? col0 : col0 + c * G * K * OHW;
      for (int64_t n = chunk_begin(c, chunks, g.N); n < chunk_begin(c + 1, chunks, g.N); ++n) sample(n, col);
    }
  });
}

// ---- weight gradient for short weight rows ----
// With K = C/G * KH * KW at most 16 (conv1 of the reference CNN: K = 9) the weight gradient is a GEMM with a
// tiny dimension, (O x K) += (O x OH*OW) @ (OH*OW x K), which BLAS runs far from peak. Here the K partial sums
// of one output channel live in registers while its gradient row streams past once, and the bias gradient
// comes out of the same pass.
constexpr int64_t kSmallK = 16;

// One 512-bit register of T lanes (GCC/Clang vector type: the compiler keeps arrays of these in registers,
// where plain arrays of lanes were spilled to memory every step).
template <class T>
struct LanesOf;
template <>
struct LanesOf<float> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct LanesOf<double> {
  typedef double type __attribute__((vector_size(64)));
};
template <class T>
using Lanes = typename LanesOf<T>::type;

// acc[k] += lanewise sums of gy[p] * col[k * P + p] for k < K, acc[K] += lanewise sums of gy[p]; the last P % V
// positions go to the scalars tail[0..K]. Lanes are added up once at the very end: summing them per call was a
// chain of dependent scalar adds, and folding the tail into a lane stalled on store forwarding.
template <class T, int K>
void small_k_dots(const T* gy, const T* col, int64_t P, Lanes<T>* acc, T* tail) {
  constexpr int64_t V = 64 / sizeof(T);
  auto load = [](const T* p) {
    Lanes<T> v;
    std::memcpy(&v, p, sizeof v);  // an unaligned vector load
    return v;
  };
  Lanes<T> a[K] = {};
  Lanes<T> ab = {};
  int64_t p = 0;
  for (; p + V <= P; p += V) {
    const Lanes<T> gv = load(gy + p);
    ab += gv;
    for (int k = 0; k < K; ++k) a[k] += gv * load(col + k * P + p);
  }
  for (; p < P; ++p) {
    for (int k = 0; k < K; ++k) tail[k] += gy[p] * col[k * P + p];
    tail[K] += gy[p];
  }
  for (int k = 0; k < K; ++k) acc[k] += a[k];
  acc[K] += ab;
}

template <class T, int K>
void small_k_weight_grad_fixed(const T* gy, const T* x, T* gw, T* gb, const Conv2dGeometry& g) {
  // gy: (N, O, OH*OW), x: (N, C, H, W) -> gw (O, K) =, gb (O) = (when non-null)
  const int64_t OHW = g.OH * g.OW, CHW = g.C * g.H * g.W, Og = g.O / g.groups, S = K + 1;
  // kGradGroups fixed sample groups, as in the GEMM path; each sums into its own (O, K + 1) block of lanes, added
  // up in group order. Column buffers: one per thread.
  const int64_t chunks = std::min<int64_t>(kGradGroups, g.N);
  const int64_t col_size = g.C * g.KH * g.KW * OHW;
  Tensor col_t = Tensor::empty({num_threads() * col_size}, dtype_v<T>);
  const bool nested = omp_in_parallel();  // then parallel_for runs inline on this thread: buffer 0
  Tensor acc_t = Tensor::empty({chunks * g.O * S * static_cast<int64_t>(64 / sizeof(T))}, dtype_v<T>);
  Tensor tail_t = Tensor::empty({chunks * g.O * S}, dtype_v<T>);
  Lanes<T>* acc = reinterpret_cast<Lanes<T>*>(acc_t.raw_data());  // storage is 64-byte aligned
  T* tail = static_cast<T*>(tail_t.raw_data());
  std::fill(acc, acc + chunks * g.O * S, Lanes<T>{});
  std::fill(tail, tail + chunks * g.O * S, T(0));
  parallel_for(0, chunks, 1, [&](int64_t b, int64_t e) {
    T* col = static_cast<T*>(col_t.raw_data()) + (nested ? 0 : omp_get_thread_num()) * col_size;
    for (int64_t c = b; c < e; ++c) {
      Lanes<T>* a = acc + c * g.O * S;
      T* t = tail + c * g.O * S;
      for (int64_t n = chunk_begin(c, chunks, g.N); n < chunk_begin(c + 1, chunks, g.N); ++n) {
        im2col(x + n * CHW, col, g, 0, g.C);
        for (int64_t o = 0; o < g.O; ++o)
          small_k_dots<T, K>(gy + (n * g.O + o) * OHW, col + (o / Og) * K * OHW, OHW, a + o * S, t + o * S);
      }
    }
  });
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t k = 0; k < S; ++k) {
      Lanes<T> v = acc[o * S + k];
      T total = tail[o * S + k];
      for (int64_t c = 1; c < chunks; ++c) v += acc[(c * g.O + o) * S + k], total += tail[(c * g.O + o) * S + k];
      for (size_t l = 0; l < 64 / sizeof(T); ++l) total += v[l];
      if (k < K) gw[o * K + k] = total;
      else if (gb) gb[o] = total;
    }
}

// Runs small_k_weight_grad_fixed with K as a compile-time constant (so the sums stay in registers); false when K is
// not small.
template <class T>
bool small_k_weight_grad(const T* gy, const T* x, T* gw, T* gb, const Conv2dGeometry& g) {
  const int64_t K = (g.C / g.groups) * g.KH * g.KW;
  if (K > kSmallK || g.N == 0) return false;
  switch (K) {
#define CAIRN_SMALL_K(k) \
  case k: small_k_weight_grad_fixed<T, k>(gy, x, gw, gb, g); return true;
    CAIRN_SMALL_K(1) CAIRN_SMALL_K(2) CAIRN_SMALL_K(3) CAIRN_SMALL_K(4) CAIRN_SMALL_K(5) CAIRN_SMALL_K(6)
    CAIRN_SMALL_K(7) CAIRN_SMALL_K(8) CAIRN_SMALL_K(9) CAIRN_SMALL_K(10) CAIRN_SMALL_K(11) CAIRN_SMALL_K(12)
    CAIRN_SMALL_K(13) CAIRN_SMALL_K(14) CAIRN_SMALL_K(15) CAIRN_SMALL_K(16)
#undef CAIRN_SMALL_K
    default: return false;
  }
}

template <class T>
void conv2d_backward(const Tensor& gyt, const Tensor& xt, const Tensor& wt, const Tensor& gxt, const Tensor& gwt,
                     const Tensor& gbt, const Conv2dGeometry& g) {
  // gy: (N, O, OH, OW), x: (N, C, H, W), w: (O, C/G, KH, KW) -> gx (N, C, H, W) =, gw (O, C/G, KH, KW) =, gb (O) =
  const T* gy = static_cast<const T*>(gyt.raw_data());
  const T* x = static_cast<const T*>(xt.raw_data());
  const T* w = static_cast<const T*>(wt.raw_data());
  T* gx = gxt.defined() ? static_cast<T*>(gxt.raw_data()) : nullptr;
  T* gw = gwt.defined() ? static_cast<T*>(gwt.raw_data()) : nullptr;
  T* gb = gbt.defined() ? static_cast<T*>(gbt.raw_data()) : nullptr;
  if (gw && small_k_weight_grad(gy, x, gw, gb, g)) gw = nullptr, gb = nullptr;  // done, bias included
  if (gb) bias_grad(gy, gb, g);
  if (!gx && !gw) return;
  const GemmKernel gemm = table<GemmKernel>("gemm").get(DeviceType::CPU, dtype_v<T>);
  const int64_t G = g.groups, Og = g.O / G, K = (g.C / G) * g.KH * g.KW, OHW = g.OH * g.OW, HW = g.H * g.W;
  const int64_t CHW = g.C * HW, WSZ = g.O * K;
  if (g.N == 0) {
    if (gw) std::fill(gw, gw + WSZ, T(0));
    return;
  }
  const bool pointwise = is_pointwise(g);
  const int64_t threads = sample_chunks(g);
  const bool serial = threads == 1;
  // Work units: the kGradGroups fixed sample groups when the weight gradient is wanted (their sums are added in
  // group order at the end, so the result does not depend on the thread count), else one range per thread.
  const int64_t chunks = gw ? std::min<int64_t>(kGradGroups, g.N) : threads;
  // Per thread: one column buffer (G * K * OHW); per group after the first, a private weight gradient.
  const int64_t col_size = pointwise ? 0 : G * K * OHW;
  Tensor scratch = Tensor::empty({std::max<int64_t>(1, threads * col_size + (gw ? (chunks - 1) * WSZ : 0))},
                                 dtype_v<T>);
  T* base = static_cast<T*>(scratch.raw_data());
  T* gw_priv = base + threads * col_size;

  auto sample = [&](int64_t n, T* col, T* gw_acc, bool first) {
    const T* gyn = gy + n * g.O * OHW;
    const T* xn = x + n * CHW;
    if (gw) {
      // gw (+)= gy[n] @ im2col(x[n])^T per group.
      const T* cols = xn;
      if (!pointwise) {
        if (serial) parallel_for(0, g.C, 1, [&](int64_t c0, int64_t c1) { im2col(xn, col, g, c0, c1); });
        else im2col(xn, col, g, 0, g.C);
        cols = col;
      }
      for (int64_t gi = 0; gi < G; ++gi)
        gemm(false, true, Og, K, OHW, 1.0, gyn + gi * Og * OHW, OHW, cols + gi * K * OHW, OHW, first ? 0.0 : 1.0,
             gw_acc + gi * Og * K, K);
    }
    if (gx) {
      // gx[n] = col2im(w^T @ gy[n]) per group; a pointwise conv writes w^T @ gy[n] straight into gx[n].
      T* gxn = gx + n * CHW;
      T* dst = pointwise ? gxn : col;
      for (int64_t gi = 0; gi < G; ++gi)
        gemm(true, false, K, OHW, Og, 1.0, w + gi * Og * K, K, gyn + gi * Og * OHW, OHW, 0.0, dst + gi * K * OHW, OHW);
      if (!pointwise) {
        auto unroll_back = [&](int64_t c0, int64_t c1) {
          std::fill(gxn + c0 * HW, gxn + c1 * HW, T(0));
          col2im(col, gxn, g, c0, c1);
        };
        if (serial) parallel_for(0, g.C, 1, unroll_back);
        else unroll_back(0, g.C);
      }
    }
  };

  auto run_chunk = [&](int64_t c, T* col) {
    T* gw_acc = !gw || c == 0 ? gw : gw_priv + (c - 1) * WSZ;
    const int64_t n0 = chunk_begin(c, chunks, g.N), n1 = chunk_begin(c + 1, chunks, g.N);
    for (int64_t n = n0; n < n1; ++n) sample(n, col, gw_acc, n == n0);
  };
  if (serial) {
    for (int64_t c = 0; c < chunks; ++c) run_chunk(c, base);
  } else {
    BlasSingleThreaded one_thread_blas;
    parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      T* col = base + omp_get_thread_num() * col_size;
      for (int64_t c = c0; c < c1; ++c) run_chunk(c, col);
    });
  }
  if (gw && chunks > 1) {
    // Group sums are added in group order: the same rounding whatever the thread count.
    parallel_for(0, WSZ, 16384, [&](int64_t i0, int64_t i1) {
      for (int64_t c = 1; c < chunks; ++c) {
        const T* p = gw_priv + (c - 1) * WSZ;
        for (int64_t i = i0; i < i1; ++i) gw[i] += p[i];
      }
    });
  }
}

std::atomic<ConvImpl> g_conv_impl{ConvImpl::automatic};

// The automatic choice, measured (BENCHMARKS.md, "Kernels"; bench_kernels' Conv2dImpl rows). oneDNN computes in
// blocks of 16 channels and needs NCHW <-> blocked reorders around each call. With 16+ input channels per group
// (conv2 of the reference CNN: 32 -> 64 on 13x13) its JIT kernels win every part by 1.6-1.9x, reorders
// included. With one input channel (conv1: 1 -> 32 on 28x28) the output reorder costs more than its forward
// saves and its input gradient is 10x slower; the weight gradient of such short weight rows is Cairn's direct
// kernel (small_k_weight_grad), a little faster than oneDNN's. Depthwise convolutions have their own oneDNN
// kernel, 3-4x faster than a GEMM per channel in every part.
bool dnnl_for(const char* part, const Conv2dGeometry& g) {
  const ConvImpl impl = g_conv_impl.load(std::memory_order_relaxed);
  if (impl != ConvImpl::automatic) return impl == ConvImpl::dnnl;
  const int64_t cg = g.C / g.groups;
  if (g.groups > 1 && cg == 1) return true;
  if (std::strcmp(part, "bwd_weights") == 0) return cg * g.KH * g.KW > kSmallK;
  return cg >= 16;
}

void conv2d_f32(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& y, const Conv2dGeometry& g) {
  if (dnnl_for("fwd", g) && dnnl_conv2d_forward(x, w, b, y, g)) return;
  conv2d_forward<float>(x, w, b, y, g);
}

void conv2d_bw_f32(const Tensor& gy, const Tensor& x, const Tensor& w, const Tensor& gx, const Tensor& gw,
                   const Tensor& gb, const Conv2dGeometry& g) {
  // Whatever oneDNN does not take is left to im2col + GEMM.
  Tensor gx_rest = gx, gw_rest = gw, gb_rest = gb;
  const bool weights = gw.defined() && dnnl_for("bwd_weights", g), data = gx.defined() && dnnl_for("bwd_data", g);
  if (weights || data) {
    const DnnlBackwardDone done = dnnl_conv2d_backward(gy, x, w, data ? gx : Tensor(), weights ? gw : Tensor(),
                                                       weights ? gb : Tensor(), g);
    if (done.weights) gw_rest = Tensor(), gb_rest = Tensor();
    if (done.data) gx_rest = Tensor();
  }
  conv2d_backward<float>(gy, x, w, gx_rest, gw_rest, gb_rest, g);
}

}  // namespace

void set_conv_impl(ConvImpl impl) { g_conv_impl.store(impl); }
ConvImpl conv_impl() { return g_conv_impl.load(); }

void register_conv() {
  auto& fwd = registry_table<Conv2dKernel>("conv2d");
  auto& bwd = registry_table<Conv2dBackwardKernel>("conv2d_bw");
  fwd.set(DeviceType::CPU, DType::f32, conv2d_f32);
  fwd.set(DeviceType::CPU, DType::f64, conv2d_forward<double>);
  bwd.set(DeviceType::CPU, DType::f32, conv2d_bw_f32);
  bwd.set(DeviceType::CPU, DType::f64, conv2d_backward<double>);
}

}  // namespace cairn::kernels::cpu
