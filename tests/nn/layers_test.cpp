// Layer behaviour: shape inference, values, modes, Sequential error messages, summary.
#include <gtest/gtest.h>

#include <cmath>

#include "cairn/nn/nn.h"
#include "test_util.h"

namespace cairn::nn {
namespace {

using test::error_of;
using test::max_abs_diff;

std::shared_ptr<Sequential> reference_cnn() {
  auto m = std::make_shared<Sequential>();
  m->add<Conv2D>(32, 3, "relu");
  m->add<MaxPooling2D>(2);
  m->add<Conv2D>(64, 3, "relu");
  m->add<MaxPooling2D>(2);
  m->add<Flatten>();
  m->add<Dense>(128, "relu");
  m->add<Dense>(10);
  return m;
}

// Direct 2-D convolution with explicit zero padding (top, left; bottom/right follow from the output size).
std::vector<double> naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, int64_t stride, int64_t pad_top,
                               int64_t pad_left, int64_t oh, int64_t ow) {
  auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), wd = x.size(3), o = w.size(0), kh = w.size(2), kw = w.size(3);
  std::vector<double> out(n * o * oh * ow);
  for (int64_t in = 0; in < n; ++in)
    for (int64_t io = 0; io < o; ++io)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t z = 0; z < ow; ++z) {
          double s = bv[io];
          for (int64_t ic = 0; ic < c; ++ic)
            for (int64_t a = 0; a < kh; ++a)
              for (int64_t bb = 0; bb < kw; ++bb) {
                int64_t yy = y * stride + a - pad_top, zz = z * stride + bb - pad_left;
                if (yy < 0 || yy >= h || zz < 0 || zz >= wd) continue;
                s += xv[((in * c + ic) * h + yy) * wd + zz] * wv[((io * c + ic) * kh + a) * kw + bb];
              }
          out[((in * o + io) * oh + y) * ow + z] = s;
        }
  return out;
}

