#include "cairn/train/data_parallel.h"

#include <algorithm>
#include <exception>
#include <vector>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"
#include "cairn/core/tensor/random.h"

namespace cairn::train {

std::vector<int64_t> part_bounds(int64_t rows, int parts) {
  CAIRN_CHECK(rows >= 1 && parts >= 1, ValueError, "part_bounds: rows and parts must be positive, got ", rows,
              " rows and ", parts, " parts");
  const int64_t n = std::min<int64_t>(parts, rows);
  std::vector<int64_t> begin(static_cast<size_t>(n + 1));
  for (int64_t p = 0; p <= n; ++p) begin[static_cast<size_t>(p)] = p * (rows / n) + std::min(p, rows % n);
  return begin;
}

size_t part_of(const std::vector<int64_t>& bounds, int64_t begin) {
  const auto it = std::lower_bound(bounds.begin(), bounds.end(), begin);
  CAIRN_CHECK(it != bounds.end() && *it == begin && it + 1 != bounds.end(), IndexError, "part_of: no part begins at row ",
              begin);
  return static_cast<size_t>(it - bounds.begin());
}

double parallel_backward(int64_t rows, int parts, const std::function<Tensor(int64_t begin, int64_t end)>& loss_of,
                         Generator* seeds) {
  CAIRN_CHECK(rows >= 1 && parts >= 1, ValueError, "parallel_backward: rows and parts must be positive, got ", rows,
              " rows and ", parts, " parts");
  const auto check_loss = [](const Tensor& l) {
    CAIRN_CHECK(l.defined() && l.numel() == 1, ShapeError, "parallel_backward: the loss must be a scalar, got ",
                l.defined() ? shape_str(l.shape()) : std::string("an undefined tensor"));
  };
  if (parts == 1 || rows == 1) {
    Tensor l = loss_of(0, rows);
    check_loss(l);
    l.backward();
    return l.item();
  }
  const std::vector<int64_t> begin = part_bounds(rows, parts);
  const auto n = static_cast<int64_t>(begin.size()) - 1;
  std::vector<Generator> gens;  // each part's stream, seeded in order on this thread
  gens.reserve(n);
  Generator& seed_gen = seeds ? *seeds : default_generator();
  for (int64_t p = 0; p < n; ++p) gens.emplace_back(seed_gen.next_u64());
  std::vector<autograd::GradSink> sinks(n);
  std::vector<double> losses(n);
  std::vector<std::exception_ptr> errors(n);
  const bool grad_mode = autograd::grad_enabled();
  const auto run = [&](int64_t p) {
    try {
      autograd::set_grad_enabled(grad_mode);
      autograd::GradSinkScope sink(sinks[p]);
      ThreadGeneratorScope gen(gens[p]);
      Tensor l = loss_of(begin[p], begin[p + 1]);
      check_loss(l);
      const double w = static_cast<double>(begin[p + 1] - begin[p]) / static_cast<double>(rows);
      losses[p] = l.item() * w;
      autograd::backward({l}, {full(l.shape(), w, l.dtype())});
    } catch (...) {
      errors[p] = std::current_exception();
    }
  };
  const int threads = static_cast<int>(std::min<int64_t>(n, num_threads()));
  if (threads <= 1 || omp_in_parallel()) {
    for (int64_t p = 0; p < n; ++p) run(p);
  } else {
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int64_t p = 0; p < n; ++p) run(p);
  }
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  autograd::merge_gradients(sinks);
  double loss = 0;
  for (double l : losses) loss += l;
  return loss;
}

}  // namespace cairn::train
