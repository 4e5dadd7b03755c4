#include "cairn/nn/module.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <sstream>
#include <unordered_set>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/ops/ops.h"

namespace cairn::nn {

// ---- TensorDict ----

TensorDict::TensorDict(std::initializer_list<Item> items) {
  for (const auto& [k, v] : items) insert(k, v);
}

void TensorDict::insert(const std::string& name, const Tensor& t) {
  auto it = index_.find(name);
  if (it != index_.end()) {
    items_[it->second].second = t;
    return;
  }
  index_.emplace(name, items_.size());
  items_.emplace_back(name, t);
}

const Tensor* TensorDict::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &items_[it->second].second;
}

const Tensor& TensorDict::at(const std::string& name) const {
  if (const Tensor* t = find(name)) return *t;
  std::string some;
  for (size_t i = 0; i < items_.size() && i < 8; ++i) some += (i ? ", " : "") + items_[i].first;
  if (items_.size() > 8) some += ", ...";
  throw IndexError(detail::cat("TensorDict: no tensor named '", name, "' (", items_.size(), " entries: ",
                               some.empty() ? "none" : some, ")"));
}

std::vector<std::string> TensorDict::keys() const {
  std::vector<std::string> k;
  k.reserve(items_.size());
  for (const auto& it : items_) k.push_back(it.first);
  return k;
}

// ---- names ----

std::string snake_case(const std::string& s) {
  // Keras: re.sub("(.)([A-Z][a-z]+)", r"\1_\2") then re.sub("([a-z])([A-Z])", r"\1_\2"), lowercased.
  std::string a;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && std::isupper((unsigned char)s[i]) && i + 1 < s.size() && std::islower((unsigned char)s[i + 1]) &&
        !(a.size() && a.back() == '_'))
      a += '_';
    a += s[i];
  }
  std::string b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (i > 0 && std::islower((unsigned char)a[i - 1]) && std::isupper((unsigned char)a[i])) b += '_';
    b += static_cast<char>(std::tolower((unsigned char)a[i]));
  }
  return b;
}

namespace {
std::mutex g_names_mu;
std::map<std::string, int64_t>& name_counts() {
  static std::map<std::string, int64_t> m;
  return m;
}
}  // namespace

std::string unique_name(const std::string& base) {
  std::lock_guard<std::mutex> lock(g_names_mu);
  int64_t n = name_counts()[base]++;
  return n == 0 ? base : base + "_" + std::to_string(n);
}

void reset_name_counters() {
  std::lock_guard<std::mutex> lock(g_names_mu);
  name_counts().clear();
}

std::string keras_shape_str(const Shape& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) r += ", ";
    r += s[i] < 0 ? "None" : std::to_string(s[i]);
  }
  return r + (s.size() == 1 ? ",)" : ")");
}

Shape with_batch(const Shape& s, int64_t batch) {
  Shape r{batch};
  r.insert(r.end(), s.begin(), s.end());
  return r;
}

// ---- Module ----

Module::Module(std::string type_name) : type_name_(std::move(type_name)), name_(unique_name(snake_case(type_name_))) {}

std::string Module::where() const { return type_name_ + " '" + name_ + "'"; }

Tensor Module::forward(const Tensor& x) {
  throw ValueError(detail::cat(where(), ": forward(const Tensor&) is not implemented; this module takes a list of "
                               "inputs, call it with a std::vector<Tensor>"));
}

Tensor Module::forward(const std::vector<Tensor>& xs) {
  CAIRN_CHECK(xs.size() == 1, ValueError, where(), ": takes one input, got a list of ", xs.size());
  return forward(xs[0]);
}

namespace {
// Forward passes call build() to check their input; the parts of a data-parallel step (train/data_parallel.h) run
// the same modules on several threads at once, so building (which may create parameters) and recording the
// last shapes happen under one lock. Recursive: building a module may run its children's forward.
std::recursive_mutex& build_mutex() {
  static std::recursive_mutex m;
  return m;
}
}  // namespace

Shape Module::build(const Shape& input_shape) {
  std::lock_guard<std::recursive_mutex> lock(build_mutex());
  Shape out = build_impl(input_shape);
  last_inputs_ = {input_shape};
  last_output_ = out;
  return out;
}

Shape Module::build(const std::vector<Shape>& input_shapes) {
  std::lock_guard<std::recursive_mutex> lock(build_mutex());
  Shape out = build_impl(input_shapes);
  last_inputs_ = input_shapes;
  last_output_ = out;
  return out;
}

namespace {
// Runs `fn` on zeros of the given shapes (unknown sizes -> 1) in eval mode without recording a graph.
Shape probe_shape(Module& m, const std::vector<Shape>& shapes, bool multi) {
  std::vector<Tensor> xs;
  bool unknown_batch = false;
  for (Shape s : shapes) {
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] < 0) {
        CAIRN_CHECK(i == 0, ShapeError, m.where(), ": cannot infer shapes with an unknown size outside the batch ",
                    "dimension, got ", shape_str(s), "; give the full input shape");
        unknown_batch = true;
        s[i] = 1;
      }
    xs.push_back(zeros(s, m.dtype()));
  }
  const bool was_training = m.is_training();
  m.eval();
  Tensor y;
  try {
    NoGradGuard ng;
    y = multi ? m.forward(xs) : m.forward(xs[0]);
  } catch (...) {
    m.train(was_training);
    throw;
  }
  m.train(was_training);
  Shape out = y.shape();
  if (unknown_batch && !out.empty()) out[0] = -1;
  return out;
}
}  // namespace

