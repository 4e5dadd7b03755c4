// cairn train for BERT-style encoders (model.type: bert_mlm | bert_classifier); cmd_train hands such configs here.
//
//   model.type: bert_mlm         masked-language-model pretraining on the TRAINING split's texts (labels unused);
//                                writes <dir>/encoder.safetensors (weights + config) and <dir>/tokenizer.json
//   model.type: bert_classifier  fine-tuning with a classification head; model.pretrained names an encoder file
//                                (its config and tokenizer.json beside it are used; init: scratch keeps them but
//                                starts from random weights); reports validation/test accuracy, writes
//                                <dir>/classifier.safetensors (with its classes, pooling, tokenizer and data section,
//                                so `cairn evaluate` and `cairn predict` need nothing else) and <dir>/tokenizer.json.
//                                fit.restore_best_weights keeps the best validation epoch; fit.ensemble: N trains N
//                                seeds per encoder (model.pretrained may list several) and writes them as one
//                                soft-voting classifier file (nn::EnsembleClassifier), or with fit.distill trains
//                                one classifier on their soft targets and writes that; compile.optimizer.ema_momentum
//                                validates and keeps a moving average of the weights (Keras's use_ema)
// See examples/mr_bert_pretrain.yaml and examples/mr_bert_finetune.yaml for every key.
#include <cstdio>
#include <filesystem>
#include <optional>

#include "cairn/cli/bert_cmd.h"
#include "cairn/cli/commands.h"
#include "cairn/cli/config.h"
#include "cairn/cli/datasets.h"
#include "cairn/cli/lm_model.h"
#include "cairn/cli/reports.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"
#include "cairn/data/dataset.h"
#include "cairn/data/mlm.h"
#include "cairn/data/text.h"
#include "cairn/io/safetensors.h"
#include "cairn/nn/bert.h"
#include "cairn/nn/ensemble.h"
#include "cairn/nn/losses.h"
#include "cairn/nn/summary.h"
#include "cairn/optim/factory.h"
#include "cairn/text/vocab_prune.h"
#include "cairn/text/wordpiece_tokenizer.h"
#include "cairn/train/bert_train.h"
#include "cairn/train/model.h"

