// Helpers for the core tests' error-message checks.
#pragma once

#include <gtest/gtest.h>

#include <exception>
#include <string>
#include <vector>

namespace cairn_test {

// The message of the exception f() throws, or "(no exception)".
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no exception)";
}

// Expects every part to appear in the message m.
inline void expect_contains(const std::string& m, const std::vector<std::string>& parts) {
  for (const auto& p : parts) EXPECT_NE(m.find(p), std::string::npos) << "missing \"" << p << "\" in: " << m;
}

}  // namespace cairn_test
