// `cairn train` on a language-model config and `cairn generate`, driven in-process with a tiny GPT on a tiny
// corpus: overrides, evaluation lines, cached vs uncached generation, and the errors users hit.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "cairn/cli/cli.h"
#include "cli_fixture.h"
#include "cairn/data/token_shard.h"
#include "cairn/text/bpe_tokenizer.h"

namespace fs = std::filesystem;
using cairn::cli::run;

namespace {

using cairn_test::cairn_cmd;
using cairn_test::Result;

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class LmCliTest : public cairn_test::CliDirTest {
 protected:
  std::string corpus(const std::string& name = "corpus.txt", const std::string& extra = "") {
    std::string t;
    for (int i = 0; i < 60; ++i) t += "the cat sat on the mat.\nhello world!\n";
    return write(name, t + extra);
  }
  // A tiny GPT (1 layer, width 16, context 16) trained for 6 steps; lines are counted by the tests below.
  std::string config(const std::string& corpus_path) {
    return "name: lm\n"
           "seed: 7\n"
           "threads: 1\n"
           "data: {dataset: text_lm, path: " + corpus_path + ", tokenizer: char, val_fraction: 0.1, context: 16}\n"
           "model: {type: gpt, layers: 1, heads: 2, width: 16, context: 16}\n"
           "compile:\n"
           "  optimizer: {name: adamw, lr: 0.01, weight_decay: 0.1}\n"
           "  schedule: {name: cosine, warmup_steps: 2, min_lr: 0.001}\n"
           "fit:\n"
           "  steps: 6\n"
           "  batch_size: 4\n"
           "  eval_every: 3\n"
           "  eval_batches: 2\n"
           "outputs:\n"
           "  dir: " + (dir_ / "run").string() + "\n"
           "  checkpoint_every_steps: 3\n";
  }
  std::string model() const { return (dir_ / "run" / "model.safetensors").string(); }
  std::string train_model() {
    Result r = cairn_cmd({"train", write("c.yaml", config(corpus()))});
    EXPECT_EQ(r.code, 0) << r.err;
    return model();
  }
};

TEST_F(LmCliTest, TrainPrintsEvaluationsAndStepsOverrideWorks) {
  Result r = cairn_cmd({"train", write("c.yaml", config(corpus()))});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "step 0: train_loss ")) << r.out;
  EXPECT_TRUE(has(r.out, "step 3: train_loss ")) << r.out;
  EXPECT_TRUE(has(r.out, "step 6: train_loss ")) << r.out;
  EXPECT_TRUE(has(r.out, " val_loss ")) << r.out;
  EXPECT_TRUE(fs::exists(model()));
  EXPECT_TRUE(fs::exists(dir_ / "run" / "checkpoint.safetensors"));
  r = cairn_cmd({"summary", model()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "Total params")) << r.out;

  r = cairn_cmd({"train", write("c.yaml", config(corpus())), "--set", "fit.steps=4"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "step 4: train_loss ")) << r.out;
  EXPECT_FALSE(has(r.out, "step 6:")) << r.out;
  EXPECT_TRUE(has(r.out, "Trained 4 steps")) << r.out;
}