namespace cairn::cli {
namespace fs = std::filesystem;
namespace {

// The metadata entry of a fine-tuned classifier file (JSON: class_names, pooling, max_length, tokenizer, data).
constexpr const char* kClassifierEntry = "cairn.bert_classifier";

struct Texts {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;
};
struct BertData {
  Texts train, val, test;
  std::vector<std::string> class_names;
};

// data: {dataset: text, files: {label: path, ...} | path: labelled lines, encoding, split, tokenizer, max_length}
BertData read_data(const Config& d) {
  d.check_keys({"dataset", "files", "path", "separator", "encoding", "split", "tokenizer", "max_length"});
  if (d.get<std::string>("dataset", "text") != "text")
    d.fail("BERT models read labelled sentences: dataset must be 'text'", "dataset");
  data::TextDataset ds;
  if (d.has("files")) {
    Config f = d.section("files");
    std::vector<std::pair<std::string, fs::path>> list;
    for (const std::string& label : f.keys()) list.emplace_back(label, f.require<std::string>(label));
    ds = data::load_text_per_label(list);
  } else {
    data::LabeledLinesOptions o;
    o.separator = d.get<std::string>("separator", "\t").at(0);
    ds = data::load_labeled_lines(d.require<std::string>("path"), o);
  }
  const std::string enc = d.get<std::string>("encoding", "auto");
  if (enc != "auto" && enc != "utf-8" && enc != "latin-1") d.fail("encoding must be auto, utf-8 or latin-1", "encoding");
  if (enc != "utf-8") data::convert_latin1_to_utf8(ds);

  Config s = d.section("split");
  s.check_keys({"validation", "test", "seed", "stratify"});
  const double v = s.get<double>("validation", 0.0), t = s.get<double>("test", 0.1);
  if (v < 0 || t < 0 || v + t >= 1) s.fail("validation and test must be >= 0 with validation + test < 1");
  const auto seed = s.get<uint64_t>("seed", 2005);
  const bool stratify = s.get<bool>("stratify", true);
  const auto n = static_cast<int64_t>(ds.size());
  // The test split is drawn first, the same whatever `validation` is (and the same as bench/mr_bert.cpp's);
  // validation (a fraction of all examples) is then drawn from the rest with seed + 1, as bench/mr_bert --val.
  std::vector<std::vector<int64_t>> parts = data::split_indices(n, {1 - t, t}, seed, stratify ? &ds.labels : nullptr);
  parts.insert(parts.begin() + 1, std::vector<int64_t>{});
  if (v > 0) {
    const std::vector<int64_t> rest = parts[0];
    std::vector<int64_t> rest_labels;
    for (int64_t i : rest) rest_labels.push_back(ds.labels[static_cast<size_t>(i)]);
    const double f = v / (1 - t);
    auto inner = data::split_indices(static_cast<int64_t>(rest.size()), {1 - f, f}, seed + 1,
                                     stratify ? &rest_labels : nullptr);
    for (int p = 0; p < 2; ++p) {
      parts[static_cast<size_t>(p)].clear();
      for (int64_t j : inner[static_cast<size_t>(p)]) parts[static_cast<size_t>(p)].push_back(rest[static_cast<size_t>(j)]);
    }
  }
  BertData out;
  out.class_names = ds.class_names;
  Texts* dst[3] = {&out.train, &out.val, &out.test};
  for (int p = 0; p < 3; ++p)
    for (int64_t i : parts[static_cast<size_t>(p)]) {
      dst[p]->texts.push_back(ds.texts[static_cast<size_t>(i)]);
      dst[p]->labels.push_back(ds.labels[static_cast<size_t>(i)]);
    }
  std::printf("Data: %zu examples, %zu classes: %zu train, %zu validation, %zu test (seed %llu)\n", ds.size(),
              ds.class_names.size(), out.train.texts.size(), out.val.texts.size(), out.test.texts.size(),
              static_cast<unsigned long long>(seed));
  return out;
}

// tokenizer: {type: wordpiece, vocab: vocab.txt, min_count: N (prune to the training texts; 0 = keep all),
//             lowercase} or {type: saved, path: tokenizer.json}
std::unique_ptr<text::Tokenizer> make_tokenizer(const Config& d, const std::vector<std::string>& train_texts,
                                                const std::string& fallback_saved) {
  if (!d.has("tokenizer")) {
    if (fallback_saved.empty())
      d.fail("needs tokenizer: {type: wordpiece, vocab: vocab.txt} (or model.pretrained, whose tokenizer.json is used)");
    return text::load_tokenizer(fallback_saved);
  }
  Config t = d.section("tokenizer");
  t.check_keys({"type", "vocab", "min_count", "lowercase", "path"});
  const std::string type = t.require<std::string>("type");
  if (type == "saved") return text::load_tokenizer(t.require<std::string>("path"));
  if (type != "wordpiece") t.fail("BERT models take a wordpiece or saved tokenizer, got '" + type + "'", "type");
  text::WordPieceOptions o;
  o.lower_case = t.get<bool>("lowercase", true);
  auto full = text::WordPieceTokenizer::from_vocab_file(t.require<std::string>("vocab"), o);
  const auto min_count = t.get<int64_t>("min_count", 0);
  if (min_count < 0) t.fail("min_count must be >= 0 (0 keeps the whole vocabulary)", "min_count");
  if (min_count == 0) return std::make_unique<text::WordPieceTokenizer>(std::move(full));
  auto pruned = text::prune_wordpiece_vocab(full, train_texts, static_cast<size_t>(min_count));
  std::printf("Tokenizer: WordPiece pruned to %zu of %zu pieces (min_count %lld on the training split)\n",
              pruned.vocab_size(), full.vocab_size(), static_cast<long long>(min_count));
  return std::make_unique<text::WordPieceTokenizer>(std::move(pruned));
}

nn::BertConfig bert_config_from(const Config& m, const text::Tokenizer& tok, int64_t max_length, uint64_t seed) {
  nn::BertConfig c;
  c.vocab_size = static_cast<int64_t>(tok.vocab_size());
  c.max_position = max_length;
  c.num_layers = m.get<int64_t>("layers", 2);
  c.num_heads = m.get<int64_t>("heads", 4);
  c.hidden = m.get<int64_t>("width", 128);
  c.mlp_dim = m.get<int64_t>("mlp_width", -1);
  c.dropout = m.get<double>("dropout", 0.1);
  c.attention_dropout = m.get<double>("attention_dropout", 0.1);
  const auto pad = tok.special_token_ids().pad;
  if (!pad) m.fail("the tokenizer has no [PAD] token; BERT models need a BERT-style WordPiece vocabulary");
  c.pad_id = *pad;
  c.vocab_id = text::vocab_fingerprint(tok);
  c.seed = seed;
  try {
    nn::validate(c);
  } catch (const ValueError& e) {
    m.fail(e.what());
  }
  return c;
}

train::BertTrainOptions train_options(const Config& comp, const Config& fit, uint64_t seed) {
  fit.check_keys({"epochs", "batch_size", "max_steps", "verbose", "restore_best_weights", "ensemble", "distill",
                  "data_parallel"});
  Config opt = comp.section("optimizer");
  opt.check_keys({"name", "lr", "head_lr", "weight_decay", "layer_decay", "ema_momentum"});
  if (opt.get<std::string>("name", "adamw") != "adamw") opt.fail("BERT training uses adamw", "name");
  train::BertTrainOptions o;
  o.epochs = fit.get<int64_t>("epochs", 4);
  o.batch_size = fit.get<int64_t>("batch_size", 32);
  o.max_steps = fit.get<int64_t>("max_steps", 0);
  o.verbose = fit.get<int>("verbose", 1);
  o.data_parallel = data_parallel_of(fit, 0);
  o.lr = opt.get<double>("lr", 1e-4);
  o.head_lr = opt.get<double>("head_lr", -1.0);
  o.weight_decay = opt.get<double>("weight_decay", 0.01);
  o.layer_decay = opt.get<double>("layer_decay", 1.0);
  o.ema_decay = opt.get<double>("ema_momentum", 0.0);
  o.warmup_fraction = comp.get<double>("warmup", 0.1);
  o.clip_norm = comp.get<double>("clip_grad_norm", 1.0);
  o.seed = seed;
  if (!(o.layer_decay > 0 && o.layer_decay <= 1)) opt.fail("layer_decay must be in (0, 1]", "layer_decay");
  if (!(o.ema_decay >= 0 && o.ema_decay < 1))
    opt.fail("ema_momentum must be in [0, 1) (0 = off; 0.99 averages about the last 100 steps)", "ema_momentum");
  if (o.epochs < 1) fit.fail("epochs must be >= 1", "epochs");
  if (o.batch_size < 1) fit.fail("batch_size must be >= 1", "batch_size");
  if (!(o.lr > 0)) opt.fail("lr must be positive", "lr");
  if (o.warmup_fraction < 0 || o.warmup_fraction >= 1) comp.fail("warmup (a fraction of all steps) must be in [0, 1)", "warmup");
  return o;
}

struct LoadedClassifier {
  std::vector<std::shared_ptr<nn::BertClassifier>> members;  // one, or an ensemble's
  std::shared_ptr<nn::Module> net;                            // the one member, or their EnsembleClassifier
  std::unique_ptr<text::Tokenizer> tokenizer;
  std::vector<std::string> class_names;
  int64_t max_length = 0;
  nlohmann::json data;  // the data section it was fine-tuned with
};

// A classifier written by a bert_classifier run, in eval mode; nullopt when `path` has no classifier entry.
// Throws ValueError naming the file when the entry, the tokenizer or the weights do not fit together.
std::optional<LoadedClassifier> load_classifier(const std::string& path) {
  nn::Metadata meta;
  {
    io::SafetensorsReader reader(path);
    meta = reader.metadata();
    if (!meta.count(kClassifierEntry)) {
      if (!meta.count("bert.vocab_id")) return std::nullopt;  // not a BERT file: the caller's other formats
      if (!reader.has("head.weight"))
        throw ValueError(path + " is a pretrained BERT encoder, not a classifier: fine-tune it (model.type: "
                         "bert_classifier, model.pretrained: " + path + ") and use the classifier.safetensors "
                         "that run writes");
      throw ValueError(path + " is a BERT classifier without the \"" + kClassifierEntry + "\" metadata entry (its "
                       "classes, pooling and tokenizer), written by bench/mr_bert or an older Cairn; fine-tune "
                       "it with cairn train (model.type: bert_classifier) to get a file evaluate and predict read");
    }
  }
  const nlohmann::json e = nlohmann::json::parse(meta.at(kClassifierEntry), nullptr, false);
  auto bad = [&](const std::string& what) {
    return ValueError(path + ": the \"" + kClassifierEntry + "\" metadata " + what +
                      "; write the file again with cairn train (model.type: bert_classifier)");
  };
  if (!e.is_object() || !e.contains("class_names") || !e["class_names"].is_array() || e["class_names"].empty() ||
      !e.contains("tokenizer") || !e["tokenizer"].is_string() || !e.value("max_length", nlohmann::json()).is_number_integer() ||
      !e.value("pooling", nlohmann::json("mean")).is_string())
    throw bad("is not JSON with class_names, max_length, pooling and tokenizer");
  LoadedClassifier out;
  for (const auto& c : e["class_names"]) {
    if (!c.is_string()) throw bad("has a class name that is not a string");
    out.class_names.push_back(c.get<std::string>());
  }
  out.max_length = e["max_length"].get<int64_t>();
  out.data = e.value("data", nlohmann::json::object());
  out.tokenizer = tokenizer_from_json(e["tokenizer"].get<std::string>(), path);
  nn::BertConfig bc = nn::bert_config_from_metadata(meta, path);
  if (out.max_length != bc.max_position)
    throw bad(detail::cat("has max_length ", out.max_length, " but the encoder ", bc.max_position, " positions"));
  if (text::vocab_fingerprint(*out.tokenizer) != bc.vocab_id || static_cast<int64_t>(out.tokenizer->vocab_size()) != bc.vocab_size)
    throw bad("holds a tokenizer of another vocabulary than the encoder's (" + bc.vocab_id + ")");
  const nlohmann::json members = e.value("members", nlohmann::json(1));
  if (!members.is_number_integer() || members.get<int64_t>() < 1 || members.get<int64_t>() > 1024)
    throw bad("has members that is not a count from 1 to 1024");
  for (int64_t i = 0; i < members.get<int64_t>(); ++i)
    out.members.push_back(std::make_shared<nn::BertClassifier>(
        bc, static_cast<int64_t>(out.class_names.size()), nn::BertClassifierOptions{.pooling = e.value("pooling", "mean")}));
  if (out.members.size() == 1)
    out.net = out.members[0];
  else
    out.net = std::make_shared<nn::EnsembleClassifier>(std::vector<std::shared_ptr<nn::Module>>(out.members.begin(), out.members.end()));
  nn::PretrainedLoad r = nn::load_pretrained_bert(path, *out.net, bc);
  if (!r.missing.empty()) throw bad("describes a model whose tensors are not all in the file (" + r.report() + ")");
  out.net->eval();
  return out;
}

// Class probabilities of a classifier or an ensemble (the mean of its members'), batches cut to their longest row.
Tensor class_probabilities(nn::Module& net, int64_t pad_id, const Tensor& ids) {
  return softmax(train::classifier_logits(net, ids, pad_id), 1);
}

Tensor encode(const text::Tokenizer& tok, const std::vector<std::string>& texts, int64_t max_length) {
  return data::encode_for_encoder(tok, texts, max_length).input_ids;
}

}  // namespace

int bert_evaluate(const std::vector<std::string>& args) {
  std::optional<LoadedClassifier> c = load_classifier(args[0]);
  if (!c) return -1;
  Config data_cfg = evaluation_data_section(args, c->data);
  BertData d = read_data(data_cfg);  // the same seeded split as at fine-tuning time
  if (d.test.texts.empty()) data_cfg.section("split").fail("has no test split to evaluate on (set test: 0.1)", "test");
  if (d.class_names != c->class_names) {
    std::string names;
    for (const std::string& n : c->class_names) names += (names.empty() ? "" : ", ") + n;
    data_cfg.fail("names other classes than the model was fine-tuned on (" + names + ")");
  }
  Tensor x = encode(*c->tokenizer, d.test.texts, c->max_length), y = from_vector(d.test.labels);
  train::Model model(c->net);
  model.compile(optim::make_optimizer("sgd", c->net->trainable_parameters(), {{"lr", 0.0}}),
                nn::make_loss("sparse_categorical_crossentropy", {.from_logits = true}), {"accuracy"});
  std::printf("Evaluating %s%s on the test split (%zu sentences)\n%s", args[0].c_str(),
              c->members.size() > 1 ? detail::cat(" (an ensemble of ", c->members.size(), " classifiers)").c_str() : "",
              d.test.texts.size(), evaluation_report(model, x, y, c->class_names).c_str());
  return 0;
}

int bert_summary(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".yaml" || ext == ".yml") return -1;
  bool encoder_only = false;
  {
    io::SafetensorsReader reader(path);
    if (!reader.metadata().count("bert.vocab_id")) return -1;
    encoder_only = !reader.metadata().count(kClassifierEntry) && !reader.has("head.weight");
  }
  if (encoder_only) {  // a pretraining run's encoder with its MLM head; the architecture is all summary needs
    nn::BertForMaskedLM mlm(nn::bert_config_from_file(path));
    std::printf("%s\n", nn::summary(mlm, {-1, mlm.config().max_position}).c_str());
  } else {
    std::optional<LoadedClassifier> c = load_classifier(path);
    if (c->members.size() > 1)
      std::printf("An ensemble of %zu classifiers like this one (their class probabilities averaged):\n",
                  c->members.size());
    std::printf("%s\n", nn::summary(*c->members[0], {-1, c->max_length}).c_str());
  }
  return 0;
}

