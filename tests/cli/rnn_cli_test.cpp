// LSTM and GRU layers in YAML model configs: a small MR sentiment run through `cairn train` and `cairn evaluate`
// (the saved model is rebuilt from its recorded layers), and config errors for recurrent options.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cairn/cli/cli.h"
#include "cli_fixture.h"

namespace fs = std::filesystem;

namespace {

using cairn_test::cairn_cmd;
using cairn_test::Result;

const std::string kMr = std::string(CAIRN_SHARED_DIR) + "/data/rt-polarity";

class RnnCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("cairn_rnn_cli_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string config(const std::string& layers) {
    const std::string path = (dir_ / "mr.yaml").string();
    std::ofstream(path) << "seed: 1\nthreads: 1\ndata:\n  dataset: text\n  files: {neg: " << kMr << ".neg, pos: " << kMr
                        << ".pos}\n  encoding: latin-1\n  limit: 300\n  tokenizer: {type: word, vocab_size: 500}\n"
                           "  max_length: 12\n  split: {test: 0.2, seed: 1}\n"
                           "model:\n  input_shape: [12]\n  layers:\n    - Embedding: {input_dim: 500, output_dim: 8, "
                           "padding_idx: 0}\n"
                        << layers
                        << "    - Dense: {units: 1, activation: sigmoid}\ncompile:\n  optimizer: {name: adam, lr: 0.01}\n"
                           "  loss: binary_crossentropy\nfit:\n  epochs: 1\n  batch_size: 32\n  verbose: 0\n"
                           "outputs:\n  dir: "
                        << (dir_ / "run").string() << "\n";
    return path;
  }
  fs::path dir_;
};

TEST_F(RnnCli, TrainsAndReloadsRecurrentLayers) {
  Result r = cairn_cmd({"train", config("    - LSTM: {units: 6, mask_value: 0.0, return_sequences: true, num_layers: 2, "
                                        "dropout: 0.1}\n    - GRU: {units: 5, bidirectional: true}\n")});
  ASSERT_EQ(r.code, 0) << r.err << r.out;
  EXPECT_NE(r.out.find("LSTM"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GRU"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Test set"), std::string::npos) << r.out;
  Result e = cairn_cmd({"evaluate", (dir_ / "run" / "model.safetensors").string()});
  EXPECT_EQ(e.code, 0) << e.err << e.out;
}

TEST_F(RnnCli, UnknownRecurrentOptionIsAConfigError) {
  Result r = cairn_cmd({"train", config("    - LSTM: {units: 6, return_state: true}\n")});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("return_state"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mask_value"), std::string::npos) << r.err;  // the list of valid options
  r = cairn_cmd({"train", config("    - GRU: {return_sequences: true}\n")});
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("units"), std::string::npos) << r.err;
}

}  // namespace
