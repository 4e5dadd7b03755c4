// Data parallelism across the cores of one machine, inside a training step: the batch's rows are cut into
// `parts` contiguous blocks and each block's forward, loss and backward run on a thread of its own, at once; their
// gradients are then added into the parameters' .grad. This is what PyTorch's DistributedDataParallel does across
// processes, here across the threads of one process, with no communication during the passes.
//
//   opt.zero_grad();
//   double loss = train::parallel_backward(B, 2, [&](int64_t b, int64_t e) {
//     return cross_entropy(model.forward(x.narrow(0, b, e - b)), y.narrow(0, b, e - b));  // mean over [b, e)
//   });
//   opt.step();
//
// Why: a small model's step is a few hundred short operations. Splitting each of them over the cores costs a
// fork and a join apiece and splits small matrix products unevenly; whole parts on their own cores keep each
// core's activations in its own cache and synchronise once. (The GPT benchmark's step: see BENCHMARKS.md.)
//
// The result is the full batch's: loss_of(b, e) must return the mean loss over rows [b, e), and part p's
// gradient is weighted by its share of the rows, (e - b) / rows, so .grad receives the gradient of the batch's
// mean loss and the return value is that mean loss. Only the rounding differs from one backward over the whole
// batch (sums are taken in another order). For a given `parts` the bits do not depend on the thread count: the
// parts run one after another on one thread, and the gradients are added in part order either way. Random draws
// inside a part (dropout) come from a generator of the part's own, seeded before the parts start from `seeds`
// (default: the default generator; ThreadGeneratorScope, random.h). A loop that passes a generator of its own
// makes its dropout depend on its seed only, not on what else drew from the default generator before it.
//
// The forward passes share the model: modules must not change state in forward (dropout masks and build() are
// safe; a layer that updates running statistics, as batch normalisation does, is not: use parts = 1).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/tensor.h"

namespace cairn::train {

// Runs loss_of on `parts` contiguous blocks of [0, rows) (fewer when rows < parts; the first rows % parts blocks
// take one row more) on up to num_threads() threads, adds the weighted gradients into .grad and returns the
// weighted mean loss. parts = 1 is a plain loss_of(0, rows).backward(). An exception from any part is rethrown
// (the first part's, when several throw) after every part has stopped, with no gradient added.
double parallel_backward(int64_t rows, int parts, const std::function<Tensor(int64_t begin, int64_t end)>& loss_of,
                         Generator* seeds = nullptr);

// The blocks parallel_backward cuts [0, rows) into: min(parts, rows) + 1 bounds, part p being [b[p], b[p + 1]).
// For a loss that is not a mean over rows (a mean over chosen tokens, as MLM's), the caller weights each part
// from these bounds.
std::vector<int64_t> part_bounds(int64_t rows, int parts);
// The part whose block begins at row `begin` (loss_of's first argument), for per-part inputs and outputs.
size_t part_of(const std::vector<int64_t>& bounds, int64_t begin);

}  // namespace cairn::train
