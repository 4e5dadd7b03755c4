// CPU LSTM and GRU over whole sequences, each forward with its backward below it (signatures and buffer
// contract in kernels/rnn_kernels.h).
//
// Where the time goes, and how it is kept small:
//   - each step is two small products on weights packed once per sequence (rnn_gemm.h), x_t @ W_ih^T and
//     h @ W_hh^T accumulated onto the biases, and one fused pass over the gates (sigmoid/tanh through vec_exp,
//     which vectorises; cell update; outputs and saved values in one sweep);
//   - the backward pass per step is one fused pass producing the gate gradients and one GEMM dG @ W_hh for
//     the recurrent gradient (and one for dx); dW_ih, dW_hh and the biases are single GEMMs over all T*B rows
//     at the end.
//   - the batch is split into one contiguous chunk of rows per thread, and each thread runs the whole
//     recurrence over its rows with single-threaded BLAS: the steps of a small LSTM (B = 32, H = 128) are far
//     too short to synchronise threads at every one of them.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "cairn/core/kernels/cpu/rnn_gemm.h"
#include "cairn/core/kernels/cpu/vec_exp.h"
#include "cairn/core/kernels/kernels.h"
#include "cairn/core/kernels/rnn_kernels.h"
#include "cairn/core/kernels/threading.h"

