// BERT training loops: parameter-group learning rates really applied, frozen weights really unchanged,
// reproducible pretraining, batches trimmed to their longest row.
#include <map>
#include <gtest/gtest.h>

#include "cairn/core/core.h"
#include "cairn/data/mlm.h"
#include "cairn/nn/bert.h"
#include "cairn/optim/optimizers.h"
#include "cairn/train/bert_train.h"

using namespace cairn;

namespace {

nn::BertConfig tiny() {
  nn::BertConfig c;
  c.vocab_size = 30;
  c.max_position = 12;
  c.num_layers = 2;
  c.num_heads = 2;
  c.hidden = 16;
  c.dropout = 0.0;
  c.attention_dropout = 0.0;
  c.seed = 5;
  return c;
}

// N rows [CLS]=2 t... [SEP]=3 [PAD]=0..., ordinary tokens 5..29; label = whether token 7 occurs.
std::pair<Tensor, Tensor> toy_data(int64_t N, int64_t T) {
  Generator gen(11);
  std::vector<int64_t> x, y;
  for (int64_t i = 0; i < N; ++i) {
    const int64_t len = 2 + static_cast<int64_t>(gen.below(static_cast<uint64_t>(T - 3)));
    bool has7 = false;
    x.push_back(2);
    for (int64_t t = 0; t < len; ++t) {
      const int64_t tok = 5 + static_cast<int64_t>(gen.below(25));
      has7 |= tok == 7;
      x.push_back(tok);
    }
    x.push_back(3);
    for (int64_t t = len + 2; t < T; ++t) x.push_back(0);
    y.push_back(has7);
  }
  return {from_vector(x, {N, T}), from_vector(y)};
}

std::vector<Tensor> snapshot(const std::vector<Tensor>& ps) {
  std::vector<Tensor> out;
  for (const auto& p : ps) out.push_back(p.detach().clone());
  return out;
}
double max_change(const std::vector<Tensor>& before, const std::vector<Tensor>& after) {
  double m = 0;
  for (size_t i = 0; i < before.size(); ++i) m = std::max(m, amax(abs(sub(after[i].detach(), before[i]))).item());
  return m;
}

TEST(BertTrain, LayerDecayLowersTheLearningRateBlockByBlock) {
  nn::BertClassifier clf(tiny(), 2);
  ASSERT_EQ(clf.config().num_layers, 2);
  auto groups = train::bert_param_groups(clf, 1e-3, 1e-2, 0.01, 0.5);
  std::map<const void*, double> lr_of;
  for (const auto& g : groups)
    for (const auto& p : g.params) lr_of[p.impl()] = *g.lr;
  size_t seen = 0;
  for (const auto& [name, p] : clf.named_parameters()) {
    ASSERT_TRUE(lr_of.count(p.impl())) << name << " is in no group";
    double want = 1e-3 * 0.25;  // embeddings and their LayerNorm: two blocks below the top
    if (name.rfind("bert.blocks.1.", 0) == 0) want = 1e-3;
    if (name.rfind("bert.blocks.0.", 0) == 0) want = 1e-3 * 0.5;
    if (name.rfind("bert.", 0) != 0) want = 1e-2;  // pooler, head
    EXPECT_DOUBLE_EQ(lr_of[p.impl()], want) << name;
    ++seen;
  }
  EXPECT_EQ(seen, lr_of.size());
  EXPECT_THROW(train::bert_param_groups(clf, 1e-3, 1e-2, 0.01, 0.0), ValueError);
  EXPECT_THROW(train::bert_param_groups(clf, 1e-3, 1e-2, 0.01, 1.5), ValueError);
}

TEST(BertTrain, ParamGroupLearningRatesAreApplied) {
  nn::BertClassifier clf(tiny(), 2);
  auto groups = train::bert_param_groups(clf, 1e-4, 1e-2, 0.0);
  ASSERT_EQ(groups.size(), 4u);  // encoder, encoder no-decay, head, head no-decay
  EXPECT_EQ(groups[0].lr, 1e-4);
  EXPECT_EQ(groups[2].lr, 1e-2);
  EXPECT_EQ(groups[1].weight_decay, 0.0);
  optim::AdamW opt(groups, {.lr = 1e-4, .weight_decay = 0.0});
  std::vector<Tensor> enc = clf.encoder().parameters(), head = clf.head_parameters();
  auto enc0 = snapshot(enc), head0 = snapshot(head);
  auto [x, y] = toy_data(8, 10);
  cross_entropy(clf.forward(x), y).backward();
  opt.step();
  // Adam's first step moves every element with a gradient by about lr (|m / sqrt(v)| = 1).
  EXPECT_NEAR(max_change(enc0, enc), 1e-4, 1e-5);
  EXPECT_NEAR(max_change(head0, head), 1e-2, 1e-3);
}

TEST(BertTrain, FrozenEncoderStaysBitIdentical) {
  nn::BertClassifier clf(tiny(), 2);
  auto [x, y] = toy_data(40, 10);
  std::vector<Tensor> frozen, top;
  for (const auto& [name, p] : clf.named_parameters())
    (name.rfind("bert.blocks.1.", 0) == 0 ? top : frozen).push_back(p);
  // head and pooler are in `frozen` too: separate them.
  std::vector<Tensor> head = clf.head_parameters();
  std::vector<Tensor> encoder_frozen;
  for (const auto& p : frozen) {
    bool is_head = false;
    for (const auto& h : head) is_head |= h.impl() == p.impl();
    if (!is_head) encoder_frozen.push_back(p);
  }
  auto frozen0 = snapshot(encoder_frozen), top0 = snapshot(top), head0 = snapshot(head);
  train::BertTrainOptions o;
  o.epochs = 2;
  o.batch_size = 8;
  o.lr = 1e-3;
  o.verbose = 0;
  o.freeze_epochs = 5;  // frozen for the whole run
  o.trainable_top_blocks = 1;
  train::finetune_classifier(clf, x, y, o);
  EXPECT_EQ(max_change(frozen0, encoder_frozen), 0.0) << "weight decay or updates touched frozen weights";
  EXPECT_GT(max_change(top0, top), 0.0);
  EXPECT_GT(max_change(head0, head), 0.0);

  // Unfrozen after the first epoch: the whole encoder moves.
  nn::BertClassifier clf2(tiny(), 2);
  auto all0 = snapshot(clf2.encoder().parameters());
  o.freeze_epochs = 1;
  o.trainable_top_blocks = 0;
  train::BertTrainReport r = train::finetune_classifier(clf2, x, y, o);
  EXPECT_EQ(r.epochs.size(), 2u);
  EXPECT_GT(max_change(all0, clf2.encoder().parameters()), 0.0);
}

// restore_best_weights: the model ends with the weights of the epoch of best validation accuracy, which
// evaluate to that accuracy again; without validation data it is refused.
TEST(BertTrain, RestoreBestWeightsPutsBackTheBestValidationEpoch) {
  auto [x, y] = toy_data(48, 10);
  auto [xv, yv] = toy_data(24, 10);
  train::BertTrainOptions o;
  o.epochs = 4;
  o.batch_size = 8;
  o.lr = 3e-3;
  o.verbose = 0;
  o.restore_best_weights = true;
  // Each epoch's weights, recorded by on_epoch, to compare the restored ones against.
  nn::BertClassifier clf(tiny(), 2);
  std::vector<std::vector<float>> per_epoch;
  o.on_epoch = [&](int64_t, const std::string&) {
    per_epoch.push_back(clf.state_dict().at("head.weight").to_vector<float>());
    return true;
  };
  train::BertTrainReport r = train::finetune_classifier(clf, x, y, o, xv, yv);
  ASSERT_EQ(r.epochs.size(), 4u);
  ASSERT_GE(r.best_epoch, 0);
  double best = -1;
  int64_t want = -1;
  for (size_t e = 0; e < r.epochs.size(); ++e)
    if (r.epochs[e].val_accuracy > best) best = r.epochs[e].val_accuracy, want = static_cast<int64_t>(e);
  EXPECT_EQ(r.best_epoch, want);
  EXPECT_EQ(clf.state_dict().at("head.weight").to_vector<float>(), per_epoch[static_cast<size_t>(want)]);
  EXPECT_DOUBLE_EQ(train::evaluate_classifier(clf, xv, yv).accuracy, best);

  o.on_epoch = {};
  nn::BertClassifier other(tiny(), 2);
  EXPECT_THROW(train::finetune_classifier(other, x, y, o), ValueError);
}

TEST(BertTrain, EmaEndsWithTheAverageOfEveryStepsWeights) {
  auto [x, y] = toy_data(8, 10);
  train::BertTrainOptions o;
  o.epochs = 3;
  o.batch_size = 8;  // one step per epoch: on_epoch sees each step's trained weights
  o.lr = 3e-3;
  o.verbose = 0;
  o.ema_decay = 0.6;
  nn::BertClassifier clf(tiny(), 2);
  std::vector<std::vector<float>> w = {clf.state_dict().at("head.weight").to_vector<float>()};
  o.on_epoch = [&](int64_t, const std::string&) {
    w.push_back(clf.state_dict().at("head.weight").to_vector<float>());
    return true;
  };
  train::finetune_classifier(clf, x, y, o);
  ASSERT_EQ(w.size(), 4u);
  const std::vector<float> got = clf.state_dict().at("head.weight").to_vector<float>();
  const double d = o.ema_decay;
  double changed = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double avg = w[0][i];
    for (size_t s = 1; s < w.size(); ++s) avg = d * avg + (1 - d) * w[s][i];
    EXPECT_NEAR(got[i], avg, 1e-6) << "element " << i;
    changed = std::max(changed, std::abs(static_cast<double>(got[i]) - w.back()[i]));
  }
  EXPECT_GT(changed, 1e-5);  // the averages, not the last step's weights

