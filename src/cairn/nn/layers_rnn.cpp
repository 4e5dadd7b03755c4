#include "cairn/nn/layers_rnn.h"

#include <cmath>
#include <sstream>

#include "cairn/core/autograd/autograd.h"
#include "cairn/core/ops/ops.h"
#include "cairn/core/ops/rnn.h"
#include "cairn/nn/init.h"

namespace cairn::nn {

RecurrentLayer::RecurrentLayer(std::string type_name, int64_t gates, int64_t units, RnnOptions options)
    : Module(std::move(type_name)), gates_(gates), units_(units), opt_(std::move(options)) {
  configure(opt_.name, opt_.seed, opt_.input_shape);
  CAIRN_CHECK(units > 0, ValueError, where(), ": units must be positive, got ", units);
  CAIRN_CHECK(opt_.num_layers >= 1, ValueError, where(), ": num_layers must be at least 1, got ", opt_.num_layers);
  CAIRN_CHECK(opt_.dropout >= 0 && opt_.dropout < 1, ValueError, where(), ": dropout must be in [0, 1), got ",
              opt_.dropout);
  built_ = false;
  build_declared();
}

LSTM::LSTM(int64_t units, RnnOptions options) : RecurrentLayer("LSTM", 4, units, std::move(options)) {}
GRU::GRU(int64_t units, RnnOptions options) : RecurrentLayer("GRU", 3, units, std::move(options)) {}

std::string RecurrentLayer::input_spec() const {
  return "[N, T, " + (input_size_ < 0 ? std::string("features") : std::to_string(input_size_)) + "]";
}

std::string RecurrentLayer::extra_repr() const {
  std::ostringstream os;
  os << input_size_ << ", " << units_ << ", num_layers=" << opt_.num_layers
     << ", bidirectional=" << (opt_.bidirectional ? "true" : "false")
     << ", return_sequences=" << (opt_.return_sequences ? "true" : "false");
  if (opt_.dropout > 0) os << ", dropout=" << opt_.dropout;
  if (!opt_.use_bias) os << ", use_bias=false";
  return os.str();
}

Shape RecurrentLayer::build_impl(const Shape& in) {
  if (in.size() != 3)
    throw_bad_input(in, detail::cat("a recurrent layer needs a rank-3 input (batch, time, features), got rank ",
                                    in.size(), "; an Embedding before it or a Reshape to (time, features) gives one"));
  const int64_t f = in[2];
  if (!built_) {
    if (f <= 0) throw_bad_input(in, "the last (feature) dimension must be known to create the weights");
    input_size_ = f;
    const int64_t D = directions(), H = units_, GH = gates_ * H;
    const Fans fans{H, H};  // torch: every weight and bias U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))
    Generator& g = layer_generator();
    for (int64_t l = 0; l < opt_.num_layers; ++l)
      for (int64_t d = 0; d < D; ++d) {
        const std::string sfx = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
        const int64_t in_l = l == 0 ? f : H * D;
        Weights w;
        w.w_ih = register_parameter("weight_ih" + sfx, Tensor::empty({GH, in_l}, dtype()));
        w.w_hh = register_parameter("weight_hh" + sfx, Tensor::empty({GH, H}, dtype()));
        initialize(w.w_ih, "torch_default", fans, g);
        initialize(w.w_hh, "torch_default", fans, g);
        if (opt_.use_bias) {
          w.b_ih = register_parameter("bias_ih" + sfx, Tensor::empty({GH}, dtype()));
          w.b_hh = register_parameter("bias_hh" + sfx, Tensor::empty({GH}, dtype()));
          initialize(w.b_ih, "torch_default", fans, g);
          initialize(w.b_hh, "torch_default", fans, g);
        }
        weights_.push_back(w);
      }
    built_ = true;
  } else if (f != input_size_ && f != -1) {
    throw_bad_input(in, detail::cat("the last dimension is ", f, " but the weights were built for ", input_size_,
                                    " input features"));
  }
  const int64_t out = directions() * units_;
  return opt_.return_sequences ? Shape{in[0], in[1], out} : Shape{in[0], out};
}

// (B, T) uint8 with 1 = real step, from a (B, T) mask of any dtype, (B) lengths, or mask_value; undefined when
// no step is masked by any of them.
Tensor RecurrentLayer::mask_from(const Tensor& x, const Tensor& m) const {
  const int64_t B = x.shape()[0], T = x.shape()[1], F = x.shape()[2];
  Tensor mask;
  if (m.defined()) {
    if (m.dim() == 1) {
      CAIRN_CHECK(m.dtype() == DType::i64 || m.dtype() == DType::i32, DTypeError, where(),
                  ": sequence lengths must be int64 or int32, got ", dtype_name(m.dtype()));
      CAIRN_CHECK(m.shape()[0] == B, ShapeError, where(), ": ", m.shape()[0], " sequence lengths for a batch of ", B,
                  " (input ", shape_str(x.shape()), ")");
      Tensor len = m.to(DType::i64).contiguous();
      std::vector<uint8_t> v(static_cast<size_t>(B * T));
      for (int64_t b = 0; b < B; ++b) {
        const int64_t L = len.data<int64_t>()[b];
        CAIRN_CHECK(L >= 0 && L <= T, ValueError, where(), ": sequence length ", L, " of row ", b,
                    " is outside [0, ", T, "] (input ", shape_str(x.shape()), ")");
        for (int64_t t = 0; t < T; ++t) v[b * T + t] = t < L;
      }
      mask = from_vector<uint8_t>(v, {B, T});
    } else {
      CAIRN_CHECK(m.shape() == Shape({B, T}), ShapeError, where(), ": mask of shape ", shape_str(m.shape()),
                  " does not fit input ", shape_str(x.shape()), "; expected (batch, time) = ", shape_str(Shape{B, T}));
      mask = m.dtype() == DType::u8 ? m.contiguous() : ne(m, zeros_like(m));
    }
  }
  if (opt_.mask_value) {
    Tensor xc = x.detach().to(DType::f64).contiguous();
    const double* p = xc.data<double>();
    std::vector<uint8_t> v(static_cast<size_t>(B * T));
    for (int64_t i = 0; i < B * T; ++i) {
      bool real = false;
      for (int64_t k = 0; k < F && !real; ++k) real = p[i * F + k] != *opt_.mask_value;
      v[i] = real;
    }
    Tensor mv = from_vector<uint8_t>(v, {B, T});
    mask = mask.defined() ? mul(mask, mv) : mv;
  }
  return mask;
}

RnnResult RecurrentLayer::call(const Tensor& x, const Tensor& mask_in, const std::vector<Tensor>& initial_state) {
  build(x.shape());
  check_input_dtype(x);
  const int64_t B = x.shape()[0], D = directions(), L = opt_.num_layers, H = units_;
  const bool lstm_cell = gates_ == 4;
  Tensor mask = mask_from(x, mask_in);

  // Initial states, (L * D, B, H) each.
  const size_t want_states = lstm_cell ? 2 : 1;
  CAIRN_CHECK(initial_state.empty() || initial_state.size() == want_states, ValueError, where(),
              ": initial_state takes ", want_states, lstm_cell ? " tensors (h0, c0)" : " tensor (h0)", ", got ",
              initial_state.size());
  std::vector<Tensor> init;
  for (const Tensor& s : initial_state) {
    Tensor t = s;
    if (t.dim() == 2 && L * D == 1) t = unsqueeze(t, 0);
    CAIRN_CHECK(t.shape() == Shape({L * D, B, H}), ShapeError, where(), ": initial state of shape ",
                shape_str(s.shape()), " does not fit; expected (num_layers * directions, batch, units) = ",
                shape_str(Shape{L * D, B, H}));
    init.push_back(t);
  }

  RnnResult res;
  std::vector<Tensor> hs, cs;
  Tensor seq = x;
  for (int64_t l = 0; l < L; ++l) {
    std::vector<Tensor> ys;
    for (int64_t d = 0; d < D; ++d) {
      const Weights& w = weights_[l * D + d];
      const int64_t k = l * D + d;
      Tensor h0 = init.empty() ? Tensor() : select(init[0], 0, k);
      RnnSequence r;
      if (lstm_cell) {
        Tensor c0 = init.empty() ? Tensor() : select(init[1], 0, k);
        r = lstm(seq, w.w_ih, w.w_hh, w.b_ih, w.b_hh, h0, c0, mask, d == 1);
        cs.push_back(r.c_n);
      } else {
        r = gru(seq, w.w_ih, w.w_hh, w.b_ih, w.b_hh, h0, mask, d == 1);
      }
      hs.push_back(r.h_n);
      ys.push_back(r.y);
    }
    seq = D == 1 ? ys[0] : concat(ys, 2);
    if (l + 1 < L && opt_.dropout > 0) seq = dropout(seq, opt_.dropout, is_training(), &layer_generator());
  }
  if (opt_.return_sequences) {
    res.output = seq;
  } else {
    std::vector<Tensor> last(hs.end() - D, hs.end());
    res.output = D == 1 ? last[0] : concat(last, 1);
  }
  res.h_n = stack(hs, 0);
  if (lstm_cell) res.c_n = stack(cs, 0);
  if (opt_.return_state)
    for (int64_t d = 0; d < D; ++d) {
      res.states.push_back(hs[(L - 1) * D + d]);
      if (lstm_cell) res.states.push_back(cs[(L - 1) * D + d]);
    }
  return res;
}

Tensor RecurrentLayer::forward(const Tensor& x) { return call(x).output; }

Tensor RecurrentLayer::forward(const std::vector<Tensor>& xs) {
  CAIRN_CHECK(xs.size() == 1 || xs.size() == 2, ValueError, where(), " takes {x} or {x, mask}, got ", xs.size(),
              " inputs");
  return call(xs[0], xs.size() == 2 ? xs[1] : Tensor()).output;
}

}  // namespace cairn::nn
