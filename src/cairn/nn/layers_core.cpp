#include "cairn/nn/layers_core.h"

#include <sstream>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/ops/ops.h"
#include "cairn/nn/init.h"

namespace cairn::nn {

namespace {
std::string bias_init_for(const std::string& kernel, const std::string& bias) {
  if (!bias.empty()) return bias;
  return kernel == "torch_default" ? "torch_default" : "zeros";
}
}  // namespace

// ---- Dense ----

Dense::Dense(int64_t units, const std::string& activation) : Dense(units, DenseOptions{.activation = activation}) {}

Dense::Dense(int64_t units, DenseOptions options) : Module("Dense"), units_(units), opt_(std::move(options)) {
  configure(opt_.name, opt_.seed, opt_.input_shape);
  CAIRN_CHECK(units > 0, ValueError, where(), ": units must be positive, got ", units);
  act_ = get_activation(opt_.activation, where());
  opt_.bias_initializer = bias_init_for(opt_.kernel_initializer, opt_.bias_initializer);
  check_initializer(opt_.kernel_initializer, where());
  check_initializer(opt_.bias_initializer, where());
  built_ = false;
  build_declared();
}

std::string Dense::input_spec() const {
  return "[*, " + (in_features_ < 0 ? std::string("features") : std::to_string(in_features_)) + "]";
}

std::string Dense::extra_repr() const {
  std::ostringstream os;
  os << "in_features=" << in_features_ << ", units=" << units_ << ", activation=" << opt_.activation
     << ", use_bias=" << (opt_.use_bias ? "true" : "false");
  return os.str();
}

Shape Dense::build_impl(const Shape& in) {
  if (in.empty()) throw_bad_input(in, "a scalar has no feature dimension");
  const int64_t f = in.back();
  if (!built_) {
    if (f <= 0) throw_bad_input(in, "the last (feature) dimension must be known to create the weights");
    in_features_ = f;
    Generator& g = layer_generator();
    weight_ = register_parameter("weight", Tensor::empty({units_, f}, dtype()));
    initialize(weight_, opt_.kernel_initializer, compute_fans(weight_.shape()), g);
    if (opt_.use_bias) {
      bias_ = register_parameter("bias", Tensor::empty({units_}, dtype()));
      initialize(bias_, opt_.bias_initializer, compute_fans(weight_.shape()), g);
    }
    built_ = true;
  } else if (f != in_features_ && f != -1) {
    throw_bad_input(in, detail::cat("the last dimension is ", f, " but the weights were built for ", in_features_,
                                    " input features"));
  }
  Shape out = in;
  out.back() = units_;
  return out;
}

Tensor Dense::forward(const Tensor& x) {
  build(x.shape());
  check_input_dtype(x);
  if (opt_.activation == "relu") return linear(x, weight_, bias_, Fused::relu);
  return act_(linear(x, weight_, bias_));
}

// ---- Flatten ----

Flatten::Flatten(std::string name) : Module("Flatten") { configure(name, std::nullopt, std::nullopt); }

Shape Flatten::build_impl(const Shape& in) {
  if (in.empty()) throw_bad_input(in, "a scalar has no batch dimension");
  int64_t n = 1;
  for (size_t i = 1; i < in.size(); ++i) n = (n < 0 || in[i] < 0) ? -1 : n * in[i];
  return {in[0], n};
}

Tensor Flatten::forward(const Tensor& x) {
  build(x.shape());
  return reshape(x, {x.shape()[0], -1});
}

// ---- Reshape ----

Reshape::Reshape(Shape target_shape, std::string name) : Module("Reshape"), target_(std::move(target_shape)) {
  configure(name, std::nullopt, std::nullopt);
  int unknown = 0;
  for (int64_t d : target_) {
    CAIRN_CHECK(d > 0 || d == -1, ValueError, where(), ": target_shape ", shape_str(target_),
                " must hold positive sizes and at most one -1");
    unknown += d == -1;
  }
  CAIRN_CHECK(unknown <= 1, ValueError, where(), ": target_shape ", shape_str(target_), " has more than one -1");
}

std::string Reshape::input_spec() const {
  int64_t n = 1;
  for (int64_t d : target_) n *= d;
  return n > 0 ? "[N, ...] with " + std::to_string(n) + " elements per sample"
               : "[N, ...] with a multiple of " + std::to_string(-n) + " elements per sample";
}

Shape Reshape::build_impl(const Shape& in) {
  if (in.empty()) throw_bad_input(in, "a scalar has no batch dimension");
  int64_t per_sample = 1;
  for (size_t i = 1; i < in.size(); ++i) per_sample = (per_sample < 0 || in[i] < 0) ? -1 : per_sample * in[i];
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < target_.size(); ++i) {
    if (target_[i] == -1) infer = static_cast<int64_t>(i);
    else known *= target_[i];
  }
  Shape out = with_batch(target_, in[0]);
  if (per_sample < 0) return out;  // an unknown size: -1 stays unknown
  if (infer >= 0) {
    if (per_sample % known != 0)
      throw_bad_input(in, detail::cat(per_sample, " elements per sample do not divide into ", shape_str(target_)));
    out[infer + 1] = per_sample / known;
  } else if (per_sample != known) {
    throw_bad_input(in, detail::cat(per_sample, " elements per sample cannot take the shape ", shape_str(target_),
                                    " (", known, " elements)"));
  }
  return out;
}