  // With validation and restore_best_weights: the best epoch's averages are validated, kept and restored.
  auto [xv, yv] = toy_data(24, 10);
  o.restore_best_weights = true;
  nn::BertClassifier again(tiny(), 2);
  w = {again.state_dict().at("head.weight").to_vector<float>()};
  o.on_epoch = [&](int64_t, const std::string&) {
    w.push_back(again.state_dict().at("head.weight").to_vector<float>());
    return true;
  };
  train::BertTrainReport r = train::finetune_classifier(again, x, y, o, xv, yv);
  ASSERT_GE(r.best_epoch, 0);
  const std::vector<float> restored = again.state_dict().at("head.weight").to_vector<float>();
  for (size_t i = 0; i < restored.size(); ++i) {
    double avg = w[0][i];
    for (size_t s = 1; s <= static_cast<size_t>(r.best_epoch) + 1; ++s) avg = d * avg + (1 - d) * w[s][i];
    EXPECT_NEAR(restored[i], avg, 1e-6) << "element " << i;
  }
  EXPECT_DOUBLE_EQ(train::evaluate_classifier(again, xv, yv).accuracy,
                   r.epochs[static_cast<size_t>(r.best_epoch)].val_accuracy);
}

// Distillation: a teacher that is sure of the labels gives the labels' training; a teacher that contradicts
// them, at distill_alpha 1, is what the model learns; bad teachers and options are refused.
TEST(BertTrain, DistillationFollowsTheTeachersSoftTargets) {
  auto [x, y] = toy_data(48, 10);
  const std::vector<int64_t> labels = y.to_vector<int64_t>();
  auto teacher_of = [&](bool flip) {  // logits 30 for the (flipped) label, 0 for the other class
    std::vector<float> t;
    for (int64_t l : labels) {
      const int64_t c = flip ? 1 - l : l;
      t.push_back(c == 0 ? 30.f : 0.f);
      t.push_back(c == 1 ? 30.f : 0.f);
    }
    return from_vector(t, {static_cast<int64_t>(labels.size()), 2});
  };
  train::BertTrainOptions o;
  o.epochs = 3;
  o.batch_size = 8;
  o.lr = 3e-3;
  o.verbose = 0;
  nn::BertClassifier plain(tiny(), 2), taught(tiny(), 2);
  train::finetune_classifier(plain, x, y, o);
  o.distill_alpha = 1;
  o.distill_temperature = 1;
  train::finetune_classifier(taught, x, y, o, Tensor(), Tensor(), teacher_of(false));
  const std::vector<float> a = plain.state_dict().at("head.weight").to_vector<float>(),
                           b = taught.state_dict().at("head.weight").to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5) << "element " << i;

  // Taught the opposite of every label: it agrees with the teacher on the training rows, not with the labels.
  nn::BertClassifier contrary(tiny(), 2);
  o.epochs = 12;
  train::finetune_classifier(contrary, x, y, o, Tensor(), Tensor(), teacher_of(true));
  EXPECT_LT(train::evaluate_classifier(contrary, x, y).accuracy, 0.3);  // 0.5: no preference

  nn::BertClassifier other(tiny(), 2);
  EXPECT_THROW(train::finetune_classifier(other, x, y, o, Tensor(), Tensor(), zeros({47, 2})), ShapeError);
  o.distill_alpha = 1.5;
  EXPECT_THROW(train::finetune_classifier(other, x, y, o, Tensor(), Tensor(), teacher_of(false)), ValueError);
}

