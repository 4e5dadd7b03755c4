#include "cairn/nn/layers_conv.h"

#include <limits>
#include <sstream>

#include "cairn/core/ops/ops.h"
#include "cairn/nn/init.h"

namespace cairn::nn {

namespace {

// Padding of one spatial dim: (before, after). "same" pads so out = ceil(in / stride) with the odd pixel
// after, as TensorFlow and PyTorch's padding="same" do.
struct Pad1 {
  int64_t before = 0, after = 0;
};

Pad1 same_padding(int64_t in, int64_t k_eff, int64_t stride) {
  const int64_t out = (in + stride - 1) / stride;
  const int64_t total = std::max<int64_t>((out - 1) * stride + k_eff - in, 0);
  return {total / 2, total - total / 2};
}

// Output size of one spatial dim, or -1 when the input size is unknown. Throws through `bad` when the
// window does not fit.
template <class Bad>
int64_t out_size(int64_t in, int64_t k_eff, int64_t stride, bool same, const char* axis, Bad bad) {
  if (in < 0) return -1;
  if (same) return (in + stride - 1) / stride;
  if (in < k_eff)
    bad(detail::cat("the ", axis, " (", in, ") is smaller than the window (", k_eff,
                    "); use padding=\"same\", a smaller kernel or pool, or a larger input"));
  return (in - k_eff) / stride + 1;
}

void check_padding(const std::string& padding, const std::string& where) {
  CAIRN_CHECK(padding == "valid" || padding == "same", ValueError, where, ": padding must be \"valid\" or \"same\", got \"",
              padding, "\"");
}

void check_positive(Size2 s, const char* what, const std::string& where) {
  CAIRN_CHECK(s.h > 0 && s.w > 0, ValueError, where, ": ", what, " must be positive, got (", s.h, ", ", s.w, ")");
}

std::string size2_str(Size2 s) { return detail::cat("(", s.h, ", ", s.w, ")"); }

}  // namespace

Tensor pad2d(const Tensor& x, int64_t top, int64_t bottom, int64_t left, int64_t right, double value) {
  CAIRN_CHECK(x.dim() == 4, ShapeError, "pad2d: expects (N, C, H, W), got ", shape_str(x.shape()));
  Tensor y = x;
  auto side = [&](int64_t dim, int64_t n) {
    Shape s = y.shape();
    s[dim] = n;
    return full(s, value, y.dtype());
  };
  if (top || bottom) {
    std::vector<Tensor> parts;
    if (top) parts.push_back(side(2, top));
    parts.push_back(y);
    if (bottom) parts.push_back(side(2, bottom));
    y = concat(parts, 2);
  }
  if (left || right) {
    std::vector<Tensor> parts;
    if (left) parts.push_back(side(3, left));
    parts.push_back(y);
    if (right) parts.push_back(side(3, right));
    y = concat(parts, 3);
  }
  return y;
}

// ---- Conv2D ----

Conv2D::Conv2D(int64_t filters, Size2 kernel_size, const std::string& activation)
    : Conv2D(filters, kernel_size, Conv2DOptions{.activation = activation}) {}

Conv2D::Conv2D(int64_t filters, Size2 kernel_size, Conv2DOptions options)
    : Module("Conv2D"), filters_(filters), kernel_(kernel_size), opt_(std::move(options)) {
  configure(opt_.name, opt_.seed, opt_.input_shape);
  CAIRN_CHECK(filters > 0, ValueError, where(), ": filters must be positive, got ", filters);
  check_positive(kernel_, "kernel_size", where());
  check_positive(opt_.strides, "strides", where());
  check_positive(opt_.dilation, "dilation", where());
  check_padding(opt_.padding, where());
  CAIRN_CHECK(opt_.groups > 0 && filters % opt_.groups == 0, ValueError, where(), ": groups (", opt_.groups,
              ") must be positive and divide filters (", filters, ")");
  act_ = get_activation(opt_.activation, where());
  if (opt_.bias_initializer.empty())
    opt_.bias_initializer = opt_.kernel_initializer == "torch_default" ? "torch_default" : "zeros";
  check_initializer(opt_.kernel_initializer, where());
  check_initializer(opt_.bias_initializer, where());
  built_ = false;
  build_declared();
}

std::string Conv2D::input_spec() const {
  return "[N, " + (in_channels_ < 0 ? std::string("C") : std::to_string(in_channels_)) + ", H, W]";
}

std::string Conv2D::extra_repr() const {
  std::ostringstream os;
  os << in_channels_ << ", " << filters_ << ", kernel_size=" << size2_str(kernel_) << ", strides="
     << size2_str(opt_.strides) << ", padding=" << opt_.padding;
  if (!(opt_.dilation == Size2(1))) os << ", dilation=" << size2_str(opt_.dilation);
  if (opt_.groups != 1) os << ", groups=" << opt_.groups;
  os << ", activation=" << opt_.activation;
  return os.str();
}

Shape Conv2D::build_impl(const Shape& in) {
  if (in.size() != 4)
    throw_bad_input(in, "Conv2D takes 4-D channels-first images (N, C, H, W); add a Reshape layer (e.g. "
                        "Reshape({1, 28, 28}) for single-channel 28x28 images) before it");
  const int64_t c = in[1];
  if (!built_) {
    if (c <= 0) throw_bad_input(in, "the channel dimension must be known to create the weights");
    if (c % opt_.groups != 0)
      throw_bad_input(in, detail::cat(c, " input channels do not divide into ", opt_.groups, " groups"));
    in_channels_ = c;
    Generator& g = layer_generator();
    weight_ = register_parameter("weight", Tensor::empty({filters_, c / opt_.groups, kernel_.h, kernel_.w}, dtype()));
    initialize(weight_, opt_.kernel_initializer, compute_fans(weight_.shape()), g);
    if (opt_.use_bias) {
      bias_ = register_parameter("bias", Tensor::empty({filters_}, dtype()));
      initialize(bias_, opt_.bias_initializer, compute_fans(weight_.shape()), g);
    }
    built_ = true;
  } else if (c != in_channels_ && c != -1) {
    throw_bad_input(in, detail::cat("the input has ", c, " channels but the weights were built for ", in_channels_));
  }
  const bool same = opt_.padding == "same";
  auto bad = [&](const std::string& why) { throw_bad_input(in, why); };
  const int64_t oh = out_size(in[2], opt_.dilation.h * (kernel_.h - 1) + 1, opt_.strides.h, same, "height", bad);
  const int64_t ow = out_size(in[3], opt_.dilation.w * (kernel_.w - 1) + 1, opt_.strides.w, same, "width", bad);
  return {in[0], filters_, oh, ow};
}

Tensor Conv2D::forward(const Tensor& x) { return convolve(x, true); }

Tensor Conv2D::forward_without_activation(const Tensor& x) { return convolve(x, false); }

Tensor Conv2D::convolve(const Tensor& x, bool activate) {
  build(x.shape());
  check_input_dtype(x);
  Conv2dOptions o;
  o.stride = {opt_.strides.h, opt_.strides.w};
  o.dilation = {opt_.dilation.h, opt_.dilation.w};
  o.groups = opt_.groups;
  o.padding = {0, 0};
  Tensor in = x;
  if (opt_.padding == "same") {
    Pad1 ph = same_padding(x.shape()[2], opt_.dilation.h * (kernel_.h - 1) + 1, opt_.strides.h);
    Pad1 pw = same_padding(x.shape()[3], opt_.dilation.w * (kernel_.w - 1) + 1, opt_.strides.w);
    if (ph.before == ph.after && pw.before == pw.after)
      o.padding = {ph.before, pw.before};  // symmetric: the convolution pads for free
    else
      in = pad2d(x, ph.before, ph.after, pw.before, pw.after);
  }
  if (!activate) return conv2d(in, weight_, bias_, o);
  if (opt_.activation == "relu") {
    o.activation = Fused::relu;
    return conv2d(in, weight_, bias_, o);
  }
  return act_(conv2d(in, weight_, bias_, o));
}

// ---- pooling ----

Pooling2D::Pooling2D(const char* type, bool is_max, Size2 pool_size, std::optional<Size2> strides,
                     std::string padding, std::string name)
    : Module(type), is_max_(is_max), pool_(pool_size), strides_(strides.value_or(pool_size)),
      padding_(std::move(padding)) {
  configure(name, std::nullopt, std::nullopt);
  check_positive(pool_, "pool_size", where());
  check_positive(strides_, "strides", where());
  check_padding(padding_, where());
}

std::string Pooling2D::extra_repr() const {
  return "pool_size=" + size2_str(pool_) + ", strides=" + size2_str(strides_) + ", padding=" + padding_;
}

Shape Pooling2D::build_impl(const Shape& in) {
  if (in.size() != 4) throw_bad_input(in, "pooling takes 4-D channels-first images (N, C, H, W)");
  const bool same = padding_ == "same";
  auto bad = [&](const std::string& why) { throw_bad_input(in, why); };
  return {in[0], in[1], out_size(in[2], pool_.h, strides_.h, same, "height", bad),
          out_size(in[3], pool_.w, strides_.w, same, "width", bad)};
}

Tensor Pooling2D::forward(const Tensor& x) {
  build(x.shape());
  Pool2dOptions o;
  o.kernel = {pool_.h, pool_.w};
  o.stride = {strides_.h, strides_.w};
  o.padding = {0, 0};
  if (padding_ == "valid") return is_max_ ? max_pool2d(x, o) : avg_pool2d(x, o);
  const Pad1 ph = same_padding(x.shape()[2], pool_.h, strides_.h);
  const Pad1 pw = same_padding(x.shape()[3], pool_.w, strides_.w);
  if (ph.before + ph.after + pw.before + pw.after == 0) return is_max_ ? max_pool2d(x, o) : avg_pool2d(x, o);
  if (is_max_)
    return max_pool2d(pad2d(x, ph.before, ph.after, pw.before, pw.after, -std::numeric_limits<double>::infinity()), o);
  // Average of the real pixels only: (window sum of x) / (window count of real pixels), both from zero padding.
  Tensor num = avg_pool2d(pad2d(x, ph.before, ph.after, pw.before, pw.after), o);
  Tensor ones_map = ones({1, 1, x.shape()[2], x.shape()[3]}, x.dtype());
  Tensor den = avg_pool2d(pad2d(ones_map, ph.before, ph.after, pw.before, pw.after), o);
  return num / den;
}

// ---- global pooling ----

GlobalAveragePooling2D::GlobalAveragePooling2D(bool keepdims, std::string name)
    : Module("GlobalAveragePooling2D"), keepdims_(keepdims) {
  configure(name, std::nullopt, std::nullopt);
}

Shape GlobalAveragePooling2D::build_impl(const Shape& in) {
  if (in.size() != 4) throw_bad_input(in, "global pooling takes 4-D channels-first images (N, C, H, W)");
  return keepdims_ ? Shape{in[0], in[1], 1, 1} : Shape{in[0], in[1]};
}

Tensor GlobalAveragePooling2D::forward(const Tensor& x) {
  build(x.shape());
  return global_avg_pool2d(x, keepdims_);
}

GlobalMaxPooling2D::GlobalMaxPooling2D(bool keepdims, std::string name)
    : Module("GlobalMaxPooling2D"), keepdims_(keepdims) {
  configure(name, std::nullopt, std::nullopt);
}

Shape GlobalMaxPooling2D::build_impl(const Shape& in) {
  if (in.size() != 4) throw_bad_input(in, "global pooling takes 4-D channels-first images (N, C, H, W)");
  return keepdims_ ? Shape{in[0], in[1], 1, 1} : Shape{in[0], in[1]};
}

Tensor GlobalMaxPooling2D::forward(const Tensor& x) {
  build(x.shape());
  return amax(x, {2, 3}, keepdims_);
}

}  // namespace cairn::nn
