// Golden tests against PyTorch for the ops of ops/creation.cpp, elementwise.cpp, activation.cpp, reduce.cpp,
// matmul.cpp and view.cpp. Each case mirrors one of tools/golden/core_golden_cases.py (same name, same call);
// see golden_util.h for what is compared. Regenerate the files with `make golden`.
#include <cmath>

#include "golden_util.h"

using namespace cairn;
using golden::Call;
using golden::Case;
using golden::outs;

namespace {

using Binary = Tensor (*)(const Tensor&, const Tensor&);
using Unary = Tensor (*)(const Tensor&);

// The shape pairs of BINARY_SHAPES in core_golden_cases.py.
std::vector<Case> binary_cases(Binary op) {
  std::vector<Case> cs;
  for (const char* n : {"same", "bcast_col_row", "bcast_trailing", "bcast_leading", "scalar_b", "scalar_a"})
    cs.push_back({n, [op](Call& c) { return outs(op(c["a"], c["b"])); }});
  return cs;
}

std::vector<Case> unary_cases(Unary op) {
  return {{"matrix", [op](Call& c) { return outs(op(c["x"])); }},
          {"scalar_tensor", [op](Call& c) { return outs(op(c["x"])); }},
          {"transposed", [op](Call& c) { return outs(op(c["x"].t())); }}};
}

std::vector<Case> scalar_op_cases(const std::function<Tensor(const Tensor&)>& op) {
  return {{"matrix", [op](Call& c) { return outs(op(c["x"])); }},
          {"scalar_tensor", [op](Call& c) { return outs(op(c["x"])); }}};
}

std::vector<Case> activation_cases(const std::function<Tensor(const Tensor&)>& op) {
  return {{"matrix", [op](Call& c) { return outs(op(c["x"])); }}, {"3d", [op](Call& c) { return outs(op(c["x"])); }}};
}

// REDUCE_DIMS of core_golden_cases.py; "all" is Cairn's empty dims list.
struct Dims {
  const char* name;
  std::vector<int64_t> dims;
  bool keepdim;
};
const std::vector<Dims> kReduceDims = {{"all", {}, false},       {"all_keepdim", {}, true}, {"d0", {0}, false},
                                       {"d1_keepdim", {1}, true}, {"dlast", {-1}, false},  {"d02", {0, 2}, false},
                                       {"d02_keepdim", {0, 2}, true}, {"d12", {1, 2}, false}};

using Reduction = std::function<Tensor(const Tensor&, const std::vector<int64_t>&, bool)>;
std::vector<Case> reduction_cases(const Reduction& op) {
  std::vector<Case> cs;
  for (const Dims& d : kReduceDims) cs.push_back({d.name, [op, d](Call& c) { return outs(op(c["x"], d.dims, d.keepdim)); }});
  return cs;
}

using VarLike = Tensor (*)(const Tensor&, const std::vector<int64_t>&, int64_t, bool);
std::vector<Case> var_cases(VarLike op) {
  std::vector<Case> cs;
  for (const Dims& d : kReduceDims)
    for (int64_t corr : {1, 0})
      cs.push_back({std::string(d.name) + (corr ? "" : "_correction0"),
                    [op, d, corr](Call& c) { return outs(op(c["x"], d.dims, corr, d.keepdim)); }});
  return cs;
}

using MaxLike = std::pair<Tensor, Tensor> (*)(const Tensor&, int64_t, bool);
std::vector<Case> max_cases(MaxLike op) {
  std::vector<Case> cs;
  for (int64_t dim : {0, 1, 2, -1})
    for (bool k : {false, true})
      cs.push_back({std::string("d") + (dim >= 0 ? std::to_string(dim) : "last") + (k ? "_keepdim" : ""),
                    [op, dim, k](Call& c) { return outs(op(c["x"], dim, k)); }});
  return cs;
}

using ArgLike = Tensor (*)(const Tensor&, int64_t, bool);
std::vector<Case> arg_cases(ArgLike op) {
  std::vector<Case> cs;
  for (int64_t dim : {0, 1, 2})
    for (bool k : {false, true})
      cs.push_back({"d" + std::to_string(dim) + (k ? "_keepdim" : ""), [op, dim, k](Call& c) { return outs(op(c["x"], dim, k)); }});
  cs.push_back({"ties", [op](Call& c) { return outs(op(c["x"], 1, false)); }});
  return cs;
}

std::vector<Case> amax_cases(Reduction op) {
  std::vector<Case> cs = reduction_cases(op);
  cs.push_back({"ties", [op](Call& c) { return outs(op(c["x"], {1}, false)); }});
  return cs;
}

// Cases that all make the same call on input "x".
std::vector<Case> x_cases(std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> fns) {
  std::vector<Case> cs;
  for (auto& [name, f] : fns) cs.push_back({name, [f](Call& c) { return outs(f(c["x"])); }});
  return cs;
}

Tensor max_fn(const Tensor& a, const Tensor& b) { return maximum(a, b); }
Tensor min_fn(const Tensor& a, const Tensor& b) { return minimum(a, b); }

}  // namespace

