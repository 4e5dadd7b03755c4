// Bad input to every op family gives a typed exception whose message says which op, what was wrong (both
// shapes of a mismatch, the dtype, the bad index and the valid range) so the caller can act on it. The autograd
// misuse cases (backward twice, non-scalar backward, no grad) are in autograd_test.cpp.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "cairn/core/core.h"

using namespace cairn;

namespace {

template <class Err>
std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Err& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

// The message contains every one of `parts`.
template <class Err>
void expect_message(const std::string& what, const std::function<void()>& f, const std::vector<std::string>& parts) {
  const std::string msg = message_of<Err>(f);
  for (const std::string& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << what << ": no \"" << p << "\" in: " << msg;
}

Tensor i64(const std::vector<int64_t>& v, const Shape& s = {}) {
  return s.empty() ? from_vector<int64_t>(v) : from_vector<int64_t>(v, s);
}

}  // namespace

TEST(ErrorMessages, ShapeMismatchesNameTheOpAndBothShapes) {
  const Tensor a = zeros({2, 3}), b = zeros({4, 3});
  expect_message<ShapeError>("add", [&] { (void)add(a, b); }, {"add", "[2, 3]", "[4, 3]"});
  expect_message<ShapeError>("mul", [&] { (void)mul(a, zeros({2})); }, {"mul", "[2, 3]", "[2]"});
  expect_message<ShapeError>("maximum", [&] { (void)maximum(a, b); }, {"maximum", "[2, 3]", "[4, 3]"});
  expect_message<ShapeError>("where", [&] { (void)where(gt(a, 0.0), a, b); }, {"where", "[2, 3]", "[4, 3]"});
  expect_message<ShapeError>("masked_fill", [&] { (void)masked_fill(a, gt(b, 0.0), 1.0); },
                             {"masked_fill", "[2, 3]", "[4, 3]"});
  expect_message<ShapeError>("matmul", [&] { (void)matmul(a, zeros({4, 5})); }, {"matmul", "[2, 3]", "[4, 5]"});
  expect_message<ShapeError>("batched matmul", [&] { (void)matmul(zeros({2, 2, 3}), zeros({3, 3, 4})); },
                             {"matmul", "[2, 2, 3]", "[3, 3, 4]"});
  expect_message<ShapeError>("linear", [&] { (void)linear(a, zeros({5, 4})); }, {"linear", "[2, 3]", "[5, 4]"});
  expect_message<ShapeError>("concat", [&] { (void)concat({a, zeros({2, 4})}, 0); }, {"concat", "[2, 3]", "[2, 4]"});
  expect_message<ShapeError>("stack", [&] { (void)stack({a, b}, 0); }, {"stack", "[2, 3]", "[4, 3]"});
  expect_message<ShapeError>("reshape", [&] { (void)reshape(a, {4, 2}); }, {"reshape", "[2, 3]", "[4, 2]"});
  expect_message<ShapeError>("expand", [&] { (void)expand(a, {4, 3}); }, {"expand", "[2, 3]", "[4, 3]"});
  expect_message<ShapeError>("gather", [&] { (void)gather(a, 1, zeros({3, 2}, DType::i64)); },
                             {"gather", "[2, 3]", "[3, 2]"});
  expect_message<ShapeError>("cross_entropy", [&] { (void)cross_entropy(zeros({4, 3}), zeros({5}, DType::i64)); },
                             {"cross_entropy", "[4, 3]", "[5]"});
  expect_message<ShapeError>("layer_norm weight", [&] { (void)layer_norm(a, {3}, zeros({4})); },
                             {"layer_norm", "[3]", "[4]"});
  expect_message<ShapeError>("batch_norm weight",
                             [&] { (void)batch_norm(zeros({4, 3}), Tensor(), Tensor(), zeros({2}), Tensor(), true); },
                             {"batch_norm", "[4, 3]", "[2]"});
  expect_message<ShapeError>("conv2d channels", [&] { (void)conv2d(zeros({1, 3, 5, 5}), zeros({2, 4, 3, 3})); },
                             {"conv2d", "[1, 3, 5, 5]", "[2, 4, 3, 3]"});
  expect_message<ShapeError>("embedding weight", [&] { (void)embedding(zeros({5}), i64({1})); },
                             {"embedding", "[5]"});
}

TEST(ErrorMessages, WrongDTypesNameTheOpAndTheDTypes) {
  const Tensor f = zeros({2, 3}), d = zeros({2, 3}, DType::f64), n = zeros({2, 3}, DType::i64);
  expect_message<DTypeError>("mixed add", [&] { (void)add(f, d); }, {"add", "float32", "float64"});
  expect_message<DTypeError>("integer exp", [&] { (void)exp(n); }, {"exp", "int64"});
  expect_message<DTypeError>("integer softmax", [&] { (void)softmax(n, 0); }, {"softmax", "int64"});
  expect_message<DTypeError>("float index", [&] { (void)index_select(f, 0, zeros({1})); },
                             {"index_select", "float32"});
  expect_message<DTypeError>("float gather index", [&] { (void)gather(f, 0, zeros({1, 3})); }, {"gather", "float32"});
  expect_message<DTypeError>("float embedding index", [&] { (void)embedding(f, zeros({2})); },
                             {"embedding", "float32"});
  expect_message<DTypeError>("float target", [&] { (void)cross_entropy(f, zeros({2})); },
                             {"cross_entropy", "float32"});
  expect_message<DTypeError>("mixed matmul", [&] { (void)matmul(f, zeros({3, 2}, DType::f64)); },
                             {"matmul", "float32", "float64"});
}

TEST(ErrorMessages, OutOfRangeIndicesNameTheIndexAndTheRange) {
  const Tensor x = zeros({3, 4});
  expect_message<IndexError>("index_select", [&] { (void)index_select(x, 0, i64({0, 7})); },
                             {"index_select", "7", "3"});
  expect_message<IndexError>("gather", [&] { (void)gather(x, 1, i64({0, 9, 1, 2, 3, 0}, {3, 2})); },
                             {"gather", "9", "4"});
  expect_message<IndexError>("embedding", [&] { (void)embedding(x, i64({1, 3})); }, {"embedding", "3"});
  expect_message<IndexError>("cross_entropy target", [&] { (void)cross_entropy(x, i64({0, 4, 1})); },
                             {"cross_entropy", "4"});
  expect_message<IndexError>("dim", [&] { (void)sum(x, {2}); }, {"2"});
  expect_message<IndexError>("select", [&] { (void)select(x, 1, 4); }, {"select", "4", "[3, 4]"});
}

TEST(ErrorMessages, ReadingAnUndefinedTensorSaysSo) {
  const Tensor never_set = zeros({2}).grad();
  expect_message<ValueError>("to_vector", [&] { (void)never_set.to_vector<float>(); }, {"to_vector", "undefined"});
  expect_message<ValueError>("item", [&] { (void)never_set.item(); }, {"item", "undefined"});
}

TEST(ErrorMessages, BackwardThroughAnOpWithoutAGradientSaysWhy) {
  // argmax, comparisons and integer casts have no gradient: their outputs do not require grad, and a backward
  // from them says so instead of silently producing nothing.
  Tensor x = randn({3, 4}, DType::f64).requires_grad_();
  Tensor idx = argmax(x, 1);
  EXPECT_FALSE(idx.requires_grad());
  Tensor as_float = sum(idx.to(DType::f64));
  expect_message<AutogradError>("argmax", [&] { as_float.backward(); }, {"does not require grad", "differentiable"});
  Tensor cmp = sum(gt(x, 0.0).to(DType::f64));
  expect_message<AutogradError>("comparison", [&] { cmp.backward(); }, {"does not require grad"});
  // Integer tensors cannot require grad at all.
  expect_message<DTypeError>("integer leaf", [&] { (void)zeros({2}, DType::i64).requires_grad_(); },
                             {"requires_grad", "int64"});
}
