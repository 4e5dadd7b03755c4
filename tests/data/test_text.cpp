#include <gtest/gtest.h>

#include "cairn/data/error.h"
#include "cairn/data/text.h"
#include "test_util.h"

namespace cairn::data {
namespace {

TEST(TextData, LabeledLinesWithSortedClasses) {
  TextDataset ds = parse_labeled_lines("pos\tgreat film\r\nneg\tdull\n\n  \nneg\tawful\tand long\n", {}, "reviews.tsv");
  ASSERT_EQ(ds.size(), 3u);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{1, 0, 0}));
  EXPECT_EQ(ds.texts[2], "awful\tand long");
  EXPECT_EQ(ds.sources[2], "reviews.tsv:5");
}

TEST(TextData, LabelLastAndDeclaredClasses) {
  LabeledLinesOptions opt;
  opt.separator = ',';
  opt.label_first = false;
  opt.classes = {"spam", "ham"};
  TextDataset ds = parse_labeled_lines("buy now, cheap,spam\nhello there,ham\n", opt);
  EXPECT_EQ(ds.texts[0], "buy now, cheap");
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{0, 1}));
  try {
    parse_labeled_lines("hi,ham\nyo,eggs\n", opt, "m.csv");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("m.csv:2"), std::string::npos) << e.what();
  }
}

TEST(TextData, MalformedLinesNameTheLine) {
  try {
    parse_labeled_lines("pos\tok\nno separator here\n", {}, "x.tsv");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_EQ(e.file(), "x.tsv");
  }
  EXPECT_THROW(parse_labeled_lines("\ttext\n"), DataError);
}

TEST(TextData, FilePerLabelKeepsLatin1BytesAndConverts) {
  testing::TempDir dir;
  testing::write_bytes(dir / "rt.pos", std::string("a caf\xE9 gem\nsimply good\n"));
  testing::write_bytes(dir / "rt.neg", std::string("bad\n\nna\xEFve plot\n"));
  TextDataset ds = load_text_per_label({{"neg", dir / "rt.neg"}, {"pos", dir / "rt.pos"}});
  ASSERT_EQ(ds.size(), 4u);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(ds.texts[1], "na\xEFve plot");  // bytes kept as in the file
  EXPECT_FALSE(is_valid_utf8(ds.texts[1]));
  EXPECT_EQ(convert_latin1_to_utf8(ds), 2u);
  EXPECT_EQ(ds.texts[1], "na\xC3\xAFve plot");
  EXPECT_EQ(ds.texts[2], "a caf\xC3\xA9 gem");
  EXPECT_EQ(convert_latin1_to_utf8(ds), 0u);  // already UTF-8
  EXPECT_THROW(load_text_per_label({{"x", dir / "missing"}}), DataError);
}

TEST(TextData, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("\xE2\x82\xAC \xF0\x9F\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // truncated
  EXPECT_EQ(latin1_to_utf8("\xFF"), "\xC3\xBF");
}

TEST(TextData, JsonLines) {
  std::vector<nlohmann::json> v = parse_jsonl("{\"a\":1}\n\n[1,2]\r\n\"s\"\n");
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0]["a"], 1);
  try {
    parse_jsonl("{\"a\":1}\n{\"a\":\n", "d.jsonl");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2);
    EXPECT_NE(std::string(e.what()).find("d.jsonl:2: invalid JSON"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_jsonl("1e99999\n"), DataError);
}

TEST(TextData, JsonLinesLabeled) {
  TextDataset s = parse_jsonl_labeled("{\"text\":\"good\",\"label\":\"pos\"}\n{\"text\":\"bad\",\"label\":\"neg\"}\n");
  EXPECT_EQ(s.class_names, (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(s.labels, (std::vector<int64_t>{1, 0}));
  TextDataset n = parse_jsonl_labeled("{\"body\":\"x\",\"y\":2}\n{\"body\":\"z\",\"y\":0}\n", "body", "y");
  EXPECT_EQ(n.labels, (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(n.class_names.size(), 3u);
  EXPECT_THROW(parse_jsonl_labeled("{\"text\":\"x\"}\n"), DataError);
  EXPECT_THROW(parse_jsonl_labeled("[1]\n"), DataError);
  EXPECT_THROW(parse_jsonl_labeled("{\"text\":\"x\",\"label\":-1}\n"), DataError);
  try {
    parse_jsonl_labeled("{\"text\":\"a\",\"label\":\"p\"}\n{\"text\":\"b\",\"label\":1}\n", "text", "label", "m.jsonl");
    FAIL();
  } catch (const DataError& e) {
    EXPECT_EQ(e.line(), 2);
  }
}

}  // namespace
}  // namespace cairn::data
