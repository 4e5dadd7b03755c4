// SGD with momentum, dampening, Nesterov and (coupled) weight decay: torch.optim.SGD, 1.13.
#include <cmath>

#include "cairn/optim/detail.h"
#include "cairn/optim/optimizers.h"

namespace cairn::optim {

namespace {

// p, g, buf: (n) -> p updated in place (=), buf assigned on the first step (=) then decayed (*=, +=).
// buf is null without momentum. As PyTorch, each line is one tensor op in T precision:
//   d = g.add(p, alpha=wd); buf = d.clone() | buf.mul_(m).add_(d, alpha=1-damp);
//   d = d.add(buf, alpha=m) (nesterov) | buf;  p.add_(d, alpha=-lr)
template <class T>
void sgd_update(T* p, const T* g, T* buf, int64_t b, int64_t e, double lr, double wd, double momentum,
                double dampening, bool nesterov, bool first) {
  const T neg_lr = static_cast<T>(-lr), twd = static_cast<T>(wd), m = static_cast<T>(momentum),
          keep = static_cast<T>(1.0 - dampening);
  for (int64_t i = b; i < e; ++i) {
    T d = g[i];
    if (wd != 0) d = d + twd * p[i];
    if (buf) {
      if (first) buf[i] = d;
      else buf[i] = buf[i] * m + keep * d;
      d = nesterov ? d + m * buf[i] : buf[i];
    }
    p[i] = p[i] + neg_lr * d;
  }
}

}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions opts)
    : Optimizer("SGD", opts.lr, opts.weight_decay), opts_(validated(opts)) {
  init_groups(std::move(groups));
}

SGDOptions SGD::validated(SGDOptions o) const {
  require(std::isfinite(o.momentum) && o.momentum >= 0, "momentum", ">= 0", o.momentum);
  require(std::isfinite(o.dampening), "dampening", "finite", o.dampening);
  CAIRN_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0), ValueError,
              "SGD: nesterov momentum requires momentum > 0 and dampening == 0, got momentum ", o.momentum,
              " and dampening ", o.dampening, "; set momentum (e.g. 0.9) or turn nesterov off");
  return o;
}

RangeUpdate SGD::update(const Tensor& param, const Tensor& grad, ParamState& st, const ParamGroup& group) {
  bool first = false;
  Tensor buf = opts_.momentum != 0 ? detail::state_buffer(st, "momentum_buffer", param, 0.0, &first) : Tensor();
  return [param, grad, buf, first, lr = *group.lr, wd = *group.weight_decay, o = opts_](int64_t b, int64_t e) {
    detail::dispatch(param.dtype(), [&](auto t) {
      using T = decltype(t);
      sgd_update<T>(param.data<T>(), grad.data<T>(), buf.defined() ? buf.data<T>() : nullptr, b, e, lr, wd,
                    o.momentum, o.dampening, o.nesterov, first);
    });
  };
}

std::map<std::string, double> SGD::options() const {
  return {{"momentum", opts_.momentum}, {"dampening", opts_.dampening}, {"nesterov", opts_.nesterov ? 1.0 : 0.0}};
}

void SGD::set_options(const std::map<std::string, double>& v) {
  SGDOptions o = opts_;
  o.momentum = v.at("momentum");
  o.dampening = v.at("dampening");
  o.nesterov = detail::as_bool(v.at("nesterov"));
  opts_ = validated(o);
}

}  // namespace cairn::optim
