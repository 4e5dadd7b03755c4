// BERT-style transfer learning on MR sentence polarity (Pang & Lee 2005, rt-polarity.pos/.neg, 5,331 each):
// masked-language-model pretraining on the TRAIN split's sentences only, then fine-tuning a classifier on the
// same split; the held-out 10% test split is never seen before the final evaluation.
//
//   mr_bert pretrain --out DIR [--pretrain-epochs 30] [--extra-corpus FILE --extra-words W] [--task-repeat N]
//       writes DIR/tokenizer.json and DIR/encoder.safetensors (weights + config metadata)
//   mr_bert finetune --pretrained DIR [--epochs 4]      fine-tune from DIR's encoder, report test accuracy
//   mr_bert finetune --scratch --tokenizer DIR          the same recipe from a random initialisation
//   mr_bert finetune ... --ensemble N                   N seeds, probabilities averaged (validation printed)
//   mr_bert finetune --pretrained DIR1,DIR2 ...         an ensemble over encoders (each with the N seeds)
//   mr_bert finetune ... --ensemble N --soup            also one classifier with the members' mean weights
//   mr_bert finetune ... --ema 0.99                     validate and keep a moving average of the weights
//   mr_bert finetune ... --init-seed S                  one initialisation (S) whatever --seed is
//   mr_bert finetune ... --ensemble N --distill [--students K --distill-alpha A --distill-t T]
//                                                       K single classifiers trained on the ensemble's soft targets
//   mr_bert compare --out DIR                           pretrain, then both fine-tunes, side by side
// Every option is `--name value`; see Args below for the defaults. --val F carves F of the train split out as
// validation (printed every epoch) for choosing a recipe without touching the test split. --data-parallel P cuts
// each batch into P parts run at once (default 0: one per thread; 1: one pass, which reproduces figures measured
// before the parts existed on any thread count). --matmul-precision
// medium multiplies bfloat16-rounded operands (float32 accumulation; see core/kernels/precision.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "cairn/core/core.h"
#include "cairn/data/dataset.h"
#include "cairn/data/mlm.h"
#include "cairn/data/text.h"
#include "cairn/nn/bert.h"
#include "cairn/text/vocab_prune.h"
#include "cairn/text/wordpiece_tokenizer.h"
#include "cairn/train/bert_train.h"

using namespace cairn;
namespace fs = std::filesystem;

