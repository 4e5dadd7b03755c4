// Text and image-folder data through `cairn train/evaluate/predict`: the MR movie-review polarity corpus
// (rt-polarity.pos/.neg, latin-1) with word, char and trained-BPE tokenizers, JSON Lines, and an image folder
// written from Fashion-MNIST with augmentation on loader threads.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <regex>

#include "cairn/cli/cli.h"
#include "cli_fixture.h"
#include "cairn/data/idx.h"
#include "cairn/io/atomic_file.h"

namespace fs = std::filesystem;

namespace {

using cairn_test::cairn_cmd;
using cairn_test::Result;

double accuracy_in(const std::string& report) {
  std::smatch m;
  if (!std::regex_search(report, m, std::regex("accuracy\\s+([0-9.]+)"))) return -1;
  return std::stod(m[1]);
}

const std::string kMr = std::string(CAIRN_SHARED_DIR) + "/data/rt-polarity";

// A minimal 8-bit greyscale PNG (filter 0 rows, zlib-compressed), enough for image-folder fixtures.
void write_png(const fs::path& path, const uint8_t* px, int h, int w) {
  auto be32 = [](std::string& s, uint32_t v) {
    for (int k = 3; k >= 0; --k) s += static_cast<char>((v >> (8 * k)) & 0xff);
  };
  auto chunk = [&](std::string& out, const char* type, const std::string& data) {
    be32(out, static_cast<uint32_t>(data.size()));
    std::string body = std::string(type, 4) + data;
    out += body;
    be32(out, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()))));
  };
  std::string raw;
  for (int y = 0; y < h; ++y) {
    raw += '\0';
    raw.append(reinterpret_cast<const char*>(px + y * w), static_cast<size_t>(w));
  }
  uLongf n = compressBound(static_cast<uLong>(raw.size()));
  std::string z(n, '\0');
  compress(reinterpret_cast<Bytef*>(z.data()), &n, reinterpret_cast<const Bytef*>(raw.data()), static_cast<uLong>(raw.size()));
  z.resize(n);
  std::string png = "\x89PNG\r\n\x1a\n", ihdr;
  be32(ihdr, static_cast<uint32_t>(w));
  be32(ihdr, static_cast<uint32_t>(h));
  ihdr += std::string("\x08\x00\x00\x00\x00", 5);  // 8-bit grey, deflate, filter 0, no interlace
  chunk(png, "IHDR", ihdr);
  chunk(png, "IDAT", z);
  chunk(png, "IEND", "");
  std::ofstream(path, std::ios::binary) << png;
}

class PipelineTest : public cairn_test::CliDirTest {
 protected:
  std::string common(const std::string& layers, int epochs) {
    return "model:\n  layers:\n" + layers +
           "compile:\n  optimizer: {name: adam, lr: 0.005}\n"
           "  loss: {name: sparse_categorical_crossentropy, from_logits: true}\n  metrics: [accuracy]\n"
           "fit:\n  epochs: " + std::to_string(epochs) + "\n  batch_size: 32\n  verbose: 0\n"
           "outputs:\n  dir: " + (dir_ / "run").string() + "\n";
  }
};

// Mean of the token embeddings: (B, T) -> (B, T, 16) -> (B, 1, T, 16) -> average over T -> (B, 16).
std::string bag_of_embeddings(int vocab, int T) {
  return "    - Embedding: {input_dim: " + std::to_string(vocab) + ", output_dim: 16, seed: 1}\n"
         "    - Reshape: {target_shape: [1, " + std::to_string(T) + ", 16]}\n"
         "    - AveragePooling2D: {pool_size: [" + std::to_string(T) + ", 1]}\n"
         "    - Flatten: {}\n    - Dense: {units: 2}\n";
}

}  // namespace

TEST_F(PipelineTest, MovieReviewsWithAWordVocabularyFittedOnTheTrainingSplit) {
  std::string cfg = write("mr.yaml", "seed: 1\ndata:\n  dataset: text\n  files: {neg: " + kMr + ".neg, pos: " + kMr + ".pos}\n"
                                     "  limit: 4000\n  tokenizer: {type: word, vocab_size: 8000}\n  max_length: 40\n"
                                     "  split: {validation: 0.1, test: 0.1, stratify: true, seed: 1}\n" +
                                         common(bag_of_embeddings(8000, 40), 3));
  Result r = cairn_cmd({"train", cfg});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("10662 examples, 2 classes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("word tokenizer, 8000 ids (0 = padding, 1 = unknown), fitted on the training split"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("3200 training, 400 validation, 400 test"), std::string::npos) << r.out;
  const double acc = accuracy_in(r.out.substr(r.out.find("Test set")));
  EXPECT_GT(acc, 0.62) << r.out;  // bag of embeddings on 3200 MR reviews: about 0.68; chance 0.5

  std::string model = (dir_ / "run" / "model.safetensors").string();
  Result e = cairn_cmd({"evaluate", model});
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_NE(e.out.find("as recorded in the model"), std::string::npos) << e.out;
  EXPECT_NEAR(accuracy_in(e.out), acc, 1e-9) << e.out;

  std::string in = write("reviews.txt", "a gripping , beautifully acted film\nboring , tedious and far too long\n");
  Result p = cairn_cmd({"predict", model, in});
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.out.find("0:  pos"), std::string::npos) << p.out;
  EXPECT_NE(p.out.find("1:  neg"), std::string::npos) << p.out;
}

