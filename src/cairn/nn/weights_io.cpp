#include "cairn/nn/weights_io.h"

#include <bit>
#include <cstring>

#include "cairn/io/safetensors.h"

namespace cairn::nn {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian; Cairn reads it raw");

std::string safetensors_dtype_name(DType dtype) {
  switch (dtype) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::i32: return "I32";
    case DType::u8: return "U8";
    case DType::i8: return "I8";
    case DType::bf16: return "BF16";
    case DType::f16: return "F16";
    default: throw DTypeError(detail::cat("safetensors: no dtype name for ", dtype_name(dtype)));
  }
}

namespace {
std::optional<DType> cairn_dtype(const std::string& name) {
  if (name == "F32") return DType::f32;
  if (name == "F64") return DType::f64;
  if (name == "I64") return DType::i64;
  if (name == "I32") return DType::i32;
  if (name == "U8" || name == "BOOL") return DType::u8;
  if (name == "I8") return DType::i8;
  if (name == "BF16") return DType::bf16;
  if (name == "F16") return DType::f16;
  return std::nullopt;
}
}  // namespace

void save_tensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata) {
  io::SafetensorsWriter w;
  for (const auto& [k, v] : metadata) w.set_metadata(k, v);
  // Contiguous copies live until write() returns, so the writer can reference their bytes instead of copying.
  std::vector<Tensor> keep;
  keep.reserve(tensors.size());
  for (const auto& [name, t] : tensors) {
    CAIRN_CHECK(t.defined(), ValueError, "save_tensors('", path, "'): tensor '", name, "' is undefined");
    keep.push_back(t.detach().contiguous());
    const Tensor& c = keep.back();
    const auto* bytes = static_cast<const std::byte*>(c.raw_data());
    w.add_view(name, safetensors_dtype_name(c.dtype()), c.shape(),
               std::span<const std::byte>(bytes, static_cast<size_t>(c.numel()) * c.element_size()));
  }
  w.write(path);
}

void save_tensors(const std::string& path, const std::map<std::string, Tensor>& tensors, const Metadata& metadata) {
  TensorDict d;
  for (const auto& [k, v] : tensors) d.insert(k, v);
  save_tensors(path, d, metadata);
}

TensorDict load_tensors(const std::string& path, Metadata* metadata) {
  io::SafetensorsReader r(path);
  TensorDict out;
  for (const auto& name : r.names()) {
    io::TensorView v = r.get(name);
    auto dt = cairn_dtype(v.dtype);
    if (!dt)
      throw io::SafetensorsError("safetensors file '" + path + "': tensor '" + name + "' has dtype " + v.dtype +
                                 ", which Cairn tensors cannot hold (supported: F32, F64, F16, BF16, I64, I32, I8, "
                                 "U8, BOOL); convert it before saving");
    Tensor t = Tensor::empty(v.shape, *dt);
    if (!v.data.empty()) std::memcpy(t.raw_data(), v.data.data(), v.data.size());  // views may be unaligned
    out.insert(name, t);
  }
  if (metadata) *metadata = r.metadata();
  return out;
}

void save_weights(const std::string& path, const Module& m) { save_tensors(path, m.state_dict(), {{"format", "pt"}}); }

LoadResult load_weights(const std::string& path, Module& m, bool strict) {
  TensorDict d = load_tensors(path);
  try {
    return m.load_state_dict(d, strict);
  } catch (const StateDictError& e) {
    throw StateDictError("load_weights('" + path + "'): " + e.what(), e.missing(), e.unexpected(), e.mismatched());
  }
}

}  // namespace cairn::nn
