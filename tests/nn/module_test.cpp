// Module mechanics: names, registration, state dicts, loading errors, freezing, modes, dtypes.
#include <gtest/gtest.h>

#include "cairn/nn/nn.h"
#include "test_util.h"

namespace cairn::nn {
namespace {

using test::error_of;

// The reference CNN for 28x28 Fashion-MNIST images.
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

TEST(Names, SnakeCaseAsKeras) {
  EXPECT_EQ(snake_case("Dense"), "dense");
  EXPECT_EQ(snake_case("Conv2D"), "conv2d");
  EXPECT_EQ(snake_case("MaxPooling2D"), "max_pooling2d");
  EXPECT_EQ(snake_case("BatchNormalization"), "batch_normalization");
  EXPECT_EQ(snake_case("GlobalAveragePooling2D"), "global_average_pooling2d");
  EXPECT_EQ(snake_case("LayerNormalization"), "layer_normalization");
}

TEST(Names, UniquePerTypeAndResettable) {
  reset_name_counters();
  Dense a(3), b(3);
  Conv2D c(4, 3);
  Flatten f;
  EXPECT_EQ(a.name(), "dense");
  EXPECT_EQ(b.name(), "dense_1");
  EXPECT_EQ(c.name(), "conv2d");
  EXPECT_EQ(f.name(), "flatten");
  EXPECT_EQ(a.type_name(), "Dense");
  Dense named(3, DenseOptions{.name = "logits"});
  EXPECT_EQ(named.name(), "logits");
  reset_name_counters();
  EXPECT_EQ(Dense(2).name(), "dense");
}

TEST(StateDict, ReferenceCnnMatchesTorchSequentialNames) {
  reset_name_counters();
  auto m = reference_cnn();
  EXPECT_FALSE(m->is_built());
  EXPECT_TRUE(m->parameters().empty());  // lazy: nothing before the input shape is known
  Shape out = m->build({-1, 1, 28, 28});
  EXPECT_EQ(out, (Shape{-1, 10}));
  EXPECT_TRUE(m->is_built());
  StateDict sd = m->state_dict();
  std::vector<std::string> want = {"0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias", "9.weight", "9.bias"};
  EXPECT_EQ(sd.keys(), want);
  EXPECT_EQ(sd.at("0.weight").shape(), (Shape{32, 1, 3, 3}));
  EXPECT_EQ(sd.at("3.weight").shape(), (Shape{64, 32, 3, 3}));
  EXPECT_EQ(sd.at("7.weight").shape(), (Shape{128, 1600}));
  EXPECT_EQ(sd.at("9.weight").shape(), (Shape{10, 128}));
  EXPECT_EQ(sd.at("9.bias").shape(), (Shape{10}));
  EXPECT_EQ(m->count_params(), 225034);
  EXPECT_EQ(m->index_name(5), "7");
  EXPECT_EQ(m->get_layer("dense")->type_name(), "Dense");
}

struct Block : Module {
  std::shared_ptr<Dense> fc1, fc2;
  std::shared_ptr<BatchNormalization> bn;
  Block() : Module("Block") {
    fc1 = register_module("fc1", std::make_shared<Dense>(6, "relu"));
    bn = register_module("bn", std::make_shared<BatchNormalization>());
    fc2 = register_module("fc2", std::make_shared<Dense>(2));
    register_buffer("steps", zeros({}, DType::i64));
  }
  Tensor forward(const Tensor& x) override { return (*fc2)((*bn)((*fc1)(x))); }
};

TEST(StateDict, CustomModuleNamesAndOrder) {
  auto b = std::make_shared<Block>();
  Shape out = b->build({-1, 5});  // default build: runs forward on zeros, eval mode, no grad
  EXPECT_EQ(out, (Shape{-1, 2}));
  EXPECT_TRUE(b->is_training());  // restored after the probe
  EXPECT_EQ(b->bn->num_batches_tracked(), 0);  // the probe ran in eval mode
  std::vector<std::string> want = {"steps",           "fc1.weight",      "fc1.bias",       "bn.weight",
                                   "bn.bias",         "bn.running_mean", "bn.running_var", "bn.num_batches_tracked",
                                   "fc2.weight",      "fc2.bias"};
  EXPECT_EQ(b->state_dict().keys(), want);
  std::vector<std::string> params;
  for (auto& [n, p] : b->named_parameters()) params.push_back(n);
  EXPECT_EQ(params, (std::vector<std::string>{"fc1.weight", "fc1.bias", "bn.weight", "bn.bias", "fc2.weight", "fc2.bias"}));
  std::vector<std::string> buffers;
  for (auto& [n, t] : b->named_buffers()) buffers.push_back(n);
  EXPECT_EQ(buffers, (std::vector<std::string>{"steps", "bn.running_mean", "bn.running_var", "bn.num_batches_tracked"}));
  auto mods = b->named_modules();
  ASSERT_EQ(mods.size(), 4u);
  EXPECT_EQ(mods[0].first, "");
  EXPECT_EQ(mods[2].first, "bn");
  EXPECT_NE(b->repr().find("(fc1): Dense("), std::string::npos);
}

TEST(Registration, RejectsBadAndDuplicateNames) {
  Module m("Custom");
  m.register_parameter("w", zeros({2}));
  EXPECT_NE(error_of<ValueError>([&] { m.register_parameter("w", zeros({2})); }).find("already taken"), std::string::npos);
  EXPECT_NE(error_of<ValueError>([&] { m.register_buffer("a.b", zeros({2})); }).find("no '.'"), std::string::npos);
  error_of<ValueError>([&] { m.register_module("", std::make_shared<Flatten>()); });
  error_of<DTypeError>([&] { m.register_parameter("idx", zeros({2}, DType::i64)); });
  // A module without forward says so.
  EXPECT_NE(error_of<ValueError>([&] { m.forward(zeros({1})); }).find("not implemented"), std::string::npos);
}

TEST(Registration, SharedParametersAppearOnce) {
  Module m("Tied");
  Tensor w = m.register_parameter("w", ones({3}));
  auto child = std::make_shared<Module>("Child");
  child->register_parameter("w_alias", zeros({1}));
  m.register_module("child", child);
  EXPECT_EQ(m.parameters().size(), 2u);
  EXPECT_TRUE(w.requires_grad());
  EXPECT_TRUE(w.is_leaf());
}

// Builds a dict that is wrong in every way at once.
TEST(LoadStateDict, ErrorListsMissingUnexpectedAndMisshaped) {
  auto m = reference_cnn();
  m->build({-1, 1, 28, 28});
  const std::vector<float> before = m->state_dict().at("0.weight").to_vector<float>();
  StateDict d;
  for (auto& [n, t] : m->state_dict())
    if (n != "3.bias") d.insert(n, zeros(t.shape()));
  d.insert("7.weight", zeros({128, 1024}));
  d.insert("9.bias", zeros({12}));
  d.insert("extra.weight", zeros({2, 2}));
  try {
    m->load_state_dict(d);
    FAIL() << "no error";
  } catch (const StateDictError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("missing (1):\n    3.bias [64]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected (1):\n    extra.weight [2, 2]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("7.weight: expected [128, 1600], found [128, 1024]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("9.bias: expected [10], found [12]"), std::string::npos) << msg;
    EXPECT_EQ(e.missing(), std::vector<std::string>{"3.bias"});
    EXPECT_EQ(e.unexpected(), std::vector<std::string>{"extra.weight"});
    ASSERT_EQ(e.mismatched().size(), 2u);
    EXPECT_EQ(e.mismatched()[0].name, "7.weight");
  }
  // All or nothing: the valid tensors were not copied either.
  EXPECT_EQ(m->state_dict().at("0.weight").to_vector<float>(), before);
}

TEST(LoadStateDict, NonStrictSkipsNamesButNotShapes) {
  auto m = reference_cnn();
  m->build({-1, 1, 28, 28});
  StateDict d;
  d.insert("0.bias", full({32}, 0.5));
  d.insert("head.weight", zeros({3}));
  LoadResult r = m->load_state_dict(d, /*strict=*/false);
  EXPECT_EQ(r.unexpected, std::vector<std::string>{"head.weight"});
  EXPECT_EQ(r.missing.size(), 7u);
  EXPECT_EQ(m->state_dict().at("0.bias").to_vector<float>(), std::vector<float>(32, 0.5f));
  d.insert("0.bias", zeros({31}));
  error_of<StateDictError>([&] { m->load_state_dict(d, false); });
}

TEST(LoadStateDict, KeepsParameterHandlesAndConvertsDtype) {
  Dense fc(2, DenseOptions{.input_shape = Shape{3}});
  std::vector<Tensor> handed_to_optimizer = fc.parameters();
  StateDict d{{"weight", from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3})}, {"bias", from_vector<double>({-1, 1})}};
  fc.load_state_dict(d);
  EXPECT_EQ(handed_to_optimizer[0].dtype(), DType::f32);
  EXPECT_EQ(handed_to_optimizer[0].to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(handed_to_optimizer[1].to_vector<float>(), (std::vector<float>{-1, 1}));
  Tensor y = fc(from_vector<float>({1, 0, 1}, {1, 3}));
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{3, 11}));
}

