// The C++ API end to end: Fashion-MNIST, a custom Module (PyTorch style) inside a Sequential (Keras style),
// compile / fit / evaluate / predict, callbacks, and weights saved as safetensors with PyTorch names.
// Built with the project (build/examples/fashion_mnist); README.md quotes it.
// Usage: fashion_mnist [epochs] [threads]
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "cairn/core/core.h"
#include "cairn/data/idx.h"
#include "cairn/nn/nn.h"
#include "cairn/optim/factory.h"
#include "cairn/train/callbacks.h"
#include "cairn/train/model.h"

using namespace cairn;

// A residual block written the PyTorch way: registered sub-modules and a forward().
class ResidualDense : public nn::Module {
 public:
  explicit ResidualDense(int64_t units) : nn::Module("ResidualDense") {
    fc_ = register_module("fc", std::make_shared<nn::Dense>(units, "relu"));
  }
  Tensor forward(const Tensor& x) override { return add(x, (*fc_)(x)); }

 private:
  std::shared_ptr<nn::Dense> fc_;
};

static Tensor images_to_tensor(const data::Array<uint8_t>& a) {  // (N, 28, 28) uint8 -> (N, 1, 28, 28) in [0, 1]
  Tensor raw = Tensor::empty({a.shape[0], 1, 28, 28}, DType::u8);
  std::memcpy(raw.raw_data(), a.data.data(), a.data.size());
  return div(raw.to(DType::f32), scalar_tensor(255.0f));
}

int main(int argc, char** argv) {
  const int64_t epochs = argc > 1 ? std::atoll(argv[1]) : 1;
  set_num_threads(argc > 2 ? std::atoi(argv[2]) : 2);
  manual_seed(0);

  data::FashionMnist fm = data::load_fashion_mnist();  // throws, naming the Debian package, if it is missing
  Tensor x = images_to_tensor(fm.train.images), y = from_vector(fm.train.labels.data);
  Tensor x_test = images_to_tensor(fm.test.images), y_test = from_vector(fm.test.labels.data);

  auto net = std::make_shared<nn::Sequential>();
  net->add<nn::Conv2D>(32, 3, "relu");
  net->add<nn::MaxPooling2D>(2);
  net->add<nn::Flatten>();
  net->add<nn::Dense>(128, "relu");
  net->add(std::make_shared<ResidualDense>(128));
  net->add<nn::Dense>(10);
  net->build({-1, 1, 28, 28});  // shapes inferred layer by layer
  std::printf("%s", nn::summary(*net).c_str());

  train::Model model(net);
  nn::LossOptions loss_options;
  loss_options.from_logits = true;
  model.compile(optim::make_optimizer("adam", net->trainable_parameters(), {{"lr", 1e-3}}),
                nn::make_loss("sparse_categorical_crossentropy", loss_options), {"accuracy"});

  train::FitOptions fo;
  fo.epochs = epochs;
  fo.batch_size = 32;
  fo.validation_split = 0.1;
  fo.callbacks = {std::make_shared<train::EarlyStopping>("val_loss", /*patience=*/2)};
  train::History history = model.fit(x, y, fo);

  std::printf("trained %lld epochs, last val_accuracy %.4f\n", static_cast<long long>(history.epochs_run),
              history.history["val_accuracy"].back());
  for (const auto& [name, value] : model.evaluate(x_test, y_test)) std::printf("test %s: %.4f\n", name.c_str(), value);
  Tensor predicted = argmax(model.predict(x_test), 1);  // class per test image
  std::printf("first test image: predicted class %g, label %g\n", predicted.select(0, 0).to(DType::f64).item(),
              y_test.select(0, 0).to(DType::f64).item());

  nn::save_weights("fashion_mnist_example.safetensors", *net);  // PyTorch state_dict names: "0.weight", ...
  return 0;
}
