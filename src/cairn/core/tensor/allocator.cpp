#include "cairn/core/tensor/allocator.h"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <atomic>
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

// Free lists are sharded by OpenMP thread: the parts of a data-parallel step (train/data_parallel.h) allocate and
// free at once on two threads, and one shared list made them wait on its lock and take each other's blocks, whose
// lines then moved between the cores' caches. A thread takes from its own shard first and from the others only
// when its own has no block of the size, so memory is still reused whichever thread freed it.
class CachingCpuAllocator final : public Allocator {
 public:
  void* allocate(size_t nbytes) override {
    const size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
    const size_t home = shard_index();
    for (size_t i = 0; i < kShards; ++i) {
      Shard& sh = shards_[(home + i) % kShards];
      std::lock_guard<std::mutex> lock(sh.mu);
      auto it = sh.free.find(cls);
      if (it != sh.free.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        sh.cached_hits++;
        sh.cached -= static_cast<int64_t>(cls);
        sh.in_use += static_cast<int64_t>(cls);
        return p;
      }
    }
    void* p = system_alloc(cls);
    if (!p) {
      cpu_allocator_empty_cache();
      p = system_alloc(cls);
    }
    if (!p) throw Error(detail::cat("out of memory: could not allocate ", cls, " bytes for a tensor"));
    std::lock_guard<std::mutex> lock(shards_[home].mu);
    shards_[home].system_allocs++;
    shards_[home].in_use += static_cast<int64_t>(cls);
    const size_t now = system_bytes_ += cls;
    size_t peak = peak_bytes_.load();
    while (now > peak && !peak_bytes_.compare_exchange_weak(peak, now)) {
    }
    return p;
  }

  void deallocate(void* p, size_t nbytes) override {
    if (!p) return;
    const size_t cls = size_class(nbytes == 0 ? 1 : nbytes);
    Shard& sh = shards_[shard_index()];
    std::lock_guard<std::mutex> lock(sh.mu);
    sh.free[cls].push_back(p);
    sh.in_use -= static_cast<int64_t>(cls);
    sh.cached += static_cast<int64_t>(cls);
  }

  void empty_cache() {
    for (Shard& sh : shards_) {
      std::lock_guard<std::mutex> lock(sh.mu);
      for (auto& [cls, v] : sh.free) {
        for (void* p : v) std::free(p);
        system_bytes_ -= cls * v.size();
      }
      sh.free.clear();
      sh.cached = 0;
    }
  }

  AllocatorStats stats() {
    AllocatorStats st;
    int64_t in_use = 0, cached = 0;
    for (Shard& sh : shards_) {
      std::lock_guard<std::mutex> lock(sh.mu);
      st.system_allocs += sh.system_allocs;
      st.cached_hits += sh.cached_hits;
      in_use += sh.in_use;
      cached += sh.cached;
    }
    st.bytes_in_use = static_cast<size_t>(in_use);
    st.bytes_cached = static_cast<size_t>(cached);
    st.peak_bytes = peak_bytes_;
    return st;
  }

 private:
  static constexpr size_t kShards = 4;
  static size_t shard_index() { return static_cast<size_t>(omp_get_thread_num()) % kShards; }

  struct Shard {
    std::mutex mu;
    std::unordered_map<size_t, std::vector<void*>> free;
    uint64_t system_allocs = 0, cached_hits = 0;
    int64_t in_use = 0, cached = 0;  // a block freed on another shard than it came from moves bytes between them
  };
  std::array<Shard, kShards> shards_;
  std::atomic<size_t> system_bytes_{0};  // in use + cached: changes only when blocks come from or go to the system
  std::atomic<size_t> peak_bytes_{0};
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
