// `cairn data shard` reads its corpus in chunks: whatever the chunk size, the shards and tokenizer equal those of
// encoding the whole file at once (char, trained BPE, GPT-2 BPE; UTF-8 and latin-1; with and without val shards).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "cairn/cli/cli.h"
#include "cairn/data/text.h"
#include "cairn/data/token_shard.h"
#include "cairn/text/tokenizer.h"

namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class DataShardTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cairn_data_shard_" + std::to_string(::getpid()) + "_" +
                                        testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& bytes) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  // Runs the command into DIR/<corpus stem>_<tag>; returns the output folder.
  fs::path shard(const fs::path& corpus, const std::string& tag, std::vector<std::string> extra) {
    fs::path out = dir_ / (corpus.stem().string() + "_" + tag);
    std::vector<std::string> args = {"data", "shard", corpus.string(), "--out", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    testing::internal::CaptureStdout();
    int code = cairn::cli::run(args);
    std::string log = testing::internal::GetCapturedStdout();
    EXPECT_EQ(code, 0) << log;
    return out;
  }
  // All tokens of the val shards then the train shards, in order.
  static std::vector<int32_t> tokens(const fs::path& out) {
    std::vector<int32_t> all;
    for (const char* prefix : {"val", "train"}) {
      for (int k = 0;; ++k) {
        char name[64];
        std::snprintf(name, sizeof name, "%s_%06d.bin", prefix, k);
        if (!fs::exists(out / name)) break;
        auto shard = cairn::data::TokenShard::open(out / name);
        std::vector<int32_t> t(shard.size());
        shard.read(0, t);
        all.insert(all.end(), t.begin(), t.end());
      }
    }
    return all;
  }
  // Chunked runs (tiny chunks, down to 1 byte) give the same files as one chunk holding the whole corpus, and
  // those hold exactly the saved tokenizer's encoding of the whole text.
  void expect_chunk_size_irrelevant(const fs::path& corpus, const std::vector<std::string>& options, bool latin1 = false,
                                    const std::vector<std::string>& chunk_sizes = {"1", "5", "64"}) {
    fs::path whole = shard(corpus, "whole", options);
    std::vector<std::string> files;
    for (const auto& e : fs::directory_iterator(whole)) files.push_back(e.path().filename().string());
    EXPECT_GE(files.size(), 3u);
    for (const std::string& chunk : chunk_sizes) {
      std::vector<std::string> opts = options;
      opts.insert(opts.end(), {"--chunk-bytes", chunk});
      fs::path chunked = shard(corpus, std::string("chunk") + chunk, opts);
      size_t n = 0;
      for (const auto& e : fs::directory_iterator(chunked)) {
        ++n;
        EXPECT_EQ(slurp(e.path()), slurp(whole / e.path().filename())) << e.path().filename() << ", chunk " << chunk;
      }
      EXPECT_EQ(n, files.size()) << "chunk " << chunk << ": no spill file left behind, no shard missing";
    }
    auto tok = cairn::text::load_tokenizer((whole / "tokenizer.json").string());
    std::string text = slurp(corpus);
    if (latin1) text = cairn::data::latin1_to_utf8(text);
    EXPECT_EQ(tokens(whole), tok->encode(text));
  }

  fs::path dir_;
};

// Pre-tokenization traps: runs of spaces, spaces before newlines, CRLF, tabs, NBSP, contractions, digits,
// non-ASCII letters and an emoji, a stray invalid byte, a text without a final newline.
const std::string kCorpus =
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.  \n  Indented line\r\n"
    "It's 42 o'clock -- they'll say\t\tno.\nCafé \xC2\xA0naïve coöperation \xF0\x9F\x98\x80 end\n"
    "x \xFF y\nMore  words   with    gaps\n\n\n\nlast line without newline";

TEST_F(DataShardTest, CharTokenizerUtf8) {
  std::string text;
  for (int i = 0; i < 4; ++i) text += kCorpus.substr(0, kCorpus.find('\xFF')) + "\n";
  expect_chunk_size_irrelevant(write("c.txt", text), {"--tokenizer", "char", "--shard-size", "97", "--val-fraction", "0.1"});
}

TEST_F(DataShardTest, CharTokenizerLatin1) {
  // The invalid byte near the end makes the whole file latin-1 even though the first chunks are valid UTF-8.
  std::string text;
  for (int i = 0; i < 4; ++i) text += kCorpus + "\n";
  expect_chunk_size_irrelevant(write("l.txt", text), {"--tokenizer", "char", "--shard-size", "101"}, true);
}

TEST_F(DataShardTest, TrainedBpe) {
  std::string text;
  for (int i = 0; i < 4; ++i) text += kCorpus + "\n";
  expect_chunk_size_irrelevant(write("b.txt", text),
                               {"--tokenizer", "bpe", "--vocab-size", "300", "--shard-size", "89", "--val-fraction", "0.2"});
  expect_chunk_size_irrelevant(write("b0.txt", text), {"--tokenizer", "bpe", "--vocab-size", "280", "--shard-size", "150"});
}

TEST_F(DataShardTest, Gpt2Bpe) {
  const fs::path gpt2 = fs::path(CAIRN_SOURCE_DIR) / "tests/golden/tokenizers/gpt2";
  expect_chunk_size_irrelevant(write("g.txt", kCorpus + kCorpus),
                               {"--tokenizer", "bpe", "--vocab", (gpt2 / "encoder.json").string(), "--merges",
                                (gpt2 / "vocab.bpe").string(), "--shard-size", "40", "--val-fraction", "0.3"},
                               false, {"1", "7"});  // each run loads GPT-2's 50k merges: keep the runs few
}

TEST_F(DataShardTest, RejectsBadChunkSize) {
  testing::internal::CaptureStderr();
  int code = cairn::cli::run({"data", "shard", write("x.txt", "abc").string(), "--out", (dir_ / "o").string(),
                              "--tokenizer", "char", "--chunk-bytes", "0"});
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(code, 2);
  EXPECT_NE(err.find("--chunk-bytes must be a positive"), std::string::npos) << err;
}

}  // namespace
