// Everything in Cairn's core layer: tensors, autograd, ops, the gradient checker.
#pragma once
#include "cairn/core/autograd/autograd.h"
#include "cairn/core/kernels/precision.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"
#include "cairn/core/ops/rnn.h"
#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/tensor.h"
#include "cairn/core/testing/gradcheck.h"
