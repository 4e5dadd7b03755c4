// Shared pieces of the in-process CLI tests: `cairn` run with its output captured, and a fixture that gives each
// test a fresh temporary folder.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cairn/cli/cli.h"

namespace cairn_test {

struct Result {
  int code;
  std::string out, err;
};

// Runs `cairn ARGS...` in this process: its exit code and what it printed on stdout and stderr.
inline Result cairn_cmd(const std::vector<std::string>& args) {
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  int code = cairn::cli::run(args);
  std::string out = testing::internal::GetCapturedStdout();
  return {code, out, testing::internal::GetCapturedStderr()};
}

// dir_: a folder of its own for each test (named after the suite, the process and the test), removed afterwards.
class CliDirTest : public testing::Test {
 protected:
  void SetUp() override {
    const auto* info = testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           (std::string("cairn_") + info->test_suite_name() + "_" + std::to_string(::getpid()) + "_" + info->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // Writes `text` to dir_/name; returns the path.
  std::string write(const std::string& name, const std::string& text) {
    std::string p = (dir_ / name).string();
    std::ofstream(p) << text;
    return p;
  }
  std::filesystem::path dir_;
};

}  // namespace cairn_test
