// The autograd engine's guarantees: deep graphs backpropagate and tear down without recursion, memory stays
// bounded over many training steps, and every misuse (backward twice, non-scalar outputs, tensors without a
// graph, integer inputs, bad indices) throws the documented error with a message a user can act on.
#include <gtest/gtest.h>
#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <sstream>
#include <string>

#include "cairn/core/core.h"
#include "cairn/core/kernels/kernels.h"
#include "cairn/core/tensor/allocator.h"

using namespace cairn;

namespace {

// Runs f on a thread whose stack is `bytes` big, and rethrows what it threw. A recursive backward or graph
// teardown over thousands of nodes overflows a stack this small; the iterative engine needs a few frames.
void run_with_stack(size_t bytes, const std::function<void()>& f) {
  struct Ctx {
    const std::function<void()>* f;
    std::exception_ptr error;
  } ctx{&f, nullptr};
  pthread_attr_t attr;
  ASSERT_EQ(pthread_attr_init(&attr), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attr, bytes), 0);
  pthread_t thread;
  auto trampoline = [](void* p) -> void* {
    auto* c = static_cast<Ctx*>(p);
    try {
      (*c->f)();
    } catch (...) {
      c->error = std::current_exception();
    }
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attr, trampoline, &ctx), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attr);
  if (ctx.error) std::rethrow_exception(ctx.error);
}

// Stack of the threads above: enough for the engine's own frames even under AddressSanitizer, too small for
// one frame per node of a 10,000-node chain (a plain recursive teardown of 10,000 shared_ptr-linked nodes with
// a vector of edges each, built with -O2, already overflows it).
constexpr size_t kSmallStack = 256u << 10;

// `depth` ops alternating y * 0.9999 and y + 0.001: dy/dx = 0.9999^ceil(depth / 2).
Tensor chain(const Tensor& x, int depth) {
  Tensor y = x;
  for (int i = 0; i < depth; ++i) y = (i % 2 == 0) ? mul(y, 0.9999) : add(y, 0.001);
  return y;
}

// Matches the message of an exception against a few substrings.
template <class Err, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const Err& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw another exception type: " << e.what();
    return "";
  }
  ADD_FAILURE() << "did not throw";
  return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

// ---- deep graphs ----

TEST(Autograd, TenThousandDeepChainBackpropagates) {
  Tensor x = full({2}, 1.5, DType::f64).requires_grad_();
  Tensor y = sum(chain(x, 10000));
  y.backward();
  // 5,000 multiplications by 0.9999; the additions pass the gradient through.
  const double expected = std::pow(0.9999, 5000);
  auto g = x.grad().to_vector<double>();
  ASSERT_EQ(g.size(), 2u);
  EXPECT_NEAR(g[0], expected, 1e-12);
  EXPECT_NEAR(g[1], expected, 1e-12);
}

TEST(Autograd, TenThousandDeepChainOnASmallStack) {
  run_with_stack(kSmallStack, [] {
    Tensor x = full({}, 2.0, DType::f64).requires_grad_();
    Tensor y = chain(x, 10000);
    y.backward();
    EXPECT_NEAR(x.grad().item(), std::pow(0.9999, 5000), 1e-12);
  });
}

TEST(Autograd, DeepChainWithAResidualEdgeAtEveryStep) {
  // y_{k+1} = 0.5 * y_k + x: x's accumulator has 10,001 incoming edges and must run once, after all of them.
  run_with_stack(kSmallStack, [] {
    Tensor x = full({}, 1.0, DType::f64).requires_grad_();
    Tensor y = x;
    for (int i = 0; i < 10000; ++i) y = add(mul(y, 0.5), x);
    y.backward();
    EXPECT_NEAR(x.grad().item(), 2.0, 1e-12);  // 1 + 1/2 + 1/4 + ... (10,001 terms)
  });
}

