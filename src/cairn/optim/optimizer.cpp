#include "cairn/optim/optimizer.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"
#include "cairn/optim/detail.h"

namespace cairn::optim {

namespace {

double scalar_of(const std::map<std::string, Tensor>& dict, const std::string& key, const std::string& who) {
  auto it = dict.find(key);
  CAIRN_CHECK(it != dict.end(), ValueError, who, ".load_state_dict: key '", key,
              "' is missing; pass a dict made by state_dict() of the same kind of optimizer");
  CAIRN_CHECK(it->second.defined() && it->second.numel() == 1, ValueError, who, ".load_state_dict: '", key,
              "' must hold one number, got ", it->second.defined() ? shape_str(it->second.shape()) : "undefined");
  return it->second.item();
}

// Splits "state.<i>.<name>" into (i, name); false for any other key.
bool parse_state_key(const std::string& key, int64_t& index, std::string& name) {
  if (key.rfind("state.", 0) != 0) return false;
  size_t dot = key.find('.', 6);
  if (dot == std::string::npos || dot == 6) return false;
  index = 0;
  for (size_t i = 6; i < dot; ++i) {
    if (key[i] < '0' || key[i] > '9' || index > (int64_t{1} << 40)) return false;
    index = index * 10 + (key[i] - '0');
  }
  name = key.substr(dot + 1);
  return !name.empty();
}

}  // namespace

Optimizer::Optimizer(std::string name, double lr, double weight_decay)
    : name_(std::move(name)), default_lr_(lr), default_weight_decay_(weight_decay) {
  CAIRN_CHECK(!std::isnan(lr), ValueError, name_, ": lr is required; set the 'lr' option (PyTorch's ", name_,
              " has no default learning rate either)");
  require(std::isfinite(lr) && lr >= 0, "lr", ">= 0 and finite (PyTorch: 'Invalid learning rate')", lr);
  require(std::isfinite(weight_decay) && weight_decay >= 0, "weight_decay", ">= 0 and finite", weight_decay);
}

void Optimizer::require(bool ok, const char* what, const char* rule, double value) const {
  CAIRN_CHECK(ok, ValueError, name_, ": ", what, " must be ", rule, ", got ", value);
}

void Optimizer::check_group_hyper(const ParamGroup& g) const {
  require(std::isfinite(*g.lr) && *g.lr >= 0, "a parameter group's lr", ">= 0 and finite", *g.lr);
  require(std::isfinite(*g.weight_decay) && *g.weight_decay >= 0, "a parameter group's weight_decay",
          ">= 0 and finite", *g.weight_decay);
}

void Optimizer::init_groups(std::vector<ParamGroup> groups) {
  int64_t total = 0;
  for (const auto& g : groups) total += static_cast<int64_t>(g.params.size());
  CAIRN_CHECK(total > 0, ValueError, name_,
              ": got an empty parameter list; pass the model's parameters (e.g. module.parameters())");
  for (auto& g : groups) add_param_group(std::move(g));
}

void Optimizer::add_param_group(ParamGroup group) {
  if (!group.lr) group.lr = default_lr_;
  if (!group.weight_decay) group.weight_decay = default_weight_decay_;
  check_group_hyper(group);
  group.lr_scale = default_lr_ > 0 ? *group.lr / default_lr_ : 1.0;

  std::set<const TensorImpl*> seen;
  for (const auto& g : groups_)
    for (const auto& p : g.params) seen.insert(p.impl());
  const size_t gi = groups_.size();
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    CAIRN_CHECK(p.defined(), ValueError, name_, ": parameter ", i, " of group ", gi, " is an undefined tensor");
    CAIRN_CHECK(p.dtype() == DType::f32 || p.dtype() == DType::f64, ValueError, name_, ": parameter ", i,
                " of group ", gi, " has dtype ", dtype_name(p.dtype()), "; only float32 and float64 are optimized");
    CAIRN_CHECK(p.is_leaf(), ValueError, name_, ": parameter ", i, " of group ", gi,
                " is not a leaf tensor (it was computed by an op); optimize the leaf it came from");
    CAIRN_CHECK(p.is_contiguous(), ValueError, name_, ": parameter ", i, " of group ", gi, " of shape ",
                shape_str(p.shape()), " is not contiguous; make it contiguous before creating the parameter");
    CAIRN_CHECK(seen.insert(p.impl()).second, ValueError, name_, ": parameter ", i, " of group ", gi,
                " appears more than once (in this or another group); each parameter may be in one group only");
  }
  state_.resize(state_.size() + group.params.size());
  groups_.push_back(std::move(group));
}

const ParamState& Optimizer::state(int64_t i) const {
  CAIRN_CHECK(i >= 0 && i < num_params(), IndexError, name_, ": parameter index ", i, " out of range [0, ",
              num_params(), ")");
  return state_[static_cast<size_t>(i)];
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.zero_grad();
}

