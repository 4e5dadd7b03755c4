#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cairn/data/csv.h"
#include "cairn/data/error.h"
#include "test_util.h"

namespace cairn::data {
namespace {

TEST(Csv, ParsesNumbersAndInfersTypes) {
  CsvResult r = parse_csv("a,b,c\n1,2.5,x\n-3,1e3,y\n+4, 7 ,x\n");
  const Table& t = r.table;
  ASSERT_EQ(t.rows(), 3u);
  EXPECT_EQ(t.column("a").type, ColumnType::Int);
  EXPECT_EQ(t.column("b").type, ColumnType::Float);
  EXPECT_EQ(t.column("c").type, ColumnType::Categorical);
  EXPECT_EQ(t.column("a").numbers, (std::vector<double>{1, -3, 4}));
  EXPECT_EQ(t.column("b").numbers, (std::vector<double>{2.5, 1000, 7}));
  EXPECT_EQ(t.column("c").categories, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(t.column("c").codes, (std::vector<int32_t>{0, 1, 0}));
  EXPECT_EQ(t.row_ids, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(r.report.rows_read, 3);
  EXPECT_EQ(r.report.rows_kept, 3);
}

TEST(Csv, ExactFloatParsingMatchesStrtod) {
  // Fast path and fallback (long mantissas, big exponents) must both round correctly.
  std::string text = "v\n";
  std::vector<std::string> values = {"0.1", "123456.789012", "-0.000001", "1e22", "1e23", "1.7976931348623157e308",
                                     "4.9e-324", "0.30000000000000004", "12345678901234567890", "2.5E-3", "9007199254740993",
                                     "-0", ".5", "5."};
  for (const std::string& v : values) text += v + "\n";
  CsvResult r = parse_csv(text);
  const Column& c = r.table.column("v");
  ASSERT_EQ(c.numbers.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(c.numbers[i], std::strtod(values[i].c_str(), nullptr)) << values[i];
  }
  EXPECT_TRUE(std::signbit(c.numbers[11]));
}

TEST(Csv, Rfc4180QuotingCrlfAndEmbeddedNewlines) {
  std::string text = "id,text,n\r\n1,\"hello, world\",2\r\n2,\"say \"\"hi\"\"\",3\r\n3,\"two\r\nlines\",4\r\n4,plain,5";
  CsvResult r = parse_csv(text);
  const Table& t = r.table;
  ASSERT_EQ(t.rows(), 4u);
  const Column& c = t.column("text");
  std::vector<std::string> got;
  for (size_t i = 0; i < 4; ++i) got.push_back(c.text(i));
  EXPECT_EQ(got, (std::vector<std::string>{"hello, world", "say \"hi\"", "two\r\nlines", "plain"}));
  EXPECT_EQ(t.column("n").numbers, (std::vector<double>{2, 3, 4, 5}));
  // The quoted newline spans lines 4-5, so the last record starts on line 6.
  EXPECT_EQ(t.row_ids, (std::vector<int64_t>{2, 3, 4, 6}));
}

TEST(Csv, QuotedNumbersAreNumbers) {
  CsvResult r = parse_csv("x,y\n\"1.5\",\"2\"\n3,4\n");
  EXPECT_EQ(r.table.column("x").numbers, (std::vector<double>{1.5, 3}));
  EXPECT_EQ(r.table.column("y").type, ColumnType::Int);
}

TEST(Csv, DelimiterMissingTokensBomAndBlankLines) {
  CsvOptions opt;
  opt.delimiter = ';';
  opt.missing_tokens = {"", "NA", "-"};
  CsvResult r = parse_csv("\xEF\xBB\xBF" "a;b\n1;NA\n\n-;x\n3;\n", opt);
  const Table& t = r.table;
  ASSERT_EQ(t.rows(), 3u);
  EXPECT_EQ(t.column_names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(std::isnan(t.column("a").numbers[1]));
  EXPECT_EQ(t.column("b").codes, (std::vector<int32_t>{-1, 0, -1}));
  EXPECT_EQ(r.report.blank_lines, 1);
  EXPECT_EQ(t.row_ids, (std::vector<int64_t>{2, 4, 5}));
  EXPECT_EQ(r.report.missing_per_column[0].second, 1);
  EXPECT_EQ(r.report.missing_per_column[1].second, 2);
}

TEST(Csv, DefaultMissingTokensAndNanText) {
  CsvResult r = parse_csv("a\n1\nNA\nNaN\n?\nnan\n\"\"\n2\n");
  const Column& a = r.table.column("a");
  EXPECT_EQ(a.type, ColumnType::Int);
  EXPECT_EQ(a.count_missing(), 5u);
  EXPECT_EQ(a.numbers.front(), 1);
  EXPECT_EQ(a.numbers.back(), 2);
}

TEST(Csv, DeclaredTypesOverrideInference) {
  CsvOptions opt;
  opt.column_types = {{"zip", ColumnType::Categorical}, {"n", ColumnType::Float}};
  CsvResult r = parse_csv("zip,n\n75001,1\n10115,2\n75001,3\n", opt);
  EXPECT_EQ(r.table.column("zip").categories, (std::vector<std::string>{"10115", "75001"}));
  EXPECT_EQ(r.table.column("zip").codes, (std::vector<int32_t>{1, 0, 1}));
  EXPECT_EQ(r.table.column("n").type, ColumnType::Float);
  opt.column_types = {{"nope", ColumnType::Float}};
  EXPECT_THROW(parse_csv("zip,n\n1,2\n", opt), DataError);
}

TEST(Csv, IntColumnBecomesFloatOnFractionsAfterTheSample) {
  CsvOptions opt;
  opt.infer_rows = 2;
  CsvResult r = parse_csv("a\n1\n2\n3\n4.5\n", opt);
  EXPECT_EQ(r.table.column("a").type, ColumnType::Float);
  EXPECT_EQ(r.table.column("a").numbers, (std::vector<double>{1, 2, 3, 4.5}));
}

TEST(Csv, HeaderlessAndDuplicateNames) {
  CsvOptions opt;
  opt.header = false;
  CsvResult r = parse_csv("1,2\n3,4\n", opt);
  EXPECT_EQ(r.table.column_names(), (std::vector<std::string>{"column_0", "column_1"}));
  EXPECT_EQ(r.table.rows(), 2u);
  EXPECT_EQ(r.table.row_ids, (std::vector<int64_t>{1, 2}));
  CsvResult d = parse_csv("x,x,,x\n1,2,3,4\n");
  EXPECT_EQ(d.table.column_names(), (std::vector<std::string>{"x", "x.1", "Unnamed: 2", "x.2"}));
  EXPECT_THROW(parse_csv(""), DataError);
  EXPECT_THROW(parse_csv("\n\n"), DataError);
  CsvResult empty = parse_csv("a,b\n");
  EXPECT_EQ(empty.table.rows(), 0u);
}

TEST(Csv, LabelsClassNamesAndMatrices) {
  CsvOptions opt;
  opt.label_column = "y";
  CsvResult r = parse_csv("f,color,y\n1.5,red,dog\n2,blue,cat\n-1,red,dog\n", opt);
  const Table& t = r.table;
  EXPECT_EQ(t.labels().data, (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(t.class_names(), (std::vector<std::string>{"cat", "dog"}));
  Array<float> onehot = t.to_matrix();
  EXPECT_EQ(onehot.shape, (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(onehot.data, (std::vector<float>{1.5f, 0, 1, 2, 1, 0, -1, 0, 1}));
  Array<float> index = t.to_matrix({"color", "f"}, CategoricalEncoding::Index);
  EXPECT_EQ(index.data, (std::vector<float>{1, 1.5f, 0, 2, 1, -1}));
  EXPECT_EQ(t.one_hot("y").data, (std::vector<float>{0, 1, 1, 0, 0, 1}));
  EXPECT_THROW(t.one_hot("f"), DataError);
  // Declared label classes fix the indices in the given order.
  opt.label_classes = {"dog", "cat", "bird"};
  CsvResult d = parse_csv("f,color,y\n1.5,red,dog\n2,blue,cat\n", opt);
  EXPECT_EQ(d.table.labels().data, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(d.table.class_names(), (std::vector<std::string>{"dog", "cat", "bird"}));
}

TEST(Csv, MatrixRefusesMissingValuesNamingTheLine) {
  CsvResult r = parse_csv("a,b\n1,2\n3,\n");
  try {
    r.table.to_matrix();
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 3);
    EXPECT_NE(std::string(e.what()).find("column 'b'"), std::string::npos) << e.what();
  }
}

TEST(Csv, ReadsFilesThroughMmap) {
  testing::TempDir dir;
  testing::write_bytes(dir / "t.csv", std::string("a,b\n1,x\n2,y\n"));
  CsvResult r = read_csv(dir / "t.csv");
  EXPECT_EQ(r.table.rows(), 2u);
  EXPECT_EQ(r.table.source, (dir / "t.csv").string());
  EXPECT_THROW(read_csv(dir / "missing.csv"), DataError);
  testing::write_bytes(dir / "empty.csv", std::string());
  EXPECT_THROW(read_csv(dir / "empty.csv"), DataError);
}

// A file big enough to be split across threads must give exactly the single-threaded result, including
// categorical indices and the line numbers of bad rows in the later chunks.
TEST(Csv, MultiThreadedChunksMatchSingleThread) {
  std::mt19937 rng(7);
  std::string text = "x,y,cat,label\n";
  const char* cats[] = {"alpha", "beta", "gamma", "delta"};
  int line = 1;
  std::vector<int> bad_lines;
  while (text.size() < (3u << 20)) {
    ++line;
    if (line % 9973 == 0) {
      text += "oops,1,alpha,0\n";
      bad_lines.push_back(line);
      continue;
    }
    text += std::to_string(int(rng() % 100000) - 50000) + "." + std::to_string(rng() % 1000) + "," +
            std::to_string(rng() % 7) + "," + cats[rng() % 4] + "," + std::to_string(rng() % 3) + "\n";
    if (line % 5000 == 0) text += "\n", ++line;
  }
  CsvOptions opt;
  opt.bad_rows = BadRowPolicy::Skip;
  opt.label_column = "label";
  opt.infer_rows = 1000;  // before the first bad row, so x is inferred numeric
  opt.threads = 1;
  CsvResult one = parse_csv(text, opt);
  opt.threads = 2;
  CsvResult two = parse_csv(text, opt);
  EXPECT_EQ(one.report.threads_used, 1);
  EXPECT_EQ(two.report.threads_used, 2);
  ASSERT_EQ(one.table.rows(), two.table.rows());
  EXPECT_EQ(one.table.row_ids, two.table.row_ids);
  for (size_t c = 0; c < one.table.columns.size(); ++c) {
    EXPECT_EQ(one.table.columns[c].numbers, two.table.columns[c].numbers);
    EXPECT_EQ(one.table.columns[c].codes, two.table.columns[c].codes);
    EXPECT_EQ(one.table.columns[c].categories, two.table.columns[c].categories);
    EXPECT_EQ(one.table.columns[c].type, two.table.columns[c].type);
  }
  std::vector<int64_t> expected(bad_lines.begin(), bad_lines.end());
  EXPECT_EQ(one.report.skipped_lines, expected);
  EXPECT_EQ(two.report.skipped_lines, expected);
  EXPECT_EQ(two.report.blank_lines, one.report.blank_lines);
  // With fail, both report the first bad line.
  opt.bad_rows = BadRowPolicy::Fail;
  for (int threads : {1, 2}) {
    opt.threads = threads;
    try {
      parse_csv(text, opt);
      FAIL();
    } catch (const DataError& e) {
      EXPECT_EQ(e.line(), bad_lines.front());
    }
  }
}

}  // namespace
}  // namespace cairn::data