TEST(LoadStateDict, UnbuiltModelSaysToBuildFirst) {
  auto m = reference_cnn();
  auto built = reference_cnn();
  built->build({-1, 1, 28, 28});
  std::string msg = error_of<StateDictError>([&] { m->load_state_dict(built->state_dict()); });
  EXPECT_NE(msg.find("not built yet"), std::string::npos) << msg;
}

TEST(Freezing, FrozenSubtreeGetsNoGradientsAndLeavesTrainableParameters) {
  auto m = std::make_shared<Sequential>();
  auto first = m->add<Dense>(4, "tanh");
  m->add<Dense>(2);
  first->set_trainable(false);  // before building: parameters created later are frozen too
  m->build({-1, 3});
  EXPECT_EQ(m->parameters().size(), 4u);
  EXPECT_EQ(m->trainable_parameters().size(), 2u);
  EXPECT_FALSE(first->weight().requires_grad());
  Tensor loss = sum((*m)(randn({5, 3})));
  loss.backward();
  EXPECT_FALSE(first->weight().grad().defined());
  EXPECT_TRUE(m->trainable_parameters()[0].grad().defined());
  ParamCounts c = count_parameters(*m);
  EXPECT_EQ(c.non_trainable, 16);
  EXPECT_EQ(c.trainable, 10);
  first->set_trainable(true);
  EXPECT_EQ(m->trainable_parameters().size(), 4u);
}

