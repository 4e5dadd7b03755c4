// Evaluation output shared by `cairn train` and `cairn evaluate`: the loss and metrics table, the per-class
// report (precision, recall, F1, support) and the confusion matrix.
#pragma once
#include <string>
#include <vector>

#include "cairn/core/tensor/tensor.h"
#include "cairn/train/model.h"

namespace cairn::cli {

std::string evaluation_report(train::Model& model, const Tensor& x, const Tensor& y,
                              const std::vector<std::string>& class_names, int64_t batch_size = 256);

}  // namespace cairn::cli
