// index_select, gather, scatter_add: PyTorch 1.13 examples, naive-loop references over every dim and
// strided inputs, float64 gradient checks (repeated indices), and error messages.
#include <gtest/gtest.h>

#include "cairn/core/core.h"
#include "error_util.h"

using namespace cairn;
using cairn::testing::gradcheck;

namespace {
using cairn_test::error_of;
using cairn_test::expect_contains;

// Flat offset of a multi-index in a contiguous tensor of `shape`.
int64_t flat(const Shape& shape, const std::vector<int64_t>& c) {
  int64_t f = 0;
  for (size_t i = 0; i < shape.size(); ++i) f = f * shape[i] + c[i];
  return f;
}

// Calls f(coord) for every multi-index of `shape` in row-major order.
template <class F>
void for_each_index(const Shape& shape, F f) {
  std::vector<int64_t> c(shape.size(), 0);
  for (int64_t n = 0; n < numel_of(shape); ++n) {
    f(c);
    for (size_t d = shape.size(); d-- > 0;) {
      if (++c[d] < shape[d]) break;
      c[d] = 0;
    }
  }
}

// Random int64 indices in [0, hi) of `shape`.
Tensor random_index(const Shape& shape, int64_t hi, Generator& gen) { return randint(0, hi, shape, DType::i64, &gen); }

}  // namespace

TEST(IndexSelect, Values) {
  Tensor x = arange(0, 12, 1, DType::f32).reshape({3, 4});
  EXPECT_EQ(index_select(x, 0, from_vector<int64_t>({2, 0, 2})).to_vector<float>(),
            (std::vector<float>{8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}));
  // torch.index_select(x, 1, torch.tensor([3, 1, 3]))
  Tensor cols = index_select(x, -1, from_vector<int32_t>({3, 1, 3}));
  EXPECT_EQ(cols.shape(), (Shape{3, 3}));
  EXPECT_EQ(cols.to_vector<float>(), (std::vector<float>{3, 1, 3, 7, 5, 7, 11, 9, 11}));
  // A strided input, an integer tensor, an empty index.
  EXPECT_EQ(index_select(x.t(), 0, from_vector<int64_t>({1})).to_vector<float>(), (std::vector<float>{1, 5, 9}));
  EXPECT_EQ(index_select(arange(10, 15), 0, from_vector<int64_t>({4, 0})).to_vector<int64_t>(),
            (std::vector<int64_t>{14, 10}));
  EXPECT_EQ(index_select(x, 0, zeros({0}, DType::i64)).shape(), (Shape{0, 4}));
}

TEST(IndexSelect, BackwardSumsRepeatedIndices) {
  Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
  index_select(x, 0, from_vector<int64_t>({0, 0, 2, 0})).sum().backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 0, 1}));
  Generator gen(1);
  for (int64_t d : {0, 1, 2}) {
    Tensor xs = randn({3, 4, 2}, DType::f64, &gen).requires_grad_();
    Tensor idx = from_vector<int64_t>({1, 0, 1, 1});
    auto r =
        gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], d, idx.narrow(0, 0, 2 + d)); }, {xs});
    EXPECT_TRUE(r.ok) << "dim " << d << ": " << r.message;
  }
}

