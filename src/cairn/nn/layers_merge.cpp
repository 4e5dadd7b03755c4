#include "cairn/nn/layers_merge.h"

#include "cairn/core/ops/ops.h"

namespace cairn::nn {

namespace {
std::string shapes_str(const std::vector<Shape>& shapes) {
  std::string s;
  for (const auto& x : shapes) s += (s.empty() ? "" : ", ") + shape_str(x);
  return s;
}
// Two sizes agree when equal or when either is unknown (-1).
bool agree(int64_t a, int64_t b) { return a == b || a < 0 || b < 0; }
}  // namespace

Add::Add(std::string name) : Module("Add") { configure(name, std::nullopt, std::nullopt); }

Shape Add::build_impl(const std::vector<Shape>& in) {
  CAIRN_CHECK(in.size() >= 2, ValueError, where(), " adds two or more inputs, got ", in.size());
  Shape out = in[0];
  for (const Shape& s : in) {
    bool ok = s.size() == out.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = agree(s[d], out[d]);
    CAIRN_CHECK(ok, ShapeError, where(), " expects inputs of one shape, got ", shapes_str(in));
    for (size_t d = 0; d < s.size(); ++d)
      if (out[d] < 0) out[d] = s[d];
  }
  return out;
}

Tensor Add::forward(const std::vector<Tensor>& xs) {
  std::vector<Shape> shapes;
  for (const auto& x : xs) shapes.push_back(x.shape());
  build(shapes);
  Tensor y = xs[0];
  for (size_t i = 1; i < xs.size(); ++i) y = y + xs[i];
  return y;
}

Concatenate::Concatenate(int64_t axis, std::string name) : Module("Concatenate"), axis_(axis) {
  configure(name, std::nullopt, std::nullopt);
}

Shape Concatenate::build_impl(const std::vector<Shape>& in) {
  CAIRN_CHECK(in.size() >= 2, ValueError, where(), " joins two or more inputs, got ", in.size());
  const int64_t nd = static_cast<int64_t>(in[0].size());
  CAIRN_CHECK(axis_ >= -nd && axis_ < nd, ShapeError, where(), ": axis ", axis_, " is out of range for inputs ",
              shapes_str(in));
  const size_t ax = static_cast<size_t>(axis_ < 0 ? axis_ + nd : axis_);
  Shape out = in[0];
  for (size_t i = 1; i < in.size(); ++i) {
    const Shape& s = in[i];
    bool ok = s.size() == out.size();
    for (size_t d = 0; ok && d < s.size(); ++d) ok = d == ax || agree(s[d], out[d]);
    CAIRN_CHECK(ok, ShapeError, where(), " (axis ", axis_, ") expects inputs that match in every other dimension, got ",
                shapes_str(in));
    out[ax] = (out[ax] < 0 || s[ax] < 0) ? -1 : out[ax] + s[ax];
    for (size_t d = 0; d < s.size(); ++d)
      if (d != ax && out[d] < 0) out[d] = s[d];
  }
  return out;
}

Tensor Concatenate::forward(const std::vector<Tensor>& xs) {
  std::vector<Shape> shapes;
  for (const auto& x : xs) shapes.push_back(x.shape());
  build(shapes);
  return concat(xs, axis_);
}

}  // namespace cairn::nn
