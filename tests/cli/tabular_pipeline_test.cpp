// The CSV data pipeline end to end through `cairn train/evaluate/predict`, on a table derived from real data.
//
// Fixture: Fashion-MNIST images of four classes (T-shirt/top, Trouser, Sneaker, Bag) summarised into 19 columns:
// the mean ink of a 4x4 grid of 7x7-pixel blocks (b00..b33), the fraction of pixels above 128 (ink), the
// bounding-box aspect ratio (aspect) and a categorical shape class (wide/tall/square). Written by the test from
// /usr/share/datasets/fashion-mnist (no network), then damaged on purpose: missing values, numbers that are not
// numbers, rows with an extra field, a far outlier and duplicated rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "cairn/cli/cli.h"
#include "cli_fixture.h"
#include "cairn/data/idx.h"

namespace fs = std::filesystem;

namespace {

using cairn_test::cairn_cmd;
using cairn_test::Result;

const char* kClassNames[10] = {"tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"};

// One CSV row of features for a 28x28 image (no label).
std::string features(const uint8_t* px) {
  std::ostringstream s;
  s.precision(4);
  for (int by = 0; by < 4; ++by)
    for (int bx = 0; bx < 4; ++bx) {
      double sum = 0;
      for (int y = 0; y < 7; ++y)
        for (int x = 0; x < 7; ++x) sum += px[(by * 7 + y) * 28 + bx * 7 + x];
      s << sum / 49.0 << ",";
    }
  int ink = 0, x0 = 28, x1 = -1, y0 = 28, y1 = -1;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x)
      if (px[y * 28 + x] > 128) {
        ++ink;
        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
      }
  const double w = x1 >= x0 ? x1 - x0 + 1 : 1, h = y1 >= y0 ? y1 - y0 + 1 : 1;
  s << ink / 784.0 << "," << w / h << "," << (w > h * 1.15 ? "wide" : (h > w * 1.15 ? "tall" : "square"));
  return s.str();
}

const std::string kHeader = "b00,b01,b02,b03,b10,b11,b12,b13,b20,b21,b22,b23,b30,b31,b32,b33,ink,aspect,shape,label";

struct Fixture {
  std::vector<int> missing_lines;  // lines with an empty b12
  std::vector<int> bad_number_lines, wrong_count_lines, duplicate_lines;
};

// Writes train.csv (damaged) and test.csv (clean) from the first `n` images of each split.
Fixture write_fixture(const fs::path& dir, int n_train, int n_test) {
  auto fm = cairn::data::load_fashion_mnist();
  Fixture f;
  auto keep = [](int64_t label) { return label == 0 || label == 1 || label == 7 || label == 8; };
  std::ofstream tr(dir / "train.csv"), te(dir / "test.csv"), pr(dir / "predict.csv");
  tr << kHeader << "\n";
  te << kHeader << "\n";
  pr << kHeader.substr(0, kHeader.size() - 6) << "\n";  // no label column
  int line = 1, rows = 0;
  std::string last;
  for (int i = 0; i < n_train; ++i) {
    const int64_t label = fm.train.labels.data[i];
    if (!keep(label)) continue;
    std::string row = features(&fm.train.images.data[size_t(i) * 784]) + "," + kClassNames[label];
    ++rows;
    if (rows % 41 == 0) {  // a missing value in column b12 (the 7th field)
      size_t at = 0;
      for (int k = 0; k < 6; ++k) at = row.find(',', at) + 1;
      row = row.substr(0, at) + row.substr(row.find(',', at));
      f.missing_lines.push_back(line + 1);
    } else if (rows % 157 == 0) {  // text in a numeric column
      row = "n/a" + row.substr(row.find(','));
      f.bad_number_lines.push_back(line + 1);
    } else if (rows % 211 == 0) {  // a field too many
      row += ",extra";
      f.wrong_count_lines.push_back(line + 1);
    } else if (rows == 100) {  // a far outlier
      row = "25500" + row.substr(row.find(','));
    }
    tr << row << "\n";
    ++line;
    if (rows % 97 == 0) {  // the same row twice
      tr << row << "\n";
      ++line;
      f.duplicate_lines.push_back(line);
    }
  }
  int predicted = 0;
  for (int i = 0; i < n_test; ++i) {
    const int64_t label = fm.test.labels.data[i];
    if (!keep(label)) continue;
    std::string feat = features(&fm.test.images.data[size_t(i) * 784]);
    te << feat << "," << kClassNames[label] << "\n";
    if (predicted++ < 4) pr << feat << "\n";
  }
  return f;
}

