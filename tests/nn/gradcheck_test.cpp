// Float64 finite-difference checks of every layer's gradients, through the module API: the input and every
// parameter are perturbed in place and the layer is called exactly as a model would call it.
#include <gtest/gtest.h>

#include "cairn/nn/nn.h"
#include "test_util.h"

namespace cairn::nn {
namespace {

using test::module_gradcheck;

// Builds `m` for x's shape in float64 and checks d/dx and d/dparams.
::testing::AssertionResult check_layer(Module& m, const Tensor& x_in, bool wrt_input = true) {
  m.to(DType::f64);
  m.build(x_in.shape());
  Tensor x = x_in.detach().clone();
  std::vector<Tensor> wrt = m.trainable_parameters();
  if (wrt_input) {
    x.requires_grad_();
    wrt.push_back(x);
  }
  return module_gradcheck([&] { return m(x); }, wrt);
}

Tensor rnd(const Shape& s, uint64_t seed = 1) {
  Generator g(seed);
  return randn(s, DType::f64, &g);
}

TEST(LayerGrad, Dense) {
  Dense d(3, "tanh");
  EXPECT_TRUE(check_layer(d, rnd({4, 5})));
  Dense seq(2);  // (..., in) inputs
  EXPECT_TRUE(check_layer(seq, rnd({2, 3, 4})));
}

TEST(LayerGrad, EnsembleClassifier) {
  EnsembleClassifier e({std::make_shared<Dense>(3), std::make_shared<Dense>(3, "tanh")});
  EXPECT_TRUE(check_layer(e, rnd({4, 5})));
}

TEST(LayerGrad, Conv2DVariants) {
  Conv2D valid(3, 3, "tanh");
  EXPECT_TRUE(check_layer(valid, rnd({2, 2, 5, 5})));
  Conv2D strided_same(2, 2, Conv2DOptions{.strides = 2, .padding = "same"});  // asymmetric padding
  EXPECT_TRUE(check_layer(strided_same, rnd({1, 2, 5, 5})));
  Conv2D grouped(4, {3, 1}, Conv2DOptions{.padding = "same", .dilation = {1, 2}, .groups = 2});
  EXPECT_TRUE(check_layer(grouped, rnd({1, 4, 4, 5})));
}

TEST(LayerGrad, Pooling) {
  // Distinct values keep max pooling away from ties, where the derivative is undefined.
  Tensor x = rnd({1, 2, 5, 5}, 3) + arange(0, 50, 1, DType::f64).reshape({1, 2, 5, 5}) * 0.1;
  MaxPooling2D mp(2);
  EXPECT_TRUE(check_layer(mp, x));
  MaxPooling2D mps(2, std::nullopt, "same");
  EXPECT_TRUE(check_layer(mps, x));
  AveragePooling2D ap(3, 2);
  EXPECT_TRUE(check_layer(ap, x));
  AveragePooling2D aps(2, std::nullopt, "same");
  EXPECT_TRUE(check_layer(aps, x));
  GlobalAveragePooling2D gap;
  EXPECT_TRUE(check_layer(gap, x));
  GlobalMaxPooling2D gmp;
  EXPECT_TRUE(check_layer(gmp, x));
}

TEST(LayerGrad, BatchNormalizationTrainAndEval) {
  BatchNormalization bn;
  EXPECT_TRUE(check_layer(bn, rnd({4, 3, 2, 2})));
  BatchNormalization bn2d;  // (N, C) inputs, as after a Dense
  EXPECT_TRUE(check_layer(bn2d, rnd({5, 3})));
  bn.eval();
  EXPECT_TRUE(check_layer(bn, rnd({4, 3, 2, 2}, 9)));
}

TEST(LayerGrad, LayerNormalization) {
  LayerNormalization ln;
  EXPECT_TRUE(check_layer(ln, rnd({3, 5})));
  LayerNormalization ln2(LayerNormOptions{.axis = {-2, -1}});
  EXPECT_TRUE(check_layer(ln2, rnd({2, 3, 4})));
}

TEST(LayerGrad, EmbeddingWeights) {
  Embedding e(6, 3);
  e.to(DType::f64);
  Tensor ids = from_vector<int64_t>({1, 2, 5, 1, 0, 2}, {2, 3});
  EXPECT_TRUE(module_gradcheck([&] { return e(ids); }, {e.weight()}));
  // The padding row is used in the forward pass but, by design (PyTorch's padding_idx), gets no gradient.
  Embedding p(6, 3, EmbeddingOptions{.padding_idx = 2});
  sum(p(ids) * 3.0).backward();
  auto g = p.weight().grad().to_vector<float>();
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(g[2 * 3 + j], 0.0f);
    EXPECT_EQ(g[1 * 3 + j], 6.0f);  // index 1 appears twice
  }
}

TEST(LayerGrad, Activations) {
  for (const auto& name : activation_names()) {
    Activation a(name);
    EXPECT_TRUE(check_layer(a, rnd({3, 4}, 5) + 0.01)) << name;  // + 0.01: away from relu's kink at 0
  }
}

TEST(LayerGrad, MergeLayers) {
  Tensor a = rnd({2, 3}, 1).requires_grad_(), b = rnd({2, 3}, 2).requires_grad_(), c = rnd({2, 2}, 3).requires_grad_();
  Add add;
  EXPECT_TRUE(module_gradcheck([&] { return add({a, b}); }, {a, b}));
  Concatenate cat;
  EXPECT_TRUE(module_gradcheck([&] { return cat({a, c}); }, {a, c}));
}

TEST(LayerGrad, SmallCnnEndToEnd) {
  Sequential m;
  m.add(std::make_shared<Reshape>(Shape{1, 6, 6}));
  m.add<Conv2D>(2, 3, "tanh");
  m.add<MaxPooling2D>(2);
  m.add<Flatten>();
  m.add<Dropout>(0.5);
  m.add<Dense>(3, "softmax");
  m.eval();  // dropout off: finite differences need a deterministic function
  EXPECT_TRUE(check_layer(m, rnd({2, 36}, 4)));
}

TEST(LayerGrad, DropoutScalesTheGradientByItsMask) {
  Dropout d(0.5, 1);
  Tensor x = ones({4, 8}, DType::f64).requires_grad_();
  Tensor y = d(x);
  sum(y).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), y.to_vector<double>());  // dy/dx = mask / (1 - rate) = y / x
}

}  // namespace
}  // namespace cairn::nn
