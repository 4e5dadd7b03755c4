// Shapes and strides (in elements), and the broadcasting rules (NumPy's).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace cairn {

using Shape = std::vector<int64_t>;

int64_t numel_of(const Shape& s);
Shape contiguous_strides(const Shape& s);
std::string shape_str(const Shape& s);  // "[2, 3, 4]"

// NumPy broadcasting of two shapes. Throws ShapeError naming `op` and both shapes if they do not broadcast.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Wraps a possibly negative dim into [0, ndim). Throws IndexError naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace cairn
