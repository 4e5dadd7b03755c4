// train::parallel_backward: the parts of a batch run at once on their own threads and their gradients add up to
// the whole batch's; the bits do not depend on the thread count; errors come back from the part that threw.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "cairn/core/core.h"
#include "cairn/nn/gpt.h"
#include "cairn/train/data_parallel.h"

using namespace cairn;

namespace {

// Big enough that its matrix products run through oneDNN (the path that must run single-threaded inside a part).
nn::GPT make_gpt(double dropout = 0.0) {
  nn::GPTConfig c;
  c.vocab_size = 30;
  c.context_length = 32;
  c.num_layers = 2;
  c.num_heads = 2;
  c.embed_dim = 64;
  c.dropout = dropout;
  c.attention_dropout = dropout;
  c.seed = 3;
  return nn::GPT(c);
}

struct Batch {
  Tensor x, y;
};

Batch make_batch(int64_t B) {
  Generator g(9);
  return {randint(0, 30, {B, 32}, DType::i64, &g), randint(0, 30, {B, 32}, DType::i64, &g)};
}

Tensor rows_loss(nn::GPT& m, const Batch& b, int64_t r0, int64_t r1) {
  Tensor logits = m.forward(b.x.narrow(0, r0, r1 - r0));
  return cross_entropy(logits.reshape({-1, 30}), b.y.narrow(0, r0, r1 - r0).reshape({-1}));
}

// Every parameter's gradient after one parallel_backward (or a plain backward when parts = 0).
std::vector<std::vector<float>> grads_of(nn::GPT& m, const Batch& b, int parts, double* loss = nullptr) {
  for (Tensor p : m.parameters()) p.zero_grad();
  const int64_t B = b.x.size(0);
  double l;
  if (parts == 0) {
    Tensor t = rows_loss(m, b, 0, B);
    t.backward();
    l = t.item();
  } else {
    l = train::parallel_backward(B, parts, [&](int64_t r0, int64_t r1) { return rows_loss(m, b, r0, r1); });
  }
  if (loss) *loss = l;
  std::vector<std::vector<float>> out;
  for (const Tensor& p : m.parameters()) out.push_back(p.grad().contiguous().to_vector<float>());
  return out;
}

struct Threads {  // restores the thread count
  int saved = num_threads();
  explicit Threads(int n) { set_num_threads(n); }
  ~Threads() { set_num_threads(saved); }
};

}  // namespace

TEST(ParallelBackward, GradientsAndLossAreTheWholeBatchs) {
  Threads t(2);
  nn::GPT m = make_gpt();
  const Batch b = make_batch(5);  // parts of 3 and 2 rows: unequal weights
  double whole = 0, split = 0;
  const auto g0 = grads_of(m, b, 0, &whole);
  const auto g2 = grads_of(m, b, 2, &split);
  EXPECT_NEAR(split, whole, 1e-6 * std::abs(whole));
  ASSERT_EQ(g0.size(), g2.size());
  for (size_t i = 0; i < g0.size(); ++i) {
    double scale = 0;
    for (float v : g0[i]) scale = std::max(scale, static_cast<double>(std::abs(v)));
    for (size_t j = 0; j < g0[i].size(); ++j)
      ASSERT_NEAR(g2[i][j], g0[i][j], 1e-4 * scale + 1e-7) << "parameter " << i << " element " << j;
  }
}

TEST(ParallelBackward, BitsDoNotDependOnTheThreadCount) {
  for (double dropout : {0.0, 0.2}) {
    nn::GPT m = make_gpt(dropout);
    const Batch b = make_batch(6);
    manual_seed(11);
    std::vector<std::vector<float>> one, two;
    double l1, l2;
    {
      Threads t(1);
      one = grads_of(m, b, 2, &l1);
    }
    manual_seed(11);
    {
      Threads t(2);
      two = grads_of(m, b, 2, &l2);
    }
    EXPECT_EQ(l1, l2) << "dropout " << dropout;
    EXPECT_EQ(one, two) << "dropout " << dropout;
  }
}

