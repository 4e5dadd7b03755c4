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

// `cairn predict`'s lines: for each of the first `limit` rows of probs (N, classes), its `top` most likely
// classes with their probabilities ("0:  pos (0.9123)  neg (0.0877)"), then how many rows were left out.
std::string top_classes_report(const Tensor& probs, const std::vector<std::string>& class_names, int64_t top,
                               int64_t limit);

}  // namespace cairn::cli