int bert_predict(const std::string& path, const std::string& input, int64_t top, int64_t limit) {
  std::optional<LoadedClassifier> c = load_classifier(path);
  if (!c) return -1;
  const Tensor probs = class_probabilities(*c->net, c->members[0]->config().pad_id,
                                          encode(*c->tokenizer, texts_to_predict(input), c->max_length));
  std::printf("%s", top_classes_report(probs, c->class_names, top, limit).c_str());
  return 0;
}

bool is_bert_config(const Config& cfg) {
  Config model = cfg.section("model");
  return model.has("type") && model.get<std::string>("type", "").rfind("bert_", 0) == 0;
}

int cmd_train_bert(const Config& cfg, const std::string& config_path) {
  cfg.check_keys({"name", "seed", "threads", "matmul_precision", "data", "model", "compile", "fit", "outputs"});
  const auto seed = cfg.get<uint64_t>("seed", 1);
  apply_run_settings(cfg);
  manual_seed(seed);
  Config model = cfg.section("model"), data_cfg = cfg.section("data"), comp = cfg.section("compile"),
         fit = cfg.section("fit"), outputs = cfg.section("outputs");
  outputs.check_keys({"dir"});
  const std::string name = cfg.get<std::string>("name", fs::path(config_path).stem().string());
  const fs::path dir = outputs.get<std::string>("dir", "runs/" + name);
  const std::string type = model.require<std::string>("type");
  const auto max_length = data_cfg.get<int64_t>("max_length", 64);
  if (max_length < 3) data_cfg.fail("max_length must be >= 3 ([CLS], a token, [SEP])", "max_length");

  if (type == "bert_mlm") {
    for (const char* k : {"ensemble", "restore_best_weights", "distill"})
      if (fit.has(k)) fit.fail(std::string(k) + " is for fine-tuning (model.type: bert_classifier)", k);
    if (comp.section("optimizer").has("ema_momentum"))
      comp.section("optimizer").fail("ema_momentum is for fine-tuning (model.type: bert_classifier)", "ema_momentum");
    model.check_keys({"type", "layers", "heads", "width", "mlp_width", "dropout", "attention_dropout"});
    comp.check_keys({"optimizer", "warmup", "clip_grad_norm", "mlm"});
    Config mlm_cfg = comp.section("mlm");
    mlm_cfg.check_keys({"probability", "mask", "random"});
    train::BertTrainOptions o = train_options(comp, fit, seed);
    BertData d = read_data(data_cfg);
    auto tok = make_tokenizer(data_cfg, d.train.texts, "");
    const nn::BertConfig bc = bert_config_from(model, *tok, max_length, seed);
    data::MlmOptions mo;
    mo.mask_probability = mlm_cfg.get<double>("probability", 0.15);
    mo.replace_with_mask = mlm_cfg.get<double>("mask", 0.8);
    mo.replace_with_random = mlm_cfg.get<double>("random", 0.1);
    data::MlmMasker masker(*tok, mo, seed);
    // Pretraining sees the training texts only (never validation or test).
    data::EncodedTexts enc = data::encode_for_encoder(*tok, d.train.texts, max_length);
    Tensor val = d.val.texts.empty() ? Tensor() : data::encode_for_encoder(*tok, d.val.texts, max_length).input_ids;
    nn::BertForMaskedLM mlm(bc);
    std::printf("Model: BertForMaskedLM, %d layers, width %lld, %lld parameters; %lld rows (%lld truncated to %lld)\n",
                static_cast<int>(bc.num_layers), static_cast<long long>(bc.hidden),
                static_cast<long long>(mlm.count_params()), static_cast<long long>(enc.input_ids.size(0)),
                static_cast<long long>(enc.truncated), static_cast<long long>(max_length));
    train::BertTrainReport r = train::pretrain_mlm(mlm, enc.input_ids, masker, o, val);
    fs::create_directories(dir);
    tok->save((dir / "tokenizer.json").string());
    nn::save_pretrained_bert((dir / "encoder.safetensors").string(), mlm);
    std::printf("Pretrained %lld steps in %.1f s; wrote %s and %s\n", static_cast<long long>(r.steps), r.seconds,
                (dir / "encoder.safetensors").c_str(), (dir / "tokenizer.json").c_str());
    return 0;
  }
  if (type != "bert_classifier") model.fail("unknown BERT model type '" + type + "'; valid: bert_mlm, bert_classifier", "type");

  model.check_keys({"type", "pretrained", "init", "layers", "heads", "width", "mlp_width", "dropout",
                    "attention_dropout", "pooling", "head_dropout", "freeze_epochs", "trainable_top_blocks"});
  comp.check_keys({"optimizer", "warmup", "clip_grad_norm"});
  train::BertTrainOptions o = train_options(comp, fit, seed);
  o.restore_best_weights = fit.get<bool>("restore_best_weights", false);
  o.freeze_epochs = model.get<int64_t>("freeze_epochs", 0);
  o.trainable_top_blocks = model.get<int64_t>("trainable_top_blocks", 0);
  const auto seeds = fit.get<int64_t>("ensemble", 1);
  if (seeds < 1) fit.fail("ensemble (classifiers per encoder, seeds seed, seed + 1, ...) must be >= 1", "ensemble");
  // distill: {alpha, temperature}: after the ensemble, one classifier trained on its soft targets is the result.
  const bool distill = fit.has("distill");
  if (distill) {
    Config dc = fit.section("distill");
    dc.check_keys({"alpha", "temperature"});
    o.distill_alpha = dc.get<double>("alpha", 0.5);
    o.distill_temperature = dc.get<double>("temperature", 2.0);
    if (!(o.distill_alpha >= 0 && o.distill_alpha <= 1)) dc.fail("alpha must be in [0, 1]", "alpha");
    if (!(o.distill_temperature > 0)) dc.fail("temperature must be positive", "temperature");
  }
  // pretrained: one encoder file, or a list of them (an ensemble over encoders pretrained with one tokenizer).
  std::vector<std::string> encoders;
  if (model.node()["pretrained"].IsSequence()) {
    for (const Config& e : model.list("pretrained")) encoders.push_back(e.value<std::string>());
    if (encoders.empty()) model.fail("pretrained is an empty list; name one or more encoder files", "pretrained");
  } else if (model.has("pretrained")) {
    encoders.push_back(model.get<std::string>("pretrained", ""));
  }
  const std::string init = model.get<std::string>("init", "pretrained");
  if (init != "pretrained" && init != "scratch") model.fail("init must be 'pretrained' or 'scratch'", "init");
  if (encoders.empty() && init == "pretrained")
    model.fail("needs pretrained: path/to/encoder.safetensors (written by a bert_mlm run), or init: scratch");
  if (encoders.size() > 1 && init == "scratch")
    model.fail("init: scratch starts every classifier from random weights: give one pretrained file (for the "
               "tokenizer and config) and ensemble: N for N seeds", "pretrained");
  const std::string saved_tok = encoders.empty() ? "" : (fs::path(encoders[0]).parent_path() / "tokenizer.json").string();
  BertData d = read_data(data_cfg);
  auto tok = make_tokenizer(data_cfg, d.train.texts, saved_tok);
  if (o.restore_best_weights && d.val.texts.empty())
    fit.fail("restore_best_weights needs a validation split (data.split.validation > 0)", "restore_best_weights");
  const std::string pooling = model.get<std::string>("pooling", "mean");
  auto ids = [&](const Texts& t) { return data::encode_for_encoder(*tok, t.texts, max_length).input_ids; };
  const bool has_val = !d.val.texts.empty(), has_test = !d.test.texts.empty();
  const Tensor xv = has_val ? ids(d.val) : Tensor(), yv = has_val ? from_vector(d.val.labels) : Tensor();
  const Tensor xt = has_test ? ids(d.test) : Tensor(), yt = has_test ? from_vector(d.test.labels) : Tensor();
  const Tensor x = ids(d.train), y = from_vector(d.train.labels);

  // Each encoder's config, checked against the data before any training (a bad second encoder is reported
  // before the first one's classifiers have run); from scratch, the data's.
  std::vector<nn::BertConfig> configs;
  for (const std::string& pretrained : encoders) {
    const nn::BertConfig dc = bert_config_from(model, *tok, max_length, seed);
    nn::BertConfig fc = nn::bert_config_from_file(pretrained);
    fc.dropout = dc.dropout;
    fc.attention_dropout = dc.attention_dropout;
    if (fc.vocab_id != dc.vocab_id)
      model.fail("the encoder " + pretrained + " was pretrained with another vocabulary (" + fc.vocab_id + ") than "
                 "the data's tokenizer (" + dc.vocab_id + "); leave data.tokenizer out to use " + saved_tok +
                 (encoders.size() > 1 ? " (every encoder of a list must share it)" : ""), "pretrained");
    if (fc.max_position != max_length)
      data_cfg.fail(detail::cat("max_length ", max_length, " differs from the encoder's max_position ", fc.max_position),
                    "max_length");
    configs.push_back(fc);
  }
  if (configs.empty()) configs.push_back(bert_config_from(model, *tok, max_length, seed));
  const size_t runs = configs.size() * static_cast<size_t>(seeds);
  if (distill && runs < 2)
    fit.fail("distill trains one classifier on an ensemble's soft targets: set ensemble >= 2 or list several "
             "pretrained encoders", "distill");

  // Fine-tunes one classifier from encoder `enc` (taught by teacher_logits when defined), prints its figures.
  auto fine_tune = [&](size_t enc, uint64_t member_seed, const Tensor& teacher_logits) {
    const std::string pretrained = encoders.empty() ? "" : encoders[enc];
    manual_seed(member_seed);
    nn::BertConfig bc = configs[enc];
    bc.seed = member_seed;
    auto clf = std::make_shared<nn::BertClassifier>(bc, static_cast<int64_t>(d.class_names.size()),
                                                    nn::BertClassifierOptions{.pooling = pooling,
                                                                              .dropout = model.get<double>("head_dropout", 0.1)});
    if (init == "pretrained") {
      nn::PretrainedLoad r = nn::load_pretrained_bert(pretrained, *clf);
      std::printf("Pretrained encoder %s: %s\n", pretrained.c_str(), r.report().c_str());
    } else {
      std::printf("Encoder: random initialisation (init: scratch)\n");
    }
    train::BertTrainOptions mo = o;
    mo.seed = member_seed;
    train::BertTrainReport r = train::finetune_classifier(*clf, x, y, mo, xv, yv, teacher_logits);
    std::printf("Fine-tuned %lld steps in %.1f s\n", static_cast<long long>(r.steps), r.seconds);
    if (r.best_epoch >= 0)
      std::printf("Restored the weights of epoch %lld (best val_accuracy %.4f)\n",
                  static_cast<long long>(r.best_epoch + 1), r.epochs[static_cast<size_t>(r.best_epoch)].val_accuracy);
    if (has_test) {
      train::ClassifierScores sc = train::evaluate_classifier(*clf, xt, yt);
      std::printf("Test: loss %.4f, accuracy %.4f (%zu examples)\n", sc.loss, sc.accuracy, d.test.texts.size());
    }
    return clf;
  };

  // One classifier per (encoder, seed): seed, seed + 1, ... for each encoder.
  std::vector<std::shared_ptr<nn::BertClassifier>> members;
  for (size_t run = 0; run < runs; ++run) {
    const size_t enc = run / static_cast<size_t>(seeds);
    const uint64_t member_seed = seed + run % static_cast<size_t>(seeds);
    if (runs > 1)
      std::printf("\n== classifier %zu of %zu (seed %llu, %s)\n", run + 1, runs,
                  static_cast<unsigned long long>(member_seed),
                  init == "scratch" ? "random encoder" : ("encoder " + encoders[enc]).c_str());
    members.push_back(fine_tune(enc, member_seed, Tensor()));
  }
  // Several classifiers are saved and scored as one soft-voting model.
  nn::EnsembleClassifier ensemble({members.begin(), members.end()});
  const int64_t pad_id = members[0]->config().pad_id;
  if (members.size() > 1) {
    std::printf("\n== ensemble of %zu classifiers (class probabilities averaged)\n", members.size());
    if (has_val)
      std::printf("Validation: accuracy %.4f\n", train::accuracy_of(class_probabilities(ensemble, pad_id, xv), yv));
    if (has_test) {
      const Tensor logits = train::classifier_logits(ensemble, xt, pad_id);  // log of the mean probability
      std::printf("Test: loss %.4f, accuracy %.4f (%zu examples)\n", cross_entropy(logits, yt).item(),
                  train::accuracy_of(logits, yt), d.test.texts.size());
    }
  }
  if (distill) {  // the student: the first encoder, seed `seed`, taught by the ensemble; it is what is saved
    std::printf("\n== one classifier distilled from the ensemble (alpha %g, temperature %g)\n", o.distill_alpha,
                o.distill_temperature);
    members = {fine_tune(0, seed, train::classifier_logits(ensemble, x, pad_id))};
  }
  fs::create_directories(dir);
  tok->save((dir / "tokenizer.json").string());
  // What `cairn evaluate` and `cairn predict` need beside the weights and the encoder's config: the file is
  // self-contained. An ensemble's members are one file too: tensors member0.<name>, member1.<name>, ...
  const nlohmann::json entry = {{"class_names", d.class_names},
                                {"pooling", pooling},
                                {"max_length", max_length},
                                {"members", members.size()},
                                {"tokenizer", tokenizer_to_json(*tok)},
                                {"data", yaml_to_json(cfg.node()["data"])}};
  const fs::path out = dir / "classifier.safetensors";
  nn::Module& saved = members.size() == 1 ? static_cast<nn::Module&>(*members[0]) : ensemble;
  nn::save_pretrained_bert(out.string(), saved, members[0]->config(), {{kClassifierEntry, entry.dump()}});
  std::printf("Wrote %s\n", out.c_str());
  return 0;
}

}  // namespace cairn::cli
