// Every op declared in src/cairn/core/ops/ops.h has a float64 gradient check and a PyTorch golden file, unless
// it is listed below as having no gradient (or no reproducible PyTorch counterpart). A new op without either
// fails here by name, so "a gradient check for every differentiable op" stays true as ops are added.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Names of the functions ops.h declares (returning Tensor, a pair or a vector of them).
std::set<std::string> declared_ops() {
  const std::string h = read(fs::path(CAIRN_SOURCE_DIR) / "src/cairn/core/ops/ops.h");
  std::set<std::string> names;
  const std::regex decl(R"(^(?:Tensor|std::pair<Tensor, Tensor>|std::vector<Tensor>) ([a-z_0-9]+)\()");
  std::istringstream lines(h);
  for (std::string line; std::getline(lines, line);) {
    std::smatch m;
    if (std::regex_search(line, m, decl)) names.insert(m[1]);
  }
  return names;
}

// Creation, comparison and index-valued ops: no gradient to check.
const std::set<std::string> kNoGradient = {"zeros", "ones",  "full", "zeros_like", "ones_like", "scalar_tensor",
                                           "arange", "randn", "uniform", "randint", "randperm", "eq", "ne", "lt",
                                           "le", "gt", "ge", "argmax", "argmin"};
// Differentiable ops without a file in tests/golden/core, and why.
const std::set<std::string> kNoGolden = {
    "broadcast_to",  // expand under another name (expand.safetensors)
    // PyTorch references in tests/golden/attention/ (tools/golden/make_attention*.py, used by tests/nn)
    "scaled_dot_product_attention", "self_attention_packed",
};
// Ops with a golden file but no creation case of their own: random ops have no PyTorch-reproducible values.
const std::set<std::string> kRandom = {"randn", "uniform", "randint", "randperm"};

}  // namespace

TEST(OpCoverage, EveryDifferentiableOpHasAGradientCheck) {
  // The text of every gradient check's call site: the first ~600 characters after each "gradcheck(" or the
  // check helpers of gradcheck_test.cpp.
  std::string windows;
  for (const auto& e : fs::directory_iterator(fs::path(CAIRN_SOURCE_DIR) / "tests/core")) {
    if (e.path().extension() != ".cpp") continue;
    const std::string src = read(e.path());
    for (const std::string key : {"gradcheck(", "check(\"", "check_binary(\"", "c(\""}) {
      for (size_t p = src.find(key); p != std::string::npos; p = src.find(key, p + 1))
        windows += src.substr(p, 600) + "\n";
    }
  }
  const std::set<std::string> ops = declared_ops();
  ASSERT_GT(ops.size(), 80u) << "ops.h no longer parses as expected: the check would be vacuous";
  ASSERT_TRUE(ops.count("gelu") && ops.count("max") && ops.count("split") && ops.count("batch_norm"));
  std::vector<std::string> missing;
  for (const std::string& op : ops) {
    if (kNoGradient.count(op)) continue;
    const std::regex use("(^|[^a-z_0-9])" + op + "(\\(|,|\\))");
    if (!std::regex_search(windows, use)) missing.push_back(op);
  }
  EXPECT_TRUE(missing.empty()) << "ops of ops.h without a float64 gradient check in tests/core: "
                               << ::testing::PrintToString(missing);
}

TEST(OpCoverage, EveryOpHasAPyTorchGoldenFile) {
  std::vector<std::string> missing;
  for (const std::string& op : declared_ops()) {
    if (kNoGolden.count(op) || kRandom.count(op)) continue;
    if (kNoGradient.count(op) && !fs::exists(fs::path(CAIRN_SOURCE_DIR) / "tests/golden/core" / (op + ".safetensors")))
      continue;  // creation ops without a golden (zeros, ...) are trivially right; comparisons share compare.*
    if (!fs::exists(fs::path(CAIRN_SOURCE_DIR) / "tests/golden/core" / (op + ".safetensors"))) missing.push_back(op);
  }
  EXPECT_TRUE(missing.empty()) << "ops of ops.h without tests/golden/core/<op>.safetensors: "
                               << ::testing::PrintToString(missing);
}
