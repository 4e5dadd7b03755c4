// Weight initialisation shared by the attention layers, Transformer blocks and GPT (internal).
#pragma once
#include <cmath>
#include <memory>
#include <string>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/ops/ops.h"
#include "cairn/nn/init.h"
#include "cairn/nn/layers_core.h"

namespace cairn::nn::xfmr {

// GPT-2's std for projections into the residual stream: 0.02 / sqrt(2 * num_layers) (0.02 when num_layers <= 0).
inline double residual_std(int64_t num_layers) {
  return num_layers > 0 ? 0.02 / std::sqrt(2.0 * static_cast<double>(num_layers)) : 0.02;
}

// t = N(0, std^2) draws from gen, outside autograd.
inline void fill_normal(Tensor& t, double std, Generator& gen) {
  NoGradGuard no_grad;
  t.copy_(randn(t.shape(), t.dtype(), &gen) * std);
}

// A built Dense in -> out. init "gpt2": weight N(0, std^2), zero bias; otherwise an nn::init name for the weight
// ("torch_default" gives torch.nn.Linear's init for both).
inline std::shared_ptr<Dense> make_dense(int64_t in, int64_t out, bool bias, const std::string& init, double std,
                                         Generator& gen) {
  const bool gpt2 = init == "gpt2";
  auto d = std::make_shared<Dense>(
      out, DenseOptions{.use_bias = bias, .kernel_initializer = gpt2 ? "zeros" : init, .input_shape = Shape{in}});
  if (gpt2) {
    Tensor w = d->weight();
    fill_normal(w, std, gen);
  } else {
    // Dense drew from the process generator; redraw from gen so a seed= option is honoured.
    Tensor w = d->weight();
    initialize(w, init, compute_fans(w.shape()), gen);
    if (d->bias().defined() && init == "torch_default") {
      Tensor b = d->bias();
      initialize(b, "torch_default", compute_fans(w.shape()), gen);
    }
  }
  return d;
}

// Embedding tables: "gpt2" N(0, 0.02^2); "torch_default" N(0, 1) (torch.nn.Embedding); else an nn::init name.
inline void init_embedding(Tensor& w, const std::string& init, Generator& gen) {
  if (init == "gpt2") return fill_normal(w, 0.02, gen);
  if (init == "torch_default") return fill_normal(w, 1.0, gen);
  initialize(w, init, compute_fans(w.shape()), gen);
}

}  // namespace cairn::nn::xfmr
