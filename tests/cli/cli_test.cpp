// The `cairn` command line, driven in-process: configs, overrides, and the error messages for bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cairn/cli/cli.h"
#include "cli_fixture.h"
#include "cairn/cli/config.h"
#include "cairn/core/kernels/precision.h"
#include "cairn/io/safetensors.h"

namespace fs = std::filesystem;
using cairn::cli::run;

namespace {

using cairn_test::cairn_cmd;
using cairn_test::Result;

class CliTest : public cairn_test::CliDirTest {
 protected:
  // A small, fast config: 600 Fashion-MNIST images, an MLP, one epoch.
  std::string small_config(const std::string& extra_layers = "", const std::string& data_path = "/usr/share/datasets/fashion-mnist") {
    return "name: t\nseed: 1\n"
           "data:\n  dataset: fashion_mnist\n  path: " + data_path + "\n  limit: 600\n"
           "model:\n  input_shape: [1, 28, 28]\n  layers:\n    - Flatten: {}\n" + extra_layers +
           "    - Dense: {units: 32, activation: relu}\n    - Dense: {units: 10}\n"
           "compile:\n  optimizer: {name: adam, lr: 0.001}\n"
           "  loss: {name: sparse_categorical_crossentropy, from_logits: true}\n  metrics: [accuracy]\n"
           "fit:\n  epochs: 1\n  batch_size: 32\n  verbose: 0\n"
           "outputs:\n  dir: " + (dir_ / "run").string() + "\n";
  }
};

}  // namespace

