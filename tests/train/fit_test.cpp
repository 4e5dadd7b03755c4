// Model.fit end to end: PyTorch parity, exact resume, callbacks, NaN handling.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "cairn/core/core.h"
#include "cairn/data/idx.h"
#include "cairn/nn/nn.h"
#include "cairn/optim/factory.h"
#include "cairn/optim/schedules.h"
#include "cairn/train/model.h"

using namespace cairn;

namespace {

const std::string kGolden = std::string(CAIRN_SOURCE_DIR) + "/tests/golden/train/";

std::shared_ptr<nn::Sequential> reference_mlp() {
  auto net = std::make_shared<nn::Sequential>();
  net->add<nn::Flatten>();
  net->add<nn::Dense>(256, "relu");
  net->add<nn::Dense>(256, "relu");
  net->add<nn::Dense>(10);
  net->build({-1, 1, 28, 28});
  return net;
}

std::shared_ptr<nn::Sequential> reference_cnn() {
  auto net = std::make_shared<nn::Sequential>();
  net->add<nn::Conv2D>(32, 3, "relu");
  net->add<nn::MaxPooling2D>(2);
  net->add<nn::Conv2D>(64, 3, "relu");
  net->add<nn::MaxPooling2D>(2);
  net->add<nn::Flatten>();
  net->add<nn::Dense>(128, "relu");
  net->add<nn::Dense>(10);
  net->build({-1, 1, 28, 28});
  return net;
}

// The first n Fashion-MNIST training images (float32 / 255, (n, 1, 28, 28)) and labels.
std::pair<Tensor, Tensor> fashion_head(int64_t n) {
  auto fm = data::load_fashion_mnist();
  Tensor raw = Tensor::empty({n, 1, 28, 28}, DType::u8);
  std::memcpy(raw.raw_data(), fm.train.images.data.data(), static_cast<size_t>(n) * 784);
  Tensor x = div(raw.to(DType::f32), scalar_tensor(255.0f));
  std::vector<int64_t> labels(fm.train.labels.data.begin(), fm.train.labels.data.begin() + n);
  return {x, from_vector(labels)};
}

void check_parity(const std::string& name, std::shared_ptr<nn::Sequential> net) {
  nn::Metadata meta;
  auto ref = nn::load_tensors(kGolden + name + "_losses.safetensors", &meta);
  const int64_t steps = std::stoll(meta.at("steps")), bs = std::stoll(meta.at("batch_size"));
  const double lr = std::stod(meta.at("lr"));
  nn::load_weights(kGolden + name + "_init.safetensors", *net, true);
  auto [x, y] = fashion_head(steps * bs);
  train::Model model(net);
  nn::LossOptions lo;
  lo.from_logits = true;
  model.compile(optim::make_optimizer("sgd", net->trainable_parameters(), {{"lr", lr}}),
                nn::make_loss("sparse_categorical_crossentropy", lo), {"accuracy"});
  train::FitOptions fo;
  fo.epochs = 1;
  fo.batch_size = bs;
  fo.shuffle = false;
  fo.verbose = 0;
  auto h = model.fit(x, y, fo);
  auto expected = ref.at("losses").to_vector<double>();
  ASSERT_EQ(static_cast<int64_t>(h.step_losses.size()), steps);
  for (int64_t i = 0; i < steps; ++i)
    EXPECT_NEAR(h.step_losses[i], expected[i], 1e-4 * std::abs(expected[i])) << name << " step " << i;
}

}  // namespace

TEST(Parity, MlpLossesMatchPyTorchOver50SgdSteps) { check_parity("mlp", reference_mlp()); }
TEST(Parity, CnnLossesMatchPyTorchOver50SgdSteps) { check_parity("cnn", reference_cnn()); }

