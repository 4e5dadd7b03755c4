// Module: the base of every layer and model, PyTorch's nn.Module with Keras's lazy building.
//
//   struct Block : cairn::nn::Module {
//     std::shared_ptr<Dense> fc1, fc2;
//     Block() : Module("Block") {
//       fc1 = register_module("fc1", std::make_shared<Dense>(64, "relu"));
//       fc2 = register_module("fc2", std::make_shared<Dense>(10));
//     }
//     Tensor forward(const Tensor& x) override { return (*fc2)((*fc1)(x)); }
//   };
//   auto net = std::make_shared<Block>();
//   net->build({-1, 784});            // creates fc1.weight [64, 784], fc1.bias [64], fc2.weight, fc2.bias
//   Tensor logits = (*net)(x);        // or build lazily on the first call
//   net->state_dict();                // "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias" (PyTorch names)
//
// Shapes given to build() include the batch dimension; -1 stands for a size not known yet (Keras's None).
// Layers create their parameters the first time they see an input shape (from build() or from forward()),
// so the input size never has to be spelled twice. Parameters are leaf tensors that require grad (unless
// frozen with set_trainable(false)); the handles returned by parameters() stay valid for the module's life:
// load_state_dict() and to() change their contents in place, so an optimizer built on them keeps working.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cairn/core/tensor/error.h"
#include "cairn/core/tensor/random.h"
#include "cairn/core/tensor/tensor.h"

namespace cairn::nn {

// An ordered name -> Tensor map: state dicts keep PyTorch's order (each module's parameters, then its buffers,
// then its children's, in registration order), which is also the order tensors are written to files.
class TensorDict {
 public:
  using Item = std::pair<std::string, Tensor>;
  TensorDict() = default;
  TensorDict(std::initializer_list<Item> items);

  // Adds a new entry, or replaces the tensor of an existing one (keeping its position).
  void insert(const std::string& name, const Tensor& t);
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws IndexError naming the missing key (and a few keys present) when absent.
  const Tensor& at(const std::string& name) const;
  const Tensor* find(const std::string& name) const;
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::vector<std::string> keys() const;
  std::vector<Item>::const_iterator begin() const { return items_.begin(); }
  std::vector<Item>::const_iterator end() const { return items_.end(); }

 private:
  std::vector<Item> items_;
  std::unordered_map<std::string, size_t> index_;
};
using StateDict = TensorDict;

// Thrown by load_state_dict() when the dict does not fit the module. The message lists every problem; the
// lists are also available for programs that want to react (e.g. partial fine-tuning loads).
class StateDictError : public ValueError {
 public:
  struct Mismatch {
    std::string name;
    Shape expected;  // the module's tensor
    Shape found;     // the dict's tensor
  };
  StateDictError(const std::string& message, std::vector<std::string> missing, std::vector<std::string> unexpected,
                 std::vector<Mismatch> mismatched)
      : ValueError(message), missing_(std::move(missing)), unexpected_(std::move(unexpected)),
        mismatched_(std::move(mismatched)) {}
  const std::vector<std::string>& missing() const { return missing_; }
  const std::vector<std::string>& unexpected() const { return unexpected_; }
  const std::vector<Mismatch>& mismatched() const { return mismatched_; }

