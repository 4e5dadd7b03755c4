// Checkpointing an optimizer: a run resumed from state_dict() continues bit for bit.
#include <gtest/gtest.h>

#include "cairn/optim/optim.h"
#include "golden_util.h"

namespace cairn::optim {
namespace {

struct Config {
  std::string name;
  std::map<std::string, double> options;  // the saved run's
  std::map<std::string, double> other;    // the resumed optimizer is built with these; loading restores the above
};

std::vector<Config> configs() {
  return {
      {"sgd", {{"lr", 0.05}, {"momentum", 0.9}, {"nesterov", 1}, {"weight_decay", 0.01}}, {{"lr", 1.0}}},
      {"sgd", {{"lr", 0.05}, {"momentum", 0.8}, {"dampening", 0.2}}, {{"lr", 0.1}, {"momentum", 0.1}}},
      {"adam", {{"lr", 0.01}, {"amsgrad", 1}, {"beta2", 0.9}, {"weight_decay", 0.1}}, {}},
      {"adamw", {{"lr", 0.02}, {"beta1", 0.5}}, {{"amsgrad", 1}}},
      {"rmsprop", {{"lr", 0.01}, {"momentum", 0.9}, {"centered", 1}}, {{"alpha", 0.5}}},
      {"adagrad", {{"lr", 0.1}, {"lr_decay", 0.1}, {"initial_accumulator_value", 0.2}}, {{"eps", 1e-3}}},
  };
}

// Two groups (the second with its own lr and no decay) over a 3x4 and a 5 parameter.
std::vector<ParamGroup> make_groups(const std::vector<Tensor>& params) {
  std::vector<ParamGroup> groups(2);
  groups[0].params = {params[0]};
  groups[1].params = {params[1]};
  groups[1].lr = 0.03;
  groups[1].weight_decay = 0.0;
  return groups;
}

std::vector<Tensor> make_params(DType dtype) {
  Generator gen(42);
  return {randn({3, 4}, dtype, &gen).requires_grad_(), randn({5}, dtype, &gen).requires_grad_()};
}

// Gradient of sum(0.5 * (1 + 0.1 k) * p^2 - p) at step k; parameter 1 gets none on steps where k % 3 == 2.
void set_grads(std::vector<Tensor>& params, int k) {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params.size(); ++i) {
    if (i == 1 && k % 3 == 2) params[i].zero_grad();
    else params[i].set_grad(params[i].detach() * (1.0 + 0.1 * k) - 1.0);
  }
}

TEST(StateDict, ResumedRunIsBitIdentical) {
  for (DType dtype : {DType::f32, DType::f64}) {
    for (const Config& c : configs()) {
      SCOPED_TRACE(c.name + " " + dtype_name(dtype));
      std::vector<Tensor> a = make_params(dtype);
      auto opt_a = make_optimizer(c.name, make_groups(a), c.options);
      opt_a->set_lr(opt_a->lr() * 0.7);  // an lr changed by hand must be restored too
      for (int k = 0; k < 4; ++k) {
        set_grads(a, k);
        opt_a->step();
      }
      const std::map<std::string, Tensor> saved = opt_a->state_dict();
      std::vector<Tensor> b;
      for (const Tensor& p : a) b.push_back(p.detach().clone().requires_grad_());

      auto opt_b = make_optimizer(c.name, make_groups(b), c.other.count("lr") || c.name != "sgd" ? c.other : c.options);
      opt_b->load_state_dict(saved);
      EXPECT_EQ(opt_b->lr(), opt_a->lr());
      for (int k = 4; k < 10; ++k) {
        set_grads(a, k);
        set_grads(b, k);
        opt_a->step();
        opt_b->step();
        for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(testing::same_bits(a[i], b[i])) << "param " << i << " step " << k;
      }
      // And the resumed optimizer's own state dict is the original's, key for key and bit for bit.
      const auto sa = opt_a->state_dict(), sb = opt_b->state_dict();
      ASSERT_EQ(sa.size(), sb.size());
      for (const auto& [key, t] : sa) {
        ASSERT_TRUE(sb.count(key)) << key;
        EXPECT_TRUE(testing::same_bits(t, sb.at(key))) << key;
      }
    }
  }
}

TEST(StateDict, KeysAndCopies) {
  std::vector<Tensor> p = make_params(DType::f32);
  Adam opt(make_groups(p), {.lr = 0.01, .amsgrad = true});
  set_grads(p, 2);  // parameter 1 gets no grad: it has no state yet
  opt.step();
  opt.step();
  auto sd = opt.state_dict();
  for (const char* key : {"state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq",
                          "group.0.lr", "group.1.lr", "group.1.weight_decay", "group.1.lr_scale", "group.0.num_params",
                          "option.lr", "option.weight_decay", "option.beta1", "option.beta2", "option.eps",
                          "option.amsgrad"})
    EXPECT_TRUE(sd.count(key)) << key;
  EXPECT_FALSE(sd.count("state.1.step"));
  EXPECT_EQ(sd.at("state.0.step").dtype(), DType::i64);
  EXPECT_EQ(sd.at("state.0.step").item(), 2);
  EXPECT_EQ(sd.at("state.0.exp_avg").shape(), (Shape{3, 4}));
  EXPECT_DOUBLE_EQ(sd.at("group.1.lr").item(), 0.03);
  EXPECT_DOUBLE_EQ(sd.at("group.1.lr_scale").item(), 3.0);
  EXPECT_EQ(sd.at("option.amsgrad").item(), 1.0);
  // The dict holds copies: changing it does not change the optimizer.
  const std::vector<float> before = opt.state(0).buffers.at("exp_avg").to_vector<float>();
  sd.at("state.0.exp_avg").fill_(123.0);
  EXPECT_EQ(opt.state(0).buffers.at("exp_avg").to_vector<float>(), before);
  // And load_state_dict copies in: changing the dict afterwards does not change the optimizer.
  Adam other(make_groups(make_params(DType::f32)));
  other.load_state_dict(sd);
  sd.at("state.0.exp_avg").fill_(7.0);
  EXPECT_EQ(other.state(0).buffers.at("exp_avg").to_vector<float>(), std::vector<float>(12, 123.0f));
}

TEST(StateDict, StateFromAnotherDTypeIsConverted) {
  std::vector<Tensor> p64 = make_params(DType::f64);
  Adam a(p64, {.lr = 0.01});
  set_grads(p64, 0);
  a.step();
  std::vector<Tensor> p32 = make_params(DType::f32);
  Adam b(p32, {.lr = 0.01});
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(b.state(0).buffers.at("exp_avg").dtype(), DType::f32);
  set_grads(p32, 1);
  b.step();  // runs on the converted buffers
  EXPECT_EQ(b.state(0).step, 2);
}

// Expects load_state_dict to throw ValueError mentioning `needle` and to leave `opt` as it was.
void expect_rejected(Optimizer& opt, const std::map<std::string, Tensor>& dict, const std::string& needle) {
  const auto before = opt.state_dict();
  try {
    opt.load_state_dict(dict);
    ADD_FAILURE() << "no throw (expected '" << needle << "')";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  const auto after = opt.state_dict();
  ASSERT_EQ(before.size(), after.size());
  for (const auto& [key, t] : before) EXPECT_TRUE(after.count(key) && testing::same_bits(t, after.at(key))) << key;
}

TEST(StateDict, MismatchesAreRejected) {
  std::vector<Tensor> p = make_params(DType::f32);
  Adam adam(make_groups(p), {.lr = 0.01});
  set_grads(p, 0);
  adam.step();
  const auto good = adam.state_dict();

  std::vector<Tensor> q = make_params(DType::f32);
  SGD sgd(make_groups(q), {.lr = 0.1, .momentum = 0.9});
  set_grads(q, 0);
  sgd.step();
  expect_rejected(sgd, good, "same kind of optimizer");  // an Adam dict into SGD
  expect_rejected(adam, sgd.state_dict(), "missing");

  auto missing = good;
  missing.erase("group.1.lr");
  expect_rejected(adam, missing, "group.1.lr");

  auto extra = good;
  extra["state.0.momentum_buffer"] = zeros({3, 4});
  expect_rejected(adam, extra, "unknown buffer");

  auto out_of_range = good;
  out_of_range["state.9.exp_avg"] = zeros({3, 4});
  expect_rejected(adam, out_of_range, "parameter 9");

  // Parameters of other shapes (another model).
  std::vector<Tensor> r = {zeros({4, 3}).requires_grad_(), zeros({5}).requires_grad_()};
  Adam wrong_shape(make_groups(r));
  expect_rejected(wrong_shape, good, "shape");

  // Another grouping of the parameters.
  Adam one_group_opt(make_params(DType::f32));
  expect_rejected(one_group_opt, good, "group");

  auto bad_lr = good;
  bad_lr["group.0.lr"] = scalar_tensor(-1.0, DType::f64);
  expect_rejected(adam, bad_lr, "lr");

  auto bad_beta = good;
  bad_beta["option.beta1"] = scalar_tensor(1.5, DType::f64);
  expect_rejected(adam, bad_beta, "beta1");
}

}  // namespace
}  // namespace cairn::optim