TEST_F(PipelineTest, JsonLinesWithCharAndTrainedBpeTokenizers) {
  // 600 reviews as JSON Lines {"text": ..., "label": "pos"|"neg"}.
  std::string jl;
  for (const char* side : {"pos", "neg"}) {
    std::ifstream in(kMr + "." + side);
    std::string line;
    for (int i = 0; i < 300 && std::getline(in, line); ++i) {
      std::string esc;
      for (unsigned char c : line) {
        if (c == '"' || c == '\\') esc += '\\';
        if (c >= 0x80) esc += "?";  // keep the file valid UTF-8
        else esc += static_cast<char>(c);
      }
      jl += "{\"text\": \"" + esc + "\", \"label\": \"" + side + "\"}\n";
    }
  }
  std::string path = write("mr.jsonl", jl);
  for (std::string tok : {"char", "bpe, vocab_size: 400"}) {
    std::string cfg = write("j.yaml", "data:\n  dataset: jsonl\n  path: " + path + "\n  tokenizer: {type: " + tok +
                                          "}\n  max_length: 24\n  split: {test: 0.2, seed: 2}\n" +
                                          common(bag_of_embeddings(512, 24), 1));
    Result r = cairn_cmd({"train", cfg});
    ASSERT_EQ(r.code, 0) << tok << ": " << r.err << r.out;
    EXPECT_NE(r.out.find("480 training samples [480, 24]"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(tok.substr(0, 3) + (tok == "char" ? "" : "") ), std::string::npos) << r.out;
    Result e = cairn_cmd({"evaluate", (dir_ / "run" / "model.safetensors").string()});
    EXPECT_EQ(e.code, 0) << e.err;
  }
}

TEST_F(PipelineTest, LatinOneLinesAreConvertedToUtf8) {
  std::string a = write("a.txt", "un caf\xe9 tr\xe8s bon\nexcellent\ngood\nsuperb\n");
  std::string b = write("b.txt", "bad\nawful\nterrible\npoor\n");
  std::string cfg = write("l.yaml", "data:\n  dataset: text\n  files: {good: " + a + ", bad: " + b + "}\n  max_length: 4\n" +
                                        common(bag_of_embeddings(64, 4), 1));
  Result r = cairn_cmd({"train", cfg});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("8 examples, 2 classes, 1 converted from latin-1 to UTF-8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("word tokenizer, 13 ids"), std::string::npos) << r.out;  // 11 words + padding + unknown
}

TEST_F(PipelineTest, WordPieceVocabularyFile) {
  std::string vocab = write("vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\ngood\nbad\nfilm\n##s\ngreat\nawful\n");
  std::string a = write("a.txt", "good films\ngreat film\nGood good\n");
  std::string b = write("b.txt", "bad films\nawful film\nbad , bad\n");
  std::string cfg = write("w.yaml", "data:\n  dataset: text\n  files: {pos: " + a + ", neg: " + b +
                                        "}\n  tokenizer: {type: wordpiece, vocab: " + vocab + "}\n  max_length: 4\n" +
                                        common(bag_of_embeddings(10, 4), 1));
  Result r = cairn_cmd({"train", cfg});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("wordpiece tokenizer, 10 ids (0 = padding, 1 = unknown), from its vocabulary files"), std::string::npos) << r.out;
  // films -> film ##s; ',' is the one unknown token of 15.
  EXPECT_NE(r.out.find("training: 6 examples, 2.5 tokens on average, 6.67% unknown"), std::string::npos) << r.out;
}

TEST_F(PipelineTest, EmbeddingSmallerThanTheVocabularyIsAConfigError) {
  std::string cfg = write("mr.yaml", "data:\n  dataset: text\n  files: {neg: " + kMr + ".neg, pos: " + kMr + ".pos}\n"
                                     "  limit: 400\n  tokenizer: word\n  max_length: 8\n" +
                                         common(bag_of_embeddings(100, 8), 1));
  Result r = cairn_cmd({"train", cfg});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("input_dim"), std::string::npos) << r.err;
}

