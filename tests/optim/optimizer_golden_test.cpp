// Every optimizer against torch.optim (1.13) on a quadratic loss: tests/golden/optim/optimizers.json.
#include <gtest/gtest.h>

#include <set>

#include "cairn/optim/optim.h"
#include "cairn/optim/factory.h"
#include "golden_util.h"

namespace cairn::optim {
namespace {

using testing::json;

template <class T>
Tensor tensor_from(const json& values, const Shape& shape, int64_t tile = 1) {
  std::vector<T> v;
  const auto base = values.get<std::vector<double>>();
  for (int64_t k = 0; k < tile; ++k)
    for (double x : base) v.push_back(static_cast<T>(x));
  Shape s = shape;
  s[0] *= tile;
  return from_vector<T>(v, s);
}

// Runs one golden case. With tile > 1 parameter 0 is its reference values repeated `tile` times (large
// enough to be split over threads); every copy must follow the reference.
template <class T>
void run_case(const json& c, int64_t tile) {
  std::vector<Tensor> params, a, b;
  for (size_t i = 0; i < 2; ++i) {
    const Shape shape = c["shapes"][i].get<Shape>();
    const int64_t t = i == 0 ? tile : 1;
    params.push_back(tensor_from<T>(c["init"][i], shape, t).requires_grad_());
    a.push_back(tensor_from<T>(c["a"][i], shape, t));
    b.push_back(tensor_from<T>(c["b"][i], shape, t));
  }
  std::vector<ParamGroup> groups;
  if (c.contains("group1")) {
    groups.resize(2);
    groups[0].params = {params[0]};
    groups[1].params = {params[1]};
    if (c["group1"].contains("lr")) groups[1].lr = c["group1"]["lr"].get<double>();
    if (c["group1"].contains("weight_decay")) groups[1].weight_decay = c["group1"]["weight_decay"].get<double>();
  } else {
    groups = one_group(params);
  }
  std::map<std::string, double> options = c["options"].get<std::map<std::string, double>>();
  auto opt = make_optimizer(c["optimizer"].get<std::string>(), groups, options);

  std::set<std::pair<int, int>> none_grad;
  for (const auto& ng : c["none_grad"]) none_grad.insert({ng[0].get<int>(), ng[1].get<int>()});
  const auto record = c["record"].get<std::vector<int>>();
  const double tol = c["tol"].get<double>();
  size_t recorded = 0;
  for (int step = 1; step <= c["steps"].get<int>(); ++step) {
    const std::string key = std::to_string(step);
    if (c.contains("lr_factor_at") && c["lr_factor_at"].contains(key))
      opt->set_lr(opt->lr() * c["lr_factor_at"][key].get<double>());
    for (int i = 0; i < 2; ++i) {
      if (none_grad.count({step, i})) {
        params[i].zero_grad();
      } else {
        NoGradGuard no_grad;
        params[i].set_grad((a[i] * params[i].detach()) + b[i]);  // two roundings, as the script's (a*p) + b
      }
    }
    opt->step();
    if (std::find(record.begin(), record.end(), step) == record.end()) continue;
    const json& want = c["expected"][recorded++];
    for (int i = 0; i < 2; ++i) {
      std::vector<double> expected = want[i].get<std::vector<double>>(), tiled;
      for (int64_t k = 0; k < (i == 0 ? tile : 1); ++k) tiled.insert(tiled.end(), expected.begin(), expected.end());
      EXPECT_TRUE(testing::close(params[i].to_vector<double>(), tiled, tol)) << "parameter " << i << " after step " << step;
    }
  }
  EXPECT_EQ(recorded, c["expected"].size());
  // Parameter 1 skipped the steps where it had no grad.
  EXPECT_EQ(opt->state(1).step, c["steps"].get<int>() - static_cast<int>(none_grad.size()));
}

void run_all(int64_t tile) {
  const json golden = testing::load_golden("optimizers.json");
  ASSERT_GE(golden["cases"].size(), 20u);
  for (const auto& c : golden["cases"]) {
    if (tile > 1 && c["steps"].get<int>() > 6) continue;  // the long runs add time, not coverage
    SCOPED_TRACE(c["name"].get<std::string>() + " (" + c["dtype"].get<std::string>() + ", tile " +
                 std::to_string(tile) + ")");
    if (c["dtype"] == "float64") run_case<double>(c, tile);
    else run_case<float>(c, tile);
  }
}

TEST(OptimizerGolden, MatchesPyTorch) { run_all(1); }

// 12 x 3000 = 36000 elements: above two parallel_for grains, so the update runs split over threads.
TEST(OptimizerGolden, LargeParameterMatchesPyTorchElementwise) { run_all(3000); }

TEST(OptimizerGolden, GradientsFromBackward) {
  // d/dp sum(p*p) = 2p, so one SGD step with lr 0.1 scales p by 0.8.
  Tensor p = from_vector<float>({1, -2, 3}).requires_grad_();
  SGD opt({p}, {.lr = 0.1});
  (p * p).sum().backward();
  opt.step();
  EXPECT_TRUE(testing::close(p.to_vector<double>(), {0.8, -1.6, 2.4}, 1e-7));
  opt.zero_grad();
  EXPECT_FALSE(p.grad().defined());
  opt.step();  // no grad: nothing changes
  EXPECT_TRUE(testing::close(p.to_vector<double>(), {0.8, -1.6, 2.4}, 1e-7));
  EXPECT_EQ(opt.state(0).step, 1);
}

TEST(OptimizerGolden, NonContiguousGradIsAccepted) {
  Tensor p = zeros({2, 3}).requires_grad_();
  SGD opt({p}, {.lr = 1.0});
  p.set_grad(from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2}).t());  // a transposed view
  opt.step();
  EXPECT_EQ(p.to_vector<float>(), (std::vector<float>{-1, -3, -5, -2, -4, -6}));
}

