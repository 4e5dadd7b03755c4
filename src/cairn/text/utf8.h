#pragma once
// UTF-8 helpers for the tokenizers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::text {

// True when s is well-formed UTF-8: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above U+10FFFF,
// no truncated sequence.
bool is_valid_utf8(std::string_view s);

// Byte offset of the first ill-formed sequence in s, or s.size() when s is valid.
std::size_t first_invalid_utf8(std::string_view s);

// Re-encodes ISO-8859-1 bytes (each byte is the code point of the same value) as UTF-8. Never throws.
// Use it for corpora such as the MR rt-polarity files before giving them to a UTF-8 tokenizer.
std::string latin1_to_utf8(std::string_view latin1);

// For text of unknown encoding that is either UTF-8 or latin-1 (the MR rt-polarity files were published in
// latin-1, but copies converted to UTF-8 circulate): valid UTF-8 is returned unchanged, anything else is taken as
// latin-1. The choice is made for the whole input. Never throws.
std::string utf8_or_latin1(std::string_view bytes);

// Appends the UTF-8 encoding of cp (requires cp <= U+10FFFF and not a surrogate) to out.
void append_utf8(char32_t cp, std::string& out);
std::string to_utf8(std::u32string_view s);

// One step of lenient decoding at pos (< s.size()): the code point and its length in bytes.
// An ill-formed sequence yields {kInvalidCodePoint, 1}, so every byte is consumed exactly once.
inline constexpr char32_t kInvalidCodePoint = 0xFFFFFFFF;
struct Utf8Step {
  char32_t cp;
  std::uint32_t length;
};
Utf8Step decode_utf8_at(std::string_view s, std::size_t pos);

// Strict decoding. Throws TokenizerError naming `what`, the byte offset of the first ill-formed sequence and the
// fix (latin1_to_utf8) when s is not valid UTF-8.
std::u32string to_utf32(std::string_view s, std::string_view what);

// "U+00E9 'é'" for error messages (the character itself only when printable).
std::string describe_code_point(char32_t cp);

}  // namespace cairn::text
