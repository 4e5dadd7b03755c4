// cairn evaluate / predict / summary / info
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "cairn/cli/commands.h"
#include "cairn/cli/config.h"
#include "cairn/cli/datasets.h"
#include "cairn/cli/model_spec.h"
#include "cairn/cli/reports.h"
#include "cairn/core/kernels/registry.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"
#include "cairn/data/idx.h"
#include "cairn/nn/losses.h"
#include "cairn/nn/sequential.h"
#include "cairn/nn/summary.h"
#include "cairn/optim/factory.h"
#include "cairn/train/model.h"

namespace cairn::cli {
namespace {

bool is_yaml(const std::string& p) {
  auto ext = std::filesystem::path(p).extension().string();
  return ext == ".yaml" || ext == ".yml";
}

std::shared_ptr<nn::Loss> loss_of(const ModelSpec& spec) {
  const nlohmann::json& l = spec.loss;
  if (l.is_string()) return nn::make_loss(l.get<std::string>(), {});
  nn::LossOptions o;
  o.from_logits = l.value("from_logits", false);
  o.label_smoothing = l.value("label_smoothing", 0.0);
  o.delta = l.value("delta", 1.0);
  return nn::make_loss(l.value("name", "sparse_categorical_crossentropy"), o);
}

}  // namespace

int cmd_evaluate(const std::vector<std::string>& args) {
  if (args.empty() || args.size() > 2)
    throw UsageError("usage: cairn evaluate MODEL [CONFIG.yaml]  (the config's data section names the test set; "
                     "without it, the dataset the model was trained on; for a language model, its validation split)");
  if (int rc = lm_evaluate(args); rc >= 0) return rc;
  if (int rc = bert_evaluate(args); rc >= 0) return rc;
  LoadedModel lm = load_model(args[0]);
  Config data_cfg = evaluation_data_section(args, lm.spec.data);
  LoadedData data = load_data(data_cfg, &lm.spec.preprocess);  // the recorded transform, not a refit
  Tensor x = data.x_test.defined() ? data.x_test : data.x_train;
  Tensor y = data.x_test.defined() ? data.y_test : data.y_train;
  train::Model model(lm.net);
  model.compile(optim::make_optimizer("sgd", lm.net->trainable_parameters(), {{"lr", 0.0}}), loss_of(lm.spec), {"accuracy"});
  std::printf("Evaluating %s on %s (%lld samples)\n%s", args[0].c_str(), data.description.c_str(), (long long)x.size(0),
              data.report.c_str());
  std::printf("%s", evaluation_report(model, x, y, lm.spec.class_names.empty() ? data.class_names : lm.spec.class_names).c_str());
  return 0;
}

int cmd_predict(const std::vector<std::string>& args) {
  std::vector<std::string> pos;
  int64_t top = 1, limit = 10;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--top" && i + 1 < args.size()) top = std::stoll(args[++i]);
    else if (args[i] == "--limit" && i + 1 < args.size()) limit = std::stoll(args[++i]);
    else pos.push_back(args[i]);
  }
  if (pos.size() != 2)
    throw UsageError("usage: cairn predict MODEL INPUT [--top K] [--limit N]  (INPUT: an IDX file or PNG/JPEG image, a CSV "
                     "for table models, a text or JSON Lines file for text models and prompts for language models)");
  if (top < 1 || limit < 1) throw UsageError("--top and --limit must be at least 1");
  if (int rc = bert_predict(pos[0], pos[1], top, limit); rc >= 0) return rc;
  if (int rc = lm_predict(pos[0], pos[1], top, limit); rc >= 0) return rc;
  LoadedModel lm = load_model(pos[0]);
  Tensor x = prepare_inputs(pos[1], lm.spec.preprocess);  // the transform recorded at training time
  train::Model model(lm.net);
  Tensor out = model.predict(x);
  // Class probabilities: the loss recorded with the model says whether the outputs are logits. One output
  // column is a binary model: P(class 1), shown as two classes.
  const bool logits = loss_of(lm.spec)->takes_logits();
  Tensor probs;
  if (out.size(1) == 1) {
    Tensor p1 = logits ? sigmoid(out) : out;
    probs = concat({sub(scalar_tensor(1.0f), p1), p1}, 1);
  } else {
    probs = logits ? softmax(out, 1) : out;
  }
  std::printf("%s", top_classes_report(probs, lm.spec.class_names, top, limit).c_str());
  return 0;
}

int cmd_summary(const std::vector<std::string>& args) {
  if (args.size() != 1) throw UsageError("usage: cairn summary MODEL|CONFIG.yaml");
  if (int rc = lm_summary(args[0]); rc >= 0) return rc;
  if (int rc = bert_summary(args[0]); rc >= 0) return rc;
  if (is_yaml(args[0])) {
    Config cfg = Config::load(args[0]);
    ModelSpec spec = spec_from_config(cfg.section("model"));
    if (spec.input_shape.empty())
      cfg.section("model").fail("needs input_shape (e.g. [1, 28, 28]) to summarise without loading the data");
    auto net = build_model(spec);
    std::printf("%s\n", nn::summary(*net, nn::with_batch(spec.input_shape)).c_str());
    return 0;
  }
  LoadedModel lm = load_model(args[0]);
  std::printf("%s\n", nn::summary(*lm.net, nn::with_batch(lm.spec.input_shape)).c_str());
  return 0;
}

int cmd_info(const std::vector<std::string>&) {
  std::printf("Cairn 0.1.0\nthreads: %d\n", num_threads());
  auto ks = kernels::registered_kernels();
  std::printf("registered kernels (op/device/dtype): %zu\n", ks.size());
  for (const auto& k : ks) std::printf("  %s\n", k.c_str());
  return 0;
}

}  // namespace cairn::cli
