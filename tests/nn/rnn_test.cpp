// LSTM and GRU layers: shapes, PyTorch parameter names, float64 gradient checks through the module (uni- and
// bidirectional, stacked, masked, with initial states), masking semantics, options and bad inputs.
#include <gtest/gtest.h>

#include "cairn/nn/layers_rnn.h"
#include "cairn/nn/nn.h"
#include "test_util.h"

namespace cairn::nn {
namespace {

using test::error_of;
using test::max_abs_diff;
using test::module_gradcheck;

std::vector<Tensor> params_of(Module& m) { return m.parameters(); }

TEST(Rnn, ShapesAndParameterNames) {
  LSTM l(4, RnnOptions{.bidirectional = true, .num_layers = 2});
  EXPECT_EQ(shape_str(l.build({-1, 7, 3})), "[-1, 8]");
  std::vector<std::string> names;
  for (auto& [n, t] : l.named_parameters()) names.push_back(n + shape_str(t.shape()));
  std::vector<std::string> want = {
      "weight_ih_l0[16, 3]",         "weight_hh_l0[16, 4]",         "bias_ih_l0[16]",
      "bias_hh_l0[16]",              "weight_ih_l0_reverse[16, 3]", "weight_hh_l0_reverse[16, 4]",
      "bias_ih_l0_reverse[16]",      "bias_hh_l0_reverse[16]",      "weight_ih_l1[16, 8]",
      "weight_hh_l1[16, 4]",         "bias_ih_l1[16]",              "bias_hh_l1[16]",
      "weight_ih_l1_reverse[16, 8]", "weight_hh_l1_reverse[16, 4]", "bias_ih_l1_reverse[16]",
      "bias_hh_l1_reverse[16]"};
  EXPECT_EQ(names, want);
  GRU g(5, RnnOptions{.return_sequences = true, .use_bias = false});
  EXPECT_EQ(shape_str(g.build({2, 6, 3})), "[2, 6, 5]");
  EXPECT_EQ(g.named_parameters().size(), 2u);
  EXPECT_EQ(shape_str(g.named_parameters()[0].second.shape()), "[15, 3]");
  // PyTorch's default initialisation: U(-1/sqrt(H), 1/sqrt(H)).
  LSTM big(100);
  big.build({1, 1, 50});
  EXPECT_LE(amax(abs(big.named_parameters()[0].second)).item(), 0.1);
  EXPECT_GT(amax(abs(big.named_parameters()[0].second)).item(), 0.09);
}

TEST(Rnn, OutputIsLastHiddenStateAndSequence) {
  manual_seed(3);
  LSTM seq(3, RnnOptions{.return_sequences = true, .return_state = true, .seed = 1});
  LSTM last(3, RnnOptions{.seed = 1});
  Tensor x = randn({2, 5, 4});
  RnnResult r = seq.call(x);
  Tensor y_last = last(x);
  EXPECT_EQ(shape_str(r.output.shape()), "[2, 5, 3]");
  EXPECT_LT(max_abs_diff(select(r.output, 1, 4), y_last), 1e-7);
  ASSERT_EQ(r.states.size(), 2u);  // [h, c]
  EXPECT_LT(max_abs_diff(r.states[0], y_last), 1e-7);
  EXPECT_EQ(shape_str(r.h_n.shape()), "[1, 2, 3]");
  EXPECT_EQ(shape_str(r.c_n.shape()), "[1, 2, 3]");
  GRU bi(3, RnnOptions{.return_state = true, .bidirectional = true});
  RnnResult rb = bi.call(x);
  EXPECT_EQ(shape_str(rb.output.shape()), "[2, 6]");
  EXPECT_EQ(rb.states.size(), 2u);  // [h_fwd, h_bwd]
  EXPECT_LT(max_abs_diff(rb.output, concat({rb.states[0], rb.states[1]}, 1)), 1e-7);
}

TEST(Rnn, LstmGradcheckBidirectionalStacked) {
  LSTM l(3, RnnOptions{.return_sequences = true, .bidirectional = true, .num_layers = 2});
  l.to(DType::f64);
  Generator g(4);
  Tensor x = randn({2, 4, 2}, DType::f64, &g).requires_grad_();
  l.build(x.shape());
  std::vector<Tensor> wrt = params_of(l);
  wrt.push_back(x);
  EXPECT_TRUE(module_gradcheck([&] { return l(x); }, wrt));
}

TEST(Rnn, GruGradcheckBidirectionalStacked) {
  GRU m(3, RnnOptions{.bidirectional = true, .num_layers = 2});
  m.to(DType::f64);
  Generator g(5);
  Tensor x = randn({2, 4, 2}, DType::f64, &g).requires_grad_();
  m.build(x.shape());
  std::vector<Tensor> wrt = params_of(m);
  wrt.push_back(x);
  EXPECT_TRUE(module_gradcheck([&] { return m(x); }, wrt));
}

TEST(Rnn, GradcheckMaskedWithInitialState) {
  Generator g(6);
  Tensor x = randn({3, 5, 2}, DType::f64, &g).requires_grad_();
  Tensor lengths = from_vector<int64_t>({5, 2, 3});
  LSTM l(3, RnnOptions{.return_sequences = true, .return_state = true, .bidirectional = true});
  l.to(DType::f64);
  l.build(x.shape());
  Tensor h0 = randn({2, 3, 3}, DType::f64, &g).requires_grad_(), c0 = randn({2, 3, 3}, DType::f64, &g).requires_grad_();
  std::vector<Tensor> wrt = params_of(l);
  for (const Tensor& t : {x, h0, c0}) wrt.push_back(t);
  EXPECT_TRUE(module_gradcheck(
      [&] {
        RnnResult r = l.call(x, lengths, {h0, c0});
        return concat({flatten(r.output), flatten(r.h_n), flatten(r.c_n)}, 0);
      },
      wrt));
  GRU q(3, RnnOptions{.num_layers = 2});
  q.to(DType::f64);
  q.build(x.shape());
  std::vector<Tensor> wq = params_of(q);
  wq.push_back(x);
  EXPECT_TRUE(module_gradcheck([&] { return q({x, lengths}); }, wq));
}

TEST(Rnn, MaskingMatchesTruncatedSequences) {
  // Row 1 has 2 real steps of 5: its result equals running the layer on those 2 steps alone, and its padded
  // outputs are zero; a (B, T) mask, lengths and mask_value all mean the same.
  manual_seed(7);
  Tensor x = randn({2, 5, 3});
  {
    NoGradGuard ng;
    x.narrow(0, 1, 1).narrow(1, 2, 3).fill_(0.0);
  }
  for (bool bi : {false, true}) {
    LSTM l(4, RnnOptions{.return_sequences = true, .bidirectional = bi, .seed = 2});
    Tensor y = l({x, from_vector<int64_t>({5, 2})});
    Tensor mask = from_vector<float>({1, 1, 1, 1, 1, 1, 1, 0, 0, 0}, {2, 5});
    EXPECT_LT(max_abs_diff(y, l({x, mask})), 1e-7);
    LSTM lm(4, RnnOptions{.return_sequences = true, .bidirectional = bi, .mask_value = 0.0, .seed = 2});
    EXPECT_LT(max_abs_diff(y, lm(x)), 1e-7);
    Tensor alone = l(narrow(narrow(x, 0, 1, 1), 1, 0, 2));
    EXPECT_LT(max_abs_diff(narrow(narrow(y, 0, 1, 1), 1, 0, 2), alone), 1e-6);
    EXPECT_EQ(amax(abs(narrow(narrow(y, 0, 1, 1), 1, 2, 3))).item(), 0.0);
  }
}

TEST(Rnn, DropoutBetweenLayersOnlyWhenTraining) {
  manual_seed(8);
  GRU g(4, RnnOptions{.num_layers = 2, .dropout = 0.5, .seed = 3});
  Tensor x = randn({2, 3, 3});
  Tensor a = g(x), b = g(x);
  EXPECT_GT(max_abs_diff(a, b), 1e-4);  // different dropout masks
  g.eval();
  EXPECT_LT(max_abs_diff(g(x), g(x)), 1e-9);
}

TEST(Rnn, SequentialEmbeddingLstmDense) {
  Sequential m;
  m.add<Embedding>(20, 8);
  m.add<LSTM>(16);
  m.add<Dense>(1);
  Tensor ids = randint(0, 20, {4, 7});
  EXPECT_EQ(shape_str(m(ids).shape()), "[4, 1]");
  auto names = m.state_dict().keys();
  EXPECT_EQ(names[1], "1.weight_ih_l0");
  EXPECT_EQ(m.count_params(), 20 * 8 + 4 * 16 * (8 + 16 + 2) + 17);
}

TEST(Rnn, BadInputsNameLayerAndShapes) {
  LSTM l(4, RnnOptions{.name = "enc"});
  std::string msg = error_of<ShapeError>([&] { l(randn({2, 3})); });
  EXPECT_NE(msg.find("LSTM 'enc'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2, 3]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank-3"), std::string::npos) << msg;
  l(randn({2, 3, 5}));
  msg = error_of<ShapeError>([&] { l(randn({2, 3, 6})); });
  EXPECT_NE(msg.find("[2, 3, 6]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("built for 5 input features"), std::string::npos) << msg;
  msg = error_of<ShapeError>([&] { l({randn({2, 3, 5}), zeros({2, 4})}); });
  EXPECT_NE(msg.find("mask of shape [2, 4]"), std::string::npos) << msg;
  msg = error_of<ValueError>([&] { l({randn({2, 3, 5}), from_vector<int64_t>({1, 9})}); });
  EXPECT_NE(msg.find("sequence length 9"), std::string::npos) << msg;
  msg = error_of<ShapeError>([&] { l.call(randn({2, 3, 5}), Tensor(), {zeros({2, 4}), zeros({3, 4})}); });
  EXPECT_NE(msg.find("initial state of shape [3, 4]"), std::string::npos) << msg;
  EXPECT_NE(error_of<ValueError>([] { GRU(0); }).find("units must be positive"), std::string::npos);
  EXPECT_NE(error_of<ValueError>([] { GRU(3, RnnOptions{.num_layers = 0}); }).find("num_layers"), std::string::npos);
  Sequential s;
  s.add<Dense>(8);
  s.add<LSTM>(4);
  msg = error_of<ShapeError>([&] { s(randn({2, 5})); });
  EXPECT_NE(msg.find("LSTM"), std::string::npos) << msg;
}

}  // namespace
}  // namespace cairn::nn
