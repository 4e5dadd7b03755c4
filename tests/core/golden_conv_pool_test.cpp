// Golden tests against PyTorch for ops/conv.cpp and ops/pool.cpp: conv2d (stride, padding, "same" with odd and
// even kernels, dilation, groups, depthwise, 1x1), max_pool2d, avg_pool2d (padding, ceil_mode,
// count_include_pad) and global_avg_pool2d. Cases mirror tools/golden/core_golden_cases.py.
#include "golden_util.h"

using namespace cairn;
using golden::Call;
using golden::Case;
using golden::outs;

namespace {
Conv2dOptions conv_opts(std::vector<int64_t> stride, std::vector<int64_t> padding, std::vector<int64_t> dilation = {1, 1},
                        int64_t groups = 1, bool same = false) {
  Conv2dOptions o;
  o.stride = std::move(stride);
  o.padding = std::move(padding);
  o.dilation = std::move(dilation);
  o.groups = groups;
  o.padding_same = same;
  return o;
}

Conv2dOptions fused_relu() {
  Conv2dOptions o;
  o.activation = Fused::relu;
  return o;
}

golden::CaseFn conv(Conv2dOptions o) {
  return [o](Call& c) { return outs(conv2d(c["x"], c["w"], c.opt("b"), o)); };
}

Pool2dOptions pool_opts(std::vector<int64_t> kernel, std::vector<int64_t> stride = {}, std::vector<int64_t> padding = {0, 0},
                        bool ceil_mode = false, bool count_include_pad = true) {
  Pool2dOptions o;
  o.kernel = std::move(kernel);
  o.stride = std::move(stride);
  o.padding = std::move(padding);
  o.ceil_mode = ceil_mode;
  o.count_include_pad = count_include_pad;
  return o;
}
}  // namespace

TEST(GoldenConvPool, Conv2d) {
  golden::run("conv2d", {{"basic", conv({})},
                         {"no_bias", conv({})},
                         {"stride2", conv(conv_opts({2, 2}, {0, 0}))},
                         {"padding1", conv(conv_opts({1, 1}, {1, 1}))},
                         {"stride2_padding1", conv(conv_opts({2, 2}, {1, 1}))},
                         {"asymmetric", conv(conv_opts({2, 1}, {1, 0}))},
                         {"dilation2", conv(conv_opts({1, 1}, {2, 2}, {2, 2}))},
                         {"same", conv(conv_opts({1, 1}, {0, 0}, {1, 1}, 1, true))},
                         {"same_even_kernel", conv(conv_opts({1, 1}, {0, 0}, {1, 1}, 1, true))},
                         {"same_dilation2", conv(conv_opts({1, 1}, {0, 0}, {2, 2}, 1, true))},
                         {"groups2", conv(conv_opts({1, 1}, {0, 0}, {1, 1}, 2))},
                         {"depthwise", conv(conv_opts({1, 1}, {1, 1}, {1, 1}, 2))},
                         {"pointwise", conv({})},
                         {"relu", conv(fused_relu())},
                         {"relu_16ch", conv(fused_relu())}});
}

TEST(GoldenConvPool, MaxPool2d) {
  auto mp = [](Pool2dOptions o) { return [o](Call& c) { return outs(max_pool2d(c["x"], o)); }; };
  golden::run("max_pool2d", {{"k2", mp(pool_opts({2, 2}))},
                             {"k2_s1", mp(pool_opts({2, 2}, {1, 1}))},
                             {"k3_s2_p1", mp(pool_opts({3, 3}, {2, 2}, {1, 1}))},
                             {"k3_s2_ceil", mp(pool_opts({3, 3}, {2, 2}, {0, 0}, true))},
                             {"k3_s2_p1_ceil", mp(pool_opts({3, 3}, {2, 2}, {1, 1}, true))},
                             {"k2x3_s1x2", mp(pool_opts({2, 3}, {1, 2}))}});
}

TEST(GoldenConvPool, AvgPool2d) {
  auto ap = [](Pool2dOptions o) { return [o](Call& c) { return outs(avg_pool2d(c["x"], o)); }; };
  golden::run("avg_pool2d", {{"k2", ap(pool_opts({2, 2}))},
                             {"k3_s2_p1", ap(pool_opts({3, 3}, {2, 2}, {1, 1}))},
                             {"k3_s2_p1_exclude_pad", ap(pool_opts({3, 3}, {2, 2}, {1, 1}, false, false))},
                             {"k3_s2_ceil", ap(pool_opts({3, 3}, {2, 2}, {0, 0}, true))},
                             {"k3_s2_p1_ceil", ap(pool_opts({3, 3}, {2, 2}, {1, 1}, true))},
                             {"k3_s2_p1_ceil_exclude_pad", ap(pool_opts({3, 3}, {2, 2}, {1, 1}, true, false))},
                             {"k2x3_s1x2", ap(pool_opts({2, 3}, {1, 2}))}});
}

TEST(GoldenConvPool, GlobalAvgPool2d) {
  golden::run("global_avg_pool2d", {{"default", [](Call& c) { return outs(global_avg_pool2d(c["x"])); }},
                                    {"keepdim", [](Call& c) { return outs(global_avg_pool2d(c["x"], true)); }}});
}
