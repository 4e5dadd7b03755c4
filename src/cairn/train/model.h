// Model: Keras's compile / fit / evaluate / predict around an nn::Module (a Sequential or your own Module).
//
//   auto net = std::make_shared<nn::Sequential>(...);
//   train::Model model(net);
//   model.compile(optim::make_optimizer("adam", {}, {{"lr", 1e-3}}), nn::make_loss("sparse_categorical_crossentropy"),
//                 {"accuracy"});
//   FitOptions fo; fo.epochs = 10; fo.batch_size = 32; fo.validation_split = 0.1;
//   History h = model.fit(x_train, y_train, fo);
//   auto scores = model.evaluate(x_test, y_test);
//
// fit() shuffles with a generator seeded from (seed, epoch), so the batch order of epoch e is known without
// replaying earlier epochs; together with the saved RNG and optimizer state that makes a resumed run continue
// exactly where the interrupted one stopped (Checkpointing below).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/tensor.h"
#include "cairn/train/callbacks.h"
#include "cairn/train/metrics.h"

namespace cairn::nn {
class Module;
class Loss;
}  // namespace cairn::nn
namespace cairn::optim {
class Optimizer;
class LRScheduler;
}
namespace cairn::data {
class Dataset;
}

namespace cairn::train {

// fit() stops with this when a training loss is NaN or infinite; the message names epoch and step.
class NonFiniteLossError : public Error {
  using Error::Error;
};

struct History {
  std::map<std::string, std::vector<double>> history;  // "loss", "accuracy", "val_loss", ...
  std::vector<double> step_losses;                     // every training step's loss, in order
  int64_t epochs_run = 0;
};

struct FitOptions {
  int64_t epochs = 1;
  int64_t batch_size = 32;
  double validation_split = 0.0;  // last fraction of (x, y), taken before shuffling (as Keras)
  Tensor validation_x, validation_y;
  bool shuffle = true;
  std::map<int64_t, double> class_weight;  // class -> weight of its samples in the loss
  Tensor sample_weight;                    // (N) per-sample loss weights
  std::vector<std::shared_ptr<Callback>> callbacks;
  int verbose = 1;  // 0 silent, 1 progress bar (one line per epoch without a terminal), 2 one line per epoch
  uint64_t seed = 42;
  // Full checkpoints (weights, optimizer, RNG, position) every N steps and at each epoch end; empty = none.
  std::string checkpoint_path;
  int64_t checkpoint_every_steps = 0;
  // Resume from a full checkpoint written by a previous fit with the same data and options.
  std::string resume_from;
  // Stop after this many optimizer steps in total (0 = no limit); for tests and step-budgeted runs.
  int64_t max_steps = 0;
  // Learning-rate schedule (optim/schedules.h), stepped after every optimizer step (schedule_per_step) or at
  // every epoch end; its state is part of full checkpoints. Null: the optimizer's lr is left alone.
  std::shared_ptr<optim::LRScheduler> lr_schedule;
  bool schedule_per_step = false;
  // Threads that build batches ahead of the training step (see data::DataLoader; -1: automatic).
  int loader_workers = -1;
  int loader_prefetch = 4;  // batches built ahead of the training step
  // Parts each batch is cut into, their forward and backward run at once on their own threads
  // (train/data_parallel.h): 1 (the default) = the whole batch in one pass with its operations threaded;
  // 0 = one part per thread (num_threads()), or one pass when a layer updates state in its forward
  // (BatchNormalization). The gradient is the whole batch's either way; with dropout the random draws (and so the
  // bits) depend on the number of parts. Off by default: the layers Model trains (convolutions, wide Dense,
  // LSTM) thread well on their own, and parts gained 5-15% at best (BENCHMARKS.md, eleventh session).
  int64_t data_parallel = 1;
};

class Model {
 public:
  explicit Model(std::shared_ptr<nn::Module> net);
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  // Metrics threshold one-column outputs at 0 when the loss takes logits, at 0.5 when it takes probabilities.
  void compile(std::shared_ptr<optim::Optimizer> optimizer, std::shared_ptr<nn::Loss> loss,
               std::vector<std::string> metrics = {});

  History fit(const Tensor& x, const Tensor& y, FitOptions options = {});
  // Trains on a dataset of examples {x, y} or {x, y, sample_weight} (transforms and augmentation run on the
  // loader's threads). validation_split takes the dataset's last examples.
  History fit(std::shared_ptr<const data::Dataset> train, FitOptions options = {});
  // Loss and each compiled metric over (x, y), in batches, in eval mode.
  Logs evaluate(const Tensor& x, const Tensor& y, int64_t batch_size = 256, int verbose = 0);
  Logs evaluate(std::shared_ptr<const data::Dataset> data, int64_t batch_size = 256);
  // Model outputs for x, in batches, in eval mode, without autograd.
  Tensor predict(const Tensor& x, int64_t batch_size = 256);

  nn::Module& net() { return *net_; }
  std::shared_ptr<nn::Module> net_ptr() { return net_; }
  optim::Optimizer* optimizer() { return optimizer_.get(); }
  nn::Loss* loss() { return loss_.get(); }
  bool stop_training = false;

  // Full training state: weights, optimizer state, RNG, epoch/step position, running sums, history.
  void save_checkpoint(const std::string& path) const;
  // Restores what save_checkpoint wrote (the model must be compiled with the same architecture/optimizer).
  void load_checkpoint(const std::string& path);

 private:
  struct TrainState;
  double train_step(const Tensor& xb, const Tensor& yb, const Tensor& wb, int parts, bool& nan);
  std::shared_ptr<nn::Module> net_;
  std::shared_ptr<optim::Optimizer> optimizer_;
  std::shared_ptr<nn::Loss> loss_;
  std::vector<std::unique_ptr<Metric>> metrics_;
  std::vector<std::string> metric_names_;
  bool from_logits_ = false;  // loss_->takes_logits(): metrics threshold one-column outputs at 0, else 0.5
  std::unique_ptr<TrainState> state_;
  std::shared_ptr<optim::LRScheduler> schedule_;  // the running fit's, so checkpoints carry its state
  bool resuming_ = false;                          // load_checkpoint called by fit(resume_from)
};

}  // namespace cairn::train