Shape Module::build_impl(const Shape& input_shape) { return probe_shape(*this, {input_shape}, false); }

Shape Module::build_impl(const std::vector<Shape>& input_shapes) {
  if (input_shapes.size() == 1) return build_impl(input_shapes[0]);
  return probe_shape(*this, input_shapes, true);
}

bool Module::is_built() const {
  if (!built_) return false;
  for (const auto& c : children_)
    if (!c.second->is_built()) return false;
  return true;
}

void Module::configure(const std::string& name, std::optional<uint64_t> seed, const std::optional<Shape>& shape) {
  if (!name.empty()) name_ = name;
  seed_ = seed;
  if (!shape) return;
  for (int64_t d : *shape)
    CAIRN_CHECK(d > 0 || d == -1, ShapeError, where(), ": input_shape ", shape_str(*shape),
                " must hold positive sizes (or -1 for unknown), without the batch dimension");
  declared_input_ = shape;
}

void Module::build_declared() {
  if (declared_input_) build(with_batch(*declared_input_));
}

void Module::throw_bad_input(const Shape& got, const std::string& why) const {
  std::string spec = input_spec();
  throw LayerInputError(detail::cat(where(), (spec.empty() ? "" : " expects input " + spec), (spec.empty() ? "" : ","),
                                    " got ", shape_str(got), ": ", why),
                        why);
}

void Module::check_input_dtype(const Tensor& x) const {
  CAIRN_CHECK(x.dtype() == dtype_, DTypeError, where(), " computes in ", dtype_name(dtype_), " but got a ",
              dtype_name(x.dtype()), " input ", shape_str(x.shape()), "; convert the input with .to(DType::",
              dtype_ == DType::f32 ? "f32" : "f64", ") or the model with model.to(DType::",
              x.dtype() == DType::f64 ? "f64" : "f32", ")");
}

Generator& Module::layer_generator() {
  if (Generator* g = thread_generator()) return *g;  // a data-parallel part's own stream
  if (!seed_) return default_generator();
  if (!own_generator_) own_generator_ = std::make_unique<Generator>(*seed_);
  return *own_generator_;
}

void Module::check_new_name(const std::string& name, const char* what) const {
  CAIRN_CHECK(!name.empty() && name.find('.') == std::string::npos, ValueError, where(), ": ", what, " name '", name,
              "' must be non-empty and contain no '.'");
  auto taken = [&](const auto& v) {
    return std::any_of(v.begin(), v.end(), [&](const auto& p) { return p.first == name; });
  };
  CAIRN_CHECK(!taken(params_) && !taken(buffers_) && !taken(children_), ValueError, where(), ": cannot register ",
              what, " '", name, "': the name is already taken by a parameter, buffer or submodule");
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  check_new_name(name, "parameter");
  CAIRN_CHECK(t.defined(), ValueError, where(), ": parameter '", name, "' is an undefined tensor");
  CAIRN_CHECK(is_floating(t.dtype()), DTypeError, where(), ": parameter '", name, "' must be floating, got ",
              dtype_name(t.dtype()));
  Tensor p = t.detach();
  p.requires_grad_(trainable_);
  params_.emplace_back(name, p);
  return p;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  check_new_name(name, "buffer");
  CAIRN_CHECK(t.defined(), ValueError, where(), ": buffer '", name, "' is an undefined tensor");
  Tensor b = t.detach();
  buffers_.emplace_back(name, b);
  return b;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  check_new_name(name, "submodule");
  CAIRN_CHECK(m != nullptr, ValueError, where(), ": submodule '", name, "' is null");
  CAIRN_CHECK(m.get() != this, ValueError, where(), ": a module cannot contain itself");
  if (m->dtype() != dtype_) m->to(dtype_);  // children follow their parent, so lazily built layers match it
  children_.emplace_back(name, std::move(m));
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::unordered_set<const TensorImpl*> seen;
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& prefix) {
    for (const auto& [n, p] : m.params_)
      if (seen.insert(p.impl()).second) out.emplace_back(prefix + n, p);
    for (const auto& [n, c] : m.children_) walk(*c, prefix + n + ".");
  };
  walk(*this, "");
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, p] : named_parameters()) out.push_back(p);
  return out;
}

std::vector<Tensor> Module::trainable_parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, p] : named_parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& prefix) {
    for (const auto& [n, b] : m.buffers_) out.emplace_back(prefix + n, b);
    for (const auto& [n, c] : m.children_) walk(*c, prefix + n + ".");
  };
  walk(*this, "");
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out;
  std::function<void(Module&, const std::string&)> walk = [&](Module& m, const std::string& name) {
    out.emplace_back(name, &m);
    for (auto& [n, c] : m.children_) walk(*c, name.empty() ? n : name + "." + n);
  };
  walk(*this, "");
  return out;
}

