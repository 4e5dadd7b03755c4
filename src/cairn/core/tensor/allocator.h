// Memory for tensor storage. CPU blocks are 64-byte aligned and come from a caching allocator: a freed
// block goes back to a free list of its size class, so a training step that makes the same intermediates
// every time does not call malloc after the first steps. Blocks above 4 KiB sit on transparent huge pages where
// the kernel grants them (allocator.cpp). A GPU backend adds its own Allocator.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cairn/core/tensor/dtype.h"

namespace cairn {

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns at least `nbytes` bytes, 64-byte aligned. Throws cairn::Error when memory is exhausted.
  virtual void* allocate(size_t nbytes) = 0;
  // Returns a block obtained from allocate(nbytes) with the same nbytes.
  virtual void deallocate(void* p, size_t nbytes) = 0;
};

struct AllocatorStats {
  uint64_t system_allocs = 0;  // blocks obtained from the system (cache misses)
  uint64_t cached_hits = 0;    // requests served from the cache
  size_t bytes_in_use = 0;     // handed out and not yet returned
  size_t bytes_cached = 0;     // held in free lists
  size_t peak_bytes = 0;       // peak of in_use + cached
};

Allocator& cpu_allocator();
AllocatorStats cpu_allocator_stats();
// Returns cached (free) blocks to the system: each block of its own, and each slab of small blocks all of whose
// blocks are free.
void cpu_allocator_empty_cache();

}  // namespace cairn
