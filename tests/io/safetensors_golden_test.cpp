// Agreement with tests/golden/io/reference.safetensors, written outside Cairn from torch tensors by
// tools/golden/make_safetensors_ref.py (the layout of the reference implementation, cross-checked
// there with torch.frombuffer). Values here must match that script's tensors().
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "cairn/io/safetensors.h"
#include "test_util.h"

namespace cairn::io {
namespace {

using ::testing::ElementsAre;

const std::string kReference = std::string(CAIRN_SOURCE_DIR) + "/tests/golden/io/reference.safetensors";

// "ünïcode.wéight" in UTF-8 (split so the hex escapes stop where intended).
const char* const kUnicodeName = "\xc3\xbcn\xc3\xaf" "code.w\xc3\xa9ight";

template <typename T>
std::vector<T> values(const TensorView& v) {
  EXPECT_EQ(v.data.size() % sizeof(T), 0u);
  std::vector<T> out(v.data.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), v.data.data(), v.data.size());  // data may be unaligned
  return out;
}

TEST(SafetensorsGolden, ReadsTheTorchReferenceFile) {
  const SafetensorsReader r(kReference);
  EXPECT_THAT(r.names(), ElementsAre("f64", "f32", "f16", "bf16", "i64", "i32", "i16", "i8", "u8", "bool",
                                     "layer.0.scalar", "layer.0.empty", kUnicodeName));
  EXPECT_EQ(r.metadata(), (std::map<std::string, std::string>{
                              {"format", "pt"}, {"source", "tools/golden/make_safetensors_ref.py"}}));
  EXPECT_EQ(r.data_start() % 8, 0u);

  const auto check = [&](const char* name, const char* dtype, std::vector<std::int64_t> shape) {
    const TensorView v = r.get(name);
    EXPECT_EQ(v.dtype, dtype) << name;
    EXPECT_EQ(v.shape, shape) << name;
    return v;
  };
  EXPECT_THAT(values<double>(check("f64", "F64", {2, 3})), ElementsAre(0.0, 1.0, -2.0, 0.5, 1e300, -0.0));
  EXPECT_TRUE(std::signbit(values<double>(r.get("f64"))[5]));
  EXPECT_THAT(values<float>(check("f32", "F32", {2, 2})), ElementsAre(1.5f, -3.25f, 0.0f, 65504.0f));
  // IEEE half and bfloat16 bit patterns of 1.0, -2.0, 0.5.
  EXPECT_THAT(values<std::uint16_t>(check("f16", "F16", {3})), ElementsAre(0x3C00, 0xC000, 0x3800));
  EXPECT_THAT(values<std::uint16_t>(check("bf16", "BF16", {3})), ElementsAre(0x3F80, 0xC000, 0x3F00));
  EXPECT_THAT(values<std::int64_t>(check("i64", "I64", {2})), ElementsAre(-1, std::int64_t{1} << 40));
  EXPECT_THAT(values<std::int32_t>(check("i32", "I32", {2, 1})), ElementsAre(-7, 123456));
  EXPECT_THAT(values<std::int16_t>(check("i16", "I16", {3})), ElementsAre(-300, 0, 300));
  EXPECT_THAT(values<std::int8_t>(check("i8", "I8", {4})), ElementsAre(-128, -1, 0, 127));
  EXPECT_THAT(values<std::uint8_t>(check("u8", "U8", {2, 2})), ElementsAre(0, 1, 128, 255));
  EXPECT_THAT(values<std::uint8_t>(check("bool", "BOOL", {3})), ElementsAre(1, 0, 1));
  EXPECT_THAT(values<float>(check("layer.0.scalar", "F32", {})), ElementsAre(3.0f));
  EXPECT_TRUE(check("layer.0.empty", "F32", {0, 4}).data.empty());
  EXPECT_THAT(values<std::int16_t>(check(kUnicodeName, "I16", {2})), ElementsAre(7, 8));
}

TEST(SafetensorsGolden, WriterReproducesTheReferenceByteForByte) {
  const std::string expected = read_file(kReference);
  const SafetensorsReader r(kReference);
  SafetensorsWriter w;
  for (const auto& name : r.names()) {
    const TensorView v = r.get(name);
    w.add_view(v.name, v.dtype, v.shape, v.data);
  }
  for (const auto& [k, v] : r.metadata()) w.set_metadata(k, v);
  EXPECT_EQ(testing::to_string(w.to_bytes()), expected);

  testing::ScratchDir dir;
  w.write(dir.file("copy.safetensors"));
  EXPECT_EQ(read_file(dir.file("copy.safetensors")), expected);
}

}  // namespace
}  // namespace cairn::io
