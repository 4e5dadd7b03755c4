// Parameter initialisers by Keras name, plus PyTorch's default. All draw from a Generator, so a model built
// after cairn::manual_seed(s) (or with a layer's seed= option) gets the same weights on every run.
//
// Fans follow PyTorch's layout ([out, in, *kernel]): fan_in = in * prod(kernel), fan_out = out * prod(kernel),
// which gives the same numbers Keras computes from its [*kernel, in, out] layout.
//
//   name              distribution
//   glorot_uniform    U(-l, l), l = sqrt(6 / (fan_in + fan_out))          Keras's default for kernels
//   glorot_normal     truncated normal (2 std), std = sqrt(2 / (fan_in + fan_out)) / 0.87962566103423978
//   he_uniform        U(-l, l), l = sqrt(6 / fan_in)
//   he_normal         truncated normal, std = sqrt(2 / fan_in) / 0.87962566103423978
//   lecun_uniform     U(-l, l), l = sqrt(3 / fan_in)
//   lecun_normal      truncated normal, std = sqrt(1 / fan_in) / 0.87962566103423978
//   random_uniform    U(-0.05, 0.05)                                         (alias "uniform", Keras's Embedding)
//   random_normal     N(0, 0.05^2)                                           (alias "normal")
//   truncated_normal  N(0, 0.05^2) truncated at 2 std
//   zeros, ones       constants
//   torch_default     U(-1/sqrt(fan_in), 1/sqrt(fan_in)): PyTorch's kaiming_uniform_(a=sqrt(5)) for Linear/Conv
//                     weights and its bias init (for a bias, pass the weight's fans)
#pragma once
#include <string>
#include <vector>

#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/tensor.h"

namespace cairn::nn {

struct Fans {
  int64_t fan_in = 1;
  int64_t fan_out = 1;
};

// Fans of a weight in PyTorch layout. A 1-D shape [n] gives fan_in = fan_out = n; a scalar gives 1.
Fans compute_fans(const Shape& weight_shape);

// Overwrites t (any floating dtype, any shape) with draws of the named initialiser, outside autograd.
// Throws ValueError listing the valid names for an unknown one.
void initialize(Tensor& t, const std::string& initializer, Fans fans, Generator& gen);

// Throws ValueError naming `where` and listing the valid names unless `name` is an initialiser.
void check_initializer(const std::string& name, const std::string& where);

const std::vector<std::string>& initializer_names();

}  // namespace cairn::nn
