#include "cairn/text/bpe_tokenizer.h"

#include <array>
#include <climits>
#include <functional>
#include <queue>

#include "cairn/text/detail.h"
#include "cairn/text/unicode.h"
#include "cairn/text/utf8.h"

namespace cairn::text {
namespace {

// GPT-2's bytes_to_unicode(): printable bytes keep their code point, the other 68 get 256, 257, ... in order.
struct ByteAlphabet {
  std::array<std::string, 256> spelling;       // byte -> UTF-8 of its code point
  std::array<std::int16_t, 324> byte_of_cp;    // code point -> byte, -1 if not in the alphabet
  ByteAlphabet() {
    byte_of_cp.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      char32_t cp = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      append_utf8(cp, spelling[b]);
      byte_of_cp[cp] = static_cast<std::int16_t>(b);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

// Bytes a token spelled in the alphabet stands for; false if it has a character outside the alphabet.
bool unicode_to_bytes(std::string_view token, std::string& out) {
  const ByteAlphabet& a = alphabet();
  std::size_t pos = 0;
  while (pos < token.size()) {
    Utf8Step step = decode_utf8_at(token, pos);
    if (step.cp >= a.byte_of_cp.size() || a.byte_of_cp[step.cp] < 0) return false;
    out.push_back(static_cast<char>(a.byte_of_cp[step.cp]));
    pos += step.length;
  }
  return true;
}

enum class CharClass : std::uint8_t { Space, Letter, Number, Other };

CharClass classify(char32_t cp) {
  if (cp == kInvalidCodePoint) return CharClass::Other;
  if (cp < 0x80) {
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CharClass::Space;
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CharClass::Letter;
    if (cp >= '0' && cp <= '9') return CharClass::Number;
    return CharClass::Other;
  }
  if (unicode::is_js_whitespace(cp)) return CharClass::Space;
  if (unicode::is_letter(cp)) return CharClass::Letter;
  if (unicode::is_number(cp)) return CharClass::Number;
  return CharClass::Other;
}

std::size_t contraction_length(std::string_view text, std::size_t pos) {
  // 's 't 're 've 'm 'll 'd, case-sensitive as in GPT-2's pattern.
  if (text[pos] != '\'' || pos + 1 >= text.size()) return 0;
  char c = text[pos + 1];
  if (c == 's' || c == 't' || c == 'm' || c == 'd') return 2;
  if (pos + 2 < text.size()) {
    char d = text[pos + 2];
    if ((c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l')) return 3;
  }
  return 0;
}

}  // namespace

std::string bytes_to_unicode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out += alphabet().spelling[static_cast<unsigned char>(c)];
  return out;
}

std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  // Code point starts (byte offsets, plus text.size() as a sentinel) and classes.
  std::vector<std::uint32_t> start;
  std::vector<CharClass> cls;
  start.reserve(text.size() + 1);
  cls.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    Utf8Step step = decode_utf8_at(text, pos);
    start.push_back(static_cast<std::uint32_t>(pos));
    cls.push_back(classify(step.cp));
    pos += step.length;
  }
  const std::size_t n = cls.size();
  start.push_back(static_cast<std::uint32_t>(text.size()));

