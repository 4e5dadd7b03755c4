#include <algorithm>
#include <atomic>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/kernels/threading.h"
#include "cairn/core/ops/ops.h"

namespace cairn::autograd {
namespace {
thread_local bool g_grad_enabled = true;
thread_local GradSink* g_sink = nullptr;
std::atomic<uint64_t> g_next_seq{0};
// Guards leaves' accumulator links: data-parallel parts record ops on the same parameters at once.
std::mutex g_leaf_mutex;

// slot += g, where an empty slot takes g itself when nothing else can see it (as PyTorch's AccumulateGrad steals
// it): the caller's reference is the only one to the tensor and to its whole, unshared buffer. Otherwise (a view
// shared with another gradient, a gradient the caller passed in) a fresh copy.
void accumulate_into(std::shared_ptr<TensorImpl>& slot, const Tensor& g) {
  if (slot) {
    Tensor(slot).add_(g);
    return;
  }
  const auto& impl = g.impl_ptr();
  const bool sole = impl.use_count() == 1 && !impl->requires_grad && !impl->grad_fn && impl->storage &&
                    impl->storage.use_count() == 1 && impl->offset == 0 && g.is_contiguous() &&
                    impl->storage->nbytes() == static_cast<size_t>(g.numel()) * g.element_size();
  slot = sole ? impl : clone(g).impl_ptr();
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

Node::Node(std::string name, std::vector<std::shared_ptr<Node>> next)
    : name_(std::move(name)), next_(std::move(next)), seq_(g_next_seq.fetch_add(1, std::memory_order_relaxed)) {}

Node::~Node() {
  // Unlink the chain of sole owners iteratively; a recursive teardown of a 100k-deep graph would overflow.
  std::vector<std::shared_ptr<Node>> stack = std::move(next_);
  while (!stack.empty()) {
    std::shared_ptr<Node> n = std::move(stack.back());
    stack.pop_back();
    if (n && n.use_count() == 1) {
      for (auto& e : n->next_) stack.push_back(std::move(e));
      n->next_.clear();
      n->release();
    }
  }
}

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : Node("AccumulateGrad", {}), leaf_(std::move(leaf)) {}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& g) {
  CAIRN_CHECK(g.shape() == leaf_->shape, AutogradError, "gradient of shape ", shape_str(g.shape()),
              " does not match its leaf tensor of shape ", shape_str(leaf_->shape));
  if (g_sink) g_sink->accumulate(leaf_, g);
  else accumulate_into(leaf_->grad, g);
  return {};
}

void GradSink::accumulate(const std::shared_ptr<TensorImpl>& leaf, const Tensor& g) {
  // A step reaches a few dozen leaves, each once or twice (tied weights): a linear search is enough.
  auto it = std::find_if(grads_.begin(), grads_.end(), [&](const auto& e) { return e.first == leaf; });
  if (it == grads_.end()) it = grads_.insert(grads_.end(), {leaf, nullptr});
  accumulate_into(it->second, g);
}

GradSinkScope::GradSinkScope(GradSink& sink) : prev_(g_sink) { g_sink = &sink; }
GradSinkScope::~GradSinkScope() { g_sink = prev_; }

void merge_gradients(std::vector<GradSink>& sinks) {
  std::vector<TensorImpl*> leaves;  // every leaf once, in the order first reached
  for (const GradSink& s : sinks)
    for (const auto& [leaf, g] : s.grads_)
      if (std::find(leaves.begin(), leaves.end(), leaf.get()) == leaves.end()) leaves.push_back(leaf.get());
  parallel_for(0, static_cast<int64_t>(leaves.size()), 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      for (GradSink& s : sinks)
        for (auto& [leaf, g] : s.grads_)
          if (leaf.get() == leaves[i]) {
            Tensor gt(std::move(g));
            accumulate_into(leaf->grad, gt);
          }
  });
  for (GradSink& s : sinks) s.grads_.clear();
}

FunctionNode::FunctionNode(std::string name, std::vector<std::shared_ptr<Node>> next, std::vector<Shape> input_shapes,
                           BackwardFn fn)
    : Node(std::move(name), std::move(next)), input_shapes_(std::move(input_shapes)), fn_(std::move(fn)) {}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad_output) {
  CAIRN_CHECK(fn_ != nullptr, AutogradError, "backward through op '", name_,
              "' a second time: its saved buffers were already freed. Call backward(gradient, /*retain_graph=*/true) "
              "the first time if you need to backpropagate twice, or recompute the forward pass.");
  std::vector<bool> needed(next_.size());
  for (size_t i = 0; i < next_.size(); ++i) needed[i] = next_[i] != nullptr;
  Grads grads(std::move(needed));
  fn_(grad_output, grads);
  for (size_t i = 0; i < next_.size(); ++i) {
    Tensor& gi = grads[i];
    if (!next_[i] || !gi.defined()) continue;
    if (gi.shape() != input_shapes_[i]) {
      // Broadcasting in the forward pass: reduce the gradient back to the input's shape.
      CAIRN_CHECK(numel_of(gi.shape()) >= numel_of(input_shapes_[i]), AutogradError, "backward of '", name_,
                  "' produced a gradient of shape ", shape_str(gi.shape()), " for input ", i, " of shape ",
                  shape_str(input_shapes_[i]));
      gi = sum_to(gi, input_shapes_[i]);
    }
  }
  return std::move(grads.all());
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}
bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}
bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return impl->grad_fn;
  std::lock_guard<std::mutex> lock(g_leaf_mutex);
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return acc;
}

