#include "cairn/train/bert_train.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"
#include "cairn/data/mlm.h"
#include "cairn/nn/bert.h"
#include "cairn/optim/clip.h"
#include "cairn/optim/ema.h"
#include "cairn/optim/optimizers.h"
#include "cairn/optim/schedules.h"
#include "cairn/train/data_parallel.h"
#include "cairn/train/model.h"

namespace cairn::train {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void check_options(const BertTrainOptions& o, const char* where) {
  CAIRN_CHECK(o.epochs >= 1 && o.batch_size >= 1, ValueError, where, ": epochs and batch_size must be >= 1, got ",
              o.epochs, " and ", o.batch_size);
  CAIRN_CHECK(o.lr > 0 && std::isfinite(o.lr), ValueError, where, ": lr must be positive, got ", o.lr);
  CAIRN_CHECK(o.warmup_fraction >= 0 && o.warmup_fraction < 1, ValueError, where,
              ": warmup_fraction must be in [0, 1), got ", o.warmup_fraction);
  CAIRN_CHECK(o.clip_norm >= 0, ValueError, where, ": clip_norm must be >= 0, got ", o.clip_norm);
  CAIRN_CHECK(o.data_parallel >= 0, ValueError, where,
              ": data_parallel must be >= 0 (0: one part of each batch per thread, 1: off), got ", o.data_parallel);
}

int parts_of(const BertTrainOptions& o) { return static_cast<int>(o.data_parallel > 0 ? o.data_parallel : num_threads()); }

// Where the parts' dropout streams are seeded from (parallel_backward): the loop's seed, so a run gives the same
// bits whatever ran before it in the process. (One part draws from the modules' own generators, as without it.)
Generator part_seeds(const BertTrainOptions& o) { return Generator(o.seed * 0xD1B54A32D192ED03ULL + 0x7A3D); }

// The rows idx[bounds[p], bounds[p + 1]) of part p.
std::vector<int64_t> part_rows(const std::vector<int64_t>& idx, const std::vector<int64_t>& bounds, size_t p) {
  return {idx.begin() + bounds[p], idx.begin() + bounds[p + 1]};
}

void check_ids(const Tensor& ids, const char* where, const char* what) {
  CAIRN_CHECK(ids.defined() && ids.dim() == 2 && ids.size(0) >= 1, ShapeError, where, ": ", what,
              " must be (N, T) token ids with N >= 1, got ",
              ids.defined() ? shape_str(ids.shape()) : std::string("an undefined tensor"));
  ids.check_dtype(DType::i64, where);
}

// The epoch's example order: a permutation from a generator seeded by (seed, epoch).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  Generator gen(seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) + 1);
  return randperm(n, &gen).to_vector<int64_t>();
}

// Linear warmup to the base lr over `warmup` steps, then linear decay to 0 at `total`.
std::function<double(int64_t)> warmup_linear(int64_t warmup, int64_t total) {
  return [warmup, total](int64_t step) {
    if (warmup > 0 && step < warmup) return static_cast<double>(step + 1) / static_cast<double>(warmup);
    return std::max(0.0, static_cast<double>(total - step) / static_cast<double>(std::max<int64_t>(1, total - warmup)));
  };
}

void split_decay(const std::vector<std::pair<std::string, Tensor>>& named, std::vector<Tensor>& decay,
                 std::vector<Tensor>& no_decay) {
  for (const auto& [name, p] : named) {
    if (!p.requires_grad()) continue;
    (p.dim() <= 1 ? no_decay : decay).push_back(p);
  }
}

std::vector<Tensor> trainable(const nn::Module& m) { return m.trainable_parameters(); }

std::string epoch_line(const char* what, int64_t epoch, int64_t epochs, const BertEpoch& e) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(4);
  os << what << " epoch " << epoch + 1 << "/" << epochs << ": loss " << e.loss << ", accuracy " << e.accuracy;
  if (e.val_loss >= 0) os << ", val_loss " << e.val_loss << ", val_accuracy " << e.val_accuracy;
  os.precision(1);
  os << " (" << e.seconds << " s)";
  return os.str();
}

