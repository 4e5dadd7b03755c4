// Soft voting: several classifiers whose prediction is the mean of their class probabilities (scikit-learn's
// VotingClassifier(voting="soft")). The members are trained on their own (different seeds, or different
// pretrained encoders); the ensemble only combines them.
#pragma once
#include <memory>
#include <vector>

#include "cairn/nn/module.h"

namespace cairn::nn {

// forward(x) = log(mean_i softmax(member_i(x))): softmax of the output is the members' mean probability, and
// cross-entropy on it as logits is the ensemble's negative log-likelihood, so Model::evaluate / predict and every
// metric that takes logits work on an ensemble unchanged. Members are registered as member0, member1, ... (their
// tensors are "member0.<name>" in a state dict). Each member maps the same input to logits of the same width.
class EnsembleClassifier : public Module {
 public:
  // Throws ValueError for an empty list or a null member.
  explicit EnsembleClassifier(std::vector<std::shared_ptr<Module>> members);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return members_.size(); }
  Module& member(size_t i) { return *members_.at(i); }
  std::string extra_repr() const override { return "members=" + std::to_string(members_.size()); }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  std::vector<std::shared_ptr<Module>> members_;
};

}  // namespace cairn::nn