namespace {
struct Toy {
  Tensor x, y;
};
Toy toy_data() {
  Generator g(7);
  Tensor x = randn({300, 12}, DType::f32, &g);
  Tensor w = randn({12, 3}, DType::f32, &g);
  Tensor y = argmax(matmul(x, w), 1);
  return {x, y};
}
std::shared_ptr<nn::Sequential> toy_net() {
  auto net = std::make_shared<nn::Sequential>();
  nn::DenseOptions o;
  o.activation = "relu";
  o.seed = 3;
  net->add<nn::Dense>(16, o);
  net->add<nn::Dropout>(0.2);
  nn::DenseOptions o2;
  o2.seed = 4;
  net->add<nn::Dense>(3, o2);
  net->build({-1, 12});
  return net;
}
train::Model toy_model(std::shared_ptr<nn::Sequential> net) {
  train::Model m(net);
  nn::LossOptions lo;
  lo.from_logits = true;
  m.compile(optim::make_optimizer("adam", net->trainable_parameters(), {{"lr", 0.01}}),
            nn::make_loss("sparse_categorical_crossentropy", lo), {"accuracy"});
  return m;
}
}  // namespace

TEST(Resume, InterruptedRunContinuesExactly) {
  Toy d = toy_data();
  const std::string ckpt = (std::filesystem::temp_directory_path() / "cairn_resume_test.safetensors").string();
  train::FitOptions fo;
  fo.epochs = 3;
  fo.batch_size = 32;
  fo.verbose = 0;
  fo.seed = 11;

  manual_seed(5);
  auto full_net = toy_net();
  auto full = toy_model(full_net);
  auto h_full = full.fit(d.x, d.y, fo);

  // Interrupted: stop after step 14 (mid epoch 2, 10 steps per epoch); the last checkpoint is at step 12.
  manual_seed(5);
  auto net_a = toy_net();
  auto a = toy_model(net_a);
  fo.checkpoint_path = ckpt;
  fo.checkpoint_every_steps = 4;
  fo.max_steps = 14;
  a.fit(d.x, d.y, fo);

  // A fresh process: other initial weights and RNG state, then resume.
  manual_seed(999);
  auto net_b = toy_net();
  auto b = toy_model(net_b);
  fo.max_steps = 0;
  fo.resume_from = ckpt;
  auto h_b = b.fit(d.x, d.y, fo);

  ASSERT_EQ(h_b.step_losses.size(), h_full.step_losses.size());
  for (size_t i = 0; i < h_full.step_losses.size(); ++i) EXPECT_EQ(h_b.step_losses[i], h_full.step_losses[i]) << "step " << i;
  EXPECT_EQ(h_b.history.at("loss"), h_full.history.at("loss"));
  EXPECT_EQ(h_b.history.at("accuracy"), h_full.history.at("accuracy"));
  auto wa = full_net->state_dict(), wb = net_b->state_dict();
  for (auto& [k, t] : wa) EXPECT_EQ(sum(abs(sub(t, wb.at(k)))).item(), 0.0) << k;
  std::filesystem::remove(ckpt);
}

TEST(Resume, PerStepScheduleContinuesExactly) {
  Toy d = toy_data();
  const std::string ckpt = (std::filesystem::temp_directory_path() / "cairn_resume_schedule.safetensors").string();
  auto options = [](train::Model& m) {
    train::FitOptions fo;
    fo.epochs = 3;
    fo.batch_size = 32;
    fo.verbose = 0;
    fo.lr_schedule = optim::make_scheduler("cosine", *m.optimizer(), {{"warmup_steps", 5}, {"total_steps", 30}});
    fo.schedule_per_step = true;
    return fo;
  };
  manual_seed(5);
  auto full_net = toy_net();
  auto full = toy_model(full_net);
  auto h_full = full.fit(d.x, d.y, options(full));
  EXPECT_LT(h_full.history.at("lr").back(), 0.01 * 0.1);  // cosine to 0 over 30 steps, logged at epoch ends

  manual_seed(5);
  auto net_a = toy_net();
  auto a = toy_model(net_a);
  auto fa = options(a);
  fa.checkpoint_path = ckpt;
  fa.checkpoint_every_steps = 4;
  fa.max_steps = 14;
  a.fit(d.x, d.y, fa);

  manual_seed(999);
  auto net_b = toy_net();
  auto b = toy_model(net_b);
  auto fb = options(b);
  fb.resume_from = ckpt;
  auto h_b = b.fit(d.x, d.y, fb);
  EXPECT_EQ(h_b.step_losses, h_full.step_losses);
  EXPECT_EQ(h_b.history.at("lr"), h_full.history.at("lr"));

  // Resuming that checkpoint without the schedule is refused instead of silently changing the lr.
  manual_seed(5);
  auto net_c = toy_net();
  auto c = toy_model(net_c);
  train::FitOptions fc = options(c);
  fc.lr_schedule = nullptr;
  fc.resume_from = ckpt;
  try {
    c.fit(d.x, d.y, fc);
    ADD_FAILURE() << "expected a ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("learning-rate schedule"), std::string::npos) << e.what();
  }
  std::filesystem::remove(ckpt);
}

