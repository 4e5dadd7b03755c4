// Language-model files and config sections for `cairn train` (data: {dataset: text_lm}, model: {type: gpt}) and
// `cairn generate`.
//
// A language-model file is one safetensors file (written atomically): the GPT's weights under their PyTorch names,
// and the metadata entry "cairn.lm", JSON:
//   {"format": "cairn.lm/1", "model": {"type": "gpt", "vocab_size": 65, "context": 64, "layers": 4, ...},
//    "tokenizer": {...the tokenizer's saved JSON (text/tokenizer.h)...}, "data": {...the config's data section...}}
// so the file alone is enough to generate text. Checkpoints of the run carry the same entry, which lets a resume
// check that the checkpoint fits the configured model and vocabulary before loading anything.
#pragma once
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "cairn/cli/config.h"
#include "cairn/data/lm_data.h"
#include "cairn/nn/gpt.h"
#include "cairn/text/tokenizer.h"

namespace cairn::cli {

// True when a config describes language-model training (data.dataset is text_lm or model.type is gpt).
bool is_lm_config(const Config& cfg);

// Reads a `model: {type: gpt, ...}` section (vocab_size left at 0 unless given: the tokenizer decides).
// Keys: type, layers, heads, width, context, mlp_width, dropout, bias, tie_weights, init, gelu, layer_norm_eps,
// vocab_size, seed. Throws ConfigError naming the file and line.
nn::GPTConfig gpt_config_from(const Config& model);
nlohmann::json gpt_config_json(const nn::GPTConfig& c);
// Throws ValueError prefixed with `source` for a missing or malformed field.
nn::GPTConfig gpt_config_from_json(const nlohmann::json& j, const std::string& source);

struct LmData {
  std::shared_ptr<text::Tokenizer> tokenizer;
  data::TokenStream train, val;
  std::string description;  // one line for the log
};
// Reads a `data: {dataset: text_lm, ...}` section: the corpus (a text file, or a token shard), the tokenizer
// (char fitted on the corpus, bpe from GPT-2 vocab/merges files, or a saved tokenizer .json) and the split.
// Throws ConfigError for bad keys, DataError/TokenizerError (naming the file) for an unreadable or empty corpus.
// With `tokenizer` given (a saved model's), the corpus is encoded with it instead and the tokenizer keys are
// not used.
LmData load_lm_data(const Config& data, std::shared_ptr<text::Tokenizer> tokenizer = nullptr);

// The tokenizer as its saved JSON text, and back (errors name `source`).
std::string tokenizer_to_json(const text::Tokenizer& tok);
std::unique_ptr<text::Tokenizer> tokenizer_from_json(const std::string& json, const std::string& source);

// The "cairn.lm" metadata entry for a model and its tokenizer.
std::string lm_metadata(const nn::GPTConfig& cfg, const text::Tokenizer& tok, const nlohmann::json& data_section);

void save_lm(const std::string& path, const nn::GPT& net, const std::string& metadata);

struct LoadedLm {
  std::shared_ptr<nn::GPT> net;
  std::shared_ptr<text::Tokenizer> tokenizer;
  nn::GPTConfig config;
  nlohmann::json data;  // the config's data section recorded at training time
};
// Throws ValueError naming the file when it is not a language-model file, its tokenizer does not match the
// model's vocabulary, or its weights do not fit the recorded architecture.
LoadedLm load_lm(const std::string& path);

}  // namespace cairn::cli
