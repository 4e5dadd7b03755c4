// train_bpe: byte-level BPE training with incremental pair counts.
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "cairn/text/bpe_tokenizer.h"

namespace cairn::text {
namespace {

using Key = std::uint64_t;
Key key_of(std::int32_t a, std::int32_t b) {
  return (static_cast<Key>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
}
std::int32_t first_of(Key k) { return static_cast<std::int32_t>(k >> 32); }
std::int32_t second_of(Key k) { return static_cast<std::int32_t>(k & 0xFFFFFFFFu); }

struct HeapEntry {
  std::int64_t count;
  Key pair;
  // Max-heap on count; among equal counts the smaller pair of ids wins, so training is deterministic.
  bool operator<(const HeapEntry& o) const { return count != o.count ? count < o.count : pair > o.pair; }
};

struct Word {
  std::vector<std::int32_t> symbols;
  std::int64_t freq;
};

class Trainer {
 public:
  // piece_counts: each pre-tokenized piece (string or string_view) -> its frequency. The merges learnt depend only
  // on these counts (ties are broken by pair ids, never by word order), so any map of equal counts trains alike.
  template <class PieceCounts>
  explicit Trainer(const PieceCounts& piece_counts) {
    words_.reserve(piece_counts.size());
    for (const auto& [piece, freq] : piece_counts) {
      Word w{{}, freq};
      w.symbols.reserve(piece.size());
      for (char c : piece) w.symbols.push_back(static_cast<unsigned char>(c));
      words_.push_back(std::move(w));
    }
    for (std::uint32_t wi = 0; wi < words_.size(); ++wi) {
      const Word& w = words_[wi];
      for (std::size_t i = 0; i + 1 < w.symbols.size(); ++i) {
        Key k = key_of(w.symbols[i], w.symbols[i + 1]);
        counts_[k] += w.freq;
        auto& ws = where_[k];
        if (ws.empty() || ws.back() != wi) ws.push_back(wi);
      }
    }
    for (const auto& [k, c] : counts_) heap_.push({c, k});
  }

  // The most frequent pair, or false when no pair is left.
  bool peek(Key& best) {
    while (!heap_.empty()) {
      HeapEntry top = heap_.top();
      auto it = counts_.find(top.pair);
      if (it == counts_.end() || it->second != top.count || top.count <= 0) {  // stale entry
        heap_.pop();
        continue;
      }
      best = top.pair;
      return true;
    }
    return false;
  }

  // Replaces every occurrence of pair by the symbol new_id and updates the counts.
  void merge(Key pair, std::int32_t new_id) {
    heap_.pop();
    apply(pair, new_id);
  }

 private:
  void apply(Key pair, std::int32_t new_id) {
    const std::int32_t a = first_of(pair), b = second_of(pair);
    std::vector<std::uint32_t> affected = std::move(where_[pair]);
    where_.erase(pair);
    std::unordered_map<Key, std::int64_t> delta;
    std::vector<std::int32_t> merged;
    for (std::uint32_t wi : affected) {
      Word& w = words_[wi];
      merged.clear();
      bool changed = false;
      for (std::size_t i = 0; i < w.symbols.size();) {
        if (i + 1 < w.symbols.size() && w.symbols[i] == a && w.symbols[i + 1] == b) {
          merged.push_back(new_id);
          i += 2;
          changed = true;
        } else {
          merged.push_back(w.symbols[i++]);
        }
      }
      if (!changed) continue;  // the index is a superset: this word lost the pair to an earlier merge
      // Recount this word's pairs: cheap because pre-tokenized words are short.
      for (std::size_t i = 0; i + 1 < w.symbols.size(); ++i) delta[key_of(w.symbols[i], w.symbols[i + 1])] -= w.freq;
      for (std::size_t i = 0; i + 1 < merged.size(); ++i) {
        Key k = key_of(merged[i], merged[i + 1]);
        delta[k] += w.freq;
        if (merged[i] == new_id || merged[i + 1] == new_id) {
          auto& ws = where_[k];
          if (ws.empty() || ws.back() != wi) ws.push_back(wi);
        }
      }
      w.symbols.swap(merged);
    }
    for (const auto& [k, d] : delta) {
      if (d == 0) continue;
      std::int64_t& c = counts_[k];
      c += d;
      if (c > 0) {
        heap_.push({c, k});
      } else {
        counts_.erase(k);
      }
    }
    counts_.erase(pair);
  }

  std::vector<Word> words_;
  std::unordered_map<Key, std::int64_t> counts_;
  std::unordered_map<Key, std::vector<std::uint32_t>> where_;  // words that may contain the pair
  std::priority_queue<HeapEntry> heap_;
};

template <class PieceCounts>
BpeTokenizer train_from_counts(const PieceCounts& piece_counts, std::size_t vocab_size,
                               const std::vector<std::string>& special_tokens) {
  if (piece_counts.empty()) {
    throw TokenizerError("train_bpe: the corpus is empty; training needs text to count byte pairs in");
  }
  if (vocab_size < 256 + special_tokens.size()) {
    throw TokenizerError("train_bpe: vocab_size " + std::to_string(vocab_size) + " is smaller than the 256 byte tokens"
                         " plus " + std::to_string(special_tokens.size()) + " special tokens");
  }
  std::vector<std::string> vocab;
  vocab.reserve(vocab_size);
  for (int b = 0; b < 256; ++b) vocab.push_back(bytes_to_unicode(std::string(1, static_cast<char>(b))));
  std::vector<std::pair<std::string, std::string>> merges;
  std::unordered_map<std::string, std::int32_t> ids;
  for (std::size_t i = 0; i < vocab.size(); ++i) ids.emplace(vocab[i], static_cast<std::int32_t>(i));
  const std::size_t learnt_size = vocab_size - special_tokens.size();
  Trainer trainer(piece_counts);
  while (vocab.size() < learnt_size) {
    Key pair;
    std::int32_t provisional = static_cast<std::int32_t>(vocab.size());
    if (!trainer.peek(pair)) break;
    const std::string merged = vocab[static_cast<std::size_t>(first_of(pair))] +
                               vocab[static_cast<std::size_t>(second_of(pair))];
    // Two different pairs can spell the same bytes ("a"+"bc", "ab"+"c"); they then share one id.
    auto [it, fresh] = ids.emplace(merged, provisional);
    trainer.merge(pair, it->second);
    merges.emplace_back(vocab[static_cast<std::size_t>(first_of(pair))], vocab[static_cast<std::size_t>(second_of(pair))]);
    if (fresh) vocab.push_back(merged);
  }
  std::unordered_set<std::string> taken(vocab.begin(), vocab.end());
  for (const std::string& s : special_tokens) {
    if (s.empty() || !taken.insert(s).second) {
      throw TokenizerError("train_bpe: special token '" + s + "' is empty, repeated or equal to a learnt token");
    }
    vocab.push_back(s);
  }
  return BpeTokenizer(std::move(vocab), std::move(merges), special_tokens, "train_bpe");
}

}  // namespace

BpeTokenizer train_bpe(std::string_view corpus, std::size_t vocab_size, const std::vector<std::string>& special_tokens) {
  std::unordered_map<std::string_view, std::int64_t> piece_counts;  // views into corpus: no copies
  for (std::string_view piece : gpt2_pretokenize(corpus)) ++piece_counts[piece];
  return train_from_counts(piece_counts, vocab_size, special_tokens);
}

void count_bpe_pieces(std::string_view text, BpePieceCounts& counts) {
  for (std::string_view piece : gpt2_pretokenize(text)) {
    auto it = counts.find(piece);
    if (it != counts.end()) ++it->second;
    else counts.emplace(std::string(piece), 1);
  }
}

BpeTokenizer train_bpe(const BpePieceCounts& pieces, std::size_t vocab_size,
                       const std::vector<std::string>& special_tokens) {
  return train_from_counts(pieces, vocab_size, special_tokens);
}

}  // namespace cairn::text
