// libFuzzer target for the byte-level BPE (GPT-2's vocabulary, and one trained here).
// Contract under test: for any byte string, invalid UTF-8 included, gpt2_pretokenize covers it exactly and
// decode(encode(bytes)) == bytes. Anything else (a crash, a sanitizer report, an exception, a mismatch) is a bug.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "cairn/text/bpe_tokenizer.h"

using cairn::text::BpeTokenizer;

static void require(bool ok) {
  if (!ok) __builtin_trap();
}

// GPT-2's real vocabulary from the repository (found next to this source file), when it is there.
static const BpeTokenizer* gpt2() {
  static const BpeTokenizer* tok = []() -> const BpeTokenizer* {
    std::filesystem::path dir = std::filesystem::path(__FILE__).parent_path() / "../tests/golden/tokenizers/gpt2";
    std::error_code ec;
    if (!std::filesystem::exists(dir / "encoder.json", ec)) return nullptr;
    return new BpeTokenizer(BpeTokenizer::from_gpt2_files((dir / "encoder.json").string(), (dir / "vocab.bpe").string()));
  }();
  return tok;
}

// A small vocabulary trained on mixed text, so merges over non-ASCII bytes are exercised too.
static const BpeTokenizer& trained() {
  static const BpeTokenizer tok = cairn::text::train_bpe(
      "First Citizen: Before we proceed any further, hear me speak. It's they're we'll I'd\n"
      "caf\xC3\xA9 na\xC3\xAFve \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 \xFF\xFE\x80 123 4567   \t\n\n"
      "caf\xC3\xA9 na\xC3\xAFve \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 the the the thee thou",
      256 + 120, {"<|endoftext|>"});
  return tok;
}

static void round_trip(const BpeTokenizer& tok, std::string_view input) {
  std::vector<std::int32_t> ids = tok.encode(input);
  for (std::int32_t id : ids) require(id >= 0 && static_cast<std::size_t>(id) < tok.vocab_size());
  require(tok.decode(ids) == input);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t covered = 0;
  for (std::string_view piece : cairn::text::gpt2_pretokenize(input)) {
    require(!piece.empty() && piece.data() == input.data() + covered);
    covered += piece.size();
  }
  require(covered == input.size());
  try {
    if (const BpeTokenizer* g = gpt2()) round_trip(*g, input);
    round_trip(trained(), input);
  } catch (...) {
    __builtin_trap();  // encoding never throws on any bytes
  }
  return 0;
}