TEST(Dense, ShapesAndValues) {
  Dense d(3, "relu");
  EXPECT_EQ(d.build({-1, 5, 4}), (Shape{-1, 5, 3}));  // applies to the last axis
  EXPECT_EQ(d.weight().shape(), (Shape{3, 4}));
  NoGradGuard ng;
  Tensor x = randn({2, 4});
  Tensor want = relu(matmul(x, d.weight().t()) + d.bias());
  EXPECT_LT(max_abs_diff(d(x), want), 1e-6);
  std::string msg = error_of<ShapeError>([&] { d(randn({2, 5})); });
  EXPECT_NE(msg.find("Dense 'dense"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expects input [*, 4], got [2, 5]"), std::string::npos) << msg;
  Dense nobias(2, DenseOptions{.use_bias = false, .input_shape = Shape{4}});
  EXPECT_EQ(nobias.parameters().size(), 1u);
  EXPECT_NE(error_of<ValueError>([] { Dense(3, "swishy"); }).find("valid names: linear, relu"), std::string::npos);
}

TEST(Conv2D, ValidSameStrideAgainstNaiveConvolution) {
  Generator g(11);
  Tensor x = randn({2, 3, 7, 6}, DType::f64, &g);
  struct Case {
    Size2 k;
    int64_t stride;
    std::string padding;
    int64_t oh, ow, top, left;
  };
  // 7x6 input: "same" with stride 2 and a 2x2 kernel pads (0 top, 1 bottom) and (0 left, 0 right);
  // a 4x4 kernel at stride 1 pads 1 before and 2 after (the odd pixel goes after, as TF and PyTorch).
  for (Case c : {Case{3, 1, "valid", 5, 4, 0, 0}, Case{3, 2, "valid", 3, 2, 0, 0}, Case{3, 1, "same", 7, 6, 1, 1},
                 Case{2, 2, "same", 4, 3, 0, 0}, Case{4, 1, "same", 7, 6, 1, 1}, Case{{3, 1}, 2, "same", 4, 3, 1, 0}}) {
    Conv2D conv(4, c.k, Conv2DOptions{.strides = c.stride, .padding = c.padding});
    conv.to(DType::f64);
    NoGradGuard ng;
    Tensor y = conv(x);
    ASSERT_EQ(y.shape(), (Shape{2, 4, c.oh, c.ow})) << c.padding << " k" << c.k.h;
    EXPECT_EQ(conv.build({-1, 3, 7, 6}), (Shape{-1, 4, c.oh, c.ow}));
    auto want = naive_conv(x, conv.weight(), conv.bias(), c.stride, c.top, c.left, c.oh, c.ow);
    auto got = y.to_vector<double>();
    double err = 0;
    for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::abs(got[i] - want[i]));
    EXPECT_LT(err, 1e-12) << c.padding << " kernel " << c.k.h << "x" << c.k.w << " stride " << c.stride;
  }
}

TEST(Conv2D, InputErrorsAndGroups) {
  Conv2D conv(8, 3, Conv2DOptions{.groups = 2});
  EXPECT_EQ(conv.build({-1, 4, 10, 10}), (Shape{-1, 8, 8, 8}));
  EXPECT_EQ(conv.weight().shape(), (Shape{8, 2, 3, 3}));
  std::string msg = error_of<ShapeError>([&] { conv.build({5, 4, 2, 9}); });
  EXPECT_NE(msg.find("height (2) is smaller than the window (3)"), std::string::npos) << msg;
  msg = error_of<ShapeError>([&] { Conv2D(2, 3).build({5, 28, 28}); });
  EXPECT_NE(msg.find("expects input [N, C, H, W], got [5, 28, 28]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Reshape"), std::string::npos) << msg;
  error_of<ValueError>([] { Conv2D(6, 3, Conv2DOptions{.groups = 4}); });
  error_of<ValueError>([] { Conv2D(6, 3, Conv2DOptions{.padding = "full"}); });
}

TEST(Pooling, ValidAndSameAsKeras) {
  // 3x3 input, 2x2 windows, stride 2, "same": output 2x2, windows {0,1}x{0,1}, {0,1}x{2}, {2}x{0,1}, {2}x{2}.
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  EXPECT_EQ(MaxPooling2D(2)(x).to_vector<float>(), (std::vector<float>{5}));
  EXPECT_EQ(MaxPooling2D(2, std::nullopt, "same")(x).to_vector<float>(), (std::vector<float>{5, 6, 8, 9}));
  EXPECT_EQ(AveragePooling2D(2, std::nullopt, "same")(x).to_vector<float>(), (std::vector<float>{3, 4.5, 7.5, 9}));
  EXPECT_EQ(MaxPooling2D(2, 1)(x).to_vector<float>(), (std::vector<float>{5, 6, 8, 9}));
  EXPECT_EQ(AveragePooling2D(2)(x).to_vector<float>(), (std::vector<float>{3}));
  Tensor neg = -x;  // -inf padding, not zeros: a max over negative values stays negative
  EXPECT_EQ(MaxPooling2D(2, std::nullopt, "same")(neg).to_vector<float>(), (std::vector<float>{-1, -3, -7, -9}));
  EXPECT_EQ(MaxPooling2D(2).build({-1, 3, 28, -1}), (Shape{-1, 3, 14, -1}));
  EXPECT_EQ(GlobalAveragePooling2D()(x).to_vector<float>(), (std::vector<float>{5}));
  EXPECT_EQ(GlobalMaxPooling2D(true)(x).shape(), (Shape{1, 1, 1, 1}));
  std::string msg = error_of<ShapeError>([] { MaxPooling2D(3).build({1, 1, 2, 2}); });
  EXPECT_NE(msg.find("smaller than the window"), std::string::npos) << msg;
}

// Sequential pools before the relu of Conv2D(activation="relu") + MaxPooling2D; outputs and every gradient must be
// those of the layers run one after the other (here spelled Conv2D, Activation("relu"), MaxPooling2D), including
// windows where every value is negative (the negative bias makes many).
TEST(Sequential, PoolingBeforeReluGivesTheSameValuesAndGradients) {
  auto build = [](bool separate) {
    auto net = std::make_shared<Sequential>();
    if (separate) {
      net->add<Conv2D>(4, 3);
      net->add<Activation>("relu");
    } else {
      net->add<Conv2D>(4, 3, "relu");
    }
    net->add<MaxPooling2D>(2);
    net->add<Flatten>();
    net->add<Dense>(3);
    net->build({-1, 2, 9, 8});
    net->to(DType::f64);
    return net;
  };
  auto fused = build(false), plain = build(true);
  StateDict sd = fused->state_dict();
  sd.insert("0.bias", full({4}, -0.4, DType::f64));
  fused->load_state_dict(sd);
  plain->load_state_dict(sd);  // same names: the Activation layer has no parameters
  Generator g(3);
  const Tensor x = uniform({3, 2, 9, 8}, -1, 1, DType::f64, &g);
  const Tensor seed = uniform({3, 3}, -1, 1, DType::f64, &g);
  Tensor yf = fused->forward(x), yp = plain->forward(x);
  EXPECT_EQ(yf.to_vector<double>(), yp.to_vector<double>());
  yf.backward(seed);
  yp.backward(seed);
  const auto pf = fused->named_parameters(), pp = plain->named_parameters();
  ASSERT_EQ(pf.size(), pp.size());
  for (size_t i = 0; i < pf.size(); ++i) {
    EXPECT_EQ(pf[i].first, pp[i].first);
    EXPECT_LT(max_abs_diff(pf[i].second.grad(), pp[i].second.grad()), 1e-13) << pf[i].first;
  }
  // Some pooled windows were all negative, so the relu mask mattered.
  Tensor pre = static_cast<Conv2D&>(*fused->layers()[0]).forward_without_activation(x);
  EXPECT_GT(sum(le(max_pool2d(pre, {}), zeros({1}, DType::f64)).to(DType::f64)).item(), 0);
}

TEST(FlattenReshape, OrderAndInference) {
  Tensor x = arange(0, 24, 1, DType::f32).reshape({2, 3, 2, 2});
  Tensor f = Flatten()(x);
  EXPECT_EQ(f.shape(), (Shape{2, 12}));
  EXPECT_EQ(f.to_vector<float>(), x.to_vector<float>());  // C, H, W order, as torch.flatten(x, 1)
  EXPECT_EQ(Flatten().build({-1, 3, -1, 2}), (Shape{-1, -1}));
  EXPECT_EQ(Flatten()(zeros({4})).shape(), (Shape{4, 1}));
  EXPECT_EQ(Reshape({1, 28, 28}).build({-1, 784}), (Shape{-1, 1, 28, 28}));
  EXPECT_EQ(Reshape({-1, 4})(f).shape(), (Shape{2, 3, 4}));
  std::string msg = error_of<ShapeError>([&] { Reshape({5, 5})(f); });
  EXPECT_NE(msg.find("12 elements per sample cannot take the shape [5, 5]"), std::string::npos) << msg;
  error_of<ValueError>([] { Reshape({-1, -1}); });
}

TEST(Dropout, TrainDropsAndScalesEvalIsIdentity) {
  Dropout d(0.25, /*seed=*/3);
  Tensor x = ones({200, 50});
  auto v = d(x).to_vector<float>();
  int64_t zeros_n = 0;
  for (float e : v) {
    if (e == 0) ++zeros_n;
    else EXPECT_FLOAT_EQ(e, 1.0f / 0.75f);
  }
  EXPECT_NEAR(zeros_n / 10000.0, 0.25, 0.02);
  Dropout again(0.25, 3);
  EXPECT_EQ(again(x).to_vector<float>(), v);  // seeded masks repeat
  d.eval();
  EXPECT_EQ(d(x).to_vector<float>(), x.to_vector<float>());
  error_of<ValueError>([] { Dropout(1.0); });
}

TEST(BatchNormalization, TrainUsesBatchStatsAndUpdatesRunningOnes) {
  BatchNormalization bn;  // momentum 0.99 (Keras) = PyTorch 0.01, epsilon 1e-3
  Generator g(5);
  Tensor x = randn({8, 3, 4, 4}, DType::f32, &g) * 2.0 + 1.0;
  Tensor y = bn(x);
  EXPECT_EQ(bn.num_batches_tracked(), 1);
  Tensor mean_c = mean(y, {0, 2, 3});
  for (float m : mean_c.to_vector<float>()) EXPECT_NEAR(m, 0.0, 1e-5);
  Tensor bm = mean(x, {0, 2, 3}), bv = var(x, {0, 2, 3}, /*correction=*/1);
  EXPECT_LT(max_abs_diff(bn.running_mean(), bm * 0.01), 1e-5);
  EXPECT_LT(max_abs_diff(bn.running_var(), bv * 0.01 + 0.99), 1e-5);
  // Eval: the running statistics, unchanged by the call.
  bn.eval();
  Tensor rm = bn.running_mean().clone(), rv = bn.running_var().clone();
  Tensor ye = bn(x);
  Tensor want = (x - rm.reshape({1, 3, 1, 1})) / sqrt(rv.reshape({1, 3, 1, 1}) + 1e-3);
  EXPECT_LT(max_abs_diff(ye, want), 1e-5);
  EXPECT_EQ(bn.num_batches_tracked(), 1);
  EXPECT_EQ(bn.running_mean().to_vector<float>(), rm.to_vector<float>());
  std::string msg = error_of<ShapeError>([&] { bn(randn({2, 4})); });
  EXPECT_NE(msg.find("expects input [N, 3, ...]"), std::string::npos) << msg;
}

TEST(LayerNormalization, NormalisesLastAxis) {
  LayerNormalization ln;
  Tensor x = randn({4, 5, 6}) * 3.0 + 2.0;
  Tensor y = ln(x);
  EXPECT_EQ(ln.weight().shape(), (Shape{6}));
  for (float m : mean(y, {-1}).to_vector<float>()) EXPECT_NEAR(m, 0, 1e-5);
  for (float v : var(y, {-1}, 0).to_vector<float>()) EXPECT_NEAR(v, 1, 1e-3);
  LayerNormalization ln2(LayerNormOptions{.axis = {-2, -1}});
  EXPECT_EQ(ln2.build({-1, 5, 6}), (Shape{-1, 5, 6}));
  EXPECT_EQ(ln2.weight().shape(), (Shape{5, 6}));
  error_of<ShapeError>([] { LayerNormalization(LayerNormOptions{.axis = {1}}).build({2, 5, 6}); });
}

TEST(Embedding, LooksUpRows) {
  Embedding e(10, 4, EmbeddingOptions{.padding_idx = 0});
  Tensor ids = from_vector<int64_t>({1, 0, 9, 1}, {2, 2});
  Tensor y = e(ids);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 4}));
  auto w = e.weight().to_vector<float>(), out = y.to_vector<float>();
  for (int j = 0; j < 4; ++j) {
    EXPECT_EQ(out[j], w[4 + j]);
    EXPECT_EQ(out[4 + j], 0.0f);  // the padding row starts at zero
    EXPECT_EQ(out[8 + j], w[36 + j]);
  }
  EXPECT_NE(error_of<DTypeError>([&] { e(zeros({2})); }).find("integer indices"), std::string::npos);
  std::string msg = error_of<IndexError>([&] { e(from_vector<int64_t>({3, 10})); });
  EXPECT_NE(msg.find("index 10 at flat position 1"), std::string::npos) << msg;
  error_of<IndexError>([&] { e(from_vector<int32_t>({-1})); });
}

