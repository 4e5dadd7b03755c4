// Where one training step of a reference model goes: zero_grad, forward, loss, backward and the optimizer step,
// timed separately over many steps on a fixed batch (no data loading), then the optimizer step alone. The
// profile behind the choices in BENCHMARKS.md ("Training against PyTorch").
// Usage: step_phases {mlp,cnn,cnn1} [threads] [steps]   (cnn1: the CNN's first block alone, conv1-relu-pool + Dense)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cairn/core/core.h"
#include "cairn/nn/nn.h"
#include "cairn/optim/factory.h"
#include "reference_models.h"

using namespace cairn;
using Clock = std::chrono::steady_clock;

static double us(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count() * 1e6; }

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "mlp";
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int steps = argc > 3 ? std::atoi(argv[3]) : 1500, warmup = 200;
  set_num_threads(threads);
  manual_seed(0);
  const bench::ReferenceModel ref = bench::reference_model(which);
  if (!ref.net) {
    std::fprintf(stderr, "usage: step_phases {mlp,cnn,cnn1} [threads] [steps]\n");
    return 2;
  }
  const std::shared_ptr<nn::Sequential> net = ref.net;
  const int64_t bs = ref.batch_size;
  auto opt = optim::make_optimizer("adam", net->trainable_parameters(), {{"lr", 1e-3}});
  nn::LossOptions lo;
  lo.from_logits = true;
  auto loss_fn = nn::make_loss("sparse_categorical_crossentropy", lo);
  const Tensor x = uniform({bs, 1, 28, 28}, 0.0, 1.0);
  const Tensor y = randint(0, 10, {bs});
  double t[5] = {};  // zero_grad, forward, loss, backward, optimizer
  for (int i = 0; i < warmup + steps; ++i) {
    const auto t0 = Clock::now();
    opt->zero_grad();
    const auto t1 = Clock::now();
    Tensor out = net->forward(x);
    const auto t2 = Clock::now();
    Tensor loss = (*loss_fn)(out, y, Tensor());
    loss.item();
    const auto t3 = Clock::now();
    loss.backward();
    const auto t4 = Clock::now();
    opt->step();
    const auto t5 = Clock::now();
    if (i < warmup) continue;
    t[0] += us(t0, t1), t[1] += us(t1, t2), t[2] += us(t2, t3), t[3] += us(t3, t4), t[4] += us(t4, t5);
  }
  const double total = t[0] + t[1] + t[2] + t[3] + t[4];
  std::printf("%s, %d threads, us/step: zero_grad %.1f  forward %.1f  loss %.1f  backward %.1f  optimizer %.1f  "
              "total %.1f (%.0f samples/s)\n",
              which.c_str(), threads, t[0] / steps, t[1] / steps, t[2] / steps, t[3] / steps, t[4] / steps,
              total / steps, static_cast<double>(bs) * steps / (total * 1e-6));
  const auto t0 = Clock::now();
  for (int i = 0; i < steps; ++i) opt->step();
  std::printf("%s, %d threads: Adam step alone %.1f us\n", which.c_str(), threads, us(t0, Clock::now()) / steps);
  return 0;
}
