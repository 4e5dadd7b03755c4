// oneDNN (libdnnl, C++ API) convolutions for float32. oneDNN's JIT kernels want blocked layouts
// (nChw16c), so each call reorders the NCHW operands into the layouts the primitive chose and the result
// back; primitives, reorders and descriptors are built once per shape and cached. Only JIT
// implementations are used: when oneDNN would fall back to its gemm or reference code, the caller's
// im2col + OpenBLAS path is at least as fast, so these functions decline.
#include "cairn/core/kernels/cpu/conv_dnnl.h"

#ifndef CAIRN_HAVE_DNNL

namespace cairn::kernels::cpu {
bool dnnl_conv2d_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Conv2dGeometry&) {
  return false;
}
DnnlBackwardDone dnnl_conv2d_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                      const Tensor&, const Conv2dGeometry&) {
  return {};
}
}  // namespace cairn::kernels::cpu

#else

#include <array>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cairn/core/kernels/cpu/dnnl_util.h"

namespace cairn::kernels::cpu {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& engine() { return dnnl_engine(); }

// One operand: the caller's plain layout, the primitive's layout, and the reorder between them if they differ.
struct Port {
  memory::desc user, prim;
  bool same = true;
  dnnl::reorder convert;

  Port() = default;
  Port(const memory::desc& u, const memory::desc& p, bool input) : user(u), prim(p), same(u == p) {
    if (!same) convert = input ? dnnl::reorder(dnnl::reorder::primitive_desc(engine(), user, engine(), prim))
                               : dnnl::reorder(dnnl::reorder::primitive_desc(engine(), prim, engine(), user));
  }
  // The operand in the primitive's layout (a reordered copy held in `keep` when the layouts differ).
  memory in(const void* data, dnnl::stream& s, std::vector<Tensor>& keep) const {
    memory u(user, engine(), const_cast<void*>(data));
    if (same) return u;
    keep.push_back(dnnl_scratch(prim.get_size()));
    memory m(prim, engine(), keep.back().raw_data());
    convert.execute(s, u, m);
    return m;
  }
  // Where the primitive writes; finish() moves it into `data`.
  memory out(void* data, std::vector<Tensor>& keep) const {
    if (same) return memory(user, engine(), data);
    keep.push_back(dnnl_scratch(prim.get_size()));
    return memory(prim, engine(), keep.back().raw_data());
  }
  void finish(memory m, void* data, dnnl::stream& s) const {
    if (same) return;
    memory u(user, engine(), data);
    convert.execute(s, m, u);
  }
};

memory::desc any_like(const memory::desc& d) { return memory::desc(d.dims(), dt::f32, tag::any); }

// Everything oneDNN needs for one (geometry, with bias) pair, built on first use of each direction.
struct Entry {
  memory::desc src, wei, bias, dst;  // plain layouts: nchw, (g)oihw, x, nchw
  memory::dims strides, dilates, pad_l, pad_r;
  bool with_bias = false;
  dnnl::primitive_attr attr, fwd_attr;  // fwd_attr: attr plus the fused relu, when asked for
  dnnl::convolution_forward::primitive_desc fwd_pd;
  bool fwd_pd_ok = false;

  std::once_flag fwd_once, bww_once, bwd_once;
  bool fwd_ok = false, bww_ok = false, bwd_ok = false;
  dnnl::convolution_forward fwd;
  Port fwd_src, fwd_wei, fwd_dst;
  dnnl::convolution_backward_weights bww;
  dnnl::convolution_backward_weights::primitive_desc bww_pd;
  Port bww_src, bww_ddst, bww_dwei;
  dnnl::convolution_backward_data bwd;
  dnnl::convolution_backward_data::primitive_desc bwd_pd;
  Port bwd_wei, bwd_ddst, bwd_dsrc;

  dnnl::algorithm alg = dnnl::algorithm::convolution_direct;