namespace {
// Runs each update over its whole range, the threads splitting every range in equal parts of whole 16-element
// blocks (so a vectorised loop sees the same blocks whatever the thread count); a model with fewer parameters
// than two chunks' worth is updated on the calling thread, faster than waking the pool.
void run_range_updates(const std::vector<std::pair<int64_t, RangeUpdate>>& updates) {
  const int nt = num_threads();
  int64_t total = 0;
  for (const auto& u : updates) total += u.first;
  if (nt <= 1 || omp_in_parallel() || total < 2 * detail::kGrain) {
    for (const auto& [n, f] : updates) f(0, n);
    return;
  }
  parallel_for(0, nt, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      for (const auto& [n, f] : updates) {
        const int64_t per = (n + 16 * nt - 1) / (16 * nt) * 16;
        const int64_t b = t * per, e = std::min(n, b + per);
        if (b < e) f(b, e);
      }
  });
}
}  // namespace

void Optimizer::step() {
  NoGradGuard no_grad;
  // Every parameter is checked before any state changes, so a bad one leaves the optimizer as it was.
  struct Pending {
    const Tensor* param;
    Tensor grad;
    ParamState* state;
    const ParamGroup* group;
  };
  std::vector<Pending> pending;
  size_t index = 0;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& group = groups_[gi];
    check_group_hyper(group);
    for (const Tensor& p : group.params) {
      ParamState& st = state_[index++];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      CAIRN_CHECK(grad.shape() == p.shape(), ShapeError, name_, ".step: the grad of parameter ", index - 1,
                  " has shape ", shape_str(grad.shape()), " but the parameter has shape ", shape_str(p.shape()));
      CAIRN_CHECK(grad.dtype() == p.dtype(), DTypeError, name_, ".step: the grad of parameter ", index - 1,
                  " is ", dtype_name(grad.dtype()), " but the parameter is ", dtype_name(p.dtype()));
      CAIRN_CHECK(p.is_contiguous(), ValueError, name_, ".step: parameter ", index - 1,
                  " is no longer contiguous; parameters must keep their layout");
      // Gradients from backward are fresh contiguous buffers; one set by hand may be a view.
      if (!grad.is_contiguous()) grad = grad.contiguous();
      pending.push_back({&p, std::move(grad), &st, &group});
    }
  }
  std::vector<std::pair<int64_t, RangeUpdate>> updates;
  updates.reserve(pending.size());
  for (Pending& u : pending) {
    ++u.state->step;
    updates.emplace_back(u.param->numel(), update(*u.param, u.grad, *u.state, *u.group));
  }
  run_range_updates(updates);
}

double Optimizer::lr() const { return *groups_.at(0).lr / groups_[0].lr_scale; }

void Optimizer::set_lr(double lr) {
  require(std::isfinite(lr) && lr >= 0, "lr", ">= 0 and finite", lr);
  for (auto& g : groups_) g.lr = lr * g.lr_scale;
}

