// BERT-style encoders from YAML (bert_cmd.cpp): cmd_train hands configs whose model.type starts with "bert_" here.
#pragma once
#include <string>

namespace cairn::cli {
class Config;
bool is_bert_config(const Config& cfg);
int cmd_train_bert(const Config& cfg, const std::string& config_path);
}  // namespace cairn::cli
