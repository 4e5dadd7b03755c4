// BERT-style encoders (Devlin et al. 2019): masked-language-model pretraining, then a classification head on
// the pretrained encoder (transfer learning).
//
//   hidden = blocks(LN(tok(ids) + pos(0..T-1) [+ seg(types)]))            ids (B, T) int64 -> (B, T, E)
//   BertForMaskedLM:  logits = gelu-Dense-LN(hidden) @ tok.weight^T + bias   (decoder tied to the embeddings)
//   BertClassifier:   logits = head(dropout(pool(hidden)))                  pool: tanh(Dense(hidden[:, 0])) ("cls")
//                                                                           or the mean over real tokens ("mean")
//
// Both models hold the encoder as the child "bert", so its tensors have the same names in either:
//   bert.tok.weight [V, E], bert.pos.weight [max_position, E], (bert.seg.weight [types, E]), bert.ln.{weight,bias},
//   bert.blocks.<i>.{ln1, qkv, proj, ln2, fc, fc2}.{weight, bias}      (post-norm TransformerEncoderBlocks)
//   BertForMaskedLM adds mlm.transform.{weight,bias}, mlm.ln.{weight,bias}, mlm.bias [V]
//   BertClassifier adds pooler.{weight,bias} ("cls" pooling only), head.{weight,bias}
//
// Transfer:
//   BertForMaskedLM mlm(cfg);  ...pretrain...;  save_pretrained_bert("enc.safetensors", mlm);
//   BertClassifier clf(bert_config_from_file("enc.safetensors"), /*num_classes=*/2);
//   PretrainedLoad r = load_pretrained_bert("enc.safetensors", clf);   // r.report(): loaded / missing / unexpected
//   clf.freeze_encoder(/*trainable_top_blocks=*/1);                     // optional
// Padding: every position whose id is config.pad_id is masked out of attention (as a key) and of mean pooling.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cairn/nn/attention.h"
#include "cairn/nn/layers_core.h"
#include "cairn/nn/layers_norm.h"
#include "cairn/nn/transformer.h"
#include "cairn/nn/weights_io.h"

namespace cairn::nn {

struct BertConfig {
  int64_t vocab_size = 30522;
  int64_t max_position = 64;    // the most positions one forward sees
  int64_t type_vocab_size = 0;  // segment (sentence A/B) embeddings; 0 = none (single-sentence tasks)
  int64_t num_layers = 2;
  int64_t num_heads = 4;
  int64_t hidden = 128;
  int64_t mlp_dim = -1;         // -1 = 4 * hidden
  double dropout = 0.1;         // embeddings and residual branches, in training mode
  double attention_dropout = 0.1;  // on the attention probabilities, in training mode
  double layer_norm_eps = 1e-12;
  std::string gelu_approximate = "none";
  int64_t pad_id = 0;
  // Identifies the vocabulary (e.g. a hash of its tokens); saved with pretrained weights and compared on load, so
  // an encoder is never fine-tuned on ids from another vocabulary of the same size. Empty = not checked.
  std::string vocab_id;
  std::optional<uint64_t> seed{};
};

// Throws ValueError naming the field for sizes <= 0, hidden not divisible by num_heads, a dropout outside
// [0, 1) or pad_id outside the vocabulary.
void validate(const BertConfig& config);

// The encoder: embeddings, LayerNorm, dropout and num_layers post-norm TransformerEncoderBlocks. Weights are
// drawn N(0, 0.02) (BERT's initializer_range; residual projections scaled by 1/sqrt(2 * num_layers) as GPT-2).
class BertEncoder : public Module {
 public:
  explicit BertEncoder(BertConfig config);
  // ids (B, T) int64/int32, 1 <= T <= max_position, values in [0, vocab) -> hidden (B, T, hidden).
  Tensor forward(const Tensor& ids) override { return forward(ids, Tensor()); }
  // token_types (B, T) in [0, type_vocab_size), or undefined (all 0). Throws ValueError when given without
  // segment embeddings, ShapeError/DTypeError for bad ids (naming the shapes), IndexError for out-of-range ids.
  Tensor forward(const Tensor& ids, const Tensor& token_types);
  // (B, T) uint8, 1 where ids == pad_id: the key padding mask the blocks get.
  Tensor padding_mask(const Tensor& ids) const;

  const BertConfig& config() const { return cfg_; }
  const std::vector<std::shared_ptr<TransformerEncoderBlock>>& blocks() const { return blocks_; }
  Embedding& token_embedding() { return *tok_; }
  std::string input_spec() const override { return "[B, T] token ids"; }
  std::string extra_repr() const override;

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  BertConfig cfg_;
  std::shared_ptr<Embedding> tok_, seg_;
  std::shared_ptr<LearnedPositionalEmbedding> pos_;
  std::shared_ptr<LayerNormalization> ln_;
  std::shared_ptr<Dropout> drop_;
  std::vector<std::shared_ptr<TransformerEncoderBlock>> blocks_;
};

// The loss over the chosen positions only: the vocabulary projection runs on those M rows, not on all B * T.
struct MlmOutput {
  Tensor loss;     // [] mean cross-entropy over the chosen positions (0 when there are none)
  Tensor logits;   // (M, V)
  Tensor targets;  // (M) int64
  int64_t correct = 0;  // argmax(logits) == target, for accuracy
};

class BertForMaskedLM : public Module {
 public:
  explicit BertForMaskedLM(BertConfig config);
  // ids (B, T) -> logits (B, T, V) at every position.
  Tensor forward(const Tensor& ids) override;
  // labels (B, T) int64: the original id where a position was chosen, ignore_index elsewhere (data/mlm.h).
  MlmOutput mlm_loss(const Tensor& ids, const Tensor& labels, int64_t ignore_index = -100);