bool finish_epoch(const BertTrainOptions& o, const char* what, int64_t epoch, const BertEpoch& e) {
  const std::string line = epoch_line(what, epoch, o.epochs, e);
  if (o.verbose > 0) {
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  return o.on_epoch ? o.on_epoch(epoch, line) : true;
}

double finite_loss(double v, const char* what, int64_t epoch, int64_t step) {
  if (!std::isfinite(v))
    throw NonFiniteLossError(detail::cat(what, ": the loss is ", v, " at epoch ", epoch + 1, ", step ", step,
                                         "; lower the learning rate or check the inputs"));
  return v;
}

}  // namespace

Tensor gather_trimmed_rows(const Tensor& ids, const std::vector<int64_t>& index, int64_t pad_id) {
  check_ids(ids, "gather_trimmed_rows", "ids");
  const Tensor src = ids.contiguous();
  const int64_t N = src.size(0), T = src.size(1);
  const int64_t* p = src.data<int64_t>();
  int64_t width = 1;
  for (int64_t r : index) {
    CAIRN_CHECK(r >= 0 && r < N, IndexError, "gather_trimmed_rows: row ", r, " is outside [0, ", N, ")");
    int64_t len = T;
    while (len > 1 && p[r * T + len - 1] == pad_id) --len;
    width = std::max(width, len);
  }
  Tensor out = Tensor::empty({static_cast<int64_t>(index.size()), width}, DType::i64);
  int64_t* q = out.data<int64_t>();
  for (size_t i = 0; i < index.size(); ++i) std::copy_n(p + index[i] * T, width, q + static_cast<int64_t>(i) * width);
  return out;
}

std::vector<optim::ParamGroup> bert_param_groups(const nn::BertClassifier& model, double lr, double head_lr,
                                                 double weight_decay, double layer_decay) {
  CAIRN_CHECK(layer_decay > 0 && layer_decay <= 1, ValueError, "bert_param_groups: layer_decay must be in (0, 1], got ",
              layer_decay);
  std::vector<Tensor> head_params = model.head_parameters();
  auto is_head = [&](const Tensor& t) {
    return std::any_of(head_params.begin(), head_params.end(), [&](const Tensor& h) { return h.impl() == t.impl(); });
  };
  // Depth of an encoder parameter below the top block: block i of L at L - 1 - i, the embeddings and their
  // LayerNorm at L (one below block 0). Its lr is lr * layer_decay^depth.
  const int64_t L = model.config().num_layers;
  const std::string blocks = "bert.blocks.";
  auto exponent = [&](const std::string& name) -> int64_t {
    if (name.rfind(blocks, 0) != 0) return L;  // embeddings, embedding LayerNorm
    return L - 1 - std::stoll(name.substr(blocks.size()));
  };
  std::vector<std::vector<std::pair<std::string, Tensor>>> enc(static_cast<size_t>(L + 1));
  std::vector<std::pair<std::string, Tensor>> head;
  for (auto& np : model.named_parameters()) {
    if (is_head(np.second)) {
      head.push_back(np);
    } else {
      enc[static_cast<size_t>(layer_decay == 1 ? 0 : exponent(np.first))].push_back(np);
    }
  }
  std::vector<optim::ParamGroup> groups;
  auto add = [&](const std::vector<std::pair<std::string, Tensor>>& named, double group_lr) {
    std::vector<Tensor> decay, plain;
    split_decay(named, decay, plain);
    if (!decay.empty()) groups.push_back({.params = std::move(decay), .lr = group_lr, .weight_decay = weight_decay});
    if (!plain.empty()) groups.push_back({.params = std::move(plain), .lr = group_lr, .weight_decay = 0.0});
  };
  for (size_t e = 0; e < enc.size(); ++e) add(enc[e], lr * std::pow(layer_decay, static_cast<double>(e)));
  add(head, head_lr);
  CAIRN_CHECK(!groups.empty(), ValueError, "bert_param_groups: the model has no trainable parameter");
  return groups;
}

