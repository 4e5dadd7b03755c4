#include "cairn/cli/reports.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "cairn/nn/losses.h"
#include "cairn/train/metrics.h"

namespace cairn::cli {

std::string evaluation_report(train::Model& model, const Tensor& x, const Tensor& y,
                              const std::vector<std::string>& class_names, int64_t batch_size) {
  train::Logs logs = model.evaluate(x, y, batch_size);
  std::string out = "  metric      value\n  ----------  --------\n";
  char buf[96];
  for (const auto& [k, v] : logs) {
    std::snprintf(buf, sizeof buf, "  %-10s  %.4f\n", k.c_str(), v);
    out += buf;
  }
  Tensor logits = model.predict(x, batch_size);
  if (logits.dim() == 2) {
    train::ConfusionMatrix cm;
    cm.add(train::target_classes(y), train::predicted_classes(logits, !model.loss() || model.loss()->takes_logits()));
    out += '\n';  // appended piecewise: GCC 12's -Wrestrict misfires on "\n" + std::string under the sanitizers
    out += cm.report(class_names);
    out += '\n';
    out += cm.to_string(class_names);
  }
  return out;
}

std::string top_classes_report(const Tensor& probs, const std::vector<std::string>& class_names, int64_t top,
                               int64_t limit) {
  const int64_t rows = probs.size(0), c = probs.size(1);
  const int64_t n = std::min(limit, rows), k = std::min(top, c);
  const std::vector<float> p = probs.to_vector<float>();
  std::string out;
  char buf[64];
  std::vector<int64_t> order(static_cast<size_t>(c));
  for (int64_t i = 0; i < n; ++i) {
    const float* row = p.data() + i * c;
    std::iota(order.begin(), order.end(), int64_t{0});
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int64_t u, int64_t v) { return row[u] > row[v]; });
    out += std::to_string(i) + ":";
    for (int64_t j = 0; j < k; ++j) {
      const int64_t cls = order[static_cast<size_t>(j)];
      const std::string name = cls < static_cast<int64_t>(class_names.size()) ? class_names[static_cast<size_t>(cls)] : std::to_string(cls);
      std::snprintf(buf, sizeof buf, " (%.4f)", row[cls]);
      out += "  " + name + buf;
    }
    out += '\n';
  }
  if (rows > n) out += "... " + std::to_string(rows - n) + " more (use --limit N)\n";
  return out;
}

}  // namespace cairn::cli
