// Golden tests against PyTorch for ops/softmax.cpp: softmax, log_softmax and cross_entropy (class weights,
// ignore_index, label smoothing, every reduction, spatial targets). Cases mirror tools/golden/core_golden_cases.py.
#include "golden_util.h"

using namespace cairn;
using golden::Call;
using golden::Case;
using golden::outs;

namespace {
std::vector<Case> softmax_cases(Tensor (*op)(const Tensor&, int64_t)) {
  auto at = [op](int64_t d) { return [op, d](Call& c) { return outs(op(c["x"], d)); }; };
  return {{"dlast", at(-1)}, {"d0", at(0)}, {"d1", at(1)}, {"large_values", at(-1)}, {"2d_dim0", at(0)}};
}

// cross_entropy with the options named; the class weights come from the case's input "w" when it has one.
golden::CaseFn ce(std::string reduction = "mean", int64_t ignore_index = -100, double smoothing = 0.0) {
  return [=](Call& c) {
    CrossEntropyOptions o;
    o.weight = c.opt("w");
    o.ignore_index = ignore_index;
    o.label_smoothing = smoothing;
    o.reduction = reduction;
    return outs(cross_entropy(c["x"], c["t"], o));
  };
}
}  // namespace

TEST(GoldenSoftmax, Softmax) { golden::run("softmax", softmax_cases(cairn::softmax)); }
TEST(GoldenSoftmax, LogSoftmax) { golden::run("log_softmax", softmax_cases(cairn::log_softmax)); }

TEST(GoldenSoftmax, CrossEntropy) {
  golden::run("cross_entropy", {{"mean", ce()},
                                {"sum", ce("sum")},
                                {"none", ce("none")},
                                {"weight", ce()},
                                {"weight_sum", ce("sum")},
                                {"ignore_default", ce()},
                                {"ignore_1", ce("mean", 1)},
                                {"smoothing", ce("mean", -100, 0.1)},
                                {"smoothing_sum", ce("sum", -100, 0.1)},
                                {"smoothing_weight", ce("mean", -100, 0.2)},
                                {"smoothing_ignore", ce("mean", -100, 0.2)},
                                {"weight_ignore_smoothing_none", ce("none", -100, 0.1)},
                                {"weight_ignore_mean", ce()},
                                {"spatial", ce()},
                                {"spatial_none", ce("none")}});
}
