// Hostile and damaged safetensors files: every one must throw SafetensorsError with a message that
// says where and what, never crash or read out of bounds (the fuzzer in fuzz/ keeps this honest
// on inputs nobody thought of).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>

#include "cairn/io/safetensors.h"
#include "test_util.h"

namespace cairn::io {
namespace {

using ::testing::HasSubstr;

// A file image from a raw header text and data section; the header is used exactly as given.
std::vector<std::byte> image(const std::string& header, const std::string& data = "",
                             std::uint64_t header_len = UINT64_MAX) {
  const std::uint64_t n = header_len == UINT64_MAX ? header.size() : header_len;
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return testing::to_vector(out + header + data);
}

std::string error_of(const std::vector<std::byte>& bytes) {
  try {
    SafetensorsReader::from_bytes(bytes, "model.safetensors");
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "(no error)";
}

// A small valid file: metadata and three tensors.
std::vector<std::byte> small_valid_file() {
  SafetensorsWriter w;
  const float f[4] = {1, 2, 3, 4};
  w.add("w", "F32", {2, 2}, std::as_bytes(std::span(f)));
  w.add("b", "I16", {3}, testing::as_bytes("abcdef"));
  w.add("flag", "BOOL", {1}, testing::as_bytes("\x01"));
  w.set_metadata("format", "pt");
  return w.to_bytes();
}

TEST(SafetensorsCorrupt, EveryTruncationThrowsAndSaysTruncated) {
  const auto full = small_valid_file();
  ASSERT_NO_THROW(SafetensorsReader::from_bytes(full));
  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::vector<std::byte> prefix(full.begin(), full.begin() + n);
    const std::string err = error_of(prefix);
    EXPECT_THAT(err, HasSubstr("model.safetensors: ")) << "prefix " << n;
    EXPECT_THAT(err, HasSubstr("truncated")) << "prefix " << n;
  }
  // The message gives the expected and the actual size.
  const std::vector<std::byte> cut(full.begin(), full.end() - 3);
  EXPECT_THAT(error_of(cut), HasSubstr("= " + std::to_string(full.size()) + " bytes, but it has " +
                                       std::to_string(full.size() - 3) + " bytes"));
}

TEST(SafetensorsCorrupt, FlippedBytesNeverCrash) {
  const auto full = small_valid_file();
  int rejected = 0, accepted = 0;
  for (std::size_t pos = 0; pos < full.size(); ++pos) {
    for (const unsigned mask : {0x01u, 0x20u, 0x80u, 0xffu}) {
      auto bad = full;
      bad[pos] ^= static_cast<std::byte>(mask);
      try {
        const auto r = SafetensorsReader::from_bytes(bad);
        ++accepted;  // e.g. a changed letter in a name or a data byte: still a valid file
        for (const auto& name : r.names()) {
          const auto v = r.get(name);
          EXPECT_EQ(v.data.size(), static_cast<std::size_t>(v.numel()) * *safetensors_dtype_size(v.dtype));
        }
      } catch (const SafetensorsError&) {
        ++rejected;
      }
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_GT(accepted, 0);
}

TEST(SafetensorsCorrupt, HugeHeaderLength) {
  EXPECT_THAT(error_of(image("{}", "", UINT64_MAX - 1)), HasSubstr("exceeds the limit of 100000000 bytes"));
  EXPECT_THAT(error_of(image("{}", "", 100'000'001)), HasSubstr("exceeds the limit"));
  // Under the limit but beyond the end of the file: truncated, with both sizes.
  EXPECT_EQ(error_of(image("{}", "", 4096)),
            "model.safetensors: the file is truncated: its header length says 4096 bytes of JSON follow, so the "
            "file needs at least 4104 bytes, but it has 10");
}

TEST(SafetensorsCorrupt, NotJson) {
  EXPECT_THAT(error_of(image("")), HasSubstr("does not start with '{' but is empty"));
  EXPECT_THAT(error_of(image("[1,2]   ")), HasSubstr("does not start with '{'"));
  EXPECT_THAT(error_of(image("PK\x03\x04....")), HasSubstr("it starts with 'PK\\x03\\x04....'"));
  EXPECT_THAT(error_of(image("{\"a\":  ")), HasSubstr("not valid JSON near file byte"));
  EXPECT_THAT(error_of(image("{} trailing")), HasSubstr("not valid JSON"));
  EXPECT_THAT(error_of(image(std::string("{}\0\0\0\0\0\0", 8))), HasSubstr("not valid JSON"));
  EXPECT_THAT(error_of(image("{\"\xff\":1}")), HasSubstr("not valid JSON"));  // invalid UTF-8
  // nlohmann reports a number too large for a double as out_of_range, not parse_error (found by
  // fuzz/safetensors_fuzz).
  EXPECT_THAT(error_of(image(R"({"a":{"dtype":"U8","shape":[1e999],"data_offsets":[0,1]}})", "x")),
              HasSubstr("not valid JSON: 'number overflow parsing '1e999''"));
  EXPECT_THAT(error_of(image("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}")),
              HasSubstr("nested deeper than 16 levels"));
}

TEST(SafetensorsCorrupt, EntryNotAnObject) {
  EXPECT_EQ(error_of(image(R"({"a":5})")), "model.safetensors: tensor 'a': the entry must be a JSON object, got '5'");
  EXPECT_THAT(error_of(image(R"({"a":{"shape":[1],"data_offsets":[0,1]}})")), HasSubstr("missing or non-string 'dtype'"));
  EXPECT_THAT(error_of(image(R"({"a":{"dtype":"U8","data_offsets":[0,1]}})", "x")), HasSubstr("missing 'shape'"));
  EXPECT_THAT(error_of(image(R"({"a":{"dtype":"U8","shape":[1]}})", "x")), HasSubstr("'data_offsets' must be"));
}

TEST(SafetensorsCorrupt, UnknownDtype) {
  EXPECT_THAT(error_of(image(R"({"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}})", std::string(16, 'x'))),
              HasSubstr("tensor 'a': dtype 'F128' is not a safetensors dtype (expected one of F64, F32,"));
}

TEST(SafetensorsCorrupt, BadShapes) {
  const auto err = [](const std::string& shape) {
    return error_of(image(R"({"a":{"dtype":"U8","shape":)" + shape + R"(,"data_offsets":[0,1]}})", "x"));
  };
  EXPECT_THAT(err("[-1]"), HasSubstr("tensor 'a': shape '[-1]' must hold non-negative integers"));
  EXPECT_THAT(err("[1.0]"), HasSubstr("must hold non-negative integers"));
  EXPECT_THAT(err("[\"1\"]"), HasSubstr("must hold non-negative integers"));
  EXPECT_THAT(err("[18446744073709551615]"), HasSubstr("must hold non-negative integers"));  // > INT64_MAX
  EXPECT_THAT(err("[99999999999999999999999]"), HasSubstr("must hold non-negative integers"));
  EXPECT_THAT(err("[4294967296,4294967296]"), HasSubstr("more elements or bytes than fit in 64 bits"));
  EXPECT_THAT(err("{}"), HasSubstr("missing 'shape' array"));
  // Elements fit in int64 but bytes overflow uint64.
  EXPECT_THAT(error_of(image(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,1]}})", "x")),
              HasSubstr("more elements or bytes than fit in 64 bits"));
}

TEST(SafetensorsCorrupt, OffsetsThatDoNotMatchTheShape) {
  const std::string data(400, '\0');
  EXPECT_EQ(error_of(image(R"({"0.weight":{"dtype":"F32","shape":[10,20],"data_offsets":[0,400]}})", data)),
            "model.safetensors: tensor '0.weight': data_offsets [0, 400] hold 400 bytes but F32 [10, 20] needs 800 "
            "bytes; the file is truncated or corrupt");
  const auto err = [](const std::string& offsets) {
    return error_of(image(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":)" + offsets + "}}", "x"));
  };
  EXPECT_THAT(err("[1,0]"), HasSubstr("data_offsets [1, 0] end before they begin"));
  EXPECT_THAT(err("[-1,0]"), HasSubstr("'data_offsets' must be [begin, end]"));
  EXPECT_THAT(err("[0]"), HasSubstr("'data_offsets' must be [begin, end]"));
  EXPECT_THAT(err("[0,1,2]"), HasSubstr("'data_offsets' must be [begin, end]"));
  EXPECT_THAT(err("[0.0,1]"), HasSubstr("'data_offsets' must be [begin, end]"));
  EXPECT_THAT(err("[0,18446744073709551616]"), HasSubstr("'data_offsets' must be [begin, end]"));
  EXPECT_THAT(err("{\"0\":0}"), HasSubstr("'data_offsets' must be [begin, end]"));
}

TEST(SafetensorsCorrupt, OffsetsOutOfRange) {
  // Consistent with the shape but far past the end of the file.
  EXPECT_THAT(error_of(image(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                             R"("b":{"dtype":"U8","shape":[1000],"data_offsets":[1,1001]}})",
                             "x")),
              HasSubstr("the file is truncated: its header describes 1001 bytes of tensor data"));
  EXPECT_THAT(error_of(image(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551614,)"
                             R"(18446744073709551615]}})",
                             "x")),
              HasSubstr("starts at data offset 18446744073709551614 but the first tensor must start at 0"));
}

