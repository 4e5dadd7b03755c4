// Exponential moving average of parameters (Polyak averaging): Keras's optimizer option use_ema /
// ema_momentum, PyTorch's AveragedModel with get_ema_multi_avg_fn. After each optimizer step
//
//   average = decay * average + (1 - decay) * parameter
//
// and the averages start as copies of the parameters. Evaluating with the averages instead of the last weights
// smooths the noise of the last steps out of the model; swap() exchanges the two in place, so evaluation,
// checkpointing and `restore best weights` see the averaged model between two calls.
//
//   optim::ExponentialMovingAverage ema(model.trainable_parameters(), 0.99);
//   for (...) { ...; opt.step(); ema.update(); }
//   ema.swap();   // the model now holds the averages (swap() again puts the trained weights back)
#pragma once
#include <cstdint>
#include <vector>

#include "cairn/core/tensor/tensor.h"

namespace cairn::optim {

class ExponentialMovingAverage {
 public:
  // Throws ValueError for decay outside [0, 1) or a parameter that is not floating point.
  ExponentialMovingAverage(std::vector<Tensor> params, double decay);

  // Folds the parameters' current values into the averages (no autograd).
  void update();
  // Exchanges each parameter's values with its average.
  void swap();

  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }
  const std::vector<Tensor>& averages() const { return averages_; }

 private:
  std::vector<Tensor> params_, averages_;
  double decay_;
  int64_t updates_ = 0;
};

}  // namespace cairn::optim