TEST(Autograd, HundredThousandDeepGraphTearsDownWithoutRecursion) {
  run_with_stack(kSmallStack, [] {
    Tensor x = full({}, 1.0, DType::f32).requires_grad_();
    {
      Tensor y = chain(x, 100000);
      EXPECT_TRUE(y.requires_grad());
      ASSERT_NE(y.grad_fn(), nullptr);
    }  // the whole graph is freed here, node by node
    // The same after a backward, which frees the saved buffers but not the nodes.
    Tensor y = chain(x, 100000);
    y.backward();
    y = Tensor();
    EXPECT_TRUE(x.grad().defined());
  });
}

TEST(Autograd, MemoryStaysBoundedOverRepeatedSteps) {
  // A small MLP trained by SGD: after a warm-up every step reuses cached blocks, so the allocator neither
  // grows nor calls the system allocator again.
  Generator gen(7);
  Tensor x = randn({16, 8}, DType::f32, &gen);
  Tensor target = randn({16, 4}, DType::f32, &gen);
  Tensor w1 = mul(randn({32, 8}, DType::f32, &gen), 0.3).requires_grad_();
  Tensor b1 = zeros({32}).requires_grad_();
  Tensor w2 = mul(randn({4, 32}, DType::f32, &gen), 0.3).requires_grad_();
  Tensor b2 = zeros({4}).requires_grad_();
  std::vector<Tensor> params = {w1, b1, w2, b2};
  auto step = [&] {
    Tensor h = relu(linear(x, w1, b1));
    Tensor loss = mean(square(sub(linear(h, w2, b2), target)));
    loss.backward();
    NoGradGuard ng;
    for (Tensor& p : params) {
      p.add_(p.grad(), -0.05);
      p.zero_grad();
    }
    return loss.item();
  };
  const double first = step();
  for (int i = 1; i < 50; ++i) step();
  const AllocatorStats warm = cpu_allocator_stats();
  double last = 0;
  for (int i = 50; i < 1000; ++i) last = step();
  const AllocatorStats end = cpu_allocator_stats();
  EXPECT_EQ(end.system_allocs, warm.system_allocs) << "the allocator kept asking the system for memory";
  EXPECT_EQ(end.bytes_in_use, warm.bytes_in_use) << "tensors leak across steps";
  EXPECT_LE(end.bytes_in_use + end.bytes_cached, warm.bytes_in_use + warm.bytes_cached);
  EXPECT_GT(end.cached_hits, warm.cached_hits);
  EXPECT_LT(last, first) << "the steps did not train (first loss " << first << ", last " << last << ")";
}

// ---- misuse ----

TEST(Autograd, BackwardTwiceThroughAFreedGraphThrows) {
  Tensor x = from_vector<double>({0.5, -1.0, 2.0}).requires_grad_();
  Tensor y = sum(mul(exp(x), x));
  y.backward();
  std::string msg = message_of<AutogradError>([&] { y.backward(); });
  EXPECT_TRUE(contains(msg, "retain_graph")) << msg;
  EXPECT_TRUE(contains(msg, "second time")) << msg;

  // With retain_graph the graph can be walked again, and the gradients add up.
  x.zero_grad();
  Tensor z = sum(mul(exp(x), x));
  z.backward(Tensor(), /*retain_graph=*/true);
  auto once = x.grad().to_vector<double>();
  z.backward(Tensor(), /*retain_graph=*/true);
  auto twice = x.grad().to_vector<double>();
  z.backward();  // the last walk may free the graph
  auto thrice = x.grad().to_vector<double>();
  for (size_t i = 0; i < 3; ++i) {
    const double xi = x.to_vector<double>()[i];
    EXPECT_NEAR(once[i], std::exp(xi) * (1 + xi), 1e-12);
    EXPECT_NEAR(twice[i], 2 * once[i], 1e-12);
    EXPECT_NEAR(thrice[i], 3 * once[i], 1e-12);
  }
  EXPECT_THROW(z.backward(), AutogradError);
}

