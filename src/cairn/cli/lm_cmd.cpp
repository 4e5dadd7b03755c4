// cairn train CONFIG.yaml for language models (data: {dataset: text_lm}, model: {type: gpt}), and cairn generate.
// See docs/language_models.md.
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cairn/cli/commands.h"
#include "cairn/cli/config.h"
#include "cairn/cli/datasets.h"
#include "cairn/cli/lm_model.h"
#include "cairn/cli/reports.h"
#include "cairn/core/autograd/autograd.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/io/safetensors.h"
#include "cairn/nn/summary.h"
#include "cairn/optim/factory.h"
#include "cairn/train/gpt_decoder.h"
#include "cairn/train/lm_generate.h"
#include "cairn/train/lm_trainer.h"

namespace cairn::cli {
namespace {

using json = nlohmann::json;

std::shared_ptr<optim::Optimizer> optimizer_from(const Config& comp, const std::vector<Tensor>& params) {
  if (!comp.has("optimizer")) comp.fail("needs 'optimizer', e.g. optimizer: {name: adamw, lr: 0.001}");
  if (comp.node()["optimizer"].IsScalar()) {
    try {
      return optim::make_optimizer(comp.require<std::string>("optimizer"), params, {});
    } catch (const ValueError& e) {
      comp.fail(e.what(), "optimizer");
    }
  }
  Config c = comp.section("optimizer");
  std::map<std::string, double> opts;
  for (const std::string& k : c.keys()) {
    if (k == "name") continue;
    if (k == "nesterov" || k == "centered" || k == "amsgrad") opts[k] = c.get<bool>(k, false) ? 1.0 : 0.0;
    else opts[k] = c.get<double>(k, 0.0);
  }
  try {
    return optim::make_optimizer(c.require<std::string>("name"), params, opts);
  } catch (const ValueError& e) {
    c.fail(e.what());
  }
}

std::shared_ptr<optim::LRScheduler> schedule_from(const Config& comp, optim::Optimizer& opt, int64_t steps) {
  if (!comp.has("schedule")) return nullptr;
  std::string name;
  std::map<std::string, double> opts;
  Config where = comp;
  if (comp.node()["schedule"].IsScalar()) {
    name = comp.require<std::string>("schedule");
  } else {
    Config s = comp.section("schedule");
    s.check_keys({"name", "warmup_steps", "total_steps", "min_lr", "step_size", "gamma"});
    name = s.require<std::string>("name");
    for (const std::string& k : s.keys())
      if (k != "name") opts[k] = s.get<double>(k, 0.0);
    where = s;
  }
  // The cosine decays over the whole run unless told otherwise (nanoGPT's lr_decay_iters = max_iters).
  const bool derived = name == "cosine" && !opts.count("total_steps");
  if (derived) opts["total_steps"] = static_cast<double>(steps);
  try {
    return optim::make_scheduler(name, opt, opts);
  } catch (const ValueError& e) {
    where.fail(std::string(e.what()) +
               (derived ? " (total_steps defaults to fit.steps; for a short run also lower warmup_steps, e.g. --set "
                          "compile.schedule.warmup_steps=0)"
                        : ""));
  }
}

// Reads a checkpoint's recorded model description and checks it against this run's before anything is loaded.
void check_checkpoint_fits(const std::string& path, const nn::GPTConfig& cfg, const text::Tokenizer& tok) {
  io::SafetensorsReader reader(path);
  auto it = reader.metadata().find("cairn.lm");
  if (it == reader.metadata().end()) return;  // the trainer's own checks name what does not fit
  json j = json::parse(it->second, nullptr, false);
  if (j.is_discarded() || !j.contains("model")) return;
  nn::GPTConfig saved = gpt_config_from_json(j.at("model"), path);
  if (saved.vocab_size != cfg.vocab_size)
    throw ConfigError(detail::cat(path, ": the checkpoint was written for a vocabulary of ", saved.vocab_size,
                                  " tokens, but this run's tokenizer (", tok.type(), ") has ", cfg.vocab_size,
                                  ". A different corpus or tokenizer gives a different vocabulary: train with the "
                                  "checkpoint's data, or start afresh without outputs.resume"));
  json a = gpt_config_json(saved), b = gpt_config_json(cfg);
  for (auto& [k, v] : b.items())
    if (a.value(k, json()) != v)
      throw ConfigError(detail::cat(path, ": the checkpoint was written with model.", k, " = ", a.value(k, json()).dump(),
                                    ", but the config says ", v.dump(), "; use the same model section to resume"));
}

}  // namespace

int cmd_train_lm(const Config& cfg, const std::string& config_path) {
  cfg.check_keys({"name", "seed", "threads", "matmul_precision", "data", "model", "compile", "fit", "outputs"});
  const uint64_t seed = cfg.get<uint64_t>("seed", 1337);
  apply_run_settings(cfg);
  manual_seed(seed);

  Config outputs = cfg.section("outputs");
  outputs.check_keys({"dir", "model", "checkpoint", "checkpoint_every_steps", "resume"});
  const std::string name = cfg.get<std::string>("name", std::filesystem::path(config_path).stem().string());
  const std::string out_dir = outputs.get<std::string>("dir", "runs/" + name);

  // Everything that can be checked without the data is, so a typo fails at once.
  Config model_cfg = cfg.section("model"), data_cfg = cfg.section("data");
  nn::GPTConfig gcfg = gpt_config_from(model_cfg);
  Config comp = cfg.section("compile");
  comp.check_keys({"optimizer", "schedule", "clip_grad_norm", "loss"});
  if (comp.has("loss") && comp.get<std::string>("loss", "") != "cross_entropy")
    comp.fail("a language model trains on the next-token cross_entropy; leave loss out or write loss: cross_entropy", "loss");
  Config fit = cfg.section("fit");
  fit.check_keys({"steps", "batch_size", "eval_every", "eval_batches", "log_every", "verbose", "data_parallel"});
  train::LmTrainOptions o;
  o.steps = fit.get<int64_t>("steps", 1000);
  o.batch_size = fit.get<int64_t>("batch_size", 12);
  o.eval_every = fit.get<int64_t>("eval_every", 500);
  o.eval_batches = fit.get<int64_t>("eval_batches", 200);
  o.log_every = fit.get<int64_t>("log_every", 0);
  o.verbose = fit.get<int>("verbose", 1) > 0;
  o.clip_grad_norm = comp.get<double>("clip_grad_norm", 1.0);
  o.data_parallel = data_parallel_of(fit, 0);
  o.seed = seed;
  if (o.steps < 0) fit.fail("steps must be >= 0", "steps");
  if (o.batch_size < 1) fit.fail("batch_size must be >= 1", "batch_size");
  if (o.eval_every < 0) fit.fail("eval_every must be >= 0 (0: evaluate only at the end)", "eval_every");
  if (o.eval_batches < 1) fit.fail("eval_batches must be >= 1", "eval_batches");
  if (o.clip_grad_norm < 0) comp.fail("clip_grad_norm must be >= 0 (0: off)", "clip_grad_norm");

  const int64_t data_context = data_cfg.get<int64_t>("context", 0);
  if (gcfg.context_length == 0) gcfg.context_length = data_context;
  if (gcfg.context_length <= 0) model_cfg.fail("needs context (the number of positions the model sees), e.g. context: 64");
  if (data_context != 0 && data_context != gcfg.context_length)
    data_cfg.fail(detail::cat("context ", data_context, " differs from model.context ", gcfg.context_length,
                              "; the training windows must be as long as the model's context"),
                  "context");

  LmData data = load_lm_data(data_cfg);
  std::printf("Data: %s\n", data.description.c_str());
  const int64_t tok_vocab = static_cast<int64_t>(data.tokenizer->vocab_size());
  if (gcfg.vocab_size == 0) gcfg.vocab_size = tok_vocab;
  if (gcfg.vocab_size < tok_vocab)
    model_cfg.fail(detail::cat("vocab_size ", gcfg.vocab_size, " is smaller than the tokenizer's vocabulary of ", tok_vocab),
                   "vocab_size");
  if (data.train.max_token() >= gcfg.vocab_size || data.val.max_token() >= gcfg.vocab_size)
    data_cfg.fail(detail::cat("the corpus holds token ids up to ", std::max(data.train.max_token(), data.val.max_token()),
                              ", outside the model's vocabulary of ", gcfg.vocab_size,
                              "; raise model.vocab_size or use the tokenizer the shard was written with"));
  data::LmBatcher train_b(data.train, gcfg.context_length), val_b(data.val, gcfg.context_length);

  auto net = std::make_shared<nn::GPT>(gcfg);
  std::printf("Model: GPT, %lld layers, %lld heads, width %lld, context %lld, vocabulary %lld: %s parameters\n",
              (long long)gcfg.num_layers, (long long)gcfg.num_heads, (long long)gcfg.embed_dim,
              (long long)gcfg.context_length, (long long)gcfg.vocab_size, nn::with_commas(net->count_params()).c_str());
  auto opt = optimizer_from(comp, net->trainable_parameters());
  auto sched = schedule_from(comp, *opt, o.steps);
  const std::string metadata = lm_metadata(gcfg, *data.tokenizer, yaml_to_json(cfg.node()["data"]));

  std::filesystem::create_directories(out_dir);
  o.checkpoint_path = outputs.get<std::string>("checkpoint", out_dir + "/checkpoint.safetensors");
  o.checkpoint_every = outputs.get<int64_t>("checkpoint_every_steps", 0);
  o.checkpoint_metadata = {{"cairn.lm", metadata}};
  if (outputs.get<bool>("resume", false) && std::filesystem::exists(o.checkpoint_path)) {
    check_checkpoint_fits(o.checkpoint_path, gcfg, *data.tokenizer);
    o.resume_from = o.checkpoint_path;
    std::printf("Resuming from %s\n", o.checkpoint_path.c_str());
  }
  if (const char* k = std::getenv("CAIRN_TEST_KILL_AT_STEP")) {
    // Test hook (tests/cli/lm_kill_resume_test.sh): die abruptly, as a killed process does, after that many steps.
    const int64_t at = std::atoll(k);
    o.on_step = [at](int64_t step) {
      if (step >= at) std::raise(SIGKILL);
    };
  }
  std::fflush(stdout);

  const auto t0 = std::chrono::steady_clock::now();
  train::LmTrainer trainer(net, opt, sched);
  train::LmHistory h = trainer.fit(train_b, &val_b, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::string model_path = outputs.get<std::string>("model", out_dir + "/model.safetensors");
  save_lm(model_path, *net, metadata);
  std::printf("Trained %lld steps in %.1fs; final val_loss %.4f\nSaved model to %s\n", (long long)o.steps, secs,
              h.evals.empty() ? 0.0 : h.evals.back().val_loss, model_path.c_str());
  return 0;
}

int lm_summary(const std::string& arg) {
  const std::string ext = std::filesystem::path(arg).extension().string();
  std::shared_ptr<nn::GPT> net;
  if (ext == ".yaml" || ext == ".yml") {
    Config cfg = Config::load(arg);
    if (!is_lm_config(cfg)) return -1;
    Config model_cfg = cfg.section("model"), data_cfg = cfg.section("data");
    nn::GPTConfig g = gpt_config_from(model_cfg);
    if (g.context_length == 0) g.context_length = data_cfg.get<int64_t>("context", 0);
    if (g.context_length <= 0) model_cfg.fail("needs context, e.g. context: 64");
    if (g.vocab_size == 0) {
      // The vocabulary comes from the tokenizer: read the data section to know it.
      LmData data = load_lm_data(data_cfg);
      g.vocab_size = static_cast<int64_t>(data.tokenizer->vocab_size());
    }
    net = std::make_shared<nn::GPT>(g);
  } else {
    {
      io::SafetensorsReader reader(arg);
      if (!reader.metadata().count("cairn.lm")) return -1;
    }
    net = load_lm(arg).net;
  }
  std::printf("%s\n", nn::summary(*net, {-1, net->config().context_length}).c_str());
  return 0;
}

namespace {
// What to say after a tokenizer refuses a prompt: where the model's vocabulary came from.
std::string vocabulary_hint(const LoadedLm& lm) {
  return detail::cat(". The model's tokenizer knows ", lm.tokenizer->vocab_size(),
                     " tokens, from the corpus it was trained on");
}
}  // namespace

int lm_predict(const std::string& path, const std::string& input, int64_t top, int64_t limit) {
  if (!io::SafetensorsReader(path).metadata().count("cairn.lm")) return -1;
  LoadedLm lm = load_lm(path);
  const std::vector<std::string> prompts = texts_to_predict(input);
  const int64_t T = lm.config.context_length, V = lm.config.vocab_size;
  // The next token's probabilities after each prompt's last T tokens (longer prompts slide, as `cairn generate
  // --context-overflow slide` does); one forward pass per prompt, as each has its own length.
  lm.net->eval();
  NoGradGuard no_grad;
  Tensor probs = Tensor::empty({static_cast<int64_t>(prompts.size()), V});
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int32_t> ids;
    try {
      ids = lm.tokenizer->encode(prompts[i]);
    } catch (const text::TokenizerError& e) {
      throw ValueError(detail::cat(input, ": prompt ", i + 1, ": ", e.what(), vocabulary_hint(lm)));
    }
    if (ids.empty()) throw ValueError(detail::cat(input, ": prompt ", i + 1, " encodes to no tokens"));
    const auto L = std::min<int64_t>(static_cast<int64_t>(ids.size()), T);
    std::vector<int64_t> window(ids.end() - L, ids.end());
    const Tensor logits = lm.net->forward(from_vector(window, {1, L}));  // (1, L, V)
    probs.narrow(0, static_cast<int64_t>(i), 1).copy_(softmax(select(logits, 1, L - 1), 1).to(DType::f32));
  }
  // Each token as a JSON string, so that a newline or a space is visible ("\n", " ").
  std::vector<std::string> names;
  for (int32_t v = 0; v < V; ++v)
    names.push_back(nlohmann::json(lm.tokenizer->decode(std::span<const int32_t>(&v, 1)))
                        .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  std::printf("%s", top_classes_report(probs, names, top, limit).c_str());
  return 0;
}

int lm_evaluate(const std::vector<std::string>& args) {
  const std::string& path = args[0];
  if (!io::SafetensorsReader(path).metadata().count("cairn.lm")) return -1;
  LoadedLm lm = load_lm(path);  // checks the entry, the tokenizer and the weights
  Config data_cfg = evaluation_data_section(args, lm.data);
  LmData data = load_lm_data(data_cfg, lm.tokenizer);  // encoded with the model's tokenizer, not a refitted one
  const int64_t T = lm.config.context_length, V = lm.config.vocab_size;
  if (data.val.max_token() >= V)
    data_cfg.fail(detail::cat("the validation tokens go up to id ", data.val.max_token(), ", outside the model's vocabulary of ",
                              V, "; evaluate on a shard written with the model's tokenizer"));
  data::LmBatcher val(data.val, T);  // a DataError naming the split when it is shorter than one window

  // Every prediction of the split once: consecutive windows of T inputs (and their T next tokens), batched.
  lm.net->eval();
  NoGradGuard no_grad;
  const uint64_t windows = (data.val.size() - 1) / static_cast<uint64_t>(T);
  const uint64_t per_batch = 32;
  double loss_sum = 0;
  for (uint64_t w0 = 0; w0 < windows; w0 += per_batch) {
    std::vector<Tensor> xs, ys;
    for (uint64_t w = w0; w < std::min(windows, w0 + per_batch); ++w) {
      data::LmBatch b = val.window(w * static_cast<uint64_t>(T));
      xs.push_back(b.inputs);
      ys.push_back(b.targets);
    }
    Tensor logits = lm.net->forward(concat(xs, 0));
    Tensor loss = cross_entropy(logits.reshape({-1, V}), concat(ys, 0).reshape({-1}));
    loss_sum += loss.item() * static_cast<double>(xs.size());
  }
  const double loss = loss_sum / static_cast<double>(windows);
  std::printf("Evaluating %s on %s\n", path.c_str(), data.description.c_str());
  std::printf("val: %llu windows of %lld tokens (%llu predictions): loss %.4f, perplexity %.3f\n",
              static_cast<unsigned long long>(windows), static_cast<long long>(T),
              static_cast<unsigned long long>(windows * static_cast<uint64_t>(T)), loss, std::exp(loss));
  return 0;
}

int cmd_generate(const std::vector<std::string>& args) {
  const char* usage =
      "usage: cairn generate MODEL [--prompt TEXT] [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] "
      "[--seed S] [--context-overflow slide|error] [--no-cache] [--tokenizer FILE.json]";
  std::string model_path, prompt = "\n", tokenizer_path, overflow = "slide";
  train::GenerateOptions o;
  o.max_new_tokens = 200;
  o.sampling.temperature = 0.8;
  o.sampling.top_k = 0;
  bool use_cache = true;
  auto number = [&](size_t& i, const std::string& flag) -> std::string {
    if (i + 1 >= args.size()) throw UsageError(flag + " needs a value; " + usage);
    return args[++i];
  };
  auto to_double = [&](const std::string& flag, const std::string& v) {
    char* end = nullptr;
    double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end) throw UsageError(flag + " needs a number, got '" + v + "'");
    return d;
  };
  auto to_int = [&](const std::string& flag, const std::string& v) {
    char* end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end) throw UsageError(flag + " needs an integer, got '" + v + "'");
    return static_cast<int64_t>(n);
  };
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--prompt") prompt = number(i, a);
    else if (a == "--max-tokens") o.max_new_tokens = to_int(a, number(i, a));
    else if (a == "--temperature") o.sampling.temperature = to_double(a, number(i, a));
    else if (a == "--top-k") o.sampling.top_k = to_int(a, number(i, a));
    else if (a == "--top-p") o.sampling.top_p = to_double(a, number(i, a));
    else if (a == "--seed") o.seed = static_cast<uint64_t>(to_int(a, number(i, a)));
    else if (a == "--context-overflow") overflow = number(i, a);
    else if (a == "--tokenizer") tokenizer_path = number(i, a);
    else if (a == "--no-cache") use_cache = false;
    else if (model_path.empty() && !a.empty() && a[0] != '-') model_path = a;
    else throw UsageError("unexpected argument '" + a + "'; " + usage);
  }
  if (model_path.empty()) throw UsageError(std::string("missing MODEL; ") + usage);
  if (overflow != "slide" && overflow != "error")
    throw UsageError("--context-overflow must be slide or error, got '" + overflow + "'");
  o.overflow = overflow == "slide" ? train::ContextOverflow::SlidingWindow : train::ContextOverflow::Error;
  if (o.max_new_tokens < 0) throw UsageError("--max-tokens must be >= 0");
  try {
    train::check_sampling_options(o.sampling);
  } catch (const ValueError& e) {
    throw UsageError(std::string("--") + e.what());
  }

  LoadedLm lm = load_lm(model_path);
  if (!tokenizer_path.empty()) {
    lm.tokenizer = text::load_tokenizer(tokenizer_path);
    if (static_cast<int64_t>(lm.tokenizer->vocab_size()) != lm.config.vocab_size)
      throw UsageError(detail::cat("--tokenizer ", tokenizer_path, " has a vocabulary of ", lm.tokenizer->vocab_size(),
                                   " tokens, but ", model_path, " was trained with ", lm.config.vocab_size,
                                   "; use the tokenizer saved with the model (leave --tokenizer out)"));
  }
  std::vector<int32_t> ids;
  try {
    ids = lm.tokenizer->encode(prompt);
  } catch (const text::TokenizerError& e) {
    throw UsageError(detail::cat("--prompt: ", e.what(), vocabulary_hint(lm), "; use only those"));
  }
  if (ids.empty()) throw UsageError("--prompt is empty; give some text (the default is a newline)");
  if (o.overflow == train::ContextOverflow::Error && static_cast<int64_t>(ids.size()) > lm.config.context_length)
    throw UsageError(detail::cat("--prompt is ", ids.size(), " tokens, longer than the model's context of ",
                                 lm.config.context_length, " (use --context-overflow slide to keep its last ",
                                 lm.config.context_length, " tokens)"));

  std::unique_ptr<train::LmDecoder> dec;
  if (use_cache) dec = std::make_unique<train::GptCacheDecoder>(lm.net);
  else dec = std::make_unique<train::RecomputeDecoder>(lm.net, lm.config.context_length, lm.config.vocab_size);
  std::fputs(prompt.c_str(), stdout);
  std::fflush(stdout);
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<int32_t> out;
  try {
    out = train::generate(*dec, ids, o, [&](int32_t id) {
      std::string piece = lm.tokenizer->decode(std::span<const int32_t>(&id, 1));
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    });
  } catch (const ValueError& e) {
    if (o.overflow == train::ContextOverflow::Error) throw UsageError(e.what());
    throw;
  }
  std::fputs("\n", stdout);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "generated %zu tokens in %.2fs (%.1f tokens/s, %s)\n", out.size(), secs,
               secs > 0 ? out.size() / secs : 0.0, use_cache ? "KV cache" : "no cache");
  return 0;
}

}  // namespace cairn::cli