TEST_F(LmCliTest, DataPathOverrideAndResumeContinueTheRun) {
  std::string other = corpus("other.txt");
  std::string cfg = write("c.yaml", config("/nonexistent/corpus.txt"));
  Result r = cairn_cmd({"train", cfg, "--set", "data.path=" + other, "--set", "fit.steps=3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "other.txt")) << r.out;
  r = cairn_cmd({"train", cfg, "--set", "data.path=" + other, "--set", "outputs.resume=true"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "Resuming from")) << r.out;
  EXPECT_FALSE(has(r.out, "step 0:")) << r.out;  // steps 1-3 were done by the first run
  EXPECT_TRUE(has(r.out, "step 6: train_loss")) << r.out;
}

TEST_F(LmCliTest, GenerateWithCacheEqualsWithoutCache) {
  std::string m = train_model();
  // 40 new tokens after a 5-token prompt run past the context of 16: the window slides.
  for (std::vector<std::string> sampling : {std::vector<std::string>{"--temperature", "0"},
                                            std::vector<std::string>{"--temperature", "1", "--top-k", "5", "--top-p", "0.9", "--seed", "3"}}) {
    std::vector<std::string> args = {"generate", m, "--prompt", "hello", "--max-tokens", "40"};
    args.insert(args.end(), sampling.begin(), sampling.end());
    Result cached = cairn_cmd(args);
    ASSERT_EQ(cached.code, 0) << cached.err;
    args.push_back("--no-cache");
    Result full = cairn_cmd(args);
    ASSERT_EQ(full.code, 0) << full.err;
    EXPECT_EQ(cached.out, full.out);
    EXPECT_EQ(cached.out.rfind("hello", 0), 0u) << cached.out;  // the prompt is echoed, then the new text
    EXPECT_EQ(cached.out.size(), 5u + 40u + 1u) << cached.out;   // one char per token, and a final newline
    EXPECT_TRUE(has(cached.err, "KV cache")) << cached.err;
    EXPECT_EQ(cairn_cmd(args).out, full.out);  // seeded: the same again
  }
}

TEST_F(LmCliTest, LongPromptSlidesOrFailsAsAsked) {
  std::string m = train_model();
  const std::string long_prompt = "the cat sat on the mat. hello world! the cat";  // 44 tokens > context 16
  Result r = cairn_cmd({"generate", m, "--prompt", long_prompt, "--max-tokens", "5", "--temperature", "0"});
  EXPECT_EQ(r.code, 0) << r.err;
  r = cairn_cmd({"generate", m, "--prompt", long_prompt, "--max-tokens", "5", "--context-overflow", "error"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "longer than the model's context of 16")) << r.err;
  r = cairn_cmd({"generate", m, "--prompt", "hello", "--max-tokens", "30", "--context-overflow", "error"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "exceed the model's context of 16")) << r.err;
}

// The loss `cairn evaluate` prints for a language model, from "... loss X, perplexity Y".
double evaluated_loss(const std::string& out) {
  const size_t at = out.find(": loss ");
  EXPECT_NE(at, std::string::npos) << out;
  return at == std::string::npos ? -1 : std::stod(out.substr(at + 7));
}

TEST_F(LmCliTest, EvaluateGivesTheValidationLossWithTheModelsTokenizer) {
  // Untrained (one step at lr 1e-7): logits start near zero, so the loss is about ln(17), 17 characters.
  Result r = cairn_cmd({"train", write("c.yaml", config(corpus())), "--set", "fit.steps=1", "--set",
                        "compile.schedule.warmup_steps=0", "--set", "compile.optimizer.lr=1e-7", "--set",
                        "compile.schedule.min_lr=1e-8"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = cairn_cmd({"evaluate", model()});
  ASSERT_EQ(r.code, 0) << r.err;
  // 2,220 characters, the last 10% (222) held out: (222 - 1) / 16 = 13 windows of 16.
  EXPECT_TRUE(has(r.out, "val: 13 windows of 16 tokens (208 predictions)")) << r.out;
  const double untrained = evaluated_loss(r.out);
  EXPECT_NEAR(untrained, std::log(17.0), 0.05) << r.out;
  const size_t p = r.out.find("perplexity ");
  ASSERT_NE(p, std::string::npos);
  EXPECT_NEAR(std::stod(r.out.substr(p + 11)), std::exp(untrained), 1e-2 * std::exp(untrained));

  // Trained for 60 steps on this repetitive text: far below; and the same figure when evaluated again.
  r = cairn_cmd({"train", write("c.yaml", config(corpus())), "--set", "fit.steps=60"});
  ASSERT_EQ(r.code, 0) << r.err;
  Result a = cairn_cmd({"evaluate", model()}), b = cairn_cmd({"evaluate", model()});
  ASSERT_EQ(a.code, 0) << a.err;
  EXPECT_LT(evaluated_loss(a.out), untrained - 1.0) << a.out;
  EXPECT_EQ(a.out, b.out);

  // Another corpus through a config's data section is encoded with the model's own tokenizer: a character the
  // model never saw is an error naming the file, not a silently refitted vocabulary.
  std::string other = write("e.yaml", config(corpus("other.txt", "Zebra!\n")));
  r = cairn_cmd({"evaluate", model(), other});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "other.txt")) << r.err;
  EXPECT_TRUE(has(r.err, "cannot tokenize the corpus")) << r.err;
  EXPECT_TRUE(has(r.err, "is this the tokenizer")) << r.err;

  // A token shard written with another, larger vocabulary: ids the model has no row for are refused by name.
  std::vector<int32_t> ids;
  for (int i = 0; i < 2000; ++i) ids.push_back(i % 200);
  {
    cairn::data::TokenShardWriter w(dir_ / "big.bin", cairn::data::TokenDtype::U16);
    w.append(std::span<const int32_t>(ids));
    w.close();
  }
  r = cairn_cmd({"evaluate", model(), write("s.yaml", config((dir_ / "big.bin").string()))});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "the validation tokens go up to id 199, outside the model's vocabulary of 17")) << r.err;
}

