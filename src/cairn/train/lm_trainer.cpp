#include "cairn/train/lm_trainer.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"
#include "cairn/nn/module.h"
#include "cairn/nn/weights_io.h"
#include "cairn/optim/clip.h"
#include "cairn/optim/optimizer.h"
#include "cairn/optim/schedules.h"
#include "cairn/train/data_parallel.h"
#include "cairn/train/model.h"

namespace cairn::train {
namespace {

nlohmann::json generator_json(const Generator::State& s) {
  return {{"s", {std::to_string(s.s[0]), std::to_string(s.s[1]), std::to_string(s.s[2]), std::to_string(s.s[3])}},
          {"has_spare", s.has_spare},
          {"spare", s.spare}};
}

Generator::State generator_state(const nlohmann::json& j) {
  Generator::State s;
  for (int i = 0; i < 4; ++i) s.s[i] = std::stoull(j.at("s").at(i).get<std::string>());
  s.has_spare = j.at("has_spare");
  s.spare = j.at("spare");
  return s;
}

// The evaluation generator of step `step`: independent of the training batches and of earlier evaluations.
uint64_t eval_seed(uint64_t seed, int64_t step) { return seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(step) + 1; }

}  // namespace

LmTrainer::LmTrainer(std::shared_ptr<nn::Module> net, std::shared_ptr<optim::Optimizer> optimizer,
                     std::shared_ptr<optim::LRScheduler> scheduler)
    : net_(std::move(net)), opt_(std::move(optimizer)), sched_(std::move(scheduler)) {
  CAIRN_CHECK(net_ != nullptr, ValueError, "LmTrainer: the model is null");
  CAIRN_CHECK(opt_ != nullptr, ValueError, "LmTrainer: the optimizer is null");
}

Tensor LmTrainer::loss_of(const Tensor& inputs, const Tensor& targets) {
  // inputs, targets: (B, T) -> logits (B, T, V) -> mean cross-entropy over the B * T positions.
  Tensor logits = net_->forward(inputs);
  const int64_t B = inputs.size(0), T = inputs.size(1);
  CAIRN_CHECK(logits.dim() == 3 && logits.size(0) == B && logits.size(1) == T, ShapeError,
              "language-model training: the model returned logits of shape ", shape_str(logits.shape()),
              " for tokens of shape ", shape_str(inputs.shape()), "; expected (B, T, vocab)");
  return cross_entropy(reshape(logits, {B * T, logits.size(2)}), reshape(targets, {B * T}));
}

double LmTrainer::estimate_loss(const data::LmBatcher& data, Generator& gen, int64_t batches, int64_t batch_size) {
  CAIRN_CHECK(batches >= 1, ValueError, "estimate_loss: batches must be >= 1, got ", batches);
  NoGradGuard no_grad;
  struct EvalMode {  // eval mode for the estimate, the caller's mode restored even when forward throws
    nn::Module& m;
    bool was = m.is_training();
    explicit EvalMode(nn::Module& mod) : m(mod) { m.eval(); }
    ~EvalMode() { m.train(was); }
  } eval_mode(*net_);
  double sum = 0;
  for (int64_t i = 0; i < batches; ++i) {
    const data::LmBatch b = data.sample(gen, batch_size);
    sum += loss_of(b.inputs, b.targets).item();
  }
  return sum / static_cast<double>(batches);
}

LmHistory LmTrainer::fit(const data::LmBatcher& train, const data::LmBatcher* val, const LmTrainOptions& o) {
  CAIRN_CHECK(o.steps >= 0, ValueError, "fit: steps must be >= 0, got ", o.steps);
  CAIRN_CHECK(o.batch_size >= 1, ValueError, "fit: batch_size must be >= 1, got ", o.batch_size);
  CAIRN_CHECK(o.eval_every >= 0 && o.eval_batches >= 1, ValueError,
              "fit: eval_every must be >= 0 and eval_batches >= 1, got ", o.eval_every, " and ", o.eval_batches);
  CAIRN_CHECK(o.clip_grad_norm >= 0, ValueError, "fit: clip_grad_norm must be >= 0 (0 = off), got ", o.clip_grad_norm);
  CAIRN_CHECK(o.data_parallel >= 0, ValueError, "fit: data_parallel must be >= 0 (0: one part per thread), got ",
              o.data_parallel);
  const int parts = static_cast<int>(o.data_parallel > 0 ? o.data_parallel : num_threads());
  gen_.manual_seed(o.seed);
  step_ = 0;
  history_ = {};
  if (!o.resume_from.empty()) load_checkpoint(o.resume_from);
  CAIRN_CHECK(step_ <= o.steps, ValueError, "fit: the checkpoint ", o.resume_from, " is at step ", step_,
              ", past the ", o.steps, " steps asked for; raise steps to continue it");

  const auto t0 = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  const std::vector<Tensor> params = net_->trainable_parameters();
  auto evaluate = [&] {
    LmEval e;
    e.step = step_;
    Generator eg(eval_seed(o.seed, step_));
    e.train_loss = estimate_loss(train, eg, o.eval_batches, o.batch_size);
    e.val_loss = val ? estimate_loss(*val, eg, o.eval_batches, o.batch_size) : std::numeric_limits<double>::quiet_NaN();
    e.lr = opt_->lr();
    e.seconds = seconds();
    history_.evals.push_back(e);
    if (o.verbose) {
      if (val) std::printf("step %lld: train_loss %.4f val_loss %.4f", (long long)e.step, e.train_loss, e.val_loss);
      else std::printf("step %lld: train_loss %.4f", (long long)e.step, e.train_loss);
      std::printf("  (lr %.3g, %.0fs)\n", e.lr, e.seconds);
      std::fflush(stdout);
    }
    if (o.on_eval) o.on_eval(e);
  };

  net_->train();
  double log_sum = 0;
  int64_t log_n = 0;
  while (step_ < o.steps) {
    if (o.eval_every > 0 && step_ % o.eval_every == 0) evaluate();
    const data::LmBatch b = train.sample(gen_, o.batch_size);
    opt_->zero_grad();
    const double l = parallel_backward(o.batch_size, parts, [&](int64_t r0, int64_t r1) {
      return loss_of(b.inputs.narrow(0, r0, r1 - r0), b.targets.narrow(0, r0, r1 - r0));
    });
    if (!std::isfinite(l))
      throw NonFiniteLossError(detail::cat("the training loss is ", l, " at step ", step_ + 1, " (lr ", opt_->lr(),
                                           "); lower the learning rate, keep clip_grad_norm on, or check the data"));
    if (o.clip_grad_norm > 0) optim::clip_grad_norm_(params, o.clip_grad_norm);
    opt_->step();
    if (sched_) sched_->step();
    ++step_;
    history_.step_losses.push_back(l);
    if (o.log_every > 0) {
      log_sum += l;
      ++log_n;
      if (step_ % o.log_every == 0 && o.verbose) {
        std::printf("step %lld: loss %.4f  (lr %.3g, %.0fs)\n", (long long)step_, log_sum / log_n, opt_->lr(), seconds());
        std::fflush(stdout);
        log_sum = 0;
        log_n = 0;
      }
    }
    if (!o.checkpoint_path.empty() && o.checkpoint_every > 0 && step_ % o.checkpoint_every == 0)
      save_checkpoint(o.checkpoint_path, o.checkpoint_metadata);
    if (o.on_step) o.on_step(step_);
  }
  evaluate();
  if (!o.checkpoint_path.empty()) save_checkpoint(o.checkpoint_path, o.checkpoint_metadata);
  return history_;
}

void LmTrainer::save_checkpoint(const std::string& path, const std::map<std::string, std::string>& extra_metadata) const {
  nn::TensorDict tensors;
  for (auto& [k, t] : net_->state_dict()) tensors.insert("model." + k, t);
  for (auto& [k, t] : opt_->state_dict()) tensors.insert("optimizer." + k, t);
  if (sched_)
    for (auto& [k, t] : sched_->state_dict()) tensors.insert("scheduler." + k, t);
  nlohmann::json j;
  j["step"] = step_;
  j["batch_generator"] = generator_json(gen_.state());
  j["default_generator"] = generator_json(default_generator().state());
  j["step_losses"] = history_.step_losses;
  nlohmann::json evals = nlohmann::json::array();
  for (const LmEval& e : history_.evals)
    evals.push_back({{"step", e.step}, {"train_loss", e.train_loss}, {"val_loss", e.val_loss}, {"lr", e.lr}, {"seconds", e.seconds}});
  j["evals"] = evals;
  // NaN (no validation split) is not JSON: nlohmann writes null, read back as NaN below.
  nn::Metadata meta(extra_metadata.begin(), extra_metadata.end());
  meta["cairn.lm_checkpoint"] = j.dump();
  nn::save_tensors(path, tensors, meta);
}

void LmTrainer::load_checkpoint(const std::string& path) {
  nn::Metadata meta;
  nn::TensorDict tensors = nn::load_tensors(path, &meta);
  auto it = meta.find("cairn.lm_checkpoint");
  CAIRN_CHECK(it != meta.end(), ValueError, path,
              ": not a language-model training checkpoint (no 'cairn.lm_checkpoint' metadata)");
  nn::StateDict model_sd;
  std::map<std::string, Tensor> opt_sd, sched_sd;
  for (auto& [k, t] : tensors) {
    if (k.rfind("model.", 0) == 0) model_sd.insert(k.substr(6), t);
    else if (k.rfind("optimizer.", 0) == 0) opt_sd[k.substr(10)] = t;
    else if (k.rfind("scheduler.", 0) == 0) sched_sd[k.substr(10)] = t;
  }
  try {
    net_->load_state_dict(model_sd, true);
  } catch (const Error& e) {
    throw ValueError(detail::cat(path, ": the checkpoint does not fit this model (was it written with another model "
                                       "config or vocabulary?): ", e.what()));
  }
  opt_->load_state_dict(opt_sd);
  if (sched_) sched_->load_state_dict(sched_sd);
  try {
    nlohmann::json j = nlohmann::json::parse(it->second);
    step_ = j.at("step");
    gen_.set_state(generator_state(j.at("batch_generator")));
    default_generator().set_state(generator_state(j.at("default_generator")));
    history_ = {};
    history_.step_losses = j.at("step_losses").get<std::vector<double>>();
    for (const auto& e : j.at("evals")) {
      auto num = [&](const char* k) {
        return e.at(k).is_null() ? std::numeric_limits<double>::quiet_NaN() : e.at(k).get<double>();
      };
      history_.evals.push_back({e.at("step").get<int64_t>(), num("train_loss"), num("val_loss"), num("lr"), num("seconds")});
    }
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(detail::cat(path, ": the checkpoint's training state is corrupt: ", e.what()));
  }
}

}  // namespace cairn::train
