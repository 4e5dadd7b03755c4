// Results do not depend on the thread count: every op family below is run, forward and backward, with 1, 2
// and (float32) 3 threads, and the float32 and float64 results must be bitwise equal. Sizes are above the kernels'
// parallel grains and odd, so the threads' ranges start at positions that are not multiples of a vector
// width (an element near a boundary is computed by the scalar remainder loop with one thread count and by the
// vector body with another: the two must round the same way).
//
// Convolutions are checked with more samples than threads (below that, each sample's GEMMs run on OpenBLAS's
// threads, whose sums depend on the thread count). GEMMs (matmul, linear) are not guaranteed (see below).
// The guarantee, and how each kernel keeps it, is documented in docs/testing.md ("Determinism").
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <map>
#include <string>

#include "cairn/core/core.h"

using namespace cairn;

namespace {

using Results = std::map<std::string, std::vector<uint8_t>>;

// The raw bytes of a tensor (contiguous copy), so that -0.0 vs 0.0 and NaN payloads count as differences.
std::vector<uint8_t> bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  std::vector<uint8_t> b(static_cast<size_t>(c.numel()) * dtype_size(c.dtype()));
  if (!b.empty()) std::memcpy(b.data(), c.raw_data(), b.size());
  return b;
}

// Runs fn on fresh leaves cloned from `inputs`, backpropagates sum(out * R) (R fixed) and records the
// output and every input's gradient under `name`.
void record(Results& res, const std::string& name, const std::vector<Tensor>& inputs,
            const std::function<Tensor(const std::vector<Tensor>&)>& fn) {
  std::vector<Tensor> in;
  for (const Tensor& t : inputs) {
    Tensor c = t.clone();
    if (is_floating(c.dtype())) c.requires_grad_();
    in.push_back(c);
  }
  Tensor y = fn(in);
  res[name + " forward"] = bytes_of(y);
  if (!y.requires_grad()) return;
  Generator g(99);
  Tensor r = uniform(y.shape(), 0.5, 1.5, y.dtype(), &g);
  sum(mul(y, r)).backward();
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].grad().defined()) res[name + " grad " + std::to_string(i)] = bytes_of(in[i].grad());
}