// ---- creation ----

TEST(Golden, Arange) {
  golden::run("arange", {
                            {"int64", [](Call&) { return outs(arange(0, 5, 1, DType::i64)); }},
                            {"fractional_step", [](Call& c) { return outs(arange(0, 1, 0.25, c.dtype)); }},
                            {"negative_step", [](Call& c) { return outs(arange(5, 0, -1.5, c.dtype)); }},
                            {"partial_last_step", [](Call& c) { return outs(arange(-1, 1, 0.3, c.dtype)); }},
                            {"empty", [](Call& c) { return outs(arange(3, 3, 1, c.dtype)); }},
                        });
}

// ---- elementwise ----

TEST(Golden, Add) { golden::run("add", binary_cases(cairn::add)); }
TEST(Golden, Sub) { golden::run("sub", binary_cases(cairn::sub)); }
TEST(Golden, Mul) { golden::run("mul", binary_cases(cairn::mul)); }
TEST(Golden, Div) { golden::run("div", binary_cases(cairn::div)); }
TEST(Golden, AddScalar) { golden::run("add_scalar", scalar_op_cases([](const Tensor& x) { return add(x, 2.5); })); }
TEST(Golden, MulScalar) { golden::run("mul_scalar", scalar_op_cases([](const Tensor& x) { return mul(x, -1.5); })); }
TEST(Golden, Rsub) { golden::run("rsub", scalar_op_cases([](const Tensor& x) { return rsub(x, 2.0); })); }
TEST(Golden, Rdiv) { golden::run("rdiv", scalar_op_cases([](const Tensor& x) { return rdiv(x, 3.0); })); }
TEST(Golden, Neg) { golden::run("neg", unary_cases(cairn::neg)); }
TEST(Golden, Exp) { golden::run("exp", unary_cases(cairn::exp)); }
TEST(Golden, Log) { golden::run("log", unary_cases(cairn::log)); }
TEST(Golden, Sqrt) { golden::run("sqrt", unary_cases(cairn::sqrt)); }
TEST(Golden, Rsqrt) { golden::run("rsqrt", unary_cases(cairn::rsqrt)); }
TEST(Golden, Abs) { golden::run("abs", unary_cases(cairn::abs)); }
TEST(Golden, Square) { golden::run("square", unary_cases(cairn::square)); }

TEST(Golden, Pow) {
  auto scalar = [](double e) { return [e](Call& c) { return outs(cairn::pow(c["x"], e)); }; };
  auto tensor = [](Call& c) { return outs(cairn::pow(c["x"], c["e"])); };
  golden::run("pow", {{"scalar_3", scalar(3.0)},
                      {"scalar_2_5", scalar(2.5)},
                      {"scalar_neg_1_5", scalar(-1.5)},
                      {"scalar_0_5", scalar(0.5)},
                      {"tensor_same", tensor},
                      {"tensor_bcast_col_row", tensor},
                      {"tensor_bcast_trailing", tensor},
                      {"tensor_scalar_e", tensor}});
}

