// cairn data shard: a text corpus to llm.c token shards (see data_cmds.h). The corpus is read in chunks of
// --chunk-bytes, never whole, so a corpus larger than memory can be sharded; the output does not depend on the
// chunk size (each chunk ends where cutting changes neither the characters nor GPT-2's pre-tokenization).
//
// Passes over the file: the char tokenizer reads it twice (vocabulary and token count, then encoding); BPE trained
// here (--vocab-size) counts pre-tokenized pieces in a first pass; encoding is always one more pass. The validation
// shards hold the first ceil(F * tokens) tokens, so when the token count is not known before encoding (BPE with
// --val-fraction) the ids are spilled to a raw file in DIR and split into shards from there.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/cli/data_args.h"
#include "cairn/cli/data_cmds.h"
#include "cairn/data/error.h"
#include "cairn/data/file_util.h"
#include "cairn/data/text.h"
#include "cairn/data/token_shard.h"
#include "cairn/text/bpe_tokenizer.h"
#include "cairn/text/char_tokenizer.h"

namespace cairn::cli {
namespace {

namespace fs = std::filesystem;

// The largest cut position in [lo, text.size()) after which the rest may be processed separately, or 0 if none.
using CutFinder = size_t (*)(std::string_view text, size_t lo);

// Before any byte that starts a UTF-8 sequence (or is ASCII): the pieces hold whole characters, and a file is valid
// UTF-8 exactly when every piece is. Latin-1 text can be cut anywhere, so this suits it too.
size_t utf8_cut(std::string_view text, size_t lo) {
  for (size_t i = text.size(); i-- > std::max<size_t>(lo, 1);) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) return i;
  }
  return 0;
}

// Where gpt2_pretokenize(left) + gpt2_pretokenize(right) == gpt2_pretokenize(left + right). With p a printable
// ASCII character (never whitespace, never part of a multi-byte sequence), two kinds of places qualify:
//   p | ' ' p   a single space before a non-space always opens the next piece (" word", " 42", " ...") and
//               the piece ending in p ends there whether a space or the end of the text follows;
//   p '\n' | p  a lone newline before a non-space is a piece of its own, as it is at the end of the text.
// Longer whitespace runs are never cut: GPT-2 gives their last character to the next piece.
size_t gpt2_cut(std::string_view text, size_t lo) {
  auto printable = [&](size_t i) { return text[i] > ' ' && text[i] < 0x7F; };
  for (size_t i = text.size(); i-- > std::max<size_t>(lo, 2);) {
    if (text[i] == ' ' && i + 1 < text.size() && printable(i - 1) && printable(i + 1)) return i;
    if (text[i - 1] == '\n' && printable(i - 2) && printable(i)) return i;
  }
  return 0;
}

// Reads a file front to back in pieces of about chunk_bytes, each ending at a place `cut` accepts (a piece grows
// until one is found); the last piece ends at the end of the file.
class ChunkReader {
 public:
  ChunkReader(const std::string& path, size_t chunk_bytes, CutFinder cut)
      : file_(path, data::MappedFile::Access::Pread), chunk_(std::max<size_t>(chunk_bytes, 1)), cut_(cut) {}

  uint64_t file_size() const { return file_.size(); }
  void rewind() {
    offset_ = 0;
    buffer_.clear();
  }

  // The next piece in `piece` (=); false at the end of the file.
  bool next(std::string& piece) {
    size_t searched = 0;  // cut points before this offset of buffer_ were already looked for
    for (;;) {
      const uint64_t left = file_.size() - offset_;
      const size_t want = size_t(std::min<uint64_t>(left, chunk_ > buffer_.size() ? chunk_ - buffer_.size() : chunk_));
      if (want > 0) {
        const size_t old = buffer_.size();
        buffer_.resize(old + want);
        file_.read_at(offset_, std::span<uint8_t>(reinterpret_cast<uint8_t*>(buffer_.data()) + old, want));
        offset_ += want;
      }
      if (buffer_.empty()) return false;
      if (offset_ == file_.size()) {
        piece.swap(buffer_);
        buffer_.clear();
        return true;
      }
      const size_t at = cut_(buffer_, searched);
      if (at > 0) {
        piece.assign(buffer_, 0, at);
        buffer_.erase(0, at);
        return true;
      }
      searched = buffer_.size() > 2 ? buffer_.size() - 2 : 0;  // a cut test looks up to two bytes back
    }
  }

