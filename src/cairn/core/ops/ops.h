// Cairn's differentiable ops. Every op here records itself on the autograd graph (when grad mode is on
// and an input requires grad) and has a float64 finite-difference gradient check in tests/core.
// Binary ops broadcast as NumPy does; operands must have the same dtype (DTypeError otherwise: convert
// with .to()). Shape errors name the op and every shape involved.
#pragma once
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/tensor.h"

namespace cairn {

// ---- creation (ops/creation.cpp) ----
Tensor zeros(const Shape& shape, DType dtype = DType::f32);
Tensor ones(const Shape& shape, DType dtype = DType::f32);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor scalar_tensor(double value, DType dtype = DType::f32);  // shape []
// [start, end) in steps of `step`.
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::i64);
// Standard normal / uniform [low, high) samples from `gen` (the default generator when null).
Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);
Tensor uniform(const Shape& shape, double low, double high, DType dtype = DType::f32, Generator* gen = nullptr);
// Integers uniform in [low, high).
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = DType::i64, Generator* gen = nullptr);
// A random permutation of 0..n-1 (int64).
Tensor randperm(int64_t n, Generator* gen = nullptr);
// Copies `values` (row-major) into a new tensor of `shape` (numel must match).
template <class T> Tensor from_vector(const std::vector<T>& values, const Shape& shape);
template <class T> Tensor from_vector(const std::vector<T>& values) { return from_vector(values, {(int64_t)values.size()}); }

// ---- views and layout (ops/view.cpp) ----
Tensor reshape(const Tensor& x, Shape shape);  // one -1 allowed; a view when strides allow, else a copy
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// Elements start, start+step, ... < end along dim (a view).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor expand(const Tensor& x, const Shape& shape);  // broadcast view (size-1 dims to any size)
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor to_dtype(const Tensor& x, DType dtype);  // differentiable between floating types
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim);
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim);
// Sums `x` down to `shape` (the reverse of broadcasting): the gradient of broadcast_to.
Tensor sum_to(const Tensor& x, const Shape& shape);

// ---- indexing (ops/indexing.cpp) ----
// out[..., i, ...] = x[..., index[i], ...] along dim. index: 1-D int64/int32.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
// out[i][j] = x[i][index[i][j]] (dim=1), PyTorch's gather. index has x's rank.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// out = x with src added at index along dim (PyTorch's scatter_add; out-of-place).
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// Where mask (uint8, broadcast to x) is nonzero, value; elsewhere x.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
// cond ? a : b, elementwise with broadcasting; cond is uint8.
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

// ---- elementwise (ops/elementwise.cpp) ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor rsub(const Tensor& a, double b);  // b - a
Tensor rdiv(const Tensor& a, double b);  // b / a
Tensor neg(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor pow(const Tensor& x, const Tensor& exponent);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
// Limits to [lo, hi]; the gradient passes where lo <= x <= hi.
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
Tensor maximum(const Tensor& a, const Tensor& b);  // ties send the gradient half to each
Tensor minimum(const Tensor& a, const Tensor& b);
// Comparisons return uint8 (0/1) and are not differentiable.
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, double b);
Tensor lt(const Tensor& a, double b);

// ---- activations (ops/activation.cpp) ----
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// approximate: "none" (exact, erf) or "tanh", as torch.nn.functional.gelu.
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor silu(const Tensor& x);

// ---- reductions (ops/reduce.cpp) ----
// dims empty = all dims. keepdim keeps reduced dims as size 1.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// Population variance when correction = 0, sample (Bessel) when 1.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// Max/min over one dim with the int64 indices of the first occurrence; gradient flows to that index.
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
std::pair<Tensor, Tensor> min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor amax(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);

// ---- linear algebra (ops/matmul.cpp) ----
// As torch.matmul: 1-D operands are promoted and the added dim removed; batch dims broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);
// x: (..., in), weight: (out, in), bias: (out) or undefined -> (..., out). PyTorch's layout.
// An activation applied to an op's output inside the op (Keras's activation= on Dense/Conv2D): no separate
// node, no extra output tensor, and on oneDNN paths no extra pass over the output. relu's gradient flows where
// the output is positive, as torch.relu's.
enum class Fused { none, relu };
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Fused activation = Fused::none);

// ---- softmax and losses (ops/softmax.cpp) ----
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
struct CrossEntropyOptions {
  Tensor weight;              // (C) class weights, optional
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  std::string reduction = "mean";  // "mean" | "sum" | "none"
};
// logits: (N, C) or (N, C, d1, ...); target: int64 class indices (N) or (N, d1, ...). Fused
// log_softmax + NLL, as torch.nn.functional.cross_entropy (same weighting and smoothing semantics).
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& opt = {});

