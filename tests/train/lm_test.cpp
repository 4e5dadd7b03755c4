// Language models: sampling rules, generation with and without the KV cache, and step-based training that
// learns, checkpoints and resumes exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numeric>

#include "cairn/core/core.h"
#include "cairn/nn/gpt.h"
#include "cairn/optim/factory.h"
#include "cairn/train/gpt_decoder.h"
#include "cairn/train/lm_generate.h"
#include "cairn/train/lm_trainer.h"
#include "cairn/train/model.h"

using namespace cairn;

namespace {

std::shared_ptr<nn::GPT> tiny_gpt(int64_t vocab = 11, int64_t context = 8, uint64_t seed = 5) {
  nn::GPTConfig c;
  c.vocab_size = vocab;
  c.context_length = context;
  c.num_layers = 2;
  c.num_heads = 2;
  c.embed_dim = 16;
  c.seed = seed;
  return std::make_shared<nn::GPT>(c);
}

// A periodic sequence 0 1 2 ... 10 0 1 ...: perfectly predictable from the previous token.
data::TokenStream cyclic_stream(int64_t n, int32_t vocab = 11) {
  std::vector<int32_t> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<int32_t>(i % vocab);
  return data::TokenStream::from_tokens(v, "cyclic");
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("cairn_lm_" + std::to_string(::getpid()) + "_" + name)).string();
}

TEST(Sampling, GreedyIsArgmaxWithTiesToTheLowestId) {
  Generator g(1);
  std::vector<float> l = {0.5f, 2.0f, 2.0f, -1.0f};
  EXPECT_EQ(train::sample_token(l, {.temperature = 0}, g), 1);
  // top_k 1 and a tiny top_p keep only the most likely token, whatever the draw.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(train::sample_token(std::vector<float>{0.1f, 3.0f, 0.2f}, {.temperature = 1.0, .top_k = 1}, g), 1);
    EXPECT_EQ(train::sample_token(std::vector<float>{0.1f, 3.0f, 0.2f}, {.temperature = 1.0, .top_p = 0.01}, g), 1);
  }
}

TEST(Sampling, FrequenciesFollowTheFilteredDistribution) {
  Generator g(42);
  const std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  std::vector<int> all(4, 0), topk(4, 0), topp(4, 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    ++all[train::sample_token(l, {}, g)];
    ++topk[train::sample_token(l, {.top_k = 2}, g)];
    ++topp[train::sample_token(l, {.top_p = 0.9}, g)];  // 0.5 + 0.3 < 0.9: keeps three tokens
  }
  EXPECT_NEAR(all[0] / double(n), 0.5, 0.02);
  EXPECT_NEAR(all[3] / double(n), 0.05, 0.01);
  EXPECT_NEAR(topk[0] / double(n), 0.5 / 0.8, 0.02);
  EXPECT_EQ(topk[2] + topk[3], 0);
  EXPECT_NEAR(topp[2] / double(n), 0.15 / 0.95, 0.015);
  EXPECT_EQ(topp[3], 0);
}

TEST(Sampling, BadOptionsAndLogitsThrow) {
  Generator g(1);
  std::vector<float> l = {1.0f, 2.0f};
  EXPECT_THROW(train::sample_token(l, {.temperature = -1}, g), ValueError);
  EXPECT_THROW(train::sample_token(l, {.top_k = -2}, g), ValueError);
  EXPECT_THROW(train::sample_token(l, {.top_p = 0}, g), ValueError);
  EXPECT_THROW(train::sample_token(std::vector<float>{1.0f, NAN}, {}, g), ValueError);
}

TEST(Generate, KvCacheGivesTheSameTokensAsRecomputingPastTheContext) {
  auto gpt = tiny_gpt();
  train::GptCacheDecoder cached(gpt);
  train::RecomputeDecoder full(gpt, 8, 11);
  const std::vector<int32_t> prompt = {3, 1, 4};
  for (train::SamplingOptions s : {train::SamplingOptions{.temperature = 0},
                                   train::SamplingOptions{.temperature = 1.0, .top_k = 5, .top_p = 0.9}}) {
    train::GenerateOptions o;
    o.max_new_tokens = 20;  // 3 + 20 > context 8: the window slides
    o.sampling = s;
    o.seed = 9;
    std::vector<int32_t> streamed;
    auto a = train::generate(cached, prompt, o, [&](int32_t t) { streamed.push_back(t); });
    auto b = train::generate(full, prompt, o);
    EXPECT_EQ(a, b);
    EXPECT_EQ(a, streamed);
    EXPECT_EQ(a.size(), 20u);
  }
}

TEST(Generate, LongPromptsSlideOrFail) {
  auto gpt = tiny_gpt();
  train::GptCacheDecoder cached(gpt);
  train::RecomputeDecoder full(gpt, 8, 11);
  std::vector<int32_t> prompt(12);
  std::iota(prompt.begin(), prompt.end(), 0);
  for (auto& t : prompt) t %= 11;
  train::GenerateOptions o;
  o.max_new_tokens = 4;
  o.sampling.temperature = 0;
  // Sliding: only the last 8 prompt tokens matter.
  std::vector<int32_t> tail(prompt.end() - 8, prompt.end());
  EXPECT_EQ(train::generate(cached, prompt, o), train::generate(full, tail, o));
  o.overflow = train::ContextOverflow::Error;
  EXPECT_THROW(train::generate(cached, prompt, o), ValueError);
  EXPECT_THROW(train::generate(cached, std::vector<int32_t>{1, 2, 3}, {.max_new_tokens = 7, .sampling = {}, .seed = 1, .overflow = train::ContextOverflow::Error}),
               ValueError);  // 3 + 7 - 1 > 8
  EXPECT_NO_THROW(train::generate(cached, std::vector<int32_t>{1, 2, 3}, {.max_new_tokens = 6, .sampling = {}, .seed = 1, .overflow = train::ContextOverflow::Error}));
  EXPECT_THROW(train::generate(cached, std::vector<int32_t>{}, o), ValueError);
  EXPECT_THROW(train::generate(cached, std::vector<int32_t>{11}, o), ValueError);  // outside the vocabulary
}

