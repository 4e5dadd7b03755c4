#include "cairn/nn/ensemble.h"

#include "cairn/core/ops/ops.h"

namespace cairn::nn {

EnsembleClassifier::EnsembleClassifier(std::vector<std::shared_ptr<Module>> members)
    : Module("EnsembleClassifier"), members_(std::move(members)) {
  CAIRN_CHECK(!members_.empty(), ValueError, "EnsembleClassifier needs at least one member");
  for (size_t i = 0; i < members_.size(); ++i) {
    CAIRN_CHECK(members_[i] != nullptr, ValueError, "EnsembleClassifier: member ", i, " is null");
    register_module("member" + std::to_string(i), members_[i]);
  }
}

Shape EnsembleClassifier::build_impl(const Shape& input_shape) {
  const Shape out = members_[0]->build(input_shape);
  for (size_t i = 1; i < members_.size(); ++i) {
    const Shape o = members_[i]->build(input_shape);
    CAIRN_CHECK(o == out, ShapeError, where(), ": member ", i, " maps ", shape_str(input_shape), " to ",
                shape_str(o), " but member 0 to ", shape_str(out));
  }
  return out;
}

Tensor EnsembleClassifier::forward(const Tensor& x) {
  Tensor sum_p;
  for (size_t i = 0; i < members_.size(); ++i) {
    const Tensor logits = members_[i]->forward(x);
    CAIRN_CHECK(logits.dim() == 2, ShapeError, where(), ": member ", i, " returned ", shape_str(logits.shape()),
                "; members must return (batch, classes) logits");
    CAIRN_CHECK(!sum_p.defined() || logits.shape() == sum_p.shape(), ShapeError, where(), ": member ", i,
                " returned ", shape_str(logits.shape()), " but member 0 ", shape_str(sum_p.shape()));
    const Tensor p = softmax(logits, 1);
    sum_p = sum_p.defined() ? add(sum_p, p) : p;
  }
  return log(mul(sum_p, 1.0 / static_cast<double>(members_.size())));
}

}  // namespace cairn::nn