double accuracy_in(const std::string& report) {
  std::smatch m;
  if (!std::regex_search(report, m, std::regex("accuracy\\s+([0-9.]+)"))) return -1;
  return std::stod(m[1]);
}

class TabularTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cairn_tab_" + std::to_string(::getpid()) + "_" +
                                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    fixture_ = write_fixture(dir_, 4000, 2000);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string config(const std::string& policy) {
    std::string p = (dir_ / "c.yaml").string();
    std::ofstream(p) << "name: tab\nseed: 3\n"
                        "data:\n"
                        "  dataset: csv\n"
                        "  path: " << (dir_ / "train.csv").string() << "\n"
                        "  test_path: " << (dir_ / "test.csv").string() << "\n"
                        "  label: label\n"
                        "  columns: {b00: float, shape: categorical}\n"
                        "  bad_rows: " << policy << "\n"
                        "  clean:\n"
                        "    - drop_duplicates: {}\n"
                        "    - impute: {strategy: median}\n"
                        "    - outliers: {method: zscore, threshold: 6, action: clip}\n"
                        "    - standardize: {}\n"
                        "  split: {validation: 0.1, stratify: true, seed: 1}\n"
                        "model:\n  layers:\n    - Dense: {units: 32, activation: relu}\n    - Dense: {units: 4}\n"
                        "compile:\n  optimizer: {name: adam, lr: 0.003}\n"
                        "  loss: {name: sparse_categorical_crossentropy, from_logits: true}\n  metrics: [accuracy]\n"
                        "fit:\n  epochs: 8\n  batch_size: 32\n  verbose: 2\n"
                        "outputs:\n  dir: " << (dir_ / "run").string() << "\n";
    return p;
  }
  fs::path dir_;
  Fixture fixture_;
};

std::string line_tag(int line) { return "line " + std::to_string(line) + " "; }

}  // namespace

TEST_F(TabularTest, ImputePolicyTrainsReportsAndEvaluatesWithTheSavedTransform) {
  ASSERT_FALSE(fixture_.missing_lines.empty());
  ASSERT_FALSE(fixture_.bad_number_lines.empty());
  ASSERT_FALSE(fixture_.wrong_count_lines.empty());
  Result r = cairn_cmd({"train", config("impute")});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  if (std::getenv("CAIRN_TEST_VERBOSE")) std::printf("%s", r.out.c_str());
  // Bad numbers are kept with the value imputed; rows with a lost field cannot be repaired and are skipped.
  for (int l : fixture_.bad_number_lines)
    EXPECT_NE(r.out.find(line_tag(l) + "[bad number, imputed]"), std::string::npos) << l << "\n" << r.out;
  EXPECT_NE(r.out.find(line_tag(fixture_.wrong_count_lines[0]) + "[wrong column count, skipped]"), std::string::npos) << r.out;
  // The cleaning report names the imputed column and its lines, the dropped duplicates and the clipped outlier.
  EXPECT_TRUE(std::regex_search(r.out, std::regex("b12: [0-9]+ imputed with"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("b00: [0-9]+ imputed with"))) << r.out;  // the n/a values
  EXPECT_TRUE(std::regex_search(r.out, std::regex("drop_duplicates: [0-9]+ rows -> [0-9]+ \\([0-9]+ dropped"))) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("b00: 1 outside"))) << r.out;
  const double train_acc = accuracy_in(r.out.substr(r.out.find("Test set")));
  EXPECT_GT(train_acc, 0.85) << r.out;  // four well-separated classes; chance is 0.25

  // evaluate with the recorded data section: same test rows, same (recorded, not refitted) transform.
  std::string model = (dir_ / "run" / "model.safetensors").string();
  Result e = cairn_cmd({"evaluate", model});
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("recorded in the model"), std::string::npos) << e.out;
  EXPECT_NEAR(accuracy_in(e.out), train_acc, 1e-9) << e.out;

  // evaluate on the test file alone: a refit would standardize with the test set's own statistics.
  std::ofstream(dir_ / "e.yaml") << "data:\n  dataset: csv\n  path: " << (dir_ / "test.csv").string() << "\n  label: label\n";
  e = cairn_cmd({"evaluate", model, (dir_ / "e.yaml").string()});
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NEAR(accuracy_in(e.out), train_acc, 1e-9) << e.out;
  if (std::getenv("CAIRN_TEST_VERBOSE")) std::printf("%s", e.out.c_str());

  // predict on rows without the label column.
  Result p = cairn_cmd({"predict", model, (dir_ / "predict.csv").string()});
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.out.find("3:"), std::string::npos) << p.out;
  if (std::getenv("CAIRN_TEST_VERBOSE")) std::printf("%s", p.out.c_str());
}