TEST(Golden, Clamp) {
  golden::run("clamp", {{"lo", [](Call& c) { return outs(clamp(c["x"], -0.3, std::nullopt)); }},
                        {"hi", [](Call& c) { return outs(clamp(c["x"], std::nullopt, 0.4)); }},
                        {"both", [](Call& c) { return outs(clamp(c["x"], -0.3, 0.4)); }}});
}

TEST(Golden, Maximum) {
  auto cs = binary_cases(max_fn);
  cs.push_back({"ties", [](Call& c) { return outs(maximum(c["a"], c["b"])); }});
  golden::run("maximum", cs);
}

TEST(Golden, Minimum) {
  auto cs = binary_cases(min_fn);
  cs.push_back({"ties", [](Call& c) { return outs(minimum(c["a"], c["b"])); }});
  golden::run("minimum", cs);
}

TEST(Golden, Compare) {
  auto cmp = [](Binary op) { return [op](Call& c) { return outs(op(c["a"], c["b"])); }; };
  golden::run("compare",
              {{"eq", cmp(cairn::eq)},
               {"ne", cmp(cairn::ne)},
               {"lt", cmp(static_cast<Binary>(cairn::lt))},
               {"le", cmp(cairn::le)},
               {"gt", cmp(static_cast<Binary>(cairn::gt))},
               {"ge", cmp(cairn::ge)},
               {"gt_scalar", [](Call& c) { return outs(gt(c["a"], 0.1)); }},
               {"lt_scalar", [](Call& c) { return outs(lt(c["a"], 0.1)); }}});
}

TEST(Golden, Where) {
  auto w = [](Call& c) { return outs(where(c["c"], c["a"], c["b"])); };
  golden::run("where", {{"same", w}, {"bcast_b", w}, {"bcast_all", w}, {"bcast_to_3d", w}});
}

TEST(Golden, MaskedFill) {
  golden::run("masked_fill", {{"same", [](Call& c) { return outs(masked_fill(c["x"], c["m"], -7.0)); }},
                              {"bcast_mask", [](Call& c) { return outs(masked_fill(c["x"], c["m"], 2.0)); }},
                              {"neg_inf", [](Call& c) { return outs(masked_fill(c["x"], c["m"], -INFINITY)); }}});
}

// ---- activations ----

TEST(Golden, Relu) { golden::run("relu", activation_cases([](const Tensor& x) { return relu(x); })); }
TEST(Golden, Sigmoid) { golden::run("sigmoid", activation_cases([](const Tensor& x) { return sigmoid(x); })); }
TEST(Golden, Tanh) { golden::run("tanh", activation_cases([](const Tensor& x) { return cairn::tanh(x); })); }
TEST(Golden, Silu) { golden::run("silu", activation_cases([](const Tensor& x) { return silu(x); })); }

TEST(Golden, LeakyRelu) {
  golden::run("leaky_relu", {{"default_slope", [](Call& c) { return outs(leaky_relu(c["x"])); }},
                             {"slope_0_2", [](Call& c) { return outs(leaky_relu(c["x"], 0.2)); }}});
}

TEST(Golden, Gelu) {
  golden::run("gelu", {{"exact", [](Call& c) { return outs(gelu(c["x"])); }},
                       {"tanh", [](Call& c) { return outs(gelu(c["x"], "tanh")); }}});
}

TEST(Golden, Softplus) {
  golden::run("softplus", {{"default", [](Call& c) { return outs(softplus(c["x"])); }},
                           {"beta2_threshold5", [](Call& c) { return outs(softplus(c["x"], 2.0, 5.0)); }},
                           {"large", [](Call& c) { return outs(softplus(c["x"])); }}});
}

// ---- reductions ----

TEST(Golden, Sum) { golden::run("sum", reduction_cases([](const Tensor& x, const std::vector<int64_t>& d, bool k) { return sum(x, d, k); })); }
TEST(Golden, Mean) { golden::run("mean", reduction_cases([](const Tensor& x, const std::vector<int64_t>& d, bool k) { return mean(x, d, k); })); }
TEST(Golden, Var) { golden::run("var", var_cases(cairn::var)); }
TEST(Golden, Std) { golden::run("std", var_cases(cairn::std)); }

