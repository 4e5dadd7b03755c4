// Weights files: round trips, PyTorch-written goldens, corrupt files, mismatches.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "cairn/io/atomic_file.h"
#include "cairn/io/safetensors.h"
#include "cairn/nn/nn.h"
#include "test_util.h"

namespace cairn::nn {
namespace {

using test::error_of;
using test::golden;
using test::max_abs_diff;

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn_nn_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

// The Cairn twin of tools/golden/make_nn_golden.py's cnn().
std::shared_ptr<Sequential> golden_cnn() {
  auto m = std::make_shared<Sequential>();
  m->add<Conv2D>(4, 3, "relu");
  m->add<MaxPooling2D>(2);
  m->add(std::make_shared<Conv2D>(6, 3, Conv2DOptions{.padding = "same"}));
  m->add<BatchNormalization>();
  m->add<Activation>("relu");
  m->add<AveragePooling2D>(2);
  m->add<Flatten>();
  m->add<Dense>(16, "tanh");
  m->add<Dropout>(0.5);
  m->add<Dense>(5);
  return m;
}

TEST(Golden, PyTorchCnnWeightsGiveTorchOutputs) {
  auto m = golden_cnn();
  m->build({-1, 1, 12, 12});
  std::vector<std::string> want = {"0.weight", "0.bias", "3.weight", "3.bias", "4.weight", "4.bias", "4.running_mean",
                                   "4.running_var", "4.num_batches_tracked", "8.weight", "8.bias", "11.weight", "11.bias"};
  EXPECT_EQ(m->state_dict().keys(), want);
  load_weights(golden("cnn_weights.safetensors"), *m);
  EXPECT_EQ(m->state_dict().at("4.num_batches_tracked").item(), 3);
  TensorDict io = load_tensors(golden("cnn_io.safetensors"));
  m->eval();
  NoGradGuard ng;
  Tensor y = (*m)(io.at("input"));
  EXPECT_LT(max_abs_diff(y, io.at("output")), 1e-5);
  // In training mode dropout and batch statistics change the output: the comparison above is not vacuous.
  m->train();
  EXPECT_GT(max_abs_diff((*m)(io.at("input")), io.at("output")), 1e-3);
}

TEST(Golden, PyTorchEmbeddingLayerNormGelu) {
  Sequential m;
  m.add<Embedding>(20, 8);
  m.add<LayerNormalization>(1e-3);
  m.add<Dense>(4, "gelu");
  m.build({-1, 5});  // LayerNormalization and Dense create their parameters from the input shape
  load_weights(golden("seq_weights.safetensors"), m);
  TensorDict io = load_tensors(golden("seq_io.safetensors"));
  NoGradGuard ng;
  Tensor y = m(io.at("input"));
  EXPECT_LT(max_abs_diff(y, io.at("output")), 1e-5);
}

class WeightsIo : public TempDir {};

TEST_F(WeightsIo, SavingTorchWeightsReproducesTheTorchFileByteForByte) {
  auto m = golden_cnn();
  m->build({-1, 1, 12, 12});
  load_weights(golden("cnn_weights.safetensors"), *m);
  save_weights(path("cairn.safetensors"), *m);
  EXPECT_EQ(io::read_file(path("cairn.safetensors")), io::read_file(golden("cnn_weights.safetensors")));
}

TEST_F(WeightsIo, RoundTripRestoresEveryTensor) {
  auto a = golden_cnn();
  a->build({-1, 1, 12, 12});
  a->train();
  (*a)(randn({4, 1, 12, 12}));  // moves the batch norm statistics and counter
  save_weights(path("w.safetensors"), *a);
  auto b = golden_cnn();
  b->build({-1, 1, 12, 12});
  load_weights(path("w.safetensors"), *b);
  StateDict sa = a->state_dict(), sb = b->state_dict();
  ASSERT_EQ(sa.keys(), sb.keys());
  for (const auto& [n, t] : sa) {
    EXPECT_EQ(t.dtype(), sb.at(n).dtype()) << n;
    EXPECT_EQ(max_abs_diff(t, sb.at(n)), 0.0) << n;
  }
  EXPECT_EQ(sb.at("4.num_batches_tracked").item(), 1);
  Metadata meta;
  load_tensors(path("w.safetensors"), &meta);
  EXPECT_EQ(meta.at("format"), "pt");
}

TEST_F(WeightsIo, GenericTensorsWithMetadataAndStrides) {
  Tensor t = arange(0, 6, 1, DType::f64).reshape({2, 3}).t();  // non-contiguous: written row-major
  TensorDict d{{"t", t}, {"ids", from_vector<int64_t>({4, -5})}, {"scalar", scalar_tensor(2.5)},
               {"mask", from_vector<uint8_t>({1, 0, 1})}, {"empty", zeros({0, 3})}};
  save_tensors(path("t.safetensors"), d, {{"epoch", "7"}});
  Metadata meta;
  TensorDict back = load_tensors(path("t.safetensors"), &meta);
  EXPECT_EQ(meta.at("epoch"), "7");
  EXPECT_EQ(back.keys(), d.keys());
  EXPECT_EQ(back.at("t").to_vector<double>(), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(back.at("ids").to_vector<int64_t>(), (std::vector<int64_t>{4, -5}));
  EXPECT_EQ(back.at("scalar").shape(), Shape{});
  EXPECT_EQ(back.at("mask").dtype(), DType::u8);
  EXPECT_EQ(back.at("empty").shape(), (Shape{0, 3}));
  std::map<std::string, Tensor> m{{"x", ones({2})}};
  save_tensors(path("m.safetensors"), m);
  EXPECT_EQ(load_tensors(path("m.safetensors")).at("x").to_vector<float>(), (std::vector<float>{1, 1}));
}

TEST_F(WeightsIo, CorruptAndTruncatedFilesThrowNamingTheFile) {
  Dense d(3, DenseOptions{.input_shape = Shape{4}});
  save_weights(path("ok.safetensors"), d);
  const std::string bytes = io::read_file(path("ok.safetensors"));
  io::write_file_atomic(path("trunc.safetensors"), bytes.substr(0, bytes.size() - 5));
  std::string msg = error_of<io::SafetensorsError>([&] { load_weights(path("trunc.safetensors"), d); });
  EXPECT_NE(msg.find("trunc.safetensors"), std::string::npos) << msg;
  std::string bad = bytes;
  bad[10] = '!';  // inside the JSON header
  io::write_file_atomic(path("bad.safetensors"), bad);
  msg = error_of<io::SafetensorsError>([&] { load_weights(path("bad.safetensors"), d); });
  EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
  error_of<io::IoError>([&] { load_weights(path("missing.safetensors"), d); });
  // The model is untouched by the failed loads.
  d.load_state_dict(load_tensors(path("ok.safetensors")));
}

TEST_F(WeightsIo, MismatchedModelListsNamesAndShapes) {
  Sequential small;
  small.add(std::make_shared<Dense>(8, DenseOptions{.activation = "relu", .input_shape = Shape{4}}));
  small.add<Dense>(2);
  save_weights(path("small.safetensors"), small);
  Sequential other;
  other.add(std::make_shared<Dense>(8, DenseOptions{.input_shape = Shape{5}}));  // no activation: index 1 next
  other.add<Dense>(2);
  try {
    load_weights(path("small.safetensors"), other);
    FAIL() << "no error";
  } catch (const StateDictError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("small.safetensors"), std::string::npos) << msg;
    EXPECT_NE(msg.find("0.weight: expected [8, 5], found [8, 4]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing (2):\n    1.weight [2, 8]\n    1.bias [2]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unexpected (2):\n    2.weight [2, 8]\n    2.bias [2]"), std::string::npos) << msg;
  }
}

TEST_F(WeightsIo, UnsupportedDtypeIsNamed) {
  io::SafetensorsWriter w;
  std::vector<std::byte> raw(4);
  w.add("half_ints", "I16", {2}, raw);
  w.write(path("i16.safetensors"));
  std::string msg = error_of<io::SafetensorsError>([&] { load_tensors(path("i16.safetensors")); });
  EXPECT_NE(msg.find("'half_ints' has dtype I16"), std::string::npos) << msg;
}

}  // namespace
}  // namespace cairn::nn
