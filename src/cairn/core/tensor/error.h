// Errors Cairn throws. Every message says what was wrong, where, and what to do about it.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace cairn {

// Base class of every Cairn exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Shapes that do not fit an op (message names the op and every shape involved).
class ShapeError : public Error { using Error::Error; };
// A dtype an op does not accept, or two operands whose dtypes differ.
class DTypeError : public Error { using Error::Error; };
// An index outside its dimension.
class IndexError : public Error { using Error::Error; };
// A bad argument value (negative size, probability outside [0, 1), ...).
class ValueError : public Error { using Error::Error; };
// Misuse of autograd: backward twice through a freed graph, grad of a non-scalar without a gradient, ...
class AutogradError : public Error { using Error::Error; };

namespace detail {
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

}  // namespace cairn

// CAIRN_CHECK(cond, ErrorType, message parts...): throws ErrorType(concatenated message) unless cond.
#define CAIRN_CHECK(cond, Err, ...)                        \
  do {                                                     \
    if (!(cond)) throw Err(::cairn::detail::cat(__VA_ARGS__)); \
  } while (0)