TEST(SafetensorsCorrupt, HolesOverlapsAndTrailingBytes) {
  const auto two = [](const std::string& a, const std::string& b, const std::string& data) {
    return error_of(image(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":)" + a +
                              R"(},"b":{"dtype":"U8","shape":[2],"data_offsets":)" + b + "}}",
                          data));
  };
  EXPECT_EQ(two("[0,2]", "[3,5]", "xxxxx"),
            "model.safetensors: tensor 'b' starts at data offset 3 but the previous tensor 'a' ends at 2; bytes "
            "[2, 3) belong to no tensor, which the format forbids");
  EXPECT_THAT(two("[1,3]", "[3,5]", "xxxxx"), HasSubstr("'a' starts at data offset 1 but the first tensor must start at 0"));
  EXPECT_EQ(two("[0,2]", "[1,3]", "xxx"),
            "model.safetensors: tensors 'a' data_offsets [0, 2] and 'b' data_offsets [1, 3] overlap");
  EXPECT_THAT(two("[0,2]", "[0,2]", "xx"), HasSubstr("overlap"));
  EXPECT_THAT(two("[0,2]", "[2,4]", "xxxxxx"),
              HasSubstr("2 bytes follow the last tensor (tensor data ends at file byte"));
  EXPECT_EQ(two("[2,4]", "[0,2]", "xxxx"), "(no error)");  // any order is fine, holes are not
  // A zero-size tensor may sit at a boundary but not inside another tensor.
  EXPECT_EQ(error_of(image(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                           R"("e":{"dtype":"U8","shape":[0],"data_offsets":[2,2]}})",
                           "xx")),
            "(no error)");
  EXPECT_THAT(error_of(image(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},)"
                             R"("e":{"dtype":"U8","shape":[0],"data_offsets":[1,1]}})",
                             "xx")),
              HasSubstr("overlap"));
}