// Dense(1, sigmoid) + binary_crossentropy on probabilities: accuracy must threshold at 0.5, not at 0 (where
// every probability would count as positive), and with from_logits at 0.
TEST(Fit, BinaryAccuracyThresholdFollowsTheLoss) {
  Generator g(3);
  Tensor x = randn({400, 4}, DType::f32, &g);
  Tensor y = gt(select(x, 1, 0), scalar_tensor(0.0f)).to(DType::f32).reshape({400, 1});
  for (bool logits : {false, true}) {
    manual_seed(2);
    auto net = std::make_shared<nn::Sequential>();
    nn::DenseOptions o;
    o.activation = logits ? "linear" : "sigmoid";
    o.seed = 5;
    net->add<nn::Dense>(1, o);
    net->build({-1, 4});
    train::Model m(net);
    nn::LossOptions lo;
    lo.from_logits = logits;
    m.compile(optim::make_optimizer("adam", net->trainable_parameters(), {{"lr", 0.05}}),
              nn::make_loss("binary_crossentropy", lo), {"accuracy"});
    train::FitOptions fo;
    fo.epochs = 20;
    fo.verbose = 0;
    m.fit(x, y, fo);
    double acc = -1;
    for (auto& [k, v] : m.evaluate(x, y))
      if (k == "accuracy") acc = v;
    EXPECT_GT(acc, 0.95) << (logits ? "from_logits" : "probabilities");
  }
}

TEST(Fit, LearnsAndReportsValidation) {
  Toy d = toy_data();
  manual_seed(1);
  auto net = toy_net();
  auto m = toy_model(net);
  train::FitOptions fo;
  fo.epochs = 15;
  fo.verbose = 0;
  fo.validation_split = 0.2;
  auto h = m.fit(d.x, d.y, fo);
  EXPECT_LT(h.history.at("loss").back(), h.history.at("loss").front());
  EXPECT_GT(h.history.at("val_accuracy").back(), 0.8);
  EXPECT_EQ(h.history.at("val_loss").size(), 15u);
}

TEST(Fit, EarlyStoppingStopsAndRestores) {
  Toy d = toy_data();
  auto net = toy_net();
  auto m = toy_model(net);
  train::FitOptions fo;
  fo.epochs = 50;
  fo.verbose = 0;
  fo.validation_split = 0.2;
  auto es = std::make_shared<train::EarlyStopping>("val_loss", 0, 10.0);  // min_delta 10: never "improves" after epoch 1
  fo.callbacks = {es};
  auto h = m.fit(d.x, d.y, fo);
  EXPECT_EQ(h.epochs_run, 2);
  EXPECT_EQ(es->stopped_epoch(), 1);

  // Keras's count: patience 3 stops after 3 epochs in a row without improvement (epoch 0 sets the best).
  auto m3 = toy_model(toy_net());
  auto es3 = std::make_shared<train::EarlyStopping>("val_loss", 3, 10.0);
  fo.callbacks = {es3};
  EXPECT_EQ(m3.fit(d.x, d.y, fo).epochs_run, 4);
  EXPECT_EQ(es3->stopped_epoch(), 3);
}

