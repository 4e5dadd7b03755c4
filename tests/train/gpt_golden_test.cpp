// One whole GPT training step against PyTorch, as llm.c's test_gpt2.c: a small GPT with torch_ref.py's `gpt`
// architecture, weights, tokens and targets from tests/golden/attention/gpt_step.safetensors (written by
// tools/golden/make_attention.py); Cairn must reproduce the logits, the loss, every parameter's gradient and
// every parameter after one AdamW(lr=1e-3) step. float64 with tight tolerances, float32 with loose ones.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "cairn/nn/nn.h"
#include "cairn/optim/optimizers.h"

using namespace cairn;
using namespace cairn::nn;

namespace {

StateDict with_prefix(const TensorDict& all, const std::string& prefix, DType dtype) {
  StateDict out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) {
      const bool floating = t.dtype() == DType::f64 || t.dtype() == DType::f32;
      out.insert(name.substr(prefix.size()), floating ? t.to(dtype) : t);
    }
  return out;
}

struct Tol {
  double abs, rel;
};

int expect_close(const Tensor& got, const Tensor& want, Tol tol, const std::string& what) {
  EXPECT_TRUE(got.defined()) << what;
  if (!got.defined()) return 1;
  EXPECT_EQ(shape_str(got.shape()), shape_str(want.shape())) << what;
  auto g = got.to(DType::f64).contiguous().to_vector<double>();
  auto w = want.to(DType::f64).contiguous().to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < g.size() && i < w.size(); ++i)
    if (!(std::abs(g[i] - w[i]) <= tol.abs + tol.rel * std::abs(w[i])) && bad++ < 3)
      ADD_FAILURE() << what << " element " << i << ": got " << g[i] << ", want " << w[i];
  return bad;
}

// The parameters after AdamW's first step, p - lr (g / (|g| + eps) + wd p), against PyTorch's, each element to
// base + what the gradient's own tolerance dg can move that update by: lr eps dg / (|g| + eps)^2. For gradients
// near eps (1e-8) float32 rounding alone can flip the update by up to lr, so those elements are held only to 2 lr;
// every other element is held to `base`.
int expect_adam_step_close(const Tensor& got, const Tensor& want, const Tensor& grad, Tol grad_tol, double base,
                           double lr, const std::string& what) {
  const double eps = 1e-8;
  auto g = got.to(DType::f64).contiguous().to_vector<double>();
  auto w = want.to(DType::f64).contiguous().to_vector<double>();
  auto dw = grad.to(DType::f64).contiguous().to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < g.size() && i < w.size(); ++i) {
    const double dg = grad_tol.abs + grad_tol.rel * std::abs(dw[i]), a = std::abs(dw[i]) + eps;
    const double tol = base + std::min(2 * lr, lr * eps * dg / (a * a));
    if (!(std::abs(g[i] - w[i]) <= tol) && bad++ < 3)
      ADD_FAILURE() << what << " element " << i << ": got " << g[i] << ", want " << w[i] << " (tolerance " << tol
                    << ", gradient " << dw[i] << ")";
  }
  return bad;
}

}  // namespace

TEST(GoldenGPT, OneTrainingStepMatchesPyTorch) {
  const TensorDict file = load_tensors(std::string(CAIRN_SOURCE_DIR) + "/tests/golden/attention/gpt_step.safetensors");
  for (DType dt : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dt));
    const bool f64 = dt == DType::f64;
    // float32: relative error of the logits ~1e-6; gradients pass through softmax and layer norm backward.
    const Tol out_tol = f64 ? Tol{1e-11, 1e-10} : Tol{1e-5, 1e-4};
    const Tol grad_tol = f64 ? Tol{1e-11, 1e-9} : Tol{2e-6, 2e-3};
    // AdamW's first step moves each parameter by about lr * sign(grad); see expect_adam_step_close.
    const double new_base = f64 ? 1e-10 : 5e-6;
    GPT model(GPTConfig{.vocab_size = 13, .context_length = 8, .num_layers = 2, .num_heads = 2, .embed_dim = 16});
    model.to(dt);
    model.load_state_dict(with_prefix(file, "step.param.", dt));
    const StateDict ref = with_prefix(file, "step.", dt);
    optim::AdamW opt(model.parameters(), {.lr = 1e-3});
    opt.zero_grad();
    Tensor logits = model.forward(ref.at("tokens"));
    Tensor loss = cross_entropy(logits.reshape({-1, 13}), ref.at("targets").reshape({-1}));
    expect_close(logits, ref.at("logits"), out_tol, "logits");
    expect_close(loss.reshape({1}), ref.at("loss"), out_tol, "loss");
    loss.backward();
    int grads = 0;
    for (auto& [name, p] : model.named_parameters()) {
      expect_close(p.grad(), ref.at("grad." + name), grad_tol, "grad " + name);
      ++grads;
    }
    EXPECT_EQ(grads, 2 + 2 * 12 + 3);  // tok, pos, 12 per block, ln (2) and head
    opt.step();
    for (auto& [name, p] : model.named_parameters())
      expect_adam_step_close(p, ref.at("new." + name), ref.at("grad." + name), grad_tol, new_base, 1e-3, "new " + name);
  }
}