TEST(ParallelBackward, DropoutMasksDifferBetweenPartsAndSteps) {
  // Each part draws from its own stream: two identical halves get different masks, so their losses differ.
  Threads t(2);
  nn::GPT m = make_gpt(0.3);
  Batch b = make_batch(1);
  b.x = b.x.expand({2, 32}).contiguous();
  b.y = b.y.expand({2, 32}).contiguous();
  std::vector<double> part_loss(2);
  manual_seed(4);
  train::parallel_backward(2, 2, [&](int64_t r0, int64_t r1) {
    Tensor l = rows_loss(m, b, r0, r1);
    part_loss[r0] = l.item();
    return l;
  });
  EXPECT_NE(part_loss[0], part_loss[1]);
  const double first = part_loss[0];
  train::parallel_backward(2, 2, [&](int64_t r0, int64_t r1) {
    Tensor l = rows_loss(m, b, r0, r1);
    part_loss[r0] = l.item();
    return l;
  });
  EXPECT_NE(part_loss[0], first);  // the next step draws new masks
}

TEST(ParallelBackward, AddsToExistingGradients) {
  Threads t(2);
  nn::GPT m = make_gpt();
  const Batch b = make_batch(4);
  const auto g = grads_of(m, b, 2);
  const auto params = m.parameters();
  for (Tensor p : params) p.set_grad(ones(p.shape()));
  train::parallel_backward(4, 2, [&](int64_t r0, int64_t r1) { return rows_loss(m, b, r0, r1); });
  for (size_t i = 0; i < params.size(); ++i) {
    const std::vector<float> after = params[i].grad().contiguous().to_vector<float>();
    for (size_t j = 0; j < after.size(); ++j) ASSERT_FLOAT_EQ(after[j], 1.0f + g[i][j]) << i << ", " << j;
  }
}

TEST(ParallelBackward, MorePartsThanRowsAndOnePart) {
  Threads t(2);
  nn::GPT m = make_gpt();
  const Batch b = make_batch(3);
  double whole = 0, many = 0, one = 0;
  const auto g0 = grads_of(m, b, 0, &whole);
  const auto g1 = grads_of(m, b, 1, &one);
  grads_of(m, b, 8, &many);  // three parts of one row
  EXPECT_EQ(one, whole);
  EXPECT_EQ(g1, g0);  // one part is the plain backward
  EXPECT_NEAR(many, whole, 1e-6 * std::abs(whole));
}

TEST(ParallelBackward, ErrorsComeBackAndLeaveNoGradient) {
  Threads t(2);
  nn::GPT m = make_gpt();
  const Batch b = make_batch(4);
  for (Tensor p : m.parameters()) p.zero_grad();
  try {
    train::parallel_backward(4, 2, [&](int64_t r0, int64_t r1) -> Tensor {
      if (r0 == 2) throw std::runtime_error("part two failed");
      return rows_loss(m, b, r0, r1);
    });
    FAIL() << "expected the part's exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "part two failed");
  }
  for (const Tensor& p : m.parameters()) EXPECT_FALSE(p.grad().defined());
  EXPECT_THROW(train::parallel_backward(4, 0, [&](int64_t, int64_t) { return Tensor(); }), ValueError);
  EXPECT_THROW(train::parallel_backward(4, 2, [&](int64_t r0, int64_t r1) { return m.forward(b.x.narrow(0, r0, r1 - r0)); }),
               ShapeError);
}

// The blocks: the first rows % parts take one row more; never more parts than rows; part_of finds a block by its
// first row.
TEST(DataParallel, PartBoundsAndPartOf) {
  const std::vector<int64_t> b = train::part_bounds(10, 3);
  EXPECT_EQ(b, (std::vector<int64_t>{0, 4, 7, 10}));
  EXPECT_EQ(train::part_bounds(2, 4), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(train::part_bounds(5, 1), (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(train::part_of(b, 0), 0u);
  EXPECT_EQ(train::part_of(b, 7), 2u);
  EXPECT_THROW(train::part_of(b, 5), IndexError);
  EXPECT_THROW(train::part_of(b, 10), IndexError);
  EXPECT_THROW(train::part_bounds(0, 2), ValueError);
}
