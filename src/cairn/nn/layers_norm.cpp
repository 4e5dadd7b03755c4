#include "cairn/nn/layers_norm.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "cairn/core/ops/ops.h"

namespace cairn::nn {

// ---- BatchNormalization ----

BatchNormalization::BatchNormalization(double momentum, double epsilon)
    : BatchNormalization(BatchNormOptions{.momentum = momentum, .epsilon = epsilon}) {}

BatchNormalization::BatchNormalization(BatchNormOptions options) : Module("BatchNormalization"), opt_(std::move(options)) {
  configure(opt_.name, std::nullopt, opt_.input_shape);
  CAIRN_CHECK(opt_.momentum >= 0 && opt_.momentum <= 1, ValueError, where(), ": momentum must be in [0, 1], got ",
              opt_.momentum, " (Keras convention: 0.99 keeps 99% of the running statistics per batch)");
  CAIRN_CHECK(opt_.epsilon > 0, ValueError, where(), ": epsilon must be positive, got ", opt_.epsilon);
  built_ = false;
  build_declared();
}

std::string BatchNormalization::input_spec() const {
  return "[N, " + (channels_ < 0 ? std::string("C") : std::to_string(channels_)) + ", ...]";
}

std::string BatchNormalization::extra_repr() const {
  std::ostringstream os;
  os << channels_ << ", momentum=" << opt_.momentum << ", epsilon=" << opt_.epsilon;
  return os.str();
}

int64_t BatchNormalization::num_batches_tracked() const {
  return num_batches_tracked_.defined() ? num_batches_tracked_.data<int64_t>()[0] : 0;
}

Shape BatchNormalization::build_impl(const Shape& in) {
  if (in.size() < 2) throw_bad_input(in, "batch normalisation needs a batch and a channel dimension");
  const int64_t c = in[1];
  if (!built_) {
    if (c <= 0) throw_bad_input(in, "the channel dimension must be known to create the weights");
    channels_ = c;
    if (opt_.scale) weight_ = register_parameter("weight", ones({c}, dtype()));
    if (opt_.center) bias_ = register_parameter("bias", zeros({c}, dtype()));
    running_mean_ = register_buffer("running_mean", zeros({c}, dtype()));
    running_var_ = register_buffer("running_var", ones({c}, dtype()));
    num_batches_tracked_ = register_buffer("num_batches_tracked", zeros({}, DType::i64));
    built_ = true;
  } else if (c != channels_ && c != -1) {
    throw_bad_input(in, detail::cat("the input has ", c, " channels but the layer was built for ", channels_));
  }
  return in;
}

Tensor BatchNormalization::forward(const Tensor& x) {
  build(x.shape());
  check_input_dtype(x);
  const bool training = is_training();
  Tensor y = batch_norm(x, running_mean_, running_var_, weight_, bias_, training, 1.0 - opt_.momentum, opt_.epsilon);
  if (training) num_batches_tracked_.data<int64_t>()[0] += 1;  // an int64 buffer: outside autograd
  return y;
}

// ---- LayerNormalization ----

LayerNormalization::LayerNormalization(double epsilon) : LayerNormalization(LayerNormOptions{.epsilon = epsilon}) {}

LayerNormalization::LayerNormalization(LayerNormOptions options) : Module("LayerNormalization"), opt_(std::move(options)) {
  configure(opt_.name, std::nullopt, opt_.input_shape);
  CAIRN_CHECK(opt_.epsilon > 0, ValueError, where(), ": epsilon must be positive, got ", opt_.epsilon);
  CAIRN_CHECK(!opt_.axis.empty(), ValueError, where(), ": axis must name at least one dimension");
  built_ = false;
  build_declared();
}

std::string LayerNormalization::input_spec() const {
  if (normalized_.empty()) return "";
  std::string s = "[*";
  for (int64_t d : normalized_) s += ", " + std::to_string(d);
  return s + "]";
}

std::string LayerNormalization::extra_repr() const {
  std::ostringstream os;
  os << shape_str(normalized_) << ", epsilon=" << opt_.epsilon;
  return os.str();
}

Shape LayerNormalization::build_impl(const Shape& in) {
  const int64_t nd = static_cast<int64_t>(in.size());
  std::set<int64_t> axes;
  for (int64_t a : opt_.axis) {
    if (a < -nd || a >= nd) throw_bad_input(in, detail::cat("axis ", a, " is out of range"));
    axes.insert(a < 0 ? a + nd : a);
  }
  // The axes must be the trailing block of dims: that is what layer_norm (and torch.nn.LayerNorm) normalises.
  const int64_t first = *axes.begin();
  if (static_cast<int64_t>(axes.size()) != nd - first || first == 0)
    throw_bad_input(in, detail::cat("axis ", shape_str(opt_.axis),
                                    " must name the trailing dimensions after the batch one (e.g. -1)"));
  Shape norm(in.begin() + first, in.end());
  if (!built_) {
    for (int64_t d : norm)
      if (d <= 0) throw_bad_input(in, "the normalised dimensions must be known to create the weights");
    normalized_ = norm;
    if (opt_.scale) weight_ = register_parameter("weight", ones(norm, dtype()));
    if (opt_.center) bias_ = register_parameter("bias", zeros(norm, dtype()));
    built_ = true;
  } else {
    bool ok = norm.size() == normalized_.size();
    for (size_t i = 0; ok && i < norm.size(); ++i) ok = norm[i] == normalized_[i] || norm[i] == -1;
    if (!ok) throw_bad_input(in, "the normalised dimensions differ from the ones the layer was built for");
  }
  return in;
}

Tensor LayerNormalization::forward(const Tensor& x) {
  build(x.shape());
  check_input_dtype(x);
  return layer_norm(x, normalized_, weight_, bias_, opt_.epsilon);
}

}  // namespace cairn::nn
