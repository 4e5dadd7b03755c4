// Golden tests against PyTorch for ops/norm.cpp: layer_norm (one and two normalised dims, with and without
// affine parameters) and batch_norm (training on 2-D, 3-D and 4-D inputs with the running statistics after the
// step, evaluation with running statistics, no affine). Cases mirror tools/golden/core_golden_cases.py.
#include "golden_util.h"

using namespace cairn;
using golden::Call;
using golden::outs;

TEST(GoldenNorm, LayerNorm) {
  auto ln = [](Shape s, double eps = 1e-5) {
    return [s, eps](Call& c) { return outs(layer_norm(c["x"], s, c.opt("w"), c.opt("b"), eps)); };
  };
  golden::run("layer_norm", {{"last_dim", ln({5})},
                             {"last_two", ln({3, 4})},
                             {"no_affine", ln({5})},
                             {"weight_only", ln({5})},
                             {"eps", ln({5}, 1e-2)}});
}

TEST(GoldenNorm, BatchNorm) {
  // The running statistics are updated in place; the harness compares them with PyTorch's after the call.
  auto bn = [](bool training, double momentum, double eps) {
    return [=](Call& c) {
      return outs(batch_norm(c["x"], c["rm"], c["rv"], c.opt("w"), c.opt("b"), training, momentum, eps));
    };
  };
  golden::run("batch_norm", {{"train_2d", bn(true, 0.1, 1e-5)},
                             {"train_4d", bn(true, 0.2, 1e-3)},
                             {"train_3d", bn(true, 0.1, 1e-5)},
                             {"eval_4d", bn(false, 0.1, 1e-5)},
                             {"train_no_affine", bn(true, 0.1, 1e-5)}});
}
