// UTF-8 helpers and the generated Unicode tables (spot checks against values from Python's unicodedata).
#include "cairn/text/unicode.h"
#include "cairn/text/utf8.h"
#include "test_util.h"

namespace cairn::text {
namespace {

TEST(Utf8, ValidityFollowsTheStandard) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("é中😀\xF4\x8F\xBF\xBF"));  // up to U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));              // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));          // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));      // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("abc\xE4\xB8"));           // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));                  // lone continuation
  EXPECT_EQ(first_invalid_utf8("ok\xFFok"), 2u);
}

TEST(Utf8, Latin1Conversion) {
  EXPECT_EQ(latin1_to_utf8("caf\xe9 na\xefve \xa0\xff"), "café naïve \u00a0ÿ");
  EXPECT_EQ(latin1_to_utf8("ascii"), "ascii");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string utf8 = latin1_to_utf8(all);
  EXPECT_TRUE(is_valid_utf8(utf8));
  std::u32string cps = to_utf32(utf8, "test");
  ASSERT_EQ(cps.size(), 256u);
  for (int b = 0; b < 256; ++b) EXPECT_EQ(cps[b], static_cast<char32_t>(b));
}

TEST(Utf8, Utf8OrLatin1) {
  EXPECT_EQ(utf8_or_latin1("caf\xe9"), "café");     // not UTF-8: latin-1
  EXPECT_EQ(utf8_or_latin1("café – ok"), "café – ok");  // valid UTF-8 is kept
  // The shared copy of the MR data is UTF-8 (it has characters such as U+2013 that latin-1 lacks); the original
  // distribution is latin-1. Either way the result is valid UTF-8 and, for the UTF-8 copy, unchanged.
  const std::string path = testing::shared_data("rt-polarity.pos");
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no MR data";
  std::string raw = testing::read_bytes(path);
  std::string text = utf8_or_latin1(raw);
  EXPECT_TRUE(is_valid_utf8(text));
  if (is_valid_utf8(raw)) {
    EXPECT_EQ(text, raw);
  }
}

TEST(Unicode, Categories) {
  using unicode::Category;
  EXPECT_EQ(unicode::category(U'A'), Category::Lu);
  EXPECT_EQ(unicode::category(U'é'), Category::Ll);
  EXPECT_EQ(unicode::category(U'中'), Category::Lo);
  EXPECT_EQ(unicode::category(U'٣'), Category::Nd);
  EXPECT_EQ(unicode::category(U'Ⅻ'), Category::Nl);
  EXPECT_EQ(unicode::category(U'½'), Category::No);
  EXPECT_EQ(unicode::category(0x0301), Category::Mn);
  EXPECT_EQ(unicode::category(U'—'), Category::Pd);
  EXPECT_EQ(unicode::category(U'$'), Category::Sc);
  EXPECT_EQ(unicode::category(0x00A0), Category::Zs);
  EXPECT_EQ(unicode::category(0x00AD), Category::Cf);
  EXPECT_EQ(unicode::category(0x0378), Category::Cn);  // unassigned
  EXPECT_EQ(unicode::category(0x10FFFF), Category::Cn);
  EXPECT_EQ(unicode::category(0x110000), Category::Cn);
  EXPECT_EQ(unicode::category(U'😀'), Category::So);
  EXPECT_TRUE(unicode::is_js_whitespace(0xFEFF));
  EXPECT_FALSE(unicode::is_js_whitespace(0x0085));
  EXPECT_TRUE(unicode::is_python_whitespace(0x0085));
  EXPECT_TRUE(unicode::is_python_whitespace(0x1F));
}

TEST(Unicode, NfdAndLowerCase) {
  EXPECT_EQ(unicode::nfd(U"é"), U"e\u0301");
  EXPECT_EQ(unicode::nfd(U"ǟ"), U"a\u0308\u0304");                 // recursive decomposition
  EXPECT_EQ(unicode::nfd(U"ệ"), U"e\u0323\u0302");                 // ccc 220 before 230
  EXPECT_EQ(unicode::nfd(U"e\u0302\u0323"), U"e\u0323\u0302");     // canonical reordering
  EXPECT_EQ(unicode::nfd(U"한"), U"\u1112\u1161\u11AB");            // Hangul LVT
  EXPECT_EQ(unicode::nfd(U"\u212B"), U"A\u030A");                  // Angstrom sign (singleton)
  EXPECT_EQ(unicode::nfd(U"ﬁ"), U"ﬁ");                             // compatibility only: NFD keeps it
  EXPECT_EQ(unicode::lower(U"HÉLLO İ ΣΑΣ Σ"), U"héllo i\u0307 σας σ");
  EXPECT_EQ(unicode::lower(U"ΑΣ'Σ"), U"ασ'ς");  // ' is case-ignorable: the first Σ is followed by a cased letter
}

}  // namespace
}  // namespace cairn::text
