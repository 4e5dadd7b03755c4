#include "cairn/nn/init.h"

#include <algorithm>
#include <cmath>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/ops/ops.h"

namespace cairn::nn {

const std::vector<std::string>& initializer_names() {
  static const std::vector<std::string> names = {
      "glorot_uniform", "glorot_normal", "he_uniform",       "he_normal", "lecun_uniform", "lecun_normal",
      "random_uniform", "uniform",       "random_normal",    "normal",    "truncated_normal",
      "zeros",          "ones",          "torch_default"};
  return names;
}

void check_initializer(const std::string& name, const std::string& where) {
  const auto& names = initializer_names();
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw ValueError(detail::cat(where, ": unknown initializer '", name, "'; valid names: ", list));
}

Fans compute_fans(const Shape& s) {
  if (s.empty()) return {1, 1};
  if (s.size() == 1) return {s[0], s[0]};
  int64_t receptive = 1;
  for (size_t i = 2; i < s.size(); ++i) receptive *= s[i];
  return {s[1] * receptive, s[0] * receptive};
}

namespace {
// Keras's TruncatedNormal: normal draws outside two standard deviations are redrawn.
double truncated(Generator& g, double stddev) {
  for (;;) {
    double z = g.normal();
    if (std::abs(z) <= 2.0) return z * stddev;
  }
}
// Standard deviation of the unit normal truncated to [-2, 2] (scipy.stats.truncnorm.std(-2, 2)); Keras divides by
// it so the truncated draws keep the intended variance.
constexpr double kTruncStd = 0.87962566103423978;
}  // namespace

void initialize(Tensor& t, const std::string& name, Fans fans, Generator& g) {
  check_initializer(name, "initialize");
  CAIRN_CHECK(t.defined() && is_floating(t.dtype()), DTypeError, "initialize('", name,
              "'): the tensor must be a defined floating tensor");
  const double fi = static_cast<double>(std::max<int64_t>(fans.fan_in, 1));
  const double fo = static_cast<double>(std::max<int64_t>(fans.fan_out, 1));
  std::vector<double> v(static_cast<size_t>(t.numel()));
  auto fill_uniform = [&](double l) {
    for (auto& x : v) x = -l + 2 * l * g.uniform();
  };
  auto fill_trunc = [&](double stddev) {
    for (auto& x : v) x = truncated(g, stddev);
  };
  if (name == "glorot_uniform") fill_uniform(std::sqrt(6.0 / (fi + fo)));
  else if (name == "glorot_normal") fill_trunc(std::sqrt(2.0 / (fi + fo)) / kTruncStd);
  else if (name == "he_uniform") fill_uniform(std::sqrt(6.0 / fi));
  else if (name == "he_normal") fill_trunc(std::sqrt(2.0 / fi) / kTruncStd);
  else if (name == "lecun_uniform") fill_uniform(std::sqrt(3.0 / fi));
  else if (name == "lecun_normal") fill_trunc(std::sqrt(1.0 / fi) / kTruncStd);
  else if (name == "random_uniform" || name == "uniform") fill_uniform(0.05);
  else if (name == "random_normal" || name == "normal") for (auto& x : v) x = 0.05 * g.normal();
  else if (name == "truncated_normal") fill_trunc(0.05);
  else if (name == "zeros") std::fill(v.begin(), v.end(), 0.0);
  else if (name == "ones") std::fill(v.begin(), v.end(), 1.0);
  else if (name == "torch_default") fill_uniform(1.0 / std::sqrt(fi));
  NoGradGuard ng;
  t.copy_(from_vector(v, t.shape()));
}

}  // namespace cairn::nn
