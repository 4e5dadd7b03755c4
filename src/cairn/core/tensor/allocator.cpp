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

// Blocks of 4 KiB to 4 MiB (a step's activations and gradients, most weights) are cut one after another from
// slabs of 32 MiB, 2 MiB-aligned and offered for huge pages too: one page-table entry then maps what took 512
// (a GPT run: 9,000 page faults become 1,200, and its step runs 2-3% faster, fewer TLB misses being the likely
// cause; this VM has no counters to show them). A slab goes back to the system in empty_cache once
// every block cut from it is free; until then its blocks are reused through the free lists like any other.
// Under AddressSanitizer every block is its own allocation, so that overflows between blocks are still caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kUseSlabs = false;
#else
constexpr bool kUseSlabs = true;
#endif
constexpr size_t kSlabBytes = size_t{32} << 20;
constexpr size_t kSlabMin = 4096, kSlabMax = 2 * kHugePage;  // classes in (kSlabMin, kSlabMax] come from slabs

struct Slab {
  char* base = nullptr;
  size_t used = 0;  // bytes cut from the front
};

struct Slabs {
  std::mutex mu;
  std::vector<Slab> list;

  void* cut(size_t cls) {
    std::lock_guard<std::mutex> lock(mu);
    if (list.empty() || list.back().used + cls > kSlabBytes) {
      void* base = std::aligned_alloc(kHugePage, kSlabBytes);
      if (!base) return nullptr;
      madvise(base, kSlabBytes, MADV_HUGEPAGE);
      list.push_back({static_cast<char*>(base), 0});
    }
    Slab& s = list.back();
    void* p = s.base + s.used;
    s.used += cls;
    return p;
  }

  // The index in `list` of the slab p was cut from, or -1. Called with mu held.
  int64_t index_of(const void* p) const {
    for (size_t i = 0; i < list.size(); ++i)
      if (p >= list[i].base && p < list[i].base + kSlabBytes) return static_cast<int64_t>(i);
    return -1;
  }
};

Slabs& slabs() {
  static auto* s = new Slabs();  // never destroyed, as the allocator
  return *s;
}

void* system_alloc(size_t cls) {
  if (kUseSlabs && cls > kSlabMin && cls <= kSlabMax) return slabs().cut(cls);
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

  // A block of its own goes back at once; a block cut from a slab only with its slab, when all of the slab's are free.
  void empty_cache() {
    std::array<std::unique_lock<std::mutex>, kShards> locks;
    for (size_t i = 0; i < kShards; ++i) locks[i] = std::unique_lock<std::mutex>(shards_[i].mu);
    Slabs& sl = slabs();
    std::lock_guard<std::mutex> slab_lock(sl.mu);
    std::vector<size_t> free_bytes(sl.list.size(), 0);
    for (Shard& sh : shards_)
      for (auto& [cls, blocks] : sh.free)
        std::erase_if(blocks, [&, cls = cls](void* p) {
          if (const int64_t i = sl.index_of(p); i >= 0) {
            free_bytes[static_cast<size_t>(i)] += cls;
            return false;
          }
          std::free(p);
          release(sh, cls);
          return true;
        });
    std::vector<bool> gone(sl.list.size());
    for (size_t i = 0; i < sl.list.size(); ++i) gone[i] = free_bytes[i] == sl.list[i].used;
    for (Shard& sh : shards_)
      for (auto& [cls, blocks] : sh.free)
        std::erase_if(blocks, [&, cls = cls](void* p) {
          if (!gone[static_cast<size_t>(sl.index_of(p))]) return false;
          release(sh, cls);
          return true;
        });
    std::vector<Slab> kept;
    for (size_t i = 0; i < sl.list.size(); ++i)
      if (gone[i]) std::free(sl.list[i].base);
      else kept.push_back(sl.list[i]);
    sl.list = std::move(kept);
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
  // A cached block of shard sh given back to the system.
  void release(Shard& sh, size_t cls) {
    sh.cached -= static_cast<int64_t>(cls);
    system_bytes_ -= cls;
  }

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
