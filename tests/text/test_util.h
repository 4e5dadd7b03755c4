#pragma once
// Shared helpers of the text layer's tests: paths of the committed references and small file readers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace cairn::text::testing {

inline std::string golden(const std::string& name) {
  return std::string(CAIRN_SOURCE_DIR) + "/tests/golden/tokenizers/" + name;
}
inline std::string shared_data(const std::string& name) { return std::string(CAIRN_SHARED_DIR) + "/data/" + name; }

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("test cannot open " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// Lines split on '\n' (a final '\n' does not start another line).
inline std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return lines;
}

// One row of space-separated ids per line, as make_refs.js writes them.
inline std::vector<std::vector<std::int32_t>> read_id_lines(const std::string& path) {
  std::vector<std::vector<std::int32_t>> rows;
  for (const std::string& line : split_lines(read_bytes(path))) {
    std::vector<std::int32_t> ids;
    std::istringstream in(line);
    std::int32_t id;
    while (in >> id) ids.push_back(id);
    rows.push_back(std::move(ids));
  }
  return rows;
}

inline std::uint64_t fnv1a64(const std::string& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char b : bytes) h = (h ^ b) * 0x100000001b3ull;
  return h;
}

// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    auto base = std::filesystem::temp_directory_path();
    for (int i = 0;; ++i) {
      path_ = base / ("cairn_text_test_" + std::to_string(::getpid()) + "_" + std::to_string(i));
      if (std::filesystem::create_directory(path_)) break;
    }
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// EXPECT that statement throws TokenizerError whose message contains every fragment.
#define EXPECT_TOKENIZER_ERROR(statement, ...)                                                \
  do {                                                                                        \
    try {                                                                                     \
      statement;                                                                              \
      ADD_FAILURE() << "expected TokenizerError from: " #statement;                           \
    } catch (const ::cairn::text::TokenizerError& e) {                                        \
      for (const std::string& fragment : std::vector<std::string>{__VA_ARGS__}) {             \
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)                    \
            << "message '" << e.what() << "' lacks '" << fragment << "'";                     \
      }                                                                                       \
    }                                                                                         \
  } while (0)

}  // namespace cairn::text::testing