  Entry(const Conv2dGeometry& g, bool bias_flag, bool winograd) : with_bias(bias_flag) {
    src = memory::desc({g.N, g.C, g.H, g.W}, dt::f32, tag::nchw);
    dst = memory::desc({g.N, g.O, g.OH, g.OW}, dt::f32, tag::nchw);
    if (g.groups == 1) wei = memory::desc({g.O, g.C, g.KH, g.KW}, dt::f32, tag::oihw);
    else wei = memory::desc({g.groups, g.O / g.groups, g.C / g.groups, g.KH, g.KW}, dt::f32, tag::goihw);
    bias = memory::desc({g.O}, dt::f32, tag::x);
    strides = {g.stride_h, g.stride_w};
    dilates = {g.dil_h - 1, g.dil_w - 1};
    pad_l = {g.pad_top, g.pad_left};
    pad_r = {g.pad_bottom, g.pad_right};
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // scratch from Cairn's allocator, per call
    if (g.relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      fwd_attr = attr;
      fwd_attr.set_post_ops(ops);
    } else {
      fwd_attr = attr;
    }
    // Winograd when asked for and oneDNN has it for the shape, else direct.
    for (auto a : {dnnl::algorithm::convolution_winograd, dnnl::algorithm::convolution_direct}) {
      if (a == dnnl::algorithm::convolution_winograd && !winograd) continue;
      try {
        auto d = with_bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, a, any_like(src),
                                                             any_like(wei), bias, any_like(dst), strides, dilates,
                                                             pad_l, pad_r)
                           : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_training, a, any_like(src),
                                                             any_like(wei), any_like(dst), strides, dilates, pad_l,
                                                             pad_r);
        fwd_pd = dnnl::convolution_forward::primitive_desc(d, fwd_attr, engine());
        fwd_pd_ok = true;
        alg = a;
        return;
      } catch (const dnnl::error&) {
        fwd_pd_ok = false;
      }
    }
  }

  void build_fwd() {
    if (!fwd_pd_ok || !dnnl_is_jit(fwd_pd.impl_info_str())) return;
    fwd = dnnl::convolution_forward(fwd_pd);
    fwd_src = Port(src, fwd_pd.src_desc(), true);
    fwd_wei = Port(wei, fwd_pd.weights_desc(), true);
    fwd_dst = Port(dst, fwd_pd.dst_desc(), false);
    fwd_ok = true;
  }
  void build_bww() {
    if (!fwd_pd_ok) return;
    try {
      auto d = with_bias ? dnnl::convolution_backward_weights::desc(alg, any_like(src), any_like(wei), bias,
                                                                    any_like(dst), strides, dilates, pad_l, pad_r)
                         : dnnl::convolution_backward_weights::desc(alg, any_like(src), any_like(wei), any_like(dst),
                                                                    strides, dilates, pad_l, pad_r);
      bww_pd = dnnl::convolution_backward_weights::primitive_desc(d, attr, engine(), fwd_pd);
    } catch (const dnnl::error&) {
      return;
    }
    if (!dnnl_is_jit(bww_pd.impl_info_str())) return;
    bww = dnnl::convolution_backward_weights(bww_pd);
    bww_src = Port(src, bww_pd.src_desc(), true);
    bww_ddst = Port(dst, bww_pd.diff_dst_desc(), true);
    bww_dwei = Port(wei, bww_pd.diff_weights_desc(), false);
    bww_ok = true;
  }
  void build_bwd() {
    if (!fwd_pd_ok) return;
    try {
      // Direct even after a Winograd forward: oneDNN's Winograd input gradient measured slower (0.75 vs 0.68 ms).
      auto d = dnnl::convolution_backward_data::desc(dnnl::algorithm::convolution_direct, any_like(src),
                                                     any_like(wei), any_like(dst), strides, dilates, pad_l, pad_r);
      bwd_pd = dnnl::convolution_backward_data::primitive_desc(d, attr, engine(), fwd_pd);
    } catch (const dnnl::error&) {
      return;
    }
    if (!dnnl_is_jit(bwd_pd.impl_info_str())) return;
    bwd = dnnl::convolution_backward_data(bwd_pd);
    bwd_wei = Port(wei, bwd_pd.weights_desc(), true);
    bwd_ddst = Port(dst, bwd_pd.diff_dst_desc(), true);
    bwd_dsrc = Port(src, bwd_pd.diff_src_desc(), false);
    bwd_ok = true;
  }
};