Results run_all(DType dt) {
  Results res;
  Generator gen(2024);
  const int64_t n = 66001;  // > 2 * 32768 (the elementwise grain), odd
  Tensor x = randn({n}, dt, &gen);
  Tensor p = uniform({n}, 0.1, 3.0, dt, &gen);  // positive: log, sqrt, rsqrt, fractional pow
  Tensor a2 = randn({317, 331}, dt, &gen), b1 = randn({331}, dt, &gen), c1 = randn({317, 1}, dt, &gen);
  using Ins = std::vector<Tensor>;

  // ---- elementwise unary and activations (forward kernels, and their backward kernels) ----
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> unary = {
      {"neg", [](const Tensor& v) { return neg(v); }},
      {"exp", [](const Tensor& v) { return exp(v); }},
      {"abs", [](const Tensor& v) { return abs(v); }},
      {"square", [](const Tensor& v) { return square(v); }},
      {"relu", [](const Tensor& v) { return relu(v); }},
      {"leaky_relu", [](const Tensor& v) { return leaky_relu(v, 0.1); }},
      {"sigmoid", [](const Tensor& v) { return sigmoid(v); }},
      {"tanh", [](const Tensor& v) { return cairn::tanh(v); }},
      {"gelu", [](const Tensor& v) { return gelu(v); }},
      {"gelu_tanh", [](const Tensor& v) { return gelu(v, "tanh"); }},
      {"silu", [](const Tensor& v) { return silu(v); }},
      {"softplus", [](const Tensor& v) { return softplus(v, 2.0, 3.0); }},
      {"pow3", [](const Tensor& v) { return cairn::pow(v, 3.0); }},
      {"clamp", [](const Tensor& v) { return clamp(v, -0.5, 0.7); }},
      {"add_scalar", [](const Tensor& v) { return add(v, 0.3); }},
      {"mul_scalar", [](const Tensor& v) { return mul(v, 1.7); }},
      {"rsub", [](const Tensor& v) { return rsub(v, 0.3); }},
  };
  for (const auto& [name, f] : unary) record(res, name, {x}, [&f](const Ins& in) { return f(in[0]); });
  record(res, "log", {p}, [](const Ins& in) { return log(in[0]); });
  record(res, "sqrt", {p}, [](const Ins& in) { return sqrt(in[0]); });
  record(res, "rsqrt", {p}, [](const Ins& in) { return rsqrt(in[0]); });
  record(res, "rdiv", {p}, [](const Ins& in) { return rdiv(in[0], 2.0); });
  record(res, "pow2.5", {p}, [](const Ins& in) { return cairn::pow(in[0], 2.5); });
  // A strided input takes the planned (non-contiguous) loop.
  record(res, "gelu of a transposed view", {a2}, [](const Ins& in) { return gelu(transpose(in[0], 0, 1)); });

  // ---- elementwise binary, same shape and broadcast ----
  using Bin = Tensor (*)(const Tensor&, const Tensor&);
  const std::vector<std::pair<std::string, Bin>> binary = {
      {"add", cairn::add}, {"sub", cairn::sub}, {"mul", cairn::mul}, {"div", cairn::div},
      {"maximum", cairn::maximum}, {"minimum", cairn::minimum}};
  for (const auto& [name, f] : binary) {
    record(res, name, {x, p}, [f](const Ins& in) { return f(in[0], in[1]); });
    record(res, name + " broadcast row", {a2, b1}, [f](const Ins& in) { return f(in[0], in[1]); });
    record(res, name + " broadcast column", {c1, a2}, [f](const Ins& in) { return f(in[0], in[1]); });
  }
  record(res, "pow tensor", {p, x}, [](const Ins& in) { return cairn::pow(in[0], mul(in[1], 0.5)); });
  Tensor cond = gt(randn({317, 331}, dt, &gen), 0.0);
  record(res, "where", {a2, b1}, [&](const Ins& in) { return where(cond, in[0], in[1]); });
  record(res, "masked_fill", {a2}, [&](const Ins& in) { return masked_fill(in[0], cond, -1.0); });

  // ---- reductions ----
  record(res, "sum all (one long row)", {x}, [](const Ins& in) { return sum(in[0]); });
  record(res, "mean all", {x}, [](const Ins& in) { return mean(in[0]); });
  Tensor big = randn({5, 40007}, dt, &gen);
  record(res, "sum rows of (5, 40007)", {big}, [](const Ins& in) { return sum(in[0], {1}); });
  record(res, "sum dim 0", {a2}, [](const Ins& in) { return sum(in[0], {0}); });
  record(res, "sum dim 1", {a2}, [](const Ins& in) { return sum(in[0], {1}); });
  record(res, "mean dim 0 keepdim", {a2}, [](const Ins& in) { return mean(in[0], {0}, true); });
  record(res, "var dim 1", {a2}, [](const Ins& in) { return var(in[0], {1}); });
  record(res, "std all", {a2}, [](const Ins& in) { return cairn::std(in[0]); });
  record(res, "logsumexp dim 1", {a2}, [](const Ins& in) { return logsumexp(in[0], {1}); });
  record(res, "logsumexp dim 0", {a2}, [](const Ins& in) { return logsumexp(in[0], {0}); });
  record(res, "amax dim 1", {a2}, [](const Ins& in) { return amax(in[0], {1}); });
  record(res, "amin all", {x}, [](const Ins& in) { return amin(in[0]); });
  record(res, "max dim 0", {a2}, [](const Ins& in) { return cairn::max(in[0], 0).first; });
  res["argmax dim 1"] = bytes_of(argmax(a2, 1));

  // ---- softmax, cross-entropy, norms ----
  record(res, "softmax dim 1", {a2}, [](const Ins& in) { return softmax(in[0], 1); });
  record(res, "softmax dim 0", {a2}, [](const Ins& in) { return softmax(in[0], 0); });
  record(res, "log_softmax dim 1", {a2}, [](const Ins& in) { return log_softmax(in[0], 1); });
  Tensor target = randint(0, 331, {317}, DType::i64, &gen);
  CrossEntropyOptions ce;
  ce.label_smoothing = 0.1;
  record(res, "cross_entropy", {a2}, [&](const Ins& in) { return cross_entropy(in[0], target, ce); });
  Tensor w331 = randn({331}, dt, &gen);
  record(res, "layer_norm", {a2, w331, b1}, [](const Ins& in) { return layer_norm(in[0], {331}, in[1], in[2]); });
  Tensor xi = randn({16, 12, 17, 13}, dt, &gen), w12 = randn({12}, dt, &gen), b12 = randn({12}, dt, &gen);
  record(res, "batch_norm train", {xi, w12, b12},
         [](const Ins& in) { return batch_norm(in[0], Tensor(), Tensor(), in[1], in[2], true); });

  // matmul and linear are not here: OpenBLAS's own threading changes how it sums (its dgemm on (203, 157) @
  // (157, 131) already differs between 1 and 2 threads), so GEMMs are reproducible for a fixed thread count only.

  // ---- convolution and pooling ----
  Tensor cx = randn({8, 6, 19, 17}, dt, &gen);
  Conv2dOptions plain;
  plain.padding = {1, 1};
  record(res, "conv2d 3x3", {cx, randn({10, 6, 3, 3}, dt, &gen), randn({10}, dt, &gen)},
         [&](const Ins& in) { return conv2d(in[0], in[1], in[2], plain); });
  Conv2dOptions strided;
  strided.stride = {2, 2};
  strided.dilation = {2, 1};
  record(res, "conv2d strided dilated", {cx, randn({4, 6, 3, 2}, dt, &gen)},
         [&](const Ins& in) { return conv2d(in[0], in[1], Tensor(), strided); });
  Conv2dOptions depthwise;
  depthwise.padding = {1, 1};
  depthwise.groups = 6;
  record(res, "conv2d depthwise", {cx, randn({6, 1, 3, 3}, dt, &gen), randn({6}, dt, &gen)},
         [&](const Ins& in) { return conv2d(in[0], in[1], in[2], depthwise); });
  Conv2dOptions grouped;
  grouped.groups = 2;
  grouped.padding_same = true;
  record(res, "conv2d groups 2 same", {cx, randn({8, 3, 5, 5}, dt, &gen)},
         [&](const Ins& in) { return conv2d(in[0], in[1], Tensor(), grouped); });
  record(res, "conv2d pointwise", {cx, randn({9, 6, 1, 1}, dt, &gen)},
         [&](const Ins& in) { return conv2d(in[0], in[1]); });
  // One input channel: the weight gradient's short rows take the direct kernel (small_k_weight_grad).
  record(res, "conv2d one input channel", {randn({9, 1, 20, 21}, dt, &gen), randn({5, 1, 3, 3}, dt, &gen),
                                           randn({5}, dt, &gen)},
         [&](const Ins& in) { return conv2d(in[0], in[1], in[2], plain); });
  // 16 input channels: float32 runs on oneDNN.
  record(res, "conv2d 16 channels", {randn({5, 16, 9, 10}, dt, &gen), randn({7, 16, 3, 3}, dt, &gen),
                                     randn({7}, dt, &gen)},
         [&](const Ins& in) { return conv2d(in[0], in[1], in[2], plain); });
  Pool2dOptions k2;
  k2.kernel = {2, 2};
  Pool2dOptions k3;
  k3.kernel = {3, 3};
  k3.stride = {2, 2};
  k3.padding = {1, 1};
  k3.ceil_mode = true;
  record(res, "max_pool2d 2x2", {cx}, [&](const Ins& in) { return max_pool2d(in[0], k2); });
  record(res, "max_pool2d 3x3 s2 p1 ceil", {cx}, [&](const Ins& in) { return max_pool2d(in[0], k3); });
  record(res, "avg_pool2d 3x3 s2 p1 ceil", {cx}, [&](const Ins& in) { return avg_pool2d(in[0], k3); });
  record(res, "global_avg_pool2d", {cx}, [&](const Ins& in) { return global_avg_pool2d(in[0]); });

  // ---- indexing, embedding, dropout ----
  Tensor emb = randn({50, 64}, dt, &gen);
  Tensor ids = randint(0, 50, {40, 37}, DType::i64, &gen);
  record(res, "embedding", {emb}, [&](const Ins& in) { return embedding(in[0], ids); });
  Tensor rows = randint(0, 317, {900}, DType::i64, &gen);
  record(res, "index_select", {a2}, [&](const Ins& in) { return index_select(in[0], 0, rows); });
  Tensor gidx = randint(0, 331, {317, 200}, DType::i64, &gen);
  record(res, "gather", {a2}, [&](const Ins& in) { return gather(in[0], 1, gidx); });
  record(res, "dropout", {x}, [](const Ins& in) {
    Generator g(5);
    return dropout(in[0], 0.3, true, &g);
  });
  return res;
}

void expect_same(const Results& one, const Results& other, int threads, DType dt) {
  ASSERT_EQ(one.size(), other.size());
  for (const auto& [name, bytes] : one) {
    auto it = other.find(name);
    ASSERT_NE(it, other.end()) << name;
    EXPECT_TRUE(it->second == bytes) << dtype_name(dt) << " " << name << ": results with " << threads
                                     << " threads differ from one thread";
  }
}

void check_thread_counts(DType dt, const std::vector<int>& counts) {
  const int saved = num_threads();
  set_num_threads(1);
  const Results one = run_all(dt);
  for (int t : counts) {
    set_num_threads(t);
    expect_same(one, run_all(dt), t, dt);
  }
  set_num_threads(saved);
}

}  // namespace

TEST(Determinism, Float32ResultsDoNotDependOnThreadCount) { check_thread_counts(DType::f32, {2, 3}); }
TEST(Determinism, Float64ResultsDoNotDependOnThreadCount) { check_thread_counts(DType::f64, {2}); }