TEST(Merge, AddAndConcatenate) {
  Tensor a = ones({2, 3}), b = full({2, 3}, 2.0), c = zeros({2, 1});
  Add add;
  EXPECT_EQ(add({a, b, b}).to_vector<float>(), std::vector<float>(6, 5.0f));
  error_of<ShapeError>([&] { add({a, c}); });
  Concatenate cat;  // axis -1
  EXPECT_EQ(cat({a, c}).shape(), (Shape{2, 4}));
  EXPECT_EQ(cat.build(std::vector<Shape>{{-1, 3}, {-1, 1}}), (Shape{-1, 4}));
  EXPECT_EQ(Concatenate(1).build(std::vector<Shape>{{-1, 3, 5, 5}, {-1, 2, 5, 5}}), (Shape{-1, 5, 5, 5}));
  error_of<ShapeError>([&] { Concatenate(1)({a, zeros({3, 3})}); });
  EXPECT_NE(error_of<ValueError>([&] { add(a); }).find("list"), std::string::npos);
}

TEST(LambdaAndActivation, WrapFunctions) {
  Lambda twice([](const Tensor& x) { return x * 2.0; });
  EXPECT_EQ(twice.build({-1, 3}), (Shape{-1, 3}));  // found by running the function on zeros
  EXPECT_EQ(twice(ones({1, 2})).to_vector<float>(), (std::vector<float>{2, 2}));
  Lambda first_col([](const Tensor& x) { return x.narrow(1, 0, 1); }, [](const Shape& s) { return Shape{s[0], 1}; });
  EXPECT_EQ(first_col.build({-1, 7}), (Shape{-1, 1}));
  Lambda mul([](const std::vector<Tensor>& xs) { return xs[0] * xs[1]; });
  EXPECT_EQ(mul({full({2}, 3.0), full({2}, 4.0)}).to_vector<float>(), (std::vector<float>{12, 12}));
  Tensor x = from_vector<float>({-1, 0, 2}, {1, 3});
  EXPECT_EQ(Activation("relu")(x).to_vector<float>(), (std::vector<float>{0, 0, 2}));
  EXPECT_FLOAT_EQ(Activation("leaky_relu")(x).to_vector<float>()[0], -0.2f);
  auto sm = Activation("softmax")(x).to_vector<float>();
  EXPECT_NEAR(sm[0] + sm[1] + sm[2], 1.0, 1e-6);
  for (const auto& name : activation_names()) EXPECT_EQ(Activation(name)(x).shape(), x.shape()) << name;
  EXPECT_NE(error_of<ValueError>([] { Activation("elu"); }).find("valid names"), std::string::npos);
}