BertTrainReport pretrain_mlm(nn::BertForMaskedLM& model, const Tensor& ids, const data::MlmMasker& masker,
                             const BertTrainOptions& o, const Tensor& val_ids) {
  check_options(o, "pretrain_mlm");
  check_ids(ids, "pretrain_mlm", "ids");
  if (val_ids.defined()) check_ids(val_ids, "pretrain_mlm", "val_ids");
  const int64_t pad = model.config().pad_id;
  const int64_t N = ids.size(0);
  const int64_t per_epoch = (N + o.batch_size - 1) / o.batch_size;
  int64_t total = per_epoch * o.epochs;
  if (o.max_steps > 0) total = std::min(total, o.max_steps);

  std::vector<std::pair<std::string, Tensor>> named = model.named_parameters();
  std::vector<Tensor> decay, plain;
  split_decay(named, decay, plain);
  std::vector<optim::ParamGroup> groups;
  groups.push_back({.params = decay, .lr = std::nullopt, .weight_decay = o.weight_decay});
  if (!plain.empty()) groups.push_back({.params = plain, .lr = std::nullopt, .weight_decay = 0.0});
  optim::AdamW opt(groups, {.lr = o.lr, .weight_decay = o.weight_decay});
  optim::LambdaLR sched(opt, warmup_linear(static_cast<int64_t>(o.warmup_fraction * total), total));
  const std::vector<Tensor> params = trainable(model);
  const int parts = parts_of(o);
  Generator seeds = part_seeds(o);

  BertTrainReport report;
  const auto t_all = Clock::now();
  for (int64_t epoch = 0; epoch < o.epochs && report.steps < total; ++epoch) {
    const auto t0 = Clock::now();
    model.train();
    const std::vector<int64_t> order = epoch_order(N, o.seed, epoch);
    double loss_sum = 0;
    int64_t chosen = 0, correct = 0;
    for (int64_t s = 0; s < per_epoch && report.steps < total; ++s) {
      const int64_t lo = s * o.batch_size, hi = std::min(N, lo + o.batch_size);
      const std::vector<int64_t> idx(order.begin() + lo, order.begin() + hi);
      // Each part's rows masked and cut to their longest row (the masks depend on the example, not the batch).
      std::vector<int64_t> bounds = part_bounds(hi - lo, parts);
      std::vector<data::MlmBatch> part(bounds.size() - 1);
      int64_t M = 0;
      bool empty_part = false;
      for (size_t p = 0; p < part.size(); ++p) {
        const std::vector<int64_t> rows = part_rows(idx, bounds, p);
        part[p] = masker.mask(gather_trimmed_rows(ids, rows, pad), epoch, rows);
        M += part[p].num_chosen;
        empty_part = empty_part || part[p].num_chosen == 0;
      }
      if (M == 0) continue;
      if (empty_part && part.size() > 1) {  // a part without a masked token has no loss: one pass instead
        bounds = {0, hi - lo};
        part = {masker.mask(gather_trimmed_rows(ids, idx, pad), epoch, idx)};
      }
      std::vector<int64_t> part_correct(part.size());
      opt.zero_grad();
      const double loss = parallel_backward(hi - lo, static_cast<int>(part.size()), [&](int64_t r0, int64_t r1) {
        const size_t p = part_of(bounds, r0);
        nn::MlmOutput out = model.mlm_loss(part[p].input_ids, part[p].labels, masker.options().ignore_index);
        part_correct[p] = out.correct;
        // The batch's loss is the mean over its M masked tokens, and parallel_backward weights this part by its
        // share of the rows, (r1 - r0) / rows: scale the part's mean to its share of the tokens.
        const double share = static_cast<double>(part[p].num_chosen) / static_cast<double>(M);
        return mul(out.loss, share * static_cast<double>(hi - lo) / static_cast<double>(r1 - r0));
      }, &seeds);
      if (o.clip_norm > 0) optim::clip_grad_norm_(params, o.clip_norm);
      opt.step();
      sched.step();
      ++report.steps;
      loss_sum += finite_loss(loss, "pretrain_mlm", epoch, report.steps) * static_cast<double>(M);
      chosen += M;
      for (int64_t c : part_correct) correct += c;
    }
    BertEpoch e;
    e.loss = chosen ? loss_sum / static_cast<double>(chosen) : 0;
    e.accuracy = chosen ? static_cast<double>(correct) / static_cast<double>(chosen) : 0;
    if (val_ids.defined()) {
      model.eval();
      NoGradGuard no_grad;
      double vl = 0;
      int64_t vm = 0, vc = 0;
      const int64_t VN = val_ids.size(0);
      for (int64_t lo = 0; lo < VN; lo += 256) {
        std::vector<int64_t> idx;
        for (int64_t i = lo; i < std::min(VN, lo + 256); ++i) idx.push_back(i);
        data::MlmBatch b = masker.mask(gather_trimmed_rows(val_ids, idx, pad), -1, idx);
        if (b.num_chosen == 0) continue;
        nn::MlmOutput out = model.mlm_loss(b.input_ids, b.labels, masker.options().ignore_index);
        const auto M = static_cast<int64_t>(out.targets.numel());
        vl += out.loss.item() * static_cast<double>(M);
        vm += M;
        vc += out.correct;
      }
      e.val_loss = vm ? vl / static_cast<double>(vm) : 0;
      e.val_accuracy = vm ? static_cast<double>(vc) / static_cast<double>(vm) : 0;
      model.train();
    }
    e.seconds = since(t0);
    report.epochs.push_back(e);
    if (!finish_epoch(o, "mlm", epoch, e)) break;
  }
  report.seconds = since(t_all);
  model.eval();
  return report;
}