// ---- convolution and pooling (ops/conv.cpp, ops/pool.cpp) ----
struct Conv2dOptions {
  std::vector<int64_t> stride{1, 1};
  std::vector<int64_t> padding{0, 0};  // ignored when padding_mode_same
  bool padding_same = false;           // "same": output size = ceil(input / stride) (stride 1 as PyTorch)
  std::vector<int64_t> dilation{1, 1};
  int64_t groups = 1;
  Fused activation = Fused::none;  // applied to the output, after the bias
};
// x: (N, C, H, W), weight: (O, C/groups, kh, kw), bias: (O) or undefined -> (N, O, OH, OW).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), const Conv2dOptions& opt = {});
struct Pool2dOptions {
  std::vector<int64_t> kernel{2, 2};
  std::vector<int64_t> stride{};   // empty = kernel
  std::vector<int64_t> padding{0, 0};
  bool ceil_mode = false;
  bool count_include_pad = true;   // avg pool only
};
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opt);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opt);
// (N, C, H, W) -> (N, C) (keepdim: (N, C, 1, 1)).
Tensor global_avg_pool2d(const Tensor& x, bool keepdim = false);

// ---- embedding, dropout, normalisation (ops/embedding.cpp, ops/dropout.cpp, ops/norm.cpp) ----
// weight: (V, D), indices: int64/int32 any shape -> (*indices.shape, D). Backward scatter-adds into weight.
// Rows equal to padding_idx get no gradient. Out-of-range indices throw IndexError.
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx = -1);
// Zeroes each element with probability p and scales the rest by 1/(1-p) when training; identity otherwise.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);
// Normalises over the trailing dims of `normalized_shape`; weight/bias of that shape or undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
// x: (N, C, ...). Training: batch statistics, and running_mean/var (C) updated in place with momentum
// (unbiased variance, as PyTorch). Inference: running statistics.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum = 0.1, double eps = 1e-5);

// ---- attention (ops/attention.cpp) ----
struct AttentionOptions {
  // Query i (of Tq) sees key j only when j <= i + (Tk - Tq): aligned at the bottom right, so with a KV cache
  // (Tq new queries after Tk - Tq cached keys) each query sees every earlier position. Equals tril when Tq == Tk.
  bool causal = false;
  // (B, Tk) uint8, nonzero = padding: that key is ignored by every query (nn.MultiheadAttention's convention).
  Tensor key_padding_mask{};
  // Additive mask in the inputs' dtype, (Tq, Tk) or (B or 1, H or 1, Tq, Tk); -inf forbids a pair. Constant:
  // it gets no gradient.
  Tensor attn_mask{};
  // Multiplies q k^T; default 1 / sqrt(D).
  std::optional<double> scale{};
  // Dropout on the attention probabilities (torch's dropout_p): each weight zeroed with this probability, the
  // rest scaled by 1 / (1 - dropout); the normaliser is the undropped sum. The mask is a hash of one seed drawn
  // from `generator` (the default generator when null) and is recomputed, not stored, for the backward. Pass 0
  // outside training; ValueError outside [0, 1).
  double dropout = 0.0;
  Generator* generator = nullptr;
};
// softmax(q k^T * scale + masks) v, fused (FlashAttention style): keys are visited in tiles with a running max
// and sum, so no (Tq, Tk) matrix is stored; the backward recomputes the scores tile by tile from the saved
// per-row logsumexp. q: (B, H, Tq, D), k: (B, H, Tk, D), v: (B, H, Tk, Dv) -> (B, H, Tq, Dv), float32 or float64,
// any strides (a copy is made only when the last dim is not contiguous). A query whose every key is masked gets
// zeros (and zero gradients) rather than PyTorch's NaN. Throws ShapeError / DTypeError naming every shape.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionOptions& opt = {});
// Self-attention straight from a fused projection. qkv: (B, T, 3 * H * D) laid out [q | k | v], head h at
// columns h*D .. (h+1)*D - 1 of each third (nanoGPT's c_attn output) -> (B, T, H * D) with heads concatenated.
// The same result as split + view (B, T, H, D) + transpose + scaled_dot_product_attention + transpose back,
// without the copies in either direction (the gradient is written straight into a (B, T, 3HD) buffer).
Tensor self_attention_packed(const Tensor& qkv, int64_t num_heads, const AttentionOptions& opt = {});

}  // namespace cairn
