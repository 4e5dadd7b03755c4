// Exponential moving average of parameters: the averages follow avg = d avg + (1 - d) p from copies of the
// starting values, swap() exchanges them with the parameters, bad decays are refused.
#include <gtest/gtest.h>

#include <cmath>

#include "cairn/core/core.h"
#include "cairn/optim/optim.h"

namespace cairn::optim {
namespace {

TEST(ExponentialMovingAverage, FollowsTheRecurrenceFromTheStartingValues) {
  Tensor p = from_vector<double>({1.0, -2.0}).requires_grad_();
  ExponentialMovingAverage ema({p}, 0.9);
  EXPECT_EQ(ema.averages()[0].to_vector<double>(), (std::vector<double>{1.0, -2.0}));
  std::vector<double> want = {1.0, -2.0};
  for (double v : {3.0, 5.0, -1.0}) {
    { NoGradGuard g; p.fill_(v); }
    ema.update();
    for (double& w : want) w = 0.9 * w + 0.1 * v;
  }
  EXPECT_EQ(ema.updates(), 3);
  const std::vector<double> got = ema.averages()[0].to_vector<double>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-15);
  EXPECT_FALSE(ema.averages()[0].requires_grad());
}

TEST(ExponentialMovingAverage, SwapExchangesParametersAndAveragesInPlace) {
  Tensor p = from_vector<float>({1, 2, 3}).requires_grad_();
  SGD opt(one_group({p}), {.lr = 1.0});
  ExponentialMovingAverage ema({p}, 0.5);
  p.set_grad(from_vector<float>({2, 2, 2}));
  opt.step();  // p = -1, 0, 1
  ema.update();  // 0, 1, 2
  const void* storage = p.raw_data();
  ema.swap();
  EXPECT_EQ(p.raw_data(), storage);
  EXPECT_TRUE(p.requires_grad());
  EXPECT_EQ(p.to_vector<float>(), (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(ema.averages()[0].to_vector<float>(), (std::vector<float>{-1, 0, 1}));
  ema.swap();
  EXPECT_EQ(p.to_vector<float>(), (std::vector<float>{-1, 0, 1}));
}

TEST(ExponentialMovingAverage, RejectsBadDecaysAndNonFloatParameters) {
  Tensor p = zeros({2}).requires_grad_();
  EXPECT_THROW(ExponentialMovingAverage({p}, 1.0), ValueError);
  EXPECT_THROW(ExponentialMovingAverage({p}, -0.1), ValueError);
  EXPECT_THROW(ExponentialMovingAverage({p}, std::nan("")), ValueError);
  EXPECT_THROW(ExponentialMovingAverage({from_vector<int64_t>({1, 2})}, 0.9), ValueError);
}

}  // namespace
}  // namespace cairn::optim
