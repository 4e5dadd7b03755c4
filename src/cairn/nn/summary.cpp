#include "cairn/nn/summary.h"

#include <algorithm>
#include <sstream>

#include "cairn/nn/sequential.h"

namespace cairn::nn {

std::string with_commas(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

ParamCounts count_parameters(const Module& m) {
  ParamCounts c;
  for (const auto& [n, p] : m.named_parameters()) {
    (p.requires_grad() ? c.trainable : c.non_trainable) += p.numel();
  }
  for (const auto& [n, b] : m.named_buffers())
    if (is_floating(b.dtype())) c.non_trainable += b.numel();
  c.total = c.trainable + c.non_trainable;
  return c;
}

namespace {

struct Row {
  std::string layer, shape, params;
};

std::string output_shape_str(const Module& m) {
  if (!m.last_output_shape()) return "?";
  Shape s = *m.last_output_shape();
  if (!s.empty()) s[0] = -1;  // the batch size is not part of the model
  return keras_shape_str(s);
}

std::string render(Module& model) {
  std::vector<std::shared_ptr<Module>> rows_of;
  if (auto* seq = dynamic_cast<Sequential*>(&model)) {
    rows_of = seq->layers();
  } else {
    for (auto& [n, c] : model.named_children()) rows_of.push_back(c);
  }
  std::vector<Row> rows;
  for (const auto& m : rows_of)
    rows.push_back({m->name() + " (" + m->type_name() + ")", output_shape_str(*m), with_commas(count_parameters(*m).total)});
  if (rows_of.empty())
    rows.push_back({model.name() + " (" + model.type_name() + ")", output_shape_str(model),
                    with_commas(count_parameters(model).total)});

  size_t w1 = 28, w2 = 25, w3 = 10;
  for (const auto& r : rows) {
    w1 = std::max(w1, r.layer.size() + 3);
    w2 = std::max(w2, r.shape.size() + 3);
    w3 = std::max(w3, r.params.size() + 1);
  }
  const size_t width = 1 + w1 + w2 + w3;
  // Columns padded to their widths (at least one space apart), trailing spaces dropped.
  auto line = [&](const std::string& a, const std::string& b, const std::string& c) {
    std::string out(1, ' ');
    out.append(a).append(w1 > a.size() ? w1 - a.size() : 1, ' ');
    out.append(b).append(w2 > b.size() ? w2 - b.size() : 1, ' ');
    out.append(c);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out;
  };
  std::ostringstream os;
  os << "Model: \"" << model.name() << "\"\n" << std::string(width, '_') << "\n";
  os << line("Layer (type)", "Output Shape", "Param #") << "\n";
  os << std::string(width, '=') << "\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    os << line(rows[i].layer, rows[i].shape, rows[i].params) << "\n";
    if (i + 1 < rows.size()) os << "\n";
  }
  const ParamCounts c = count_parameters(model);
  os << std::string(width, '=') << "\n";
  os << "Total params: " << with_commas(c.total) << "\n";
  os << "Trainable params: " << with_commas(c.trainable) << "\n";
  os << "Non-trainable params: " << with_commas(c.non_trainable) << "\n";
  os << std::string(width, '_') << "\n";
  return os.str();
}

}  // namespace

std::string summary(Module& model, const Shape& input_shape) {
  model.build(input_shape);
  return render(model);
}

std::string summary(Module& model) {
  if (model.declared_input_shape()) return summary(model, with_batch(*model.declared_input_shape()));
  CAIRN_CHECK(model.last_output_shape() && model.is_built(), ValueError, "summary(", model.where(),
              "): the model has not been built and declares no input shape; call summary(model, input_shape) "
              "with the batch dimension first, e.g. {-1, 1, 28, 28}");
  return render(model);
}

}  // namespace cairn::nn
