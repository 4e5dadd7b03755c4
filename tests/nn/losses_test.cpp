// Losses: values against PyTorch (tests/golden/nn/losses.safetensors), Keras semantics, gradients, errors.
#include <gtest/gtest.h>

#include <cmath>

#include "cairn/nn/nn.h"
#include "test_util.h"

namespace cairn::nn {
namespace {

using test::error_of;

class LossGolden : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { g_ = new TensorDict(load_tensors(test::golden("losses.safetensors"))); }
  static void TearDownTestSuite() { delete g_; }
  static const Tensor& t(const std::string& name) { return g_->at(name); }
  static double v(const std::string& name) { return g_->at(name).item(); }
  static TensorDict* g_;
};
TensorDict* LossGolden::g_ = nullptr;

TEST_F(LossGolden, RegressionWithSampleWeights) {
  EXPECT_NEAR(MeanSquaredError()(t("reg_pred"), t("reg_target"), t("reg_weight")).item(), v("mse"), 1e-12);
  EXPECT_NEAR(MeanAbsoluteError()(t("reg_pred"), t("reg_target"), t("reg_weight")).item(), v("mae"), 1e-12);
  EXPECT_NEAR(Huber(0.7)(t("reg_pred"), t("reg_target"), t("reg_weight")).item(), v("huber"), 1e-12);
}

TEST_F(LossGolden, BinaryIsStableForLargeLogits) {
  Tensor l = BinaryCrossentropy(true)(t("bin_logits"), t("bin_target"));
  EXPECT_TRUE(std::isfinite(l.item()));
  EXPECT_NEAR(l.item(), v("bce_logits"), 1e-12);
  EXPECT_NEAR(BinaryCrossentropy()(t("bin_probs"), t("bin_target")).item(), v("bce_probs"), 1e-12);
  // float32 logits of +-60 must not overflow either.
  EXPECT_NEAR(BinaryCrossentropy(true)(t("bin_logits").to(DType::f32), t("bin_target")).item(), v("bce_logits"), 1e-5);
}

TEST_F(LossGolden, Categorical) {
  EXPECT_NEAR(CategoricalCrossentropy(true, 0.1)(t("cat_logits"), t("cat_onehot")).item(), v("cce_logits_smooth"), 1e-12);
  EXPECT_NEAR(CategoricalCrossentropy()(t("cat_probs"), t("cat_onehot")).item(), v("cce_probs"), 1e-12);
  EXPECT_NEAR(SparseCategoricalCrossentropy()(t("cat_probs"), t("cat_index")).item(), v("scce_probs"), 1e-12);
  EXPECT_NEAR(SparseCategoricalCrossentropy(true)(t("seq_logits"), t("seq_index")).item(), v("scce_seq"), 1e-12);
}

TEST_F(LossGolden, SparseFromLogitsValueAndGradient) {
  Tensor x = t("cat_logits").clone().requires_grad_();
  Tensor l = SparseCategoricalCrossentropy(true)(x, t("cat_index"), t("cat_weight"));
  EXPECT_NEAR(l.item(), v("scce_logits_weighted"), 1e-12);
  l.backward();
  EXPECT_LT(test::max_abs_diff(x.grad(), t("scce_logits_weighted_grad")), 1e-12);
  // The same through make_loss and with int32 or float labels.
  auto f = make_loss("sparse_categorical_crossentropy", {.from_logits = true});
  EXPECT_NEAR((*f)(t("cat_logits"), t("cat_index").to(DType::i32), t("cat_weight")).item(), v("scce_logits_weighted"), 1e-12);
  EXPECT_NEAR((*f)(t("cat_logits"), t("cat_index").to(DType::f32), t("cat_weight")).item(), v("scce_logits_weighted"), 1e-12);
}

TEST(Losses, ReductionsAndKerasMeanOverSamples) {
  Tensor pred = from_vector<double>({1, 2, 3, 4}, {2, 2}), target = zeros({2, 2}, DType::f64);
  // per-sample: mean over the last axis -> (2.5, 12.5)
  EXPECT_DOUBLE_EQ(MeanSquaredError()(pred, target).item(), 7.5);
  EXPECT_DOUBLE_EQ(MeanSquaredError("sum")(pred, target).item(), 15.0);
  EXPECT_EQ(MeanSquaredError("none")(pred, target).to_vector<double>(), (std::vector<double>{2.5, 12.5}));
  // Zero weights still count in the denominator (sum_over_batch_size).
  EXPECT_DOUBLE_EQ(MeanSquaredError()(pred, target, from_vector<double>({0, 1})).item(), 6.25);
  EXPECT_DOUBLE_EQ(MeanSquaredError()(pred, target, from_vector<double>({0, 1}, {2, 1})).item(), 6.25);
  // Regression targets (N) for predictions (N, 1) are aligned, not broadcast to (N, N).
  Tensor p1 = from_vector<double>({1, 2, 3}, {3, 1});
  EXPECT_DOUBLE_EQ(MeanAbsoluteError()(p1, from_vector<double>({1, 1, 1})).item(), 1.0);
  EXPECT_DOUBLE_EQ(MeanAbsoluteError()(from_vector<double>({1, 2, 3}), from_vector<double>({1, 1, 1})).item(), 1.0);
  // Huber's two branches.
  EXPECT_DOUBLE_EQ(Huber(1.0)(from_vector<double>({0.5, 3.0}, {2, 1}), zeros({2, 1}, DType::f64)).item(),
                   (0.125 + 2.5) / 2);
}

TEST(Losses, ProbabilityInputsAreClamped) {
  Tensor p = from_vector<double>({0.0, 1.0}, {2, 1}), z = from_vector<double>({1.0, 0.0}, {2, 1});
  const double l = BinaryCrossentropy()(p, z).item();
  EXPECT_NEAR(l, -std::log(1e-7), 1e-6);  // both predictions clamped 1e-7 away from the wrong certainty
  Tensor q = from_vector<double>({0.0, 1.0}, {1, 2});
  EXPECT_NEAR(SparseCategoricalCrossentropy()(q, from_vector<int64_t>({0})).item(), -std::log(1e-7), 1e-6);
}

TEST(Losses, Errors) {
  Tensor p = zeros({4, 3});
  EXPECT_NE(error_of<ShapeError>([&] { MeanSquaredError()(p, zeros({3, 4})); }).find("same shape"), std::string::npos);
  EXPECT_NE(error_of<ShapeError>([&] { MeanSquaredError()(p, zeros({4})); }).find("[4, 3] and targets [4]"),
            std::string::npos);
  EXPECT_NE(error_of<ShapeError>([&] { MeanSquaredError()(p, zeros({4, 3}), zeros({3})); }).find("sample_weight"),
            std::string::npos);
  EXPECT_NE(error_of<ShapeError>([&] { CategoricalCrossentropy()(p, from_vector<int64_t>({0, 1, 2, 0})); })
                .find("sparse_categorical_crossentropy"),
            std::string::npos);
  std::string msg = error_of<IndexError>([&] { SparseCategoricalCrossentropy(true)(p, from_vector<int64_t>({0, 1, 3, 0})); });
  EXPECT_NE(msg.find("target 3 at flat position 2 is outside [0, 3)"), std::string::npos) << msg;
  error_of<ShapeError>([&] { SparseCategoricalCrossentropy(true)(p, zeros({4, 2}, DType::i64)); });
  error_of<DTypeError>([&] { MeanSquaredError()(zeros({2}, DType::i64), zeros({2}, DType::i64)); });
  EXPECT_NE(error_of<ValueError>([] { make_loss("cross_entropy"); }).find("sparse_categorical_crossentropy"),
            std::string::npos);
  error_of<ValueError>([] { MeanSquaredError("mean"); });
  EXPECT_EQ(make_loss("mse")->name(), "mean_squared_error");
  EXPECT_EQ(make_loss("huber", {.delta = 2.0})->name(), "huber");
}

TEST(LossGrad, EveryLossInFloat64) {
  Generator g(3);
  Tensor pred = randn({4, 3}, DType::f64, &g), target = randn({4, 3}, DType::f64, &g);
  Tensor w = uniform({4}, 0.5, 1.5, DType::f64, &g);
  Tensor probs = uniform({4, 3}, 0.1, 0.9, DType::f64, &g);
  Tensor bin = randint(0, 2, {4, 3}, DType::i64, &g).to(DType::f64);
  Tensor idx = from_vector<int64_t>({0, 2, 1, 2});
  Tensor onehot = eq(idx.unsqueeze(-1), arange(0, 3)).to(DType::f64);
  auto check = [&](const Loss& loss, const Tensor& x, const Tensor& tgt) {
    auto r = testing::gradcheck([&](const std::vector<Tensor>& in) { return loss(in[0], tgt, w); },
                                {x.clone().requires_grad_()}, 1e-6, 1e-7, 1e-5);
    EXPECT_TRUE(r.ok) << loss.name() << ": " << r.message;
  };
  check(MeanSquaredError(), pred, target);
  check(MeanAbsoluteError(), pred, target);
  check(Huber(0.5), pred, target);
  check(BinaryCrossentropy(true, 0.1), pred, bin);
  check(BinaryCrossentropy(), probs, bin);
  check(CategoricalCrossentropy(true, 0.2), pred, onehot);
  check(CategoricalCrossentropy(), probs, onehot);
  check(SparseCategoricalCrossentropy(true), pred, idx);
  check(SparseCategoricalCrossentropy(), probs, idx);
}

}  // namespace
}  // namespace cairn::nn
