#include "cairn/cli/reports.h"

#include <cstdio>

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

}  // namespace cairn::cli