void Optimizer::set_group_lr(size_t group, double lr) {
  CAIRN_CHECK(group < groups_.size(), IndexError, name_, ".set_group_lr: group ", group, " out of range [0, ",
              groups_.size(), ")");
  require(std::isfinite(lr) && lr >= 0, "lr", ">= 0 and finite", lr);
  groups_[group].lr = lr;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  for (size_t i = 0; i < state_.size(); ++i) {
    const ParamState& st = state_[i];
    if (st.step == 0 && st.buffers.empty()) continue;
    const std::string prefix = "state." + std::to_string(i) + ".";
    out[prefix + "step"] = scalar_tensor(static_cast<double>(st.step), DType::i64);
    for (const auto& [name, buf] : st.buffers) out[prefix + name] = buf.clone();
  }
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = "group." + std::to_string(g) + ".";
    out[prefix + "lr"] = scalar_tensor(*groups_[g].lr, DType::f64);
    out[prefix + "weight_decay"] = scalar_tensor(*groups_[g].weight_decay, DType::f64);
    out[prefix + "lr_scale"] = scalar_tensor(groups_[g].lr_scale, DType::f64);
    out[prefix + "num_params"] = scalar_tensor(static_cast<double>(groups_[g].params.size()), DType::i64);
  }
  out["option.lr"] = scalar_tensor(default_lr_, DType::f64);
  out["option.weight_decay"] = scalar_tensor(default_weight_decay_, DType::f64);
  for (const auto& [name, v] : options()) out["option." + name] = scalar_tensor(v, DType::f64);
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& dict) {
  const std::string who = name_;
  // Everything is read and checked into locals first, so a bad dict leaves the optimizer as it was.
  std::map<std::string, double> opts;
  for (const auto& [name, v] : options()) opts[name] = scalar_of(dict, "option." + name, who);
  const double lr = scalar_of(dict, "option.lr", who);
  const double wd = scalar_of(dict, "option.weight_decay", who);
  require(std::isfinite(lr) && lr >= 0, "option.lr", ">= 0 and finite", lr);
  require(std::isfinite(wd) && wd >= 0, "option.weight_decay", ">= 0 and finite", wd);

  std::vector<ParamGroup> groups = groups_;
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string prefix = "group." + std::to_string(g) + ".";
    const double n = scalar_of(dict, prefix + "num_params", who);
    CAIRN_CHECK(n == static_cast<double>(groups[g].params.size()), ValueError, who, ".load_state_dict: group ", g,
                " has ", groups[g].params.size(), " parameters here but ", n,
                " in the state dict; build the optimizer over the same parameter groups as the saved run");
    groups[g].lr = scalar_of(dict, prefix + "lr", who);
    groups[g].weight_decay = scalar_of(dict, prefix + "weight_decay", who);
    groups[g].lr_scale = scalar_of(dict, prefix + "lr_scale", who);
    check_group_hyper(groups[g]);
    CAIRN_CHECK(std::isfinite(groups[g].lr_scale) && groups[g].lr_scale > 0, ValueError, who,
                ".load_state_dict: ", prefix, "lr_scale must be > 0, got ", groups[g].lr_scale);
  }

  std::vector<ParamState> state(state_.size());
  std::vector<const Tensor*> params;
  for (const auto& g : groups_)
    for (const auto& p : g.params) params.push_back(&p);
  const std::vector<std::string> buffers = buffer_names();
  for (const auto& [key, value] : dict) {
    if (key.rfind("option.", 0) == 0) {
      CAIRN_CHECK(key == "option.lr" || key == "option.weight_decay" || opts.count(key.substr(7)), ValueError, who,
                  ".load_state_dict: unknown key '", key, "'; was the state dict saved from another kind of optimizer?");
      continue;
    }
    if (key.rfind("group.", 0) == 0) {
      // key is passed, not captured: clang 14 rejects capturing a structured binding (allowed from C++20 on).
      const bool known = [&](const std::string& k) {
        for (size_t g = 0; g < groups.size(); ++g)
          for (const char* f : {"lr", "weight_decay", "lr_scale", "num_params"})
            if (k == "group." + std::to_string(g) + "." + f) return true;
        return false;
      }(key);
      CAIRN_CHECK(known, ValueError, who, ".load_state_dict: unknown key '", key, "' (this optimizer has ",
                  groups.size(), " parameter groups); build it over the same groups as the saved run");
      continue;
    }
    int64_t i = 0;
    std::string name;
    CAIRN_CHECK(parse_state_key(key, i, name), ValueError, who, ".load_state_dict: unknown key '", key,
                "'; expected state.<i>.<buffer>, group.<g>.<field> or option.<name>");
    CAIRN_CHECK(i < num_params(), ValueError, who, ".load_state_dict: '", key, "' is for parameter ", i,
                " but this optimizer has ", num_params(), " parameters");
    CAIRN_CHECK(value.defined(), ValueError, who, ".load_state_dict: '", key, "' is an undefined tensor");
    const Tensor& p = *params[static_cast<size_t>(i)];
    if (name == "step") {
      CAIRN_CHECK(value.numel() == 1 && value.item() >= 0, ValueError, who, ".load_state_dict: '", key,
                  "' must be one non-negative count");
      state[static_cast<size_t>(i)].step = static_cast<int64_t>(value.item());
      continue;
    }
    bool known = false;
    for (const auto& b : buffers) known = known || b == name;
    CAIRN_CHECK(known, ValueError, who, ".load_state_dict: unknown buffer '", key, "'; ", who,
                " keeps only ", [&] {
                  std::string s;
                  for (const auto& b : buffers) s += (s.empty() ? "" : ", ") + b;
                  return s.empty() ? std::string("no buffers") : s;
                }());
    CAIRN_CHECK(value.shape() == p.shape(), ValueError, who, ".load_state_dict: '", key, "' has shape ",
                shape_str(value.shape()), " but parameter ", i, " has shape ", shape_str(p.shape()),
                "; the model's parameters do not match the saved run's");
    NoGradGuard no_grad;
    Tensor copy = value.dtype() == p.dtype() ? value.detach().clone() : value.detach().to(p.dtype()).contiguous();
    state[static_cast<size_t>(i)].buffers[name] = copy.contiguous();
  }
  for (size_t i = 0; i < state.size(); ++i)
    CAIRN_CHECK(state[i].buffers.empty() || state[i].step > 0, ValueError, who, ".load_state_dict: state of parameter ",
                i, " has buffers but no 'state.", i, ".step'");

  set_options(opts);  // validates; throws before anything below changes
  default_lr_ = lr;
  default_weight_decay_ = wd;
  groups_ = std::move(groups);
  state_ = std::move(state);
}

}  // namespace cairn::optim