Tensor Reshape::forward(const Tensor& x) {
  Shape out = build(x.shape());
  out[0] = x.shape()[0];
  return reshape(x, out);
}

// ---- Dropout ----

Dropout::Dropout(double rate, std::optional<uint64_t> seed, std::string name) : Module("Dropout"), rate_(rate) {
  configure(name, seed, std::nullopt);
  CAIRN_CHECK(rate >= 0 && rate < 1, ValueError, where(), ": rate must be in [0, 1), got ", rate);
}

std::string Dropout::extra_repr() const { return detail::cat("rate=", rate_); }

Tensor Dropout::forward(const Tensor& x) {
  build(x.shape());
  if (!is_training() || rate_ == 0) return x;
  return dropout(x, rate_, true, &layer_generator());
}

// ---- Embedding ----

Embedding::Embedding(int64_t input_dim, int64_t output_dim, EmbeddingOptions options)
    : Module("Embedding"), input_dim_(input_dim), output_dim_(output_dim), opt_(std::move(options)) {
  configure(opt_.name, opt_.seed, opt_.input_shape);
  CAIRN_CHECK(input_dim > 0 && output_dim > 0, ValueError, where(), ": input_dim and output_dim must be positive, got ",
              input_dim, " and ", output_dim);
  CAIRN_CHECK(opt_.padding_idx >= -1 && opt_.padding_idx < input_dim, ValueError, where(), ": padding_idx ",
              opt_.padding_idx, " must be -1 (none) or in [0, ", input_dim, ")");
  check_initializer(opt_.embeddings_initializer, where());
  weight_ = register_parameter("weight", Tensor::empty({input_dim, output_dim}, dtype()));
  if (opt_.embeddings_initializer == "torch_default") {
    NoGradGuard ng;
    weight_.copy_(randn(weight_.shape(), DType::f64, &layer_generator()));
  } else {
    initialize(weight_, opt_.embeddings_initializer, compute_fans(weight_.shape()), layer_generator());
  }
  if (opt_.padding_idx >= 0) {
    NoGradGuard ng;
    weight_.select(0, opt_.padding_idx).fill_(0.0);  // as torch.nn.Embedding: the padding row starts at zero
  }
  build_declared();
}

std::string Embedding::input_spec() const {
  return "[*] of integer indices in [0, " + std::to_string(input_dim_) + ")";
}

std::string Embedding::extra_repr() const { return detail::cat(input_dim_, ", ", output_dim_); }

Shape Embedding::build_impl(const Shape& in) {
  Shape out = in;
  out.push_back(output_dim_);
  return out;
}

Tensor Embedding::forward(const Tensor& indices) {
  build(indices.shape());
  CAIRN_CHECK(indices.dtype() == DType::i64 || indices.dtype() == DType::i32, DTypeError, where(),
              " expects integer indices (int64 or int32), got ", dtype_name(indices.dtype()), " ",
              shape_str(indices.shape()), "; convert them with .to(DType::i64)");
  // Checked here too, so the message names the layer (token ids from a tokenizer with a bigger vocabulary
  // than input_dim are the usual cause).
  Tensor idx = indices.contiguous();
  auto scan = [&](const auto* p) {
    for (int64_t i = 0; i < idx.numel(); ++i)
      if (p[i] < 0 || p[i] >= input_dim_)
        throw IndexError(detail::cat(where(), ": index ", static_cast<int64_t>(p[i]), " at flat position ", i,
                                     " of indices ", shape_str(idx.shape()), " is outside [0, ", input_dim_,
                                     "); input_dim must exceed every index (e.g. the tokenizer's vocabulary size)"));
  };
  if (idx.dtype() == DType::i64) scan(idx.data<int64_t>());
  else scan(idx.data<int32_t>());
  return embedding(weight_, idx, opt_.padding_idx);
}

// ---- Lambda ----

Lambda::Lambda(Fn fn, ShapeFn output_shape, std::string name)
    : Module("Lambda"), fn_(std::move(fn)), shape_fn_(std::move(output_shape)) {
  configure(name, std::nullopt, std::nullopt);
  CAIRN_CHECK(fn_ != nullptr, ValueError, where(), ": the function is empty");
}

Lambda::Lambda(MultiFn fn, std::string name) : Module("Lambda"), multi_(std::move(fn)) {
  configure(name, std::nullopt, std::nullopt);
  CAIRN_CHECK(multi_ != nullptr, ValueError, where(), ": the function is empty");
}

Shape Lambda::build_impl(const Shape& in) { return shape_fn_ ? shape_fn_(in) : Module::build_impl(in); }

Tensor Lambda::forward(const Tensor& x) {
  if (fn_) return fn_(x);
  return multi_({x});
}

Tensor Lambda::forward(const std::vector<Tensor>& xs) {
  if (multi_) return multi_(xs);
  CAIRN_CHECK(xs.size() == 1, ValueError, where(), ": wraps a one-input function but got ", xs.size(), " inputs");
  return fn_(xs[0]);
}

}  // namespace cairn::nn
