#include <gtest/gtest.h>

#include <cmath>

#include "cairn/data/clean.h"
#include "cairn/data/csv.h"
#include "cairn/data/error.h"

namespace cairn::data {
namespace {

// Lines 2-7; line 7 duplicates line 2; lines 3, 4, 5 each miss one value.
Table train_table() {
  CsvOptions opt;
  opt.label_column = "label";
  return parse_csv(
             "age,income,city,label\n"
             "20,1000,Paris,yes\n"
             "30,,Lyon,no\n"
             ",3000,Paris,yes\n"
             "40,2000,,no\n"
             "30,1000,Paris,yes\n"
             "20,1000,Paris,yes\n",
             opt, "train.csv")
      .table;
}

Table numbers(std::vector<double> v) {
  Table t;
  t.columns.push_back({"x", ColumnType::Float, std::move(v), {}, {}});
  for (size_t i = 0; i < t.columns[0].numbers.size(); ++i) t.row_ids.push_back(int64_t(i) + 2);
  return t;
}

TEST(Clean, ImputerMeanAndModeWithReport) {
  Table t = train_table();
  Imputer imp;
  imp.fit(t);
  EXPECT_DOUBLE_EQ(imp.fill_value("age"), 28.0);      // (20+30+40+30+20) / 5
  EXPECT_DOUBLE_EQ(imp.fill_value("income"), 1600.0);  // 8000 / 5
  EXPECT_EQ(imp.fill_text("city"), "Paris");
  CleanReport r = imp.apply(t);
  EXPECT_EQ(t.column("age").numbers[2], 28.0);
  EXPECT_EQ(t.column("income").numbers[1], 1600.0);
  EXPECT_EQ(t.column("city").text(3), "Paris");
  EXPECT_EQ(t.column("age").type, ColumnType::Int);  // 28 is integral
  EXPECT_EQ(r.changed("age"), 1);
  EXPECT_EQ(r.changed("income"), 1);
  EXPECT_EQ(r.changed("city"), 1);
  EXPECT_EQ(r.changed("label"), 0);  // the label is never imputed
  std::string s = r.to_string();
  EXPECT_NE(s.find("age: 1 imputed with 28 (line 4)"), std::string::npos) << s;
  EXPECT_NE(s.find("city: 1 imputed with 'Paris' (line 5)"), std::string::npos) << s;
}

TEST(Clean, ImputerMedianModeConstantPerColumn) {
  Table t = train_table();
  Imputer imp(ImputeStrategy::Median, ImputeStrategy::Mode,
              {{"age", {ImputeStrategy::Mode, 0, ""}}, {"city", {ImputeStrategy::Constant, 0, "Unknown"}}});
  imp.fit(t);
  EXPECT_EQ(imp.fill_value("age"), 20.0);      // 20 and 30 both twice: ties go to the smaller
  EXPECT_EQ(imp.fill_value("income"), 1000.0);  // median of 1000, 1000, 1000, 2000, 3000
  imp.apply(t);
  EXPECT_EQ(t.column("city").text(3), "Unknown");
  EXPECT_EQ(t.column("city").categories.back(), "Unknown");
  Imputer mean_for_text(ImputeStrategy::Mean, ImputeStrategy::Mean);
  EXPECT_THROW(mean_for_text.fit(t), DataError);
  Table fractional = numbers({1, 2, NAN});
  fractional.columns[0].type = ColumnType::Int;
  Imputer mean;
  mean.fit(fractional);
  mean.apply(fractional);
  EXPECT_EQ(fractional.columns[0].numbers[2], 1.5);
  EXPECT_EQ(fractional.columns[0].type, ColumnType::Float);
  Imputer unfitted;
  EXPECT_THROW(unfitted.apply(t), DataError);
}

TEST(Clean, DropMissingAndDuplicates) {
  Table t = train_table();
  DropDuplicates dup;
  dup.fit(t);
  CleanReport d = dup.apply(t);
  EXPECT_EQ(d.dropped_rows, (std::vector<int64_t>{7}));
  EXPECT_EQ(d.notes, (std::vector<std::string>{"row 7 duplicates row 2"}));
  EXPECT_EQ(t.rows(), 5u);
  DropMissingRows drop;
  drop.fit(t);
  CleanReport m = drop.apply(t);
  EXPECT_EQ(m.dropped_rows, (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(t.row_ids, (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(m.rows_before, 5);
  EXPECT_EQ(m.rows_after, 2);
  Table u = train_table();
  DropMissingRows only_age({"age"});
  only_age.fit(u);
  EXPECT_EQ(only_age.apply(u).dropped_rows, (std::vector<int64_t>{4}));
  DropMissingRows bad({"nope"});
  EXPECT_THROW(bad.fit(u), DataError);
  Table nan_dups = numbers({NAN, NAN, -0.0, 0.0});
  DropDuplicates dd;
  dd.fit(nan_dups);
  EXPECT_EQ(dd.apply(nan_dups).dropped_rows, (std::vector<int64_t>{3, 5}));
}

TEST(Clean, OutliersByIqrAndZScore) {
  Table t = numbers({1, 2, 3, 4, 100, NAN});
  OutlierFilter iqr(OutlierRule::IQR, 1.5, OutlierAction::Clip);
  iqr.fit(t);
  // Q1 = 2, Q3 = 4 (linear interpolation), IQR = 2: bounds [-1, 7].
  EXPECT_EQ(iqr.bounds("x"), std::make_pair(-1.0, 7.0));
  CleanReport r = iqr.apply(t);
  EXPECT_EQ(t.columns[0].numbers[4], 7.0);
  EXPECT_TRUE(std::isnan(t.columns[0].numbers[5]));
  EXPECT_EQ(r.changed("x"), 1);
  Table d = numbers({1, 2, 3, 4, 100});
  OutlierFilter drop(OutlierRule::IQR, 1.5, OutlierAction::Drop);
  drop.fit(d);
  EXPECT_EQ(drop.apply(d).dropped_rows, (std::vector<int64_t>{6}));
  EXPECT_EQ(d.rows(), 4u);
  Table z = numbers({1, 2, 3, 4, 100});
  OutlierFilter zs(OutlierRule::ZScore, 1.5, OutlierAction::Clip);
  zs.fit(z);
  // mean 22, population variance 7610 / 5 = 1522.
  EXPECT_DOUBLE_EQ(zs.bounds("x").second, 22 + 1.5 * std::sqrt(1522.0));
  EXPECT_DOUBLE_EQ(zs.bounds("x").first, 22 - 1.5 * std::sqrt(1522.0));
  zs.apply(z);
  EXPECT_DOUBLE_EQ(z.columns[0].numbers[4], 22 + 1.5 * std::sqrt(1522.0));
}

TEST(Clean, StandardAndMinMaxScalingUseTrainingStatistics) {
  Table train = numbers({2, 4, 4, 4, 5, 5, 7, 9});
  StandardScaler std_scaler;
  std_scaler.fit(train);
  EXPECT_EQ(std_scaler.mean_std("x"), std::make_pair(5.0, 2.0));
  std_scaler.apply(train);
  EXPECT_EQ(train.columns[0].numbers, (std::vector<double>{-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2}));
  Table test = numbers({5, 11, NAN});
  CleanReport r = std_scaler.apply(test);
  EXPECT_EQ(test.columns[0].numbers[0], 0.0);
  EXPECT_EQ(test.columns[0].numbers[1], 3.0);
  EXPECT_TRUE(std::isnan(test.columns[0].numbers[2]));
  EXPECT_EQ(r.changed("x"), 2);
  Table mm_train = numbers({2, 4, 9});
  MinMaxScaler mm;
  mm.fit(mm_train);
  mm.apply(mm_train);
  EXPECT_EQ(mm_train.columns[0].numbers, (std::vector<double>{0, 2.0 / 7.0, 1}));
  Table mm_test = numbers({16});
  mm.apply(mm_test);
  EXPECT_EQ(mm_test.columns[0].numbers[0], 2.0);
  Table constant = numbers({3, 3});
  StandardScaler cs;
  cs.fit(constant);
  cs.apply(constant);
  EXPECT_EQ(constant.columns[0].numbers, (std::vector<double>{0, 0}));
}

TEST(Clean, LabelEncoderAlignsCategoriesAcrossTables) {
  Table train = train_table();
  LabelEncoder enc({}, LabelEncoder::Unknown::Missing);
  enc.fit(train);
  EXPECT_EQ(enc.classes("city"), (std::vector<std::string>{"Lyon", "Paris"}));
  EXPECT_EQ(enc.classes("label"), (std::vector<std::string>{"no", "yes"}));
  CsvOptions opt;
  opt.label_column = "label";
  Table test = parse_csv("age,income,city,label\n1,2,Paris,yes\n3,4,Nice,no\n5,6,Lyon,no\n", opt, "test.csv").table;
  EXPECT_EQ(test.column("city").categories, (std::vector<std::string>{"Lyon", "Nice", "Paris"}));
  CleanReport r = enc.apply(test);
  EXPECT_EQ(test.column("city").categories, (std::vector<std::string>{"Lyon", "Paris"}));
  EXPECT_EQ(test.column("city").codes, (std::vector<int32_t>{1, -1, 0}));
  EXPECT_EQ(r.changed("city"), 2);  // Paris 2 -> 1, Nice -> missing
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_NE(r.notes[0].find("'Nice'"), std::string::npos);
  EXPECT_NE(r.notes[0].find("line 3"), std::string::npos);
  Table strict_test = parse_csv("age,income,city,label\n1,2,Nice,yes\n", opt, "test.csv").table;
  LabelEncoder strict;
  strict.fit(train);
  try {
    strict.apply(strict_test);
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2);
  }
}

TEST(Clean, PipelineRoundTripsThroughJson) {
  auto build = [] {
    Pipeline p;
    p.add(std::make_unique<DropDuplicates>());
    p.add(std::make_unique<Imputer>(ImputeStrategy::Median, ImputeStrategy::Mode,
                                    std::map<std::string, ImputeSpec>{{"income", {ImputeStrategy::Constant, -1, ""}}}));
    p.add(std::make_unique<OutlierFilter>(OutlierRule::ZScore, 2.0, OutlierAction::Clip));
    p.add(std::make_unique<StandardScaler>(std::vector<std::string>{"age"}));
    p.add(std::make_unique<MinMaxScaler>(std::vector<std::string>{"income"}));
    p.add(std::make_unique<LabelEncoder>(std::vector<std::string>{}, LabelEncoder::Unknown::Missing));
    p.add(std::make_unique<DropMissingRows>());
    return p;
  };
  Table train = train_table();
  Pipeline p = build();
  std::vector<CleanReport> reports = p.fit_apply(train);
  ASSERT_EQ(reports.size(), 7u);
  EXPECT_EQ(reports[0].dropped_rows, (std::vector<int64_t>{7}));
  EXPECT_EQ(reports[1].changed("income"), 1);
  std::string text = p.to_json().dump();
  Pipeline q = Pipeline::from_json(nlohmann::json::parse(text));
  EXPECT_EQ(q.to_json().dump(), text);
  ASSERT_EQ(q.size(), 7u);
  CsvOptions opt;
  opt.label_column = "label";
  const char* test_csv = "age,income,city,label\n25,,Nice,no\n,5000,Paris,yes\n25,,Nice,no\n";
  Table a = parse_csv(test_csv, opt).table;
  Table b = parse_csv(test_csv, opt).table;
  p.apply(a);
  q.apply(b);
  ASSERT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.row_ids, b.row_ids);
  for (size_t c = 0; c < a.columns.size(); ++c) {
    EXPECT_EQ(a.columns[c].codes, b.columns[c].codes);
    for (size_t r = 0; r < a.rows(); ++r) {
      EXPECT_TRUE(a.columns[c].numbers.empty() || a.columns[c].numbers[r] == b.columns[c].numbers[r]);
    }
  }
  // The duplicate line 4 is dropped; "Nice" is unseen, so line 2 becomes missing and is dropped at the end.
  EXPECT_EQ(a.row_ids, (std::vector<int64_t>{3}));
  EXPECT_THROW(Pipeline::from_json(nlohmann::json::parse("{\"format\":\"other\"}")), DataError);
  EXPECT_THROW(Pipeline::from_json(nlohmann::json::parse(
                   "{\"format\":\"cairn.preprocess\",\"version\":1,\"steps\":[{\"type\":\"bogus\"}]}")),
               DataError);
  EXPECT_THROW(Pipeline::from_json(nlohmann::json::parse(
                   "{\"format\":\"cairn.preprocess\",\"version\":1,\"steps\":[{\"type\":\"impute\"}]}")),
               DataError);
}

}  // namespace
}  // namespace cairn::data
