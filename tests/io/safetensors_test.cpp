// Round trips and the writer's contract. Malformed files: safetensors_corrupt_test.cpp.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>

#include <cstdint>
#include <cstring>

#include "cairn/io/safetensors.h"
#include "test_util.h"

namespace cairn::io {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::ScratchDir;

// Deterministic, distinct bytes per tensor so a mix-up of offsets shows.
std::vector<std::byte> pattern(std::size_t n, unsigned seed) {
  std::vector<std::byte> v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::byte>(x >> 24);
  }
  return v;
}

struct DtypeCase {
  const char* name;
  std::size_t size;
};

const DtypeCase kAllDtypes[] = {{"F64", 8},  {"F32", 4},  {"F16", 2},     {"BF16", 2},   {"I64", 8},
                                {"I32", 4},  {"I16", 2},  {"I8", 1},      {"U64", 8},    {"U32", 4},
                                {"U16", 2},  {"U8", 1},   {"BOOL", 1},    {"F8_E4M3", 1}, {"F8_E5M2", 1}};

TEST(SafetensorsDtype, Sizes) {
  for (const auto& d : kAllDtypes) EXPECT_EQ(safetensors_dtype_size(d.name), d.size) << d.name;
  EXPECT_EQ(safetensors_dtype_size("f32"), std::nullopt);  // case-sensitive, as the format
  EXPECT_EQ(safetensors_dtype_size("F31"), std::nullopt);
  EXPECT_EQ(safetensors_dtype_size(""), std::nullopt);
}