Tensor classifier_logits(nn::BertClassifier& model, const Tensor& ids, int64_t batch_size) {
  return classifier_logits(model, ids, model.config().pad_id, batch_size);
}

Tensor classifier_logits(nn::Module& model, const Tensor& ids, int64_t pad_id, int64_t batch_size) {
  check_ids(ids, "classifier_logits", "ids");
  CAIRN_CHECK(batch_size > 0, ValueError, "classifier_logits: batch_size must be positive, got ", batch_size);
  const bool was_training = model.is_training();
  model.eval();
  NoGradGuard no_grad;
  const int64_t N = ids.size(0);
  std::vector<Tensor> parts;
  for (int64_t lo = 0; lo < N; lo += batch_size) {
    std::vector<int64_t> idx;
    for (int64_t i = lo; i < std::min(N, lo + batch_size); ++i) idx.push_back(i);
    parts.push_back(model.forward(gather_trimmed_rows(ids, idx, pad_id)));
  }
  model.train(was_training);
  return concat(parts, 0);
}

double accuracy_of(const Tensor& scores, const Tensor& labels) {
  labels.check_dtype(DType::i64, "accuracy_of(labels)");
  CAIRN_CHECK(scores.dim() == 2 && labels.dim() == 1 && labels.size(0) == scores.size(0), ShapeError,
              "accuracy_of: scores ", shape_str(scores.shape()), " must be (N, classes) for labels ",
              shape_str(labels.shape()));
  const std::vector<int64_t> pred = argmax(scores, 1).to_vector<int64_t>();
  const std::vector<int64_t> y = labels.contiguous().to_vector<int64_t>();
  int64_t correct = 0;
  for (size_t i = 0; i < y.size(); ++i) correct += pred[i] == y[i];
  return y.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(y.size());
}