TEST(BertTrain, PretrainingIsReproducibleAndLearns) {
  auto [x, y] = toy_data(64, 12);
  data::MlmMasker masker(30, 4, {0, 1, 2, 3}, {}, 9);
  train::BertTrainOptions o;
  o.epochs = 3;
  o.batch_size = 16;
  o.lr = 3e-3;
  o.verbose = 0;
  auto run = [&] {
    nn::BertForMaskedLM mlm(tiny());
    train::BertTrainReport r = train::pretrain_mlm(mlm, x, masker, o, x);
    return std::make_pair(r, mlm.state_dict().at("bert.tok.weight").clone());
  };
  auto [r1, w1] = run();
  auto [r2, w2] = run();
  EXPECT_EQ(amax(abs(sub(w1, w2))).item(), 0.0);
  ASSERT_EQ(r1.epochs.size(), 3u);
  EXPECT_EQ(r1.steps, 12);
  EXPECT_LT(r1.epochs.back().loss, r1.epochs.front().loss);
  EXPECT_GE(r1.epochs.back().val_accuracy, 0.0);
}

// data_parallel cuts each batch into parts run at once; without dropout the steps are the whole batch's: the same
// losses, accuracies and weights as one pass (up to the order of the sums), for MLM (a mean over masked tokens,
// which the parts hold in unequal numbers) and for fine-tuning with a teacher. Parts of 3, 3 and 2 rows.
TEST(BertTrain, DataParallelPartsTrainLikeOnePass) {
  auto [x, y] = toy_data(40, 12);
  data::MlmMasker masker(30, 4, {0, 1, 2, 3}, {}, 9);
  train::BertTrainOptions o;
  o.epochs = 2;
  o.batch_size = 8;
  o.lr = 1e-3;
  o.verbose = 0;
  auto close = [](const nn::Module& a, const nn::Module& b) {
    double m = 0;
    for (const auto& [name, t] : a.state_dict()) m = std::max(m, amax(abs(sub(t, b.state_dict().at(name)))).item());
    return m;
  };
  auto expect_same = [](const train::BertTrainReport& a, const train::BertTrainReport& b) {
    ASSERT_EQ(a.epochs.size(), b.epochs.size());
    for (size_t e = 0; e < a.epochs.size(); ++e) {
      EXPECT_NEAR(a.epochs[e].loss, b.epochs[e].loss, 1e-5) << "epoch " << e;
      EXPECT_EQ(a.epochs[e].accuracy, b.epochs[e].accuracy) << "epoch " << e;
    }
  };
  nn::BertForMaskedLM one(tiny()), three(tiny());
  o.data_parallel = 1;
  const train::BertTrainReport r1 = train::pretrain_mlm(one, x, masker, o);
  o.data_parallel = 3;
  const train::BertTrainReport r3 = train::pretrain_mlm(three, x, masker, o);
  expect_same(r1, r3);
  EXPECT_LT(close(one, three), 1e-4);  // lr 1e-3 a step: the parts changed nothing but rounding
  EXPECT_GT(max_change(snapshot(nn::BertForMaskedLM(tiny()).parameters()), one.parameters()), 1e-3);

  Tensor teacher = randn({40, 2});
  nn::BertClassifier c1(tiny(), 2, {.dropout = 0.0}), c3(tiny(), 2, {.dropout = 0.0});
  o.data_parallel = 1;
  const train::BertTrainReport f1 = train::finetune_classifier(c1, x, y, o, Tensor(), Tensor(), teacher);
  o.data_parallel = 3;
  const train::BertTrainReport f3 = train::finetune_classifier(c3, x, y, o, Tensor(), Tensor(), teacher);
  expect_same(f1, f3);
  EXPECT_LT(close(c1, c3), 1e-4);

  o.data_parallel = -1;
  EXPECT_THROW(train::finetune_classifier(c1, x, y, o), ValueError);
}