TEST(Safetensors, RoundTripEveryDtypeThroughMemoryAndFile) {
  ScratchDir dir;
  SafetensorsWriter w;
  std::vector<std::vector<std::byte>> payloads;
  unsigned seed = 0;
  for (const auto& d : kAllDtypes) {
    payloads.push_back(pattern(2 * 3 * d.size, ++seed));
    w.add(std::string("t.") + d.name, d.name, {2, 3}, payloads.back());
  }
  w.set_metadata("format", "pt");
  const auto image = w.to_bytes();
  EXPECT_EQ(image.size(), w.file_size());
  w.write(dir.file("all.safetensors"));
  EXPECT_EQ(read_file(dir.file("all.safetensors")), testing::to_string(image));

  const SafetensorsReader from_file(dir.file("all.safetensors"));
  const auto from_mem = SafetensorsReader::from_bytes(image, "mem");
  for (const SafetensorsReader* r : {&from_file, &from_mem}) {
    ASSERT_EQ(r->size(), std::size(kAllDtypes));
    EXPECT_EQ(r->metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
    for (std::size_t i = 0; i < std::size(kAllDtypes); ++i) {
      const std::string name = std::string("t.") + kAllDtypes[i].name;
      EXPECT_EQ(r->names()[i], name);  // data order == the order added
      ASSERT_TRUE(r->has(name));
      const TensorView v = r->get(name);
      EXPECT_EQ(v.name, name);
      EXPECT_EQ(v.dtype, kAllDtypes[i].name);
      EXPECT_EQ(v.shape, (std::vector<std::int64_t>{2, 3}));
      EXPECT_EQ(v.numel(), 6);
      ASSERT_EQ(v.data.size(), payloads[i].size());
      EXPECT_EQ(std::memcmp(v.data.data(), payloads[i].data(), v.data.size()), 0) << name;
    }
  }
}

TEST(Safetensors, ScalarsEmptyTensorsAndNoMetadata) {
  SafetensorsWriter w;
  const float three = 3.0f;
  w.add("empty_first", "F32", {0, 4}, {});
  w.add("scalar", "F32", {}, std::as_bytes(std::span(&three, 1)));
  w.add("empty_mid", "I64", {5, 0, 1000000}, {});
  w.add("bytes", "U8", {3}, testing::as_bytes("abc"));
  const auto r = SafetensorsReader::from_bytes(w.to_bytes());
  EXPECT_THAT(r.names(), ElementsAre("empty_first", "scalar", "empty_mid", "bytes"));
  EXPECT_TRUE(r.metadata().empty());
  EXPECT_EQ(r.get("scalar").numel(), 1);
  EXPECT_TRUE(r.get("scalar").shape.empty());
  float got = 0;
  std::memcpy(&got, r.get("scalar").data.data(), 4);
  EXPECT_EQ(got, 3.0f);
  EXPECT_EQ(r.get("empty_mid").numel(), 0);
  EXPECT_TRUE(r.get("empty_mid").data.empty());
  EXPECT_EQ(testing::to_string(r.get("bytes").data), "abc");
}

TEST(Safetensors, EmptyFileHasOnlyAHeader) {
  SafetensorsWriter w;
  const auto image = w.to_bytes();
  EXPECT_EQ(testing::to_string(image), std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
  const auto r = SafetensorsReader::from_bytes(image);
  EXPECT_EQ(r.size(), 0u);
}

// The exact bytes the reference implementation (serde_json, padded with spaces) produces.
TEST(Safetensors, HeaderBytesMatchTheReferenceLayout) {
  SafetensorsWriter w;
  const float v[2] = {1.0f, 2.0f};
  w.add("a", "F32", {2}, std::as_bytes(std::span(v)));
  w.add("b.c", "U8", {1, 1}, testing::as_bytes("z"));
  w.set_metadata("format", "pt");
  const std::string json =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b.c":{"dtype":"U8","shape":[1,1],"data_offsets":[8,9]}})";
  std::string padded = json + std::string((8 - json.size() % 8) % 8, ' ');
  const std::uint64_t n = padded.size();
  std::string prefix(8, '\0');
  for (int i = 0; i < 8; ++i) prefix[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  EXPECT_EQ(w.header_bytes(), prefix + padded);
  const auto image = testing::to_string(w.to_bytes());
  EXPECT_EQ(image.size() % 8, 1u);  // 8-aligned header, then 8 + 1 data bytes
  EXPECT_EQ(image.substr(8 + n), std::string(reinterpret_cast<const char*>(v), 8) + "z");
}

TEST(Safetensors, NamesAreEscapedInJsonAndSurviveRoundTrip) {
  SafetensorsWriter w;
  const std::string odd = "quote\" back\\slash\ttab \xc3\xbcml\xc3\xa4ut";
  w.add(odd, "U8", {1}, testing::as_bytes("q"));
  w.add("", "U8", {1}, testing::as_bytes("e"));  // the format allows an empty name
  w.set_metadata("k\"ey", "line\nbreak");
  EXPECT_THAT(w.header_bytes(), HasSubstr(R"("quote\" back\\slash\ttab )"));
  const auto r = SafetensorsReader::from_bytes(w.to_bytes());
  EXPECT_EQ(testing::to_string(r.get(odd).data), "q");
  EXPECT_EQ(testing::to_string(r.get("").data), "e");
  EXPECT_EQ(r.metadata().at("k\"ey"), "line\nbreak");
}

TEST(Safetensors, AddCopiesAddViewReferences) {
  std::vector<std::byte> a = pattern(4, 1), b = pattern(4, 2);
  SafetensorsWriter w;
  w.add("copied", "U8", {4}, a);
  w.add_view("viewed", "U8", {4}, b);
  a[0] = std::byte{0x11};
  b[0] = std::byte{0x22};
  const auto r = SafetensorsReader::from_bytes(w.to_bytes());
  EXPECT_EQ(r.get("copied").data[0], pattern(4, 1)[0]);
  EXPECT_EQ(r.get("viewed").data[0], std::byte{0x22});
}

TEST(Safetensors, WriterRejectsBadTensorsAndAddsNothing) {
  SafetensorsWriter w;
  const auto eight = pattern(8, 3);
  w.add("x", "F32", {2}, eight);
  const auto expect_error = [&](auto&& call, const std::string& part) {
    try {
      call();
      ADD_FAILURE() << "expected SafetensorsError containing: " << part;
    } catch (const SafetensorsError& e) {
      EXPECT_THAT(e.what(), HasSubstr(part));
    }
  };
  expect_error([&] { w.add("x", "F32", {2}, eight); }, "already added");
  expect_error([&] { w.add("__metadata__", "F32", {2}, eight); }, "reserved");
  expect_error([&] { w.add("y", "F33", {2}, eight); }, "'F33' is not a safetensors dtype");
  expect_error([&] { w.add("y", "F32", {3}, eight); }, "F32 [3] needs 12 bytes but 8 bytes were given");
  expect_error([&] { w.add("y", "U8", {-2, -4}, eight); }, "negative dimension");
  expect_error([&] { w.add("y", "U8", {INT64_MAX, 2}, eight); }, "64 bits");
  expect_error([&] { w.add("bad\xff", "U8", {8}, eight); }, "UTF-8");
  expect_error([&] { w.set_metadata("k", "\xc3"); }, "UTF-8");
  EXPECT_EQ(w.size(), 1u);
  EXPECT_THAT(SafetensorsReader::from_bytes(w.to_bytes()).names(), ElementsAre("x"));
}

TEST(Safetensors, GetUnknownNameListsSomeNames) {
  SafetensorsWriter w;
  w.add("fc.weight", "U8", {1}, testing::as_bytes("w"));
  w.add("fc.bias", "U8", {1}, testing::as_bytes("b"));
  const auto r = SafetensorsReader::from_bytes(w.to_bytes(), "net.safetensors");
  EXPECT_FALSE(r.has("fc.wieght"));
  try {
    r.get("fc.wieght");
    FAIL();
  } catch (const SafetensorsError& e) {
    EXPECT_STREQ(e.what(),
                 "net.safetensors: no tensor named 'fc.wieght'; the file has 2 tensors: 'fc.weight', 'fc.bias'");
  }
}

TEST(Safetensors, ReaderSurvivesMoveAndViewsStayValid) {
  SafetensorsWriter w;
  w.add("t", "U8", {3}, testing::as_bytes("xyz"));
  ScratchDir dir;
  w.write(dir.file("m.safetensors"));
  SafetensorsReader r(dir.file("m.safetensors"));
  const TensorView v = r.get("t");
  SafetensorsReader moved = std::move(r);
  EXPECT_EQ(testing::to_string(v.data), "xyz");
  EXPECT_EQ(moved.file_size(), w.file_size());
  EXPECT_EQ(moved.data_start() % 8, 0u);
}

TEST(Safetensors, OpenMissingFileNamesIt) {
  ScratchDir dir;
  try {
    SafetensorsReader r(dir.file("nope.safetensors"));
    FAIL();
  } catch (const SafetensorsError& e) {
    EXPECT_THAT(e.what(), HasSubstr("nope.safetensors"));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
  EXPECT_THROW(SafetensorsReader r(dir.path()), SafetensorsError);
}

// Runs in a child process (EXPECT_EXIT): a file size limit makes write() fail part-way through the
// tensor data.
[[noreturn]] void write_beyond_size_limit(const SafetensorsWriter& w, const ScratchDir& dir, const std::string& path,
                                          const std::string& old_bytes) {
  ::signal(SIGXFSZ, SIG_IGN);
  const rlimit limit{1 << 18, 1 << 18};
  ::setrlimit(RLIMIT_FSIZE, &limit);
  try {
    w.write(path);
  } catch (const IoError&) {
    std::_Exit(read_file(path) == old_bytes && dir.entries().size() == 1 ? 0 : 2);
  }
  std::_Exit(1);
}

TEST(Safetensors, FailedWriteKeepsOldFileAndLeavesNoTemp) {
  ScratchDir dir;
  const auto path = dir.file("model.safetensors");
  SafetensorsWriter old_w;
  old_w.add("old", "U8", {1}, testing::as_bytes("o"));
  old_w.write(path);
  const std::string old_bytes = read_file(path);

  const auto big = pattern(1 << 20, 9);
  SafetensorsWriter w;
  w.add_view("big", "U8", {1 << 20}, big);
  EXPECT_EXIT(write_beyond_size_limit(w, dir, path, old_bytes), ::testing::ExitedWithCode(0), "");
  EXPECT_EQ(read_file(path), old_bytes);
  EXPECT_THAT(dir.entries(), ElementsAre("model.safetensors"));
  EXPECT_THROW(w.write(dir.file("missing/dir/x.safetensors")), IoError);
  EXPECT_THAT(dir.entries(), ElementsAre("model.safetensors"));
}

}  // namespace
}  // namespace cairn::io
