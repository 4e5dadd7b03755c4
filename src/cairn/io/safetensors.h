// The Hugging Face safetensors format, read and written byte for byte as the reference
// implementation (github.com/huggingface/safetensors) does:
//
//   [8 bytes]  N, the header length, unsigned 64-bit little-endian
//   [N bytes]  UTF-8 JSON, padded with spaces so N is a multiple of 8:
//              {"__metadata__":{"k":"v"},
//               "fc.weight":{"dtype":"F32","shape":[10,20],"data_offsets":[0,800]}, ...}
//   [rest]     the tensors' raw little-endian bytes, row-major; data_offsets are relative to the
//              start of this section and the tensors tile it exactly: no holes, no overlap, no
//              trailing bytes.
//
// This layer knows bytes, dtype names and shapes only; the nn layer turns TensorViews into tensors.
//
//   cairn::io::SafetensorsWriter w;
//   w.set_metadata("format", "pt");
//   w.add("fc.weight", "F32", {10, 20}, std::as_bytes(std::span(weights)));  // copied
//   w.write("model.safetensors");                                            // atomic
//
//   cairn::io::SafetensorsReader r("model.safetensors");                      // mmap, no copy
//   cairn::io::TensorView v = r.get("fc.weight");   // v.dtype == "F32", v.shape == {10, 20}
//
// Files from the outside world are untrusted: every malformation (truncation, bad JSON, unknown
// dtype, sizes that do not match, overlapping or out-of-range offsets, duplicate names, absurd
// header length) throws SafetensorsError naming the file, the tensor or byte offset, and the fault.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/io/atomic_file.h"

namespace cairn::io {

class SafetensorsError : public IoError {
 public:
  using IoError::IoError;
};

// Headers longer than this are refused before anything is allocated, as the reference does.
inline constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100'000'000;

// Dtype names of the format and their element sizes in bytes: F64 8, F32 4, F16 2, BF16 2,
// I64 8, I32 4, I16 2, I8 1, U64 8, U32 4, U16 2, U8 1, BOOL 1 (one byte per element),
// F8_E4M3 1, F8_E5M2 1. Names are case-sensitive, as in the format.
// Returns the size, or nullopt for a name that is not a safetensors dtype.
std::optional<std::size_t> safetensors_dtype_size(std::string_view dtype);

// A tensor inside a file or buffer held by a SafetensorsReader.
// `data` points into the reader's storage: valid while that reader is alive (moving the reader
// keeps it valid). It is raw little-endian bytes, row-major, data.size() == numel() * dtype
// size, and NOT necessarily aligned to the element size: copy or memcpy before typed access.
struct TensorView {
  std::string name;
  std::string dtype;
  std::vector<std::int64_t> shape;  // empty for a scalar
  std::span<const std::byte> data;

  std::int64_t numel() const;  // product of shape; 1 for a scalar
};

class SafetensorsReader {
 public:
  // Maps the file read-only (nothing is copied; pages load on first touch) and validates the
  // whole header. Throws SafetensorsError if the file cannot be opened or is malformed.
  explicit SafetensorsReader(const std::string& path);

  // Validates and copies a safetensors image held in memory (used by tests and fuzzers).
  // `source` names the buffer in error messages.
  static SafetensorsReader from_bytes(std::span<const std::byte> bytes, std::string source = "<memory>");

  SafetensorsReader(SafetensorsReader&&) noexcept;
  SafetensorsReader& operator=(SafetensorsReader&&) noexcept;
  ~SafetensorsReader();

  // Tensor names in the order their bytes appear in the data section.
  const std::vector<std::string>& names() const { return names_; }
  std::size_t size() const { return names_.size(); }
  bool has(std::string_view name) const;

  // Throws SafetensorsError if there is no such tensor (the message lists some of the names).
  TensorView get(std::string_view name) const;

  // The "__metadata__" map (empty if the file has none).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // The path or source name used in error messages.
  const std::string& source() const { return source_; }

  // Size of the whole file or buffer, and where the data section starts within it (8 + N).
  std::uint64_t file_size() const;
  std::uint64_t data_start() const { return data_start_; }

 private:
  struct Storage;
  struct Entry {
    std::string dtype;
    std::vector<std::int64_t> shape;
    std::uint64_t begin = 0;  // relative to the data section
    std::uint64_t end = 0;
  };
  SafetensorsReader(std::unique_ptr<Storage> storage, std::string source);
  void parse();

  std::unique_ptr<Storage> storage_;
  std::string source_;
  std::uint64_t data_start_ = 0;
  std::vector<std::string> names_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::map<std::string, std::string> metadata_;
};

class SafetensorsWriter {
 public:
  // Adds a tensor; its bytes are copied, so `bytes` may be freed right after.
  // Requires: `name` is valid UTF-8, not "__metadata__", not added before; `dtype` is
  // a name listed at safetensors_dtype_size; every shape entry >= 0; bytes.size() equals
  // numel * dtype size. Throws SafetensorsError otherwise (nothing is added then).
  // Tensors are laid out in the data section in the order they are added.
  void add(std::string name, std::string dtype, std::vector<std::int64_t> shape, std::span<const std::byte> bytes);

  // As add(), but only a reference to `bytes` is kept: they must stay alive and unchanged until
  // the last write()/to_bytes() call. Use this to save large weights without a second copy.
  void add_view(std::string name, std::string dtype, std::vector<std::int64_t> shape, std::span<const std::byte> bytes);

  // Sets (or replaces) one "__metadata__" entry. Throws SafetensorsError if key or value is not
  // valid UTF-8.
  void set_metadata(std::string key, std::string value);

  // Writes the file atomically (see AtomicFile), streaming the header and then each tensor:
  // no copy of the whole file is built in memory. Throws IoError on failure; the old file, if
  // any, is then unchanged.
  void write(const std::string& path) const;

  // The complete file image.
  std::vector<std::byte> to_bytes() const;

  // The 8-byte length prefix plus the padded JSON header, as written to the file.
  std::string header_bytes() const;

  // Total size of the file write() would produce.
  std::uint64_t file_size() const;

  std::size_t size() const { return tensors_.size(); }

 private:
  struct Tensor {
    std::string name;
    std::string dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> owned;     // add(): the copied bytes
    std::span<const std::byte> view;  // add_view(): the caller's bytes
    bool is_view = false;
    std::span<const std::byte> bytes() const { return is_view ? view : std::span<const std::byte>(owned); }
  };
  void check_new_tensor(const std::string& name, const std::string& dtype, const std::vector<std::int64_t>& shape,
                        std::size_t nbytes) const;

  std::vector<Tensor> tensors_;
  std::set<std::string, std::less<>> names_;
  std::map<std::string, std::string> metadata_;
  std::uint64_t data_bytes_ = 0;
};

}  // namespace cairn::io