TEST(SafetensorsCorrupt, DuplicateNamesAndKeys) {
  EXPECT_EQ(error_of(image(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                           R"("a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                           "xy")),
            "model.safetensors: invalid header: tensor 'a' appears twice in the header; names must be unique");
  EXPECT_THAT(error_of(image(R"({"a":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}})", "x")),
              HasSubstr("key 'dtype' appears twice in one JSON object"));
}

TEST(SafetensorsCorrupt, BadMetadata) {
  EXPECT_THAT(error_of(image(R"({"__metadata__":[1]})")), HasSubstr("'__metadata__' must be an object of strings"));
  EXPECT_THAT(error_of(image(R"({"__metadata__":{"epoch":3}})")),
              HasSubstr("'__metadata__' entry 'epoch' must be a string, got '3'"));
  EXPECT_EQ(error_of(image(R"({"__metadata__":{}})")), "(no error)");
}

TEST(SafetensorsCorrupt, HostileNamesAreQuotedAndCut) {
  const std::string name = "\x1b[31m" + std::string(500, 'n');
  const std::string err = error_of(image("{\"" + std::string("\\u001b[31m") + std::string(500, 'n') + "\":7}"));
  EXPECT_THAT(err, HasSubstr("tensor '\\x1b[31mnnn"));
  EXPECT_THAT(err, HasSubstr("... (505 bytes)"));
  EXPECT_LT(err.size(), 250u);
}

TEST(SafetensorsCorrupt, UnknownFieldsAreIgnoredLikeTheReference) {
  const auto r = SafetensorsReader::from_bytes(
      image(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":{"x":[1]}}})", "x"));
  EXPECT_EQ(testing::to_string(r.get("a").data), "x");
}

// The fuzzer's seeds and the inputs it once crashed on (regress_*): files named valid_* must
// load, every other one must be refused with SafetensorsError.
TEST(SafetensorsCorrupt, FuzzCorpusSeedsAndRegressions) {
  const std::filesystem::path dir = std::string(CAIRN_SOURCE_DIR) + "/fuzz/corpus/safetensors";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    const std::string err = error_of(testing::to_vector(read_file(entry.path().string())));
    if (name.rfind("valid_", 0) == 0) {
      EXPECT_EQ(err, "(no error)") << name;
    } else {
      EXPECT_THAT(err, HasSubstr("model.safetensors: ")) << name;
    }
    ++files;
  }
  EXPECT_GE(files, 10);
}

}  // namespace
}  // namespace cairn::io
