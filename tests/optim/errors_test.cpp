// Invalid arguments: every error names the optimizer, the option and what is allowed.
#include <gtest/gtest.h>

#include "cairn/optim/optim.h"
#include "golden_util.h"

namespace cairn::optim {
namespace {

// Runs f, expects an exception of type E whose message contains every needle.
template <class E, class F>
void expect_error(F&& f, std::initializer_list<const char*> needles) {
  try {
    f();
    ADD_FAILURE() << "no exception";
  } catch (const E& e) {
    for (const char* n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

std::vector<Tensor> params() { return {zeros({2, 2}).requires_grad_(), zeros({3}).requires_grad_()}; }

TEST(OptimErrors, HyperParameters) {
  expect_error<ValueError>([] { Adam(params(), {.lr = -0.1}); }, {"Adam", "lr", ">= 0", "-0.1"});
  expect_error<ValueError>([] { AdamW(params(), {.beta1 = 1.0}); }, {"AdamW", "beta1", "[0, 1)"});
  expect_error<ValueError>([] { Adam(params(), {.beta2 = -0.5}); }, {"beta2", "[0, 1)", "-0.5"});
  expect_error<ValueError>([] { Adam(params(), {.eps = -1e-8}); }, {"eps"});
  expect_error<ValueError>([] { Adam(params(), {.weight_decay = -1}); }, {"weight_decay"});
  expect_error<ValueError>([] { SGD(params(), {}); }, {"SGD", "lr is required"});
  expect_error<ValueError>([] { SGD(params(), {.lr = 0.1, .nesterov = true}); }, {"nesterov", "momentum > 0"});
  expect_error<ValueError>([] { SGD(params(), {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
                           {"dampening == 0"});
  expect_error<ValueError>([] { SGD(params(), {.lr = 0.1, .momentum = -0.9}); }, {"momentum"});
  expect_error<ValueError>([] { RMSprop(params(), {.alpha = -0.1}); }, {"RMSprop", "alpha"});
  expect_error<ValueError>([] { RMSprop(params(), {.momentum = -1}); }, {"momentum"});
  expect_error<ValueError>([] { Adagrad(params(), {.lr_decay = -1}); }, {"Adagrad", "lr_decay"});
  expect_error<ValueError>([] { Adagrad(params(), {.initial_accumulator_value = -1}); }, {"initial_accumulator_value"});
  EXPECT_NO_THROW(SGD(params(), {.lr = 0.0}));  // lr 0 is allowed, as in PyTorch
}

TEST(OptimErrors, Parameters) {
  expect_error<ValueError>([] { Adam(std::vector<Tensor>{}); }, {"empty parameter list"});
  Tensor p = zeros({2}).requires_grad_();
  expect_error<ValueError>([&] { Adam(std::vector<Tensor>{p, p}); }, {"more than once"});
  expect_error<ValueError>([&] {
    std::vector<ParamGroup> g(2);
    g[0].params = {p};
    g[1].params = {p};
    Adam a(g);
  }, {"more than once", "group 1"});
  expect_error<ValueError>([&] { Adam(std::vector<Tensor>{p * 2.0}); }, {"not a leaf"});
  expect_error<ValueError>([] { Adam(std::vector<Tensor>{zeros({2}, DType::i64)}); }, {"int64", "float32"});
  expect_error<ValueError>([] { Adam(std::vector<Tensor>{zeros({2, 3}).t()}); }, {"not contiguous"});
  expect_error<ValueError>([] { Adam(std::vector<Tensor>{Tensor()}); }, {"undefined"});
  expect_error<ValueError>([&] {
    std::vector<ParamGroup> g(1);
    g[0].params = {p};
    g[0].lr = -1.0;
    Adam a(g);
  }, {"group's lr"});
}

TEST(OptimErrors, StepAndLr) {
  auto ps = params();
  Adam opt(ps);
  ps[0].set_grad(zeros({4}));
  expect_error<ShapeError>([&] { opt.step(); }, {"Adam.step", "[4]", "[2, 2]"});
  ps[0].set_grad(zeros({2, 2}, DType::f64));
  expect_error<DTypeError>([&] { opt.step(); }, {"float64", "float32"});
  EXPECT_EQ(opt.state(0).step, 0);  // nothing was updated
  // A bad gradient on a later parameter: the earlier ones are neither updated nor counted.
  ps[0].set_grad(ones({2, 2}));
  ps[1].set_grad(zeros({5}));
  const std::vector<float> before = ps[0].to_vector<float>();
  expect_error<ShapeError>([&] { opt.step(); }, {"parameter 1"});
  EXPECT_EQ(opt.state(0).step, 0);
  EXPECT_EQ(ps[0].to_vector<float>(), before);
  expect_error<ValueError>([&] { opt.set_lr(-1); }, {"lr"});
  expect_error<ValueError>([&] { opt.set_lr(std::nan("")); }, {"lr"});
  expect_error<IndexError>([&] { opt.set_group_lr(3, 0.1); }, {"group 3"});
  expect_error<IndexError>([&] { opt.state(2); }, {"out of range"});
}

TEST(OptimErrors, Factory) {
  expect_error<ValueError>([] { make_optimizer("adamm", params(), {}); },
                           {"unknown optimizer 'adamm'", "adagrad, adam, adamw, rmsprop, sgd"});
  expect_error<ValueError>([] { make_optimizer("adam", params(), {{"momentum", 0.9}}); },
                           {"unknown option 'momentum'", "lr, beta1, beta2, eps, weight_decay, amsgrad"});
  expect_error<ValueError>([] { make_optimizer("adamw", params(), {{"betas", 0.9}}); }, {"beta1 and beta2"});
  expect_error<ValueError>([] { make_optimizer("sgd", params(), {{"momentum", 0.9}}); }, {"'lr' is required"});
  expect_error<ValueError>([] { make_optimizer("sgd", params(), {{"lr", 0.1}, {"nesterov", 2}}); },
                           {"nesterov", "0 or 1"});
  expect_error<ValueError>([] { make_optimizer("adam", params(), {{"beta1", 0.9}, {"beta_1", 0.8}}); }, {"twice"});
  expect_error<ValueError>([] { make_optimizer("rmsprop", params(), {{"lr", -3}}); }, {"RMSprop", "lr"});

  // Names are case-insensitive; beta_1/beta_2 are aliases; AdamW keeps PyTorch's 0.01 decay default.
  auto opt = make_optimizer("AdamW", params(), {{"lr", 3e-4}, {"beta_1", 0.8}, {"beta_2", 0.95}});
  EXPECT_EQ(opt->name(), "AdamW");
  EXPECT_DOUBLE_EQ(opt->lr(), 3e-4);
  const auto sd = opt->state_dict();
  EXPECT_DOUBLE_EQ(sd.at("option.beta1").item(), 0.8);
  EXPECT_DOUBLE_EQ(sd.at("option.beta2").item(), 0.95);
  EXPECT_DOUBLE_EQ(sd.at("option.weight_decay").item(), 0.01);
  EXPECT_EQ(make_optimizer("adagrad", params(), {})->name(), "Adagrad");
  EXPECT_EQ(make_optimizer("RMSprop", params(), {{"centered", 1}})->state_dict().at("option.centered").item(), 1.0);
}

}  // namespace
}  // namespace cairn::optim
