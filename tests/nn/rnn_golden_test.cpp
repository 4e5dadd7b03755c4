// LSTM and GRU layers against torch.nn.LSTM / GRU (batch_first): outputs, final states and every gradient,
// from tests/golden/rnn/*.safetensors written by tools/golden/make_rnn.py (its docstring gives the layout).
// PyTorch's state dict loads into the Cairn layer unchanged; float64 must agree to 1e-10, float32 to 1e-5.
#include <gtest/gtest.h>

#include <set>

#include "cairn/nn/layers_rnn.h"
#include "cairn/nn/nn.h"
#include "test_util.h"

namespace cairn::nn {
namespace {

std::string rnn_golden(const std::string& name) {
  return std::string(CAIRN_SOURCE_DIR) + "/tests/golden/rnn/" + name + ".safetensors";
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  ASSERT_TRUE(got.defined()) << what << " is undefined";
  ASSERT_EQ(shape_str(got.shape()), shape_str(want.shape())) << what;
  auto g = got.to(DType::f64).contiguous().to_vector<double>(), w = want.to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < g.size(); ++i)
    if (!(std::abs(g[i] - w[i]) <= tol + tol * std::abs(w[i])) && bad++ < 3)
      ADD_FAILURE() << what << " element " << i << ": got " << g[i] << ", PyTorch " << w[i];
}

void run_case(const std::string& name, DType dtype) {
  const double tol = dtype == DType::f64 ? 1e-10 : 1e-5;
  const std::string where = name + (dtype == DType::f64 ? " f64" : " f32");
  Metadata meta;
  TensorDict ref = load_tensors(rnn_golden(name), &meta);
  std::set<std::string> unused;
  for (const auto& [k, v] : ref) unused.insert(k);
  auto get = [&](const std::string& k) {
    unused.erase(k);
    return ref.at(k);
  };
  const bool is_lstm = meta.at("kind") == "lstm";
  RnnOptions o{.return_sequences = true,
               .return_state = true,
               .bidirectional = meta.at("bidirectional") == "1",
               .num_layers = std::stoll(meta.at("layers"))};
  std::shared_ptr<RecurrentLayer> layer;
  const int64_t H = std::stoll(meta.at("hidden"));
  if (is_lstm) layer = std::make_shared<LSTM>(H, o);
  else layer = std::make_shared<GRU>(H, o);
  layer->to(dtype);
  Tensor x = get("x").to(dtype).requires_grad_();
  layer->build(x.shape());
  StateDict weights;
  for (const auto& [k, v] : ref)
    if (k.rfind("w.", 0) == 0) weights.insert(k.substr(2), get(k));
  layer->load_state_dict(weights);

  std::vector<Tensor> init;
  std::vector<std::string> init_names;
  for (const char* s : {"h0", "c0"})
    if (ref.contains(s)) {
      init.push_back(get(s).to(dtype).requires_grad_());
      init_names.push_back(s);
    }
  Tensor lengths = ref.contains("lengths") ? get("lengths") : Tensor();

  RnnResult r = layer->call(x, lengths, init);
  expect_close(r.output, get("y"), tol, where + " y");
  expect_close(r.h_n, get("h_n"), tol, where + " h_n");
  Tensor loss = sum(r.output * get("r.y").to(dtype)) + sum(r.h_n * get("r.h_n").to(dtype));
  if (is_lstm) {
    expect_close(r.c_n, get("c_n"), tol, where + " c_n");
    loss = loss + sum(r.c_n * get("r.c_n").to(dtype));
  }
  loss.backward();
  expect_close(x.grad(), get("grad.x"), tol, where + " grad x");
  for (size_t i = 0; i < init.size(); ++i)
    expect_close(init[i].grad(), get("grad." + init_names[i]), tol, where + " grad " + init_names[i]);
  for (const auto& [k, p] : layer->named_parameters())
    expect_close(p.grad(), get("grad.w." + k), tol, where + " grad " + k);
  EXPECT_TRUE(unused.empty()) << where << ": the reference holds tensors the test did not compare, e.g. "
                              << *unused.begin();
}

class RnnGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(RnnGolden, MatchesPyTorch) {
  run_case(GetParam(), DType::f64);
  run_case(GetParam(), DType::f32);
}

INSTANTIATE_TEST_SUITE_P(Cases, RnnGolden,
                         ::testing::Values("lstm_uni", "lstm_bi_2layers", "lstm_masked_bi", "gru_uni",
                                           "gru_bi_2layers", "gru_masked_bi"));

}  // namespace
}  // namespace cairn::nn
