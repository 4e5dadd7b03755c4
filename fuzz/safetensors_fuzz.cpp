// libFuzzer target for the safetensors reader (and, on inputs it accepts, the writer).
// Contract under test: any byte string either parses into views that lie inside the buffer and
// agree with their dtype and shape, or throws SafetensorsError. Anything else (a crash, a sanitizer
// report, another exception type, a broken invariant) is a bug.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "cairn/io/safetensors.h"

using cairn::io::SafetensorsError;
using cairn::io::SafetensorsReader;
using cairn::io::SafetensorsWriter;

static void require(bool ok) {
  if (!ok) __builtin_trap();
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  std::optional<SafetensorsReader> reader;
  try {
    reader.emplace(SafetensorsReader::from_bytes(bytes, "fuzz-input"));
  } catch (const SafetensorsError&) {
    return 0;
  }

  // Accepted: every view must be in bounds (ASan checks the reads) and consistent.
  SafetensorsWriter writer;
  std::uint64_t total = reader->data_start();
  unsigned checksum = 0;
  for (const auto& name : reader->names()) {
    const auto v = reader->get(name);
    const auto elem = cairn::io::safetensors_dtype_size(v.dtype);
    require(elem.has_value());
    require(v.data.size() == static_cast<std::size_t>(v.numel()) * *elem);
    for (const std::byte b : v.data) checksum += static_cast<unsigned>(b);
    total += v.data.size();
    writer.add_view(v.name, v.dtype, v.shape, v.data);  // names came through JSON: valid UTF-8
  }
  require(total == reader->file_size());  // the tensors tile the data section
  for (const auto& [k, v] : reader->metadata()) writer.set_metadata(k, v);

  // What we write must read back to the same tensors.
  const auto again = SafetensorsReader::from_bytes(writer.to_bytes(), "rewritten");
  require(again.names() == reader->names());
  require(again.metadata() == reader->metadata());
  for (const auto& name : reader->names()) {
    const auto a = reader->get(name), b = again.get(name);
    require(a.dtype == b.dtype && a.shape == b.shape && a.data.size() == b.data.size());
    require(a.data.empty() || std::memcmp(a.data.data(), b.data.data(), a.data.size()) == 0);
  }
  return static_cast<int>(checksum & 0);
}
