// GPT benchmarks: the training step of /work/shared/bench/torch_ref.py's `gpt` model (4 layers, 4 heads, width
// 128, context 64, vocab 65; batch 12, AdamW lr 1e-3, random tokens) and KV-cache generation latency.
//
//   gpt_bench train [threads=2] [iters=200] [precision=highest] [parts=threads]
//                                               ms/iter and tokens/s (compare with torch_ref.py gpt <threads>);
//                                               precision medium: bfloat16 matmul operands (see precision.h);
//                                               the batch runs as `parts` parts at once (train/data_parallel.h),
//                                               as `cairn train` runs it; parts 1: one pass, each op threaded
//   gpt_bench generate [threads=1] [reps=50]    ms/token at context positions 8, 16, 32, 64, with and without cache
//   gpt_bench attention [threads=1] [reps=200]  CPU ms of the fused attention forward and backward at the GPT shape
//   gpt_bench gemms [threads=2] [reps=200] [rows=768]  wall ms of each matrix product of a training step (its floor)
//
// bench/compare_gpt.sh runs both sides in one go. Figures, not tests: nothing here fails on a slow machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "cairn/core/core.h"
#include "cairn/nn/gpt.h"
#include "cairn/optim/optimizers.h"
#include "cairn/train/data_parallel.h"

using namespace cairn;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

int train_step(int threads, int iters, const std::string& precision, int parts) {
  set_num_threads(threads);
  if (parts <= 0) parts = threads;  // one part of the batch per thread (train/data_parallel.h)
  set_float32_matmul_precision(precision);
  manual_seed(0);
  const int64_t B = 12, T = 64, V = 65;
  nn::GPT model(nn::GPTConfig{});  // torch_ref's config
  optim::AdamW opt(model.parameters(), {.lr = 1e-3});
  Generator g(1);
  Tensor X = randint(0, V, {B * (iters + 1), T}, DType::i64, &g), Y = randint(0, V, {B * (iters + 1), T}, DType::i64, &g);
  double phase[2] = {0, 0};  // wall ms: forward, loss and backward of the parts (and zero_grad), optimizer step
  auto step = [&](int i) {
    Tensor x = X.narrow(0, i * B, B), y = Y.narrow(0, i * B, B);
    const auto t0 = Clock::now();
    opt.zero_grad();
    const double loss = train::parallel_backward(B, parts, [&](int64_t b, int64_t e) {
      return cross_entropy(model.forward(x.narrow(0, b, e - b)).reshape({-1, V}), y.narrow(0, b, e - b).reshape({-1}));
    });
    const auto t1 = Clock::now();
    opt.step();
    phase[0] += std::chrono::duration<double, std::milli>(t1 - t0).count();
    phase[1] += ms_since(t1);
    return loss;
  };
  step(iters);  // warm-up (allocations, kernel tables); not timed
  std::fill(std::begin(phase), std::end(phase), 0.0);
  const auto t0 = Clock::now();
  const std::clock_t c0 = std::clock();  // CPU time of every thread: a figure that a busy machine disturbs less
  double loss = 0;
  for (int i = 0; i < iters; ++i) loss = step(i);
  const double ms = ms_since(t0), cpu_ms = 1000.0 * static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  std::printf("cairn gpt: %.1f ms/iter  %.0f tokens/s  params=%lld  threads=%d  cpu %.1f ms/iter  last loss=%.4f  "
              "matmul precision %s%s\n",
              ms / iters, B * T * iters / (ms / 1000.0), static_cast<long long>(model.count_params()), threads,
              cpu_ms / iters, loss, precision.c_str(),
              precision == "medium" && !bf16_matmul_available() ? " (no bf16 on this CPU: float32)" : "");
  std::printf("  per step: forward, loss and backward %.2f ms (%d part%s), optimizer %.2f ms\n", phase[0] / iters,
              parts, parts == 1 ? "" : "s", phase[1] / iters);
  return 0;
}

int generate(int threads, int reps) {
  set_num_threads(threads);
  manual_seed(0);
  nn::GPT model(nn::GPTConfig{});
  model.eval();
  NoGradGuard ng;
  const int64_t T = 64;
  std::vector<std::vector<double>> cached(T);  // per position, one time per run
  nn::KVCache cache = model.make_cache(1);
  for (int r = 0; r < reps; ++r) {
    cache.reset();
    for (int64_t p = 0; p < T; ++p) {
      Tensor tok = full({1, 1}, static_cast<double>((p * 7 + r) % 65), DType::i64);
      const auto t0 = Clock::now();
      Tensor logits = model.forward_step(tok, cache);
      (void)logits.data<float>()[0];
      cached[p].push_back(ms_since(t0));
    }
  }
  // Medians: robust to the odd preempted run on a shared machine.
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::printf("cairn gpt generation (batch 1, threads=%d, median of %d runs), ms/token at position:\n", threads, reps);
  std::printf("  position   KV cache   no cache (full window)\n");
  for (int64_t p : {8, 16, 32, 64}) {
    Tensor window = zeros({1, p}, DType::i64);
    std::vector<double> full;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = Clock::now();
      Tensor logits = model.forward(window);
      (void)logits.data<float>()[0];
      full.push_back(ms_since(t0));
    }
    std::printf("  %8lld   %8.3f   %8.3f\n", static_cast<long long>(p), median(cached[p - 1]), median(full));
  }
  return 0;
}