TEST(BertTrain, BatchesAreTrimmedToTheLongestRow) {
  Tensor ids = from_vector(std::vector<int64_t>{2, 5, 3, 0, 0, 0, 2, 5, 6, 7, 3, 0, 2, 3, 0, 0, 0, 0}, {3, 6});
  EXPECT_EQ(train::gather_trimmed_rows(ids, {0, 2}, 0).shape(), (Shape{2, 3}));
  Tensor b = train::gather_trimmed_rows(ids, {2, 1}, 0);
  EXPECT_EQ(b.to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 0, 0, 0, 2, 5, 6, 7, 3}));
  EXPECT_THROW(train::gather_trimmed_rows(ids, {3}, 0), IndexError);
}

}  // namespace

// classifier_logits batches and trims rows, and gives what the model gives each row alone in eval mode;
// evaluate_classifier's accuracy is accuracy_of those logits.
TEST(BertTrain, ClassifierLogitsMatchEachRowAlone) {
  nn::BertConfig c = tiny();
  c.dropout = 0.3;  // eval mode must switch it off
  nn::BertClassifier clf(c, 2);
  auto [x, y] = toy_data(20, 10);
  const Tensor logits = train::classifier_logits(clf, x, 7);
  ASSERT_EQ(shape_str(logits.shape()), "[20, 2]");
  EXPECT_TRUE(clf.is_training());  // restored
  clf.eval();
  NoGradGuard ng;
  for (int64_t i = 0; i < 20; ++i) {
    const Tensor one = clf.forward(train::gather_trimmed_rows(x, {i}, c.pad_id));
    EXPECT_LT(amax(abs(sub(one, logits.narrow(0, i, 1)))).item(), 1e-5) << "row " << i;
  }
  clf.train();
  EXPECT_EQ(train::evaluate_classifier(clf, x, y, 6).accuracy, train::accuracy_of(logits, y));
  EXPECT_EQ(train::accuracy_of(from_vector(std::vector<double>{0.9, 0.1, 0.2, 0.8}, {2, 2}),
                               from_vector(std::vector<int64_t>{0, 0})),
            0.5);
}
