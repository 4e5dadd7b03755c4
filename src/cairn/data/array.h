// Plain contiguous buffers that the data layer produces.
//
// The data layer deliberately does not depend on Cairn's tensor types: readers fill an Array<T>
// (row-major, shape + flat data) and the Dataset layer above wraps it without copying semantics of its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cairn::data {

template <class T>
struct Array {
  std::vector<int64_t> shape;  // e.g. (N, 28, 28) for images, (N,) for labels
  std::vector<T> data;         // row-major, data.size() == product(shape)

  int64_t numel() const {
    for (int64_t d : shape) {
      if (d == 0) return 0;  // empty, whatever the other dims (their product may not even fit in 64 bits)
    }
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  // Number of items along the first axis (0 for a 0-d array).
  int64_t rows() const { return shape.empty() ? 0 : shape[0]; }
  // Elements per item along the first axis.
  int64_t row_size() const { return shape.empty() || shape[0] == 0 ? 0 : numel() / shape[0]; }
};

inline std::string shape_to_string(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + ")";
}

}  // namespace cairn::data
