// Cairn's side of the `lstm` model of ../shared/bench/torch_ref.py: Embedding(10000, 32) -> LSTM(128) ->
// Dense(1), binary cross-entropy on logits, Adam 1e-3, batch 32, 6400 random sequences of 200 tokens, one
// shuffled epoch timed as samples per second. bench/compare_lstm.sh runs both sides in one go.
// Usage: bench_lstm [threads] [epochs] [samples]
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "cairn/core/core.h"
#include "cairn/nn/nn.h"
#include "cairn/optim/factory.h"
#include "cairn/train/model.h"

using namespace cairn;

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const int epochs = argc > 2 ? std::atoi(argv[2]) : 2;
  set_num_threads(threads);
  manual_seed(0);
  const int64_t N = argc > 3 ? std::atoll(argv[3]) : 6400, T = 200;
  Tensor x = randint(0, 10000, {N, T});
  Tensor y = gt(uniform({N, 1}, 0.0, 1.0), 0.5).to(DType::f32);

  auto net = std::make_shared<nn::Sequential>();
  net->add<nn::Embedding>(10000, 32, nn::EmbeddingOptions{.embeddings_initializer = "torch_default"});
  net->add<nn::LSTM>(128);
  net->add<nn::Dense>(1, nn::DenseOptions{.kernel_initializer = "torch_default"});
  net->build({-1, T});
  train::Model model(net);
  nn::LossOptions lo;
  lo.from_logits = true;
  model.compile(optim::make_optimizer("adam", net->trainable_parameters(), {{"lr", 1e-3}}),
                nn::make_loss("binary_crossentropy", lo), {});
  for (int ep = 0; ep < epochs; ++ep) {
    train::FitOptions fo;
    fo.epochs = 1;
    fo.batch_size = 32;
    fo.verbose = 0;
    fo.seed = static_cast<uint64_t>(ep) + 1;
    auto t0 = std::chrono::steady_clock::now();
    auto h = model.fit(x, y, fo);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("lstm epoch %d: %.2fs  %.0f samples/s  loss=%.4f\n", ep + 1, dt, static_cast<double>(N) / dt,
                h.history.at("loss").back());
    std::fflush(stdout);
  }
  return 0;
}