 private:
  std::vector<std::string> missing_, unexpected_;
  std::vector<Mismatch> mismatched_;
};

// A layer rejecting its input shape (thrown by Module::throw_bad_input). A ShapeError whose reason() is the
// bare explanation, so containers such as Sequential can rephrase the message around both layers.
class LayerInputError : public ShapeError {
 public:
  LayerInputError(const std::string& message, std::string reason) : ShapeError(message), reason_(std::move(reason)) {}
  const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

// What a non-strict load_state_dict() skipped.
struct LoadResult {
  std::vector<std::string> missing;     // in the module, absent from the dict (left unchanged)
  std::vector<std::string> unexpected;  // in the dict, absent from the module (ignored)
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  // type_name is the class name users see ("Dense"); the default name() is its snake_case form made unique
  // within the process as Keras does ("dense", "dense_1", ...).
  explicit Module(std::string type_name = "Module");
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // ---- computation ----
  // Single-input forward. Layers validate the input shape (building themselves on the first call) and throw
  // ShapeError naming the layer and both shapes. The default throws: a Module must override one of the two.
  virtual Tensor forward(const Tensor& x);
  // Multi-input forward (Add, Concatenate, user modules). The default forwards a one-element list to
  // forward(const Tensor&) and throws ValueError otherwise.
  virtual Tensor forward(const std::vector<Tensor>& xs);
  Tensor operator()(const Tensor& x) { return forward(x); }
  Tensor operator()(const std::vector<Tensor>& xs) { return forward(xs); }

  // ---- shape inference ----
  // Validates `input_shape` (batch dim first, -1 = unknown), creates the parameters if this is the first
  // shape seen, and returns the output shape. Runs no data through parameterised layers, so a model can be
  // summarised and its parameters handed to an optimizer before training. Calling it again checks the new
  // shape against the built parameters (ShapeError if they do not fit). Modules that do not override
  // build_impl() (user-defined ones) are built by running forward() once on zeros (batch 1) in eval mode
  // under NoGradGuard, which builds their children and changes no running statistics.
  Shape build(const Shape& input_shape);
  Shape build(const std::vector<Shape>& input_shapes);
  // True when this module and every descendant have created their parameters.
  bool is_built() const;
  // The shapes of the last build() or forward() (empty / nullopt before the first).
  const std::vector<Shape>& last_input_shapes() const { return last_inputs_; }
  const std::optional<Shape>& last_output_shape() const { return last_output_; }
  // The input shape given as a constructor option (Keras's input_shape=, batch dim excluded), if any.
  const std::optional<Shape>& declared_input_shape() const { return declared_input_; }
  // What this layer accepts, for error messages ("[*, 1600]", "[N, 3, H, W]"); empty when unconstrained.
  virtual std::string input_spec() const { return ""; }

  // ---- registration (names must be non-empty, without '.', unique within the module) ----
  // Registers a floating tensor as a parameter (detached, made a leaf, requires_grad = trainable()).
  // Returns the stored handle. Throws ValueError on a bad or duplicate name, DTypeError on a non-floating t.
  Tensor register_parameter(const std::string& name, Tensor t);
  // Registers state saved with the module but not trained (running statistics, counters).
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // ---- traversal (recursive, registration order, PyTorch dotted names) ----
  // Parameters shared between modules appear once, under their first name.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  // Parameters that require grad: what an optimizer should update.
  std::vector<Tensor> trainable_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const { return children_; }
  // This module (named "") and every descendant, depth first.
  std::vector<std::pair<std::string, Module*>> named_modules();
  // Number of parameter elements (Keras's count_params()).
  int64_t count_params() const;

  // ---- modes ----
  // Training mode (the default) vs inference mode, for this module and every descendant: Dropout drops
  // and BatchNormalization uses and updates batch statistics only in training mode.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Freezes (false) or unfreezes (true) this sub-tree: its parameters, including ones created later by lazy
  // building, get requires_grad = on and leave/rejoin trainable_parameters(). Does not change train/eval
  // mode: a frozen BatchNormalization in training mode still uses batch statistics (PyTorch semantics;
  // call eval() on it for Keras's fine-tuning behaviour).
  void set_trainable(bool on);
  bool trainable() const { return trainable_; }
  // Converts every floating parameter and buffer to `dtype` in place (handles stay valid) and makes layers
  // built later use it. Integer buffers (num_batches_tracked) keep their dtype. float32 by default; a
  // submodule takes its parent's dtype when registered (so layers added to a float64 model are float64).
  void to(DType dtype);
  DType dtype() const { return dtype_; }
  // Drops every parameter's gradient.
  void zero_grad();

