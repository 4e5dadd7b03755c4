// Bad rows: every reason under fail / skip / impute, with line numbers; malformed input never crashes.
#include <gtest/gtest.h>

#include <cmath>

#include "cairn/data/csv.h"
#include "cairn/data/error.h"

namespace cairn::data {
namespace {

// Line 1 header; line 3 too few fields; line 4 a bad number; line 5 an unknown label; line 6 a missing label;
// line 7 a quote inside an unquoted field; line 8 too many fields.
const char* kMessy =
    "age,city,label\n"
    "30,Paris,yes\n"
    "31,Lyon\n"
    "abc,Paris,no\n"
    "40,Nice,maybe\n"
    "41,Nice,\n"
    "4\"2,Nice,yes\n"
    "50,Paris,no,extra\n"
    "60,Lyon,no\n";

CsvOptions messy_options(BadRowPolicy policy) {
  CsvOptions opt;
  opt.label_column = "label";
  opt.label_classes = {"no", "yes"};
  opt.column_types = {{"age", ColumnType::Int}};
  opt.bad_rows = policy;
  return opt;
}

TEST(CsvBadRows, FailNamesFileLineColumnAndText) {
  try {
    parse_csv(kMessy, messy_options(BadRowPolicy::Fail), "people.csv");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(e.file(), "people.csv");
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(std::string(e.what()).find("people.csv:3: expected 3 fields"), std::string::npos) << e.what();
  }
  CsvOptions opt = messy_options(BadRowPolicy::Fail);
  try {
    parse_csv("age,city,label\n30,Paris,yes\nabc,Paris,no\n", opt, "people.csv");
    FAIL();
  } catch (const DataError& e) {
    std::string m = e.what();
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(m.find("column 'age'"), std::string::npos) << m;
    EXPECT_NE(m.find("'abc'"), std::string::npos) << m;
  }
}

TEST(CsvBadRows, SkipReportsEveryBadRowWithItsLineAndReason) {
  CsvResult r = parse_csv(kMessy, messy_options(BadRowPolicy::Skip), "people.csv");
  EXPECT_EQ(r.table.row_ids, (std::vector<int64_t>{2, 9}));
  EXPECT_EQ(r.table.labels().data, (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(r.table.column("age").numbers, (std::vector<double>{30, 60}));
  const CsvReport& rep = r.report;
  EXPECT_EQ(rep.rows_read, 8);
  EXPECT_EQ(rep.rows_kept, 2);
  EXPECT_EQ(rep.rows_skipped, 6);
  EXPECT_EQ(rep.skipped_lines, (std::vector<int64_t>{3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(rep.count(BadRowReason::WrongColumnCount), 2);
  EXPECT_EQ(rep.count(BadRowReason::BadNumber), 1);
  EXPECT_EQ(rep.count(BadRowReason::UnknownLabel), 1);
  EXPECT_EQ(rep.count(BadRowReason::MissingLabel), 1);
  EXPECT_EQ(rep.count(BadRowReason::BadQuote), 1);
  ASSERT_EQ(rep.examples.size(), 6u);
  EXPECT_EQ(rep.examples[1].line, 4);
  EXPECT_EQ(rep.examples[1].column, "age");
  EXPECT_EQ(rep.examples[1].text, "abc");
  EXPECT_EQ(rep.examples[2].reason, BadRowReason::UnknownLabel);
  EXPECT_EQ(rep.examples[2].text, "maybe");
  std::string summary = rep.to_string();
  EXPECT_NE(summary.find("line 5 [unknown label, skipped]"), std::string::npos) << summary;
  EXPECT_NE(summary.find("6 skipped"), std::string::npos) << summary;
}

TEST(CsvBadRows, ImputeKeepsRepairableRowsWithMissingValues) {
  CsvResult r = parse_csv(kMessy, messy_options(BadRowPolicy::Impute));
  // Line 3 (missing trailing label) cannot be repaired: labels are never imputed. Line 4 keeps a missing age.
  EXPECT_EQ(r.table.row_ids, (std::vector<int64_t>{2, 4, 9}));
  const Column& age = r.table.column("age");
  EXPECT_EQ(age.numbers[0], 30);
  EXPECT_TRUE(std::isnan(age.numbers[1]));
  EXPECT_EQ(r.report.rows_imputed, 1);
  EXPECT_EQ(r.report.skipped_lines, (std::vector<int64_t>{3, 5, 6, 7, 8}));
  EXPECT_EQ(r.report.count(BadRowReason::BadNumber), 1);
  EXPECT_FALSE(r.report.examples[1].skipped);
  // Too few fields without the label: padded with missing values.
  CsvOptions opt;
  opt.bad_rows = BadRowPolicy::Impute;
  CsvResult p = parse_csv("a,b,c\n1,2,3\n4\n", opt);
  EXPECT_EQ(p.table.rows(), 2u);
  EXPECT_TRUE(std::isnan(p.table.column("c").numbers[1]));
  EXPECT_EQ(p.report.count(BadRowReason::WrongColumnCount), 1);
}

TEST(CsvBadRows, SkipLimitsExamplesButCountsAll) {
  std::string text = "x\n";
  for (int i = 0; i < 100; ++i) text += i % 2 ? "1\n" : "bad\n";
  CsvOptions opt;
  opt.column_types = {{"x", ColumnType::Float}};
  opt.bad_rows = BadRowPolicy::Skip;
  opt.max_examples = 3;
  CsvResult r = parse_csv(text, opt);
  EXPECT_EQ(r.report.examples.size(), 3u);
  EXPECT_EQ(r.report.count(BadRowReason::BadNumber), 50);
  EXPECT_EQ(r.report.skipped_lines.size(), 50u);
  EXPECT_EQ(r.table.rows(), 50u);
  EXPECT_NE(r.report.to_string().find("and 47 more"), std::string::npos);
}

TEST(CsvBadRows, QuotingErrors) {
  CsvOptions opt;
  opt.bad_rows = BadRowPolicy::Skip;
  CsvResult r = parse_csv("a,b\n\"x\"y,1\n2,3\n\"open,4\n5,6\n", opt);
  // Line 2: text after a closing quote (skipped to the end of its line). Line 4: the quote never closes, so the
  // rest of the file is one bad record.
  EXPECT_EQ(r.report.count(BadRowReason::BadQuote), 2);
  EXPECT_EQ(r.report.skipped_lines, (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(r.table.row_ids, (std::vector<int64_t>{3}));
  EXPECT_NE(r.report.examples[1].message.find("unterminated"), std::string::npos);
  opt.bad_rows = BadRowPolicy::Fail;
  EXPECT_THROW(parse_csv("a,b\n\"x\"y,1\n", opt), DataError);
  EXPECT_THROW(parse_csv("a,\"b\n1,2\n", opt), DataError);  // malformed header
}

TEST(CsvBadRows, OutOfRangeNumbers) {
  CsvOptions opt;
  opt.column_types = {{"x", ColumnType::Float}};
  opt.bad_rows = BadRowPolicy::Skip;
  CsvResult r = parse_csv("x\n1e999\n2\n", opt);
  EXPECT_EQ(r.report.count(BadRowReason::BadNumber), 1);
  EXPECT_NE(r.report.examples[0].message.find("outside the range"), std::string::npos);
}

// Regression: a record with the wrong field count used to vote in type inference, so the text in it turned the
// numeric columns categorical even though the record itself was then skipped.
TEST(CsvBadRows, WrongFieldCountTakesNoPartInTypeInference) {
  const std::string too_many = "a,b,label\n1,2,x\nfoo,bar,baz,qux\n3,4.5,y\n";
  const std::string too_few = "a,b,label\n1,2,x\nfoo,bar\n3,4.5,y\n";
  for (const std::string& text : {too_many, too_few}) {
    for (BadRowPolicy policy : {BadRowPolicy::Skip, BadRowPolicy::Impute}) {
      CsvOptions opt;
      opt.bad_rows = policy;
      CsvResult r = parse_csv(text, opt);
      SCOPED_TRACE(text);
      EXPECT_EQ(r.table.column("a").type, ColumnType::Int);
      EXPECT_EQ(r.table.column("b").type, ColumnType::Float);
      EXPECT_EQ(r.table.column("label").type, ColumnType::Categorical);
      EXPECT_EQ(r.table.column("label").categories, (std::vector<std::string>{"x", "y"}));
      EXPECT_EQ(r.report.count(BadRowReason::WrongColumnCount), 1);
      if (policy == BadRowPolicy::Skip || text == too_many) {
        EXPECT_EQ(r.table.row_ids, (std::vector<int64_t>{2, 4}));
        EXPECT_EQ(r.table.column("a").numbers, (std::vector<double>{1, 3}));
      } else {
        // Impute keeps the short record: its unparsable numbers become missing, not categories.
        EXPECT_EQ(r.table.row_ids, (std::vector<int64_t>{2, 3, 4}));
        EXPECT_TRUE(std::isnan(r.table.column("a").numbers[1]));
        EXPECT_EQ(r.table.column("label").codes[1], -1);
      }
    }
    CsvOptions fail;
    fail.bad_rows = BadRowPolicy::Fail;
    try {
      parse_csv(text, fail, "q.csv");
      FAIL() << "a wrong field count must fail under bad_rows = fail";
    } catch (const DataError& e) {
      EXPECT_EQ(e.line(), 3);
      EXPECT_NE(std::string(e.what()).find("expected 3 fields"), std::string::npos) << e.what();
    }
  }
}

// Every prefix of a tricky file, under every policy and delimiter: either a result or a DataError, and a
// result always has consistent columns.
TEST(CsvBadRows, EveryPrefixParsesOrThrowsDataError) {
  const std::string text =
      "\xEF\xBB\xBF" "n,s,label\r\n1.5,\"a,\"\"b\"\"\r\nc\",x\r\n-2e3,plain,y\r\n\r\n,\"\",x\r\nNaN,\"q\"q,y\r\n7,,\r\n8,z,x,extra\n";
  for (size_t n = 0; n <= text.size(); ++n) {
    for (BadRowPolicy policy : {BadRowPolicy::Fail, BadRowPolicy::Skip, BadRowPolicy::Impute}) {
      CsvOptions opt;
      opt.bad_rows = policy;
      opt.label_column = n > 20 ? "label" : "";
      try {
        CsvResult r = parse_csv(text.substr(0, n), opt);
        r.table.check_consistent();
        EXPECT_EQ(r.report.rows_kept + r.report.rows_skipped, r.report.rows_read);
      } catch (const DataError&) {
      }
    }
  }
}

}  // namespace
}  // namespace cairn::data