using Key = std::array<int64_t, 21>;

// Winograd F(4x4, 3x3) (oneDNN's jit_wino_4x3) for the 3x3, stride-1 convolutions with 16+ input and output
// channels in multiples of 16, when Cairn picks the implementation: on the reference CNN's conv2 (32 -> 64 on
// 13x13, batch 32) forward 0.33 ms against 0.66 ms direct, and the two gradients ~5% faster. Its rounding differs
// from direct convolution's (the transforms add a few ulps; tests/core/conv_test.cpp bounds it).
bool winograd_for(const Conv2dGeometry& g) {
  return conv_impl() == ConvImpl::automatic && g.KH == 3 && g.KW == 3 && g.stride_h == 1 && g.stride_w == 1 &&
         g.dil_h == 1 && g.dil_w == 1 && g.groups == 1 && g.C >= 16 && g.O >= 16 && g.C % 16 == 0 && g.O % 16 == 0;
}

// The fused relu (g.relu) only changes the forward primitive; backward entries are keyed and built without it.
std::shared_ptr<Entry> entry_for(const Conv2dGeometry& g, bool with_bias) {
  const bool winograd = winograd_for(g);
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<Entry>> cache;
  const Key k = {g.N,       g.C,        g.H,          g.W,         g.O,     g.KH,    g.KW,     g.OH,     g.OW,
                 g.stride_h, g.stride_w, g.pad_top,    g.pad_left,  g.pad_bottom, g.pad_right, g.dil_h, g.dil_w,
                 g.groups,  with_bias,  g.relu,        winograd};
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(k);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 512) cache.clear();  // many input sizes (variable-size inference): start over
  auto e = std::make_shared<Entry>(g, with_bias, winograd);
  cache.emplace(k, e);
  return e;
}

Conv2dGeometry without_relu(Conv2dGeometry g) {
  g.relu = false;
  return g;
}

Tensor scratchpad_for(const dnnl::primitive_desc_base& pd) { return dnnl_scratch(pd.scratchpad_desc().get_size()); }

bool forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y, const Conv2dGeometry& g) {
  // x: (N, C, H, W), w: (O, C/G, KH, KW), bias: (O) -> y: (N, O, OH, OW) =
  auto e = entry_for(g, bias.defined());
  std::call_once(e->fwd_once, [&] { e->build_fwd(); });
  if (!e->fwd_ok) return false;
  dnnl::stream s(engine());
  std::vector<Tensor> keep;
  Tensor pad = scratchpad_for(e->fwd_pd);
  memory src = e->fwd_src.in(x.raw_data(), s, keep);
  memory wei = e->fwd_wei.in(w.raw_data(), s, keep);
  memory dst = e->fwd_dst.out(y.raw_data(), keep);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src},
                                          {DNNL_ARG_WEIGHTS, wei},
                                          {DNNL_ARG_DST, dst},
                                          {DNNL_ARG_SCRATCHPAD, memory(e->fwd_pd.scratchpad_desc(), engine(), pad.raw_data())}};
  if (bias.defined()) args[DNNL_ARG_BIAS] = memory(e->bias, engine(), bias.raw_data());
  e->fwd.execute(s, args);
  e->fwd_dst.finish(dst, y.raw_data(), s);
  s.wait();
  return true;
}

// The incoming gradient in a primitive's layout, kept so the weight and input gradients reorder it once.
struct ReorderedDiffDst {
  memory::desc desc;
  memory mem;
  std::vector<Tensor> keep;
  bool set = false;
};