namespace cairn::kernels::cpu {
namespace {

// Fewer rows than this per thread and the sequence runs on one chunk with multi-threaded GEMMs instead.
constexpr int64_t kMinRowsPerThread = 4;

// Row-major C = alpha * op(A) @ op(B) + beta * C; empty products leave C scaled by beta. float32 goes through the
// registered CPU GEMM (oneDNN for the weight gradients over all T * B rows, bfloat16 operands at matmul
// precision medium).
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  static const GemmKernel sgemm = table<GemmKernel>("gemm").get(DeviceType::CPU, DType::f32);
  sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
void gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N,
              (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

// out (N) = sum over the M rows of a (M, N) (column sums), through GEMV.
void column_sums(const float* a, int64_t M, int64_t N, float* out) {
  if (N == 0) return;
  if (M == 0) return (void)std::fill(out, out + N, 0.0f);
  std::vector<float> ones(static_cast<size_t>(M), 1.0f);
  cblas_sgemv(CblasRowMajor, CblasTrans, (blasint)M, (blasint)N, 1.0f, a, (blasint)N, ones.data(), 1, 0.0f, out, 1);
}
void column_sums(const double* a, int64_t M, int64_t N, double* out) {
  if (N == 0) return;
  if (M == 0) return (void)std::fill(out, out + N, 0.0);
  std::vector<double> ones(static_cast<size_t>(M), 1.0);
  cblas_dgemv(CblasRowMajor, CblasTrans, (blasint)M, (blasint)N, 1.0, a, (blasint)N, ones.data(), 1, 0.0, out, 1);
}

template <class T>
inline T sigmoid_of(T x) {
  return T(1) / (T(1) + vec_exp(-x));
}
// tanh(x) = 2 sigmoid(2x) - 1: vectorises with vec_exp; absolute error within a few ulp of 1.
template <class T>
inline T tanh_of(T x) {
  return T(2) / (T(1) + vec_exp(T(-2) * x)) - T(1);
}

// See conv_cpu.cpp: Debian's OpenMP OpenBLAS still threads GEMMs called inside a parallel region, and
// concurrent threaded calls then spin on its one job slot. The row-parallel recurrences run BLAS on one thread.
class BlasSingleThreaded {
 public:
  BlasSingleThreaded() { openblas_set_num_threads(1); }
  ~BlasSingleThreaded() { openblas_set_num_threads(num_threads()); }
  BlasSingleThreaded(const BlasSingleThreaded&) = delete;
  BlasSingleThreaded& operator=(const BlasSingleThreaded&) = delete;
};

// Calls f(b0, b1) on contiguous chunks of the B batch rows, one per thread, in parallel.
template <class F>
void over_row_chunks(int64_t B, const F& f) {
  const int nt = num_threads();
  const int64_t chunks = (nt <= 1 || omp_in_parallel()) ? 1 : std::min<int64_t>(nt, B / kMinRowsPerThread);
  if (chunks <= 1) {
    f(int64_t{0}, B);
    return;
  }
  BlasSingleThreaded one_thread;
#pragma omp parallel for num_threads(static_cast<int>(chunks)) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) f(c * B / chunks, (c + 1) * B / chunks);
}

inline int64_t time_of(int64_t s, const RnnGeometry& g) { return g.reverse ? g.T - 1 - s : s; }

// xs (T, B, I) = x (B, T, I) in step order.
template <class T>
void to_step_order(const T* x, T* xs, const RnnGeometry& g) {
  for (int64_t s = 0; s < g.T; ++s)
    for (int64_t b = 0; b < g.B; ++b)
      std::memcpy(xs + (s * g.B + b) * g.I, x + (b * g.T + time_of(s, g)) * g.I, sizeof(T) * g.I);
}

// dx (B, T, I) = dxs (T, B, I) back in time order.
template <class T>
void from_step_order(const T* dxs, T* dx, const RnnGeometry& g) {
  for (int64_t s = 0; s < g.T; ++s)
    for (int64_t b = 0; b < g.B; ++b)
      std::memcpy(dx + (b * g.T + time_of(s, g)) * g.I, dxs + (s * g.B + b) * g.I, sizeof(T) * g.I);
}

// bias (G*H) = bias_a + bias_b, either of which may be null (zero).
template <class T>
std::vector<T> bias_sum(const T* bias_a, const T* bias_b, int64_t GH) {
  std::vector<T> bias(static_cast<size_t>(GH), T(0));
  for (int64_t j = 0; j < GH; ++j) bias[j] = (bias_a ? bias_a[j] : T(0)) + (bias_b ? bias_b[j] : T(0));
  return bias;
}

// rows (n, G*H) = bias, each row.
template <class T>
void fill_rows(T* rows, int64_t n, const std::vector<T>& bias) {
  for (int64_t r = 0; r < n; ++r) std::memcpy(rows + r * bias.size(), bias.data(), sizeof(T) * bias.size());
}

// dst (B, H) = src (B, H), or zeros when src is undefined.
template <class T>
void copy_or_zero(const Tensor& src, T* dst, int64_t n) {
  if (src.defined()) std::memcpy(dst, src.data<T>(), sizeof(T) * n);
  else std::fill(dst, dst + n, T(0));
}

template <class T>
const T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// Parameter gradients from the per-step gate gradients, single GEMMs over the T*B rows: dw_ih (G*H, I) =
// dgx^T @ xs, dw_hh (G*H, H) = dgh^T @ hidden[0:T], db_ih = colsum(dgx), db_hh = colsum(dgh); and dx = dxs
// (T, B, I, accumulated per step by the caller) back in time order. dgx, dgh: (T*B, G*H) (one buffer for the LSTM).
template <class T>
void parameter_grads(const RnnBuffers& buf, const RnnGrads& gr, const RnnGeometry& g, const T* dgx, const T* dgh,
                     const std::vector<T>& dxs, int64_t GH) {
  const int64_t rows = g.T * g.B;
  if (gr.dw_ih.defined()) gemm(true, false, GH, g.I, rows, T(1), dgx, GH, buf.xs.data<T>(), g.I, T(0), gr.dw_ih.data<T>(), g.I);
  if (gr.dw_hh.defined())
    gemm(true, false, GH, g.H, rows, T(1), dgh, GH, buf.hidden.data<T>(), g.H, T(0), gr.dw_hh.data<T>(), g.H);
  if (gr.db_ih.defined()) column_sums(dgx, rows, GH, gr.db_ih.data<T>());
  if (gr.db_hh.defined()) {
    if (dgh == dgx && gr.db_ih.defined()) std::memcpy(gr.db_hh.data<T>(), gr.db_ih.data<T>(), sizeof(T) * GH);
    else column_sums(dgh, rows, GH, gr.db_hh.data<T>());
  }
  if (gr.dx.defined()) from_step_order(dxs.data(), gr.dx.data<T>(), g);
}

// ---------------------------------------------------------------------------------------------------------
// LSTM. Per step, with G = x W_ih^T + b_ih + h W_hh^T + b_hh (4H, gate order i, f, g, o as PyTorch):
//   i = sigmoid(G_i), f = sigmoid(G_f), g = tanh(G_g), o = sigmoid(G_o)
//   c' = f * c + i * g,  h' = o * tanh(c')

// One row of one step. gate (4H): pre-activations in, activated gates out (=). c_prev (H) -> c, tanh_c, h, y (=).
template <class T>
void lstm_cell_forward(T* __restrict gate, const T* __restrict c_prev, T* __restrict c, T* __restrict tanh_c,
                       T* __restrict h, T* __restrict y, int64_t H) {
  T* __restrict gi = gate;
  T* __restrict gf = gate + H;
  T* __restrict gg = gate + 2 * H;
  T* __restrict go = gate + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T i = sigmoid_of(gi[j]), f = sigmoid_of(gf[j]), g = tanh_of(gg[j]), o = sigmoid_of(go[j]);
    const T cv = f * c_prev[j] + i * g;
    const T tc = tanh_of(cv);
    gi[j] = i;
    gf[j] = f;
    gg[j] = g;
    go[j] = o;
    c[j] = cv;
    tanh_c[j] = tc;
    h[j] = o * tc;
    y[j] = o * tc;
  }
}

template <class T>
void lstm_forward(const RnnBuffers& buf, const RnnGeometry& g) {
  const int64_t B = g.B, T_ = g.T, H = g.H, GH = 4 * H;
  T* xs = buf.xs.data<T>();
  T* gates = buf.gates.data<T>();
  T* hidden = buf.hidden.data<T>();
  T* cells = buf.cells.data<T>();
  T* tanh_c = buf.aux.data<T>();
  T* y = buf.y.data<T>();
  const T* w_hh = buf.w_hh.data<T>();
  const uint8_t* mask = ptr_or_null<uint8_t>(buf.mask);

  to_step_order(buf.x.data<T>(), xs, g);
  copy_or_zero(buf.h0, hidden, B * H);
  copy_or_zero(buf.c0, cells, B * H);
  const std::vector<T> bias = bias_sum(ptr_or_null<T>(buf.b_ih), ptr_or_null<T>(buf.b_hh), GH);
  // Both products run per step on weights packed once: the input one too, because its (B, 4H) block is then
  // still in cache for the recurrent product and the gate pass (one (T*B, I) @ (I, 4H) GEMM before the loop
  // streams a T*B x 4H buffer through memory twice and cost a quarter of the LSTM's time).
  const PackedRecurrentWeight<T> w_ih_t(buf.w_ih.data<T>(), g.I, GH, /*transposed=*/true);  // W_ih^T (I, 4H)
  const PackedRecurrentWeight<T> w_hh_t(w_hh, H, GH, /*transposed=*/true);                 // W_hh^T (H, 4H)

  over_row_chunks(B, [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    for (int64_t s = 0; s < T_; ++s) {
      const int64_t t = time_of(s, g);
      T* gate = gates + (s * B + b0) * GH;
      const T* hp = hidden + (s * B + b0) * H;
      T* hn = hidden + ((s + 1) * B + b0) * H;
      const T* cp = cells + (s * B + b0) * H;
      T* cn = cells + ((s + 1) * B + b0) * H;
      T* tc = tanh_c + (s * B + b0) * H;
      // gate (nb, 4H) = b_ih + b_hh + x_t (nb, I) @ W_ih^T + h_prev (nb, H) @ W_hh^T
      fill_rows(gate, nb, bias);
      w_ih_t.multiply_add(xs + (s * B + b0) * g.I, g.I, nb, gate, GH);
      w_hh_t.multiply_add(hp, H, nb, gate, GH);
      for (int64_t r = 0; r < nb; ++r) {
        const int64_t b = b0 + r;
        T* yrow = y + (b * T_ + t) * H;
        if (mask && !mask[b * T_ + t]) {  // padded step: state carried, output zero
          std::memcpy(hn + r * H, hp + r * H, sizeof(T) * H);
          std::memcpy(cn + r * H, cp + r * H, sizeof(T) * H);
          std::fill(yrow, yrow + H, T(0));
          std::fill(tc + r * H, tc + (r + 1) * H, T(0));
          continue;
        }
        lstm_cell_forward(gate + r * GH, cp + r * H, cn + r * H, tc + r * H, hn + r * H, yrow, H);
      }
    }
  });
  std::memcpy(buf.h_n.data<T>(), hidden + T_ * B * H, sizeof(T) * B * H);
  std::memcpy(buf.c_n.data<T>(), cells + T_ * B * H, sizeof(T) * B * H);
}

// One row of one step backward. dh (H): gradient reaching h' (from y and from step s+1), read; dc (H): gradient
// reaching c', read and replaced by the gradient of c (=). dgate (4H) = gradient of the pre-activations.
template <class T>
void lstm_cell_backward(const T* __restrict gate, const T* __restrict c_prev, const T* __restrict tanh_c,
                        const T* __restrict dh, T* __restrict dc, T* __restrict dgate, int64_t H) {
  const T* __restrict gi = gate;
  const T* __restrict gf = gate + H;
  const T* __restrict gg = gate + 2 * H;
  const T* __restrict go = gate + 3 * H;
  for (int64_t j = 0; j < H; ++j) {
    const T i = gi[j], f = gf[j], g = gg[j], o = go[j], tc = tanh_c[j];
    const T dcv = dc[j] + dh[j] * o * (T(1) - tc * tc);
    dgate[j] = dcv * g * i * (T(1) - i);
    dgate[H + j] = dcv * c_prev[j] * f * (T(1) - f);
    dgate[2 * H + j] = dcv * i * (T(1) - g * g);
    dgate[3 * H + j] = dh[j] * tc * o * (T(1) - o);
    dc[j] = dcv * f;
  }
}

template <class T>
void lstm_backward(const RnnBuffers& buf, const RnnGrads& gr, const RnnGeometry& g) {
  const int64_t B = g.B, T_ = g.T, H = g.H, GH = 4 * H;
  const T* gates = buf.gates.data<T>();
  const T* cells = buf.cells.data<T>();
  const T* tanh_c = buf.aux.data<T>();
  const T* w_hh = buf.w_hh.data<T>();
  const T* dy = ptr_or_null<T>(gr.dy);
  const uint8_t* mask = ptr_or_null<uint8_t>(buf.mask);

  std::vector<T> dgates(static_cast<size_t>(T_ * B * GH));
  std::vector<T> dh(static_cast<size_t>(B * H)), dc(static_cast<size_t>(B * H));
  copy_or_zero(gr.dh_n, dh.data(), B * H);
  copy_or_zero(gr.dc_n, dc.data(), B * H);
  const PackedRecurrentWeight<T> w_hh_p(w_hh, GH, H, /*transposed=*/false);  // W_hh (4H, H)
  // dx per step too (dxs_t = dgate_t @ W_ih), while dgate_t is in cache.
  const PackedRecurrentWeight<T> w_ih_p(buf.w_ih.data<T>(), GH, g.I, /*transposed=*/false);  // W_ih (4H, I)
  std::vector<T> dxs(gr.dx.defined() ? static_cast<size_t>(T_ * B * g.I) : 0, T(0));

  over_row_chunks(B, [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    T* dhr = dh.data() + b0 * H;
    for (int64_t s = T_ - 1; s >= 0; --s) {
      const int64_t t = time_of(s, g);
      T* dgate = dgates.data() + (s * B + b0) * GH;
      for (int64_t r = 0; r < nb; ++r) {
        const int64_t b = b0 + r;
        T* dhb = dhr + r * H;
        if (mask && !mask[b * T_ + t]) {  // padded step: y is a constant 0; dh and dc pass through unchanged
          std::fill(dgate + r * GH, dgate + (r + 1) * GH, T(0));
          continue;
        }
        if (dy) {
          const T* dyb = dy + (b * T_ + t) * H;
          for (int64_t j = 0; j < H; ++j) dhb[j] += dyb[j];
        }
        const int64_t row = (s * B + b) * H;
        lstm_cell_backward(gates + (s * B + b) * GH, cells + row, tanh_c + row, dhb, dc.data() + b * H,
                           dgate + r * GH, H);
        std::fill(dhb, dhb + H, T(0));  // replaced by dgate @ W_hh below
      }
      // dh_prev (nb, H) += dgate (nb, 4H) @ W_hh (4H, H)
      w_hh_p.multiply_add(dgate, GH, nb, dhr, H);
      // dxs_t (nb, I) += dgate (nb, 4H) @ W_ih (4H, I)
      if (!dxs.empty()) w_ih_p.multiply_add(dgate, GH, nb, dxs.data() + (s * B + b0) * g.I, g.I);
    }
  });
  if (gr.dh0.defined()) std::memcpy(gr.dh0.data<T>(), dh.data(), sizeof(T) * B * H);
  if (gr.dc0.defined()) std::memcpy(gr.dc0.data<T>(), dc.data(), sizeof(T) * B * H);
  parameter_grads<T>(buf, gr, g, dgates.data(), dgates.data(), dxs, GH);
}

// ---------------------------------------------------------------------------------------------------------
// GRU, PyTorch's formulation (gate order r, z, n; the reset gate applied after the hidden product):
//   r = sigmoid(Wx_r + b_ir + Wh_r + b_hr), z = sigmoid(Wx_z + b_iz + Wh_z + b_hz)
//   n = tanh(Wx_n + b_in + r * (Wh_n + b_hn)),  h' = (1 - z) * n + z * h

// One row of one step. gx (3H): input projections in, activated r, z, n out (=). gh (3H): h W_hh^T + b_hh.
// h_prev (H) -> hn_out (H) = Wh_n + b_hn (saved), h (H) =, y (H) =.
template <class T>
void gru_cell_forward(T* __restrict gx, const T* __restrict gh, const T* __restrict h_prev, T* __restrict hn_out,
                      T* __restrict h, T* __restrict y, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = sigmoid_of(gx[j] + gh[j]);
    const T z = sigmoid_of(gx[H + j] + gh[H + j]);
    const T hn = gh[2 * H + j];
    const T n = tanh_of(gx[2 * H + j] + r * hn);
    const T hv = (T(1) - z) * n + z * h_prev[j];
    gx[j] = r;
    gx[H + j] = z;
    gx[2 * H + j] = n;
    hn_out[j] = hn;
    h[j] = hv;
    y[j] = hv;
  }
}

template <class T>
void gru_forward(const RnnBuffers& buf, const RnnGeometry& g) {
  const int64_t B = g.B, T_ = g.T, H = g.H, GH = 3 * H;
  T* xs = buf.xs.data<T>();
  T* gates = buf.gates.data<T>();
  T* hidden = buf.hidden.data<T>();
  T* hn_saved = buf.aux.data<T>();
  T* y = buf.y.data<T>();
  const T* w_hh = buf.w_hh.data<T>();
  const T* b_hh = ptr_or_null<T>(buf.b_hh);
  const uint8_t* mask = ptr_or_null<uint8_t>(buf.mask);

  to_step_order(buf.x.data<T>(), xs, g);
  copy_or_zero(buf.h0, hidden, B * H);
  const std::vector<T> bias_x = bias_sum(ptr_or_null<T>(buf.b_ih), static_cast<const T*>(nullptr), GH);
  const std::vector<T> bias_h = bias_sum(b_hh, static_cast<const T*>(nullptr), GH);
  const PackedRecurrentWeight<T> w_ih_t(buf.w_ih.data<T>(), g.I, GH, /*transposed=*/true);  // W_ih^T (I, 3H)
  const PackedRecurrentWeight<T> w_hh_t(w_hh, H, GH, /*transposed=*/true);                 // W_hh^T (H, 3H)

  over_row_chunks(B, [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    std::vector<T> gh(static_cast<size_t>(nb * GH), T(0));
    for (int64_t s = 0; s < T_; ++s) {
      const int64_t t = time_of(s, g);
      T* gate = gates + (s * B + b0) * GH;
      const T* hp = hidden + (s * B + b0) * H;
      T* hn = hidden + ((s + 1) * B + b0) * H;
      T* hsave = hn_saved + (s * B + b0) * H;
      // gate (nb, 3H) = x_t (nb, I) @ W_ih^T + b_ih;  gh (nb, 3H) = h_prev (nb, H) @ W_hh^T (H, 3H) + b_hh
      fill_rows(gate, nb, bias_x);
      w_ih_t.multiply_add(xs + (s * B + b0) * g.I, g.I, nb, gate, GH);
      fill_rows(gh.data(), nb, bias_h);
      w_hh_t.multiply_add(hp, H, nb, gh.data(), GH);
      for (int64_t r = 0; r < nb; ++r) {
        const int64_t b = b0 + r;
        T* yrow = y + (b * T_ + t) * H;
        if (mask && !mask[b * T_ + t]) {
          std::memcpy(hn + r * H, hp + r * H, sizeof(T) * H);
          std::fill(yrow, yrow + H, T(0));
          std::fill(hsave + r * H, hsave + (r + 1) * H, T(0));
          continue;
        }
        gru_cell_forward(gate + r * GH, gh.data() + r * GH, hp + r * H, hsave + r * H, hn + r * H, yrow, H);
      }
    }
  });
  std::memcpy(buf.h_n.data<T>(), hidden + T_ * B * H, sizeof(T) * B * H);
}

// One row of one step backward. dh (H): gradient reaching h', replaced by its direct part dh * z (=).
// dgx (3H) = gradient of the input-side pre-activations, dgh (3H) = of the hidden-side ones (=).
template <class T>
void gru_cell_backward(const T* __restrict gate, const T* __restrict hn, const T* __restrict h_prev,
                       T* __restrict dh, T* __restrict dgx, T* __restrict dgh, int64_t H) {
  for (int64_t j = 0; j < H; ++j) {
    const T r = gate[j], z = gate[H + j], n = gate[2 * H + j], d = dh[j];
    const T dn_pre = d * (T(1) - z) * (T(1) - n * n);
    const T dr_pre = dn_pre * hn[j] * r * (T(1) - r);
    const T dz_pre = d * (h_prev[j] - n) * z * (T(1) - z);
    dgx[j] = dr_pre;
    dgx[H + j] = dz_pre;
    dgx[2 * H + j] = dn_pre;
    dgh[j] = dr_pre;
    dgh[H + j] = dz_pre;
    dgh[2 * H + j] = dn_pre * r;
    dh[j] = d * z;
  }
}

template <class T>
void gru_backward(const RnnBuffers& buf, const RnnGrads& gr, const RnnGeometry& g) {
  const int64_t B = g.B, T_ = g.T, H = g.H, GH = 3 * H;
  const T* gates = buf.gates.data<T>();
  const T* hidden = buf.hidden.data<T>();
  const T* hn_saved = buf.aux.data<T>();
  const T* w_hh = buf.w_hh.data<T>();
  const T* dy = ptr_or_null<T>(gr.dy);
  const uint8_t* mask = ptr_or_null<uint8_t>(buf.mask);

  std::vector<T> dgx(static_cast<size_t>(T_ * B * GH)), dgh(static_cast<size_t>(T_ * B * GH));
  std::vector<T> dh(static_cast<size_t>(B * H));
  copy_or_zero(gr.dh_n, dh.data(), B * H);
  const PackedRecurrentWeight<T> w_hh_p(w_hh, GH, H, /*transposed=*/false);  // W_hh (3H, H)
  const PackedRecurrentWeight<T> w_ih_p(buf.w_ih.data<T>(), GH, g.I, /*transposed=*/false);  // W_ih (3H, I)
  std::vector<T> dxs(gr.dx.defined() ? static_cast<size_t>(T_ * B * g.I) : 0, T(0));

  over_row_chunks(B, [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    T* dhr = dh.data() + b0 * H;
    for (int64_t s = T_ - 1; s >= 0; --s) {
      const int64_t t = time_of(s, g);
      T* dgxs = dgx.data() + (s * B + b0) * GH;
      T* dghs = dgh.data() + (s * B + b0) * GH;
      for (int64_t r = 0; r < nb; ++r) {
        const int64_t b = b0 + r;
        T* dhb = dhr + r * H;
        if (mask && !mask[b * T_ + t]) {
          std::fill(dgxs + r * GH, dgxs + (r + 1) * GH, T(0));
          std::fill(dghs + r * GH, dghs + (r + 1) * GH, T(0));
          continue;
        }
        if (dy) {
          const T* dyb = dy + (b * T_ + t) * H;
          for (int64_t j = 0; j < H; ++j) dhb[j] += dyb[j];
        }
        const int64_t row = (s * B + b) * H;
        gru_cell_backward(gates + (s * B + b) * GH, hn_saved + row, hidden + row, dhb, dgxs + r * GH,
                          dghs + r * GH, H);
      }
      // dh_prev (nb, H) += dgh (nb, 3H) @ W_hh (3H, H)
      w_hh_p.multiply_add(dghs, GH, nb, dhr, H);
      // dxs_t (nb, I) += dgx (nb, 3H) @ W_ih (3H, I)
      if (!dxs.empty()) w_ih_p.multiply_add(dgxs, GH, nb, dxs.data() + (s * B + b0) * g.I, g.I);
    }
  });
  if (gr.dh0.defined()) std::memcpy(gr.dh0.data<T>(), dh.data(), sizeof(T) * B * H);
  parameter_grads<T>(buf, gr, g, dgx.data(), dgh.data(), dxs, GH);
}

}  // namespace

void register_rnn() {
  registry_table<RnnForwardKernel>("lstm_seq").set(DeviceType::CPU, DType::f32, lstm_forward<float>);
  registry_table<RnnForwardKernel>("lstm_seq").set(DeviceType::CPU, DType::f64, lstm_forward<double>);
  registry_table<RnnBackwardKernel>("lstm_seq_bw").set(DeviceType::CPU, DType::f32, lstm_backward<float>);
  registry_table<RnnBackwardKernel>("lstm_seq_bw").set(DeviceType::CPU, DType::f64, lstm_backward<double>);
  registry_table<RnnForwardKernel>("gru_seq").set(DeviceType::CPU, DType::f32, gru_forward<float>);
  registry_table<RnnForwardKernel>("gru_seq").set(DeviceType::CPU, DType::f64, gru_forward<double>);
  registry_table<RnnBackwardKernel>("gru_seq_bw").set(DeviceType::CPU, DType::f32, gru_backward<float>);
  registry_table<RnnBackwardKernel>("gru_seq_bw").set(DeviceType::CPU, DType::f64, gru_backward<double>);
}

}  // namespace cairn::kernels::cpu