ClassifierScores evaluate_classifier(nn::BertClassifier& model, const Tensor& ids, const Tensor& labels,
                                     int64_t batch_size) {
  labels.check_dtype(DType::i64, "evaluate_classifier(labels)");
  CAIRN_CHECK(labels.dim() == 1 && labels.size(0) == ids.size(0), ShapeError, "evaluate_classifier: labels ",
              shape_str(labels.shape()), " must be (N) for ids ", shape_str(ids.shape()));
  const Tensor logits = classifier_logits(model, ids, batch_size);
  return {cross_entropy(logits, labels).item(), accuracy_of(logits, labels)};
}

BertTrainReport finetune_classifier(nn::BertClassifier& model, const Tensor& ids, const Tensor& labels,
                                    const BertTrainOptions& o, const Tensor& val_ids, const Tensor& val_labels,
                                    const Tensor& teacher_logits) {
  check_options(o, "finetune_classifier");
  check_ids(ids, "finetune_classifier", "ids");
  CAIRN_CHECK(!o.restore_best_weights || val_ids.defined(), ValueError,
              "finetune_classifier: restore_best_weights needs validation data (val_ids, val_labels)");
  labels.check_dtype(DType::i64, "finetune_classifier(labels)");
  CAIRN_CHECK(labels.dim() == 1 && labels.size(0) == ids.size(0), ShapeError, "finetune_classifier: labels ",
              shape_str(labels.shape()), " must be (N) for ids ", shape_str(ids.shape()));
  const int64_t pad = model.config().pad_id;
  const int64_t N = ids.size(0);
  Tensor soft;  // the teacher's softmax(logits / T), (N, classes)
  if (teacher_logits.defined()) {
    CAIRN_CHECK(teacher_logits.dim() == 2 && teacher_logits.size(0) == N && teacher_logits.size(1) == model.num_classes(),
                ShapeError, "finetune_classifier: teacher_logits ", shape_str(teacher_logits.shape()), " must be (",
                N, ", ", model.num_classes(), "): one row of class logits per training row");
    CAIRN_CHECK(o.distill_alpha >= 0 && o.distill_alpha <= 1 && o.distill_temperature > 0, ValueError,
                "finetune_classifier: distill_alpha must be in [0, 1] and distill_temperature positive, got ",
                o.distill_alpha, " and ", o.distill_temperature);
    NoGradGuard no_grad;
    soft = softmax(mul(teacher_logits.detach().to(DType::f32), 1.0 / o.distill_temperature), 1);
  }
  const int64_t per_epoch = (N + o.batch_size - 1) / o.batch_size;
  int64_t total = per_epoch * o.epochs;
  if (o.max_steps > 0) total = std::min(total, o.max_steps);
  const double head_lr = o.head_lr > 0 ? o.head_lr : o.lr;

  // Groups over everything trainable now, so parameters frozen only for the first epochs are already in the
  // optimizer when they are unfrozen (frozen ones get no gradient and are skipped by step()).
  optim::AdamW opt(bert_param_groups(model, o.lr, head_lr, o.weight_decay, o.layer_decay), {.lr = o.lr, .weight_decay = o.weight_decay});
  optim::LambdaLR sched(opt, warmup_linear(static_cast<int64_t>(o.warmup_fraction * total), total));
  const std::vector<Tensor> all_params = trainable(model);
  if (o.freeze_epochs > 0) model.freeze_encoder(o.trainable_top_blocks);
  std::optional<optim::ExponentialMovingAverage> ema;
  if (o.ema_decay > 0) ema.emplace(all_params, o.ema_decay);

  const std::vector<int64_t> y = labels.contiguous().to_vector<int64_t>();
  const int parts = parts_of(o);
  Generator seeds = part_seeds(o);
  BertTrainReport report;
  nn::StateDict best;  // restore_best_weights: a copy of the best validation epoch's weights
  const auto t_all = Clock::now();
  for (int64_t epoch = 0; epoch < o.epochs && report.steps < total; ++epoch) {
    if (o.freeze_epochs > 0 && epoch == o.freeze_epochs) model.unfreeze_encoder();
    const auto t0 = Clock::now();
    model.train();
    const std::vector<int64_t> order = epoch_order(N, o.seed, epoch);
    double loss_sum = 0;
    int64_t seen = 0, correct = 0;
    for (int64_t s = 0; s < per_epoch && report.steps < total; ++s) {
      const int64_t lo = s * o.batch_size, hi = std::min(N, lo + o.batch_size);
      const std::vector<int64_t> idx(order.begin() + lo, order.begin() + hi);
      const std::vector<int64_t> bounds = part_bounds(hi - lo, parts);
      std::vector<int64_t> part_correct(bounds.size() - 1);
      opt.zero_grad();
      // Each part: its rows cut to their longest, the mean loss over them (parallel_backward weights the parts).
      const double loss = parallel_backward(hi - lo, parts, [&](int64_t r0, int64_t r1) {
        const size_t p = part_of(bounds, r0);
        const std::vector<int64_t> rows = part_rows(idx, bounds, p);
        std::vector<int64_t> yb;
        for (int64_t i : rows) yb.push_back(y[static_cast<size_t>(i)]);
        Tensor logits = model.forward(gather_trimmed_rows(ids, rows, pad));
        Tensor l = cross_entropy(logits, from_vector(yb));
        if (soft.defined()) {  // (1 - a) CE(labels) + a T^2 CE(teacher's soft targets, softmax(logits / T))
          const double a = o.distill_alpha, T = o.distill_temperature;
          const Tensor q = index_select(soft, 0, from_vector(rows));
          const Tensor soft_ce = neg(mean(sum(mul(q, log_softmax(mul(logits, 1.0 / T), 1)), {1})));
          l = add(mul(l, 1.0 - a), mul(soft_ce, a * T * T));
        }
        const std::vector<int64_t> pred = argmax(logits.detach(), 1).to_vector<int64_t>();
        for (size_t i = 0; i < rows.size(); ++i) part_correct[p] += pred[i] == yb[i];
        return l;
      }, &seeds);
      if (o.clip_norm > 0) optim::clip_grad_norm_(all_params, o.clip_norm);
      opt.step();
      if (ema) ema->update();
      sched.step();
      ++report.steps;
      loss_sum += finite_loss(loss, "finetune_classifier", epoch, report.steps) * static_cast<double>(idx.size());
      for (int64_t c : part_correct) correct += c;
      seen += static_cast<int64_t>(idx.size());
    }
    BertEpoch e;
    e.loss = loss_sum / static_cast<double>(std::max<int64_t>(1, seen));
    e.accuracy = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(1, seen));
    if (val_ids.defined()) {
      if (ema) ema->swap();  // validate (and keep) the averages
      ClassifierScores v = evaluate_classifier(model, val_ids, val_labels);
      e.val_loss = v.loss;
      e.val_accuracy = v.accuracy;
      if (o.restore_best_weights && (report.best_epoch < 0 || v.accuracy > report.epochs[static_cast<size_t>(report.best_epoch)].val_accuracy)) {
        report.best_epoch = epoch;
        best = nn::StateDict();
        for (const auto& [name, t] : model.state_dict()) best.insert(name, t.clone());
      }
      if (ema) ema->swap();
    }
    e.seconds = since(t0);
    report.epochs.push_back(e);
    if (!finish_epoch(o, "finetune", epoch, e)) break;
  }
  if (report.best_epoch >= 0) {
    model.load_state_dict(best);
  } else if (ema) {
    ema->swap();  // end with the averages, as Keras's fit does with use_ema
  }
  report.seconds = since(t_all);
  model.eval();
  return report;
}

}  // namespace cairn::train
