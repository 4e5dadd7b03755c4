#include "cairn/optim/ema.h"

#include <cmath>

#include "cairn/core/autograd/autograd.h"

namespace cairn::optim {

ExponentialMovingAverage::ExponentialMovingAverage(std::vector<Tensor> params, double decay)
    : params_(std::move(params)), decay_(decay) {
  CAIRN_CHECK(std::isfinite(decay) && decay >= 0 && decay < 1, ValueError,
              "ExponentialMovingAverage: decay must be in [0, 1), got ", decay,
              " (Keras's ema_momentum; 0.99-0.9999 are usual)");
  NoGradGuard no_grad;
  averages_.reserve(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    CAIRN_CHECK(params_[i].defined() && is_floating(params_[i].dtype()), ValueError,
                "ExponentialMovingAverage: parameter ", i, " is not a floating-point tensor");
    averages_.push_back(params_[i].detach().clone());
  }
}

void ExponentialMovingAverage::update() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) averages_[i].mul_(decay_).add_(params_[i].detach(), 1.0 - decay_);
  ++updates_;
}

void ExponentialMovingAverage::swap() {
  NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor trained = params_[i].detach().clone();
    params_[i].detach().copy_(averages_[i]);
    averages_[i].copy_(trained);
  }
}

}  // namespace cairn::optim