TEST(Golden, LogSumExp) {
  auto cs = reduction_cases([](const Tensor& x, const std::vector<int64_t>& d, bool k) { return logsumexp(x, d, k); });
  cs.push_back({"large_values", [](Call& c) { return outs(logsumexp(c["x"], {1})); }});
  cs.push_back({"neg_inf_row", [](Call& c) { return outs(logsumexp(c["x"], {1})); }});
  golden::run("logsumexp", cs);
}

TEST(Golden, Max) { golden::run("max", max_cases(cairn::max)); }
TEST(Golden, Min) { golden::run("min", max_cases(cairn::min)); }
TEST(Golden, Amax) { golden::run("amax", amax_cases([](const Tensor& x, const std::vector<int64_t>& d, bool k) { return amax(x, d, k); })); }
TEST(Golden, Amin) { golden::run("amin", amax_cases([](const Tensor& x, const std::vector<int64_t>& d, bool k) { return amin(x, d, k); })); }
TEST(Golden, Argmax) { golden::run("argmax", arg_cases(cairn::argmax)); }
TEST(Golden, Argmin) { golden::run("argmin", arg_cases(cairn::argmin)); }

// ---- matmul, linear ----

TEST(Golden, Matmul) {
  std::vector<Case> cs;
  auto mm = [](Call& c) { return outs(matmul(c["a"], c["b"])); };
  for (const char* n : {"2d", "batched", "bcast_batch", "bcast_batch_left", "3d_2d", "2d_3d", "1d_2d", "2d_1d", "1d_1d",
                        "1d_3d", "3d_1d"})
    cs.push_back({n, mm});
  cs.push_back({"a_transposed", [](Call& c) { return outs(matmul(c["a"].t(), c["b"])); }});
  cs.push_back({"b_transposed", [](Call& c) { return outs(matmul(c["a"], c["b"].t())); }});
  cs.push_back({"both_transposed_batched",
                [](Call& c) { return outs(matmul(transpose(c["a"], 1, 2), transpose(c["b"], 1, 2))); }});
  golden::run("matmul", cs);
}

TEST(Golden, Linear) {
  auto lin = [](Call& c) { return outs(linear(c["x"], c["w"], c.opt("b"))); };
  auto lin_relu = [](Call& c) { return outs(linear(c["x"], c["w"], c.opt("b"), Fused::relu)); };
  golden::run("linear", {{"bias", lin}, {"no_bias", lin}, {"3d_input", lin}, {"1d_input", lin}, {"relu", lin_relu}});
}

// ---- views and layout ----

TEST(Golden, Reshape) {
  golden::run("reshape", x_cases({{"contiguous", [](const Tensor& x) { return reshape(x, {4, 6}); }},
                                  {"infer", [](const Tensor& x) { return reshape(x, {-1, 2}); }},
                                  {"transposed", [](const Tensor& x) { return reshape(transpose(x, 0, 2), {4, 6}); }}}));
}

TEST(Golden, Permute) {
  golden::run("permute", x_cases({{"p201", [](const Tensor& x) { return permute(x, {2, 0, 1}); }},
                                  {"p021", [](const Tensor& x) { return permute(x, {0, 2, 1}); }}}));
}

TEST(Golden, Transpose) {
  golden::run("transpose", x_cases({{"t02", [](const Tensor& x) { return transpose(x, 0, 2); }},
                                    {"t_neg", [](const Tensor& x) { return transpose(x, -1, -2); }}}));
}

TEST(Golden, Narrow) {
  golden::run("narrow", x_cases({{"d1", [](const Tensor& x) { return narrow(x, 1, 1, 2); }},
                                 {"d2_end", [](const Tensor& x) { return narrow(x, 2, 3, 1); }}}));
}

TEST(Golden, Slice) {
  golden::run("slice", x_cases({{"step2", [](const Tensor& x) { return slice(x, 2, 0, 4, 2); }},
                                {"negative_bounds", [](const Tensor& x) { return slice(x, 2, -3, -1); }},
                                {"step3_dim1", [](const Tensor& x) { return slice(x, 1, 0, 3, 3); }}}));
}