TEST(Gather, PyTorchExamplesAndReference) {
  Tensor t = from_vector<int64_t>({1, 2, 3, 4}, {2, 2});
  EXPECT_EQ(gather(t, 1, from_vector<int64_t>({0, 0, 1, 0}, {2, 2})).to_vector<int64_t>(),
            (std::vector<int64_t>{1, 1, 4, 3}));
  EXPECT_EQ(gather(t, 0, from_vector<int64_t>({1, 0}, {1, 2})).to_vector<int64_t>(), (std::vector<int64_t>{3, 2}));

  Generator gen(2);
  const Shape xs{4, 5, 6};
  Tensor x = randn(xs, DType::f64, &gen);
  auto xv = x.to_vector<double>();
  for (int64_t d = 0; d < 3; ++d) {
    const Shape is{3, 4, 5};  // smaller than x in every dim, larger along d is allowed too
    Tensor idx = random_index(is, xs[d], gen);
    auto iv = idx.to_vector<int64_t>();
    auto got = gather(x, d, idx).to_vector<double>();
    for_each_index(is, [&](const std::vector<int64_t>& c) {
      std::vector<int64_t> src = c;
      src[d] = iv[flat(is, c)];
      EXPECT_EQ(got[flat(is, c)], xv[flat(xs, src)]);
    });
    // A strided (permuted) input gives the same as its contiguous copy.
    Tensor xp = x.permute({2, 0, 1});
    Tensor ip = random_index({2, 3, 4}, xp.shape()[d], gen);
    EXPECT_EQ(gather(xp, d, ip).to_vector<double>(), gather(xp.contiguous(), d, ip).to_vector<double>());
  }
}

TEST(Gather, Gradcheck) {
  Generator gen(3);
  for (int64_t d : {0, 1, 2}) {
    Tensor x = randn({3, 4, 2}, DType::f64, &gen).requires_grad_();
    // Along d the index may be longer than x (repeats); elsewhere no longer.
    Shape is{3, 3, 2};
    is[d] = 5;
    Tensor idx = random_index(is, x.shape()[d], gen);
    auto r = gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], d, idx); }, {x});
    EXPECT_TRUE(r.ok) << "dim " << d << ": " << r.message;
  }
}

TEST(ScatterAdd, PyTorchExamplesAndReference) {
  Tensor src = ones({2, 5});
  EXPECT_EQ(scatter_add(zeros({3, 5}), 0, from_vector<int64_t>({0, 1, 2, 0, 0, 0, 1, 2, 2, 2}, {2, 5}), src)
                .to_vector<float>(),
            (std::vector<float>{2, 0, 0, 1, 1, 0, 2, 0, 0, 0, 0, 0, 2, 1, 1}));
  // index smaller than src: only index's region of src is scattered.
  EXPECT_EQ(scatter_add(zeros({3, 5}), 0, from_vector<int64_t>({0, 1, 2, 0, 0}, {1, 5}), src).to_vector<float>(),
            (std::vector<float>{1, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0}));

  Generator gen(4);
  const Shape xs{4, 5, 6};
  Tensor x = randn(xs, DType::f64, &gen);
  for (int64_t d = 0; d < 3; ++d) {
    const Shape is{3, 4, 5};
    Tensor s = randn({3, 5, 5}, DType::f64, &gen);                      // larger than index in dim 1
    Tensor sp = randn({5, 4, 3}, DType::f64, &gen).permute({2, 1, 0});  // strided, index's shape
    Tensor idx = random_index(is, xs[d], gen);
    auto iv = idx.to_vector<int64_t>();
    for (const Tensor& src_t : {s, sp}) {
      std::vector<double> want = x.to_vector<double>();
      const Shape ss = src_t.shape();
      auto sv = src_t.to_vector<double>();
      for_each_index(is, [&](const std::vector<int64_t>& c) {
        std::vector<int64_t> dst = c;
        dst[d] = iv[flat(is, c)];
        want[flat(xs, dst)] += sv[flat(ss, c)];
      });
      auto got = scatter_add(x, d, idx, src_t).to_vector<double>();
      ASSERT_EQ(got.size(), want.size());
      for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-14) << "dim " << d << " at " << i;
    }
  }
}