int64_t Module::count_params() const {
  int64_t n = 0;
  for (auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

void Module::set_trainable(bool on) {
  trainable_ = on;
  for (auto& [n, p] : params_) p.requires_grad_(on);
  for (auto& c : children_) c.second->set_trainable(on);
}

namespace {
// Points t's impl at a converted copy of its data, so every handle to it sees the new dtype.
void retype_in_place(Tensor& t, DType dtype) {
  if (t.dtype() == dtype || !is_floating(t.dtype())) return;
  Tensor c = t.detach().to(dtype).contiguous();
  TensorImpl* impl = t.impl();
  impl->storage = c.storage();
  impl->shape = c.shape();
  impl->strides = c.strides();
  impl->offset = c.offset();
  impl->dtype = dtype;
  impl->grad.reset();
}
}  // namespace

void Module::to(DType dtype) {
  CAIRN_CHECK(dtype == DType::f32 || dtype == DType::f64, DTypeError, where(),
              ": modules compute in float32 or float64, got ", dtype_name(dtype));
  dtype_ = dtype;
  for (auto& [n, p] : params_) retype_in_place(p, dtype);
  for (auto& [n, b] : buffers_) retype_in_place(b, dtype);
  for (auto& c : children_) c.second->to(dtype);
}

void Module::zero_grad() {
  for (auto& p : parameters()) p.zero_grad();
}

void Module::collect_state(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) {
  for (auto& [n, p] : params_) out.emplace_back(prefix + n, &p);
  for (auto& [n, b] : buffers_) out.emplace_back(prefix + n, &b);
  for (auto& [n, c] : children_) c->collect_state(prefix + n + ".", out);
}

StateDict Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor*>> all;
  const_cast<Module*>(this)->collect_state("", all);
  StateDict d;
  for (auto& [n, t] : all) d.insert(n, t->detach());
  return d;
}

LoadResult Module::load_state_dict(const StateDict& dict, bool strict) {
  std::vector<std::pair<std::string, Tensor*>> mine;
  collect_state("", mine);
  std::unordered_set<std::string> known;
  std::vector<std::string> missing, unexpected;
  std::vector<StateDictError::Mismatch> mismatched;
  for (auto& [n, t] : mine) {
    known.insert(n);
    const Tensor* src = dict.find(n);
    if (!src || !src->defined()) {
      missing.push_back(n);
    } else if (src->shape() != t->shape()) {
      mismatched.push_back({n, t->shape(), src->shape()});
    } else if (is_floating(t->dtype()) != is_floating(src->dtype())) {
      mismatched.push_back({n, t->shape(), src->shape()});
    }
  }
  for (const auto& [n, t] : dict)
    if (!known.count(n)) unexpected.push_back(n);

  if (!mismatched.empty() || (strict && (!missing.empty() || !unexpected.empty()))) {
    std::ostringstream os;
    os << "load_state_dict into " << where() << " failed:";
    if (strict && !missing.empty()) {
      os << "\n  missing (" << missing.size() << "):";
      for (auto& [n, t] : mine)
        if (std::find(missing.begin(), missing.end(), n) != missing.end()) os << "\n    " << n << " " << shape_str(t->shape());
    }
    if (strict && !unexpected.empty()) {
      os << "\n  unexpected (" << unexpected.size() << "):";
      for (auto& n : unexpected) os << "\n    " << n << " " << shape_str(dict.at(n).shape());
    }
    if (!mismatched.empty()) {
      os << "\n  mis-shaped (" << mismatched.size() << "):";
      for (auto& m : mismatched) {
        os << "\n    " << m.name << ": expected " << shape_str(m.expected) << ", found " << shape_str(m.found);
        const Tensor* src = dict.find(m.name);
        if (src && m.expected == m.found) os << " (a " << dtype_name(src->dtype()) << " tensor cannot be loaded into a "
                                             << "floating parameter or the reverse)";
      }
    }
    if (!is_built())
      os << "\n  note: some layers are not built yet, so their parameters do not exist; call build(input_shape) "
            "or run one batch through the model before loading";
    else
      os << "\n  (check that the model's layers and sizes match the ones the weights were saved from)";
    throw StateDictError(os.str(), strict ? missing : std::vector<std::string>{},
                         strict ? unexpected : std::vector<std::string>{}, mismatched);
  }

  NoGradGuard ng;
  for (auto& [n, t] : mine)
    if (const Tensor* src = dict.find(n); src && src->defined()) t->copy_(*src);
  return {missing, unexpected};
}

std::string Module::repr() const {
  std::string out;
  repr_into(out, 0);
  return out;
}

void Module::repr_into(std::string& out, int indent) const {
  out += type_name_ + "(" + extra_repr();
  if (children_.empty()) {
    out += ")";
    return;
  }
  out += "\n";
  for (const auto& [n, c] : children_) {
    out += std::string(indent + 2, ' ') + "(" + n + "): ";
    c->repr_into(out, indent + 2);
    out += "\n";
  }
  out += std::string(indent, ' ') + ")";
}

}  // namespace cairn::nn
