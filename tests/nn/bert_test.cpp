// BERT encoder, MLM head and classifier: shapes, padding really masked, tied decoder, loading a pretrained
// encoder into a classifier (what is loaded / missing / unexpected), config and vocabulary mismatches, freezing.
#include <gtest/gtest.h>

#include <filesystem>

#include "cairn/core/core.h"
#include "cairn/nn/bert.h"
#include "cairn/nn/module.h"

namespace cairn::nn {
namespace {

BertConfig tiny(int64_t vocab = 40) {
  BertConfig c;
  c.vocab_size = vocab;
  c.max_position = 16;
  c.num_layers = 2;
  c.num_heads = 2;
  c.hidden = 16;
  c.dropout = 0.0;
  c.attention_dropout = 0.0;
  c.vocab_id = "test-vocab";
  c.seed = 3;
  return c;
}

// [CLS]=2 ... [SEP]=3, padded with [PAD]=0 to T.
Tensor ids(const std::vector<std::vector<int64_t>>& rows, int64_t T) {
  std::vector<int64_t> flat;
  for (const auto& r : rows) {
    flat.push_back(2);
    flat.insert(flat.end(), r.begin(), r.end());
    flat.push_back(3);
    for (auto n = static_cast<int64_t>(r.size()) + 2; n < T; ++n) flat.push_back(0);
  }
  return from_vector(flat, {static_cast<int64_t>(rows.size()), T});
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("cairn_bert_" + std::to_string(::getpid()) + "_" + name)).string();
}

double max_abs_diff(const Tensor& a, const Tensor& b) { return amax(abs(sub(a, b))).item(); }

TEST(Bert, ShapesAndTiedDecoder) {
  BertForMaskedLM mlm(tiny());
  Tensor x = ids({{5, 6, 7}, {8, 9}}, 6);
  EXPECT_EQ(mlm.forward(x).shape(), (Shape{2, 6, 40}));
  // The decoder reuses the token embedding: no [V, E] tensor besides bert.tok.weight.
  int64_t vocab_by_hidden = 0;
  for (const auto& [name, t] : mlm.state_dict())
    if (t.shape() == Shape{40, 16}) ++vocab_by_hidden;
  EXPECT_EQ(vocab_by_hidden, 1);
  EXPECT_TRUE(mlm.state_dict().contains("mlm.bias"));

  BertClassifier clf(tiny(), 3);
  EXPECT_EQ(clf.forward(x).shape(), (Shape{2, 3}));
  EXPECT_THROW(clf.forward(ids({{5}}, 17)), ShapeError);  // longer than max_position
}

TEST(Bert, MlmLossOnlyOnChosenPositionsAndGradientReachesTiedEmbedding) {
  BertForMaskedLM mlm(tiny());
  Tensor x = ids({{5, 6, 7}, {8, 9}}, 6);
  Tensor labels = full({2, 6}, -100, DType::i64);
  labels.data<int64_t>()[1] = 5;
  labels.data<int64_t>()[8] = 9;
  MlmOutput out = mlm.mlm_loss(x, labels);
  EXPECT_EQ(out.logits.shape(), (Shape{2, 40}));
  EXPECT_EQ(out.targets.to_vector<int64_t>(), (std::vector<int64_t>{5, 9}));
  // Same loss as the full forward's logits at those positions.
  Tensor all = mlm.forward(x).reshape({12, 40});
  Tensor picked = index_select(all, 0, from_vector(std::vector<int64_t>{1, 8}));
  EXPECT_NEAR(out.loss.item(), cross_entropy(picked, out.targets).item(), 1e-5);
  out.loss.backward();
  Tensor g = mlm.encoder().token_embedding().weight().grad();
  ASSERT_TRUE(g.defined());
  // Rows of tokens absent from the input still get gradient through the tied decoder.
  EXPECT_GT(amax(abs(select(g, 0, 30))).item(), 0.0);
}

TEST(Bert, PaddingIsMaskedOut) {
  for (const char* pooling : {"cls", "mean"}) {
    BertClassifier clf(tiny(), 2, {.pooling = pooling, .dropout = 0.0});
    clf.eval();
    Tensor short_row = clf.forward(ids({{5, 6, 7}}, 5));
    Tensor padded = clf.forward(ids({{5, 6, 7}}, 12));
    EXPECT_LT(max_abs_diff(short_row, padded), 1e-5) << pooling;
  }
}

TEST(Bert, PretrainedEncoderLoadsIntoClassifier) {
  BertForMaskedLM mlm(tiny());
  {
    NoGradGuard ng;  // make the pretrained weights recognisable
    for (auto& p : mlm.parameters()) p.add_(ones_like(p), 0.5);
  }
  const std::string path = temp_path("enc.safetensors");
  save_pretrained_bert(path, mlm);
  EXPECT_EQ(bert_config_from_file(path).vocab_id, "test-vocab");

  BertConfig other_seed = tiny();
  other_seed.seed = 99;
  BertClassifier clf(other_seed, 2);
  PretrainedLoad r = load_pretrained_bert(path, clf);
  const auto enc_names = mlm.encoder().state_dict().keys();
  EXPECT_EQ(r.loaded.size(), enc_names.size());
  EXPECT_EQ(r.missing, (std::vector<std::string>{"pooler.weight", "pooler.bias", "head.weight", "head.bias"}));
  EXPECT_EQ(r.unexpected,
            (std::vector<std::string>{"mlm.bias", "mlm.transform.weight", "mlm.transform.bias", "mlm.ln.weight",
                                      "mlm.ln.bias"}));
  EXPECT_NE(r.report().find("head.weight"), std::string::npos) << r.report();
  const StateDict a = mlm.state_dict(), b = clf.state_dict();
  for (const auto& name : enc_names) EXPECT_EQ(max_abs_diff(a.at("bert." + name), b.at("bert." + name)), 0.0) << name;
  std::filesystem::remove(path);
}

TEST(Bert, MismatchedVocabularyOrShapeIsAClearError) {
  BertForMaskedLM mlm(tiny());
  const std::string path = temp_path("enc2.safetensors");
  save_pretrained_bert(path, mlm);
  BertClassifier bigger(tiny(41), 2);
  try {
    load_pretrained_bert(path, bigger);
    FAIL();
  } catch (const ValueError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("vocab_size = 40"), std::string::npos) << m;
    EXPECT_NE(m.find("vocab_size = 41"), std::string::npos) << m;
    EXPECT_NE(m.find("tokenizer"), std::string::npos) << m;
  }
  BertConfig renamed = tiny();
  renamed.vocab_id = "another-vocab";
  BertClassifier same_size(renamed, 2);
  const Tensor before = same_size.state_dict().at("bert.tok.weight").clone();
  EXPECT_THROW(load_pretrained_bert(path, same_size), ValueError);
  EXPECT_EQ(max_abs_diff(before, same_size.state_dict().at("bert.tok.weight")), 0.0) << "unchanged when it throws";
  BertConfig wider = tiny();
  wider.hidden = 32;
  BertClassifier wide(wider, 2);
  EXPECT_THROW(load_pretrained_bert(path, wide), ValueError);