 private:
  data::MappedFile file_;
  size_t chunk_;
  CutFinder cut_;
  uint64_t offset_ = 0;
  std::string buffer_;  // read but not yet returned
};

// Takes the token stream in order and writes it as val_NNNNNN.bin shards (the first n_val tokens) and then
// train_NNNNNN.bin shards, each holding up to shard_size tokens, printing each shard as it is closed.
class ShardSink {
 public:
  ShardSink(fs::path dir, data::TokenDtype dtype, int64_t shard_size, int64_t n_val)
      : dir_(std::move(dir)), dtype_(dtype), shard_size_(shard_size), n_val_(n_val) {}

  void append(std::span<const int32_t> ids) {
    while (!ids.empty()) {
      const bool val = written_ < n_val_;
      if (!writer_) open(val);
      const int64_t room = std::min(shard_size_ - int64_t(writer_->size()), val ? n_val_ - written_ : INT64_MAX);
      const size_t n = size_t(std::min<int64_t>(room, int64_t(ids.size())));
      writer_->append(ids.first(n));
      written_ += int64_t(n);
      ids = ids.subspan(n);
      if (int64_t(writer_->size()) == shard_size_ || written_ == n_val_) close();
    }
  }
  void finish() {
    if (writer_) close();
  }
  int64_t tokens() const { return written_; }

 private:
  void open(bool val) {
    char name[64];
    int64_t& k = val ? val_shards_ : train_shards_;
    std::snprintf(name, sizeof name, "%s_%06lld.bin", val ? "val" : "train", (long long)k++);
    path_ = dir_ / name;
    writer_ = std::make_unique<data::TokenShardWriter>(path_, dtype_);
  }
  void close() {
    const uint64_t n = writer_->size();
    writer_->close();
    writer_.reset();
    std::printf("%s: %lld tokens\n", path_.string().c_str(), (long long)n);
  }

  fs::path dir_;
  data::TokenDtype dtype_;
  int64_t shard_size_, n_val_;
  int64_t written_ = 0, val_shards_ = 0, train_shards_ = 0;
  fs::path path_;
  std::unique_ptr<data::TokenShardWriter> writer_;
};

int64_t val_tokens(double fraction, int64_t total) { return static_cast<int64_t>(std::ceil(fraction * double(total))); }

}  // namespace

