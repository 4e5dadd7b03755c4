// SafetensorsWriter, the dtype table and the helpers the reader shares.
#include <algorithm>
#include <array>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cairn/io/safetensors.h"
#include "cairn/io/safetensors_detail.h"

namespace cairn::io {
namespace {

struct DtypeInfo {
  std::string_view name;
  std::size_t size;
};

// The dtypes of the reference implementation's stable format.
constexpr std::array<DtypeInfo, 15> kDtypes = {{
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
    {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1},
}};

// The reference serializes with serde_json in field order (dtype, shape, data_offsets) and the
// tensors in data order; an insertion-ordered JSON object reproduces that byte for byte.
using OrderedJson = nlohmann::ordered_json;

bool valid_utf8(const std::string& s) {
  try {
    (void)nlohmann::json(s).dump();
    return true;
  } catch (const nlohmann::json::type_error&) {
    return false;
  }
}

void put_u64_le(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

std::optional<std::size_t> safetensors_dtype_size(std::string_view dtype) {
  for (const auto& d : kDtypes) {
    if (d.name == dtype) return d.size;
  }
  return std::nullopt;
}

std::int64_t TensorView::numel() const {
  std::int64_t n = 1;
  for (const auto d : shape) n *= d;  // the reader guarantees this does not overflow
  return n;
}

namespace detail {

std::string format_shape(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::string quote(std::string_view text, std::size_t max_chars) {
  std::string out = "'";
  const std::size_t n = std::min(text.size(), max_chars);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  out += "'";
  if (text.size() > max_chars) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

std::optional<std::uint64_t> checked_nbytes(const std::vector<std::int64_t>& shape, std::size_t element_size) {
  for (const auto d : shape) {
    if (d < 0) return std::nullopt;
    if (d == 0) return 0;  // empty however large the other dimensions are
  }
  std::int64_t numel = 1;
  for (const auto d : shape) {
    if (__builtin_mul_overflow(numel, d, &numel)) return std::nullopt;
  }
  std::uint64_t bytes = 0;
  if (__builtin_mul_overflow(static_cast<std::uint64_t>(numel), static_cast<std::uint64_t>(element_size), &bytes)) {
    return std::nullopt;
  }
  return bytes;
}

std::string known_dtypes() {
  std::string s;
  for (const auto& d : kDtypes) {
    if (!s.empty()) s += ", ";
    s += d.name;
  }
  return s;
}

}  // namespace detail

void SafetensorsWriter::check_new_tensor(const std::string& name, const std::string& dtype,
                                         const std::vector<std::int64_t>& shape, std::size_t nbytes) const {
  const std::string where = "SafetensorsWriter::add: tensor " + detail::quote(name) + ": ";
  if (name == "__metadata__") {
    throw SafetensorsError(where + "the name '__metadata__' is reserved by the format for the metadata map");
  }
  if (names_.count(name)) {
    throw SafetensorsError(where + "a tensor of this name was already added; names must be unique");
  }
  if (!valid_utf8(name)) {
    throw SafetensorsError(where + "the name is not valid UTF-8, which the JSON header requires");
  }
  const auto size = safetensors_dtype_size(dtype);
  if (!size) {
    throw SafetensorsError(where + "dtype " + detail::quote(dtype) + " is not a safetensors dtype (expected one of " +
                           detail::known_dtypes() + ")");
  }
  const auto need = detail::checked_nbytes(shape, *size);
  if (!need) {
    throw SafetensorsError(where + "shape " + detail::format_shape(shape) +
                           " has a negative dimension or more elements than fit in 64 bits");
  }
  if (*need != nbytes) {
    throw SafetensorsError(where + dtype + " " + detail::format_shape(shape) + " needs " + std::to_string(*need) +
                           " bytes but " + std::to_string(nbytes) + " bytes were given");
  }
  if (data_bytes_ + nbytes < data_bytes_) {
    throw SafetensorsError(where + "the total size of all tensors overflows 64 bits");
  }
}

void SafetensorsWriter::add(std::string name, std::string dtype, std::vector<std::int64_t> shape,
                            std::span<const std::byte> bytes) {
  check_new_tensor(name, dtype, shape, bytes.size());
  Tensor t{std::move(name), std::move(dtype), std::move(shape), {bytes.begin(), bytes.end()}, {}, false};
  names_.insert(t.name);
  data_bytes_ += bytes.size();
  tensors_.push_back(std::move(t));
}

void SafetensorsWriter::add_view(std::string name, std::string dtype, std::vector<std::int64_t> shape,
                                 std::span<const std::byte> bytes) {
  check_new_tensor(name, dtype, shape, bytes.size());
  Tensor t{std::move(name), std::move(dtype), std::move(shape), {}, bytes, true};
  names_.insert(t.name);
  data_bytes_ += bytes.size();
  tensors_.push_back(std::move(t));
}

void SafetensorsWriter::set_metadata(std::string key, std::string value) {
  if (!valid_utf8(key) || !valid_utf8(value)) {
    throw SafetensorsError("SafetensorsWriter::set_metadata: key " + detail::quote(key) +
                           " or its value is not valid UTF-8, which the JSON header requires");
  }
  metadata_[std::move(key)] = std::move(value);
}

std::string SafetensorsWriter::header_bytes() const {
  OrderedJson header = OrderedJson::object();
  if (!metadata_.empty()) {
    OrderedJson meta = OrderedJson::object();
    for (const auto& [k, v] : metadata_) meta[k] = v;
    header["__metadata__"] = std::move(meta);
  }
  std::uint64_t offset = 0;
  for (const auto& t : tensors_) {
    OrderedJson entry = OrderedJson::object();
    entry["dtype"] = t.dtype;
    entry["shape"] = t.shape;
    const std::uint64_t end = offset + t.bytes().size();
    entry["data_offsets"] = {offset, end};
    header[t.name] = std::move(entry);
    offset = end;
  }
  std::string json = header.dump();
  // The reference pads with spaces to a multiple of 8 so that, with the 8-byte prefix, the data
  // section starts 8-byte aligned in a mapped file.
  json.append((8 - json.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + json.size());
  put_u64_le(out, json.size());
  out += json;
  return out;
}

std::uint64_t SafetensorsWriter::file_size() const { return header_bytes().size() + data_bytes_; }

std::vector<std::byte> SafetensorsWriter::to_bytes() const {
  const std::string header = header_bytes();
  std::vector<std::byte> out(header.size() + data_bytes_);
  std::memcpy(out.data(), header.data(), header.size());
  std::size_t pos = header.size();
  for (const auto& t : tensors_) {
    const auto b = t.bytes();
    if (!b.empty()) std::memcpy(out.data() + pos, b.data(), b.size());
    pos += b.size();
  }
  return out;
}

void SafetensorsWriter::write(const std::string& path) const {
  AtomicFile file(path);
  file.write(header_bytes());
  for (const auto& t : tensors_) file.write(t.bytes());
  file.commit();
}

}  // namespace cairn::io