bool backward_weights(const Tensor& gy, const Tensor& x, const Tensor& gw, const Tensor& gb, const Conv2dGeometry& g,
                      ReorderedDiffDst& rd) {
  // gy: (N, O, OH, OW), x: (N, C, H, W) -> gw (O, C/G, KH, KW) =, gb (O) =
  auto e = entry_for(without_relu(g), gb.defined());
  std::call_once(e->bww_once, [&] { e->build_bww(); });
  if (!e->bww_ok) return false;
  dnnl::stream s(engine());
  std::vector<Tensor> keep;
  Tensor pad = scratchpad_for(e->bww_pd);
  memory src = e->bww_src.in(x.raw_data(), s, keep);
  memory ddst = e->bww_ddst.in(gy.raw_data(), s, rd.keep);
  rd = {e->bww_ddst.prim, ddst, std::move(rd.keep), true};
  memory dwei = e->bww_dwei.out(gw.raw_data(), keep);
  std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src},
                                          {DNNL_ARG_DIFF_DST, ddst},
                                          {DNNL_ARG_DIFF_WEIGHTS, dwei},
                                          {DNNL_ARG_SCRATCHPAD, memory(e->bww_pd.scratchpad_desc(), engine(), pad.raw_data())}};
  if (gb.defined()) args[DNNL_ARG_DIFF_BIAS] = memory(e->bias, engine(), gb.raw_data());
  e->bww.execute(s, args);
  e->bww_dwei.finish(dwei, gw.raw_data(), s);
  s.wait();
  return true;
}

bool backward_data(const Tensor& gy, const Tensor& w, const Tensor& gx, const Conv2dGeometry& g,
                   const ReorderedDiffDst& rd) {
  // gy: (N, O, OH, OW), w: (O, C/G, KH, KW) -> gx (N, C, H, W) =
  auto e = entry_for(without_relu(g), false);
  std::call_once(e->bwd_once, [&] { e->build_bwd(); });
  if (!e->bwd_ok) return false;
  dnnl::stream s(engine());
  std::vector<Tensor> keep;
  Tensor pad = scratchpad_for(e->bwd_pd);
  memory wei = e->bwd_wei.in(w.raw_data(), s, keep);
  memory ddst = rd.set && rd.desc == e->bwd_ddst.prim ? rd.mem : e->bwd_ddst.in(gy.raw_data(), s, keep);
  memory dsrc = e->bwd_dsrc.out(gx.raw_data(), keep);
  e->bwd.execute(s, {{DNNL_ARG_WEIGHTS, wei},
                     {DNNL_ARG_DIFF_DST, ddst},
                     {DNNL_ARG_DIFF_SRC, dsrc},
                     {DNNL_ARG_SCRATCHPAD, memory(e->bwd_pd.scratchpad_desc(), engine(), pad.raw_data())}});
  e->bwd_dsrc.finish(dsrc, gx.raw_data(), s);
  s.wait();
  return true;
}

// oneDNN reports failures (out of memory, an unsupported case it accepted at creation) as dnnl::error; Cairn's
// callers expect cairn::Error naming the op and shapes.
template <class F>
bool guarded(const char* part, const Conv2dGeometry& g, const F& f) {
  try {
    return f();
  } catch (const dnnl::error& e) {
    throw Error(detail::cat("conv2d ", part, ": oneDNN failed for input [", g.N, ", ", g.C, ", ", g.H, ", ", g.W,
                            "] and weight [", g.O, ", ", g.C / g.groups, ", ", g.KH, ", ", g.KW, "]: ", e.what(),
                            " (dnnl status ", static_cast<int>(e.status), ")"));
  }
}

}  // namespace

bool dnnl_conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y,
                         const Conv2dGeometry& g) {
  return guarded("forward", g, [&] { return forward(x, w, bias, y, g); });
}
DnnlBackwardDone dnnl_conv2d_backward(const Tensor& gy, const Tensor& x, const Tensor& w, const Tensor& gx,
                                      const Tensor& gw, const Tensor& gb, const Conv2dGeometry& g) {
  DnnlBackwardDone done;
  ReorderedDiffDst rd;
  if (gw.defined()) done.weights = guarded("weight gradient", g, [&] { return backward_weights(gy, x, gw, gb, g, rd); });
  if (gx.defined()) done.data = guarded("input gradient", g, [&] { return backward_data(gy, w, gx, g, rd); });
  return done;
}

}  // namespace cairn::kernels::cpu

#endif  // CAIRN_HAVE_DNNL
