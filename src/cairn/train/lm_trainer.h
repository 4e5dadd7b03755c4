// Language-model training by steps, as nanoGPT's train.py: each step draws a batch of random windows from the
// training stream, takes one optimizer step on the mean next-token cross-entropy (gradient norm clipped), and
// advances the learning-rate schedule; every eval_every steps (and after the last) the loss is estimated on
// eval_batches random batches of each split, in eval mode.
//
//   LmTrainer trainer(gpt, optimizer, scheduler);        // scheduler may be null (constant lr)
//   LmTrainOptions o; o.steps = 2000; o.batch_size = 12; o.eval_every = 500; o.eval_batches = 200;
//   LmHistory h = trainer.fit(train_batcher, &val_batcher, o);
//   // prints "step 500: train_loss 1.9876 val_loss 2.0712 (lr 9.1e-04, 61s)"
//
// The model is any module taking int64 tokens (B, T) to logits (B, T, V). Runs are reproducible: batches come
// from a generator seeded with `seed`, evaluation batches from one seeded by (seed, step), so evaluation does
// not shift the training batches. Full checkpoints (weights, optimizer and schedule state, generators, step and
// history) are written atomically every checkpoint_every steps; a run resumed from one continues exactly as the
// uninterrupted run would.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cairn/data/lm_data.h"

namespace cairn::nn {
class Module;
}
namespace cairn::optim {
class Optimizer;
class LRScheduler;
}  // namespace cairn::optim

namespace cairn::train {

struct LmEval {
  int64_t step = 0;          // optimizer steps taken before this evaluation
  double train_loss = 0.0;   // mean over eval_batches batches of the training split
  double val_loss = 0.0;     // the same on the validation split (NaN without one)
  double lr = 0.0;           // the lr the next step uses
  double seconds = 0.0;      // wall time since fit started (this run; a resumed run restarts at 0)
};

struct LmHistory {
  std::vector<LmEval> evals;
  std::vector<double> step_losses;  // every step's training-batch loss, in order (including resumed-over steps)
};

struct LmTrainOptions {
  int64_t steps = 1000;
  int64_t batch_size = 12;
  int64_t eval_every = 500;    // 0: only after the last step
  int64_t eval_batches = 200;  // batches per split per evaluation
  double clip_grad_norm = 1.0; // 0: no clipping
  // Parts each batch is cut into, whose forward and backward run at once on their own threads
  // (train/data_parallel.h); 0: one per thread (num_threads()), 1: the whole batch in one pass, its ops threaded.
  // The losses agree to rounding; for a given number of parts a run is reproducible on any thread count.
  int64_t data_parallel = 0;
  uint64_t seed = 1337;
  int64_t log_every = 0;       // also print "step N: loss X" every N steps (0: never)
  bool verbose = true;         // print the evaluation lines to stdout
  std::string checkpoint_path; // empty: no checkpoints
  int64_t checkpoint_every = 0;
  std::string resume_from;     // a checkpoint written by a run with the same model, optimizer and options
  // Extra safetensors metadata written into every checkpoint (e.g. the model description, so a caller can check
  // a checkpoint fits before resuming). The key "cairn.lm_checkpoint" is reserved.
  std::map<std::string, std::string> checkpoint_metadata;
  // Called after each evaluation (after the line is printed).
  std::function<void(const LmEval&)> on_eval;
  // Called after each optimizer step with the number of steps done (a test hook; kill/resume tests use it).
  std::function<void(int64_t)> on_step;
};

class LmTrainer {
 public:
  // Requires non-null net and optimizer; the scheduler (if any) must drive `optimizer`.
  LmTrainer(std::shared_ptr<nn::Module> net, std::shared_ptr<optim::Optimizer> optimizer,
            std::shared_ptr<optim::LRScheduler> scheduler = nullptr);

  // Trains to options.steps steps in total (counting steps restored from resume_from). `val` may be null.
  // Throws NonFiniteLossError (model.h) naming the step when a training loss is NaN or infinite, ValueError
  // for bad options or a checkpoint that does not fit, and ShapeError when the model's logits are not (B, T, V).
  LmHistory fit(const data::LmBatcher& train, const data::LmBatcher* val, const LmTrainOptions& options);

  // Mean cross-entropy over `batches` random batches drawn with gen, in eval mode without autograd (the
  // training flag is restored).
  double estimate_loss(const data::LmBatcher& data, Generator& gen, int64_t batches, int64_t batch_size);

  void save_checkpoint(const std::string& path, const std::map<std::string, std::string>& extra_metadata = {}) const;
  void load_checkpoint(const std::string& path);

  int64_t step() const { return step_; }

 private:
  Tensor loss_of(const Tensor& inputs, const Tensor& targets);

  std::shared_ptr<nn::Module> net_;
  std::shared_ptr<optim::Optimizer> opt_;
  std::shared_ptr<optim::LRScheduler> sched_;
  Generator gen_;
  int64_t step_ = 0;
  LmHistory history_;
};

}  // namespace cairn::train
