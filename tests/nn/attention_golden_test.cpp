// Golden tests against PyTorch for MultiHeadAttention (self and cross, every mask kind) and the Transformer
// blocks (pre-norm exact GELU, post-norm tanh GELU): outputs and the gradients of sum(out * R) for inputs and
// every parameter, from tests/golden/attention/{mha,block}.safetensors (tools/golden/make_attention.py, which
// writes torch 1.13's attention out as softmax(q k^T / sqrt(d) + mask) v). Run in float64 and float32.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "cairn/nn/nn.h"
#include "test_util.h"

using namespace cairn;
using namespace cairn::nn;

namespace {

std::string golden_attention(const std::string& file) {
  return std::string(CAIRN_SOURCE_DIR) + "/tests/golden/attention/" + file;
}

// The entries "<prefix><name>" as "<name>", floating ones converted to dtype.
StateDict with_prefix(const TensorDict& all, const std::string& prefix, DType dtype) {
  StateDict out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) {
      const bool floating = t.dtype() == DType::f64 || t.dtype() == DType::f32;
      out.insert(name.substr(prefix.size()), floating ? t.to(dtype) : t);
    }
  return out;
}

double tol_abs(DType dt) { return dt == DType::f64 ? 1e-10 : 2e-5; }
double tol_rel(DType dt) { return dt == DType::f64 ? 1e-9 : 2e-4; }

void expect_close(const Tensor& got, const Tensor& want, DType dt, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << ": no gradient";
  ASSERT_EQ(shape_str(got.shape()), shape_str(want.shape())) << what;
  auto g = got.to(DType::f64).contiguous().to_vector<double>();
  auto w = want.to(DType::f64).contiguous().to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::abs(g[i] - w[i]) <= tol_abs(dt) + tol_rel(dt) * std::abs(w[i])) && bad++ < 3)
      ADD_FAILURE() << what << " (" << dtype_name(dt) << ") element " << i << ": got " << g[i] << ", want " << w[i];
}

// Loads the case's parameters into m, runs f(inputs) and checks the output and every gradient. torch_names:
// the file holds torch.nn.MultiheadAttention names, renamed by from_torch_multihead_attention.
template <class F>
void check_case(Module& m, const TensorDict& file, const std::string& c, DType dt, const F& run,
                bool torch_names = false) {
  m.to(dt);
  StateDict params = with_prefix(file, c + ".param.", dt);
  m.load_state_dict(torch_names ? from_torch_multihead_attention(params) : params);
  StateDict in = with_prefix(file, c + ".", dt);
  Tensor x = in.at("x").clone().requires_grad_();
  Tensor mem = in.contains("memory") ? in.at("memory").clone().requires_grad_() : Tensor();
  m.zero_grad();
  Tensor y = run(x, mem, in);
  expect_close(y, in.at("out"), dt, c + " out");
  sum(y * in.at("R")).backward();
  expect_close(x.grad(), in.at("grad_in.x"), dt, c + " grad x");
  if (mem.defined()) expect_close(mem.grad(), in.at("grad_in.memory"), dt, c + " grad memory");
  StateDict grads = with_prefix(file, c + ".grad.", dt);
  if (torch_names) grads = from_torch_multihead_attention(grads);
  for (auto& [name, p] : m.named_parameters()) expect_close(p.grad(), grads.at(name), dt, c + " grad " + name);
}

}  // namespace

TEST(GoldenAttention, MultiHeadAttention) {
  TensorDict file = load_tensors(golden_attention("mha.safetensors"));
  for (DType dt : {DType::f64, DType::f32}) {
    MultiHeadAttention self(8, 2);
    check_case(self, file, "self_causal_pad", dt, [&](const Tensor& x, const Tensor&, const StateDict& in) {
      return self.forward(x, {.causal = true, .key_padding_mask = in.at("key_padding_mask")});
    });
    MultiHeadAttention self2(8, 2);
    check_case(self2, file, "self_additive_pad", dt, [&](const Tensor& x, const Tensor&, const StateDict& in) {
      return self2.forward(x, {.key_padding_mask = in.at("key_padding_mask"), .attn_mask = in.at("attn_mask")});
    });
    // torch.nn.MultiheadAttention's own result, its state dict renamed; its causal mask given as a float mask.
    MultiHeadAttention torch_like(8, 2);
    check_case(
        torch_like, file, "torch_mha", dt,
        [&](const Tensor& x, const Tensor&, const StateDict& in) {
          return torch_like.forward(x, {.causal = true, .key_padding_mask = in.at("key_padding_mask")});
        },
        true);
    MultiHeadAttention cross(8, 2, {.cross = true, .kv_dim = 6});
    check_case(cross, file, "cross_pad", dt, [&](const Tensor& x, const Tensor& mem, const StateDict& in) {
      return cross.forward(x, mem, {.key_padding_mask = in.at("key_padding_mask")});
    });
  }
}

TEST(GoldenAttention, TransformerBlocks) {
  TensorDict file = load_tensors(golden_attention("block.safetensors"));
  for (DType dt : {DType::f64, DType::f32}) {
    TransformerEncoderBlock pre({.embed_dim = 8, .num_heads = 2, .mlp_dim = 12, .pre_norm = true});
    check_case(pre, file, "pre_exact", dt, [&](const Tensor& x, const Tensor&, const StateDict& in) {
      return pre.forward(x, {.key_padding_mask = in.at("key_padding_mask")});
    });
    TransformerEncoderBlock post(
        {.embed_dim = 8, .num_heads = 2, .mlp_dim = 12, .pre_norm = false, .gelu_approximate = "tanh"});
    check_case(post, file, "post_tanh", dt, [&](const Tensor& x, const Tensor&, const StateDict& in) {
      return post.forward(x, {.key_padding_mask = in.at("key_padding_mask")});
    });
  }
}
