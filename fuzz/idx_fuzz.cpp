// libFuzzer target for the IDX reader (raw and gzip). Contract: any byte string either parses into an array whose
// payload size equals product(dims) * element size, or throws DataError. Anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "cairn/data/error.h"
#include "cairn/data/idx.h"

static void require(bool ok) {
  if (!ok) __builtin_trap();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cairn::data::IdxLimits limits;
  limits.max_payload_bytes = 64u << 20;  // keep the fuzzer under its memory limit
  try {
    cairn::data::IdxArray a = cairn::data::parse_idx(std::span<const uint8_t>(data, size), "fuzz.idx", limits);
    require(!a.shape.empty());
    require(a.bytes.size() == size_t(a.numel()) * cairn::data::idx_element_size(a.dtype));
    cairn::data::Array<float> f = a.to_float();
    require(f.data.size() == size_t(a.numel()));
  } catch (const cairn::data::DataError&) {
  }
  return 0;
}
