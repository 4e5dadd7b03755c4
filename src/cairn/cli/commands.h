// The subcommands of `cairn` (see cli.h). Each returns the process exit code and throws on errors, which
// cli::run turns into a message and an exit code.
#pragma once
#include <string>
#include <vector>

#include "cairn/core/tensor/error.h"

namespace cairn::cli {

class UsageError : public Error {
  using Error::Error;
};

// True when --threads was given on the command line (it then wins over a config's `threads:`).
extern bool threads_set_by_flag;

class Config;
// The process-wide settings of a training config's top level: `threads` (unless --threads was given) and
// `matmul_precision` (highest | high | medium; medium multiplies bfloat16-rounded operands, see
// core/kernels/precision.h). A bad value is a ConfigError naming file, line and key.
void apply_run_settings(const Config& cfg);

int cmd_train(const std::vector<std::string>& args);
int cmd_evaluate(const std::vector<std::string>& args);
int cmd_predict(const std::vector<std::string>& args);
int cmd_summary(const std::vector<std::string>& args);
int cmd_info(const std::vector<std::string>& args);
// Language models (lm_cmd.cpp): cmd_train hands configs with data.dataset: text_lm / model.type: gpt to
// cmd_train_lm; `cairn generate MODEL --prompt TEXT ...` samples text.
int cmd_train_lm(const Config& cfg, const std::string& config_path);
int cmd_generate(const std::vector<std::string>& args);
// `cairn summary` of a language-model config or file; returns -1 (printing nothing) for anything else.
int lm_summary(const std::string& model_or_config);
// cairn evaluate on a language-model file: the next-token loss and perplexity over the whole validation split;
// -1 when args[0] is not a language-model file.
int lm_evaluate(const std::vector<std::string>& args);
// cairn predict on a language-model file: for each prompt (one per line of `input`), its `top` most likely next
// tokens with their probabilities; -1 when the file is not a language-model file.
int lm_predict(const std::string& path, const std::string& input, int64_t top, int64_t limit);
// cairn evaluate / predict on a fine-tuned BERT classifier file (bert_cmd.cpp): the test split's metrics,
// per-class report and confusion matrix; the classes of each input text. -1 when the file is not one.
int bert_evaluate(const std::vector<std::string>& args);
int bert_predict(const std::string& path, const std::string& input, int64_t top, int64_t limit);
// cairn summary of a BERT encoder or classifier file; -1 for anything else.
int bert_summary(const std::string& path);

}  // namespace cairn::cli
