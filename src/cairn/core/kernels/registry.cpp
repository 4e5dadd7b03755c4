#include "cairn/core/kernels/registry.h"

#include <map>
#include <mutex>

namespace cairn::kernels {

void register_cpu_kernels();  // kernels/cpu/register.cpp

namespace {
std::map<std::string, std::unique_ptr<KernelTableBase>, std::less<>>& tables() {
  static auto* m = new std::map<std::string, std::unique_ptr<KernelTableBase>, std::less<>>();
  return *m;
}
std::recursive_mutex& mu() {
  static std::recursive_mutex m;
  return m;
}
}  // namespace

void ensure_builtin_kernels() {
  static std::once_flag once;
  std::call_once(once, [] { register_cpu_kernels(); });
}

KernelTableBase* find_table(std::string_view op) {
  std::lock_guard<std::recursive_mutex> lock(mu());
  auto it = tables().find(op);
  return it == tables().end() ? nullptr : it->second.get();
}

void add_table(std::unique_ptr<KernelTableBase> t) {
  std::lock_guard<std::recursive_mutex> lock(mu());
  std::string name = t->op();
  tables().emplace(std::move(name), std::move(t));
}

std::vector<std::string> registered_kernels() {
  ensure_builtin_kernels();
  std::lock_guard<std::recursive_mutex> lock(mu());
  std::vector<std::string> out;
  for (auto& [name, t] : tables())
    for (int d = 0; d < kNumDeviceTypes; ++d)
      for (int k = 0; k < kNumDTypes; ++k)
        if (t->has(static_cast<DeviceType>(d), static_cast<DType>(k)))
          out.push_back(name + "/" + device_name(static_cast<DeviceType>(d)) + "/" + dtype_name(static_cast<DType>(k)));
  return out;
}

}  // namespace cairn::kernels
