// cairn train CONFIG.yaml [--set key=value ...]
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "cairn/cli/bert_cmd.h"
#include "cairn/cli/commands.h"
#include "cairn/cli/config.h"
#include "cairn/cli/datasets.h"
#include "cairn/cli/lm_model.h"
#include "cairn/cli/model_spec.h"
#include "cairn/cli/reports.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"
#include "cairn/nn/losses.h"
#include "cairn/nn/sequential.h"
#include "cairn/nn/weights_io.h"
#include "cairn/nn/summary.h"
#include "cairn/optim/factory.h"
#include "cairn/optim/schedules.h"
#include "cairn/train/model.h"

namespace cairn::cli {
namespace {

std::shared_ptr<nn::Loss> make_loss_from(const Config& c) {
  c.check_keys({"name", "from_logits", "label_smoothing", "delta"});
  nn::LossOptions o;
  o.from_logits = c.get<bool>("from_logits", false);
  o.label_smoothing = c.get<double>("label_smoothing", 0.0);
  o.delta = c.get<double>("delta", 1.0);
  return nn::make_loss(c.require<std::string>("name"), o);
}

std::shared_ptr<optim::Optimizer> make_optimizer_from(const Config& c, const std::vector<Tensor>& params) {
  c.check_keys({"name", "lr", "learning_rate", "beta_1", "beta_2", "eps", "epsilon", "weight_decay", "momentum",
                "nesterov", "dampening", "alpha", "rho", "centered", "amsgrad", "lr_decay", "initial_accumulator_value"});
  std::map<std::string, double> opts;
  for (const std::string& k : c.keys()) {
    if (k == "name") continue;
    const std::string key = k == "learning_rate" ? "lr" : (k == "epsilon" ? "eps" : (k == "rho" ? "alpha" : k));
    if (k == "nesterov" || k == "centered" || k == "amsgrad") opts[key] = c.get<bool>(k, false) ? 1.0 : 0.0;
    else opts[key] = c.get<double>(k, 0.0);
  }
  return optim::make_optimizer(c.require<std::string>("name"), params, opts);
}

std::vector<std::shared_ptr<train::Callback>> callbacks_from(const Config& fit, const std::string& out_dir) {
  std::vector<std::shared_ptr<train::Callback>> cbs;
  for (const Config& entry : fit.list("callbacks")) {
    auto [name, c] = entry.single_entry();
    if (name == "EarlyStopping") {
      c.check_keys({"monitor", "patience", "min_delta", "mode", "restore_best_weights"});
      cbs.push_back(std::make_shared<train::EarlyStopping>(c.get<std::string>("monitor", "val_loss"), c.get<int64_t>("patience", 0),
                                                           c.get<double>("min_delta", 0.0), c.get<std::string>("mode", "auto"),
                                                           c.get<bool>("restore_best_weights", false)));
    } else if (name == "ModelCheckpoint") {
      c.check_keys({"path", "monitor", "save_best_only", "mode"});
      cbs.push_back(std::make_shared<train::ModelCheckpoint>(c.get<std::string>("path", out_dir + "/best.safetensors"),
                                                             c.get<std::string>("monitor", "val_loss"),
                                                             c.get<bool>("save_best_only", false), c.get<std::string>("mode", "auto")));
    } else if (name == "ReduceLROnPlateau") {
      c.check_keys({"monitor", "factor", "patience", "mode", "min_delta", "cooldown", "min_lr"});
      cbs.push_back(std::make_shared<train::ReduceLROnPlateau>(
          c.get<std::string>("monitor", "val_loss"), c.get<double>("factor", 0.1), c.get<int64_t>("patience", 10),
          c.get<std::string>("mode", "auto"), c.get<double>("min_delta", 1e-4), c.get<int64_t>("cooldown", 0),
          c.get<double>("min_lr", 0.0)));
    } else if (name == "CSVLogger") {
      c.check_keys({"path", "append"});
      cbs.push_back(std::make_shared<train::CSVLogger>(c.get<std::string>("path", out_dir + "/log.csv"), c.get<bool>("append", false)));
    } else if (name == "TerminateOnNaN") {
      c.check_keys({});
      cbs.push_back(std::make_shared<train::TerminateOnNaN>());
    } else if (name == "LearningRateScheduler") {
      // Step decay: lr * factor every `every` epochs (a YAML config cannot hold a function).
      c.check_keys({"factor", "every"});
      double factor = c.get<double>("factor", 0.5);
      int64_t every = c.get<int64_t>("every", 1);
      cbs.push_back(std::make_shared<train::LearningRateScheduler>([factor, every](int64_t epoch, double lr) {
        return epoch > 0 && epoch % every == 0 ? lr * factor : lr;
      }));
    } else {
      entry.fail("unknown callback '" + name +
                 "'; valid callbacks: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, CSVLogger, TerminateOnNaN, "
                 "LearningRateScheduler");
    }
  }
  return cbs;
}

}  // namespace

int cmd_train(const std::vector<std::string>& args) {
  std::string path;
  std::vector<std::string> sets;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--set") {
      if (i + 1 >= args.size()) throw UsageError("--set needs key=value, e.g. --set fit.epochs=2");
      sets.push_back(args[++i]);
    } else if (args[i].rfind("--set=", 0) == 0) {
      sets.push_back(args[i].substr(6));
    } else if (path.empty() && args[i][0] != '-') {
      path = args[i];
    } else {
      throw UsageError("unexpected argument '" + args[i] + "'; usage: cairn train CONFIG.yaml [--set key=value ...]");
    }
  }
  if (path.empty()) throw UsageError("missing CONFIG.yaml; usage: cairn train CONFIG.yaml [--set key=value ...]");

  Config cfg = Config::load(path, sets);
  if (is_lm_config(cfg)) return cmd_train_lm(cfg, path);
  if (is_bert_config(cfg)) return cmd_train_bert(cfg, path);
  cfg.check_keys({"name", "seed", "threads", "matmul_precision", "data", "model", "compile", "fit", "evaluate", "outputs"});
  const uint64_t seed = cfg.get<uint64_t>("seed", 42);
  apply_run_settings(cfg);
  manual_seed(seed);

  Config outputs = cfg.section("outputs");
  outputs.check_keys({"dir", "model", "checkpoint", "checkpoint_every_steps", "resume", "init_weights"});
  const std::string name = cfg.get<std::string>("name", std::filesystem::path(path).stem().string());
  const std::string out_dir = outputs.get<std::string>("dir", "runs/" + name);
  std::filesystem::create_directories(out_dir);

  // The model section is checked before the (slow) data load, so a typo fails at once.
  ModelSpec spec = spec_from_config(cfg.section("model"));
  LoadedData data = load_data(cfg.section("data"));
  std::printf("Data: %s: %lld training samples %s", data.description.c_str(), (long long)data.x_train.size(0),
              shape_str(data.x_train.shape()).c_str());
  if (data.x_val.defined()) std::printf(", %lld validation samples", (long long)data.x_val.size(0));
  if (data.x_test.defined()) std::printf(", %lld test samples", (long long)data.x_test.size(0));
  std::printf("\n%s", data.report.c_str());

  if (data.vocab_size > 0 && !spec.layers.empty() && spec.layers[0].value("type", "") == "Embedding" &&
      spec.layers[0].value("input_dim", int64_t{0}) < data.vocab_size)
    cfg.section("model").fail("the Embedding's input_dim (" + std::to_string(spec.layers[0].value("input_dim", int64_t{0})) +
                              ") is smaller than the data's token ids (" + std::to_string(data.vocab_size) +
                              "); set input_dim: " + std::to_string(data.vocab_size) + " or lower the tokenizer's vocab_size");
  if (spec.input_shape.empty()) spec.input_shape = Shape(data.x_train.shape().begin() + 1, data.x_train.shape().end());
  spec.preprocess = data.preprocess;
  spec.class_names = data.class_names;
  spec.data = yaml_to_json(cfg.node()["data"]);
  auto net = build_model(spec);
  if (outputs.has("init_weights")) {
    nn::load_weights(outputs.get<std::string>("init_weights", ""), *net, true);
    std::printf("Initial weights: %s\n", outputs.get<std::string>("init_weights", "").c_str());
  }
  std::printf("%s\n", nn::summary(*net, nn::with_batch(spec.input_shape)).c_str());

  Config comp = cfg.section("compile");
  comp.check_keys({"optimizer", "loss", "metrics", "schedule"});
  if (!comp.has("optimizer") || !comp.has("loss")) comp.fail("needs 'optimizer' and 'loss'");
  auto optimizer = comp.node()["optimizer"].IsScalar()
                       ? optim::make_optimizer(comp.require<std::string>("optimizer"), net->trainable_parameters(), {})
                       : make_optimizer_from(comp.section("optimizer"), net->trainable_parameters());
  std::shared_ptr<nn::Loss> loss;
  if (comp.node()["loss"].IsScalar()) loss = nn::make_loss(comp.require<std::string>("loss"), {});
  else loss = make_loss_from(comp.section("loss"));
  spec.loss = yaml_to_json(comp.node()["loss"]);
  std::vector<std::string> metrics = comp.get<std::vector<std::string>>("metrics", {});
  train::Model model(net);
  model.compile(optimizer, loss, metrics);

  Config fit = cfg.section("fit");
  fit.check_keys({"epochs", "batch_size", "validation_split", "shuffle", "verbose", "callbacks", "class_weight", "steps",
                  "data_parallel"});
  train::FitOptions fo;
  fo.epochs = fit.get<int64_t>("epochs", 1);
  fo.batch_size = fit.get<int64_t>("batch_size", 32);
  fo.validation_split = fit.get<double>("validation_split", 0.0);
  fo.shuffle = fit.get<bool>("shuffle", true);
  fo.verbose = fit.get<int>("verbose", 1);
  fo.seed = seed;
  fo.max_steps = fit.get<int64_t>("steps", 0);
  fo.data_parallel = data_parallel_of(fit, 1);
  if (comp.has("schedule")) {  // {name: step|exponential|cosine|constant, per: epoch|step, options...}
    Config sc = comp.section("schedule");
    sc.check_keys({"name", "per", "step_size", "gamma", "warmup_steps", "total_steps", "min_lr"});
    const std::string per = sc.get<std::string>("per", "epoch");
    if (per != "epoch" && per != "step") sc.fail("per must be 'epoch' or 'step', got '" + per + "'", "per");
    std::map<std::string, double> options;
    for (const auto& k : sc.keys())
      if (k != "name" && k != "per") options[k] = sc.get<double>(k, 0.0);
    try {
      fo.lr_schedule = optim::make_scheduler(sc.require<std::string>("name"), *model.optimizer(), options);
    } catch (const ValueError& e) {
      sc.fail(e.what());
    }
    fo.schedule_per_step = per == "step";
  }
  fo.callbacks = callbacks_from(fit, out_dir);
  fo.loader_workers = data.workers;
  fo.loader_prefetch = data.prefetch;
  if (data.x_val.defined()) {
    if (fo.validation_split > 0)
      fit.fail("validation_split and data.split.validation both ask for a validation set; keep one", "validation_split");
    fo.validation_x = data.x_val;
    fo.validation_y = data.y_val;
  } else if (fo.validation_split > 0 && fo.validation_split < 1) {
    // Keras: the last fraction of the samples, taken here (before balancing and augmentation), so validation
    // examples are neither repeated nor augmented.
    const int64_t n = data.x_train.size(0), nv = static_cast<int64_t>(std::floor(double(n) * fo.validation_split));
    fo.validation_x = narrow(data.x_train, 0, n - nv, nv);
    fo.validation_y = narrow(data.y_train, 0, n - nv, nv);
    data.x_train = narrow(data.x_train, 0, 0, n - nv);
    data.y_train = narrow(data.y_train, 0, 0, n - nv);
    fo.validation_split = 0;
  }
  if (fit.has("class_weight"))
    for (const auto& k : fit.section("class_weight").keys()) fo.class_weight[std::stoll(k)] = fit.section("class_weight").get<double>(k, 1.0);
  fo.checkpoint_path = outputs.get<std::string>("checkpoint", out_dir + "/checkpoint.safetensors");
  fo.checkpoint_every_steps = outputs.get<int64_t>("checkpoint_every_steps", 0);
  if (outputs.get<bool>("resume", false) && std::filesystem::exists(fo.checkpoint_path)) {
    fo.resume_from = fo.checkpoint_path;
    std::printf("Resuming from %s\n", fo.checkpoint_path.c_str());
  }

  if (const char* k = std::getenv("CAIRN_TEST_KILL_AT_STEP")) {
    // Test hook (tests/cli/kill_resume_test.sh): die abruptly, as a killed process does, after that many steps.
    auto kill_cb = std::make_shared<train::LambdaCallback>();
    const int64_t at = std::atoll(k);
    auto steps_done = std::make_shared<int64_t>(0);
    kill_cb->on_batch_end_fn = [at, steps_done](int64_t, const train::Logs&) {
      if (++*steps_done >= at) std::raise(SIGKILL);
    };
    fo.callbacks.push_back(kill_cb);
  }
  train::History h = model.fit(training_dataset(data), fo);
  (void)h;

  const std::string model_path = outputs.get<std::string>("model", out_dir + "/model.safetensors");
  save_model(model_path, *net, spec);
  std::printf("Saved model to %s\n", model_path.c_str());

  Config ev = cfg.section("evaluate");
  ev.check_keys({"test", "batch_size"});
  if (data.x_test.defined() && ev.get<bool>("test", true)) {
    std::string report = evaluation_report(model, data.x_test, data.y_test, data.class_names, ev.get<int64_t>("batch_size", 256));
    std::printf("\nTest set (%lld samples):\n%s", (long long)data.x_test.size(0), report.c_str());
    std::ofstream(out_dir + "/report.txt") << report;
  }
  return 0;
}

}  // namespace cairn::cli