  std::vector<std::string_view> pieces;
  std::size_t i = 0;
  while (i < n) {
    std::size_t j;
    if (std::size_t len = contraction_length(text, start[i])) {
      j = i + len;  // contractions are ASCII: one code point per byte
    } else if (text[start[i]] == ' ' && i + 1 < n && cls[i + 1] != CharClass::Space) {
      j = i + 2;  // " ?X+" with the optional space
      while (j < n && cls[j] == cls[i + 1]) ++j;
    } else if (cls[i] != CharClass::Space) {
      j = i + 1;
      while (j < n && cls[j] == cls[i]) ++j;
    } else {
      j = i + 1;
      while (j < n && cls[j] == CharClass::Space) ++j;
      // \s+(?!\S): leave the last space of a run to prefix the next word; a single space stays whole (\s+).
      if (j < n && j - i > 1) --j;
    }
    pieces.emplace_back(text.data() + start[i], start[j] - start[i]);
    i = j;
  }
  return pieces;
}

BpeTokenizer::BpeTokenizer(std::vector<std::string> vocab, std::vector<std::pair<std::string, std::string>> merges,
                           std::vector<std::string> special_tokens, const std::string& source)
    : vocab_(std::move(vocab)), merges_(std::move(merges)), special_tokens_(std::move(special_tokens)) {
  const std::string where = source.empty() ? "BpeTokenizer: " : source + ": ";
  if (vocab_.size() > static_cast<std::size_t>(INT32_MAX)) throw TokenizerError(where + "vocabulary too large");
  token_ids_.reserve(vocab_.size());
  for (std::size_t id = 0; id < vocab_.size(); ++id) {
    if (vocab_[id].empty() || !is_valid_utf8(vocab_[id])) {
      throw TokenizerError(where + "token " + std::to_string(id) + " is empty or not valid UTF-8");
    }
    if (!token_ids_.emplace(vocab_[id], static_cast<std::int32_t>(id)).second) {
      throw TokenizerError(where + "token '" + vocab_[id] + "' appears twice in the vocabulary (ids " +
                           std::to_string(token_ids_[vocab_[id]]) + " and " + std::to_string(id) + ")");
    }
  }
  std::vector<bool> is_special(vocab_.size(), false);
  for (const std::string& s : special_tokens_) {
    auto it = token_ids_.find(s);
    if (it == token_ids_.end()) throw TokenizerError(where + "special token '" + s + "' is not in the vocabulary");
    is_special[static_cast<std::size_t>(it->second)] = true;
  }
  token_bytes_.resize(vocab_.size());
  for (std::size_t id = 0; id < vocab_.size(); ++id) {
    if (is_special[id]) {
      token_bytes_[id] = vocab_[id];  // written literally
    } else if (!unicode_to_bytes(vocab_[id], token_bytes_[id])) {
      throw TokenizerError(where + "token " + std::to_string(id) + " '" + vocab_[id] +
                           "' has characters outside GPT-2's byte-to-unicode alphabet and is not a special token");
    }
  }
  for (int b = 0; b < 256; ++b) {
    auto it = token_ids_.find(alphabet().spelling[b]);
    if (it == token_ids_.end()) {
      throw TokenizerError(where + "the vocabulary lacks the single-byte token '" + alphabet().spelling[b] +
                           "' for byte " + std::to_string(b) + "; a byte-level BPE needs all 256 bytes");
    }
    byte_ids_[b] = it->second;
  }
  merge_of_pair_.reserve(merges_.size());
  // Tokens a merge may use: single bytes and results of earlier merges (training order). merge_piece relies on it,
  // and a shuffled or truncated merges list is caught here rather than giving silently different ids.
  std::vector<bool> made(vocab_.size(), false);
  for (int b = 0; b < 256; ++b) made[static_cast<std::size_t>(byte_ids_[b])] = true;
  for (std::size_t rank = 0; rank < merges_.size(); ++rank) {
    const auto& [left, right] = merges_[rank];
    auto l = token_ids_.find(left), r = token_ids_.find(right), m = token_ids_.find(left + right);
    const std::string merge = "merge " + std::to_string(rank) + " '" + left + " " + right + "'";
    if (l == token_ids_.end() || r == token_ids_.end()) {
      throw TokenizerError(where + merge + ": '" + (l == token_ids_.end() ? left : right) +
                           "' is not in the vocabulary");
    }
    if (m == token_ids_.end()) throw TokenizerError(where + merge + ": the result is not in the vocabulary");
    for (const auto& part : {l, r}) {
      if (!made[static_cast<std::size_t>(part->second)]) {
        throw TokenizerError(where + merge + ": '" + part->first +
                             "' is neither a single byte nor made by an earlier merge; merges must be in the order "
                             "they were learnt");
      }
    }
    made[static_cast<std::size_t>(m->second)] = true;
    // A repeated merge keeps its first (best) rank; later copies can never apply.
    merge_of_pair_.try_emplace(pair_key(l->second, r->second),
                               Merge{static_cast<std::int32_t>(rank), m->second});
  }
}

BpeTokenizer::BpeTokenizer(const BpeTokenizer& other)
    : Tokenizer(other),
      vocab_(other.vocab_),
      merges_(other.merges_),
      special_tokens_(other.special_tokens_),
      token_ids_(other.token_ids_),
      token_bytes_(other.token_bytes_),
      merge_of_pair_(other.merge_of_pair_) {
  std::copy(std::begin(other.byte_ids_), std::end(other.byte_ids_), byte_ids_);
}

BpeTokenizer::BpeTokenizer(BpeTokenizer&& other) noexcept
    : Tokenizer(std::move(other)),
      vocab_(std::move(other.vocab_)),
      merges_(std::move(other.merges_)),
      special_tokens_(std::move(other.special_tokens_)),
      token_ids_(std::move(other.token_ids_)),
      token_bytes_(std::move(other.token_bytes_)),
      merge_of_pair_(std::move(other.merge_of_pair_)) {
  std::copy(std::begin(other.byte_ids_), std::end(other.byte_ids_), byte_ids_);
}

void BpeTokenizer::merge_piece(std::string_view piece, std::vector<std::int32_t>& out) const {
  // GPT-2 repeatedly merges every occurrence of the lowest-ranked adjacent pair, left to right. The same result
  // comes from a heap of candidate pairs ordered by (rank, position): a merge only creates pairs that contain the
  // new token, and those rank after the merge that made it, so the order of merges is unchanged. The heap makes
  // a long piece (a run of thousands of letters) cost O(n log n) instead of GPT-2's O(n^2).
  const std::size_t n = piece.size();
  std::vector<std::int32_t> id(n);
  std::vector<std::int32_t> next(n), prev(n);  // linked list over the live symbols; -1 ends it
  for (std::size_t i = 0; i < n; ++i) {
    id[i] = byte_ids_[static_cast<unsigned char>(piece[i])];
    prev[i] = static_cast<std::int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<std::int32_t>(i + 1) : -1;
  }
  struct Candidate {
    std::int32_t rank, pos, left, right;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto consider = [&](std::int32_t pos) {
    if (pos < 0 || next[pos] < 0) return;
    auto it = merge_of_pair_.find(pair_key(id[pos], id[next[pos]]));
    if (it != merge_of_pair_.end()) heap.push({it->second.rank, pos, id[pos], id[next[pos]]});
  };
  for (std::size_t i = 0; i + 1 < n; ++i) consider(static_cast<std::int32_t>(i));
  std::vector<bool> alive(n, true);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    // Stale when either symbol was merged away or changed since the candidate was pushed.
    if (!alive[c.pos] || next[c.pos] < 0 || id[c.pos] != c.left || id[next[c.pos]] != c.right) continue;
    std::int32_t right = next[c.pos];
    id[c.pos] = merge_of_pair_.find(pair_key(c.left, c.right))->second.result;
    alive[right] = false;
    next[c.pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = c.pos;
    consider(prev[c.pos]);
    consider(c.pos);
  }
  for (std::int32_t i = 0; i >= 0 && static_cast<std::size_t>(i) < n; i = next[i]) out.push_back(id[i]);
}

std::vector<std::int32_t> BpeTokenizer::encode(std::string_view text) const {
  constexpr std::size_t kMaxCacheEntries = 100000;  // ~20 MB; tinyshakespeare has ~25k distinct pieces
  constexpr std::size_t kMaxCachedPieceBytes = 256;
  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 3 + 1);
  for (std::string_view piece : gpt2_pretokenize(text)) {
    if (piece.size() == 1) {
      ids.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
      continue;
    }
    if (piece.size() > kMaxCachedPieceBytes) {
      merge_piece(piece, ids);
      continue;
    }
    std::string key(piece);
    {
      std::lock_guard<std::mutex> lock(cache_mutex_);
      auto it = cache_.find(key);
      if (it != cache_.end()) {
        ids.insert(ids.end(), it->second.begin(), it->second.end());
        continue;
      }
    }
    std::size_t before = ids.size();
    merge_piece(piece, ids);
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(std::move(key), std::vector<std::int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(before), ids.end()));
  }
  return ids;
}

std::string BpeTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    check_id(ids[i], i);
    out += token_bytes_[static_cast<std::size_t>(ids[i])];
  }
  return out;
}