TEST(Fit, NanLossStopsNamingTheStep) {
  Toy d = toy_data();
  Tensor x = d.x.clone();
  x.data<float>()[12 * 40] = NAN;  // sample 40 lands in batch 2 without shuffling
  auto net = toy_net();
  auto m = toy_model(net);
  train::FitOptions fo;
  fo.verbose = 0;
  fo.shuffle = false;
  try {
    m.fit(x, d.y, fo);
    FAIL() << "expected NonFiniteLossError";
  } catch (const train::NonFiniteLossError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("step 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("epoch 1"), std::string::npos) << msg;
  }
}

TEST(Fit, MismatchedSamplesNameShapes) {
  auto net = toy_net();
  auto m = toy_model(net);
  EXPECT_THROW(m.fit(zeros({10, 12}), zeros({9}, DType::i64)), ShapeError);
}

// data_parallel cuts each batch into parts whose forward and backward run at once; without dropout a step is the
// whole batch's: the same losses, metrics and weights as one pass up to the order of the sums. Parts of 11, 11
// and 10 rows (and 4, 4, 4 in the last batch of 12); sample weights and a summed loss are weighted right.
TEST(Fit, DataParallelPartsTrainLikeOnePass) {
  Toy d = toy_data();
  Generator g(9);
  const Tensor sw = uniform({300}, 0.5, 1.5, DType::f32, &g);
  for (const std::string reduction : {"sum_over_batch_size", "sum"}) {
    auto run = [&](int64_t parts) {
      auto net = std::make_shared<nn::Sequential>();
      net->add<nn::Dense>(16, nn::DenseOptions{.activation = "relu", .seed = 3});
      net->add<nn::Dense>(3, nn::DenseOptions{.seed = 4});
      net->build({-1, 12});
      train::Model m(net);
      nn::LossOptions lo;
      lo.from_logits = true;
      lo.reduction = reduction;
      m.compile(optim::make_optimizer("sgd", net->trainable_parameters(), {{"lr", 0.002}}),
                nn::make_loss("sparse_categorical_crossentropy", lo), {"accuracy"});
      train::FitOptions fo;
      fo.epochs = 2;
      fo.verbose = 0;
      fo.sample_weight = sw;
      fo.data_parallel = parts;
      return std::make_pair(m.fit(d.x, d.y, fo), net);
    };
    auto [h1, n1] = run(1);
    auto [h3, n3] = run(3);
    ASSERT_EQ(h1.step_losses.size(), 20u);
    ASSERT_EQ(h3.step_losses.size(), 20u);
    for (size_t i = 0; i < 20; ++i)
      EXPECT_NEAR(h3.step_losses[i], h1.step_losses[i], 1e-5 * std::abs(h1.step_losses[i])) << reduction << " step " << i;
    EXPECT_EQ(h3.history.at("accuracy"), h1.history.at("accuracy")) << reduction;
    for (const auto& [name, t] : n1->state_dict())
      EXPECT_LT(amax(abs(sub(t, n3->state_dict().at(name)))).item(), 1e-5) << reduction << " " << name;
  }
}

// BatchNormalization updates its running statistics in its forward: the parts cannot run at once. data_parallel 0
// (one part per thread) falls back to one pass; asking for parts is refused, naming the layer's reason.
TEST(Fit, DataParallelRefusesBatchNormalization) {
  Toy d = toy_data();
  auto net = std::make_shared<nn::Sequential>();
  net->add<nn::Dense>(16, nn::DenseOptions{.seed = 3});
  net->add<nn::BatchNormalization>();
  net->add<nn::Dense>(3, nn::DenseOptions{.seed = 4});
  net->build({-1, 12});
  auto m = toy_model(net);
  train::FitOptions fo;
  fo.verbose = 0;
  fo.data_parallel = 2;
  try {
    m.fit(d.x, d.y, fo);
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("BatchNormalization"), std::string::npos) << e.what();
  }
  fo.data_parallel = 0;
  m.fit(d.x, d.y, fo);
  auto* bn = dynamic_cast<nn::BatchNormalization*>(net->named_children()[1].second.get());
  ASSERT_NE(bn, nullptr);
  EXPECT_EQ(bn->num_batches_tracked(), 10);  // one update per batch, not per part
  fo.data_parallel = -1;
  EXPECT_THROW(m.fit(d.x, d.y, fo), ValueError);
}
