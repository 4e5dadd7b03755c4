#include <gtest/gtest.h>

#include "cairn/core/core.h"
#include "cairn/train/metrics.h"
#include "cairn/train/progress.h"

using namespace cairn;
using namespace cairn::train;

TEST(Metrics, ConfusionMatrixPrecisionRecallF1) {
  ConfusionMatrix cm;
  // truth:     0 0 0 1 1 2
  // predicted: 0 0 1 1 2 2
  cm.add({0, 0, 0, 1, 1, 2}, {0, 0, 1, 1, 2, 2});
  EXPECT_EQ(cm.num_classes(), 3);
  EXPECT_EQ(cm.at(0, 0), 2);
  EXPECT_EQ(cm.at(0, 1), 1);
  EXPECT_NEAR(cm.accuracy(), 4.0 / 6.0, 1e-12);
  EXPECT_NEAR(cm.precision(1), 0.5, 1e-12);
  EXPECT_NEAR(cm.recall(0), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(cm.f1(2), 2 * 0.5 * 1.0 / 1.5, 1e-12);
  EXPECT_NEAR(cm.macro_f1(), (0.8 + 0.5 + 2.0 / 3.0) / 3.0, 1e-12);
  std::string rep = cm.report({"a", "b", "c"});
  EXPECT_NE(rep.find("macro avg"), std::string::npos);
  auto cm2 = ConfusionMatrix::from_flat(cm.to_flat());
  EXPECT_EQ(cm2.at(1, 2), 1);
}

TEST(Metrics, AccuracyFromLogitsAndOneHot) {
  auto acc = make_metric("accuracy");
  Tensor logits = from_vector<float>({2, 1, 0, 0, 3, 1, 5, 0, 0}, {3, 3});
  acc->update(logits, from_vector<int64_t>({0, 1, 2}));
  EXPECT_NEAR(acc->result(), 2.0 / 3.0, 1e-12);
  Tensor onehot = from_vector<float>({1, 0, 0, 0, 1, 0, 1, 0, 0}, {3, 3});
  acc->reset();
  acc->update(logits, onehot);
  EXPECT_NEAR(acc->result(), 1.0, 1e-12);
  auto st = acc->state();
  auto acc2 = make_metric("accuracy");
  acc2->set_state(st);
  EXPECT_NEAR(acc2->result(), 1.0, 1e-12);
}

TEST(Metrics, AucMatchesSklearnDefinition) {
  // sklearn.metrics.roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) == 0.75
  EXPECT_NEAR(roc_auc({0.1, 0.4, 0.35, 0.8}, {0, 0, 1, 1}), 0.75, 1e-12);
  // Ties count half.
  EXPECT_NEAR(roc_auc({0.5, 0.5}, {0, 1}), 0.5, 1e-12);
  EXPECT_THROW(roc_auc({0.1, 0.2}, {1, 1}), ValueError);
}

TEST(Metrics, UnknownMetricListsValidNames) {
  try {
    make_metric("acuracy");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("valid metrics"), std::string::npos);
  }
}

TEST(Progress, OneLinePerEpochWithoutTerminal) {
  std::FILE* f = std::tmpfile();
  ProgressBar bar(10, 1, f);  // tests never run on a terminal with CI set; the bar is not live here
  for (int i = 1; i <= 10; ++i) bar.update(i, {{"loss", 0.5}});
  bar.finish({{"loss", 0.25}, {"accuracy", 0.75}});
  std::rewind(f);
  char buf[512] = {};
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  std::string out(buf, n);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_NE(out.find("10/10"), std::string::npos) << out;
  EXPECT_NE(out.find("loss: 0.2500 - accuracy: 0.7500"), std::string::npos) << out;
}
