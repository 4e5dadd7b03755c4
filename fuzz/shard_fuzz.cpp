// libFuzzer target for token shards: the llm.c header parser and, on accepted inputs, window reads over the
// whole shard; also the headerless path. Contract: reads stay inside the buffer (ASan) or DataError.
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <stdexcept>
#include <vector>

#include "cairn/data/error.h"
#include "cairn/data/token_shard.h"

static void require(bool ok) {
  if (!ok) __builtin_trap();
}

static void exercise(const cairn::data::TokenShard& s, size_t size) {
  require(s.info().data_offset + s.size() * cairn::data::token_size(s.dtype()) == size);
  if (s.size() == 0) return;
  std::vector<int32_t> all(s.size());
  s.read(0, all);
  require(uint32_t(all.back()) == s[s.size() - 1]);
  std::mt19937_64 rng(size);
  size_t T = s.size() > 4 ? 4 : s.size() - 1;
  cairn::data::Array<int32_t> b = s.sample_windows(rng, 3, T);
  require(b.data.size() == 3 * (T + 1));
  try {
    (void)s.at(s.size());
    require(false);
  } catch (const std::out_of_range&) {
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  try {
    exercise(cairn::data::TokenShard::from_memory(bytes, "fuzz.bin"), size);
  } catch (const cairn::data::DataError&) {
  }
  try {
    exercise(cairn::data::TokenShard::from_memory_raw(bytes, size % 4 != 0 ? cairn::data::TokenDtype::U16
                                                                       : cairn::data::TokenDtype::U32, "fuzz.raw"),
             size);
  } catch (const cairn::data::DataError&) {
  }
  return 0;
}