  BertEncoder& encoder() { return *bert_; }
  std::shared_ptr<BertEncoder> encoder_ptr() { return bert_; }
  const BertConfig& config() const { return bert_->config(); }
  std::string input_spec() const override { return "[B, T] token ids"; }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  Tensor head(const Tensor& h);  // (..., E) -> (..., V)
  std::shared_ptr<BertEncoder> bert_;
  std::shared_ptr<Module> mlm_;  // transform_, ln_ and bias_ under "mlm"
  std::shared_ptr<Dense> transform_;
  std::shared_ptr<LayerNormalization> ln_;
  Tensor bias_;
};

struct BertClassifierOptions {
  std::string pooling = "cls";  // "cls": tanh(Dense(hidden[:, 0])) (BERT's pooler); "mean": mean of real tokens
  double dropout = 0.1;         // before the head, in training mode
};

class BertClassifier : public Module {
 public:
  BertClassifier(BertConfig config, int64_t num_classes, BertClassifierOptions options = {});
  // ids (B, T) -> logits (B, num_classes).
  Tensor forward(const Tensor& ids) override;
  // Freezes the encoder (embeddings and blocks) except its last `trainable_top_blocks` blocks; the pooler and
  // the head stay trainable. Throws ValueError when trainable_top_blocks is outside [0, num_layers].
  void freeze_encoder(int64_t trainable_top_blocks = 0);
  void unfreeze_encoder();

  BertEncoder& encoder() { return *bert_; }
  std::shared_ptr<BertEncoder> encoder_ptr() { return bert_; }
  // The pooler (if any) and the head: what gets the head learning rate.
  std::vector<Tensor> head_parameters() const;
  const BertConfig& config() const { return bert_->config(); }
  int64_t num_classes() const { return num_classes_; }
  std::string input_spec() const override { return "[B, T] token ids"; }

 protected:
  Shape build_impl(const Shape& input_shape) override;

 private:
  std::shared_ptr<BertEncoder> bert_;
  std::shared_ptr<Dense> pooler_, head_;
  std::shared_ptr<Dropout> drop_;
  int64_t num_classes_;
  BertClassifierOptions opt_;
};

// ---- pretrained weights ----
// The config as safetensors metadata ("bert.vocab_size", ..., "bert.vocab_id") and back. bert_config_from_metadata
// throws ValueError naming the missing or malformed key (and `where`).
Metadata bert_metadata(const BertConfig& config);
BertConfig bert_config_from_metadata(const Metadata& metadata, const std::string& where);
// Reads only the config of a file written by save_pretrained_bert.
BertConfig bert_config_from_file(const std::string& path);

// Writes every tensor of `model` (any module with a "bert" BertEncoder child, e.g. BertForMaskedLM) with the
// encoder's config as metadata, plus the entries of `extra`. Throws io::IoError when the file cannot be written.
void save_pretrained_bert(const std::string& path, const Module& model, const BertConfig& config,
                          const Metadata& extra = {});
void save_pretrained_bert(const std::string& path, BertForMaskedLM& model);

struct PretrainedLoad {
  std::vector<std::string> loaded;      // tensors copied from the file
  std::vector<std::string> missing;     // in the model, not in the file: left as initialised (e.g. head.*)
  std::vector<std::string> unexpected;  // in the file, not in the model: ignored (e.g. mlm.*)
  // "loaded 40 tensors (1,234,567 values); kept initialised: head.weight, head.bias; ignored: mlm.bias, ..."
  std::string report() const;
};

// Loads the encoder tensors of a save_pretrained_bert file into `model` (BertClassifier or BertForMaskedLM).
// Non-strict outside the encoder: other tensors may be missing or unexpected and are reported. Throws
//   ValueError when the file's config differs from the model's in anything that changes the encoder (vocab_size,
//     vocab_id, hidden, layers, heads, mlp_dim, max_position, type_vocab_size, pad_id), naming both values;
//   StateDictError when an encoder tensor ("bert.*") is missing from the file or has another shape;
// io::SafetensorsError for an unreadable file. The model is unchanged when it throws.
PretrainedLoad load_pretrained_bert(const std::string& path, Module& model, const BertConfig& model_config);
PretrainedLoad load_pretrained_bert(const std::string& path, BertClassifier& model);

}  // namespace cairn::nn