TEST_F(PipelineTest, UnknownTokenizerNamesLine) {
  std::string cfg = write("t.yaml", "data:\n  dataset: text\n  files: {neg: " + kMr + ".neg}\n  tokenizer: {type: wordz}\n" +
                                        common("    - Dense: {units: 2}\n", 1));
  Result r = cairn_cmd({"train", cfg});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("t.yaml:4"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'word'"), std::string::npos) << r.err;
}

TEST_F(PipelineTest, ImageFolderWithAugmentationIsTheSameWithOneOrTwoWorkers) {
  auto fm = cairn::data::load_fashion_mnist();
  const char* names[10] = {"tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot"};
  int per_class[10] = {};
  for (int i = 0; i < 3000; ++i) {
    int64_t l = fm.train.labels.data[i];
    if (l != 1 && l != 7 && l != 8) continue;
    if (per_class[l]++ >= 80) continue;
    fs::create_directories(dir_ / "img" / names[l]);
    write_png(dir_ / "img" / names[l] / (std::to_string(i) + ".png"), &fm.train.images.data[size_t(i) * 784], 28, 28);
  }
  Result in = cairn_cmd({"data", "inspect", (dir_ / "img").string()});
  ASSERT_EQ(in.code, 0) << in.err;
  EXPECT_NE(in.out.find("images: 240"), std::string::npos) << in.out;
  EXPECT_TRUE(std::regex_search(in.out, std::regex("28x28x1 +240"))) << in.out;
  EXPECT_TRUE(std::regex_search(in.out, std::regex("sneaker +80 +33.3%"))) << in.out;

  auto cfg_for = [&](int workers, const std::string& run) {
    return write("i.yaml", "seed: 5\ndata:\n  dataset: image_folder\n  path: " + (dir_ / "img").string() +
                               "\n  size: [24, 24]\n  channels: 1\n"
                               "  split: {test: 0.25, stratify: true, seed: 3}\n"
                               "  augment: {rotation_range: 10, width_shift_range: 0.1, height_shift_range: 0.1, "
                               "zoom_range: 0.1, horizontal_flip: true}\n"
                               "  workers: " + std::to_string(workers) + "\n  prefetch: 2\n" +
                               common("    - Flatten: {}\n    - Dense: {units: 32, activation: relu}\n    - Dense: {units: 3}\n", 6) +
                               "  model: " + (dir_ / run).string() + "\n");
  };
  Result r = cairn_cmd({"train", cfg_for(1, "m1.safetensors")});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("180 training samples [180, 1, 24, 24]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("augment: on the loader threads"), std::string::npos) << r.out;
  EXPECT_GT(accuracy_in(r.out.substr(r.out.find("Test set"))), 0.8) << r.out;  // trouser / sneaker / bag
  r = cairn_cmd({"train", cfg_for(2, "m2.safetensors")});
  ASSERT_EQ(r.code, 0) << r.err;
  // The weights (after the JSON header, which records `workers`) are bit-identical.
  auto weights = [&](const std::string& name) {
    std::string f = cairn::io::read_file((dir_ / name).string());
    uint64_t n = 0;
    for (int k = 7; k >= 0; --k) n = (n << 8) | static_cast<unsigned char>(f[size_t(k)]);
    return f.substr(8 + n);
  };
  EXPECT_EQ(weights("m1.safetensors"), weights("m2.safetensors"));

  // predict on one PNG: resized to 24x24 as recorded.
  fs::path one = *fs::directory_iterator(dir_ / "img" / "sneaker");
  Result p = cairn_cmd({"predict", (dir_ / "m1.safetensors").string(), one.string()});
  ASSERT_EQ(p.code, 0) << p.err;
  EXPECT_NE(p.out.find("0:  sneaker"), std::string::npos) << p.out;
}

TEST_F(PipelineTest, FashionMnistStratifiedValidationSplitAndItsOwnTestSet) {
  std::string cfg = write("f.yaml", "data:\n  dataset: fashion_mnist\n  limit: 600\n"
                                    "  split: {validation: 0.2, stratify: true, seed: 2}\n  workers: 2\n" +
                                        common("    - Flatten: {}\n    - Dense: {units: 10}\n", 1));
  Result r = cairn_cmd({"train", cfg});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("480 training samples [480, 1, 28, 28], 120 validation samples, 600 test samples"), std::string::npos) << r.out;
  r = cairn_cmd({"train", cfg, "--set", "data.split.test=0.1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("this dataset has its own test files"), std::string::npos) << r.err;
  r = cairn_cmd({"train", cfg, "--set", "data.augmnet={zoom_range: 0.1}"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown key 'augmnet' for dataset fashion_mnist (did you mean 'augment'?)"), std::string::npos) << r.err;
}
