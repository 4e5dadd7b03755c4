// The kernel registry, keyed by (op, device, dtype). Ops look their kernel up here instead of branching on
// the backend, so a GPU backend registers its kernels under DeviceType::CUDA without touching op code.
//
//   static auto& k = kernels::table<kernels::UnaryKernel>("exp");   // once per call site
//   k.get(x.device(), x.dtype())(x, out, {});
#pragma once
#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "cairn/core/tensor/dtype.h"
#include "cairn/core/tensor/error.h"

namespace cairn::kernels {

class KernelTableBase {
 public:
  explicit KernelTableBase(std::string op) : op_(std::move(op)) {}
  virtual ~KernelTableBase() = default;
  virtual const std::type_info& signature() const = 0;
  const std::string& op() const { return op_; }
  bool has(DeviceType d, DType t) const { return present_[idx(d, t)]; }

 protected:
  static size_t idx(DeviceType d, DType t) { return static_cast<size_t>(d) * kNumDTypes + static_cast<size_t>(t); }
  std::string op_;
  std::array<bool, kNumDeviceTypes * kNumDTypes> present_{};
};

template <class Fn>
class KernelTable final : public KernelTableBase {
 public:
  using KernelTableBase::KernelTableBase;
  const std::type_info& signature() const override { return typeid(Fn); }
  void set(DeviceType d, DType t, Fn fn) {
    fns_[idx(d, t)] = fn;
    present_[idx(d, t)] = true;
  }
  Fn get(DeviceType d, DType t) const {
    if (!present_[idx(d, t)]) missing(d, t);
    return fns_[idx(d, t)];
  }

 private:
  [[noreturn]] void missing(DeviceType d, DType t) const {
    throw DTypeError(detail::cat(op_, ": no kernel for dtype ", dtype_name(t), " on ", device_name(d),
                                 "; convert the input with .to(cairn::DType::f32) (or f64)"));
  }
  std::array<Fn, kNumDeviceTypes * kNumDTypes> fns_{};
};

// Registers the built-in kernels once (called by table()).
void ensure_builtin_kernels();
KernelTableBase* find_table(std::string_view op);
void add_table(std::unique_ptr<KernelTableBase> t);
// "op/device/dtype" for every registered kernel (for `cairn info` and tests).
std::vector<std::string> registered_kernels();

// The table for `op`, created on first use, for registering kernels. Throws if `op` was created with another
// signature.
template <class Fn>
KernelTable<Fn>& registry_table(std::string_view op) {
  KernelTableBase* t = find_table(op);
  if (!t) {
    auto fresh = std::make_unique<KernelTable<Fn>>(std::string(op));
    t = fresh.get();
    add_table(std::move(fresh));
  }
  CAIRN_CHECK(t->signature() == typeid(Fn), Error, "kernel table '", op, "' used with two different signatures");
  return static_cast<KernelTable<Fn>&>(*t);
}

// The table for `op`, for looking kernels up (registers the built-in kernels first).
template <class Fn>
KernelTable<Fn>& table(std::string_view op) {
  ensure_builtin_kernels();
  return registry_table<Fn>(op);
}

}  // namespace cairn::kernels
