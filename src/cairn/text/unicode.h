#pragma once
// Unicode character data for the tokenizers: general categories, lower-casing and canonical decomposition (NFD).
//
// The data comes from Python's unicodedata (version in tables::kUnicodeVersion) through the committed generator
// gen_unicode_tables.py, because the references the tokenizers must match (GPT-2's regex, BERT's
// BasicTokenizer) are defined in terms of those categories; std::regex and <cwctype> know nothing of them.
// Every function is total over char32_t: values above U+10FFFF are treated as unassigned (category Cn).
#include <cstddef>
#include <cstdint>
#include <string>

namespace cairn::text::unicode {

enum class Category : std::uint8_t {
  Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe,
  Pi, Pf, Po, Sm, Sc, Sk, So, Zs, Zl, Zp, Cc, Cf, Cs, Co, Cn
};

Category category(char32_t cp);
inline bool is_letter(char32_t cp) { return category(cp) <= Category::Lo; }  // \p{L}
inline bool is_number(char32_t cp) {                                         // \p{N}
  Category c = category(cp);
  return c >= Category::Nd && c <= Category::No;
}
inline bool is_nonspacing_mark(char32_t cp) { return category(cp) == Category::Mn; }
inline bool is_punctuation_category(char32_t cp) {  // P* (BERT adds ASCII symbols itself)
  Category c = category(cp);
  return c >= Category::Pc && c <= Category::Po;
}
inline bool is_other_category(char32_t cp) { return category(cp) >= Category::Cc; }  // C*: Cc Cf Cs Co Cn
inline bool is_space_separator(char32_t cp) { return category(cp) == Category::Zs; }

// Canonical combining class (0 for starters).
std::uint8_t combining_class(char32_t cp);

// Appends the per-character lower case of cp (one or two code points; Python's chr(cp).lower()) to out.
void append_lower(char32_t cp, std::u32string& out);

// Python's str.lower() of a whole string: per character, except that a capital sigma that ends a word becomes
// the final sigma (Unicode's Final_Sigma context), as BERT's lower-casing of a token does.
std::u32string lower(std::u32string_view text);

// Canonical decomposition (NFD) of a whole string, with canonical reordering of combining marks;
// Hangul syllables are decomposed into conjoining jamo as the standard requires.
std::u32string nfd(std::u32string_view text);

// Python's str.isspace() for one code point (what BERT's whitespace_tokenize splits on).
bool is_python_whitespace(char32_t cp);

// ECMAScript's \s (WhiteSpace and LineTerminator), which the GPT-2 reference encoder (JavaScript) uses; it differs
// from Python regex's \s only at U+0085 (not \s here) and U+FEFF (\s here).
bool is_js_whitespace(char32_t cp);

// The generated data (implementation detail, defined in unicode_tables.cpp).
struct CategoryRun { char32_t first; Category category; };
struct CccRun { char32_t first; std::uint8_t ccc; };
struct LowerEntry { char32_t cp; char32_t lower1; char32_t lower2; };  // lower2 == 0: one code point
struct NfdEntry { char32_t cp; std::uint16_t offset; std::uint8_t length; };
namespace tables {
extern const char* const kUnicodeVersion;
extern const CategoryRun kCategoryRuns[];
extern const std::size_t kCategoryRunCount;
extern const CccRun kCccRuns[];
extern const std::size_t kCccRunCount;
extern const LowerEntry kLowerMap[];
extern const std::size_t kLowerMapCount;
extern const NfdEntry kNfdIndex[];
extern const std::size_t kNfdIndexCount;
extern const char32_t kNfdPool[];
extern const char32_t kCasedToggles[];
extern const std::size_t kCasedToggleCount;
extern const char32_t kCaseIgnorableToggles[];
extern const std::size_t kCaseIgnorableToggleCount;
}  // namespace tables

}  // namespace cairn::text::unicode