TEST(Modes, TrainEvalPropagates) {
  auto b = std::make_shared<Block>();
  EXPECT_TRUE(b->fc1->is_training());
  b->eval();
  EXPECT_FALSE(b->bn->is_training());
  b->train();
  EXPECT_TRUE(b->bn->is_training());
}

TEST(Dtype, ToConvertsInPlaceAndLaterBuilds) {
  auto m = std::make_shared<Sequential>();
  auto d1 = m->add<Dense>(3, DenseOptions{.input_shape = Shape{2}});
  Tensor handle = d1->weight();
  m->to(DType::f64);
  EXPECT_EQ(handle.dtype(), DType::f64);
  EXPECT_TRUE(handle.requires_grad());
  auto d2 = m->add<Dense>(1);  // built on add (the input shape is known) with the model's dtype
  EXPECT_EQ(d2->weight().dtype(), DType::f64);
  EXPECT_EQ((*m)(ones({4, 2}, DType::f64)).dtype(), DType::f64);
  std::string msg = error_of<DTypeError>([&] { (*m)(ones({4, 2})); });
  EXPECT_NE(msg.find("model.to(DType::f32)"), std::string::npos) << msg;
}

TEST(Init, SeededLayersAreReproducibleAndScaled) {
  Dense a(64, DenseOptions{.input_shape = Shape{100}, .seed = 5});
  Dense b(64, DenseOptions{.input_shape = Shape{100}, .seed = 5});
  EXPECT_EQ(a.weight().to_vector<float>(), b.weight().to_vector<float>());
  const double limit = std::sqrt(6.0 / (100 + 64));  // glorot_uniform
  auto w = a.weight().to_vector<float>();
  double mx = 0, sq = 0;
  for (float v : w) mx = std::max(mx, (double)std::abs(v)), sq += v * v;
  EXPECT_LE(mx, limit);
  EXPECT_NEAR(std::sqrt(sq / w.size()), limit / std::sqrt(3.0), 0.01);  // std of U(-l, l)
  EXPECT_EQ(a.bias().to_vector<float>(), std::vector<float>(64, 0.0f));
  Dense t(64, DenseOptions{.kernel_initializer = "torch_default", .input_shape = Shape{100}, .seed = 1});
  for (float v : t.bias().to_vector<float>()) EXPECT_LE(std::abs(v), 0.1f);  // 1 / sqrt(fan_in)
  EXPECT_NE(t.bias().to_vector<float>(), std::vector<float>(64, 0.0f));
  Tensor h = zeros({400, 50});
  Generator g(3);
  initialize(h, "he_normal", compute_fans(h.shape()), g);
  double s2 = 0;
  for (float v : h.to_vector<float>()) s2 += v * v;
  EXPECT_NEAR(std::sqrt(s2 / h.numel()), std::sqrt(2.0 / 50), 0.01);
  EXPECT_NE(error_of<ValueError>([] { Dense(3, DenseOptions{.kernel_initializer = "xavier"}); }).find("glorot_uniform"),
            std::string::npos);
}