void record(const char* name, Tensor& output, const std::vector<Tensor>& inputs, BackwardFn backward) {
  std::vector<std::shared_ptr<Node>> next;
  std::vector<Shape> shapes;
  next.reserve(inputs.size());
  shapes.reserve(inputs.size());
  for (const Tensor& t : inputs) {
    next.push_back(gradient_edge(t));
    shapes.push_back(t.defined() ? t.shape() : Shape{});
  }
  TensorImpl* out = output.impl();
  out->grad_fn = std::make_shared<FunctionNode>(name, std::move(next), std::move(shapes), std::move(backward));
  out->requires_grad = true;
}

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  CAIRN_CHECK(roots.size() == grads.size(), AutogradError, "backward: ", roots.size(), " outputs but ", grads.size(),
              " gradients");
  NoGradGuard no_grad;
  std::unordered_map<Node*, Tensor> buffers;
  std::vector<std::shared_ptr<Node>> starts;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    CAIRN_CHECK(r.requires_grad(), AutogradError,
                "backward: the tensor does not require grad and has no grad_fn; mark an input with requires_grad_() "
                "before computing it, and make sure it was not computed under NoGradGuard, from a detach()ed tensor "
                "or through an op that is not differentiable (argmax/argmin, comparisons, casts to integer types)");
    CAIRN_CHECK(grads[i].shape() == r.shape(), AutogradError, "backward: gradient of shape ",
                shape_str(grads[i].shape()), " does not match the output's shape ", shape_str(r.shape()));
    std::shared_ptr<Node> n = gradient_edge(r);
    auto [it, fresh] = buffers.try_emplace(n.get(), grads[i]);
    if (!fresh) it->second = add(it->second, grads[i]);
    else starts.push_back(n);
  }

  // Count, for each node, how many edges reach it from the part of the graph we will run.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack;
  std::unordered_map<Node*, bool> seen;
  for (auto& s : starts)
    if (!seen[s.get()]) {
      seen[s.get()] = true;
      stack.push_back(s.get());
    }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const auto& e : n->next()) {
      if (!e) continue;
      deps[e.get()]++;
      if (!seen[e.get()]) {
        seen[e.get()] = true;
        stack.push_back(e.get());
      }
    }
  }

  // Ready nodes, newest first: keeps the working set of gradient buffers small.
  auto later = [](const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) { return a->sequence() < b->sequence(); };
  std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>, decltype(later)> ready(later);
  for (auto& s : starts)
    if (deps[s.get()] == 0) ready.push(s);

  while (!ready.empty()) {
    std::shared_ptr<Node> node = ready.top();
    ready.pop();
    std::vector<Tensor> gin;
    auto bit = buffers.find(node.get());
    if (bit != buffers.end()) {  // else every gradient reaching this node was zero (undefined)
      Tensor g = std::move(bit->second);
      buffers.erase(bit);
      gin = node->apply(g);
      if (!retain_graph) node->release();
    }
    const auto& next = node->next();
    for (size_t i = 0; i < next.size(); ++i) {
      Node* e = next[i].get();
      if (!e) continue;
      if (i < gin.size() && gin[i].defined()) {
        auto [it, fresh] = buffers.try_emplace(e, std::move(gin[i]));
        if (!fresh) it->second = add(it->second, gin[i]);
      }
      if (--deps[e] == 0) ready.push(next[i]);
    }
  }
}

}  // namespace cairn::autograd