TEST_F(LmCliTest, PredictGivesEachPromptsLikeliestNextTokens) {
  Result r = cairn_cmd({"train", write("c.yaml", config(corpus())), "--set", "fit.steps=60"});
  ASSERT_EQ(r.code, 0) << r.err;
  // The first and last prompts are longer than the context of 16: their last 16 characters are used.
  const std::string prompts = write("p.txt", "the cat sat on the ma\nhello worl\nthe mat.\nhello world!\nthe cat sat on the m\n");
  r = cairn_cmd({"predict", model(), prompts, "--top", "2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "0:  \"t\" (")) << r.out;
  EXPECT_TRUE(has(r.out, "1:  \"d\" (")) << r.out;
  EXPECT_TRUE(has(r.out, "2:  \"\\n\" (")) << r.out;  // a newline is shown escaped
  EXPECT_TRUE(has(r.out, "3:  \"\\n\" (")) << r.out;
  EXPECT_TRUE(has(r.out, "4:  \"a\" (")) << r.out;
  // The first token greedy generation picks after the same prompt.
  Result g = cairn_cmd({"generate", model(), "--prompt", "hello worl", "--max-tokens", "1", "--temperature", "0"});
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_TRUE(has(g.out, "hello world")) << g.out;

  // A character the model never saw names the file and the prompt.
  r = cairn_cmd({"predict", model(), write("bad.txt", "the cat\nZebra\n")});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "bad.txt: prompt 2")) << r.err;
  EXPECT_TRUE(has(r.err, "knows 17 tokens")) << r.err;
}

TEST_F(LmCliTest, UnknownPromptCharacterIsAClearError) {
  std::string m = train_model();
  Result r = cairn_cmd({"generate", m, "--prompt", "hello Zebra"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "--prompt")) << r.err;
  EXPECT_TRUE(has(r.err, "Z")) << r.err;
  EXPECT_TRUE(has(r.err, "knows")) << r.err;
}

TEST_F(LmCliTest, EmptyAndTooShortCorporaAreClearErrors) {
  Result r = cairn_cmd({"train", write("c.yaml", config(write("empty.txt", "")))});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "empty.txt")) << r.err;
  EXPECT_TRUE(has(r.err, "corpus is empty")) << r.err;
  // 100 characters: the 10-character validation part is shorter than context + 1 = 17.
  r = cairn_cmd({"train", write("c.yaml", config(write("short.txt", std::string(50, 'a') + std::string(50, 'b'))))});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "fewer than context + 1 = 17")) << r.err;
  EXPECT_TRUE(has(r.err, "(val)")) << r.err;
}

TEST_F(LmCliTest, CheckpointOrTokenizerOfAnotherVocabularyIsRejected) {
  train_model();  // vocabulary of the corpus: 17 characters
  // The same run resumed on a corpus with more characters: its tokenizer has a larger vocabulary.
  std::string bigger = corpus("bigger.txt", "XYZ\n");
  Result r = cairn_cmd({"train", write("c.yaml", config(bigger)), "--set", "outputs.resume=true"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "vocabulary of 17 tokens")) << r.err;
  EXPECT_TRUE(has(r.err, "has 20")) << r.err;

  // A model loaded with a tokenizer of another vocabulary.
  std::string tok = (dir_ / "tok.json").string();
  {
    std::ofstream(tok) << R"({"type": "char", "symbols": ["a", "b", "c"], "unk_token": null})";
  }
  r = cairn_cmd({"generate", model(), "--tokenizer", tok, "--prompt", "abc"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "vocabulary of 3 tokens")) << r.err;
  EXPECT_TRUE(has(r.err, "trained with 17")) << r.err;
}