TEST(Autograd, NonScalarBackwardNeedsAGradient) {
  Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
  Tensor y = mul(x, 2.0);
  std::string msg = message_of<AutogradError>([&] { y.backward(); });
  EXPECT_TRUE(contains(msg, "[3]")) << msg;
  EXPECT_TRUE(contains(msg, "gradient")) << msg;
  EXPECT_TRUE(contains(msg, "sum")) << msg;  // says what to do
  // A gradient of the wrong shape is refused too, naming both shapes.
  msg = message_of<AutogradError>([&] { y.backward(ones({2}, DType::f64)); });
  EXPECT_TRUE(contains(msg, "[2]") && contains(msg, "[3]")) << msg;
  // With a gradient it works: vector-Jacobian product.
  y.backward(from_vector<double>({1, 10, 100}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 20, 200}));
  // A one-element tensor of any rank needs none.
  Tensor z = reshape(sum(x), {1, 1});
  x.zero_grad();
  z.backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1, 1}));
}

TEST(Autograd, BackwardOnATensorWithoutGradThrows) {
  Tensor c = full({}, 3.0);
  std::string msg = message_of<AutogradError>([&] { c.backward(); });
  EXPECT_TRUE(contains(msg, "requires_grad")) << msg;
  Tensor x = full({}, 3.0).requires_grad_();
  Tensor y;
  {
    NoGradGuard ng;
    y = mul(x, 2.0);
  }
  EXPECT_THROW(y.backward(), AutogradError);
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = from_vector<double>({1, 2}).requires_grad_();
  sum(mul(x, 3.0)).backward();
  sum(square(x)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3 + 2, 3 + 4}));
  // The accumulated gradient is the leaf's own buffer, not an alias of an intermediate.
  Tensor g = x.grad();
  sum(x).backward();
  EXPECT_EQ(g.to_vector<double>(), (std::vector<double>{6, 8}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
  sum(x).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1}));
}

// A leaf's first gradient is taken over without a copy only when nothing else can see it: a gradient the caller
// passed in, or views of one buffer handed to two leaves, are copied, so writing one .grad changes nothing else.
TEST(Autograd, LeafGradientsNeverAliasAnotherTensor) {
  Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
  Tensor seed = from_vector<double>({1, 1, 1});
  reshape(x, {3, 1}).backward(reshape(seed, {3, 1}));  // reshape's backward hands on a view of the seed
  x.grad().add_(from_vector<double>({10, 10, 10}));
  EXPECT_EQ(seed.to_vector<double>(), (std::vector<double>{1, 1, 1}));

  Tensor a = from_vector<double>({1, 2}).requires_grad_(), b = from_vector<double>({3, 4}).requires_grad_();
  sum(mul(add(a, b), from_vector<double>({5, 7}))).backward();  // add's backward gives both the same tensor
  a.grad().add_(from_vector<double>({100, 100}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{5, 7}));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{105, 107}));

  // A gradient computed for the leaf alone is kept as is and still accumulates correctly.
  Tensor w = from_vector<double>({1, 2}).requires_grad_();
  sum(mul(w, from_vector<double>({5, 7}))).backward();
  sum(mul(w, from_vector<double>({1, 1}))).backward();
  EXPECT_EQ(w.grad().to_vector<double>(), (std::vector<double>{6, 8}));
}