TEST(Golden, Select) {
  golden::run("select", x_cases({{"d1", [](const Tensor& x) { return select(x, 1, 2); }},
                                 {"negative", [](const Tensor& x) { return select(x, -1, -1); }}}));
}

TEST(Golden, Expand) {
  golden::run("expand", x_cases({{"col", [](const Tensor& x) { return expand(x, {2, 3, 4}); }},
                                 {"keep_minus_one", [](const Tensor& x) { return expand(x, {2, -1, 4}); }},
                                 {"scalar", [](const Tensor& x) { return broadcast_to(x, {2, 3}); }}}));
}

TEST(Golden, Squeeze) {
  golden::run("squeeze", x_cases({{"size1", [](const Tensor& x) { return squeeze(slice(x, 1, 1, 2), 1); }},
                                  {"not_size1", [](const Tensor& x) { return squeeze(x, 1); }}}));
}

TEST(Golden, Unsqueeze) {
  golden::run("unsqueeze", x_cases({{"d0", [](const Tensor& x) { return unsqueeze(x, 0); }},
                                    {"dlast", [](const Tensor& x) { return unsqueeze(x, -1); }}}));
}

TEST(Golden, Flatten) {
  golden::run("flatten", x_cases({{"all", [](const Tensor& x) { return flatten(x); }},
                                  {"d12", [](const Tensor& x) { return flatten(x, 1, 2); }},
                                  {"permuted", [](const Tensor& x) { return flatten(permute(x, {1, 0, 2}), 0, 1); }}}));
}

TEST(Golden, Contiguous) {
  golden::run("contiguous", x_cases({{"transposed", [](const Tensor& x) { return contiguous(transpose(x, 1, 2)); }},
                                     {"already", [](const Tensor& x) { return contiguous(x); }}}));
}

TEST(Golden, Clone) {
  golden::run("clone", x_cases({{"plain", [](const Tensor& x) { return clone(x); }},
                                {"strided", [](const Tensor& x) { return clone(slice(x, 2, 0, 4, 3)); }}}));
}

TEST(Golden, ToDtype) {
  golden::run("to_dtype",
              x_cases({{"other_float",
                        [](const Tensor& x) { return to_dtype(x, x.dtype() == DType::f64 ? DType::f32 : DType::f64); }},
                       {"to_int64", [](const Tensor& x) { return to_dtype(x, DType::i64); }},
                       {"same", [](const Tensor& x) { return to_dtype(x, x.dtype()); }}}));
}

TEST(Golden, Concat) {
  golden::run("concat", {{"dim1", [](Call& c) { return outs(concat({c["a"], c["b"], c["c"]}, 1)); }},
                         {"dim_last", [](Call& c) { return outs(concat({c["a"], c["b"]}, -1)); }},
                         {"dim0_transposed", [](Call& c) { return outs(concat({c["a"].t(), c["b"]}, 0)); }}});
}

TEST(Golden, Stack) {
  auto st = [](int64_t d) { return [d](Call& c) { return outs(stack({c["a"], c["b"], c["c"]}, d)); }; };
  golden::run("stack", {{"dim0", st(0)}, {"dim1", st(1)}, {"dimlast", st(-1)}});
}

TEST(Golden, Split) {
  golden::run("split", {{"rows_3", [](Call& c) { return outs(split(c["x"], 3, 0)); }},
                        {"cols_2", [](Call& c) { return outs(split(c["x"], 2, 1)); }}});
}

TEST(Golden, Chunk) {
  golden::run("chunk", {{"rows_3", [](Call& c) { return outs(chunk(c["x"], 3, 0)); }},
                        {"six_in_4", [](Call& c) { return outs(chunk(c["x"], 4, 1)); }}});
}

TEST(Golden, SumTo) {
  golden::run("sum_to", x_cases({{"col", [](const Tensor& x) { return sum_to(x, {3, 1}); }},
                                 {"trailing", [](const Tensor& x) { return sum_to(x, {4}); }},
                                 {"keep_ones", [](const Tensor& x) { return sum_to(x, {1, 3, 1}); }},
                                 {"same", [](const Tensor& x) { return sum_to(x, {2, 3, 4}); }}}));
}
