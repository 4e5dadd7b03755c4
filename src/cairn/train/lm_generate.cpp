#include "cairn/train/lm_generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/ops/ops.h"
#include "cairn/core/tensor/error.h"
#include "cairn/nn/module.h"

namespace cairn::train {

void check_sampling_options(const SamplingOptions& o) {
  CAIRN_CHECK(std::isfinite(o.temperature) && o.temperature >= 0, ValueError,
              "temperature must be >= 0 (0 = greedy), got ", o.temperature);
  CAIRN_CHECK(o.top_k >= 0, ValueError, "top_k must be >= 0 (0 = no limit), got ", o.top_k);
  CAIRN_CHECK(o.top_p > 0 && o.top_p <= 1, ValueError, "top_p must be in (0, 1] (1 = no limit), got ", o.top_p);
}

int32_t sample_token(std::span<const float> logits, const SamplingOptions& o, Generator& gen) {
  check_sampling_options(o);
  const size_t V = logits.size();
  CAIRN_CHECK(V > 0, ValueError, "sample_token: empty logits");
  for (size_t i = 0; i < V; ++i)
    CAIRN_CHECK(std::isfinite(logits[i]), ValueError, "sample_token: logit ", i, " is ", logits[i],
                "; the model produced a non-finite value (diverged weights?)");
  if (o.temperature == 0) return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());

  // Probabilities of logits / temperature, in double (a max-shifted softmax).
  const double mx = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(V);
  for (size_t i = 0; i < V; ++i) p[i] = std::exp((logits[i] - mx) / o.temperature);

  // Candidates, most likely first (stable: equal probabilities in id order).
  std::vector<int32_t> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b]; });
  size_t keep = V;
  if (o.top_k > 0 && static_cast<size_t>(o.top_k) < V) {
    // Hugging Face keeps every token tied with the k-th.
    keep = static_cast<size_t>(o.top_k);
    while (keep < V && p[order[keep]] == p[order[keep - 1]]) ++keep;
  }
  if (o.top_p < 1) {
    double total = 0;
    for (size_t j = 0; j < keep; ++j) total += p[order[j]];
    double cum = 0;
    size_t n = 0;
    // Keep a token while the mass before it is still short of top_p (so the first always stays).
    while (n < keep && cum < o.top_p * total) cum += p[order[n++]];
    keep = n;
  }
  double total = 0;
  for (size_t j = 0; j < keep; ++j) total += p[order[j]];
  const double r = gen.uniform() * total;
  double cum = 0;
  for (size_t j = 0; j < keep; ++j) {
    cum += p[order[j]];
    if (r < cum) return order[j];
  }
  return order[keep - 1];  // r within rounding of total
}

RecomputeDecoder::RecomputeDecoder(std::shared_ptr<nn::Module> net, int64_t context, int64_t vocab_size)
    : net_(std::move(net)), context_(context), vocab_(vocab_size) {
  CAIRN_CHECK(net_ != nullptr, ValueError, "RecomputeDecoder: the model is null");
  CAIRN_CHECK(context_ >= 1 && vocab_ >= 1, ValueError, "RecomputeDecoder: context and vocab_size must be >= 1, got ",
              context_, " and ", vocab_);
}

std::vector<float> RecomputeDecoder::prefill(std::span<const int32_t> tokens) {
  CAIRN_CHECK(!tokens.empty() && static_cast<int64_t>(tokens.size()) <= context_, ValueError, "prefill: ",
              tokens.size(), " tokens, expected 1 to ", context_, " (the context)");
  seq_.assign(tokens.begin(), tokens.end());
  return run();
}

std::vector<float> RecomputeDecoder::step(int32_t token) {
  CAIRN_CHECK(!seq_.empty() && length() < context_, ValueError, "step: the sequence holds ", seq_.size(),
              " tokens; step needs 1 to ", context_ - 1, " (prefill first; the context is ", context_, ")");
  seq_.push_back(token);
  return run();
}

std::vector<float> RecomputeDecoder::run() {
  NoGradGuard no_grad;
  struct EvalMode {  // eval mode for the call, the caller's mode restored even when forward throws
    nn::Module& m;
    bool was = m.is_training();
    explicit EvalMode(nn::Module& mod) : m(mod) { m.eval(); }
    ~EvalMode() { m.train(was); }
  } eval_mode(*net_);
  const int64_t T = length();
  std::vector<int64_t> ids(seq_.begin(), seq_.end());
  Tensor logits = (*net_)(from_vector(ids, {1, T}));
  CAIRN_CHECK(logits.dim() == 3 && logits.size(0) == 1 && logits.size(1) == T && logits.size(2) == vocab_, ShapeError,
              "RecomputeDecoder: the model returned logits of shape ", shape_str(logits.shape()), " for input (1, ", T,
              "); expected (1, ", T, ", ", vocab_, ")");
  return select(select(logits, 0, 0), 0, T - 1).to(DType::f32).contiguous().to_vector<float>();
}

std::vector<int32_t> generate(LmDecoder& dec, std::span<const int32_t> prompt, const GenerateOptions& o,
                              const std::function<void(int32_t)>& on_token) {
  check_sampling_options(o.sampling);
  const int64_t C = dec.context(), V = dec.vocab_size();
  CAIRN_CHECK(!prompt.empty(), ValueError, "generate: the prompt is empty; give at least one token");
  CAIRN_CHECK(o.max_new_tokens >= 0, ValueError, "generate: max_new_tokens must be >= 0, got ", o.max_new_tokens);
  for (size_t i = 0; i < prompt.size(); ++i)
    CAIRN_CHECK(prompt[i] >= 0 && prompt[i] < V, ValueError, "generate: prompt token ", i, " is ", prompt[i],
                ", outside the model's vocabulary [0, ", V, ")");
  const int64_t P = static_cast<int64_t>(prompt.size());
  if (o.overflow == ContextOverflow::Error) {
    CAIRN_CHECK(P <= C, ValueError, "the prompt is ", P, " tokens, longer than the model's context of ", C,
                " tokens; shorten it or allow a sliding window");
    // The last new token is never fed back, so P + max_new_tokens - 1 tokens must fit.
    CAIRN_CHECK(P + o.max_new_tokens - 1 <= C, ValueError, "the prompt (", P, " tokens) plus ", o.max_new_tokens,
                " new tokens exceed the model's context of ", C, " tokens; ask for at most ", C - P + 1,
                " new tokens or allow a sliding window");
  }
  Generator gen(o.seed);
  std::vector<int32_t> seq(prompt.begin(), prompt.end());
  std::vector<int32_t> out;
  if (o.max_new_tokens == 0) return out;
  const size_t first = seq.size() > static_cast<size_t>(C) ? seq.size() - C : 0;
  std::vector<float> logits = dec.prefill(std::span<const int32_t>(seq).subspan(first));
  for (int64_t n = 0;; ++n) {
    const int32_t next = sample_token(logits, o.sampling, gen);
    out.push_back(next);
    seq.push_back(next);
    if (on_token) on_token(next);
    if (n + 1 == o.max_new_tokens) break;
    if (dec.length() < C) {
      logits = dec.step(next);
    } else {
      // Full: condition on the last C tokens, as a recompute over idx[:, -C:] would.
      logits = dec.prefill(std::span<const int32_t>(seq).subspan(seq.size() - C));
    }
  }
  return out;
}

}  // namespace cairn::train
