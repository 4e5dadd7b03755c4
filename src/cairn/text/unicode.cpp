#include "cairn/text/unicode.h"

#include <algorithm>
#include <array>

namespace cairn::text::unicode {
namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;

// Hangul syllable decomposition constants (Unicode chapter 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

// Index of the run holding cp in a table of runs sorted by their first code point (the first run starts at 0).
template <typename Run>
const Run& find_run(const Run* runs, std::size_t count, char32_t cp) {
  const Run* end = runs + count;
  const Run* it = std::upper_bound(runs, end, cp, [](char32_t c, const Run& r) { return c < r.first; });
  return *(it - 1);
}

// Properties stored as the sorted code points where they switch (off at U+0000).
bool toggled_on(const char32_t* toggles, std::size_t count, char32_t cp) {
  return (std::upper_bound(toggles, toggles + count, cp) - toggles) % 2 == 1;
}
bool is_cased(char32_t cp) { return toggled_on(tables::kCasedToggles, tables::kCasedToggleCount, cp); }
bool is_case_ignorable(char32_t cp) {
  return toggled_on(tables::kCaseIgnorableToggles, tables::kCaseIgnorableToggleCount, cp);
}

// CPython's handle_capital_sigma: \p{cased}\p{case-ignorable}* U+03A3 !(\p{case-ignorable}*\p{cased}).
bool is_final_sigma(std::u32string_view text, std::size_t i) {
  std::size_t j = i;
  while (j > 0 && is_case_ignorable(text[j - 1])) --j;
  if (j == 0 || !is_cased(text[j - 1])) return false;
  j = i + 1;
  while (j < text.size() && is_case_ignorable(text[j])) ++j;
  return j == text.size() || !is_cased(text[j]);
}

}  // namespace

std::u32string lower(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == 0x03A3 && is_final_sigma(text, i)) {
      out.push_back(0x03C2);
    } else {
      append_lower(text[i], out);
    }
  }
  return out;
}

Category category(char32_t cp) {
  // Latin-1 is most of most corpora: answer it from a small table instead of a binary search.
  static const auto latin1 = [] {
    std::array<Category, 256> t{};
    for (char32_t c = 0; c < 256; ++c) t[c] = find_run(tables::kCategoryRuns, tables::kCategoryRunCount, c).category;
    return t;
  }();
  if (cp < 256) return latin1[cp];
  if (cp > kMaxCodePoint) return Category::Cn;
  return find_run(tables::kCategoryRuns, tables::kCategoryRunCount, cp).category;
}

std::uint8_t combining_class(char32_t cp) {
  if (cp < 0x300 || cp > kMaxCodePoint) return 0;  // nothing below U+0300 combines
  return find_run(tables::kCccRuns, tables::kCccRunCount, cp).ccc;
}

void append_lower(char32_t cp, std::u32string& out) {
  if (cp < 0x80) {  // fast path: ASCII is most of every corpus
    out.push_back(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    return;
  }
  const LowerEntry* end = tables::kLowerMap + tables::kLowerMapCount;
  const LowerEntry* it =
      std::lower_bound(tables::kLowerMap, end, cp, [](const LowerEntry& e, char32_t c) { return e.cp < c; });
  if (it == end || it->cp != cp) {
    out.push_back(cp);
    return;
  }
  out.push_back(it->lower1);
  if (it->lower2 != 0) out.push_back(it->lower2);
}

std::u32string nfd(std::u32string_view text) {
  std::u32string out;
  out.reserve(text.size() + text.size() / 4);
  const NfdEntry* index_end = tables::kNfdIndex + tables::kNfdIndexCount;
  for (char32_t cp : text) {
    if (cp < 0xC0) {  // nothing below U+00C0 decomposes
      out.push_back(cp);
    } else if (cp >= kSBase && cp < kSBase + kSCount) {
      char32_t s = cp - kSBase;
      out.push_back(kLBase + s / kNCount);
      out.push_back(kVBase + (s % kNCount) / kTCount);
      if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    } else {
      const NfdEntry* it = std::lower_bound(tables::kNfdIndex, index_end, cp,
                                            [](const NfdEntry& e, char32_t c) { return e.cp < c; });
      if (it != index_end && it->cp == cp) {
        out.append(tables::kNfdPool + it->offset, it->length);
      } else {
        out.push_back(cp);
      }
    }
  }
  // Canonical ordering: every maximal run of non-starters is stably sorted by combining class.
  std::size_t i = 0;
  while (i < out.size()) {
    if (combining_class(out[i]) == 0) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < out.size() && combining_class(out[j]) != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(out.begin() + static_cast<std::ptrdiff_t>(i), out.begin() + static_cast<std::ptrdiff_t>(j),
                       [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    }
    i = j;
  }
  return out;
}

bool is_python_whitespace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D:
    case 0x1C: case 0x1D: case 0x1E: case 0x1F: case 0x20: case 0x85:
    case 0x2028: case 0x2029:
      return true;
    default:
      return cp > 0x20 && is_space_separator(cp);
  }
}

bool is_js_whitespace(char32_t cp) {
  switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
    case 0x2028: case 0x2029: case 0xFEFF:
      return true;
    default:
      return cp > 0x20 && is_space_separator(cp);
  }
}

}  // namespace cairn::text::unicode
