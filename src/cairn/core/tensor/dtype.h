// Element types. float32 is the default; float64 serves gradient checks; the integer types hold indices,
// labels and quantized values. bf16/f16 are reserved so adding their kernels needs no redesign.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace cairn {

enum class DType : uint8_t { f32 = 0, f64, i64, i32, u8, i8, bf16, f16, kCount };
constexpr int kNumDTypes = static_cast<int>(DType::kCount);

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::i32: return 4;
    case DType::u8: return 1;
    case DType::i8: return 1;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    default: return 0;
  }
}
constexpr const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i64: return "int64";
    case DType::i32: return "int32";
    case DType::u8: return "uint8";
    case DType::i8: return "int8";
    case DType::bf16: return "bfloat16";
    case DType::f16: return "float16";
    default: return "?";
  }
}
constexpr bool is_floating(DType t) { return t == DType::f32 || t == DType::f64 || t == DType::bf16 || t == DType::f16; }
constexpr bool is_integral(DType t) { return t == DType::i64 || t == DType::i32 || t == DType::u8 || t == DType::i8; }

// C++ type -> DType.
template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::f32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::f64; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::i64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::i32; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::u8; };
template <> struct dtype_of<int8_t> { static constexpr DType value = DType::i8; };
template <class T> constexpr DType dtype_v = dtype_of<T>::value;

enum class DeviceType : uint8_t { CPU = 0, CUDA, kCount };
constexpr int kNumDeviceTypes = static_cast<int>(DeviceType::kCount);
constexpr const char* device_name(DeviceType d) { return d == DeviceType::CPU ? "cpu" : "cuda"; }

}  // namespace cairn
