// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_ (1.13). Both act in place
// on the .grad of each parameter and skip parameters whose grad is undefined.
//
//   loss.backward();
//   double norm = cairn::optim::clip_grad_norm_(model.parameters(), 1.0);  // log it: spikes show here
//   opt.step();
#pragma once
#include <limits>
#include <vector>

#include "cairn/core/tensor/tensor.h"

namespace cairn::optim {

// The norm of all gradients together, as if concatenated into one vector: (sum_i |g_i|^p)^(1/p), or
// max_i |g_i| for norm_type = infinity. When max_norm / (total + 1e-6) < 1 every gradient is scaled by
// that factor, so the clipped total is just under max_norm. Returns the total norm before clipping
// (0 when no parameter has a gradient).
// The sum is accumulated in double over fixed blocks, so the result is deterministic and independent
// of the thread count.
// Requires: max_norm >= 0; norm_type > 0 (or infinity). Throws ValueError otherwise, and, when
// error_if_nonfinite is true and the total norm is NaN or infinite, before changing any gradient.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

// Clamps every gradient element to [-clip_value, clip_value]. Requires clip_value >= 0 (ValueError).
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace cairn::optim