TEST_F(CliTest, TrainEvaluatePredictSummary) {
  std::string cfg = write("c.yaml", small_config());
  Result r = cairn_cmd({"train", cfg, "--set", "fit.epochs=2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Total params"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Confusion matrix"), std::string::npos) << r.out;
  std::string model = (dir_ / "run" / "model.safetensors").string();
  ASSERT_TRUE(fs::exists(model));
  r = cairn_cmd({"evaluate", model});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("accuracy"), std::string::npos);
  r = cairn_cmd({"predict", model, "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "--limit", "3"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("2:"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("\n3:"), std::string::npos) << r.out;  // --limit 3: rows 0-2, then the count left out
  EXPECT_NE(r.out.find("\n... 9997 more (use --limit N)\n"), std::string::npos) << r.out;
  r = cairn_cmd({"summary", model});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("25,450"), std::string::npos) << r.out;  // 784*32+32 + 32*10+10
}

TEST_F(CliTest, SameSeedSameResultBitForBit) {
  std::string cfg = write("c.yaml", small_config());
  ASSERT_EQ(cairn_cmd({"train", cfg}).code, 0);
  auto a = cairn::io::read_file((dir_ / "run" / "model.safetensors").string());
  ASSERT_EQ(cairn_cmd({"train", cfg}).code, 0);
  auto b = cairn::io::read_file((dir_ / "run" / "model.safetensors").string());
  EXPECT_TRUE(a == b);
}

// fit.data_parallel: a run whose batches are cut into two parts trains and reports; a negative value is a config
// error naming the key.
TEST_F(CliTest, DataParallelIsAFitOption) {
  std::string cfg = write("c.yaml", small_config());
  Result r = cairn_cmd({"train", cfg, "--set", "fit.data_parallel=2"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Confusion matrix"), std::string::npos) << r.out;
  r = cairn_cmd({"train", cfg, "--set", "fit.data_parallel=-1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("data_parallel must be >= 0"), std::string::npos) << r.err;
}

TEST_F(CliTest, UnknownKeyNamesKeyAndLine) {
  std::string cfg = write("c.yaml", small_config() + "  epoch: 3\n");  // lands in outputs:, line 19
  std::string text = small_config();
  int line = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  Result r = cairn_cmd({"train", cfg});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("c.yaml:" + std::to_string(line)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown key 'epoch'"), std::string::npos) << r.err;
}

TEST_F(CliTest, UnknownLayerNamesLineAndSuggests) {
  std::string cfg = write("c.yaml", small_config("    - Dense2: {units: 3}\n"));
  Result r = cairn_cmd({"train", cfg});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("c.yaml:11"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unknown layer 'Dense2'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("did you mean 'Dense'"), std::string::npos) << r.err;
}

TEST_F(CliTest, UnknownLayerOptionNamesIt) {
  std::string cfg = write("c.yaml", small_config("    - Dense: {unit: 3}\n"));
  Result r = cairn_cmd({"train", cfg});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown option 'unit' for Dense"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("c.yaml:11"), std::string::npos) << r.err;
}

TEST_F(CliTest, IncompatibleLayersNameBothLayersAndShapes) {
  // Conv2D after Flatten: a 2-D input where a 4-D one is needed.
  std::string cfg = write("c.yaml", small_config("    - Conv2D: {filters: 4, kernel_size: 3}\n"));
  Result r = cairn_cmd({"train", cfg});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("Conv2D"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Flatten"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("784"), std::string::npos) << r.err;
}

TEST_F(CliTest, MissingDatasetNamesThePackage) {
  std::string cfg = write("c.yaml", small_config("", "/nonexistent/fashion"));
  Result r = cairn_cmd({"train", cfg});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("dataset-fashion-mnist"), std::string::npos) << r.err;
}

TEST_F(CliTest, InitWeightsThatDoNotFitListTheTensors) {
  std::string cfg = write("c.yaml", small_config());
  ASSERT_EQ(cairn_cmd({"train", cfg}).code, 0);
  std::string model = (dir_ / "run" / "model.safetensors").string();
  // A different architecture (64 hidden units) from those weights.
  std::string cfg2 = write("d.yaml", small_config());
  Result r = cairn_cmd({"train", cfg2, "--set", "model.layers=[{Flatten: {}}, {Dense: {units: 64, activation: relu}}, {Dense: {units: 10}}]",
                        "--set", "outputs.init_weights=" + model});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("1.weight"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[64, 784]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[32, 784]"), std::string::npos) << r.err;
}

TEST_F(CliTest, TruncatedModelFileIsAClearError) {
  std::string cfg = write("c.yaml", small_config());
  ASSERT_EQ(cairn_cmd({"train", cfg}).code, 0);
  std::string model = (dir_ / "run" / "model.safetensors").string();
  fs::resize_file(model, fs::file_size(model) - 100);
  Result r = cairn_cmd({"evaluate", model});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
}

TEST_F(CliTest, NanLossStopsAndSaysWhere) {
  std::string cfg = write("c.yaml", small_config());
  Result r = cairn_cmd({"train", cfg, "--set", "compile.optimizer.lr=1e30"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("step"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("loss became"), std::string::npos) << r.err;
}

TEST_F(CliTest, BadSetSyntax) {
  std::string cfg = write("c.yaml", small_config());
  Result r = cairn_cmd({"train", cfg, "--set", "fit.epochs"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("key.path=value"), std::string::npos) << r.err;
}

// `matmul_precision` at the top of a config sets the process-wide float32 matmul precision (medium: bfloat16
// operands); a value outside highest / high / medium is refused naming the file, line and key.
TEST_F(CliTest, MatmulPrecisionKey) {
  std::string cfg = write("c.yaml", small_config());
  Result r = cairn_cmd({"train", cfg, "--set", "matmul_precision=medium"});
  const bool medium = cairn::float32_matmul_precision() == cairn::MatmulPrecision::medium;
  cairn::set_float32_matmul_precision(cairn::MatmulPrecision::highest);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(medium);
  std::string text = small_config();
  const int line = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  cfg = write("bad.yaml", text + "matmul_precision: low\n");
  r = cairn_cmd({"train", cfg});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("bad.yaml:" + std::to_string(line)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'low' is not one of highest, high, medium"), std::string::npos) << r.err;
  EXPECT_EQ(cairn::float32_matmul_precision(), cairn::MatmulPrecision::highest);
}