TEST(ScatterAdd, Gradcheck) {
  Generator gen(5);
  for (int64_t d : {0, 1}) {
    Tensor x = randn({3, 4}, DType::f64, &gen).requires_grad_();
    Tensor src = randn({4, 5}, DType::f64, &gen).requires_grad_();  // larger than index in both dims
    Tensor idx = random_index({3, 3}, x.shape()[d], gen);           // repeated targets
    auto r =
        gradcheck([&](const std::vector<Tensor>& in) { return square(scatter_add(in[0], d, idx, in[1])); }, {x, src});
    EXPECT_TRUE(r.ok) << "dim " << d << ": " << r.message;
  }
  // The part of src outside index's region gets exactly zero gradient.
  Tensor x = zeros({2, 2}, DType::f64).requires_grad_();
  Tensor src = ones({2, 3}, DType::f64).requires_grad_();
  scatter_add(x, 1, from_vector<int64_t>({1, 1}, {1, 2}), src).sum().backward();
  EXPECT_EQ(src.grad().to_vector<double>(), (std::vector<double>{1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1, 1, 1}));
}

TEST(ScatterAdd, ResultsDoNotDependOnThreadCount) {
  // Many repeated targets along dim 0 (one slab, summed in index order) and dim 1 (many slabs in parallel).
  Generator gen(6);
  Tensor src = randn({400, 300}, DType::f32, &gen);
  Tensor i0 = random_index({400, 300}, 7, gen), i1 = random_index({400, 300}, 5, gen);
  auto run = [&] {
    auto a = scatter_add(zeros({7, 300}), 0, i0, src).to_vector<float>();
    auto b = scatter_add(zeros({400, 5}), 1, i1, src).to_vector<float>();
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  const int saved = num_threads();
  set_num_threads(1);
  auto one = run();
  set_num_threads(2);
  auto two = run();
  set_num_threads(saved);
  EXPECT_EQ(one, two);
}

TEST(Indexing, Errors) {
  Tensor x = zeros({3, 5});
  std::string m = error_of([&] { (void)index_select(x, 1, from_vector<int64_t>({0, 5})); });
  expect_contains(m, {"index_select", "index 5", "position [1]", "dimension 1 of size 5", "[3, 5]"});
  EXPECT_THROW(index_select(x, 1, from_vector<int64_t>({-1})), IndexError);
  EXPECT_THROW(index_select(x, 2, from_vector<int64_t>({0})), IndexError);
  EXPECT_THROW(index_select(x, 0, zeros({2}, DType::f32)), DTypeError);
  EXPECT_THROW(index_select(x, 0, zeros({2, 2}, DType::i64)), ShapeError);
  EXPECT_THROW(index_select(full({}, 1.0), 0, zeros({1}, DType::i64)), ShapeError);

  m = error_of([&] { (void)gather(x, 1, from_vector<int64_t>({0, 1, 2, 3, 4, 9}, {2, 3})); });
  expect_contains(m, {"gather", "index 9", "position [1, 2]", "size 5", "index shape [2, 3]"});
  EXPECT_THROW(gather(x, 1, from_vector<int64_t>({0, 1, 2, 3, 4, 9}, {2, 3})), IndexError);
  m = error_of([&] { (void)gather(x, 1, zeros({4, 2}, DType::i64)); });
  expect_contains(m, {"gather", "[3, 5]", "[4, 2]"});
  EXPECT_THROW(gather(x, 1, zeros({4, 2}, DType::i64)), ShapeError);
  EXPECT_THROW(gather(x, 1, zeros({3}, DType::i64)), ShapeError);
  EXPECT_THROW(gather(x, 1, zeros({3, 1}, DType::f64)), DTypeError);

  m = error_of([&] { (void)scatter_add(x, 0, from_vector<int64_t>({0, 3}, {1, 2}), ones({1, 2})); });
  expect_contains(m, {"scatter_add", "index 3", "position [0, 1]", "dimension 0 of size 3"});
  m = error_of([&] { (void)scatter_add(x, 0, zeros({2, 3}, DType::i64), ones({1, 3})); });
  expect_contains(m, {"scatter_add", "src [1, 3]", "index [2, 3]"});
  EXPECT_THROW(scatter_add(x, 0, zeros({2, 3}, DType::i64), ones({1, 3})), ShapeError);
  EXPECT_THROW(scatter_add(x, 0, zeros({1, 3}, DType::i64), ones({1, 3}, DType::f64)), DTypeError);
}
