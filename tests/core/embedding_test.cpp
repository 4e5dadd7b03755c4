// embedding: values (a PyTorch 1.13 example), the scatter-add backward with padding_idx, float64 gradient
// checks, and error messages.
#include <gtest/gtest.h>

#include "cairn/core/core.h"
#include "error_util.h"

using namespace cairn;
using cairn::testing::gradcheck;

namespace {
using cairn_test::error_of;
using cairn_test::expect_contains;
}  // namespace

TEST(Embedding, ValuesAndScatterAddBackward) {
  // PyTorch: F.embedding(torch.tensor([[1, 3], [0, 1]]), torch.arange(12.).reshape(4, 3), padding_idx=1)
  Tensor w = arange(0, 12, 1, DType::f32).reshape({4, 3}).requires_grad_();
  Tensor idx = from_vector<int64_t>({1, 3, 0, 1}, {2, 2});
  Tensor e = embedding(w, idx, /*padding_idx=*/1);
  EXPECT_EQ(e.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(e.to_vector<float>(), (std::vector<float>{3, 4, 5, 9, 10, 11, 0, 1, 2, 3, 4, 5}));
  e.sum().backward();
  // Row 1 (padding) gets nothing although it was used twice; unused row 2 gets zeros.
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1}));

  // Without padding, repeated rows sum their gradients; int32 indices work too.
  Tensor w2 = zeros({3, 2}, DType::f64).requires_grad_();
  Tensor g = from_vector<double>({1, 2, 10, 20, 100, 200, 1000, 2000}, {4, 2});
  embedding(w2, from_vector<int32_t>({2, 0, 2, 2})).backward(g);
  EXPECT_EQ(w2.grad().to_vector<double>(), (std::vector<double>{10, 20, 0, 0, 1101, 2202}));
  // 0-d index -> (D), empty index -> (0, D).
  EXPECT_EQ(embedding(w.detach(), full({}, 2, DType::i64)).to_vector<float>(), (std::vector<float>{6, 7, 8}));
  EXPECT_EQ(embedding(w.detach(), zeros({0}, DType::i64)).shape(), (Shape{0, 3}));
}

TEST(Embedding, Gradcheck) {
  Generator gen(1);
  Tensor w = randn({5, 3}, DType::f64, &gen).requires_grad_();
  Tensor idx = from_vector<int64_t>({4, 0, 4, 2, 2, 2}, {2, 3});
  auto r = gradcheck([&](const std::vector<Tensor>& in) { return embedding(in[0], idx); }, {w});
  EXPECT_TRUE(r.ok) << r.message;
  // With padding_idx the padding row's gradient is zero by definition although the forward reads it (as in
  // PyTorch), so finite differences cannot check it: every other row must get exactly the unpadded gradient.
  Tensor wr = w.detach().clone().requires_grad_();
  Generator g2(2);
  Tensor go = randn({2, 3, 3}, DType::f64, &g2);
  embedding(wr, idx, 2).backward(go);
  Tensor wf = w.detach().clone().requires_grad_();
  embedding(wf, idx).backward(go);
  auto a = wr.grad().to_vector<double>(), b = wf.grad().to_vector<double>();
  for (int64_t v = 0; v < 5; ++v)
    for (int64_t d = 0; d < 3; ++d) EXPECT_EQ(a[v * 3 + d], v == 2 ? 0.0 : b[v * 3 + d]) << v << "," << d;
}

TEST(Embedding, Errors) {
  Tensor w = zeros({65, 8});
  std::string m = error_of([&] { (void)embedding(w, from_vector<int64_t>({1, 2, 3, 70}, {2, 2})); });
  expect_contains(m, {"embedding", "index 70", "position [1, 1]", "65 rows", "[65, 8]"});
  EXPECT_THROW(embedding(w, from_vector<int64_t>({-1})), IndexError);
  EXPECT_THROW(embedding(w, from_vector<int64_t>({65})), IndexError);
  m = error_of([&] { (void)embedding(w, zeros({2}, DType::f32)); });
  expect_contains(m, {"embedding", "int64 or int32", "float32"});
  EXPECT_THROW(embedding(w, zeros({2}, DType::f32)), DTypeError);
  EXPECT_THROW(embedding(zeros({65}), zeros({2}, DType::i64)), ShapeError);
  EXPECT_THROW(embedding(w, zeros({2}, DType::i64), 65), ValueError);
  EXPECT_THROW(embedding(w, zeros({2}, DType::i64), -2), ValueError);
}
