#include "cairn/core/tensor/allocator.h"

#include <sys/mman.h>

#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cairn/core/tensor/error.h"

namespace cairn {
namespace {

// Size classes: small requests round up to 64 bytes, larger ones to a quarter of their power of two, so
// a cached block wastes at most 25% and repeated shapes always hit the same class.
size_t size_class(size_t n) {
  if (n <= 4096) return (n + 63) & ~size_t(63);
  size_t p = 1;
  while (p < n) p <<= 1;
  size_t q = p / 4;
  return (n + q - 1) / q * q;
}

// Blocks above 4 MiB (their size classes are multiples of 2 MiB) are 2 MiB-aligned and offered to the kernel for
// transparent huge pages: a data set gathered at random rows, or a large weight, then costs a fraction of the TLB
// misses. Only a hint: without THP ("never") they are ordinary pages.
constexpr size_t kHugePage = size_t{2} << 20;

void* system_alloc(size_t cls) {
  if (cls <= 2 * kHugePage) return std::aligned_alloc(64, cls);
  void* p = std::aligned_alloc(kHugePage, cls);
  if (p) madvise(p, cls, MADV_HUGEPAGE);
  return p;
}

class CachingCpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(cls);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_hits++;
        stats_.bytes_cached -= cls;
        stats_.bytes_in_use += cls;
        return p;
      }
      stats_.system_allocs++;
      stats_.bytes_in_use += cls;
      stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes_in_use + stats_.bytes_cached);
    }
    void* p = system_alloc(cls);
    if (!p) {
      cpu_allocator_empty_cache();
      p = system_alloc(cls);
    }
    if (!p) {
      std::lock_guard<std::mutex> lock(mu_);
      stats_.bytes_in_use -= cls;
      throw Error(detail::cat("out of memory: could not allocate ", cls, " bytes for a tensor"));
    }
    return p;
  }

  void deallocate(void* p, size_t nbytes) override {
    if (!p) return;
    size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    free_[cls].push_back(p);
    stats_.bytes_in_use -= cls;
    stats_.bytes_cached += cls;
  }

  void empty_cache() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [cls, v] : free_)
      for (void* p : v) std::free(p);
    free_.clear();
    stats_.bytes_cached = 0;
  }

  AllocatorStats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

 private:
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

CachingCpuAllocator& instance() {
  // Never destroyed: tensors in static storage may be freed after main returns.
  static auto* a = new CachingCpuAllocator();
  return *a;
}

}  // namespace

Allocator& cpu_allocator() { return instance(); }
AllocatorStats cpu_allocator_stats() { return instance().stats(); }
void cpu_allocator_empty_cache() { instance().empty_cache(); }

}  // namespace cairn
