// The reference models of ../shared/bench/torch_ref.py, for the benchmarks that train them
// (train_ref, step_phases, bench_loader): Fashion-MNIST input (N, 1, 28, 28), 10 classes.
//   cnn:  Conv2D 32 3x3 relu, MaxPool 2, Conv2D 64 3x3 relu, MaxPool 2, Flatten, Dense 128 relu, Dense 10; batch 32
//   cnn1: Conv2D 32 3x3 relu, MaxPool 2, Flatten, Dense 10 (one convolution, for profiling); batch 32
//   mlp:  Flatten, Dense 256 relu, Dense 256 relu, Dense 10; batch 64
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "cairn/nn/nn.h"

namespace cairn::bench {

struct ReferenceModel {
  std::shared_ptr<nn::Sequential> net;  // built; null for an unknown name
  int64_t batch_size = 0;
};

inline ReferenceModel reference_model(const std::string& which) {
  auto net = std::make_shared<nn::Sequential>();
  int64_t bs = 32;
  if (which == "cnn" || which == "cnn1") {
    net->add<nn::Conv2D>(32, 3, "relu");
    net->add<nn::MaxPooling2D>(2);
    if (which == "cnn") {
      net->add<nn::Conv2D>(64, 3, "relu");
      net->add<nn::MaxPooling2D>(2);
    }
    net->add<nn::Flatten>();
    if (which == "cnn") net->add<nn::Dense>(128, "relu");
    net->add<nn::Dense>(10);
  } else if (which == "mlp") {
    net->add<nn::Flatten>();
    net->add<nn::Dense>(256, "relu");
    net->add<nn::Dense>(256, "relu");
    net->add<nn::Dense>(10);
    bs = 64;
  } else {
    return {};
  }
  net->build({-1, 1, 28, 28});
  return {net, bs};
}

}  // namespace cairn::bench
