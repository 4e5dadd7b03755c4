#include "cairn/text/vocab_prune.h"

#include <cstdint>
#include <cstdio>
#include <unordered_set>

#include "cairn/text/tokenizer.h"
#include "cairn/text/utf8.h"

namespace cairn::text {
namespace {

// The code points of valid UTF-8 (basic_tokenize's output), each as its own UTF-8 string.
std::vector<std::string> utf8_characters(const std::string& s) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace

WordPieceTokenizer prune_wordpiece_vocab(const WordPieceTokenizer& full, const std::vector<std::string>& corpus,
                                         std::size_t min_count) {
  if (min_count == 0) throw TokenizerError("prune_wordpiece_vocab: min_count must be >= 1");
  const std::size_t V = full.vocab_size();
  std::vector<std::size_t> count(V, 0);
  std::vector<bool> keep(V, false);
  const std::string& prefix = full.options().continuing_prefix;
  for (const std::string& text : corpus) {
    for (std::int32_t id : full.encode(text)) ++count[static_cast<std::size_t>(id)];
    for (const std::string& word : full.basic_tokenize(text)) {
      for (const std::string& ch : utf8_characters(word)) {
        if (auto id = full.token_to_id(ch)) keep[static_cast<std::size_t>(*id)] = true;
        if (auto id = full.token_to_id(prefix + ch)) keep[static_cast<std::size_t>(*id)] = true;
      }
    }
  }
  for (std::size_t id = 0; id < V; ++id)
    if (count[id] >= min_count) keep[id] = true;

  std::vector<std::string> vocab;
  std::unordered_set<std::int32_t> placed;
  for (const char* special : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
    if (auto id = full.token_to_id(special)) {
      vocab.emplace_back(special);
      placed.insert(*id);
    }
  }
  for (std::size_t id = 0; id < V; ++id) {
    if (keep[id] && !placed.count(static_cast<std::int32_t>(id)))
      vocab.push_back(full.id_to_token(static_cast<std::int32_t>(id)));
  }
  return WordPieceTokenizer(std::move(vocab), full.options(), "pruned");
}

std::string vocab_fingerprint(const Tokenizer& tok) {
  uint64_t h = 1469598103934665603ULL;
  for (std::size_t i = 0; i < tok.vocab_size(); ++i)
    for (char c : tok.id_to_token(static_cast<std::int32_t>(i)) + "\n") {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ULL;
    }
  char buf[32];
  std::snprintf(buf, sizeof buf, "-%zu-%016llx", tok.vocab_size(), static_cast<unsigned long long>(h));
  return tok.type() + buf;
}

}  // namespace cairn::text