TEST(Autograd, NoGradGuardRecordsNothingAndRestoresTheMode) {
  Tensor x = ones({2, 2}).requires_grad_();
  EXPECT_TRUE(autograd::grad_enabled());
  {
    NoGradGuard ng;
    EXPECT_FALSE(autograd::grad_enabled());
    Tensor y = matmul(exp(x), x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    {
      NoGradGuard inner;
      EXPECT_FALSE(autograd::grad_enabled());
    }
    EXPECT_FALSE(autograd::grad_enabled());  // the inner guard restores "off", not "on"
  }
  EXPECT_TRUE(autograd::grad_enabled());
  try {
    NoGradGuard ng;
    throw ValueError("boom");
  } catch (const ValueError&) {
  }
  EXPECT_TRUE(autograd::grad_enabled());
  Tensor y = mul(x, 2.0);
  EXPECT_TRUE(y.requires_grad());
  ASSERT_NE(y.grad_fn(), nullptr);
  EXPECT_EQ(y.grad_fn()->name(), "mul_scalar");
}

TEST(Autograd, DetachCutsTheGraph) {
  Tensor x = from_vector<double>({1, 2, 3}).requires_grad_();
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.storage(), x.storage());  // same data
  // y = x * stop_gradient(x): dy/dx = x, not 2x.
  sum(mul(x, d)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 2, 3}));
  // Detaching an intermediate stops the gradient there.
  x.zero_grad();
  Tensor h = exp(x);
  sum(add(mul(h.detach(), 2.0), x)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1, 1}));
  // A graph made only of detached tensors does not require grad at all.
  EXPECT_FALSE(mul(h.detach(), 2.0).requires_grad());
}

TEST(Autograd, InPlaceChangeOfALeafRequiringGradThrows) {
  Tensor w = ones({3}).requires_grad_();
  std::string msg = message_of<AutogradError>([&] { w.fill_(0.0); });
  EXPECT_TRUE(contains(msg, "NoGradGuard")) << msg;
  NoGradGuard ng;
  w.fill_(2.0);
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{2, 2, 2}));
}

// ---- dtype and index errors ----

TEST(Errors, OpWithoutAKernelForTheDTypeThrowsDTypeError) {
  Tensor i = arange(0, 4);  // int64
  std::string msg = message_of<DTypeError>([&] { (void)exp(i); });
  EXPECT_TRUE(contains(msg, "exp") && contains(msg, "int64")) << msg;
  EXPECT_THROW((void)sigmoid(i.to(DType::i32)), DTypeError);
  EXPECT_THROW((void)sum(i), DTypeError);
  EXPECT_THROW((void)matmul(reshape(i, {2, 2}), reshape(i, {2, 2})), DTypeError);
  // No registered kernel: the registry names the op, the dtype and the device.
  Tensor u = from_vector<uint8_t>({1, 2});
  msg = message_of<DTypeError>([&] { (void)add(u, u); });
  EXPECT_TRUE(contains(msg, "add") && contains(msg, "uint8") && contains(msg, "cpu")) << msg;
  EXPECT_THROW((void)neg(u), DTypeError);
  // Integer tensors cannot require grad.
  EXPECT_THROW(arange(0, 3).requires_grad_(), DTypeError);
  // Mixed dtypes are refused, not silently promoted.
  EXPECT_THROW((void)mul(ones({2}), ones({2}, DType::f64)), DTypeError);
}

TEST(Errors, OutOfRangeIndicesThrowIndexError) {
  Tensor x = zeros({3, 4});
  std::string msg = message_of<IndexError>([&] { (void)select(x, 0, 3); });
  EXPECT_TRUE(contains(msg, "select") && contains(msg, "3") && contains(msg, "[3, 4]")) << msg;
  EXPECT_THROW((void)select(x, 0, -4), IndexError);
  EXPECT_THROW((void)select(x, 2, 0), IndexError);  // no dim 2
  EXPECT_NO_THROW((void)select(x, 0, -3));
  EXPECT_NO_THROW((void)select(x, 1, 3));
  msg = message_of<IndexError>([&] { (void)narrow(x, 1, 2, 3); });
  EXPECT_TRUE(contains(msg, "narrow") && contains(msg, "[2, 5)") && contains(msg, "4")) << msg;
  EXPECT_THROW((void)narrow(x, 1, -1, 2), IndexError);
  EXPECT_THROW((void)narrow(x, 0, 0, -1), IndexError);
  EXPECT_THROW((void)narrow(x, -3, 0, 1), IndexError);
  EXPECT_NO_THROW((void)narrow(x, 1, 4, 0));  // empty, at the end
  EXPECT_THROW((void)x.size(2), IndexError);
  EXPECT_THROW((void)sum(x, {2}), IndexError);
  EXPECT_THROW((void)transpose(x, 0, 2), IndexError);
}

