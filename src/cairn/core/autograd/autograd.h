// Reverse-mode autograd, define-by-run. Each op that has an input requiring grad records a Node holding
// its backward function and one edge per input to the node that produced that input (or to the input's
// gradient accumulator when it is a leaf). backward() walks the graph iteratively in reverse topological
// order, so a graph 100,000 ops deep needs no deeper a stack than one op.
//
// Writing an op (the pattern every file under ops/ follows):
//
//   Tensor exp(const Tensor& x) {
//     Tensor y = kernel(x);
//     if (autograd::needs_grad({x}))
//       autograd::record("exp", y, {x}, [y = y.detach()](const Tensor& g, autograd::Grads& gi) {
//         gi[0] = g * y;            // gi.needs(i) says whether input i wants a gradient
//       });
//     return y;
//   }
//
// Backward lambdas capture only detached tensors: a saved tensor must not keep its own graph alive.
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "cairn/core/tensor/tensor.h"

namespace cairn::autograd {

// Gradients of an op's inputs, filled by its backward function. Undefined entries mean "no gradient".
class Grads {
 public:
  explicit Grads(std::vector<bool> needed) : needed_(std::move(needed)), g_(needed_.size()) {}
  bool needs(size_t i) const { return needed_[i]; }
  Tensor& operator[](size_t i) { return g_[i]; }
  size_t size() const { return g_.size(); }
  std::vector<Tensor>& all() { return g_; }

 private:
  std::vector<bool> needed_;
  std::vector<Tensor> g_;
};

using BackwardFn = std::function<void(const Tensor& grad_output, Grads& grad_inputs)>;

class Node {
 public:
  Node(std::string name, std::vector<std::shared_ptr<Node>> next);
  virtual ~Node();  // iterative: tearing down a deep graph does not recurse
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  const std::vector<std::shared_ptr<Node>>& next() const { return next_; }
  uint64_t sequence() const { return seq_; }
  // Gradients for each input (edge), given the gradient of the output.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  // Drops saved buffers; a later apply() throws.
  virtual void release() {}

 protected:
  std::string name_;
  std::vector<std::shared_ptr<Node>> next_;
  uint64_t seq_;
};

// Accumulates into a leaf's .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf);
  std::vector<Tensor> apply(const Tensor& grad_output) override;

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

class FunctionNode final : public Node {
 public:
  FunctionNode(std::string name, std::vector<std::shared_ptr<Node>> next, std::vector<Shape> input_shapes,
               BackwardFn fn);
  std::vector<Tensor> apply(const Tensor& grad_output) override;
  void release() override { fn_ = nullptr; }

 private:
  std::vector<Shape> input_shapes_;
  BackwardFn fn_;
};

// Collects the gradients that backward() would add into leaves' .grad, on the threads where a GradSinkScope has
// installed it. The parts of a data-parallel step (train/data_parallel.h) backpropagate at once, each into a sink
// of its own; merge_gradients then adds them into .grad in a fixed order, so the result does not depend on which
// part finished first.
class GradSink {
 public:
  void accumulate(const std::shared_ptr<TensorImpl>& leaf, const Tensor& g);

 private:
  friend void merge_gradients(std::vector<GradSink>& sinks);
  std::vector<std::pair<std::shared_ptr<TensorImpl>, std::shared_ptr<TensorImpl>>> grads_;  // leaf, its gradient
};

// Installs a sink on this thread for the scope's lifetime.
class GradSinkScope {
 public:
  explicit GradSinkScope(GradSink& sink);
  ~GradSinkScope();
  GradSinkScope(const GradSinkScope&) = delete;
  GradSinkScope& operator=(const GradSinkScope&) = delete;

 private:
  GradSink* prev_;
};

// Adds every sink's gradients into their leaves' .grad: per leaf, the existing .grad, then the sinks in order.
// The sinks are left empty.
void merge_gradients(std::vector<GradSink>& sinks);

// Grad mode (thread-local). When off, ops record nothing.
bool grad_enabled();
void set_grad_enabled(bool on);

// True when grad mode is on and any input requires grad.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Makes `output` the result of op `name` over `inputs` with the given backward. Undefined inputs are allowed
// (optional operands such as a missing bias) and get no edge.
void record(const char* name, Tensor& output, const std::vector<Tensor>& inputs, BackwardFn backward);

// The node a gradient for `t` flows into: its grad_fn, its accumulator (leaf requiring grad), or null.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

// Runs backward from `roots` with the given output gradients.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph = false);

}  // namespace cairn::autograd

namespace cairn {
// Scope in which ops record no graph (evaluation, optimizer steps).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(autograd::grad_enabled()) { autograd::set_grad_enabled(false); }
  ~NoGradGuard() { autograd::set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};
}  // namespace cairn
