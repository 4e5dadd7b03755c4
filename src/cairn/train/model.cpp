#include "cairn/train/model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"
#include "cairn/data/dataset.h"
#include "cairn/data/loader.h"
#include "cairn/nn/losses.h"
#include "cairn/nn/module.h"
#include "cairn/nn/weights_io.h"
#include "cairn/optim/optimizer.h"
#include "cairn/optim/schedules.h"
#include "cairn/train/data_parallel.h"

namespace cairn::train {

// Where a fit stands: enough to resume it exactly.
struct Model::TrainState {
  int64_t epoch = 0;         // current epoch (0-based)
  int64_t step = 0;          // steps done in the current epoch
  int64_t global_step = 0;   // steps done in all
  double loss_sum = 0;       // sum of batch loss * batch size in the current epoch
  int64_t seen = 0;          // samples in the current epoch
  std::vector<std::vector<double>> metric_states;
  History history;
};

Model::Model(std::shared_ptr<nn::Module> net) : net_(std::move(net)), state_(std::make_unique<TrainState>()) {
  CAIRN_CHECK(net_ != nullptr, ValueError, "Model: the network is null");
}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

void Model::compile(std::shared_ptr<optim::Optimizer> optimizer, std::shared_ptr<nn::Loss> loss,
                    std::vector<std::string> metrics) {
  CAIRN_CHECK(optimizer != nullptr, ValueError, "compile: optimizer is null");
  CAIRN_CHECK(loss != nullptr, ValueError, "compile: loss is null");
  optimizer_ = std::move(optimizer);
  loss_ = std::move(loss);
  from_logits_ = loss_->takes_logits();
  metrics_.clear();
  metric_names_ = std::move(metrics);
  for (const auto& m : metric_names_) metrics_.push_back(make_metric(m, from_logits_));
}

namespace {

Tensor batch_weights(const FitOptions& o, const Tensor& y, const Tensor& sw) {
  if (o.class_weight.empty()) return sw;
  auto cls = target_classes(y);
  std::vector<float> w(cls.size());
  for (size_t i = 0; i < cls.size(); ++i) {
    auto it = o.class_weight.find(cls[i]);
    w[i] = it == o.class_weight.end() ? 1.0f : static_cast<float>(it->second);
  }
  Tensor cw = from_vector(w);
  return sw.defined() ? mul(cw, sw.to(DType::f32)) : cw;
}

}  // namespace

double Model::train_step(const Tensor& xb, const Tensor& yb, const Tensor& wb, int parts, bool& nan) {
  optimizer_->zero_grad();
  const int64_t B = xb.size(0);
  const std::vector<int64_t> bounds = part_bounds(B, parts);
  std::vector<Tensor> outs(bounds.size() - 1);
  const bool summed = loss_->reduction() == "sum";
  const double lv = parallel_backward(B, parts, [&](int64_t r0, int64_t r1) {
    const size_t p = part_of(bounds, r0);
    const bool whole = r0 == 0 && r1 == B;
    auto rows = [&](const Tensor& t) { return whole || !t.defined() ? t : t.narrow(0, r0, r1 - r0); };
    Tensor out = net_->forward(rows(xb));
    Tensor loss = (*loss_)(out, rows(yb), rows(wb));
    outs[p] = out.detach();
    // parallel_backward weights each part by its share of the rows, which makes means of the parts the batch's
    // mean; a summed loss is the sum of the parts' sums instead.
    return summed && !whole ? mul(loss, static_cast<double>(B) / static_cast<double>(r1 - r0)) : loss;
  });
  if (!std::isfinite(lv)) {  // the gradients are left in .grad unapplied; the next step zeroes them
    nan = true;
    return lv;
  }
  optimizer_->step();
  const Tensor od = outs.size() == 1 ? outs[0] : concat(outs, 0);
  for (auto& m : metrics_) m->update(od, yb);
  return lv;
}

History Model::fit(const Tensor& x, const Tensor& y, FitOptions o) {
  CAIRN_CHECK(x.dim() >= 1 && y.dim() >= 1 && x.size(0) == y.size(0), ShapeError, "fit: x has shape ",
              shape_str(x.shape()), " but y has shape ", shape_str(y.shape()), "; they need the same number of samples");
  std::vector<Tensor> fields{x, y};
  if (o.sample_weight.defined()) {
    CAIRN_CHECK(o.sample_weight.dim() == 1 && o.sample_weight.size(0) == x.size(0), ShapeError, "fit: sample_weight has shape ",
                shape_str(o.sample_weight.shape()), " but x has ", x.size(0), " samples");
    fields.push_back(o.sample_weight);
  }
  if (!o.validation_x.defined() && o.validation_split > 0) {
    // Keras: the last fraction of (x, y), before shuffling.
    CAIRN_CHECK(o.validation_split < 1, ValueError, "fit: validation_split must be in [0, 1), got ", o.validation_split);
    const int64_t nv = static_cast<int64_t>(std::floor(static_cast<double>(x.size(0)) * o.validation_split));
    const int64_t nt = x.size(0) - nv;
    o.validation_x = narrow(x, 0, nt, nv);
    o.validation_y = narrow(y, 0, nt, nv);
    for (Tensor& f : fields) f = narrow(f, 0, 0, nt);
    o.validation_split = 0;
  }
  return fit(std::make_shared<data::TensorDataset>(fields), std::move(o));
}

History Model::fit(std::shared_ptr<const data::Dataset> ds, FitOptions o) {
  CAIRN_CHECK(optimizer_ && loss_, ValueError, "fit: call compile(optimizer, loss, metrics) before fit");
  CAIRN_CHECK(ds != nullptr, ValueError, "fit: the dataset is null");
  CAIRN_CHECK(o.batch_size > 0, ValueError, "fit: batch_size must be positive, got ", o.batch_size);
  CAIRN_CHECK(o.validation_split >= 0 && o.validation_split < 1, ValueError,
              "fit: validation_split must be in [0, 1), got ", o.validation_split);
  std::shared_ptr<const data::Dataset> val;
  if (o.validation_split > 0) {
    const int64_t nv = static_cast<int64_t>(std::floor(static_cast<double>(ds->size()) * o.validation_split));
    std::vector<int64_t> ti(static_cast<size_t>(ds->size() - nv)), vi(static_cast<size_t>(nv));
    for (int64_t i = 0; i < ds->size(); ++i) (i < ds->size() - nv ? ti[i] : vi[i - (ds->size() - nv)]) = i;
    val = std::make_shared<data::SubsetDataset>(ds, vi);
    ds = std::make_shared<data::SubsetDataset>(ds, ti);
  }
  const int64_t n = ds->size();
  CAIRN_CHECK(n > 0, ValueError, "fit: no training samples (validation_split ", o.validation_split, ")");
  data::DataLoader loader(ds, {.batch_size = o.batch_size, .shuffle = o.shuffle, .seed = o.seed,
                               .num_workers = o.loader_workers, .prefetch = o.loader_prefetch});
  const int64_t steps = loader.num_batches();
  CAIRN_CHECK(o.data_parallel >= 0, ValueError, "fit: data_parallel must be >= 0 (0: one part per thread, 1: off), got ",
              o.data_parallel);
  bool stateful = false;
  for (const auto& [name, m] : net_->named_modules()) stateful = stateful || m->updates_state_in_forward();
  CAIRN_CHECK(!(stateful && o.data_parallel > 1), ValueError, "fit: data_parallel ", o.data_parallel,
              " runs parts of each batch at once, but a layer of the model updates its state in its forward "
              "(BatchNormalization's running statistics); use data_parallel 0 or 1");
  const int parts = stateful ? 1 : static_cast<int>(o.data_parallel > 0 ? o.data_parallel : num_threads());

  TrainState& st = *state_;
  schedule_ = o.lr_schedule;
  if (!o.resume_from.empty()) {
    resuming_ = true;
    try {
      load_checkpoint(o.resume_from);
    } catch (...) {
      resuming_ = false;
      throw;
    }
    resuming_ = false;
  } else {
    *state_ = TrainState();
  }
  stop_training = false;
  for (auto& cb : o.callbacks) cb->set_model(this);
  for (auto& cb : o.callbacks) cb->on_train_begin({});

  while (st.epoch < o.epochs && !stop_training) {
    const int64_t epoch = st.epoch;
    net_->train();
    for (auto& cb : o.callbacks) cb->on_epoch_begin(epoch, {});
    if (o.verbose > 0) std::printf("Epoch %lld/%lld\n", static_cast<long long>(epoch + 1), static_cast<long long>(o.epochs));
    std::fflush(stdout);
    if (st.step == 0) {
      st.loss_sum = 0;
      st.seen = 0;
      for (auto& m : metrics_) m->reset();
    } else {
      for (size_t i = 0; i < metrics_.size() && i < st.metric_states.size(); ++i) metrics_[i]->set_state(st.metric_states[i]);
    }
    loader.start_epoch(epoch, st.step);
    ProgressBar bar(steps, o.verbose);
    Logs logs;
    data::Batch batch;
    while (!stop_training && loader.next(batch)) {
      const Tensor& xb = batch.fields[0];
      const Tensor& yb = batch.fields[1];
      const int64_t bn = xb.size(0);
      for (auto& cb : o.callbacks) cb->on_batch_begin(st.step, {});
      Tensor wb = batch_weights(o, yb, batch.fields.size() > 2 ? batch.fields[2] : Tensor());
      bool nan = false;
      const double lv = train_step(xb, yb, wb, parts, nan);
      if (nan)
        throw NonFiniteLossError(detail::cat("training stopped: the loss became ", lv, " at epoch ", epoch + 1, ", step ",
                                             st.step + 1, " (global step ", st.global_step + 1,
                                             "); the weights are those before that step. Lower the learning rate, "
                                             "clip gradients, or check the data for NaN/inf values."));
      if (schedule_ && o.schedule_per_step) schedule_->step();
      st.loss_sum += lv * static_cast<double>(bn);
      st.seen += bn;
      st.step++;
      st.global_step++;
      st.history.step_losses.push_back(lv);
      logs = {{"loss", st.loss_sum / static_cast<double>(st.seen)}};
      for (auto& m : metrics_) logs.emplace_back(m->name(), m->result());
      bar.update(st.step, logs);
      Logs batch_logs{{"loss", lv}};
      for (auto& cb : o.callbacks) cb->on_batch_end(st.step - 1, batch_logs);
      if (!o.checkpoint_path.empty() && o.checkpoint_every_steps > 0 && st.global_step % o.checkpoint_every_steps == 0) {
        st.metric_states.clear();
        for (auto& m : metrics_) st.metric_states.push_back(m->state());
        save_checkpoint(o.checkpoint_path);
      }
      if (o.max_steps > 0 && st.global_step >= o.max_steps) stop_training = true;
    }
    if (st.step < steps) break;  // stopped inside the epoch
    if (o.validation_x.defined() && o.validation_x.size(0) > 0) {
      Logs v = evaluate(o.validation_x, o.validation_y, std::max<int64_t>(o.batch_size, 256));
      for (auto& [k, val] : v) logs.emplace_back("val_" + k, val);
    } else if (val && val->size() > 0) {
      Logs v = evaluate(val, std::max<int64_t>(o.batch_size, 256));
      for (auto& [k, vv] : v) logs.emplace_back("val_" + k, vv);
    }
    logs.emplace_back("lr", optimizer_->lr());
    bar.finish(logs);
    for (auto& [k, val] : logs) st.history.history[k].push_back(val);
    st.history.epochs_run++;
    st.epoch++;
    if (schedule_ && !o.schedule_per_step) schedule_->step();
    st.step = 0;
    for (auto& cb : o.callbacks) cb->on_epoch_end(epoch, logs);
    if (!o.checkpoint_path.empty()) {
      st.metric_states.clear();
      save_checkpoint(o.checkpoint_path);
    }
  }
  for (auto& cb : o.callbacks) cb->on_train_end({});
  return st.history;
}

Logs Model::evaluate(const Tensor& x, const Tensor& y, int64_t batch_size, int verbose) {
  CAIRN_CHECK(loss_ != nullptr, ValueError, "evaluate: call compile(optimizer, loss, metrics) first");
  CAIRN_CHECK(x.size(0) == y.size(0), ShapeError, "evaluate: x has shape ", shape_str(x.shape()), " but y has shape ",
              shape_str(y.shape()));
  NoGradGuard ng;
  const bool was_training = net_->is_training();
  net_->eval();
  std::vector<std::unique_ptr<Metric>> ms;
  for (const auto& name : metric_names_) ms.push_back(make_metric(name, from_logits_));
  double loss_sum = 0;
  const int64_t n = x.size(0);
  for (int64_t b = 0; b < n; b += batch_size) {
    const int64_t bn = std::min(batch_size, n - b);
    Tensor xb = narrow(x, 0, b, bn), yb = narrow(y, 0, b, bn);
    Tensor out = net_->forward(xb);
    loss_sum += (*loss_)(out, yb, Tensor()).item() * static_cast<double>(bn);
    for (auto& m : ms) m->update(out, yb);
  }
  net_->train(was_training);
  Logs logs{{"loss", n ? loss_sum / static_cast<double>(n) : 0.0}};
  for (auto& m : ms) logs.emplace_back(m->name(), m->result());
  if (verbose) std::printf("%s\n", format_logs(logs).c_str() + 3);
  return logs;
}

Logs Model::evaluate(std::shared_ptr<const data::Dataset> ds, int64_t batch_size) {
  CAIRN_CHECK(loss_ != nullptr, ValueError, "evaluate: call compile(optimizer, loss, metrics) first");
  NoGradGuard ng;
  const bool was_training = net_->is_training();
  net_->eval();
  std::vector<std::unique_ptr<Metric>> ms;
  for (const auto& name : metric_names_) ms.push_back(make_metric(name, from_logits_));
  data::DataLoader loader(ds, {.batch_size = batch_size, .shuffle = false, .num_workers = 1});
  loader.start_epoch(0);
  double loss_sum = 0;
  int64_t n = 0;
  data::Batch b;
  while (loader.next(b)) {
    Tensor out = net_->forward(b.fields[0]);
    loss_sum += (*loss_)(out, b.fields[1], Tensor()).item() * static_cast<double>(b.fields[0].size(0));
    n += b.fields[0].size(0);
    for (auto& m : ms) m->update(out, b.fields[1]);
  }
  net_->train(was_training);
  Logs logs{{"loss", n ? loss_sum / static_cast<double>(n) : 0.0}};
  for (auto& m : ms) logs.emplace_back(m->name(), m->result());
  return logs;
}

Tensor Model::predict(const Tensor& x, int64_t batch_size) {
  NoGradGuard ng;
  const bool was_training = net_->is_training();
  net_->eval();
  std::vector<Tensor> outs;
  for (int64_t b = 0; b < x.size(0); b += batch_size)
    outs.push_back(net_->forward(narrow(x, 0, b, std::min(batch_size, x.size(0) - b))));
  net_->train(was_training);
  CAIRN_CHECK(!outs.empty(), ValueError, "predict: the input has no samples (shape ", shape_str(x.shape()), ")");
  return concat(outs, 0);
}

void Model::save_checkpoint(const std::string& path) const {
  const TrainState& st = *state_;
  nn::TensorDict tensors;
  for (auto& [k, t] : net_->state_dict()) tensors.insert("model." + k, t);
  if (optimizer_)
    for (auto& [k, t] : optimizer_->state_dict()) tensors.insert("optimizer." + k, t);
  if (schedule_)
    for (auto& [k, t] : schedule_->state_dict()) tensors.insert("schedule." + k, t);
  auto rng = default_generator().state();
  nlohmann::json j;
  j["epoch"] = st.epoch;
  j["step"] = st.step;
  j["global_step"] = st.global_step;
  j["loss_sum"] = st.loss_sum;
  j["seen"] = st.seen;
  j["metric_states"] = st.metric_states;
  j["rng"] = {std::to_string(rng.s[0]), std::to_string(rng.s[1]), std::to_string(rng.s[2]), std::to_string(rng.s[3])};
  j["rng_has_spare"] = rng.has_spare;
  j["rng_spare"] = rng.spare;
  j["history"] = st.history.history;
  j["step_losses"] = st.history.step_losses;
  j["epochs_run"] = st.history.epochs_run;
  nn::save_tensors(path, tensors, {{"cairn.checkpoint", j.dump()}});
}

void Model::load_checkpoint(const std::string& path) {
  nn::Metadata meta;
  nn::TensorDict tensors = nn::load_tensors(path, &meta);
  auto it = meta.find("cairn.checkpoint");
  CAIRN_CHECK(it != meta.end(), ValueError, path,
              ": not a full training checkpoint (no 'cairn.checkpoint' metadata); to start from weights only, load "
              "them with load_weights / outputs.init_weights");
  nn::StateDict model_sd;
  std::map<std::string, Tensor> opt_sd, schedule_sd;
  for (auto& [k, t] : tensors) {
    if (k.rfind("model.", 0) == 0) model_sd.insert(k.substr(6), t);
    else if (k.rfind("optimizer.", 0) == 0) opt_sd[k.substr(10)] = t;
    else if (k.rfind("schedule.", 0) == 0) schedule_sd[k.substr(9)] = t;
  }
  // Inside fit (resuming) the schedule must match the checkpoint's; a bare load_checkpoint ignores a schedule.
  CAIRN_CHECK(!schedule_ || !schedule_sd.empty(), ValueError, path,
              ": the checkpoint was written without a learning-rate schedule but this fit has one; resume with the "
              "same fit options");
  CAIRN_CHECK(!resuming_ || schedule_ || schedule_sd.empty(), ValueError, path,
              ": the checkpoint was written with a learning-rate schedule but this fit has none; resume with the "
              "same fit options");
  net_->load_state_dict(model_sd, true);
  if (optimizer_) optimizer_->load_state_dict(opt_sd);
  if (schedule_) schedule_->load_state_dict(schedule_sd);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(it->second);
    TrainState st;
    st.epoch = j.at("epoch");
    st.step = j.at("step");
    st.global_step = j.at("global_step");
    st.loss_sum = j.at("loss_sum");
    st.seen = j.at("seen");
    st.metric_states = j.at("metric_states").get<std::vector<std::vector<double>>>();
    st.history.history = j.at("history").get<std::map<std::string, std::vector<double>>>();
    st.history.step_losses = j.at("step_losses").get<std::vector<double>>();
    st.history.epochs_run = j.at("epochs_run");
    Generator::State rs;
    for (int i = 0; i < 4; ++i) rs.s[i] = std::stoull(j.at("rng")[i].get<std::string>());
    rs.has_spare = j.at("rng_has_spare");
    rs.spare = j.at("rng_spare");
    default_generator().set_state(rs);
    *state_ = std::move(st);
  } catch (const nlohmann::json::exception& e) {
    throw ValueError(detail::cat(path, ": the checkpoint's training state is corrupt: ", e.what()));
  }
}

}  // namespace cairn::train
