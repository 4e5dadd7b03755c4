// Recurrent layers: LSTM and GRU with PyTorch's equations, parameter names and layouts and Keras's options.
//
//   auto lstm = std::make_shared<LSTM>(128);                                   // (B, T, F) -> (B, 128)
//   auto seq = std::make_shared<LSTM>(64, RnnOptions{.return_sequences = true, .bidirectional = true});
//   Tensor y = (*seq)(x);                                                      // (B, T, F) -> (B, T, 128)
//   RnnResult r = lstm->call(x, mask);                                         // output, h_n, c_n, Keras states
//
// Input is batch-first (B, T, features); the feature size is taken from the first input (lazy building).
// Parameters, per layer l and direction (suffix "_reverse" for the backward one), as torch.nn.LSTM / GRU:
// weight_ih_l{l} (G*units, in), weight_hh_l{l} (G*units, units), bias_ih_l{l}, bias_hh_l{l} (G*units), with
// G = 4 (LSTM gates i, f, g, o) or 3 (GRU r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))), in = the
// features for l = 0 and units * directions above. Initialised as PyTorch: U(-1/sqrt(units), 1/sqrt(units)).
// A state dict saved from torch.nn.LSTM(..., batch_first=True) loads as is, and the outputs match.
//
// Output: return_sequences ? (B, T, directions * units) : (B, directions * units), the last layer's final
// hidden state of each direction (Keras's last output; PyTorch's h[:, -1] for the forward direction).
// Masking (Keras semantics): a padded step carries the state unchanged and outputs zeros, so the final state
// is the one after each sequence's last real step (PyTorch's packed sequences, for post-padding). Give the
// mask to call() or as the second input of forward({x, mask}): (B, T) with 0 = padded (any dtype), or (B)
// int64/int32 lengths. mask_value folds Keras's Masking layer in: a step whose features all equal it is padded.
// Each (layer, direction) is one `lstm` / `gru` op: one autograd node over the whole sequence.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cairn/nn/module.h"

namespace cairn::nn {

struct RnnOptions {
  bool return_sequences = false;
  bool return_state = false;  // fills RnnResult::states (Keras's extra outputs); forward() returns the output only
  bool bidirectional = false;
  int64_t num_layers = 1;  // stacked layers, each feeding the next its full sequence
  double dropout = 0.0;    // on the outputs of every layer but the last, in training mode (PyTorch's dropout=)
  bool use_bias = true;
  std::optional<double> mask_value{};
  std::optional<Shape> input_shape{};  // (T, features), batch excluded
  std::optional<uint64_t> seed{};
  std::string name{};
};

struct RnnResult {
  Tensor output;  // as forward()
  // PyTorch's final states: (num_layers * directions, B, units), layer-major, forward direction first.
  Tensor h_n;
  Tensor c_n;  // LSTM only
  // With return_state: Keras's states of the last layer, [h, c] (LSTM) or [h] (GRU) per direction, forward
  // first; each (B, units).
  std::vector<Tensor> states;
};

// LSTM and GRU share everything but the cell: this base holds the options, parameters and stacking.
class RecurrentLayer : public Module {
 public:
  // x (B, T, F) -> the output described above.
  Tensor forward(const Tensor& x) override;
  // {x} or {x, mask}: mask (B, T) (0 = padded) or lengths (B).
  Tensor forward(const std::vector<Tensor>& xs) override;
  // The full result. mask: undefined, (B, T) or lengths (B) as above. initial_state: empty, or {h0} (GRU) /
  // {h0, c0} (LSTM), each (num_layers * directions, B, units) (or (B, units) for one layer and direction).
  RnnResult call(const Tensor& x, const Tensor& mask = Tensor(), const std::vector<Tensor>& initial_state = {});

  std::string input_spec() const override;
  std::string extra_repr() const override;
  int64_t units() const { return units_; }
  int64_t input_size() const { return input_size_; }  // -1 until built
  int64_t directions() const { return opt_.bidirectional ? 2 : 1; }
  const RnnOptions& options() const { return opt_; }

 protected:
  RecurrentLayer(std::string type_name, int64_t gates, int64_t units, RnnOptions options);
  Shape build_impl(const Shape& input_shape) override;

 private:
  struct Weights {
    Tensor w_ih, w_hh, b_ih, b_hh;
  };
  Tensor mask_from(const Tensor& x, const Tensor& mask_or_lengths) const;

  int64_t gates_;  // 4 (LSTM) or 3 (GRU)
  int64_t units_;
  int64_t input_size_ = -1;
  RnnOptions opt_;
  std::vector<Weights> weights_;  // [layer * directions + direction]
};

class LSTM : public RecurrentLayer {
 public:
  explicit LSTM(int64_t units, RnnOptions options = {});
};

class GRU : public RecurrentLayer {
 public:
  explicit GRU(int64_t units, RnnOptions options = {});
};

}  // namespace cairn::nn