std::optional<std::int32_t> BpeTokenizer::token_to_id(std::string_view token) const {
  auto it = token_ids_.find(std::string(token));
  if (it == token_ids_.end()) return std::nullopt;
  return it->second;
}

std::string BpeTokenizer::id_to_token(std::int32_t id) const {
  check_id(id, 0);
  return vocab_[static_cast<std::size_t>(id)];
}

SpecialTokenIds BpeTokenizer::special_token_ids() const {
  SpecialTokenIds ids;
  for (const std::string& s : special_tokens_) {
    std::int32_t id = token_ids_.at(s);
    if (s == "<|endoftext|>") ids.bos = ids.eos = id;
    if (s == "<s>") ids.bos = id;
    if (s == "</s>") ids.eos = id;
    if (s == "[PAD]" || s == "<pad>") ids.pad = id;
    if (s == "[UNK]" || s == "<unk>") ids.unk = id;
    if (s == "[CLS]") ids.cls = id;
    if (s == "[SEP]") ids.sep = id;
    if (s == "[MASK]" || s == "<mask>") ids.mask = id;
  }
  return ids;
}

void BpeTokenizer::save(const std::string& path) const {
  nlohmann::json j;
  j["type"] = "bpe";
  j["vocab"] = vocab_;
  nlohmann::json merges = nlohmann::json::array();
  for (const auto& [a, b] : merges_) merges.push_back(a + " " + b);
  j["merges"] = std::move(merges);
  j["special_tokens"] = special_tokens_;
  detail::write_file_atomic(path, j.dump() + "\n");
}

}  // namespace cairn::text
