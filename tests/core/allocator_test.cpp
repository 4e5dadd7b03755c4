// The caching CPU allocator (core/tensor/allocator.h): alignment, no overlap between live blocks, reuse, and
// empty_cache giving slabs back only when every block cut from them is free.
#include "cairn/core/tensor/allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "cairn/core/ops/ops.h"
#include "cairn/core/tensor/tensor.h"

namespace cairn {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// Large blocks are 2 MiB-aligned (offered to the kernel for transparent huge pages); small ones 64-byte aligned.
TEST(Allocator, LargeBlocksAreHugePageAligned) {
  Tensor big = Tensor::empty({3 << 20}, DType::f32);  // 12 MiB
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.raw_data()) % (uintptr_t{2} << 20), 0u);
  Tensor small = Tensor::empty({1000}, DType::f32);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.raw_data()) % 64, 0u);
  big.fill_(1.0);
  EXPECT_EQ(sum(big).item(), static_cast<double>(3 << 20));
}

TEST(Allocator, BlocksAreAlignedAndDoNotOverlap) {
  Allocator& a = cpu_allocator();
  const std::vector<size_t> sizes = {1, 100, 4096, 4097, 6000, 65536, 300000, kMiB, 4 * kMiB, 6 * kMiB};
  std::vector<std::pair<unsigned char*, size_t>> blocks;
  for (int round = 0; round < 3; ++round)
    for (size_t n : sizes) {
      auto* p = static_cast<unsigned char*>(a.allocate(n));
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << n << " bytes";
      std::memset(p, static_cast<int>(blocks.size() % 251), n);
      blocks.emplace_back(p, n);
    }
  for (size_t i = 0; i < blocks.size(); ++i)
    for (size_t j = 0; j < blocks[i].second; j += 997)
      ASSERT_EQ(blocks[i].first[j], static_cast<unsigned char>(i % 251)) << "block " << i << " was overwritten";
  for (auto [p, n] : blocks) a.deallocate(p, n);
}

TEST(Allocator, FreedBlocksAreReused) {
  Allocator& a = cpu_allocator();
  void* p = a.allocate(100000);
  a.deallocate(p, 100000);
  const AllocatorStats before = cpu_allocator_stats();
  void* q = a.allocate(100000);
  const AllocatorStats after = cpu_allocator_stats();
  EXPECT_EQ(after.system_allocs, before.system_allocs);
  EXPECT_EQ(after.cached_hits, before.cached_hits + 1);
  a.deallocate(q, 100000);
}

TEST(Allocator, EmptyCacheGivesBackWholeSlabsAndKeepsLiveBlocks) {
  Allocator& a = cpu_allocator();
  // A live block, then 64 MiB of blocks in the slab size range: at least one slab holds only those.
  auto* live = static_cast<unsigned char*>(a.allocate(65536));
  std::memset(live, 0x5a, 65536);
  std::vector<void*> freed;
  for (int i = 0; i < 16; ++i) freed.push_back(a.allocate(4 * kMiB));
  for (void* p : freed) a.deallocate(p, 4 * kMiB);
  const AllocatorStats full = cpu_allocator_stats();
  cpu_allocator_empty_cache();
  const AllocatorStats emptied = cpu_allocator_stats();
  EXPECT_LE(emptied.bytes_cached + 32 * kMiB, full.bytes_cached) << "no slab was given back";
  EXPECT_EQ(emptied.bytes_in_use, full.bytes_in_use);
  // The live block's slab was kept: new blocks do not land on it.
  std::vector<void*> again;
  for (int i = 0; i < 16; ++i) {
    again.push_back(a.allocate(4 * kMiB));
    std::memset(again.back(), 0xff, 4 * kMiB);
  }
  for (size_t j = 0; j < 65536; ++j) ASSERT_EQ(live[j], 0x5a) << "byte " << j << " of a live block changed";
  for (void* p : again) a.deallocate(p, 4 * kMiB);
  a.deallocate(live, 65536);
}

}  // namespace
}  // namespace cairn
