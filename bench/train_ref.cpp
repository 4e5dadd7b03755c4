// Cairn's side of ../shared/bench/torch_ref.py: the same models, optimizer, batch and thread count, timed the
// same way (one epoch of shuffled mini-batches, samples per second), so the two figures divide in one run.
// Usage: train_ref {cnn,mlp} [threads] [epochs]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "cairn/core/core.h"
#include "cairn/data/idx.h"
#include "cairn/nn/nn.h"
#include "cairn/optim/factory.h"
#include "reference_models.h"
#include "cairn/train/model.h"

using namespace cairn;

int main(int argc, char** argv) {
  const std::string which = argc > 1 ? argv[1] : "cnn";
  const int threads = argc > 2 ? std::atoi(argv[2]) : 2;
  const int epochs = argc > 3 ? std::atoi(argv[3]) : 2;
  set_num_threads(threads);
  manual_seed(0);

  auto fm = data::load_fashion_mnist();
  auto to_x = [](const data::Array<uint8_t>& a) {
    Tensor raw = Tensor::empty({a.shape[0], 1, 28, 28}, DType::u8);
    std::memcpy(raw.raw_data(), a.data.data(), a.data.size());
    return div(raw.to(DType::f32), scalar_tensor(255.0f));
  };
  Tensor x = to_x(fm.train.images), xt = to_x(fm.test.images);
  Tensor y = from_vector(fm.train.labels.data), yt = from_vector(fm.test.labels.data);

  const bench::ReferenceModel ref = bench::reference_model(which);
  if (!ref.net || which == "cnn1") {
    std::fprintf(stderr, "usage: train_ref {cnn,mlp} [threads] [epochs]\n");
    return 2;
  }
  const std::shared_ptr<nn::Sequential> net = ref.net;
  const int64_t bs = ref.batch_size;
  train::Model model(net);
  nn::LossOptions lo;
  lo.from_logits = true;
  model.compile(optim::make_optimizer("adam", net->trainable_parameters(), {{"lr", 1e-3}}),
                nn::make_loss("sparse_categorical_crossentropy", lo), {});
  for (int ep = 0; ep < epochs; ++ep) {
    train::FitOptions fo;
    fo.epochs = 1;
    fo.batch_size = bs;
    fo.verbose = 0;
    fo.seed = static_cast<uint64_t>(ep) + 1;
    auto t0 = std::chrono::steady_clock::now();
    auto h = model.fit(x, y, fo);
    double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto scores = model.evaluate(xt, yt, 1000);
    double acc = 0;
    {
      Tensor pred = argmax(model.predict(xt, 1000), 1);
      acc = mean(eq(pred, yt).to(DType::f32)).item();
    }
    std::printf("%s epoch %d: %.2fs  %.0f samples/s  loss=%.4f test_acc=%.4f\n", which.c_str(), ep + 1, dt,
                static_cast<double>(x.size(0)) / dt, h.history.at("loss").back(), acc);
    std::fflush(stdout);
  }
  return 0;
}