namespace {

struct Args {
  std::map<std::string, std::string> kv;
  std::string get(const std::string& k, const std::string& def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  double num(const std::string& k, double def) const { return std::stod(get(k, std::to_string(def))); }
  bool flag(const std::string& k) const { return kv.count(k) != 0; }
};

// The repository (from this file's path) and the shared data beside it; CAIRN_SHARED_DIR overrides the latter.
const fs::path kRepo = fs::path(__FILE__).parent_path().parent_path();
std::string shared_dir() {
  if (const char* d = std::getenv("CAIRN_SHARED_DIR")) return d;
  return (kRepo / ".." / "shared").string();
}

struct Split {
  std::vector<std::string> texts;
  std::vector<int64_t> labels;
};
struct MR {
  Split train, val, test;
};

// The fixed seeded 90/10 split (stratified), then optionally `val` of the train part as validation.
MR load_mr(double val_fraction, uint64_t split_seed) {
  const std::string d = shared_dir() + "/data/";
  data::TextDataset ds = data::load_text_per_label({{"neg", d + "rt-polarity.neg"}, {"pos", d + "rt-polarity.pos"}});
  data::convert_latin1_to_utf8(ds);
  auto parts = data::split_indices(static_cast<int64_t>(ds.size()), {0.9, 0.1}, split_seed, &ds.labels);
  MR mr;
  auto take = [&](const std::vector<int64_t>& idx, Split& s) {
    for (int64_t i : idx) {
      s.texts.push_back(ds.texts[static_cast<size_t>(i)]);
      s.labels.push_back(ds.labels[static_cast<size_t>(i)]);
    }
  };
  take(parts[1], mr.test);
  if (val_fraction > 0) {
    std::vector<int64_t> train_labels;
    for (int64_t i : parts[0]) train_labels.push_back(ds.labels[static_cast<size_t>(i)]);
    auto inner = data::split_indices(static_cast<int64_t>(parts[0].size()), {1 - val_fraction, val_fraction},
                                     split_seed + 1, &train_labels);
    std::vector<int64_t> a, b;
    for (int64_t i : inner[0]) a.push_back(parts[0][static_cast<size_t>(i)]);
    for (int64_t i : inner[1]) b.push_back(parts[0][static_cast<size_t>(i)]);
    take(a, mr.train);
    take(b, mr.val);
  } else {
    take(parts[0], mr.train);
  }
  return mr;
}

// Extra pretraining text (e.g. tinyshakespeare): consecutive non-empty lines joined up to ~`words` words.
std::vector<std::string> chunk_corpus(const std::string& path, size_t words) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read --extra-corpus " + path);
  std::vector<std::string> out;
  std::string line, cur;
  size_t n = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    cur += (cur.empty() ? "" : " ") + line;
    n += static_cast<size_t>(std::count(line.begin(), line.end(), ' ')) + 1;
    if (n >= words) {
      out.push_back(cur);
      cur.clear();
      n = 0;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

nn::BertConfig model_config(const Args& a, const text::Tokenizer& tok) {
  nn::BertConfig c;
  c.vocab_size = static_cast<int64_t>(tok.vocab_size());
  c.max_position = static_cast<int64_t>(a.num("max-len", 64));
  c.num_layers = static_cast<int64_t>(a.num("layers", 2));
  c.num_heads = static_cast<int64_t>(a.num("heads", 4));
  c.hidden = static_cast<int64_t>(a.num("hidden", 128));
  c.dropout = a.num("dropout", 0.1);
  c.attention_dropout = a.num("attention-dropout", 0.1);
  c.pad_id = *tok.special_token_ids().pad;
  c.vocab_id = text::vocab_fingerprint(tok);
  c.seed = static_cast<uint64_t>(a.num("seed", 1));
  return c;
}

Tensor labels_tensor(const Split& s) { return from_vector(s.labels); }

double pretrain(const Args& a, const MR& mr, const fs::path& out) {
  fs::create_directories(out);
  const std::string vocab = a.get("vocab", (kRepo / "tests/golden/tokenizers/bert/vocab.txt").string());
  const auto full = text::WordPieceTokenizer::from_vocab_file(vocab);
  // The train split only (validation included: labels unused), --task-repeat times: with a large extra corpus
  // the task's own sentences would otherwise be a few percent of what the MLM sees.
  std::vector<std::string> corpus;
  for (int r = 0; r < static_cast<int>(a.num("task-repeat", 1)); ++r) {
    corpus.insert(corpus.end(), mr.train.texts.begin(), mr.train.texts.end());
    corpus.insert(corpus.end(), mr.val.texts.begin(), mr.val.texts.end());
  }
  if (a.flag("extra-corpus")) {
    auto extra = chunk_corpus(a.get("extra-corpus", ""), static_cast<size_t>(a.num("extra-words", 20)));
    std::printf("extra corpus: %zu chunks from %s\n", extra.size(), a.get("extra-corpus", "").c_str());
    corpus.insert(corpus.end(), extra.begin(), extra.end());
  }
  const auto min_count = static_cast<size_t>(a.num("min-count", 1));
  const text::WordPieceTokenizer tok = min_count > 0 ? text::prune_wordpiece_vocab(full, corpus, min_count) : full;
  tok.save((out / "tokenizer.json").string());
  std::printf("vocabulary: %zu of %zu pieces (min_count %zu over %zu pretraining texts)\n", tok.vocab_size(),
              full.vocab_size(), min_count, corpus.size());

  const nn::BertConfig cfg = model_config(a, tok);
  data::EncodedTexts enc = data::encode_for_encoder(tok, corpus, cfg.max_position);
  std::printf("pretraining rows: %lld (%lld truncated to %lld tokens)\n", static_cast<long long>(enc.input_ids.size(0)),
              static_cast<long long>(enc.truncated), static_cast<long long>(cfg.max_position));
  data::MlmOptions mo;
  mo.mask_probability = a.num("mask-prob", 0.15);
  data::MlmMasker masker(tok, mo, static_cast<uint64_t>(a.num("seed", 1)));
  nn::BertForMaskedLM mlm(cfg);
  std::printf("BertForMaskedLM: %lld parameters\n", static_cast<long long>(mlm.count_params()));
  train::BertTrainOptions o;
  o.epochs = static_cast<int64_t>(a.num("pretrain-epochs", 30));
  o.batch_size = static_cast<int64_t>(a.num("pretrain-batch", 64));
  o.lr = a.num("pretrain-lr", 1e-3);
  o.warmup_fraction = a.num("pretrain-warmup", 0.06);
  o.seed = static_cast<uint64_t>(a.num("seed", 1));
  o.max_steps = static_cast<int64_t>(a.num("pretrain-max-steps", 0));
  o.data_parallel = static_cast<int64_t>(a.num("data-parallel", 0));
  train::BertTrainReport r = train::pretrain_mlm(mlm, enc.input_ids, masker, o);
  nn::save_pretrained_bert((out / "encoder.safetensors").string(), mlm);
  std::printf("pretraining: %lld steps in %.1f s -> %s\n", static_cast<long long>(r.steps), r.seconds,
              (out / "encoder.safetensors").c_str());
  return r.seconds;
}

struct FinetuneResult {
  double test_accuracy = 0, seconds = 0;
  Tensor val_logits, test_logits;  // of the restored (best-validation) weights; val_logits undefined without --val
  nn::StateDict weights;           // the classifier's, as tested
  Tensor train_logits;             // on the training rows (--distill: the teachers')
};

// Fine-tunes a classifier from dir's encoder (or from scratch with dir's tokenizer) and tests it; given
// `weights`, builds the same classifier with those weights instead of training it (a soup, below).
// With teacher_logits (N train rows, 2), the training distils them (--distill-alpha, --distill-t).
FinetuneResult finetune(const Args& a, const MR& mr, const fs::path& dir, bool from_pretrained,
                        const nn::StateDict* weights = nullptr, const Tensor& teacher_logits = Tensor()) {
  const auto tok_ptr = text::load_tokenizer((dir / "tokenizer.json").string());
  const text::Tokenizer& tok = *tok_ptr;
  nn::BertConfig cfg = model_config(a, tok);
  if (from_pretrained) {
    cfg = nn::bert_config_from_file((dir / "encoder.safetensors").string());
    cfg.dropout = a.num("dropout", 0.1);
    cfg.attention_dropout = a.num("attention-dropout", 0.1);
    cfg.seed = static_cast<uint64_t>(a.num("init-seed", a.num("seed", 1)));  // --init-seed: one init for all seeds
  }
  CAIRN_CHECK(cfg.vocab_id == text::vocab_fingerprint(tok), ValueError, "the tokenizer in ", dir.string(),
              " is not the one the encoder was pretrained with");
  nn::BertClassifier clf(cfg, 2, {.pooling = a.get("pooling", "cls"), .dropout = a.num("head-dropout", 0.1)});
  if (from_pretrained) {
    nn::PretrainedLoad r = nn::load_pretrained_bert((dir / "encoder.safetensors").string(), clf);
    std::printf("pretrained encoder: %s\n", r.report().c_str());
  }
  auto encode = [&](const Split& s) { return data::encode_for_encoder(tok, s.texts, cfg.max_position).input_ids; };
  Tensor x = encode(mr.train), xt = encode(mr.test);
  Tensor xv = mr.val.texts.empty() ? Tensor() : encode(mr.val);
  Tensor yv = mr.val.texts.empty() ? Tensor() : labels_tensor(mr.val);
  train::BertTrainOptions o;
  o.epochs = static_cast<int64_t>(a.num("epochs", 4));
  o.batch_size = static_cast<int64_t>(a.num("batch", 32));
  o.lr = a.num("lr", 1e-4);
  o.head_lr = a.num("head-lr", 1e-3);
  o.warmup_fraction = 0.1;
  o.seed = static_cast<uint64_t>(a.num("seed", 1));
  o.freeze_epochs = static_cast<int64_t>(a.num("freeze-epochs", 0));
  o.layer_decay = a.num("layer-decay", 1.0);
  o.ema_decay = a.num("ema", 0.0);
  o.data_parallel = static_cast<int64_t>(a.num("data-parallel", 0));
  o.distill_alpha = a.num("distill-alpha", 0.5);
  o.distill_temperature = a.num("distill-t", 2.0);
  // Early stopping on the validation split (--val F): the weights of the epoch with the best validation accuracy
  // are restored before the test evaluation. Without --val the last epoch's weights are tested.
  o.restore_best_weights = xv.defined();
  train::BertTrainReport r;
  if (weights) {
    clf.load_state_dict(*weights);
    clf.eval();
  } else {
    r = train::finetune_classifier(clf, x, labels_tensor(mr.train), o, xv, yv, teacher_logits);
  }
  if (r.best_epoch >= 0)
    std::printf("early stopping: restored epoch %lld (val_accuracy %.4f)\n", static_cast<long long>(r.best_epoch + 1),
                r.epochs[static_cast<size_t>(r.best_epoch)].val_accuracy);
  train::ClassifierScores s = train::evaluate_classifier(clf, xt, labels_tensor(mr.test));
  std::printf("%s: test accuracy %.4f (loss %.4f) on %zu sentences; fine-tuning %.1f s\n",
              from_pretrained ? "pretrained" : "from scratch", s.accuracy, s.loss, mr.test.texts.size(), r.seconds);
  return {s.accuracy, r.seconds, xv.defined() ? train::classifier_logits(clf, xv) : Tensor(),
          train::classifier_logits(clf, xt), clf.state_dict(),
          a.flag("distill") && !teacher_logits.defined() ? train::classifier_logits(clf, x) : Tensor()};
}

// sum += t, where an undefined sum is zero.
void add_to(Tensor& sum, const Tensor& t) { sum = sum.defined() ? add(sum, t) : t; }

// --ensemble N: N fine-tunes with seeds seed .. seed + N - 1, each restored to its best validation epoch; their
// softmax probabilities averaged. With several encoders (--pretrained DIR1,DIR2,...) every encoder is fine-tuned
// with each of the N seeds and all of them are averaged. Validation accuracy of the average is printed, so that
// the choice between one classifier and an ensemble can be made without the test split.
void finetune_ensemble(Args a, const MR& mr, const std::vector<fs::path>& dirs, bool from_pretrained, int n) {
  const auto seed0 = static_cast<int64_t>(a.num("seed", 1));
  Tensor val_sum, test_sum;
  std::vector<double> singles;
  std::map<std::string, Tensor> soup;  // --soup: the members' weights summed
  Tensor train_sum;                    // --distill: the members' probabilities on the training rows, summed
  for (const fs::path& dir : dirs)
    for (int i = 0; i < n; ++i) {
      a.kv.insert_or_assign("seed", std::to_string(seed0 + i));
      std::printf("\n== ensemble member %zu of %zu (%s, seed %lld)\n", singles.size() + 1, dirs.size() * n,
                  dir.c_str(), static_cast<long long>(seed0 + i));
      FinetuneResult r = finetune(a, mr, dir, from_pretrained);
      singles.push_back(r.test_accuracy);
      for (const auto& [name, t] : r.weights) add_to(soup[name], t);
      if (r.train_logits.defined()) {
        add_to(train_sum, softmax(r.train_logits, 1));
      }
      add_to(test_sum, softmax(r.test_logits, 1));
      if (r.val_logits.defined()) {
        add_to(val_sum, softmax(r.val_logits, 1));
      }
    }
  double mean = 0;
  for (double v : singles) mean += v / static_cast<double>(singles.size());
  std::printf("\nensemble of %zu: members' test accuracy mean %.4f;", singles.size(), mean);
  if (val_sum.defined()) std::printf(" ensemble validation accuracy %.4f;", train::accuracy_of(val_sum, labels_tensor(mr.val)));
  std::printf(" ensemble test accuracy %.4f\n", train::accuracy_of(test_sum, labels_tensor(mr.test)));
  if (a.flag("distill")) {  // --students K single classifiers taught by the ensemble (seeds seed ..)
    const Tensor teacher = log(mul(train_sum, 1.0 / static_cast<double>(singles.size())));
    std::printf("\nensemble training accuracy %.4f; distilling into single classifiers (alpha %g, T %g)\n",
                train::accuracy_of(teacher, labels_tensor(mr.train)), a.num("distill-alpha", 0.5),
                a.num("distill-t", 2.0));
    std::vector<double> students;
    for (int i = 0; i < static_cast<int>(a.num("students", n)); ++i) {
      a.kv.insert_or_assign("seed", std::to_string(seed0 + i));
      std::printf("\n== student %d (%s, seed %lld)\n", i + 1, dirs[0].c_str(), static_cast<long long>(seed0 + i));
      students.push_back(finetune(a, mr, dirs[0], from_pretrained, nullptr, teacher).test_accuracy);
    }
    double smean = 0;
    for (double v : students) smean += v / static_cast<double>(students.size());
    std::printf("\nstudents' test accuracy mean %.4f over %zu\n", smean, students.size());
  }
  if (a.flag("soup")) {  // one classifier with the members' mean weights (Wortsman et al. 2022, a uniform soup)
    nn::StateDict mean_weights;
    for (const auto& [name, t] : soup) mean_weights.insert(name, mul(t, 1.0 / static_cast<double>(singles.size())));
    std::printf("\nsoup of %zu:\n", singles.size());
    FinetuneResult r = finetune(a, mr, dirs[0], from_pretrained, &mean_weights);
    if (r.val_logits.defined())
      std::printf("soup validation accuracy %.4f\n", train::accuracy_of(r.val_logits, labels_tensor(mr.val)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines show up at once when logged to a file
  if (argc < 2) {
    std::fprintf(stderr, "usage: mr_bert {pretrain,finetune,compare} [--name value ...]\n");
    return 2;
  }
  const std::string cmd = argv[1];
  Args a;
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) {
      std::fprintf(stderr, "expected --name, got %s\n", k.c_str());
      return 2;
    }
    const bool has_value = i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0;
    a.kv.insert_or_assign(k.substr(2), std::string(has_value ? argv[++i] : "1"));
  }
  try {
    if (a.flag("threads")) set_num_threads(static_cast<int>(a.num("threads", 2)));
    set_float32_matmul_precision(a.get("matmul-precision", "highest"));
    const MR mr = load_mr(a.num("val", 0), static_cast<uint64_t>(a.num("split-seed", 2005)));
    std::printf("MR: %zu train, %zu validation, %zu test sentences\n", mr.train.texts.size(), mr.val.texts.size(),
                mr.test.texts.size());
    const fs::path dir = a.get("out", a.get("pretrained", a.get("tokenizer", "mr_bert_out")));
    if (cmd == "pretrain") {
      pretrain(a, mr, dir);
    } else if (cmd == "finetune") {
      const int n = static_cast<int>(a.num("ensemble", 1));
      std::vector<fs::path> dirs;  // --pretrained DIR1,DIR2: an ensemble over encoders
      std::stringstream list(dir.string());
      for (std::string part; std::getline(list, part, ',');) dirs.emplace_back(part);
      if (n > 1 || dirs.size() > 1) finetune_ensemble(a, mr, dirs, !a.flag("scratch"), n);
      else finetune(a, mr, dir, !a.flag("scratch"));
    } else if (cmd == "compare") {
      const double pt = a.flag("skip-pretrain") ? 0.0 : pretrain(a, mr, dir);
      FinetuneResult p = finetune(a, mr, dir, true);
      FinetuneResult s = finetune(a, mr, dir, false);
      std::printf("\n| init        | test accuracy | fine-tune s |\n|-------------|---------------|-------------|\n");
      std::printf("| pretrained  | %.4f        | %.0f         |\n| from scratch| %.4f        | %.0f         |\n",
                  p.test_accuracy, p.seconds, s.test_accuracy, s.seconds);
      std::printf("pretraining: %.0f s\n", pt);
    } else {
      std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