TEST(Errors, ZeroDimTensorsHaveNoDimensionToIndex) {
  // wrap_dim accepts 0 and -1 for a 0-d tensor (so sum(s, {0}) works, as in PyTorch), but ops that index into
  // the dim must refuse instead of reading shape[0] of an empty shape.
  Tensor s = scalar_tensor(2.0);
  std::string msg = message_of<IndexError>([&] { (void)s.size(0); });
  EXPECT_TRUE(contains(msg, "0-d")) << msg;
  EXPECT_THROW((void)select(s, 0, 0), IndexError);
  EXPECT_THROW((void)narrow(s, 0, 0, 1), IndexError);
  EXPECT_THROW((void)slice(s, 0, 0, 1), IndexError);
  EXPECT_THROW((void)split(s, 1, 0), IndexError);
  EXPECT_THROW((void)chunk(s, 1, 0), IndexError);
  EXPECT_THROW((void)concat({s, s}, 0), IndexError);
  EXPECT_THROW((void)transpose(s, 0, 1), IndexError);
  // What PyTorch allows on a 0-d tensor still works.
  EXPECT_EQ(squeeze(s, 0).shape(), Shape{});
  EXPECT_EQ(transpose(s, 0, -1).shape(), Shape{});
  EXPECT_EQ(unsqueeze(s, 0).shape(), Shape{1});
  EXPECT_EQ(stack({s, s}, 0).shape(), Shape{2});
  EXPECT_EQ(sum(s, {0}).item(), 2.0);
  EXPECT_EQ(flatten(s).shape(), Shape{1});
}

TEST(Errors, InPlaceAddRefusesAShapeThatDoesNotBroadcastToTheDestination) {
  Tensor a = zeros({3});
  std::string msg = message_of<ShapeError>([&] { a.add_(ones({2, 3})); });
  EXPECT_TRUE(contains(msg, "[2, 3]") && contains(msg, "[3]")) << msg;
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 0, 0}));
  a.add_(ones({1}), 2.0);  // broadcasting into the destination is fine
  a.add_(full({}, 1.0));
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{3, 3, 3}));
}

TEST(Errors, UndefinedTensorPrints) {
  std::ostringstream os;
  os << Tensor();
  EXPECT_EQ(os.str(), "Tensor(undefined)");
}

// ---- kernel registry ----

TEST(Registry, ListsOpDeviceDTypeEntries) {
  std::vector<std::string> k = kernels::registered_kernels();
  auto has = [&](const std::string& e) { return std::find(k.begin(), k.end(), e) != k.end(); };
  for (const char* e : {"exp/cpu/float32", "exp/cpu/float64", "gemm/cpu/float32", "gemm/cpu/float64",
                        "sum/cpu/float32", "add/cpu/int64", "copy/cpu/uint8", "where/cpu/float64"})
    EXPECT_TRUE(has(e)) << e;
  EXPECT_FALSE(has("exp/cpu/int64"));
  EXPECT_FALSE(has("add/cpu/uint8"));
  // Every entry is "op/device/dtype" and none is listed twice.
  for (const std::string& e : k) {
    EXPECT_EQ(std::count(e.begin(), e.end(), '/'), 2) << e;
    EXPECT_TRUE(contains(e, "/cpu/")) << e;
  }
  std::vector<std::string> sorted = k;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  // The table an op uses agrees with the listing.
  EXPECT_TRUE(kernels::table<kernels::UnaryKernel>("exp").has(DeviceType::CPU, DType::f32));
  EXPECT_FALSE(kernels::table<kernels::UnaryKernel>("exp").has(DeviceType::CPU, DType::i64));
  EXPECT_FALSE(kernels::table<kernels::UnaryKernel>("exp").has(DeviceType::CUDA, DType::f32));
}