train::LmTrainOptions small_options() {
  train::LmTrainOptions o;
  o.steps = 60;
  o.batch_size = 8;
  o.eval_every = 30;
  o.eval_batches = 4;
  o.verbose = false;
  o.seed = 3;
  return o;
}

struct LmRun {
  std::shared_ptr<nn::GPT> net;
  std::shared_ptr<optim::Optimizer> opt;
  std::shared_ptr<optim::LRScheduler> sched;
  train::LmTrainer trainer;
  explicit LmRun(int64_t steps)
      : net(tiny_gpt()), opt(optim::make_optimizer("adamw", net->trainable_parameters(), {{"lr", 1e-2}})),
        sched(optim::make_scheduler("cosine", *opt, {{"warmup_steps", 5}, {"total_steps", double(steps)}, {"min_lr", 1e-3}})),
        trainer(net, opt, sched) {}
};

TEST(LmTrainer, LearnsAPeriodicSequence) {
  auto [tr, va] = data::split_train_val(cyclic_stream(2000), 0.1);
  data::LmBatcher trb(tr, 8), vab(va, 8);
  LmRun r(60);
  train::LmHistory h = r.trainer.fit(trb, &vab, small_options());
  ASSERT_EQ(h.evals.size(), 3u);  // steps 0, 30, 60
  EXPECT_EQ(h.evals[2].step, 60);
  EXPECT_NEAR(h.evals[0].val_loss, std::log(11.0), 0.5);
  EXPECT_LT(h.evals[2].val_loss, 0.5) << "a next-token rule this simple should be learnt in 60 steps";
  EXPECT_EQ(h.step_losses.size(), 60u);
}

TEST(LmTrainer, ResumedRunMatchesTheUninterruptedOne) {
  auto [tr, va] = data::split_train_val(cyclic_stream(2000), 0.1);
  data::LmBatcher trb(tr, 8), vab(va, 8);
  const std::string ck = temp_path("resume.safetensors");
  train::LmTrainOptions o = small_options();
  LmRun full(60);
  train::LmHistory hf = full.trainer.fit(trb, &vab, o);

  manual_seed(1);  // the default generator is part of the checkpoint: disturb it
  LmRun part(60);
  o.steps = 60;
  o.checkpoint_path = ck;
  o.checkpoint_every = 20;
  o.on_step = [](int64_t s) {
    if (s == 25) throw std::runtime_error("interrupted");
  };
  EXPECT_THROW(part.trainer.fit(trb, &vab, o), std::runtime_error);  // the checkpoint holds step 20
  LmRun resumed(60);
  o.on_step = nullptr;
  o.resume_from = ck;
  train::LmHistory hr = resumed.trainer.fit(trb, &vab, o);
  EXPECT_EQ(hr.step_losses, hf.step_losses);
  ASSERT_EQ(hr.evals.size(), hf.evals.size());
  EXPECT_EQ(hr.evals.back().val_loss, hf.evals.back().val_loss);
  auto a = full.net->state_dict(), b = resumed.net->state_dict();
  for (const auto& [k, t] : a) EXPECT_EQ(t.to_vector<float>(), b.at(k).to_vector<float>()) << k;
  std::filesystem::remove(ck);
}

TEST(LmTrainer, CheckpointOfAnotherVocabularyIsRejected) {
  auto [tr, va] = data::split_train_val(cyclic_stream(500), 0.1);
  data::LmBatcher trb(tr, 8), vab(va, 8);
  const std::string ck = temp_path("vocab.safetensors");
  train::LmTrainOptions o = small_options();
  o.steps = 2;
  o.checkpoint_path = ck;
  LmRun r(60);
  r.trainer.fit(trb, &vab, o);
  auto other = tiny_gpt(/*vocab=*/12);
  auto opt = optim::make_optimizer("adamw", other->trainable_parameters(), {{"lr", 1e-2}});
  train::LmTrainer t2(other, std::move(opt));
  try {
    t2.load_checkpoint(ck);
    FAIL() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("does not fit this model"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tok.weight"), std::string::npos) << e.what();
  }
  std::filesystem::remove(ck);
}

TEST(LmTrainer, NonFiniteLossStopsWithTheStep) {
  auto [tr, va] = data::split_train_val(cyclic_stream(500), 0.1);
  data::LmBatcher trb(tr, 8);
  auto net = tiny_gpt();
  {
    NoGradGuard ng;
    Tensor w = net->state_dict().at("head.weight");
    w.fill_(NAN);
  }
  train::LmTrainer t(net, optim::make_optimizer("adamw", net->trainable_parameters(), {}));
  train::LmTrainOptions o = small_options();
  o.eval_every = 0;
  try {
    t.fit(trb, nullptr, o);
    FAIL();
  } catch (const train::NonFiniteLossError& e) {
    EXPECT_NE(std::string(e.what()).find("step 1"), std::string::npos) << e.what();
  }
}

}  // namespace