TEST_F(TabularTest, SkipPolicyListsEverySkippedLine) {
  Result r = cairn_cmd({"train", config("skip"), "--set", "fit.epochs=1"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (int l : fixture_.bad_number_lines)
    EXPECT_NE(r.out.find(line_tag(l) + "[bad number, skipped]"), std::string::npos) << l << "\n" << r.out;
  for (int l : fixture_.wrong_count_lines)
    EXPECT_NE(r.out.find(line_tag(l) + "[wrong column count, skipped]"), std::string::npos) << l << "\n" << r.out;
}

TEST_F(TabularTest, FailPolicyStopsAtTheFirstBadLine) {
  Result r = cairn_cmd({"train", config("fail")});
  EXPECT_NE(r.code, 0);
  const int first = std::min(fixture_.bad_number_lines[0], fixture_.wrong_count_lines[0]);
  EXPECT_NE(r.err.find("train.csv:" + std::to_string(first)), std::string::npos) << r.err;
}

TEST_F(TabularTest, UnknownDataKeyNamesKeyAndLine) {
  std::string p = (dir_ / "bad.yaml").string();
  std::ofstream(p) << "data:\n  dataset: csv\n  path: x.csv\n  label: label\n  bad_row: skip\n"
                      "model:\n  layers:\n    - Dense: {units: 4}\n";
  Result r = cairn_cmd({"train", p});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bad.yaml:5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'bad_row'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'bad_rows'"), std::string::npos) << r.err;
}

TEST_F(TabularTest, UnknownCleaningStepSuggestsOne) {
  std::string p = (dir_ / "bad.yaml").string();
  std::ofstream(p) << "data:\n  dataset: csv\n  path: " << (dir_ / "train.csv").string()
                   << "\n  label: label\n  clean:\n    - standardise: {}\n"
                      "model:\n  layers:\n    - Dense: {units: 4}\n";
  Result r = cairn_cmd({"train", p});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bad.yaml:6"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'standardize'"), std::string::npos) << r.err;
}

TEST_F(TabularTest, MissingCsvFileNamesIt) {
  std::string p = (dir_ / "m.yaml").string();
  std::ofstream(p) << "data:\n  dataset: csv\n  path: " << (dir_ / "nope.csv").string() << "\n  label: label\n"
                      "model:\n  layers:\n    - Dense: {units: 4}\n";
  Result r = cairn_cmd({"train", p});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("nope.csv"), std::string::npos) << r.err;
}

TEST_F(TabularTest, OversamplingAndUndersamplingEqualiseTheTrainingClasses) {
  for (std::string mode : {"oversample", "undersample"}) {
    Result r = cairn_cmd({"train", config("skip"), "--set", "data.balance=" + mode, "--set", "fit.epochs=1"});
    ASSERT_EQ(r.code, 0) << r.err;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(r.out, m, std::regex("classes \\(training\\): bag ([0-9]+), sneaker ([0-9]+), trouser ([0-9]+), tshirt ([0-9]+)")))
        << r.out;
    std::vector<int> counts{std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]), std::stoi(m[4])};
    const int target = mode == "oversample" ? *std::max_element(counts.begin(), counts.end()) : *std::min_element(counts.begin(), counts.end());
    EXPECT_NE(r.out.find("balance: " + mode + ": " + std::to_string(counts[0] + counts[1] + counts[2] + counts[3]) + " -> " +
                         std::to_string(4 * target) + " training examples per epoch"),
              std::string::npos)
        << r.out;
  }
}

TEST_F(TabularTest, CategoricalColumnsAsOneHotOrIndex) {
  Result r = cairn_cmd({"train", config("skip"), "--set", "fit.epochs=1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(21 features, label 'label')"), std::string::npos) << r.out;  // 18 numeric + shape as 3 one-hot
  r = cairn_cmd({"train", config("skip"), "--set", "fit.epochs=1", "--set", "data.categorical=index"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("(19 features, label 'label')"), std::string::npos) << r.out;  // shape as one index column
}