TEST(Init, FansFollowPyTorchLayout) {
  Fans f = compute_fans({64, 32, 3, 3});
  EXPECT_EQ(f.fan_in, 32 * 9);
  EXPECT_EQ(f.fan_out, 64 * 9);
}

TEST(TensorDictTest, OrderAndLookup) {
  TensorDict d;
  d.insert("b", zeros({1}));
  d.insert("a", ones({2}));
  d.insert("b", ones({3}));  // replaces in place
  EXPECT_EQ(d.keys(), (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(d.at("b").numel(), 3);
  EXPECT_EQ(d.find("zz"), nullptr);
  EXPECT_NE(error_of<IndexError>([&] { d.at("zz"); }).find("'zz'"), std::string::npos);
}

// Soft voting: the output's softmax is the members' mean probability; members are saved as member0., member1.
TEST(EnsembleClassifier, AveragesTheMembersProbabilities) {
  auto a = std::make_shared<Dense>(3), b = std::make_shared<Dense>(3);
  EnsembleClassifier e({a, b});
  Generator g(3);
  const Tensor x = randn({4, 5}, DType::f32, &g);
  EXPECT_EQ(e.build({-1, 5}), (Shape{-1, 3}));
  const Tensor want = mul(add(softmax((*a)(x), 1), softmax((*b)(x), 1)), 0.5);
  EXPECT_LT(test::max_abs_diff(softmax(e(x), 1), want), 1e-6);
  EXPECT_LT(test::max_abs_diff(e(x), log(want)), 1e-6);
  const StateDict sd = e.state_dict();
  EXPECT_TRUE(sd.contains("member0.weight") && sd.contains("member1.bias"));
  EXPECT_EQ(e.size(), 2u);
  // One member: its own probabilities.
  EnsembleClassifier one({a});
  EXPECT_LT(test::max_abs_diff(softmax(one(x), 1), softmax((*a)(x), 1)), 1e-6);
}

TEST(EnsembleClassifier, RejectsNoMembersAndMembersOfDifferentWidths) {
  EXPECT_THROW(EnsembleClassifier({}), ValueError);
  EXPECT_THROW(EnsembleClassifier({std::make_shared<Dense>(3), nullptr}), ValueError);
  EnsembleClassifier e({std::make_shared<Dense>(3), std::make_shared<Dense>(4)});
  EXPECT_NE(error_of<ShapeError>([&] { e.build({-1, 5}); }).find("member 1 maps"), std::string::npos);
}

}  // namespace
}  // namespace cairn::nn
