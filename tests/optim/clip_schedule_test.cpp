// Gradient clipping and learning-rate schedules against PyTorch: tests/golden/optim/{clip,schedules}.json.
#include <gtest/gtest.h>

#include <cmath>

#include "cairn/optim/optim.h"
#include "golden_util.h"

namespace cairn::optim {
namespace {

using testing::json;

// Parameters whose grads are the golden gradients (float32).
std::vector<Tensor> params_with_grads(const json& golden) {
  std::vector<Tensor> params;
  for (size_t i = 0; i < golden["shapes"].size(); ++i) {
    const Shape shape = golden["shapes"][i].get<Shape>();
    Tensor p = zeros(shape).requires_grad_();
    std::vector<float> g;
    for (double x : golden["grads"][i].get<std::vector<double>>()) g.push_back(static_cast<float>(x));
    p.set_grad(from_vector<float>(g, shape));
    params.push_back(p);
  }
  return params;
}

TEST(Clip, MatchesPyTorch) {
  const json golden = testing::load_golden("clip.json");
  int checked = 0;
  for (const auto& c : golden["cases"]) {
    std::vector<Tensor> params = params_with_grads(golden);
    if (c["kind"] == "norm") {
      SCOPED_TRACE("norm_type " + c["norm_type"].dump() + ", max_norm " + c["max_norm"].dump());
      params[2].zero_grad();  // skipped, as in the script
      const double total = clip_grad_norm_(params, c["max_norm"].get<double>(), testing::number(c["norm_type"]));
      EXPECT_TRUE(testing::close({total}, {c["total_norm"].get<double>()}, 1e-6));
      for (size_t i = 0; i < 2; ++i)
        EXPECT_TRUE(testing::close(params[i].grad().to_vector<double>(), c["clipped"][i].get<std::vector<double>>(), 1e-6));
      EXPECT_FALSE(params[2].grad().defined());
    } else {
      clip_grad_value_(params, c["clip_value"].get<double>());
      for (size_t i = 0; i < 3; ++i)
        EXPECT_EQ(params[i].grad().to_vector<double>(), c["clipped"][i].get<std::vector<double>>());
    }
    ++checked;
  }
  EXPECT_EQ(checked, 9);
}

TEST(Clip, LargeGradientNormIsExactAndDeterministic) {
  // 100003 elements over many blocks: the blocked double sum must equal a serial one to rounding.
  const int64_t n = 100003;
  std::vector<double> g(n);
  for (int64_t i = 0; i < n; ++i) g[i] = std::sin(0.001 * static_cast<double>(i)) * (i % 7 == 0 ? 3.0 : 1.0);
  double want = 0;
  for (double x : g) want += x * x;
  want = std::sqrt(want);
  Tensor p = zeros({n}, DType::f64).requires_grad_();
  p.set_grad(from_vector<double>(g));
  const double first = clip_grad_norm_({p}, 1e9);
  EXPECT_NEAR(first, want, 1e-12 * want);
  EXPECT_EQ(clip_grad_norm_({p}, 1e9), first);  // bit-identical on a second call
  const double before = clip_grad_norm_({p}, 1.0);
  EXPECT_EQ(before, first);
  EXPECT_NEAR(clip_grad_norm_({p}, 1e9), 1.0 / (1.0 + 1e-6 / first), 1e-9);  // clipped to just under 1
}

TEST(Clip, EdgeCases) {
  EXPECT_EQ(clip_grad_norm_({zeros({3}).requires_grad_()}, 1.0), 0.0);  // no gradients
  Tensor p = zeros({2}).requires_grad_();
  p.set_grad(from_vector<float>({NAN, 1.0f}));
  EXPECT_THROW(clip_grad_norm_({p}, 1.0, 2.0, /*error_if_nonfinite=*/true), ValueError);
  EXPECT_TRUE(std::isnan(p.grad().to_vector<float>()[0]));
  EXPECT_EQ(p.grad().to_vector<float>()[1], 1.0f);  // unchanged when it throws
  EXPECT_TRUE(std::isnan(clip_grad_norm_({p}, 1.0)));
  EXPECT_TRUE(std::isnan(p.grad().to_vector<float>()[1]));  // as PyTorch: a NaN norm poisons every grad
  EXPECT_THROW(clip_grad_norm_({p}, -1.0), ValueError);
  EXPECT_THROW(clip_grad_norm_({p}, 1.0, 0.0), ValueError);
  EXPECT_THROW(clip_grad_value_({p}, -0.5), ValueError);

  // A grad set by hand as a strided view is replaced by a contiguous clipped copy; its source is untouched.
  Tensor q = zeros({3, 2}).requires_grad_();
  Tensor source = from_vector<float>({-3, 0.5, 2, 4, -1, 0.25}, {2, 3});
  q.set_grad(source.t());
  clip_grad_value_({q}, 1.0);
  EXPECT_TRUE(q.grad().is_contiguous());
  EXPECT_EQ(q.grad().to_vector<float>(), (std::vector<float>{-1, 1, 0.5, -1, 1, 0.25}));
  EXPECT_EQ(source.to_vector<float>(), (std::vector<float>{-3, 0.5, 2, 4, -1, 0.25}));
}

// An SGD whose groups have the given lrs (group 0's lr is the optimizer's lr, as in the script).
std::unique_ptr<SGD> sgd_with_lrs(const std::vector<double>& lrs, std::vector<Tensor>& keep) {
  std::vector<ParamGroup> groups(lrs.size());
  for (size_t g = 0; g < lrs.size(); ++g) {
    keep.push_back(zeros({1}).requires_grad_());
    groups[g].params = {keep.back()};
    groups[g].lr = lrs[g];
  }
  return std::make_unique<SGD>(groups, SGDOptions{.lr = lrs[0]});
}

std::vector<double> group_lrs(const Optimizer& opt) {
  std::vector<double> out;
  for (const auto& g : opt.param_groups()) out.push_back(*g.lr);
  return out;
}

TEST(Schedules, MatchPyTorch) {
  const json golden = testing::load_golden("schedules.json");
  int checked = 0;
  for (const auto& c : golden["cases"]) {
    const std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(name);
    const auto want = c["group_lrs"].get<std::vector<std::vector<double>>>();
    std::vector<Tensor> keep;
    auto opt = sgd_with_lrs(name == "warmup_cosine" ? std::vector<double>{c["base_lr"].get<double>()} : want[0], keep);
    if (name.rfind("plateau", 0) == 0) {
      PlateauOptions o;
      o.mode = c["mode"];
      o.factor = c["factor"];
      o.patience = c["patience"];
      o.threshold = c["threshold"];
      o.threshold_mode = c["threshold_mode"];
      o.cooldown = c["cooldown"];
      o.min_lr = c["min_lr"];
      ReduceLROnPlateau sched(*opt, o);
      EXPECT_TRUE(testing::close(group_lrs(*opt), want[0], 1e-14, 0.0));
      for (size_t k = 0; k < c["metrics"].size(); ++k) {
        sched.step(testing::number(c["metrics"][k]));
        EXPECT_TRUE(testing::close(group_lrs(*opt), want[k + 1], 1e-14, 0.0)) << "after metric " << k;
      }
      ++checked;
      continue;
    }
    std::unique_ptr<LRScheduler> sched;
    if (name == "step") sched = std::make_unique<StepLR>(*opt, c["step_size"].get<int64_t>(), c["gamma"].get<double>());
    if (name == "exponential") sched = std::make_unique<ExponentialLR>(*opt, c["gamma"].get<double>());
    if (name == "lambda") sched = std::make_unique<LambdaLR>(*opt, [](int64_t e) { return 1.0 / (1.0 + 0.5 * e); });
    if (name == "cosine")
      sched = std::make_unique<WarmupCosineLR>(*opt, 0, c["total_steps"].get<int64_t>(), c["min_lr"].get<double>());
    if (name == "warmup_cosine")
      sched = std::make_unique<WarmupCosineLR>(*opt, c["warmup_steps"].get<int64_t>(), c["total_steps"].get<int64_t>(),
                                               c["min_lr"].get<double>());
    ASSERT_TRUE(sched) << "no scheduler for golden case " << name;
    for (size_t k = 0; k < want.size(); ++k) {
      if (k > 0) sched->step();
      EXPECT_EQ(sched->last_epoch(), static_cast<int64_t>(k));
      EXPECT_TRUE(testing::close(group_lrs(*opt), want[k], 1e-12, 0.0)) << "at step " << k;
      EXPECT_TRUE(testing::close({sched->last_lr()}, {want[k][0]}, 1e-12, 0.0)) << "at step " << k;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 8);
}

TEST(Schedules, StateDictResumes) {
  std::vector<Tensor> keep_a, keep_b;
  auto a = sgd_with_lrs({0.1, 0.4}, keep_a);
  WarmupCosineLR sa(*a, 3, 20, 0.01);
  for (int i = 0; i < 7; ++i) sa.step();
  const auto sd = sa.state_dict();
  EXPECT_EQ(sd.at("last_epoch").item(), 7);

  auto b = sgd_with_lrs({0.1, 0.4}, keep_b);
  WarmupCosineLR sb(*b, 1, 5, 0.0);  // other options: the state dict restores them
  sb.load_state_dict(sd);
  EXPECT_EQ(group_lrs(*b), group_lrs(*a));
  for (int i = 0; i < 20; ++i) {
    sa.step();
    sb.step();
    EXPECT_EQ(group_lrs(*b), group_lrs(*a)) << "step " << i;
  }
  StepLR wrong(*b, 2);
  EXPECT_THROW(wrong.load_state_dict(sd), ValueError);  // a cosine dict into a StepLR
  EXPECT_EQ(wrong.last_epoch(), 0);

  std::vector<Tensor> keep_c, keep_d;
  auto c = sgd_with_lrs({0.1}, keep_c), d = sgd_with_lrs({0.1}, keep_d);
  ReduceLROnPlateau pc(*c, {.factor = 0.5, .patience = 1, .cooldown = 2});
  const std::vector<double> metrics = {1, 1, 1, 0.5, 1, 1, 1, 1, 1, 1};
  for (int i = 0; i < 4; ++i) pc.step(metrics[i]);
  ReduceLROnPlateau pd(*d);
  pd.load_state_dict(pc.state_dict());
  d->load_state_dict(c->state_dict());
  for (size_t i = 4; i < metrics.size(); ++i) {
    EXPECT_EQ(pc.step(metrics[i]), pd.step(metrics[i]));
    EXPECT_EQ(d->lr(), c->lr());
  }
  EXPECT_LT(c->lr(), 0.1 * 0.5 * 0.5 * 1.0001);
}

TEST(Schedules, Factory) {
  std::vector<Tensor> keep;
  auto opt = sgd_with_lrs({0.2}, keep);
  auto s = make_scheduler("cosine", *opt, {{"warmup_steps", 2}, {"total_steps", 10}, {"min_lr", 0.02}});
  EXPECT_EQ(opt->lr(), 0.0);
  s->step();
  EXPECT_DOUBLE_EQ(opt->lr(), 0.1);
  EXPECT_DOUBLE_EQ(s->lr_at(10), 0.02);
  EXPECT_DOUBLE_EQ(s->lr_at(1000), 0.02);
  auto st = make_scheduler("Step", *opt, {{"step_size", 2}});
  EXPECT_DOUBLE_EQ(st->lr_at(2), 0.01);  // base lr is the group's lr when built (0.1 now); gamma 0.1
  EXPECT_THROW(make_scheduler("cosine", *opt, {{"warmup_steps", 2}}), ValueError);  // total_steps missing
  EXPECT_THROW(make_scheduler("step", *opt, {{"step_size", 1.5}}), ValueError);
  try {
    make_scheduler("linear", *opt, {});
    FAIL() << "no throw";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("cosine, exponential, step"), std::string::npos) << e.what();
  }
}

TEST(Schedules, InvalidArguments) {
  std::vector<Tensor> keep;
  auto opt = sgd_with_lrs({0.1}, keep);
  EXPECT_THROW(StepLR(*opt, 0), ValueError);
  EXPECT_THROW(StepLR(*opt, 2, -0.5), ValueError);
  EXPECT_THROW(ExponentialLR(*opt, 0.0), ValueError);
  EXPECT_THROW(WarmupCosineLR(*opt, 10, 10), ValueError);
  EXPECT_THROW(WarmupCosineLR(*opt, -1, 10), ValueError);
  EXPECT_THROW(WarmupCosineLR(*opt, 0, 10, -1e-3), ValueError);
  EXPECT_THROW(LambdaLR(*opt, [](int64_t e) { return e == 0 ? -1.0 : 1.0; }), ValueError);
  EXPECT_THROW(ReduceLROnPlateau(*opt, {.mode = "avg"}), ValueError);
  EXPECT_THROW(ReduceLROnPlateau(*opt, {.factor = 1.0}), ValueError);
  EXPECT_THROW(ReduceLROnPlateau(*opt, {.threshold_mode = "pct"}), ValueError);
  EXPECT_DOUBLE_EQ(opt->lr(), 0.1);  // none of the failed constructions changed it
}

}  // namespace
}  // namespace cairn::optim
