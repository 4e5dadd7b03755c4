// Shared helpers for the optim tests: the PyTorch reference files and tolerant comparisons.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cairn/core/core.h"

namespace cairn::optim::testing {

using nlohmann::json;

// tests/golden/optim/<name>, written by tools/golden/make_optim_golden.py.
inline json load_golden(const std::string& name) {
  const std::string path = std::string(CAIRN_SOURCE_DIR) + "/tests/golden/optim/" + name;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path + "; run tools/golden/make_optim_golden.py");
  return json::parse(in);
}

// A JSON number, or the string "nan" / "inf" (JSON has no such numbers).
inline double number(const json& v) {
  if (v.is_string()) return v.get<std::string>() == "nan" ? std::nan("") : INFINITY;
  return v.get<double>();
}

// |got - want| <= tol * (scale + |want|) for every element (scale 1: absolute near 0, relative for
// large values; scale 0: purely relative); reports the first few mismatches.
inline ::testing::AssertionResult close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                                        double scale = 1.0) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "sizes differ: " << got.size() << " vs " << want.size();
  std::ostringstream os;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::abs(got[i] - want[i]) <= tol * (scale + std::abs(want[i]))) continue;
    if (++bad <= 4) os << "\n  [" << i << "] got " << got[i] << " want " << want[i] << " (diff " << got[i] - want[i] << ")";
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.size() << " elements differ by more than " << tol
                                       << os.str();
}

// Bitwise equality of two tensors' values.
inline bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  Tensor x = a.contiguous(), y = b.contiguous();
  return std::memcmp(x.raw_data(), y.raw_data(), x.numel() * x.element_size()) == 0;
}

}  // namespace cairn::optim::testing