TEST(Sequential, ShapeErrorNamesBothLayers) {
  reset_name_counters();
  auto m = reference_cnn();
  m->build({-1, 1, 28, 28});
  std::string msg = error_of<ShapeError>([&] { (*m)(zeros({32, 1, 24, 24})); });
  EXPECT_NE(msg.find("layer 5 'dense' (Dense) expects input [*, 1600] but layer 4 'flatten' (Flatten) outputs "
                     "[32, 1024]"),
            std::string::npos)
      << msg;
  msg = error_of<ShapeError>([&] { m->build({-1, 1, 24, 24}); });
  EXPECT_NE(msg.find("but layer 4 'flatten' (Flatten) outputs [-1, 1024]"), std::string::npos) << msg;
  msg = error_of<ShapeError>([&] { (*m)(zeros({32, 28, 28})); });
  EXPECT_NE(msg.find("layer 0 'conv2d' (Conv2D) expects input [N, 1, H, W] but the model input is [32, 28, 28]"),
            std::string::npos)
      << msg;
}

TEST(Sequential, InputShapeBuildsOnAddAndRejectsMisfits) {
  reset_name_counters();
  Sequential m;
  m.add(std::make_shared<Dense>(4, DenseOptions{.activation = "relu", .input_shape = Shape{3}}));
  EXPECT_TRUE(m.is_built());
  m.add<Dense>(2);
  EXPECT_TRUE(m.is_built());  // built on add
  std::string msg = error_of<ShapeError>([&] { m.add<Conv2D>(8, 3); });
  EXPECT_NE(msg.find("layer 2 'conv2d' (Conv2D) expects input [N, C, H, W] but layer 1 'dense_1' (Dense) outputs "
                     "[-1, 2]"),
            std::string::npos)
      << msg;
  EXPECT_EQ(m.size(), 2u);  // not added
  EXPECT_EQ(m.state_dict().keys(), (std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias"}));
  auto d = std::make_shared<Dense>(1);
  Sequential other;
  other.add(d);
  error_of<ValueError>([&] { other.add(d); });
}

TEST(Summary, ReferenceCnnTable) {
  reset_name_counters();
  auto m = reference_cnn();
  const std::string s = summary(*m, {-1, 1, 28, 28});  // no data needed
  const std::string want =
      "Model: \"sequential\"\n"
      "_____________________________________________________________________\n"
      " Layer (type)                     Output Shape             Param #\n"
      "=====================================================================\n"
      " conv2d (Conv2D)                  (None, 32, 26, 26)       320\n"
      "\n"
      " max_pooling2d (MaxPooling2D)     (None, 32, 13, 13)       0\n"
      "\n"
      " conv2d_1 (Conv2D)                (None, 64, 11, 11)       18,496\n"
      "\n"
      " max_pooling2d_1 (MaxPooling2D)   (None, 64, 5, 5)         0\n"
      "\n"
      " flatten (Flatten)                (None, 1600)             0\n"
      "\n"
      " dense (Dense)                    (None, 128)              204,928\n"
      "\n"
      " dense_1 (Dense)                  (None, 10)               1,290\n"
      "=====================================================================\n"
      "Total params: 225,034\n"
      "Trainable params: 225,034\n"
      "Non-trainable params: 0\n"
      "_____________________________________________________________________\n";
  EXPECT_EQ(s, want);
  EXPECT_EQ(summary(*m), s);  // from the recorded shapes
  auto bn_model = std::make_shared<Sequential>();
  bn_model->add(std::make_shared<Conv2D>(4, 3, Conv2DOptions{.input_shape = Shape{1, 8, 8}}));
  bn_model->add<BatchNormalization>();
  const std::string s2 = summary(*bn_model);  // from input_shape
  EXPECT_NE(s2.find("Total params: 56\nTrainable params: 48\nNon-trainable params: 8\n"), std::string::npos) << s2;
  EXPECT_NE(error_of<ValueError>([] { Sequential u; u.add<Dense>(2); summary(u); }).find("summary(model, input_shape)"),
            std::string::npos);
  EXPECT_EQ(with_commas(1234567), "1,234,567");
  EXPECT_EQ(with_commas(12), "12");
}

}  // namespace
}  // namespace cairn::nn