int cmd_data_shard(const std::vector<std::string>& args) {
  const std::string usage =
      "cairn data shard TEXT_FILE --out DIR --tokenizer char|bpe [--vocab encoder.json --merges vocab.bpe | --vocab-size N] "
      "[--shard-size TOKENS] [--val-fraction F] [--chunk-bytes N]";
  data_detail::Args a = data_detail::parse_args(
      args, {"out", "tokenizer", "vocab", "merges", "vocab-size", "shard-size", "val-fraction", "chunk-bytes"}, usage);
  if (a.positional.size() != 1 || !a.opts.count("out") || !a.opts.count("tokenizer")) throw UsageError("usage: " + usage);
  const std::string in = a.positional[0], kind = a.opts["tokenizer"];
  const int64_t shard_size = a.opts.count("shard-size") ? std::stoll(a.opts["shard-size"]) : 100'000'000;
  const double val = a.opts.count("val-fraction") ? std::stod(a.opts["val-fraction"]) : 0.0;
  const long long chunk_bytes = a.opts.count("chunk-bytes") ? std::stoll(a.opts["chunk-bytes"]) : 16LL << 20;
  if (shard_size <= 0) throw UsageError("--shard-size must be a positive number of tokens");
  if (val < 0 || val >= 1) throw UsageError("--val-fraction must be in [0, 1)");
  if (chunk_bytes <= 0) throw UsageError("--chunk-bytes must be a positive number of bytes (memory use is a few times it)");
  if (kind != "char" && kind != "bpe") throw UsageError("--tokenizer must be char or bpe, got '" + kind + "'");

  ChunkReader reader(in, size_t(chunk_bytes), kind == "char" ? utf8_cut : gpt2_cut);
  if (reader.file_size() == 0) throw data::DataError::in_file(in, "empty file: nothing to tokenize");
  std::string chunk;
  std::unique_ptr<text::Tokenizer> tok;
  bool latin1 = false;
  std::optional<int64_t> total;  // the token count, when known before encoding
  if (kind == "char") {
    // Pass 1: the vocabulary (sorted distinct code points, as CharTokenizer::from_corpus) and the token count. One
    // invalid UTF-8 chunk makes the whole file latin-1, as reading it whole would: start again in that mode.
    std::vector<bool> seen(0x110000, false);
    int64_t count = 0;
    while (reader.next(chunk)) {
      if (!latin1 && !data::is_valid_utf8(chunk)) {
        latin1 = true;
        reader.rewind();
        seen.assign(seen.size(), false);
        count = 0;
        std::printf("%s is not UTF-8: read as latin-1\n", in.c_str());
        continue;
      }
      for (size_t i = 0; i < chunk.size();) {  // valid UTF-8 (or latin-1: one byte, one code point)
        const unsigned char lead = static_cast<unsigned char>(chunk[i]);
        const int len = latin1 || lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
        char32_t cp = len == 1 ? lead : lead & (0x7F >> len);
        for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(chunk[i + size_t(k)]) & 0x3F);
        seen[cp] = true;
        ++count;
        i += size_t(len);
      }
    }
    std::vector<char32_t> symbols;
    for (char32_t cp = 0; cp < seen.size(); ++cp) {
      if (seen[cp]) symbols.push_back(cp);
    }
    tok = std::make_unique<text::CharTokenizer>(std::move(symbols));
    total = count;
  } else if (a.opts.count("vocab") || a.opts.count("merges")) {
    if (!a.opts.count("vocab") || !a.opts.count("merges")) throw UsageError("--tokenizer bpe needs both --vocab and --merges");
    tok = std::make_unique<text::BpeTokenizer>(text::BpeTokenizer::from_gpt2_files(a.opts["vocab"], a.opts["merges"]));
  } else if (a.opts.count("vocab-size")) {
    // Pass 1: piece counts, all that training needs (a few bytes per distinct word, not per byte of corpus).
    text::BpePieceCounts pieces;
    while (reader.next(chunk)) text::count_bpe_pieces(chunk, pieces);
    tok = std::make_unique<text::BpeTokenizer>(text::train_bpe(pieces, std::stoull(a.opts["vocab-size"])));
  } else {
    throw UsageError("--tokenizer bpe needs --vocab and --merges (GPT-2 files) or --vocab-size N (trained on the file)");
  }
  if (val == 0) total = total.value_or(0);  // no validation part: the split does not need the count

  const auto dtype = tok->vocab_size() <= 65536 ? data::TokenDtype::U16 : data::TokenDtype::U32;
  fs::create_directories(a.opts["out"]);
  const fs::path out = a.opts["out"];
  tok->save((out / "tokenizer.json").string());
  auto encode_all = [&](auto&& consume) {
    reader.rewind();
    while (reader.next(chunk)) {
      std::vector<int32_t> ids = tok->encode(latin1 ? data::latin1_to_utf8(chunk) : chunk);
      consume(std::span<const int32_t>(ids));
    }
  };
  int64_t tokens = 0;
  if (total) {
    ShardSink sink(out, dtype, shard_size, val_tokens(val, *total));
    encode_all([&](std::span<const int32_t> ids) { sink.append(ids); });
    sink.finish();
    tokens = sink.tokens();
  } else {
    // The split needs the count first: spill the ids (raw, same dtype), then cut the spill file into shards.
    const fs::path spill = out / "shard_spill.tmp";
    {
      data::TokenShardWriter w(spill, dtype, /*header=*/false);
      encode_all([&](std::span<const int32_t> ids) { w.append(ids); });
      w.close();
    }
    {
      data::TokenShard all = data::TokenShard::open_raw(spill, dtype, data::MappedFile::Access::Pread);
      ShardSink sink(out, dtype, shard_size, val_tokens(val, int64_t(all.size())));
      std::vector<int32_t> block;
      for (uint64_t at = 0; at < all.size(); at += block.size()) {
        block.resize(size_t(std::min<uint64_t>(all.size() - at, 1 << 20)));
        all.read(at, block);
        sink.append(block);
      }
      sink.finish();
      tokens = sink.tokens();
    }
    fs::remove(spill);
  }
  std::printf("%lld tokens, %s tokenizer with %zu ids (%s shards), tokenizer saved to %s\n", (long long)tokens,
              kind.c_str(), tok->vocab_size(), dtype == data::TokenDtype::U16 ? "uint16" : "uint32",
              (out / "tokenizer.json").string().c_str());
  return 0;
}

}  // namespace cairn::cli
