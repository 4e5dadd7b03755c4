// Training loops for BERT-style encoders (nn/bert.h): masked-language-model pretraining with dynamic masking,
// and fine-tuning a classifier with separate learning rates for the encoder and the head.
//
//   data::EncodedTexts enc = data::encode_for_encoder(tokenizer, train_texts, 64);
//   data::MlmMasker masker(tokenizer, {}, /*seed=*/1);
//   nn::BertForMaskedLM mlm(cfg);
//   train::pretrain_mlm(mlm, enc.input_ids, masker, {.epochs = 20, .lr = 1e-3});
//   nn::save_pretrained_bert("enc.safetensors", mlm);
//
//   nn::BertClassifier clf(cfg, 2);
//   nn::load_pretrained_bert("enc.safetensors", clf);
//   train::finetune_classifier(clf, train_ids, train_labels, val_ids, val_labels, {.lr = 1e-4, .head_lr = 1e-3});
//
// Both loops use AdamW with linear warmup then linear decay to 0 (BERT's schedule), no weight decay on biases and
// LayerNorm weights, gradient clipping at clip_norm, and shuffle with a generator seeded from (seed, epoch). Each
// batch is cut to its longest row (trailing columns that are [PAD] in every row are dropped), which gives the same
// result as the padded batch (padding is masked) at a fraction of the cost.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cairn/core/tensor/tensor.h"
#include "cairn/optim/optimizer.h"

namespace cairn::nn {
class BertForMaskedLM;
class BertClassifier;
class Module;
}  // namespace cairn::nn
namespace cairn::data {
class MlmMasker;
}

namespace cairn::train {

struct BertTrainOptions {
  int64_t epochs = 10;
  int64_t batch_size = 32;
  double lr = 1e-3;           // the encoder's (pretraining: every parameter's)
  double head_lr = -1;        // fine-tuning: pooler and head (-1 = lr)
  double weight_decay = 0.01;
  double warmup_fraction = 0.1;  // of all steps
  double clip_norm = 1.0;     // 0 = no clipping
  uint64_t seed = 1;
  int64_t max_steps = 0;      // stop after this many steps in total (0 = no limit), for tests
  int verbose = 1;            // 0 silent, 1 one line per epoch
  // Fine-tuning only: freeze the encoder (except the last trainable_top_blocks blocks) for the first
  // freeze_epochs epochs, then train everything.
  int64_t freeze_epochs = 0;
  int64_t trainable_top_blocks = 0;
  // Fine-tuning only: layer-wise lr decay (ELECTRA, ULMFiT's discriminative fine-tuning). The top encoder block
  // trains at lr, each block below at layer_decay times the one above, the embeddings below block 0 likewise;
  // 1 = one lr for the whole encoder.
  double layer_decay = 1.0;
  // Fine-tuning with validation data only (Keras's EarlyStopping(restore_best_weights=True)): after the last epoch,
  // put back the weights of the epoch with the best validation accuracy (the first of equals).
  bool restore_best_weights = false;
  // Fine-tuning only: > 0 keeps an exponential moving average of the weights with this decay after every step
  // (Keras's use_ema / ema_momentum; optim::ExponentialMovingAverage). Validation, restore_best_weights and the
  // weights the model ends with are the averages'; the training loss and accuracy are the trained weights'.
  double ema_decay = 0;
  // Fine-tuning with teacher_logits only (knowledge distillation, Hinton et al. 2015): the loss is
  // (1 - distill_alpha) * cross-entropy with the labels + distill_alpha * T^2 * cross-entropy between the
  // teacher's softmax(teacher_logits / T) and the model's softmax(logits / T), T = distill_temperature.
  double distill_alpha = 0.5;
  double distill_temperature = 2.0;
  // Parts each batch is cut into, run at once on their own threads (train/data_parallel.h): 0 = one per thread
  // (num_threads()), 1 = the whole batch in one pass with its operations threaded. The result is the whole batch's
  // gradient either way; with dropout, the random draws (and so the bits) depend on the number of parts.
  int64_t data_parallel = 0;
  // Called after each epoch with its number and summary line; return false to stop.
  std::function<bool(int64_t epoch, const std::string& line)> on_epoch{};
};

struct BertEpoch {
  double loss = 0;      // mean training loss
  double accuracy = 0;  // pretraining: masked-token accuracy; fine-tuning: training accuracy
  double val_loss = -1, val_accuracy = -1;  // when validation data is given
  double seconds = 0;
};
struct BertTrainReport {
  std::vector<BertEpoch> epochs;
  int64_t steps = 0;
  double seconds = 0;
  int64_t best_epoch = -1;  // restore_best_weights: the epoch (from 0) whose weights the model ends with
};

// Parameter groups for fine-tuning: per encoder depth {weights, lr * layer_decay^depth, decay} and {biases and
// norms, same lr, no decay}, then {pooler and head, head_lr, decay} and {their biases, head_lr, no decay}. Depth
// 0 is the top block, L - 1 block 0, L the embeddings; with layer_decay 1 the encoder is one depth. Only
// parameters that require grad; empty groups are left out. "No decay" = 1-D parameters (biases, LayerNorm
// weights). Throws ValueError for layer_decay outside (0, 1].
std::vector<optim::ParamGroup> bert_param_groups(const nn::BertClassifier& model, double lr, double head_lr,
                                                 double weight_decay, double layer_decay = 1.0);

// MLM pretraining on ids (N, T) int64 (rows from data::encode_for_encoder). val_ids: optional rows masked with
// epoch -1 (the same mask every epoch) for a comparable validation loss. Throws ValueError for bad options.
BertTrainReport pretrain_mlm(nn::BertForMaskedLM& model, const Tensor& ids, const data::MlmMasker& masker,
                             const BertTrainOptions& options, const Tensor& val_ids = Tensor());

// Fine-tuning on (ids (N, T) int64, labels (N) int64) with cross-entropy; validation each epoch when val_ids is
// defined. teacher_logits (N, classes), when defined, adds a teacher's soft targets for every row (distillation,
// options.distill_alpha); for an ensemble, the log of its members' mean probabilities. Leaves the model in eval mode.
BertTrainReport finetune_classifier(nn::BertClassifier& model, const Tensor& ids, const Tensor& labels,
                                    const BertTrainOptions& options, const Tensor& val_ids = Tensor(),
                                    const Tensor& val_labels = Tensor(), const Tensor& teacher_logits = Tensor());

struct ClassifierScores {
  double loss = 0, accuracy = 0;
};
// Mean cross-entropy and accuracy in eval mode without autograd (the training flag is restored).
ClassifierScores evaluate_classifier(nn::BertClassifier& model, const Tensor& ids, const Tensor& labels,
                                     int64_t batch_size = 256);
// The logits (N, classes) of every row, in eval mode without autograd, batch by batch with each batch trimmed to
// its longest row (the training flag is restored): Keras's predict; softmax(logits, 1) are the probabilities.
Tensor classifier_logits(nn::BertClassifier& model, const Tensor& ids, int64_t batch_size = 256);
// The same for any module over token ids padded with pad_id (an nn::EnsembleClassifier of BERT classifiers).
Tensor classifier_logits(nn::Module& model, const Tensor& ids, int64_t pad_id, int64_t batch_size = 256);
// Accuracy of logits or probabilities (N, classes) against labels (N).
double accuracy_of(const Tensor& scores, const Tensor& labels);

// Rows `index` of ids (N, T), cut to the longest row (positions after it are pad_id in every selected row).
Tensor gather_trimmed_rows(const Tensor& ids, const std::vector<int64_t>& index, int64_t pad_id);

}  // namespace cairn::train