TEST_F(LmCliTest, TokenShardWithASavedBpeTokenizer) {
  std::string text;
  for (int i = 0; i < 80; ++i) text += "the cat sat on the mat. hello world! ";
  cairn::text::BpeTokenizer tok = cairn::text::train_bpe(text, 270);
  const std::string tok_path = (dir_ / "bpe.json").string();
  tok.save(tok_path);
  std::vector<int32_t> ids = tok.encode(text);
  {
    cairn::data::TokenShardWriter w(dir_ / "corpus.bin", cairn::data::TokenDtype::U16);
    w.append(std::span<const int32_t>(ids));
    w.close();
  }
  std::string cfg = config((dir_ / "corpus.bin").string());
  Result r = cairn_cmd({"train", write("c.yaml", cfg), "--set", "data.tokenizer=" + tok_path, "--set", "model.vocab_size=272"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(has(r.out, "corpus.bin: " + std::to_string(ids.size()) + " tokens (bpe tokenizer, vocabulary 270)")) << r.out;
  r = cairn_cmd({"generate", model(), "--prompt", "the cat", "--max-tokens", "12", "--temperature", "0"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("the cat", 0), 0u) << r.out;
  EXPECT_TRUE(has(r.err, "generated 12 tokens")) << r.err;
  // A char tokenizer cannot be fitted on a shard.
  r = cairn_cmd({"train", write("d.yaml", cfg)});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "token shards need tokenizer: bpe")) << r.err;
}

TEST_F(LmCliTest, DataParallelPartsGiveTheSameRunOnOneOrTwoThreads) {
  // fit.data_parallel fixes the parts of each batch; the thread count only decides how many run at once, so the
  // trained weights are the same bytes.
  const std::string cfg = write("c.yaml", config(corpus()));
  auto weights = [&](const std::string& parts, const char* threads) {
    const fs::path out = dir_ / ("run_" + parts + "_" + threads);
    Result r = cairn_cmd({"train", cfg, "--set", "fit.data_parallel=" + parts, "--set", std::string("threads=") + threads,
                          "--set", "outputs.dir=" + out.string()});
    EXPECT_EQ(r.code, 0) << r.err;
    std::ifstream f(out / "model.safetensors", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
  };
  const std::string one = weights("2", "1");
  EXPECT_GT(one.size(), 1000u);
  EXPECT_EQ(weights("2", "2"), one);
  EXPECT_NE(weights("1", "2"), one);  // one part: the same run up to rounding, so other bytes
  Result r = cairn_cmd({"train", cfg, "--set", "fit.data_parallel=-1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "data_parallel must be >= 0")) << r.err;
}

TEST_F(LmCliTest, StrictKeysNameFileAndLine) {
  std::string text = config(corpus());
  std::string cfg = write("c.yaml", text + "  epochs: 3\n");  // lands in outputs:
  int line = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  Result r = cairn_cmd({"train", cfg});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "c.yaml:" + std::to_string(line))) << r.err;
  EXPECT_TRUE(has(r.err, "unknown key 'epochs'")) << r.err;
  r = cairn_cmd({"train", cfg.substr(0, 0) + write("d.yaml", config(corpus())), "--set", "model.head=3"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "did you mean 'heads'")) << r.err;
}

TEST_F(LmCliTest, GenerateOnAClassifierOrMissingFileSaysWhy) {
  Result r = cairn_cmd({"generate", (dir_ / "none.safetensors").string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(has(r.err, "none.safetensors")) << r.err;
  r = cairn_cmd({"generate"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "usage: cairn generate")) << r.err;
  r = cairn_cmd({"generate", "m.safetensors", "--top-p", "1.5"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(has(r.err, "top_p")) << r.err;
}

}  // namespace