TEST(OptimizerGolden, GroupsAndLrScaling) {
  Tensor w = zeros({2}).requires_grad_(), h = zeros({2}).requires_grad_();
  std::vector<ParamGroup> groups(2);
  groups[0].params = {w};
  groups[1].params = {h};
  groups[1].lr = 1e-2;
  groups[1].weight_decay = 0.0;
  AdamW opt(groups, {.lr = 1e-3});
  EXPECT_DOUBLE_EQ(opt.lr(), 1e-3);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[0].weight_decay, 1e-2);  // AdamW's default
  EXPECT_DOUBLE_EQ(*opt.param_groups()[1].weight_decay, 0.0);
  EXPECT_DOUBLE_EQ(opt.param_groups()[1].lr_scale, 10.0);
  opt.set_lr(5e-4);
  EXPECT_DOUBLE_EQ(opt.lr(), 5e-4);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[0].lr, 5e-4);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[1].lr, 5e-3);
  opt.set_group_lr(1, 0.25);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[1].lr, 0.25);
  EXPECT_DOUBLE_EQ(opt.lr(), 5e-4);

  Tensor extra = zeros({3}).requires_grad_();
  ParamGroup g;
  g.params = {extra};
  opt.add_param_group(g);
  EXPECT_EQ(opt.num_params(), 3);
  EXPECT_DOUBLE_EQ(*opt.param_groups()[2].lr, 1e-3);  // the optimizer's lr option
}

}  // namespace
}  // namespace cairn::optim

namespace cairn::optim {
namespace {

// One optimizer's parameter after three steps on `threads` threads: 100,003 elements, so the update splits
// across threads at boundaries that are not multiples of the vector width.
std::vector<float> after_three_steps(const std::string& name, const std::map<std::string, double>& opts, int threads) {
  const int before = num_threads();
  set_num_threads(threads);
  Generator g(11);
  Tensor p = uniform({100003}, -1, 1, DType::f32, &g).requires_grad_();
  auto opt = make_optimizer(name, {p}, opts);
  for (int s = 0; s < 3; ++s) {
    p.set_grad(uniform({100003}, -1, 1, DType::f32, &g));
    opt->step();
  }
  set_num_threads(before);
  return p.to_vector<float>();
}

TEST(OptimizerThreads, SameUpdateWhateverTheThreadCount) {
  const std::vector<std::pair<std::string, std::map<std::string, double>>> cases = {
      {"adam", {{"lr", 1e-3}}},
      {"adam", {{"lr", 1e-3}, {"weight_decay", 0.1}, {"amsgrad", 1}}},
      {"adamw", {{"lr", 1e-3}}},
      {"rmsprop", {{"lr", 1e-3}}},
      {"rmsprop", {{"lr", 1e-3}, {"centered", 1}, {"momentum", 0.9}}},
      {"adagrad", {{"lr", 1e-2}, {"lr_decay", 0.01}}},
      {"sgd", {{"lr", 1e-2}, {"momentum", 0.9}}}};
  for (const auto& [name, opts] : cases) {
    const std::vector<float> one = after_three_steps(name, opts, 1);
    EXPECT_EQ(one, after_three_steps(name, opts, 2)) << name;
    EXPECT_EQ(one, after_three_steps(name, opts, 3)) << name;
  }
}

}  // namespace
}  // namespace cairn::optim