  // A plain weights file (no config metadata) is named as such.
  save_weights(path, mlm);
  try {
    load_pretrained_bert(path, same_size);
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("save_pretrained_bert"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Bert, FreezeEncoderKeepsTopBlocksAndHeadTrainable) {
  BertClassifier clf(tiny(), 2);
  const auto all = clf.trainable_parameters().size();
  clf.freeze_encoder(1);
  std::vector<std::string> trainable;
  for (const auto& [name, p] : clf.named_parameters())
    if (p.requires_grad()) trainable.push_back(name);
  for (const auto& n : trainable)
    EXPECT_TRUE(n.rfind("bert.blocks.1.", 0) == 0 || n.rfind("pooler.", 0) == 0 || n.rfind("head.", 0) == 0) << n;
  EXPECT_EQ(clf.trainable_parameters().size(), trainable.size());
  // Frozen parameters get no gradient.
  cross_entropy(clf.forward(ids({{5, 6}}, 4)), from_vector(std::vector<int64_t>{1})).backward();
  EXPECT_FALSE(clf.encoder().token_embedding().weight().grad().defined());
  EXPECT_TRUE(clf.head_parameters()[0].grad().defined());
  clf.unfreeze_encoder();
  EXPECT_EQ(clf.trainable_parameters().size(), all);
  EXPECT_THROW(clf.freeze_encoder(3), ValueError);
}

}  // namespace
}  // namespace cairn::nn