// The fused attention alone at the training shape (batch 12, 4 heads, 64 positions, head width 32, causal), on
// q, k and v as the model has them: views into one (12, 64, 384) projection.
int attention(int threads, int reps) {
  set_num_threads(threads);
  Generator g(3);
  Tensor qkv = randn({12, 64, 384}, DType::f32, &g).requires_grad_(), r = randn({12, 64, 128}, DType::f32, &g);
  // Wall time, and cpu time of all threads (on two, that counts OpenMP's spinning at barriers too).
  using Clock = std::chrono::steady_clock;
  double wall_fwd = 0, wall_bwd = 0, cpu_fwd = 0, cpu_bwd = 0;
  for (int i = 0; i < reps; ++i) {
    qkv.zero_grad();
    const std::clock_t c0 = std::clock();
    const Clock::time_point w0 = Clock::now();
    Tensor y = self_attention_packed(qkv, 4, {.causal = true});
    Tensor loss = sum(y * r);
    const std::clock_t c1 = std::clock();
    const Clock::time_point w1 = Clock::now();
    loss.backward();
    const std::clock_t c2 = std::clock();
    const Clock::time_point w2 = Clock::now();
    wall_fwd += std::chrono::duration<double>(w1 - w0).count();
    wall_bwd += std::chrono::duration<double>(w2 - w1).count();
    cpu_fwd += static_cast<double>(c1 - c0) / CLOCKS_PER_SEC;
    cpu_bwd += static_cast<double>(c2 - c1) / CLOCKS_PER_SEC;
  }
  const double to_ms = 1000.0 / reps;
  std::printf("cairn attention (12, 4, 64, 32) causal, threads=%d: forward %.3f ms, backward %.3f ms wall per call "
              "(cpu %.3f, %.3f ms)\n",
              threads, wall_fwd * to_ms, wall_bwd * to_ms, cpu_fwd * to_ms, cpu_bwd * to_ms);
  return 0;
}

// The training step's matrix products one by one: for each Linear of the model (x: M tokens by `in`; 768, or 384
// for one of the two parts of a data-parallel step on one thread each), the
// forward x W^T + b and the backward's dX = dY W and dW = dY^T X, at the step's shapes. Their sum over the
// model's layers is what a step spends in GEMMs, the floor under its time.
int gemms(int threads, int reps, int64_t M) {
  set_num_threads(threads);
  Generator g(5);
  struct Layer {
    const char* name;
    int64_t in, out, count;
  };
  const Layer layers[] = {{"attn.qkv", 128, 384, 4}, {"attn.proj", 128, 128, 4}, {"mlp.fc", 128, 512, 4},
                          {"mlp.proj", 512, 128, 4}, {"lm_head", 128, 65, 1}};
  auto time_ms = [&](auto&& f) {
    f();  // warm-up: builds and caches the primitive
    const auto t0 = Clock::now();
    for (int i = 0; i < reps; ++i) f();
    return ms_since(t0) / reps;
  };
  std::printf("cairn gpt matmuls (%lld rows, threads=%d, %d reps), wall ms per call:\n", static_cast<long long>(M),
              threads, reps);
  std::printf("  %-10s %9s %8s %8s %8s %6s\n", "layer", "in x out", "forward", "dX", "dW", "count");
  double total = 0;
  for (const Layer& l : layers) {
    Tensor x = randn({M, l.in}, DType::f32, &g), w = randn({l.out, l.in}, DType::f32, &g),
           b = randn({l.out}, DType::f32, &g), dy = randn({M, l.out}, DType::f32, &g);
    const double f = time_ms([&] { (void)linear(x, w, b); });
    const double dx = time_ms([&] { (void)matmul(dy, w); });
    const double dw = time_ms([&] { (void)matmul(dy.transpose(0, 1), x); });
    total += (f + dx + dw) * static_cast<double>(l.count);
    std::printf("  %-10s %4lldx%-4lld %8.3f %8.3f %8.3f %6lld\n", l.name, static_cast<long long>(l.in),
                static_cast<long long>(l.out), f, dx, dw, static_cast<long long>(l.count));
  }
  double flops = 0;
  for (const Layer& l : layers) flops += 3.0 * 2.0 * static_cast<double>(M * l.in * l.out * l.count);
  std::printf("  all matmuls of one step: %.2f ms, %.0f GFLOP/s\n", total, flops / total / 1e6);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "train";
  try {
    if (mode == "train")
      return train_step(argc > 2 ? std::atoi(argv[2]) : 2, argc > 3 ? std::atoi(argv[3]) : 200, argc > 4 ? argv[4] : "highest",
                   argc > 5 ? std::atoi(argv[5]) : 0);
    if (mode == "attention") return attention(argc > 2 ? std::atoi(argv[2]) : 1, argc > 3 ? std::atoi(argv[3]) : 200);
    if (mode == "gemms")
      return gemms(argc > 2 ? std::atoi(argv[2]) : 2, argc > 3 ? std::atoi(argv[3]) : 200, argc > 4 ? std::atoll(argv[4]) : 768);
    if (mode == "generate") return generate(argc > 2 ? std::atoi(argv[2]) : 1, argc > 3 ? std::atoi(argv[3]) : 50);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gpt_bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "usage: gpt_bench train [threads] [iters] [highest|medium] | generate [threads] [reps] | attention [threads] [reps] | gemms [threads] [reps] [rows]\n");
  return 2;
}