  // ---- state ----
  // Parameters and buffers by dotted name, sharing storage with the module (detached handles).
  StateDict state_dict() const;
  // Copies the dict's tensors into the module's (converting dtype when they differ). All-or-nothing: the
  // module is changed only when every check passes. strict: every module tensor must be in the dict and
  // every dict entry must name a module tensor. Shapes must match in either mode. Throws StateDictError
  // listing every missing, unexpected and mis-shaped tensor (with both shapes).
  LoadResult load_state_dict(const StateDict& dict, bool strict = true);

  // ---- identity ----
  const std::string& type_name() const { return type_name_; }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // "Dense 'dense_1'", for messages.
  std::string where() const;
  // True when the layer applies an activation= of its own. Sequential then reserves a second index for it,
  // so that state dict names match a PyTorch nn.Sequential where the activation is a separate module.
  virtual bool has_fused_activation() const { return false; }
  // Constructor arguments for printing: "units=128, activation=relu".
  virtual std::string extra_repr() const { return ""; }
  // True for a layer whose training-mode forward updates its own state (BatchNormalization's running statistics):
  // such a model cannot run the parts of a batch at once (train/data_parallel.h).
  virtual bool updates_state_in_forward() const { return false; }
  // PyTorch-style multi-line description of the module tree.
  std::string repr() const;

 protected:
  // Validate the input shape(s), create parameters when !built_, return the output shape. The defaults run
  // forward() on zeros as described at build(); single-input layers override the first.
  virtual Shape build_impl(const Shape& input_shape);
  virtual Shape build_impl(const std::vector<Shape>& input_shapes);

  // Layers with parameters set built_ = false in their constructor and true once they have created them.
  bool built_ = true;
  // Generator for initialisation and dropout masks: a private one seeded from the seed= option, else the
  // process default (cairn::manual_seed).
  Generator& layer_generator();
  // Applies the options every layer takes: name (empty keeps the automatic one), seed, and Keras's
  // input_shape (batch dim excluded), which derived constructors then build with by calling build_declared()
  // as their last statement (a base constructor cannot call the derived build_impl()).
  void configure(const std::string& name, std::optional<uint64_t> seed, const std::optional<Shape>& input_shape);
  void build_declared();
  // Throws LayerInputError "<where()> expects input <input_spec()>, got <shape>: <why>".
  [[noreturn]] void throw_bad_input(const Shape& got, const std::string& why) const;
  // Throws DTypeError unless x has this module's dtype (float32 unless to() was called).
  void check_input_dtype(const Tensor& x) const;
  std::optional<uint64_t> seed_;

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void check_new_name(const std::string& name, const char* what) const;
  void collect_state(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out);
  void repr_into(std::string& out, int indent) const;

  std::string type_name_;
  std::string name_;
  bool training_ = true;
  bool trainable_ = true;
  DType dtype_ = DType::f32;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  std::vector<Shape> last_inputs_;
  std::optional<Shape> last_output_;
  std::optional<Shape> declared_input_;
  std::unique_ptr<Generator> own_generator_;
};

// ---- names ----
// "Conv2D" -> "conv2d", "BatchNormalization" -> "batch_normalization" (Keras's to_snake_case).
std::string snake_case(const std::string& type_name);
// The next unique name for `base`: "dense", then "dense_1", "dense_2", ... (process-wide, thread-safe).
std::string unique_name(const std::string& base);
// Restarts the name counters (Keras's clear_session()), e.g. between tests.
void reset_name_counters();

// ---- shape helpers for layers ----
// "[-1, 3]" -> "(None, 3)", the Keras spelling used by summary().
std::string keras_shape_str(const Shape& s);
// Shape with a leading unknown batch dim: {28, 28} -> {-1, 28, 28}.
Shape with_batch(const Shape& s, int64_t batch = -1);

}  // namespace cairn::nn
